"""The governance check: a PR that changes what judges models needs a second person.

Gates on a PR judge with the base branch's policies and judging fields, so a loosened rule
cannot let its own PR through. The change itself still needs a human. The check run
``mlgate / governance`` stays red while the PR changes any of:

- ``policies/**``;
- a judging field of a spec (mlgate.gates.judging: task, target, positive label, sensitive features,
  policy, monitoring, split and evaluation data, including the DVC md5 of evaluation data);
  a model new in the PR, or removed by it;
- an evaluation data pointer: the ``.dvc`` file or ``dvc.lock`` entry of a file a spec
  evaluates on (``judging.evaluation_paths``: the data roles in ``judging.EVALUATION_ROLES`` and
  a predictions spec's ``predictions.path``, whose file holds the true labels);
- ``.github/workflows/**``, ``.github/actions/**``, ``action/**``, mlgate's pins
  (``constraints.txt``, ``pyproject.toml``), ``CODEOWNERS`` (each place GitHub reads it),
  ``.gitattributes`` at any depth and ``.dvc/config``;
- mlgate's own code (``src/**``, ``scripts/setup-venv``) where the base's ``action/setup``
  installs mlgate from this repository (:func:`installs_itself`);

until an approver other than the PR's author approves its head commit. Files are listed with
rename detection and judged at both ends: a deletion, or a rename out of (or into) a governed
path, is a change there. Approvers come from the ``governance:`` section of the BASE commit's
resolved ``policies/default.yaml`` (``approvals``, ``approvers.users``, ``approvers.teams``);
without one, any account that can push counts; either way only with write access
(mlgate.github.approvals). Specs are compared between the merge base and the head (what the PR
changes), both written from git objects into a temporary folder (no attribute of the PR applies):
nothing from the PR is checked out or run. The ``governance`` workflow re-runs the check on
each review, so an approval turns it green without retraining anything.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mlgate.config import Governance, load_policy
from mlgate.data import dvc_record
from mlgate.exceptions import InvalidInput, MlgateError
from mlgate.gates._judging import BaseTree, FieldChange, evaluation_paths, judging_changes, materialise
from mlgate.git import PathChange, merge_base, path_changes, raw_diff, show
from mlgate.github import (
    ApprovalCount,
    Conclusion,
    GitHub,
    GitHubPeople,
    People,
    Review,
    count_approvals,
    named_approvers,
    writers,
)

if TYPE_CHECKING:
    from mlgate.github import GitHub

CHECK_NAME = "mlgate / governance"
DEFAULT_POLICY = "policies/default.yaml"
CODEOWNERS = (".github/codeowners", "codeowners", "docs/codeowners")  # GitHub reads these three (any case)
PINS = ("constraints.txt", "pyproject.toml")
DVC_CONFIG = (".dvc/config", ".dvc/config.local")
SELF_INSTALL_ACTION = "action/setup/action.yml"
SELF_INSTALL_FILES = ("scripts/setup-venv",)  # with src/**, the pins and action/**: mlgate built from this repo
MAX_DIFF = 6_000  # characters of one diff in the check-run summary
MAX_SUMMARY = 60_000  # GitHub's limit on a check run's summary is 65,535


@dataclass(frozen=True)
class GovernanceChange:
    """One thing the PR changes that needs a second person, and why."""

    path: str  # the file changed (the spec, for a judging field)
    reason: str
    field: str = ""  # the judging field, for a spec
    diff: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The change as the governance check's JSON lists it."""
        return {"path": self.path, "field": self.field, "reason": self.reason, "diff": self.diff}


