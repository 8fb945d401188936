"""What GitHub's REST API answers, as frozen dataclasses: the fields mlgate reads, named as GitHub names them.

Each type has one parse function (``parse``) from GitHub's JSON. Unknown fields are ignored (GitHub adds
fields; mlgate reads a few); a missing or mistyped required field raises :class:`GitHubPayloadError`
naming the object and the field (``pull request has no 'head.sha'``), never a ``KeyError`` deep in a
consumer. Nested objects GitHub names with a dot (``head.sha``, ``merged_by.login``) keep their nesting
(:class:`Branch`, :class:`User`), except where mlgate only ever reads one field of them (a label's
``name``, an assignee's ``login``, a ref's ``object.sha``): those are flattened and say so.

mlgate's own answers about what it wrote (a sticky comment created or updated, a check run posted, a tag
created or found) are :class:`PostedComment`, :class:`PostedCheckRun` and :class:`TagResult`; their
``as_dict()`` is the JSON mlgate prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from mlgate.exceptions import ExternalServiceError

__all__ = [
    "Action",
    "Branch",
    "CheckRun",
    "CollaboratorPermission",
    "Comment",
    "Conclusion",
    "GitHubPayloadError",
    "GitRef",
    "Issue",
    "PostedCheckRun",
    "PostedComment",
    "PullRequest",
    "PullRequestFile",
    "Review",
    "TagResult",
    "TeamMembership",
    "User",
]


class GitHubPayloadError(ExternalServiceError):
    """GitHub (or a proxy in front of it) answered with JSON that lacks a field mlgate needs (exit 3)."""

    hint = "GitHub's answer was not the documented shape; re-run the job, and report it if it persists"


_MISSING = object()


def _at(data: Any, path: str) -> Any:
    value = data
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _kind_ok(value: Any, kind: type) -> bool:
    # bool is an int in Python; GitHub's ids and numbers never are
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _required(data: Any, path: str, kind: type, what: str) -> Any:
    """``data[path]`` (a dotted path) of type ``kind``; a clear error naming ``what`` and the field if not."""
    if not isinstance(data, dict):
        raise GitHubPayloadError(f"GitHub's {what} is not a JSON object (got {type(data).__name__})")
    value = _at(data, path)
    if value is _MISSING or value is None:
        raise GitHubPayloadError(f"GitHub's {what} has no {path!r}")
    if not _kind_ok(value, kind):
        raise GitHubPayloadError(f"GitHub's {what} has {path!r} of type {type(value).__name__}, not {kind.__name__}")
    return value


def _optional(data: Any, path: str, kind: type, what: str) -> Any:
    """``data[path]`` of type ``kind``, or None when absent or null (a present value of another type is an error)."""
    value = _at(data, path)
    if value is _MISSING or value is None:
        return None
    if not _kind_ok(value, kind):
        raise GitHubPayloadError(f"GitHub's {what} has {path!r} of type {type(value).__name__}, not {kind.__name__}")
    return value


def _user(data: Any, path: str, what: str) -> User | None:
    """The user at ``path`` (GitHub's nullable-simple-user: null for a deleted account)."""
    value = _at(data, path)
    return None if value is _MISSING or value is None else User.parse(value, f"{what} {path}")


@dataclass(frozen=True)
class User:
    """A GitHub account (simple-user): ``login``, ``id`` and ``type`` (User | Bot | Organization)."""

    login: str
    id: int
    type: str = ""

    @classmethod
    def parse(cls, data: Any, what: str = "user") -> Self:
        """The account in GitHub's JSON (``login`` and ``id`` required)."""
        return cls(
            login=_required(data, "login", str, what),
            id=_required(data, "id", int, what),
            type=_optional(data, "type", str, what) or "",
        )


@dataclass(frozen=True)
class Branch:
    """A pull request's ``head`` or ``base``: the branch name (``ref``) and its commit (``sha``)."""

    ref: str
    sha: str

    @classmethod
    def parse(cls, data: Any, what: str = "branch") -> Self:
        """The branch in GitHub's JSON (``ref`` and ``sha`` required)."""
        return cls(ref=_required(data, "ref", str, what), sha=_required(data, "sha", str, what))


@dataclass(frozen=True)
class PullRequest:
    """A pull request (``GET /repos/{owner}/{repo}/pulls/{n}``, a listing's item, a create's answer)."""

    number: int
    user: User
    head: Branch
    base: Branch
    html_url: str = ""
    title: str = ""
    state: str = ""
    merged_by: User | None = None  # null until merged (and absent from listings)
    body: str = ""

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The pull request in GitHub's JSON (``number``, ``user``, ``head`` and ``base`` required)."""
        what = "pull request"
        return cls(
            number=_required(data, "number", int, what),
            user=User.parse(_required(data, "user", dict, what), f"{what} user"),
            head=Branch.parse(_required(data, "head", dict, what), f"{what} head"),
            base=Branch.parse(_required(data, "base", dict, what), f"{what} base"),
            html_url=_optional(data, "html_url", str, what) or "",
            title=_optional(data, "title", str, what) or "",
            state=_optional(data, "state", str, what) or "",
            merged_by=_user(data, "merged_by", what),
            body=_optional(data, "body", str, what) or "",
        )


@dataclass(frozen=True)
class Review:
    """A pull request review; ``user`` is None for a deleted account, ``commit_id`` the commit it reviewed."""

    id: int
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    user: User | None = None
    commit_id: str | None = None
    submitted_at: str | None = None  # ISO 8601; absent for a pending review
    author_association: str = "NONE"  # OWNER | MEMBER | COLLABORATOR | CONTRIBUTOR | NONE ...

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The review in GitHub's JSON (``id`` and ``state`` required)."""
        what = "review"
        return cls(
            id=_required(data, "id", int, what),
            state=_required(data, "state", str, what),
            user=_user(data, "user", what),
            commit_id=_optional(data, "commit_id", str, what),
            submitted_at=_optional(data, "submitted_at", str, what),
            author_association=_optional(data, "author_association", str, what) or "NONE",
        )


@dataclass(frozen=True)
class PullRequestFile:
    """One file a pull request changes: its path (``filename``) and ``status`` (added, modified, removed...)."""

    filename: str
    status: str = ""

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The file in GitHub's JSON (``filename`` required)."""
        return cls(
            filename=_required(data, "filename", str, "pull request file"),
            status=_optional(data, "status", str, "pull request file") or "",
        )


@dataclass(frozen=True)
class Issue:
    """An issue. ``labels`` are the label names and ``assignees`` the logins (what mlgate reads of them)."""

    number: int
    title: str
    state: str  # open | closed
    body: str = ""  # GitHub sends null for an empty body
    html_url: str = ""
    user: User | None = None
    labels: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    state_reason: str | None = None
    closed_at: str | None = None
    pull_request: bool = False  # GitHub's issue listing includes pull requests, with a `pull_request` object

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The issue in GitHub's JSON (``number``, ``title`` and ``state`` required)."""
        what = "issue"
        labels = _optional(data, "labels", list, what) or []
        assignees = _optional(data, "assignees", list, what) or []
        return cls(
            number=_required(data, "number", int, what),
            title=_required(data, "title", str, what),
            state=_required(data, "state", str, what),
            body=_optional(data, "body", str, what) or "",
            html_url=_optional(data, "html_url", str, what) or "",
            user=_user(data, "user", what),
            # a label is an object with a name (GitHub also accepts bare names when writing)
            labels=tuple(x if isinstance(x, str) else _required(x, "name", str, f"{what} label") for x in labels),
            assignees=tuple(User.parse(a, f"{what} assignee").login for a in assignees),
            state_reason=_optional(data, "state_reason", str, what),
            closed_at=_optional(data, "closed_at", str, what),
            pull_request=_at(data, "pull_request") not in (_MISSING, None),
        )


@dataclass(frozen=True)
class Comment:
    """A comment on an issue or a pull request."""

    id: int
    body: str = ""
    html_url: str = ""
    user: User | None = None

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The comment in GitHub's JSON (``id`` required)."""
        what = "comment"
        return cls(
            id=_required(data, "id", int, what),
            body=_optional(data, "body", str, what) or "",
            html_url=_optional(data, "html_url", str, what) or "",
            user=_user(data, "user", what),
        )


@dataclass(frozen=True)
class CheckRun:
    """A check run; ``external_id`` is how mlgate finds the one a lost create made."""

    id: int
    name: str = ""
    status: str = ""
    conclusion: str | None = None
    html_url: str | None = None
    external_id: str | None = None

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The check run in GitHub's JSON (``id`` required)."""
        what = "check run"
        return cls(
            id=_required(data, "id", int, what),
            name=_optional(data, "name", str, what) or "",
            status=_optional(data, "status", str, what) or "",
            conclusion=_optional(data, "conclusion", str, what),
            html_url=_optional(data, "html_url", str, what),
            external_id=_optional(data, "external_id", str, what),
        )


@dataclass(frozen=True)
class TeamMembership:
    """A user's membership of a team: ``state`` active | pending, ``role`` member | maintainer."""

    state: str
    role: str = ""

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The membership in GitHub's JSON (``state`` required)."""
        return cls(
            state=_required(data, "state", str, "team membership"),
            role=_optional(data, "role", str, "team membership") or "",
        )


@dataclass(frozen=True)
class CollaboratorPermission:
    """A login's access to the repository: ``permission`` admin | write | read | none, and the account."""

    permission: str
    role_name: str = ""  # maintain, triage or a custom role
    user: User | None = None  # the account the login names today

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The permission in GitHub's JSON (``permission`` required)."""
        what = "collaborator permission"
        return cls(
            permission=_required(data, "permission", str, what),
            role_name=_optional(data, "role_name", str, what) or "",
            user=_user(data, "user", what),
        )


@dataclass(frozen=True)
class GitRef:
    """A git reference: its full name (``ref``: ``refs/tags/...``) and the commit it points at (``object.sha``)."""

    ref: str
    sha: str

    @classmethod
    def parse(cls, data: Any) -> Self:
        """The reference in GitHub's JSON (``ref`` and ``object.sha`` required)."""
        return cls(ref=_required(data, "ref", str, "git ref"), sha=_required(data, "object.sha", str, "git ref"))


# --------------------------------------------------------------------------- what mlgate wrote


class Conclusion(StrEnum):
    """The conclusions mlgate gives its check runs (a subset of GitHub's)."""

    SUCCESS = "success"
    NEUTRAL = "neutral"  # passes branch protection; says "look" (warnings, a governance change)
    FAILURE = "failure"


class Action(StrEnum):
    """What a write did: made the object, changed mlgate's own one, or found it already there."""

    CREATED = "created"
    UPDATED = "updated"
    EXISTS = "exists"


@dataclass(frozen=True)
class PostedComment:
    """The sticky comment mlgate created or updated."""

    id: int
    url: str | None
    action: Action

    def as_dict(self) -> dict[str, Any]:
        """``{"id", "url", "action"}``."""
        return {"id": self.id, "url": self.url, "action": self.action}


@dataclass(frozen=True)
class PostedCheckRun:
    """The check run mlgate posted: its id and page, its conclusion, how many annotations in how many requests."""

    id: int
    url: str | None
    conclusion: str | None
    annotations: int
    requests: int

    def as_dict(self) -> dict[str, Any]:
        """``{"id", "url", "conclusion", "annotations", "requests"}``."""
        return {
            "id": self.id,
            "url": self.url,
            "conclusion": self.conclusion,
            "annotations": self.annotations,
            "requests": self.requests,
        }


@dataclass(frozen=True)
class TagResult:
    """A GTO tag mlgate made (``created``) or found at the same commit (``exists``)."""

    tag: str
    sha: str
    action: Action

    def as_dict(self) -> dict[str, Any]:
        """``{"tag", "sha", "action"}``."""
        return {"tag": self.tag, "sha": self.sha, "action": self.action}
