"""The only module that talks to GitHub's REST API.

A thin layer over ``httpx`` rather than a client library (PyGithub, ghapi, octokit ports):
mlgate uses a handful of endpoints (issue comments, check runs, pull requests, reviews, files,
team memberships, repository dispatches, tag refs, issues), and it needs full control over two things a
general client hides — the retry policy (5xx, 429, secondary rate limits, ``Retry-After`` /
``x-ratelimit-reset``, bounded so a CI step fails in seconds, not hours) and token redaction (the
token must never reach a log, a ``repr`` or an exception message). It also avoids a heavy
dependency for ~200 lines of HTTP.

``GITHUB_API_URL`` (set by GitHub Actions, also on GHES) picks the base URL, default
``https://api.github.com``; the token comes from the ``token`` argument or ``GITHUB_TOKEN``.
Outages surface as :class:`GitHubUnavailable` (exit 3); 401/403/404/422 are things the user
fixes (token, workflow ``permissions:``, PR number, payload) and surface as
:class:`~mlgate.exceptions.InvalidInput` (exit 2).
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlencode

# httpx's __init__ imports its command-line client (httpx._main) whenever click, rich and pygments
# are installed (dvc brings rich and pygments; mlgate brings click): ~150 ms and rich/pygments in
# every process that talks to GitHub. A None entry makes that import fail, and httpx falls back to
# its stub `main` (the httpx CLI, which mlgate never runs). Left alone if httpx is already imported.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None in sys.modules: the import fails
import httpx

from mlgate.exceptions import ExternalServiceError, InvalidInput, mask_deep
from mlgate.github._objects import (
    Action,
    CheckRun,
    CollaboratorPermission,
    Comment,
    Conclusion,
    GitHubPayloadError,
    GitRef,
    Issue,
    PostedCheckRun,
    PostedComment,
    PullRequest,
    PullRequestFile,
    Review,
    TagResult,
    TeamMembership,
)

T = TypeVar("T")

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_ANNOTATIONS = 50  # GitHub accepts at most 50 annotations per check-run request
MAX_DISPATCH_KEYS = 10  # GitHub: client_payload has at most 10 top-level properties
MAX_WAIT = 60.0  # cap on any single wait (Retry-After, rate-limit reset, backoff)
# Who the token writes as. GitHub's `GET /user` is not in the API subset mlgate uses, and an
# installation token (GITHUB_TOKEN, a GitHub App's) cannot call it: the identity is configured.
LOGIN_ENV = "MLGATE_GITHUB_LOGIN"  # the login a PAT's or a GitHub App's comments are authored by
ACTIONS_LOGIN = "github-actions[bot]"  # the author of everything a GitHub Actions GITHUB_TOKEN writes
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')

# Which `permissions:` entry each kind of request needs (for 403 "not accessible" messages).
_PERMISSION_FOR = (
    (
        "/memberships/",
        "members: read (an org permission a GitHub App token has; the job's GITHUB_TOKEN cannot read teams)",
    ),
    ("/check-runs", "checks: write"),
    ("/collaborators/", "metadata: read (reading a reviewer's permission)"),
    ("/git/refs", "contents: write (creating tags)"),
    ("/dispatches", "contents: write (repository_dispatch events)"),
    ("/issues/", "pull-requests: write (for pull request comments; issues: write for issues and their comments)"),
    ("/issues", "issues: write"),
    ("/pulls/", "pull-requests: read"),
)


class GitHubUnavailable(ExternalServiceError):
    """GitHub did not answer successfully after retries (outage or rate limit)."""

    hint = "GitHub may be degraded (https://www.githubstatus.com); re-run the job later"


class GitHub:
    """A minimal GitHub REST client for one repository.

    ``sleep`` is injectable so tests can record the waits instead of sleeping.
    """

    def __init__(
        self,
        token: str | None = None,
        api_url: str | None = None,
        repo: str | None = None,
        retries: int = 4,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        login: str | None = None,
    ) -> None:
        """A client of ``repo`` (default ``$GITHUB_REPOSITORY``), as ``token`` (``$GITHUB_TOKEN``).

        A failed request is retried up to ``retries`` times, waiting ``backoff`` seconds, doubled
        after each attempt (or as long as GitHub asks). ``login`` is who the token writes as
        (default ``$MLGATE_GITHUB_LOGIN``, else ``github-actions[bot]``): see :meth:`is_own`.
        """
        token = token if token is not None else os.environ.get("GITHUB_TOKEN", "")
        if not token:
            raise InvalidInput(
                "no GitHub token: set GITHUB_TOKEN or pass the `github-token` input",
            )
        repo = repo or os.environ.get("GITHUB_REPOSITORY", "")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo or ""):
            raise InvalidInput(f"repository must be 'owner/name', got {repo!r}")
        self._token = token
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        self.repo = repo
        self.login = login or os.environ.get(LOGIN_ENV) or ACTIONS_LOGIN
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=self.api_url,
            timeout=timeout,
            transport=transport,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "mlgate",
            },
        )

    def __repr__(self) -> str:
        """The client without its token."""
        return f"GitHub(api_url={self.api_url!r}, repo={self.repo!r}, token='***')"

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def __enter__(self) -> Self:
        """The client; closed when the block ends."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the client."""
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _request(
        self, method: str, url: str, *, json: Any = None, what: str = "", allow: tuple[int, ...] = ()
    ) -> httpx.Response:
        """Send with retries; return a 2xx response or raise a redacted mlgate error.

        A status in ``allow`` is returned too (e.g. 404 where "none" is an answer).
        """
        response = self._send(method, url, json=json, what=what, allow=allow)
        assert isinstance(response, httpx.Response)
        return response

    def _create(
        self,
        url: str,
        payload: dict[str, Any],
        what: str,
        lookup: Callable[[], T | None],
        parse: Callable[[Any], T],
    ) -> tuple[T, bool]:
        """POST ``payload`` to create one object; (the object, whether this call's answer was seen).

        A create is not idempotent: when the answer is lost (timeout, dropped connection, a 5xx
        from a proxy after GitHub committed it), retrying blindly makes a second comment or
        check run. So before each retry of a create that may have happened, ``lookup()`` looks
        for it (the comment's marker, the check run's ``external_id``) and returns it if found.
        ``parse`` reads the object from the answer.
        """
        result = self._send("POST", url, json=payload, what=what, lookup=lookup)
        if isinstance(result, httpx.Response):
            return parse(result.json()), True
        return result, False

    def _send(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        what: str = "",
        allow: tuple[int, ...] = (),
        lookup: Callable[[], T | None] | None = None,
    ) -> httpx.Response | T:
        attempts = self.retries + 1
        reason = ""
        maybe_done = False  # the last attempt may have taken effect although no answer said so
        for attempt in range(attempts):
            if maybe_done and lookup is not None:
                try:
                    found = lookup()
                except GitHubUnavailable as err:  # not knowing, never create a second one
                    raise GitHubUnavailable(
                        self._redact(
                            f"GitHub {method} {_path(url)} may have taken effect ({reason}), and looking for "
                            f"what it created failed: {err.message}"
                        )
                    ) from None
                if found is not None:
                    return found
            try:
                # what mlgate writes to GitHub (comments, check runs, issues) carries no URL password
                response = self._client.request(method, url, json=None if json is None else mask_deep(json))
            except httpx.HTTPError as exc:  # connection refused, reset, timeout, ...
                reason = f"{type(exc).__name__}: {exc}"
                wait = None
                # a request that never reached a server cannot have created anything
                maybe_done = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
            else:
                if response.is_success or response.status_code in allow:
                    return response
                wait = self._retry_wait(response)
                message = _github_message(response)
                if wait is None:
                    self._raise_client_error(method, url, response, message, what)
                reason = f"HTTP {response.status_code}: {message}" if message else (f"HTTP {response.status_code}")
                maybe_done = response.status_code >= 500  # a rate limit refused it; a 5xx may come after the commit
            if attempt == attempts - 1:
                break
            delay = self.backoff * (2**attempt)
            if wait:
                delay = max(delay, wait)
            self._sleep(min(delay, MAX_WAIT))
        raise GitHubUnavailable(
            self._redact(f"GitHub {method} {_path(url)} failed after {attempts} attempt(s): {reason}")
        )

    def _retry_wait(self, response: httpx.Response) -> float | None:
        """Seconds GitHub asks us to wait (0 = use backoff), or None if not retryable."""
        status = response.status_code
        headers = response.headers
        rate_limited = status == 429 or (
            status == 403
            and (
                "secondary rate limit" in _github_message(response).lower()
                or "retry-after" in headers
                or headers.get("x-ratelimit-remaining") == "0"
            )
        )
        if not (rate_limited or status >= 500):
            return None
        if "retry-after" in headers:
            try:
                return min(max(float(headers["retry-after"]), 0.0), MAX_WAIT)
            except ValueError:
                return 0.0
        if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
            try:
                return min(max(float(headers["x-ratelimit-reset"]) - time.time(), 0.0), MAX_WAIT)
            except ValueError:
                return 0.0
        return 0.0

    def _raise_client_error(self, method: str, url: str, response: httpx.Response, message: str, what: str) -> None:
        status = response.status_code
        where = f"{method} {_path(url)}"
        said = f" (GitHub said: {message})" if message else ""
        if status == 401:
            text = f"GitHub rejected the token (401): check GITHUB_TOKEN / the `github-token` input{said}"
        elif status == 403:
            if "not accessible by integration" in message.lower():
                need = next((p for frag, p in _PERMISSION_FOR if frag in url), "the right scope")
                text = (
                    f"GitHub refused {where} (403): the token lacks a permission; add "
                    f"`permissions: {need}` to the workflow job{said}"
                )
            else:
                text = f"GitHub refused {where} (403): check the token's permissions{said}"
        elif status == 404:
            subject = what or "the resource"
            text = (
                f"GitHub found no {subject} ({where} → 404): check the repository "
                f"{self.repo!r}, the number/id, and that the token can see the repo{said}"
            )
        elif status == 422:
            errors = _validation_errors(response)
            text = f"GitHub rejected {where} (422): {message or 'validation failed'}"
            if errors:
                text += "; " + "; ".join(errors)
        else:
            text = f"GitHub {where} failed with HTTP {status}{said}"
        raise InvalidInput(self._redact(text))

    def _get_json(self, url: str, what: str = "") -> Any:
        return self._request("GET", url, what=what).json()

    def _paginate(self, url: str, what: str = "", items: str | None = None) -> Iterator[Any]:
        """Every item of a listing, following ``Link: rel="next"``.

        ``items`` names the array when a page is an object (``{"total_count", "check_runs"}``).
        """
        next_url: str | None = url
        while next_url:
            response = self._request("GET", next_url, what=what)
            page = response.json()
            yield from (page.get(items) or []) if items else page
            match = _LINK_NEXT.search(response.headers.get("link", ""))
            next_url = match.group(1) if match else None
            if next_url and not next_url.startswith(self.api_url + "/"):
                # never send the token to a host other than the API's
                raise GitHubUnavailable(f"GitHub returned a next-page link outside {self.api_url}: {_path(next_url)}")

    def is_own(self, item: Comment | Issue) -> bool:
        """Whether a comment (or issue) was written by this token's identity (``self.login``).

        Only its own marker comments are adopted: anyone can write mlgate's hidden marker into
        a comment, and an adopted comment would show their text as mlgate's. A ``[bot]`` login
        must also be a Bot account (people cannot register brackets in a login).
        """
        user = item.user
        if user is None or user.login.lower() != self.login.lower():
            return False
        return not user.login.endswith("[bot]") or user.type == "Bot"

    # ------------------------------------------------------------------ endpoints

    def upsert_comment(self, pr_number: int, body: str, marker: str) -> PostedComment:
        """Create or update the one PR comment that contains ``marker`` (a sticky comment).

        Only a marker comment this token wrote (:meth:`is_own`) is updated; one by anyone else is
        left alone and a new comment is created. A create whose answer was lost is looked up by
        the marker before it is retried: one comment, whatever the network did.
        """
        if marker not in body:
            body = f"{body}\n\n{marker}"
        base = f"/repos/{self.repo}/issues"
        where = f"pull request #{pr_number}"

        def find() -> Comment | None:
            for item in self._paginate(f"{base}/{int(pr_number)}/comments?per_page=100", what=where):
                comment = Comment.parse(item)
                if marker in comment.body and self.is_own(comment):
                    return comment
            return None

        existing = find()
        if existing is None:
            data, answered = self._create(
                f"{base}/{int(pr_number)}/comments", {"body": body}, where, find, Comment.parse
            )
            if answered or data.body == body:  # ours, answered or found after a lost answer
                return PostedComment(data.id, data.html_url or None, Action.CREATED)
            existing = data  # another job's sticky comment appeared meanwhile: it gets this body
        updated = Comment.parse(
            self._request(
                "PATCH", f"{base}/comments/{existing.id}", json={"body": body}, what=f"comment {existing.id}"
            ).json()
        )
        return PostedComment(updated.id, updated.html_url or None, Action.UPDATED)

    def create_or_update_check_run(
        self,
        name: str,
        head_sha: str,
        conclusion: Conclusion | str,
        title: str,
        summary: str,
        annotations: list[dict[str, Any]] | None = None,
        key: str | None = None,
    ) -> PostedCheckRun:
        """Create a completed check run; annotations go 50 per request (POST, then PATCHes).

        Its ``external_id`` is ``mlgate:<key or name>:<head_sha>:<random>``; a create whose
        answer was lost is looked up by it ("list check runs for a Git reference") before it
        is retried: one check run, whatever the network did.
        """
        annotations = list(annotations or [])
        batches = [annotations[i : i + MAX_ANNOTATIONS] for i in range(0, len(annotations), MAX_ANNOTATIONS)] or [[]]
        output: dict[str, Any] = {"title": title, "summary": summary}
        # This call's own id: a retry after a lost answer finds the run this call created, never
        # one an earlier job created for the same commit.
        external_id = f"mlgate:{key or name}:{head_sha}:{secrets.token_hex(6)}"
        payload = {
            "name": name,
            "head_sha": head_sha,
            "external_id": external_id,
            "status": "completed",
            "conclusion": conclusion,
            "output": {**output, "annotations": batches[0]} if batches[0] else output,
        }
        listing = f"/repos/{self.repo}/commits/{quote(head_sha, safe='')}/check-runs?" + urlencode(
            {"check_name": name, "filter": "all", "per_page": 100}
        )

        def find() -> CheckRun | None:
            runs = map(CheckRun.parse, self._paginate(listing, what=f"commit {head_sha}", items="check_runs"))
            return next((run for run in runs if run.external_id == external_id), None)

        created, _ = self._create(f"/repos/{self.repo}/check-runs", payload, f"commit {head_sha}", find, CheckRun.parse)
        result = created
        for batch in batches[1:]:
            result = CheckRun.parse(
                self._request(
                    "PATCH",
                    f"/repos/{self.repo}/check-runs/{created.id}",
                    json={"output": {**output, "annotations": batch}},
                    what=f"check run {created.id}",
                ).json()
            )
        return PostedCheckRun(created.id, result.html_url, result.conclusion, len(annotations), len(batches))

    def pull_request(self, number: int) -> PullRequest:
        """The pull request ``number``."""
        return PullRequest.parse(
            self._get_json(f"/repos/{self.repo}/pulls/{int(number)}", what=f"pull request #{number}")
        )

    def open_pull_requests(self, head: str) -> list[PullRequest]:
        """The open pull requests from branch ``head`` of this repository (all pages).

        GitHub filters by ``head=<owner>:<branch>``; a branch of the same name in a fork is not
        this repository's branch and is not listed.
        """
        owner = self.repo.split("/")[0]
        branch = head.split(":", 1)[1] if ":" in head else head
        query = urlencode({"state": "open", "head": f"{owner}:{branch}", "per_page": 100})
        listing = self._paginate(f"/repos/{self.repo}/pulls?{query}", what=f"pull requests from {branch}")
        return [PullRequest.parse(item) for item in listing]

    def create_pull_request(self, *, title: str, body: str, head: str, base: str) -> PullRequest:
        """Open a pull request from ``head`` into ``base``; the new pull request.

        A create whose answer was lost is looked up (the open pull request from ``head``) before
        it is retried: one pull request, whatever the network did.
        """

        def find() -> PullRequest | None:
            return next(iter(self.open_pull_requests(head)), None)

        created, _ = self._create(
            f"/repos/{self.repo}/pulls",
            {"title": title, "body": body, "head": head, "base": base},
            f"branch {head}",
            find,
            PullRequest.parse,
        )
        return created

    def update_pull_request(self, number: int, **fields: Any) -> PullRequest:
        """Change pull request ``number``'s fields (title, body, state: ``closed`` closes it unmerged)."""
        allowed = {"title", "body", "state"}
        if unknown := sorted(set(fields) - allowed):
            raise InvalidInput(f"update_pull_request takes {sorted(allowed)}, not {unknown}")
        return PullRequest.parse(
            self._request(
                "PATCH", f"/repos/{self.repo}/pulls/{int(number)}", json=fields, what=f"pull request #{number}"
            ).json()
        )

    def pull_request_reviews(self, number: int) -> list[Review]:
        """Every review of pull request ``number`` (all pages)."""
        return list(
            map(
                Review.parse,
                self._paginate(
                    f"/repos/{self.repo}/pulls/{int(number)}/reviews?per_page=100",
                    what=f"pull request #{number}",
                ),
            )
        )

    def team_membership(self, org: str, team_slug: str, username: str) -> TeamMembership | None:
        """``username``'s membership of ``org/team_slug`` (``state``: active | pending), None if none.

        GitHub answers 404 both for "not a member" and for a team the token cannot see.
        """
        for name, value in (("org", org), ("team", team_slug), ("user", username)):
            if not re.fullmatch(r"[\w.-]+", value or ""):
                raise InvalidInput(f"{name} must be a GitHub {name} name, got {value!r}")
        response = self._request(
            "GET",
            f"/orgs/{org}/teams/{team_slug}/memberships/{username}",
            what=f"team {org}/{team_slug}",
            allow=(404,),
        )
        return None if response.status_code == 404 else TeamMembership.parse(response.json())

    def collaborator_permission(self, username: str) -> CollaboratorPermission | None:
        """``username``'s access to this repository: ``permission``, ``role_name`` and ``user``.

        ``permission`` is admin | write | read | none (GitHub maps maintain to write). None when
        GitHub answers 404 (no such user, or the token cannot see the repository).
        """
        if not re.fullmatch(r"[\w.\[\]-]+", username or ""):
            raise InvalidInput(f"user must be a GitHub login, got {username!r}")
        response = self._request(
            "GET",
            f"/repos/{self.repo}/collaborators/{quote(username, safe='')}/permission",
            what=f"collaborator {username}",
            allow=(404,),
        )
        return None if response.status_code == 404 else CollaboratorPermission.parse(response.json())

    def pull_request_files(self, number: int) -> list[PullRequestFile]:
        """Every file pull request ``number`` changes (all pages)."""
        return list(
            map(
                PullRequestFile.parse,
                self._paginate(
                    f"/repos/{self.repo}/pulls/{int(number)}/files?per_page=100",
                    what=f"pull request #{number}",
                ),
            )
        )

    def matching_refs(self, prefix: str) -> list[GitRef]:
        """Every ref whose name starts with ``prefix`` (``tags/credit#``: no leading ``refs/``).

        GitHub answers one unpaginated array, ``[]`` when nothing matches.
        """
        answer = self._get_json(
            f"/repos/{self.repo}/git/matching-refs/{quote(prefix, safe='/')}", what=f"refs matching {prefix!r}"
        )
        if not isinstance(answer, list):
            raise GitHubPayloadError(f"GitHub's refs matching {prefix!r} are not a JSON array")
        return [GitRef.parse(item) for item in answer]

    def create_tag_ref(self, tag: str, sha: str) -> TagResult:
        """Make the lightweight tag ``tag`` point at commit ``sha``.

        A retried create never duplicates and never moves a tag: a tag that already exists at
        ``sha`` is success (``action: exists``), one at another commit is an error (exit 2).
        """
        ref = f"refs/tags/{tag}"

        def find() -> GitRef | None:
            return next((r for r in self.matching_refs(f"tags/{tag}") if r.ref == ref), None)

        response = self._send(
            "POST",
            f"/repos/{self.repo}/git/refs",
            json={"ref": ref, "sha": sha},
            what=f"tag {tag}",
            allow=(422,),
            lookup=find,
        )
        if isinstance(response, httpx.Response) and response.status_code != 422:
            return TagResult(tag, sha, Action.CREATED)
        lost = not isinstance(response, httpx.Response)
        found = find() if isinstance(response, httpx.Response) else response  # 422 "Reference already exists", or lost
        if found is None:
            assert isinstance(response, httpx.Response)
            self._raise_client_error("POST", f"/repos/{self.repo}/git/refs", response, _github_message(response), tag)
        assert found is not None
        at = found.sha
        if at != sha:
            raise InvalidInput(
                self._redact(f"tag {tag} already exists at {at[:12]}, not at {sha[:12]}: mlgate never moves a tag"),
                hint="a tag names one assignment for ever; delete the stray tag if it was made by mistake",
            )
        return TagResult(tag, sha, Action.CREATED if lost else Action.EXISTS)

    def find_issue(self, marker: str, *, state: str = "open", labels: tuple[str, ...] | list[str] = ()) -> Issue | None:
        """The oldest issue in ``state`` (open | closed | all) whose body contains ``marker``, or None.

        ``labels`` narrow the listing (GitHub returns the issues that carry all of them), so a busy
        repository is one request, not one per hundred issues. Pull requests (which GitHub's issue
        listing returns too) are skipped, and so are issues another identity opened (:meth:`is_own`):
        a marker pasted into someone's issue does not make it mlgate's.
        """
        return next(self._issues_with(marker, state, labels), None)

    def find_issues(self, marker: str, *, state: str = "open", labels: tuple[str, ...] | list[str] = ()) -> list[Issue]:
        """Every issue in ``state`` whose body contains ``marker``, oldest first (see :meth:`find_issue`)."""
        return list(self._issues_with(marker, state, labels))

    def _issues_with(self, marker: str, state: str, labels: tuple[str, ...] | list[str]) -> Iterator[Issue]:
        if state not in ("open", "closed", "all"):
            raise InvalidInput(f"issue state must be open, closed or all, got {state!r}")
        query: dict[str, Any] = {"state": state, "sort": "created", "direction": "asc", "per_page": 100}
        if labels:
            query["labels"] = ",".join(labels)
        for item in self._paginate(f"/repos/{self.repo}/issues?{urlencode(query)}", what=f"issues of {self.repo}"):
            issue = Issue.parse(item)
            # only issues this token's identity opened: anyone may paste the marker into an issue
            if not issue.pull_request and marker in issue.body and self.is_own(issue):
                yield issue

    def issue(self, number: int) -> Issue:
        """Issue ``number``."""
        return Issue.parse(self._get_json(f"/repos/{self.repo}/issues/{int(number)}", what=f"issue #{number}"))

    def create_issue(
        self,
        title: str,
        body: str,
        *,
        labels: list[str] | tuple[str, ...] = (),
        assignees: list[str] | tuple[str, ...] = (),
        lookup: Callable[[], Issue | None],
    ) -> Issue:
        """Open an issue; the issue (the one ``lookup()`` found if this call's answer was lost).

        ``lookup`` finds the issue by the hidden marker in ``body`` (see :meth:`find_issue`): a create
        whose answer was lost (a timeout, a 502 after GitHub committed it) is looked up before it is
        retried, so a retry never opens a second issue.

        An assignee GitHub refuses (422 on ``assignees``: not a collaborator, no such user) does not
        cost the issue: nothing was created, so it is opened again without assignees — compare the
        returned ``assignees`` with the ones asked for.
        """
        url = f"/repos/{self.repo}/issues"
        what = f"issues of {self.repo}"
        payload: dict[str, Any] = {"title": title, "body": body, "labels": list(labels)}
        if assignees:
            payload["assignees"] = list(assignees)
        result = self._send("POST", url, json=payload, what=what, allow=(422,), lookup=lookup)
        if not isinstance(result, httpx.Response):  # the answer was lost; the lookup found the issue
            return result
        if result.status_code != 422:
            return Issue.parse(result.json())
        if not (assignees and any(" assignees " in f" {e} " for e in _validation_errors(result))):
            self._raise_client_error("POST", url, result, _github_message(result), what)
        del payload["assignees"]
        data, _ = self._create(url, payload, what, lookup, Issue.parse)
        return data

    def update_issue(self, number: int, **fields: Any) -> Issue:
        """Change issue ``number``'s fields (title, body, state, state_reason, labels, assignees)."""
        allowed = {"title", "body", "state", "state_reason", "labels", "assignees"}
        if unknown := sorted(set(fields) - allowed):
            raise InvalidInput(f"update_issue takes {sorted(allowed)}, not {unknown}")
        return Issue.parse(
            self._request(
                "PATCH", f"/repos/{self.repo}/issues/{int(number)}", json=fields, what=f"issue #{number}"
            ).json()
        )

    def issue_comments(self, number: int) -> list[Comment]:
        """Every comment on issue (or pull request) ``number``, oldest first (all pages)."""
        listing = self._paginate(
            f"/repos/{self.repo}/issues/{int(number)}/comments?per_page=100", what=f"issue #{number}"
        )
        return [Comment.parse(item) for item in listing]

    def comment_on_issue(self, number: int, body: str, marker: str | None = None) -> Comment:
        """Add a comment to issue ``number``; the comment.

        The comment carries a hidden marker — ``marker`` or a fresh random one. A create whose
        answer was lost is looked up by it before it is retried (one comment, whatever the
        network did). With a caller's ``marker`` the call is idempotent: a comment that already
        carries it is returned, not posted again (a re-run job does not repeat itself).
        """
        given = marker is not None
        marker = marker or f"<!-- mlgate:comment {secrets.token_hex(6)} -->"
        if marker not in body:
            body = f"{body}\n\n{marker}"

        def find() -> Comment | None:
            return next((c for c in self.issue_comments(number) if marker in c.body and self.is_own(c)), None)

        if given and (existing := find()) is not None:
            return existing
        data, _ = self._create(
            f"/repos/{self.repo}/issues/{int(number)}/comments", {"body": body}, f"issue #{number}", find, Comment.parse
        )
        return data

    def close_issue(
        self, number: int, comment: str, *, state_reason: str = "completed", marker: str | None = None
    ) -> Issue:
        """Comment on issue ``number`` (say why), then close it with ``state_reason``; the closed issue."""
        self.comment_on_issue(number, comment, marker=marker)
        return self.update_issue(number, state="closed", state_reason=state_reason)

    def dispatch(self, event_type: str, client_payload: dict[str, Any]) -> None:
        """Send a ``repository_dispatch`` event (workflows ``on: repository_dispatch`` run).

        GitHub keeps no record a client can look up, so a dispatch whose answer was lost cannot
        be checked: it is retried like any request (at-least-once delivery). Receivers must be
        idempotent; mlgate's payload carries the audit record's ``key`` to deduplicate by.
        """
        if len(client_payload) > MAX_DISPATCH_KEYS:
            raise InvalidInput(f"a dispatch payload has at most {MAX_DISPATCH_KEYS} top-level keys (GitHub's limit)")
        self._request(
            "POST",
            f"/repos/{self.repo}/dispatches",
            json={"event_type": event_type, "client_payload": client_payload},
            what=f"repository {self.repo}",
        )


def _path(url: str) -> str:
    """The path of a URL (for messages: no host, no query)."""
    return httpx.URL(url).path


def _github_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip()
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _validation_errors(response: httpx.Response) -> list[str]:
    try:
        data = response.json()
    except ValueError:
        return []
    out = []
    for err in data.get("errors", []) if isinstance(data, dict) else []:
        if isinstance(err, dict):
            parts = [str(err[k]) for k in ("resource", "field", "code", "message") if err.get(k)]
            out.append(" ".join(parts))
        else:
            out.append(str(err))
    return out