@dataclass
class GovernanceReview:
    """The governance check's outcome: what changed, who approved, and the conclusion."""

    changes: list[GovernanceChange]
    conclusion: Conclusion  # success | failure
    title: str
    approvals: ApprovalCount = field(default_factory=ApprovalCount)
    required: int = 1
    approvers_rule: str = ""
    named: bool = False  # the base policy names the approvers
    check_run_url: str = ""

    @property
    def changed(self) -> list[str]:
        """The changed files, each once, in order."""
        return list(dict.fromkeys(c.path for c in self.changes))

    def as_dict(self) -> dict[str, Any]:
        """The review as ``mlgate governance --json`` prints it."""
        return {
            "changed": self.changed,
            "changes": [c.as_dict() for c in self.changes],
            "conclusion": self.conclusion,
            "title": self.title,
            **self.approvals.as_dict(),
            "required": self.required,
            "approvers_rule": self.approvers_rule,
            "named_approvers": self.named,
            "check_run_url": self.check_run_url,
        }


# --------------------------------------------------------------------------- what changed


def installs_itself(root: Path, base: str) -> bool:
    """Whether the workflows install mlgate from this repository's own files, judged at ``base``.

    The rule: the base commit has ``action/setup/action.yml`` and it installs the checkout the
    action lives in (``github.action_path``): ``uses: ./action/setup`` then runs this repository's
    ``src/``, ``pyproject.toml`` and ``constraints.txt`` (mlgate's own repository does). A repository
    that installs mlgate from elsewhere (``uses: owner/mlgate/action/setup@sha``, ``pip install mlgate``)
    has no such file, and its ``src/`` is the team's model code. The base decides, never the PR.
    """
    text = show(root, base, SELF_INSTALL_ACTION)
    return text is not None and "github.action_path" in text


def file_reason(name: str, self_install: bool = False) -> str | None:
    """Why a changed file is a governance change by its path alone (None: it is not).

    ``self_install``: the repository's actions install mlgate from this repository
    (:func:`installs_itself`), so mlgate's own code decides what the gates do.
    """
    base_name = PurePosixPath(name).name
    if name.startswith("policies/"):
        return "policy: the rules the gates judge with"
    if name.startswith(".github/workflows/"):
        return "workflow: decides what runs on this repository, with its token"
    if name.startswith(".github/actions/"):
        return "local action: what the workflows run"
    if name.startswith("action/"):
        return "mlgate action: what the workflows run"
    if name in PINS:
        return "mlgate's pins: which gatekeeper runs"
    if name.lower() in CODEOWNERS:
        return "code owners: who must review what"
    if base_name == ".gitattributes":
        return "git attributes: change how git reads, diffs and archives files (export-ignore, filters)"
    if name in DVC_CONFIG:
        return "DVC config: where evaluation data is fetched from"
    if self_install and (name.startswith("src/") or name in SELF_INSTALL_FILES):
        return "mlgate's own code: the workflows install mlgate from this repository (action/setup)"
    return None


def _inside(rel: Any, root: Path) -> bool:
    """A relative path that stays in ``root`` (spec values come from the PR)."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\0" in rel or rel.startswith("/"):
        return False
    if ".." in PurePosixPath(rel).parts or ":" in PurePosixPath(rel).parts[0]:
        return False
    return (root / rel).resolve().is_relative_to(root.resolve())


def _models(tree: BaseTree) -> list[str]:
    folder = tree.root / "models"
    return sorted(p.parent.name for p in folder.glob("*/model.yaml")) if folder.is_dir() else []


def _evaluation_files(tree: BaseTree, spec: dict[str, Any] | None) -> dict[str, str]:
    """Field (``data.holdout``, ``predictions.path``) → path of the files ``spec`` evaluates on.

    Paths outside the tree are left out. A predictions file holds the true labels: evaluation data.
    """
    return {key: rel for key, rel in evaluation_paths(spec).items() if _inside(rel, tree.root)}


def _record(tree: BaseTree, rel: str) -> tuple[str, str] | None:

    try:
        return dvc_record(rel, tree.root, tree.repo)
    except Exception as err:  # noqa: BLE001 — a PR's malformed pointer is a change, not a crash
        return (f"(unreadable DVC pointer: {type(err).__name__})", "")


def _md5s(tree: BaseTree, spec: dict[str, Any] | None) -> dict[str, str]:
    out = {}
    for role, rel in _evaluation_files(tree, spec).items():
        record = _record(tree, rel)
        if record:
            out[role] = record[0]
    return out


def _field_reason(change: FieldChange) -> str:
    if change.field == "(new model)":
        return (
            "new model: its judging fields (task, target, sensitive features, policy, evaluation data) "
            "come from this PR"
        )
    if change.field == "(model removed)":
        return "model removed: its spec no longer governs it"
    if change.field.endswith("(content)"):
        return f"evaluation data content changed: the DVC md5 of {change.field.removesuffix(' (content)')}"
    if change.field == "data":
        return "judging field 'data' changed: evaluation data or its split"
    return f"judging field '{change.field}' changed"


def _diff(change: FieldChange) -> str:
    """``FieldChange.diff`` with a newline after every line.

    ``FieldChange.diff`` leaves the last line bare, so it runs into the next: ``-"md5a"+"md5b"``.
    """

    def text(value: Any) -> list[str]:
        return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").splitlines(keepends=True)

    return "".join(difflib.unified_diff(text(change.base), text(change.head), "base", "head"))


def _spec(tree: BaseTree, name: str) -> tuple[dict[str, Any] | None, str]:
    try:
        return tree.spec_data(name), ""
    except MlgateError as err:
        return None, err.message


def _spec_changes(since: BaseTree, head: BaseTree) -> tuple[list[GovernanceChange], dict[str, set[str]]]:
    """Judging-field changes per model, and evaluation file → the models/roles that read it."""
    changes: list[GovernanceChange] = []
    evaluated: dict[str, set[str]] = {}
    for name in sorted(set(_models(since)) | set(_models(head))):
        path = f"models/{name}/model.yaml"
        (old, old_error), (new, new_error) = _spec(since, name), _spec(head, name)
        if old_error or new_error:
            changes.append(
                GovernanceChange(
                    path, f"spec cannot be read, so its judging fields cannot be compared: {new_error or old_error}"
                )
            )
            continue
        try:
            for tree, spec in ((since, old), (head, new)):
                for role, rel in _evaluation_files(tree, spec).items():
                    evaluated.setdefault(rel, set()).add(f"{name}: {role}")
            found = judging_changes(old, new, _md5s(since, old), _md5s(head, new))
        except (AttributeError, TypeError, ValueError) as err:  # a malformed spec in the PR
            changes.append(GovernanceChange(path, f"spec cannot be compared ({type(err).__name__}: {err})"))
            continue
        changes += [GovernanceChange(path, _field_reason(c), c.field, _diff(c)) for c in found]
    return changes, evaluated


def _lock_entry(tree: BaseTree, rel: str) -> tuple[str, str] | None:
    record = _record(tree, rel)
    return record if record and record[1].startswith("dvc.lock") else None


def _path_reason(
    name: str, since: BaseTree, head_tree: BaseTree, evaluated: dict[str, set[str]], self_install: bool
) -> str | None:
    """Why a change at ``name`` (added, edited, deleted or renamed) needs a second person, or None."""
    reason = file_reason(name, self_install)
    if reason is None and name.endswith(".dvc") and name.removesuffix(".dvc") in evaluated:
        reason = f"evaluation data pointer ({', '.join(sorted(evaluated[name.removesuffix('.dvc')]))})"
    if reason is None and name.endswith(".dvc"):
        # a tracked folder: its pointer changes an evaluation file when that file's md5 in its listing moves
        folder = name.removesuffix(".dvc") + "/"
        inside = [rel for rel in evaluated if rel.startswith(folder)]
        records = {rel: (_record(since, rel), _record(head_tree, rel)) for rel in inside}
        # an unreadable listing counts as a change: what cannot be compared needs a second person
        moved = sorted(rel for rel, (a, b) in records.items() if a != b or (a and not a[1]) or (b and not b[1]))
        if moved:
            roles = sorted(role for rel in moved for role in evaluated[rel])
            reason = f"evaluation data inside a tracked folder changed ({', '.join(roles)})"
    if reason is None and name == "dvc.lock":
        moved = sorted(rel for rel in evaluated if _lock_entry(since, rel) != _lock_entry(head_tree, rel))
        if moved:
            reason = f"evaluation data entries in dvc.lock: {', '.join(moved)}"
    return reason


def _how(change: PathChange, name: str) -> str:
    """How the change touched ``name``: a deletion or a rename says so (the path alone hides it)."""
    if change.status == "D":
        return " (deleted)"
    if change.status == "R" and name == change.old_path:
        return f" (moved to {change.path})"
    if change.status == "R":
        return f" (moved from {change.old_path})"
    return ""


def _file_changes(
    root: Path,
    base: str,
    head: str,
    since: BaseTree,
    head_tree: BaseTree,
    evaluated: dict[str, set[str]],
    self_install: bool,
) -> list[GovernanceChange]:
    """The governance changes among the files ``base...head`` adds, edits, deletes or renames.

    A rename is judged at both ends: moving a workflow out of ``.github/workflows/`` removes it
    as surely as deleting it, and moving a file into a governed folder adds one.
    """
    changes = []
    for change in path_changes(root, base, head):
        for name in change.paths:
            reason = _path_reason(name, since, head_tree, evaluated, self_install)
            if reason is None:
                continue
            diff = ""
            if name.startswith("policies/"):
                with contextlib.suppress(MlgateError):
                    # the raw text change: no textconv, external driver or `-diff` attribute of the PR applies
                    diff = raw_diff(root, f"{base}...{head}", name)
            changes.append(GovernanceChange(name, reason + _how(change, name), diff=diff))
    return changes


@dataclass(frozen=True)
class Trees:
    """The three commits the check reads: base (approvers), merge base and head (what changed)."""

    base: BaseTree
    since: BaseTree
    head: BaseTree


@contextlib.contextmanager
def trees(root: Path, base: str, head: str) -> Iterator[Trees]:
    """Base, merge base and head materialised from git's objects (no checkout, no attributes, nothing runs)."""
    with tempfile.TemporaryDirectory(prefix="mlgate-governance-") as tmp:
        work = Path(tmp)
        base_tree = materialise(root, base, work / "base")
        head_tree = materialise(root, head, work / "head")  # a link out of the tree: exit 2
        try:
            common = merge_base(root, base_tree.ref, head_tree.ref)
        except MlgateError as err:
            raise InvalidInput(
                f"{base[:12]} and {head[:12]} have no common history: {err.message}",
                hint="fetch full history (actions/checkout with fetch-depth: 0)",
            ) from err
        since = base_tree if common == base_tree.ref else materialise(root, common, work / "merge-base")
        yield Trees(base_tree, since, head_tree)


def governance_changes(root: Path, base: str, head: str, found: Trees) -> list[GovernanceChange]:
    """Every governance change of ``base...head``: files first, then judging fields per model."""
    spec_changes, evaluated = _spec_changes(found.since, found.head)
    self_install = installs_itself(root, found.base.ref)
    return _file_changes(root, base, head, found.since, found.head, evaluated, self_install) + spec_changes


def base_governance(tree: BaseTree) -> Governance | None:
    """The ``governance:`` section of the tree's resolved ``policies/default.yaml``, if any."""
    path = tree.root / DEFAULT_POLICY
    if not path.is_file():
        return None
    return load_policy(path, tree.root).policy.governance


# --------------------------------------------------------------------------- the verdict


def approvers_rule(governance: Governance | None) -> str:
    """Who may approve a governance change, in words: the base policy's approvers, or any writer."""
    if governance is None:
        return "a collaborator with write access"
    users = [u if isinstance(u, str) else u.login for u in governance.approvers.users]
    names = [*users, *(f"team {t}" for t in governance.approvers.teams)]
    return f"an approver named in the base policy ({', '.join(names)})"


def judge(
    changes: list[GovernanceChange],
    reviews: list[Review],
    author: str,
    head_sha: str,
    governance: Governance | None = None,
    people: People | None = None,
) -> GovernanceReview:
    """The check's outcome from the changes, the PR's reviews and the base policy's approvers.

    ``people`` answers who has write access and who is in a team (GitHub); without it no review counts.
    """
    rule = approvers_rule(governance)
    required = governance.approvals if governance else 1
    named = governance is not None
    if not changes:
        return GovernanceReview(
            [], Conclusion.SUCCESS, "no governance change", required=required, approvers_rule=rule, named=named
        )
    allowed = (
        named_approvers(governance.approvers.users, governance.approvers.teams, people)
        if governance
        else writers(people)
    )
    approvals = count_approvals(reviews, author=author, head_sha=head_sha, allowed=allowed)
    paths = ", ".join(dict.fromkeys(c.path for c in changes))
    if len(approvals.approvers) >= required:
        title = f"governance change approved by {', '.join(approvals.approvers)}: {paths}"
        return GovernanceReview(changes, Conclusion.SUCCESS, title, approvals, required, rule, named)
    wanted = (
        "an approving review" if required == 1 else f"{required} approving reviews ({len(approvals.approvers)} so far)"
    )
    title = f"governance change needs {wanted} of {head_sha[:12]} by {rule}, other than the author {author}: {paths}"
    return GovernanceReview(changes, Conclusion.FAILURE, title, approvals, required, rule, named)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n… (cut)\n"


def summary(result: GovernanceReview) -> str:
    """The Markdown body of the governance check run."""
    lines = [f"**{result.title}**", ""]
    if not result.changes:
        return "\n".join(lines) + "\n"
    lines.append(
        "Gates on this PR judge with the base branch's policies and judging fields; the change itself "
        f"needs {result.required} approving review(s) of the head commit by {result.approvers_rule}, "
        "other than the PR's author."
    )
    if not result.named:
        lines += [
            "",
            (
                f"The base commit's `{DEFAULT_POLICY}` has no `governance:` section, so any collaborator "
                "with write access other than the author may approve (name approvers with "
                "`governance: {approvers: {users: [...], teams: [org/team]}}`)."
            ),
        ]
    lines += ["", "| Changed | Why it needs a second person |", "|---|---|"]
    lines += [f"| `{c.path}`{f' `{c.field}`' if c.field else ''} | {c.reason} |" for c in result.changes]
    for c in result.changes:
        if c.diff:
            lines += [
                "",
                f"`{c.path}`{f' — `{c.field}`' if c.field else ''}:",
                "```diff",
                _clip(c.diff, MAX_DIFF).rstrip("\n"),
                "```",
            ]
    if result.approvals.approvals:
        approved = ", ".join(
            f"@{a.login} (user id {a.user_id}, review {a.review_id})" for a in result.approvals.approvals
        )
        lines += ["", f"Approved by: {approved}"]
    for login, reason in sorted(result.approvals.ignored.items()):
        lines.append(f"- review by @{login} does not count: {reason}")
    return _clip("\n".join(lines) + "\n", MAX_SUMMARY)


# --------------------------------------------------------------------------- GitHub


def review_governance(
    root: Path, base: str, head: str, pr: int, *, post: bool = True, github: GitHub, teams: GitHub | None = None
) -> GovernanceReview:
    """Judge the PR's governance changes from GitHub's reviews; create the check run on ``head``.

    ``teams`` reads team memberships (the workspace's client with ``MLGATE_ORG_TOKEN`` when set);
    without it, ``github`` does (mlgate.github.people).
    """
    with trees(root, base, head) as found:
        changes = governance_changes(root, base, head, found)
        governance = base_governance(found.base) if changes else None
    author = github.pull_request(pr).user.login
    reviews = github.pull_request_reviews(pr) if changes else []
    result = judge(changes, reviews, author, head, governance, GitHubPeople(github, teams))
    if post:
        run = github.create_or_update_check_run(
            name=CHECK_NAME,
            head_sha=head,
            conclusion=result.conclusion,
            title=result.title[:255],
            summary=summary(result),
            annotations=[],
        )
        result.check_run_url = run.url or ""
    return result
