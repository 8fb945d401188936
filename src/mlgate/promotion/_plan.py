"""Merge to promote: every ``release.yaml`` is desired state, the MLflow registry follows it.

Like a GitOps controller (Argo CD, Flux) following manifests:

- ``plan`` compares, per model and stage, the version git asks for with the version the
  registry's alias points at, and checks each change against the policy's promotion rules
  for that stage. It verifies and never trusts: the gates the stage requires are run by the
  plan itself, for that exact version, under the base branch's policy, judging spec fields and
  evaluation data (mlgate.gates.judging) — tags and verdicts other jobs wrote are not read. The
  version's lineage must show reviewed inputs (its training commit is on the base branch, or
  its spec, params and data hashes equal those of a commit that is: a squash merge), a
  FINISHED run and a complete record; then the stage order and the PR's approvals. A plan
  writes nothing to the registry.
- ``apply`` re-checks all of that at merge time on the commit it runs on (a merge that bypassed
  review must not promote), validates every change before the first write, then reconciles:
  an audit record holding the verdict it ran (mlgate.registry.audit) written *before* the alias moves,
  stage aliases (``champion`` follows the last stage of ``promotion.order``), legacy stages where the server has them,
  the previous holder archived, promotion tags on the version. Before each change it re-reads
  the alias (compare-and-set), so two applies racing cannot undo each other, and an apply of an
  older commit never overwrites what a newer one promoted. After the last move it outputs each
  change this commit made and runs the deploy hooks (mlgate.promotion.hooks) the policy or the
  caller asks for; a hook that fails never undoes the promotion.
- stages whose policy lists ``readiness`` checks get one check per item (mlgate.promotion.readiness).
- a canary or shadow release.yaml asks for beside a stage (``canary:``/``shadow:``) is desired state
  too: its alias ``<stage>-canary``/``<stage>-shadow`` is set or moved with the checks of a version
  entering the stage under the policy's ``canary`` block (:meth:`StageRequirement.candidate_requirement`),
  and deleted without any when the entry goes. A candidate's version is never archived, ``champion``
  and the legacy stage never follow it, and a commit's stage changes apply before its candidates'
  (a completion moves the stage to the canary's version before its alias goes).
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate import jsonout
from mlgate.config import (
    CHAMPION_ALIAS,
    EXTERNAL_PREFIX,
    LINEAGE_EXTERNAL,
    LINEAGE_MLGATE,
    LINEAGE_TAG,
    OBSERVED_LINEAGES,
    RELEASE_FILE,
    ArmKind,
    Candidate,
    ModelContext,
    StageRequirement,
    Workspace,
    arm_alias,
    canonical_hash,
    entry_at,
    incomplete_reason,
    load_model_context,
    load_model_spec,
    load_params,
    model_names,
    recorded_params,
    refuse_predictions,
    release_at,
    release_path,
    revisions,
    set_stage,
    split_alias,
)
from mlgate.data import dvc_record
from mlgate.exceptions import Blocked, GitError, InvalidInput, MlgateError, TamperedModel, mask_secrets
from mlgate.gates import FamilyStatus, Verdict, judge_model, materialise
from mlgate.git import (
    blobs,
    commit_message,
    commits_touching,
    git_state,
    is_ancestor,
    resolve_commit,
    tree_entries,
    unknown_ref,
)
from mlgate.github import Approval, GitHub, GitHubPeople, People, Review, count_approvals, named_approvers
from mlgate.promotion import _hooks as deploy_hooks
from mlgate.promotion import _readiness as readiness
from mlgate.promotion._check import Check, version_label
from mlgate.promotion._comment import markdown, publish
from mlgate.promotion._hooks import HookFailed, HookReport, Hooks, applied_by, change_output, model_uri
from mlgate.promotion._proposal import pr_text, version_digest
from mlgate.registry import TAG_PREFIX, ModelVersion, Registry, audit, manifest_of, tampered

Progress = Callable[[str], None]
LEGACY_STAGES = {"staging": "Staging", "production": "Production"}
ARCHIVED_TAG = TAG_PREFIX + "archived"
# family statuses a promotion accepts (none: the policy has no rule in that family)
PASSING = frozenset({FamilyStatus.PASS, FamilyStatus.WARN, FamilyStatus.NONE})
# How far back on the base branch a squash-merged version's inputs are looked for.
REVIEWED_COMMITS_SEARCHED = 200


class ChangeOutcome(StrEnum):
    """What became of one change of a plan; why (a superseded change's newer promotion) is ``outcome_reason``."""

    PLANNED = "planned"
    PLANNED_PIN = "planned (pin)"  # a digest pinned for the version the stage already holds
    PLANNED_TRAFFIC = "planned (traffic)"  # a canary's traffic share changed; its alias stays where it is
    APPLIED = "applied"
    ALREADY_APPLIED = "already applied"
    SUPERSEDED = "superseded"  # a newer merge promoted the stage: this older one must not undo it
    CONCURRENT = "already being applied by a concurrent run"


@dataclass
class Change:
    """One alias of one model that differs from what release.yaml asks for.

    ``stage`` is the alias: a stage, or a candidate's (``production-canary``, ``arm`` CANARY or
    SHADOW, ``traffic`` the canary's share of the callers). A candidate's version is never
    archived when its alias moves or goes, and ``champion`` never follows it.
    """

    model: str
    stage: str
    current: int | None
    desired: int | None
    archive: int | None = None
    checks: list[Check] = field(default_factory=list)
    approvers: list[str] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)  # each approver's user id and review id
    outcome: ChangeOutcome = ChangeOutcome.PLANNED
    outcome_reason: str = ""  # why, where the outcome needs one (superseded: by which promotion)
    verdict: Verdict | None = None  # the gates this promotion ran itself
    pinned: str | None = None  # the digest release.yaml pins for ``desired`` (None: unpinned)
    champion: bool = False  # the stage is the policy's champion stage: the ``champion`` alias follows it
    arm: ArmKind = ArmKind.STABLE  # a candidate's change: CANARY or SHADOW (``stage`` is then its alias)
    traffic: float | None = None  # a canary's share of the callers (release.yaml), None otherwise

    @property
    def ok(self) -> bool:
        """Whether every check of the change holds."""
        return all(c.ok for c in self.checks)

    @property
    def outcome_text(self) -> str:
        """The outcome and its reason as the plan JSON and the log print it (``superseded: v3 was ...``)."""
        return f"{self.outcome}: {self.outcome_reason}" if self.outcome_reason else str(self.outcome)

    @property
    def action(self) -> str:
        """``demote`` when the stage is to be emptied (a candidate removed), else ``promote``."""
        return "demote" if self.desired is None else "promote"

    @property
    def candidate(self) -> bool:
        """Whether the change is a canary's or shadow's (its alias is ``<stage>-canary``/``-shadow``)."""
        return self.arm != ArmKind.STABLE

    def as_dict(self) -> dict[str, Any]:
        """The change as the plan JSON lists it (with the verdict's statuses, when gates ran)."""
        return {
            "model": self.model,
            "stage": self.stage,
            "arm": str(self.arm),
            "traffic": self.traffic,
            "current": self.current,
            "desired": self.desired,
            "previous": self.current,  # the version the stage held before (what a deploy replaces)
            "model_uri": model_uri(self.model, self.desired),
            "archive": self.archive,
            "action": self.action,
            "ok": self.ok,
            "approvers": self.approvers,
            "approvals": [a.as_dict() for a in self.approvals],
            "checks": [c.as_dict() for c in self.checks],
            "outcome": self.outcome_text,
            "digest": self.pinned,
            "verdict": None
            if self.verdict is None
            else {
                "status": self.verdict.status,
                "stage": self.verdict.stage,
                "families": {f: self.verdict.family_status(f) for f in self.verdict.required_families},
                "policy_sha256": self.verdict.policy["sha256"],
                "base": self.verdict.judging.get("base"),
                "artifact_digest": (self.verdict.artifact or {}).get("digest"),
            },
        }


@dataclass
class Plan:
    """What a merge commit asks of the registry: one change per stage whose alias must move."""

    commit: str
    pr: int | None
    policy_ref: str | None
    changes: list[Change] = field(default_factory=list)
    synced: list[dict[str, Any]] = field(default_factory=list)
    hooks: dict[str, Hooks] = field(default_factory=dict)  # per model: its judged policy's promotion.notify

    @property
    def ok(self) -> bool:
        """Whether every change may be applied."""
        return all(c.ok for c in self.changes)

    def missing(self) -> list[str]:
        """One line per check that does not hold: model, stage, version, check and why."""
        return [
            f"{c.model} {c.stage} v{c.desired}: {k.name}: {k.detail}"
            for c in self.changes
            for k in c.checks
            if not k.ok
        ]

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON: every change with its checks, and what is missing."""
        return {
            "commit": self.commit,
            "pr": self.pr,
            "policy_ref": self.policy_ref,
            "ok": self.ok,
            "changes": [c.as_dict() for c in self.changes],
            "synced": self.synced,
            "missing": self.missing(),
        }


@dataclass
class PullRequest:
    """What the approvals check needs from GitHub about the PR behind a change."""

    number: int
    author: str
    head_sha: str
    merged_by: str | None
    reviews: list[Review]
    people: People | None = None  # who has write access, who is in a team (GitHub); None: no review counts


def fetch_pull_request(number: int, github: GitHub, teams: GitHub | None = None) -> PullRequest:
    """Pull request ``number``'s author, head commit, merger and reviews, from GitHub.

    Reviewers' access and team memberships are read through ``github`` (``teams``: the client that
    reads team memberships, default ``github``) when an approval is counted: keep them open until then.
    """
    pull = github.pull_request(number)
    reviews = github.pull_request_reviews(number)
    return PullRequest(
        number=number,
        author=pull.user.login,
        head_sha=pull.head.sha,
        merged_by=pull.merged_by.login if pull.merged_by else None,
        reviews=reviews,
        people=GitHubPeople(github, teams),
    )


def pr_from_commit_message(root: Path, commit: str = "HEAD") -> int | None:
    """The PR a merge commit came from: "Merge pull request #12 …" or a squash "… (#12)"."""
    import re

    message = commit_message(root, commit)
    found = re.search(r"Merge pull request #(\d+)", message) or re.search(
        r"\(#(\d+)\)\s*$", message.splitlines()[0] if message else ""
    )
    return int(found.group(1)) if found else None


# --------------------------------------------------------------------------- desired vs actual


def releases(root: Path, base: str | None, into: Path) -> dict[str, tuple[ModelContext, dict[str, int | None]]]:
    """Every model with a release.yaml: its context and the stages its release.yaml asks for.

    The context's judging fields and policy come from ``base`` (the working tree if None).
    """
    orphans = sorted(
        p.parent.name for p in (root / "models").glob("*/release.yaml") if not (p.parent / "model.yaml").is_file()
    )
    if orphans:
        raise InvalidInput(
            f"release.yaml without a model spec: {', '.join(f'models/{n}/release.yaml' for n in orphans)}",
            hint="add models/<name>/model.yaml or remove the release; nothing was changed in the registry",
        )
    found = {}
    tree = materialise(root, base, into / "base") if base else None  # once, not once per model
    for name in model_names(root):
        if not release_path(root, name).is_file():
            continue
        # release stages vs policy (exit 2 if unknown); the estimator class is not needed: no scikit-learn import
        ctx = judge_model(root, name, base, into / name, tree=tree, check_estimator=False).ctx
        refuse_predictions(ctx, f"be promoted (remove models/{name}/release.yaml)")
        found[name] = (ctx, ctx.release.versions() if ctx.release else {})
    return found


def actual(registry: Registry, wanted: dict[str, list[str]]) -> dict[str, dict[str, int | None]]:
    """``{model: {stage: version its alias points at, or None}}``: one batched registry read."""
    found = registry.aliases(wanted)
    return {name: {stage: found.get(name, {}).get(stage) for stage in stages} for name, stages in wanted.items()}


# --------------------------------------------------------------------------- checks


def _named_versions(
    registry: Registry, wanted: dict[str, tuple[ModelContext, dict[str, int | None]]]
) -> dict[tuple[str, int], ModelVersion]:
    """Every version a release.yaml names (one batched search); a missing one is bad input."""
    known = registry.versions_of(wanted) if wanted else {}
    named = {}
    for name, (ctx, stages) in wanted.items():
        by_number = {v.version: v for v in known.get(name, [])}
        for version in sorted({v for v in stages.values() if v is not None}):
            if version not in by_number:
                raise InvalidInput(
                    f"{release_path(ctx.root, ctx.name).relative_to(ctx.root)} asks for {ctx.name} v{version}, "
                    f"which is not registered (registered: {', '.join(map(str, sorted(by_number))) or 'none'})",
                    hint="fix the version in release.yaml; nothing was changed in the registry",
                )
            named[(name, version)] = by_number[version]
    return named


@functools.lru_cache(maxsize=64)
def _asked(root: Path, name: str, base: str) -> readiness.Asked:
    """What each revision of the release on ``base``'s first-parent history asked for, newest first.

    (commit, {alias: version}) per revision: each stage, and each candidate's alias
    (``production-canary``) while release.yaml asks for one. ``base`` must be a commit sha
    (history below a commit never changes, so the answer is cached: the rollback exemption, the
    stage order and the readiness checks of every change read it once).
    """
    return tuple(
        (commit, {**release.versions(), **release.arm_versions()}) for commit, release in revisions(root, name, base)
    )


def _held_before(root: Path, name: str, stage: str, version: int, base: str) -> bool:
    """Whether release.yaml on the base branch asked for ``version`` in ``stage`` before (a rollback).

    Git decides, not the registry: an ``mlgate-audit`` run or a tag can be written by anyone with
    registry credentials, a merged release.yaml only through review. The newest revisions that
    ask for ``version`` are the request being judged now (on apply, the merge commit itself), so an
    earlier revision must have asked for it, with another request in between.
    """
    other = False
    for _commit, asked in _asked(root, name, base):
        if asked.get(stage) != version:
            other = True
        elif other:
            return True
    return False


def _archived_check(
    root: Path, ctx: ModelContext, stage: str, mv: ModelVersion, base: str, also: str | None = None
) -> Check:
    """An archived version enters ``stage`` only as a rollback: one that held it (or ``also``) before."""
    archived = mv.tags.get(ARCHIVED_TAG) == "true" or mv.current_stage == "Archived"
    if not archived:
        return Check("not archived", True, f"v{mv.version} is live")
    for held in (stage, also):
        if held is not None and _held_before(root, ctx.name, held, mv.version, base):
            return Check("not archived", True, f"v{mv.version} is archived but held {held} before: a rollback")
    return Check("not archived", False, f"v{mv.version} is archived and never held {stage}")


def _gates_check(
    root: Path,
    registry: Registry,
    ctx: ModelContext,
    requirement: StageRequirement,
    stage: str,
    version: int,
    base: str,
    progress: Progress,
    pinned: str | None,
) -> tuple[list[Check], Verdict | None]:
    """Run the gates the stage requires, here, for this version: no recorded verdict counts.

    With ``pinned`` (the digest release.yaml pins) the gates load the version only if its files
    have that digest; the ``digest`` check says whether they did. Without one, the change is
    refused: what score and serve will trust must be pinned by the PR that promotes it.
    """
    from mlgate.gates import run_gates

    progress(f"{ctx.name} v{version}: running the gates for {stage} under {base[:12]}'s policy, spec and data")
    key = _digest_key(root, ctx.name, stage)
    try:
        verdict = run_gates(
            Workspace.sharing(root, registry),  # the plan's registry: no second connection
            ctx.name,
            version=version,
            policy_ref=base,
            stage=stage,
            progress=progress,
            attach=False,
            with_evidence=False,  # the rules decide; the evidence is for the PR comment
            expected_digest=pinned,
        )
    except TamperedModel as err:
        return [
            Check("digest", False, f"{err.message} ({key}); nothing was loaded"),
            Check("gates", False, "not run: the version's files are not the ones pinned"),
        ], None
    found = (verdict.artifact or {}).get("digest")
    if pinned is None:
        digest = Check(
            "digest",
            False,
            (
                f"{key} is missing: pin the files that are promoted (the gates loaded {found}) — run "
                f"`mlgate propose-promotion {ctx.name} --version {version} --stage {stage}` or "
                f"`mlgate pin {ctx.name} --stage {stage}` and commit what it writes"
            ),
        )
    elif found != pinned:  # verified_folder refused other bytes already: a second look, from the verdict
        digest = Check("digest", False, f"the gates loaded files with digest {found}, {key} pins {pinned}")
    else:
        digest = Check("digest", True, f"the files the gates loaded have the pinned digest {pinned}")
    return [digest, *_gates_verdict(requirement, verdict)], verdict


def _digest_key(root: Path, name: str, alias: str) -> str:
    """Where release.yaml pins an alias's digest: ``stages -> production -> digest``, ``canary -> production -> …``."""
    stage, kind = split_alias(alias)
    where = f"stages -> {stage}" if kind == ArmKind.STABLE else f"{kind} -> {stage}"
    return f"{release_path(root, name).relative_to(root)}: {where} -> digest"


def _pin_change(
    root: Path, registry: Registry, ctx: ModelContext, stage: str, version: int | None, base: str
) -> Change | None:
    """A PR that only pins (or re-pins) the digest of the version a stage already holds: checked, not gated.

    The version already passed its promotion; what is new is the digest score and serve will
    demand, so it must be the digest of the version's files as stored (a wrong one would leave
    them refusing to load it). None when the digest is as on ``base`` (nothing new to check).
    """
    entry = ctx.release.stages.get(stage) if ctx.release else None
    if version is None or entry is None or entry.digest is None:
        return None
    before = entry_at(root, ctx.name, stage, base)
    if before is not None and before.version == version and before.digest == entry.digest:
        return None
    found = registry.artifact_digest(ctx.name, version)
    key = f"{release_path(root, ctx.name).relative_to(root)}: stages -> {stage} -> digest"
    change = Change(ctx.name, stage, version, version, pinned=entry.digest, outcome=ChangeOutcome.PLANNED_PIN)
    change.champion = stage == ctx.policy.policy.promotion.champion_stage
    if found.digest == entry.digest:
        change.checks.append(Check("digest", True, f"v{version}'s stored files have the digest {key} pins"))
    else:
        change.checks.append(
            Check("digest", False, f"{key} pins {entry.digest}, but v{version}'s stored files have {found.digest}")
        )
    return change


def _gates_verdict(requirement: StageRequirement, verdict: Verdict) -> list[Check]:
    """The ``gates`` check: every family the stage requires passed in the verdict the promotion ran."""
    families = {f: verdict.family_status(f) for f in requirement.require_gates}
    failed = [f"{f}={s}" for f, s in families.items() if s not in PASSING]
    shown = ", ".join(f"{f} {s}" for f, s in families.items()) or "no family required"
    if failed:
        blocking = [f"{r.rule_id} {r.status}: {r.explanation}" for r in verdict.rules if r.blocking]
        why = f"; {'; '.join(blocking[:3])}" if blocking else ""
        return [Check("gates", False, f"gates run by the promotion: {', '.join(failed)} (required: {shown}){why}")]
    return [Check("gates", True, f"gates run by the promotion: {shown}")]


def _spec_hashes_at(
    root: Path, name: str, commit: str, scratch: Path, modules: tuple[str, ...]
) -> dict[str, str] | None:
    """spec, params and data hashes of ``name`` as of ``commit`` (what train records), or None."""
    tree = materialise(root, commit, scratch / commit[:12])
    path = tree.root / "models" / name / "model.yaml"
    if not path.is_file():
        return None
    try:
        spec, doc = load_model_spec(path, tree.root)
        section = load_params(tree.root, name, doc, required=spec.estimator is not None)[0]
        params = recorded_params(spec, doc, section, modules)
    except MlgateError:
        return None
    hashes = {
        "spec.sha256": canonical_hash(spec.model_dump(mode="json", by_alias=True)),
        "params.sha256": canonical_hash(params),
    }
    for role, rel in spec.dataset.files().items():
        record = dvc_record(rel, tree.root, root)
        hashes[f"data.{role}.md5"] = record[0] if record else ""
    return hashes


def _reviewed_twin(root: Path, name: str, tags: dict[str, str], base: str, modules: tuple[str, ...]) -> str | None:
    """A commit on the base branch whose spec, params and data hashes equal the version's."""
    data = TAG_PREFIX + "data."
    paths = [PurePosixPath(v) for k, v in tags.items() if k.startswith(data) and k.endswith(".path")]
    # a file's own pointer, or that of a tracked folder holding it (`dvc add data/dir`)
    pointers = sorted({f"{p}.dvc" for path in paths for p in (path, *path.parents) if str(p) != "."})
    try:
        # the inputs only change where these paths change: those commits cover every state
        commits = commits_touching(
            root, base, [f"models/{name}", "params.yaml", "dvc.lock", *pointers], REVIEWED_COMMITS_SEARCHED
        )
    except GitError:
        return None
    wanted = {
        k.removeprefix(TAG_PREFIX): v
        for k, v in tags.items()
        if k.endswith((".sha256", ".md5"))
        and k.startswith((TAG_PREFIX + "spec.", TAG_PREFIX + "params.", TAG_PREFIX + "data."))
    }
    with tempfile.TemporaryDirectory() as tmp:
        for commit in commits:
            found = _spec_hashes_at(root, name, commit, Path(tmp), modules)
            if found is not None and all(found.get(k) == v for k, v in wanted.items()) and set(found) == set(wanted):
                return commit
    return None


def _external_check(registry: Registry, ctx: ModelContext, stage: str, mv: ModelVersion, allowed: bool) -> Check:
    """A version registered from elsewhere: in only when the judged policy says so, and complete."""
    key = f"promotion -> stages -> {stage} -> allow_external"
    if not allowed:
        return Check(
            "lineage",
            False,
            (
                f"v{mv.version} was registered from elsewhere (mlgate register: lineage external), and "
                f"{ctx.policy.file} does not let external models into {stage}: set {key}: true there to allow it"
            ),
        )
    broken = incomplete_reason(mv.tags, registry.run_status(mv.run_id))
    if broken:
        return Check("lineage", False, f"v{mv.version} is incomplete: {broken}")
    stated = mv.tags.get(EXTERNAL_PREFIX + "commit")
    said = f"; its registrant states commit {stated[:12]}" if stated else ""
    return Check("lineage", True, f"v{mv.version} is external, allowed into {stage} by {ctx.policy.file} ({key}){said}")


def _lineage_check(
    root: Path,
    registry: Registry,
    ctx: ModelContext,
    stage: str,
    mv: ModelVersion,
    base: str,
    requirement: StageRequirement,
) -> Check:
    """Only reviewed inputs reach a stage: the version's lineage must lead to the base branch.

    ``mlgate`` and ``command`` lineage (mlgate saw the commit, tree and data) are verified
    alike; ``external`` lineage only enters a stage whose judged policy sets ``allow_external``.
    """
    tags, version = mv.tags, mv.version
    if _held_before(root, ctx.name, stage, version, base):
        return Check("lineage", True, f"release.yaml on {base[:12]} asked for v{version} in {stage} before: a rollback")
    lineage = tags.get(LINEAGE_TAG, LINEAGE_MLGATE)
    if lineage == LINEAGE_EXTERNAL:
        return _external_check(registry, ctx, stage, mv, requirement.allow_external)
    if lineage not in OBSERVED_LINEAGES:
        return Check(
            "lineage", False, f"v{version} has {tags[LINEAGE_TAG]} lineage, which this policy does not let into {stage}"
        )
    commit = tags.get(TAG_PREFIX + "git.commit", "")
    if not commit:
        return Check("lineage", False, f"v{version} has no mlgate lineage (not trained by `mlgate train`)")
    broken = incomplete_reason(tags, registry.run_status(mv.run_id))
    if broken:
        return Check("lineage", False, f"v{version} is incomplete: {broken}")
    if tags.get(TAG_PREFIX + "git.dirty") != "false":
        return Check(
            "lineage", False, f"v{version} was trained from a working tree with uncommitted changes at {commit[:12]}"
        )
    if commit != "unknown" and is_ancestor(root, commit, base):
        return Check("lineage", True, f"trained at {commit[:12]}, which the base branch holds")
    twin = _reviewed_twin(root, ctx.name, tags, base, ctx.estimator_modules)
    if twin:
        return Check(
            "lineage",
            True,
            f"trained at {commit[:12]}; its spec, params and data equal {twin[:12]} on the base branch (squash merge)",
        )
    return Check(
        "lineage",
        False,
        (
            f"v{version} was trained at {commit[:12]}, which the base branch {base[:12]} does not hold, and no commit "
            "on it has the same spec, params and data: merge the change that trained it first"
        ),
    )


def _order_check(
    root: Path, ctx: ModelContext, stage: str, version: int, now: dict[str, int | None], base: str
) -> Check | None:
    order = ctx.policy.policy.promotion.order
    if stage not in order or order.index(stage) == 0:
        return None
    before = order[order.index(stage) - 1]
    if now.get(before) == version or _held_before(root, ctx.name, before, version, base):
        return Check("stage order", True, f"v{version} has been in {before}")
    return Check("stage order", False, f"v{version} must be in {before} before {stage} (order: {' → '.join(order)})")


def _approvals_check(
    requirement: StageRequirement, pull: PullRequest | None, stage: str
) -> tuple[Check | None, list[Approval]]:
    """The stage's approvals check: named users or team members with write access (as governance counts them)."""
    if requirement.approvals == 0:
        return None, []
    if pull is None:
        return Check(
            "approvals",
            False,
            f"{stage} needs {requirement.approvals} approval(s) on a pull request, and this change has none",
        ), []
    allowed = named_approvers(
        requirement.approvers.users, requirement.approvers.teams, pull.people, role=f"an approver for {stage}"
    )
    head = pull.head_sha if requirement.dismiss_stale_approvals else None
    counted = count_approvals(pull.reviews, author=pull.author, head_sha=head, allowed=allowed)
    ignored = "; ".join(f"{login}: {why}" for login, why in sorted(counted.ignored.items()))
    detail = f"{len(counted.approvers)}/{requirement.approvals} from {', '.join(counted.approvers) or 'nobody'}"
    detail += f" (not counted: {ignored})" if ignored else ""
    return Check("approvals", len(counted.approvers) >= requirement.approvals, detail), counted.approvals


# --------------------------------------------------------------------------- plan


def make_plan(
    root: Path,
    registry: Registry,
    *,
    policy_ref: str | None = None,
    pull: PullRequest | None = None,
    progress: Progress = lambda _m: None,
) -> Plan:
    """Desired vs actual for every release, with the checks of each change.

    ``policy_ref`` is the branch the promotion lands on (a PR's base); default: HEAD, the
    commit an apply runs on. Nothing is written to the registry.
    """
    if git_state(root).commit == "unknown":
        raise InvalidInput(f"{root} is not a git repository with a commit: promotion needs git history")
    missing = unknown_ref(root, policy_ref) if policy_ref else None
    if missing is not None:
        raise missing
    base = resolve_commit(root, policy_ref or "HEAD")
    plan = Plan(commit=git_state(root).commit, pr=pull.number if pull else None, policy_ref=policy_ref)
    with tempfile.TemporaryDirectory() as tmp:
        wanted = releases(root, base, Path(tmp))
    arms = {name: _arms(ctx, stages) for name, (ctx, stages) in wanted.items()}
    # Bad input first, before anything is read or written: every named version must exist.
    named = _named_versions(registry, {name: (ctx, stages | arms[name]) for name, (ctx, stages) in wanted.items()})
    current = actual(registry, {name: [*stages, *arms[name]] for name, (_ctx, stages) in wanted.items()})
    for name, (ctx, stages) in wanted.items():
        notify = ctx.policy.policy.promotion.notify
        plan.hooks[name] = Hooks(notify.dispatch, notify.gto_tags) if notify else Hooks()
        now = current[name]
        # every alias release.yaml wants a version in: a version a candidate keeps is not archived
        kept = stages | {alias: v for alias, v in arms[name].items() if v is not None}
        for stage, desired in stages.items():
            if now[stage] == desired:
                pinning = _pin_change(root, registry, ctx, stage, desired, base)
                if pinning is None:
                    plan.synced.append({"model": name, "stage": stage, "version": desired})
                else:
                    plan.changes.append(pinning)
                continue
            change = Change(name, stage, now[stage], desired, archive=_to_archive(now[stage], stage, kept))
            change.champion = stage == ctx.policy.policy.promotion.champion_stage
            requirement = ctx.policy.policy.promotion.stages[stage]
            progress(f"checking {name} {stage}: {version_label(now[stage])} → {version_label(desired)}")
            if desired is not None:
                mv = named[(name, desired)]
                change.checks.append(Check("exists", True, f"{name} v{desired} is registered (run {mv.run_id})"))
                change.checks.append(_archived_check(root, ctx, stage, mv, base))
                change.checks.append(_lineage_check(root, registry, ctx, stage, mv, base, requirement))
                entry = ctx.release.stages.get(stage) if ctx.release else None
                change.pinned = entry.digest if entry else None
                gates, change.verdict = _gates_check(
                    root, registry, ctx, requirement, stage, desired, base, progress, change.pinned
                )
                change.checks.extend(gates)
                order = _order_check(root, ctx, stage, desired, now, base)
                if order:
                    change.checks.append(order)
                if requirement.readiness:
                    asked = _asked(root, name, base)
                    change.checks.extend(readiness.checks(ctx, registry, stage, requirement.readiness, asked))
            approvals, change.approvals = _approvals_check(requirement, pull, stage)
            change.approvers = [a.login for a in change.approvals]
            if approvals:
                change.checks.append(approvals)
            plan.changes.append(change)
        # candidates after the stages: a completion (production: 4, its canary removed) moves the
        # stage to v4 before the canary's alias goes, so v4 is never in neither alias
        for alias, desired in arms[name].items():
            if now[alias] is None and desired is None:
                continue  # no candidate asked for, none in the registry
            candidate = ctx.release.candidate(split_alias(alias)[0]) if ctx.release and desired is not None else None
            if now[alias] == desired and candidate is not None:
                retune = _retune_change(root, registry, ctx, candidate, base, pull)
                if retune is None:
                    plan.synced.append({"model": name, "stage": alias, "version": desired})
                else:
                    plan.changes.append(retune)
                continue
            plan.changes.append(
                _candidate_change(root, registry, ctx, alias, now, candidate, named, base, pull, progress)
            )
    return plan


def _arms(ctx: ModelContext, stages: dict[str, int | None]) -> dict[str, int | None]:
    """``{alias: version}`` for each candidate alias a stage of the release or policy can have (None: no candidate).

    A stage without a candidate is listed too, so a canary release.yaml no longer asks for is removed.
    """
    wanted = ctx.release.arm_versions() if ctx.release else {}
    names = dict.fromkeys([*stages, *ctx.policy.policy.promotion.stages])
    return {
        arm_alias(stage, kind): wanted.get(arm_alias(stage, kind))
        for stage in names
        for kind in (ArmKind.CANARY, ArmKind.SHADOW)
    }


def _candidate_label(kind: ArmKind, traffic: float | None) -> str:
    """``canary at 10% of callers`` / ``shadow (scores every request, answers none)``."""
    if kind == ArmKind.CANARY and traffic is not None:
        return f"canary at {traffic:.0%} of callers"
    return f"{kind} (scores every request, answers none)"


def _candidate_change(
    root: Path,
    registry: Registry,
    ctx: ModelContext,
    alias: str,
    now: dict[str, int | None],
    candidate: Candidate | None,
    named: dict[tuple[str, int], ModelVersion],
    base: str,
    pull: PullRequest | None,
    progress: Progress,
) -> Change:
    """A candidate's alias to set, move or delete, with the checks a version entering the stage needs.

    Setting or moving it runs what ``promotion.stages.<stage>.canary`` asks for over the stage's own
    settings (:meth:`StageRequirement.candidate_requirement`): lineage, not archived, the pinned
    digest, the gates (run here), the stage order and the approvals. Removing it (an abort, or the
    second half of a completion) needs none: it only deletes the alias, and never archives the version.
    """
    name = ctx.name
    stage, kind = split_alias(alias)
    desired = candidate.version if candidate is not None else None
    traffic = candidate.traffic if candidate is not None and candidate.kind == ArmKind.CANARY else None
    change = Change(name, alias, now[alias], desired, arm=kind, traffic=traffic)
    progress(f"checking {name} {stage} {kind}: {version_label(now[alias])} → {version_label(desired)}")
    if candidate is None:
        change.checks.append(
            Check(
                "candidate removed",
                True,
                f"the {kind} beside {stage} stops: alias {alias} is deleted, {stage}'s version answers every caller "
                f"and v{now[alias]} is not archived (no gates or approvals needed to stop a candidate)",
            )
        )
        return change
    requirement = ctx.policy.policy.promotion.stages[stage]
    settings = requirement.canary
    needed = requirement.candidate_requirement()
    mv = named[(name, candidate.version)]
    change.pinned = candidate.digest
    change.checks.append(Check("exists", True, f"{name} v{candidate.version} is registered (run {mv.run_id})"))
    if settings is not None:  # release.yaml was checked against the policy when it was read (exit 2 otherwise)
        allowed = f"{ctx.policy.file} allows a {kind} beside {stage}"
        if kind == ArmKind.CANARY:
            allowed += f" (at most {settings.max_traffic:.0%} of callers)"
        change.checks.append(Check("candidate", True, f"{_candidate_label(kind, traffic)}: {allowed}"))
    change.checks.append(_archived_check(root, ctx, alias, mv, base, also=stage))
    change.checks.append(_lineage_check(root, registry, ctx, alias, mv, base, needed))
    gates, change.verdict = _gates_check(
        root, registry, ctx, needed, alias, candidate.version, base, progress, candidate.digest
    )
    change.checks.extend(gates)
    order = _order_check(root, ctx, stage, candidate.version, now, base)
    if order:
        change.checks.append(order)
    approvals, change.approvals = _approvals_check(needed, pull, alias)
    change.approvers = [a.login for a in change.approvals]
    if approvals:
        change.checks.append(approvals)
    return change


def _retune_change(
    root: Path, registry: Registry, ctx: ModelContext, candidate: Candidate, base: str, pull: PullRequest | None
) -> Change | None:
    """A candidate whose alias already points at its version, but whose pin or traffic the PR changes.

    Nothing moves in the registry; the plan checks the new pin against the stored files (as for a
    stage's :func:`_pin_change`), and more traffic on a canary needs the candidate's approvals:
    more callers answered by a version not yet proven is the policy's approvers' decision.
    None when release.yaml on ``base`` asked for the same candidate.
    """
    before = release_at(root, ctx.name, base)
    prior = before.candidate(candidate.stage) if before is not None else None
    if prior == candidate:
        return None
    version, alias = candidate.version, candidate.alias
    traffic = candidate.traffic if candidate.kind == ArmKind.CANARY else None
    more = prior is None or prior.kind != candidate.kind or candidate.traffic > prior.traffic
    outcome = ChangeOutcome.PLANNED_TRAFFIC if prior is not None and prior.traffic != candidate.traffic else None
    change = Change(
        ctx.name,
        alias,
        version,
        version,
        pinned=candidate.digest,
        outcome=outcome or ChangeOutcome.PLANNED_PIN,
        arm=candidate.kind,
        traffic=traffic,
    )
    found = registry.artifact_digest(ctx.name, version)
    key = _digest_key(root, ctx.name, alias)
    if found.digest == candidate.digest:
        change.checks.append(Check("digest", True, f"v{version}'s stored files have the digest {key} pins"))
    else:
        change.checks.append(
            Check("digest", False, f"{key} pins {candidate.digest}, but v{version}'s stored files have {found.digest}")
        )
    if prior is not None and prior.traffic != candidate.traffic:
        shown = f"{prior.traffic:.0%} → {candidate.traffic:.0%} of callers"
        change.checks.append(Check("traffic", True, f"{candidate.kind} beside {candidate.stage}: {shown}"))
    if more:
        needed = ctx.policy.policy.promotion.stages[candidate.stage].candidate_requirement()
        approvals, change.approvals = _approvals_check(needed, pull, alias)
        change.approvers = [a.login for a in change.approvals]
        if approvals:
            change.checks.append(approvals)
    return change


def _to_archive(current: int | None, stage: str, stages: dict[str, int | None]) -> int | None:
    """The previous holder is archived unless release.yaml still wants it in another stage."""
    if current is None or any(v == current for s, v in stages.items() if s != stage):
        return None
    return current


# --------------------------------------------------------------------------- apply


@dataclass
class ApplyResult:
    """The applied plan, the audit records written for it, the changes its commit made and the hooks run."""

    plan: Plan
    records: list[audit.Record] = field(default_factory=list)
    deployed: list[dict[str, Any]] = field(default_factory=list)  # hooks.change_output per change of the commit
    hooks: HookReport = field(default_factory=HookReport)

    def as_dict(self) -> dict[str, Any]:
        """The plan JSON plus its audit records, the commit's changes (``deployed``) and the hooks' report."""
        return self.plan.as_dict() | {
            "audit": [r.as_dict() for r in self.records],
            "deployed": self.deployed,
            "hooks": self.hooks.as_dict(),
        }


def apply(
    root: Path,
    registry: Registry,
    *,
    pull: PullRequest | None,
    actor: str | None = None,
    hooks: Hooks | None = None,
    progress: Progress = lambda _m: None,
    workspace: Workspace | None = None,
) -> ApplyResult:
    """Reconcile the registry with every release.yaml; refuse (exit 1) if any check fails.

    Then output every change this commit made (also those an earlier, interrupted run of it
    made) and run the deploy hooks: each model's policy ``promotion.notify``, plus ``hooks``
    (the CLI's flags) for every model. Hook failures are in ``result.hooks.errors``: the caller
    decides how to report them (the promotion itself has taken effect). The hooks' GitHub client is
    ``workspace``'s (default: one for ``root`` with the environment's settings), opened only if a hook runs.

    Desired state is read only from the commit the apply records: a release.yaml that is not
    that commit's (edited, untracked, ignored or deleted in the working tree) is bad input (exit 2).
    """
    committed_releases(root)
    plan = make_plan(root, registry, pull=pull, progress=progress)
    if not plan.ok:
        raise Blocked(
            "promotion refused, the registry was not changed: " + "; ".join(plan.missing()),
            hint="fix what is missing (gates, order, approvals on the PR), then re-run `mlgate promote --apply`",
        )
    result = ApplyResult(plan)
    who = actor or (pull.merged_by if pull else None) or os.environ.get("GITHUB_ACTOR") or _user()
    for change in plan.changes:
        record = _apply_change(root, registry, change, plan, who, progress)
        if record is not None:
            result.records.append(record)
    done = applied_by(registry, plan.commit)
    result.deployed = [change_output(r) for r in done]
    extra = hooks or Hooks()
    chosen = {name: Hooks(h.dispatch or extra.dispatch, h.gto_tags or extra.gto_tags) for name, h in plan.hooks.items()}
    if any(chosen.get(r.model) for r in done):
        progress(f"deploy hooks for {len(done)} change(s) of {plan.commit[:12]}")

        ws = workspace or Workspace.of(root)
        result.hooks = deploy_hooks.run(done, chosen, registry, lambda: ws.github)
    return result


def committed_releases(root: Path) -> None:
    """Refuse (exit 2) unless every ``models/*/release.yaml`` in ``root`` is exactly HEAD's.

    ``apply`` reads release.yaml files from the working tree and records HEAD as the commit that
    asked for the change: a file that is not HEAD's would promote what no commit (and no review)
    holds. Compared byte for byte with HEAD's blob, so no ``.gitattributes`` filter can make an
    edited file look clean, and an untracked or git-ignored file is seen too.
    """
    try:
        commit = resolve_commit(root, "HEAD")
    except GitError:
        return  # no commit at all: make_plan says promotion needs git history
    pattern = f"models/*/{RELEASE_FILE}"
    on_disk = {p.relative_to(root).as_posix() for p in root.glob(pattern) if p.is_file()}
    in_commit = {}  # path (relative to root, as ls-tree lists it from there) -> blob sha
    for entry in tree_entries(root, commit, "models"):
        if PurePosixPath(entry.path).match(pattern) and entry.kind == "blob":
            in_commit[entry.path] = entry.sha
    content = blobs(root, list(in_commit.values()))
    problems = []
    for rel in sorted(on_disk | set(in_commit)):
        if rel not in on_disk:
            problems.append(f"{rel} is deleted in the working tree")
        elif rel not in in_commit:
            problems.append(f"{rel} is not committed (untracked or ignored)")
        elif (root / rel).read_bytes() != content[in_commit[rel]]:
            problems.append(f"{rel} has uncommitted changes")
    if problems:
        raise InvalidInput(
            f"promote --apply reads desired state only from the commit it records ({commit[:12]}): "
            + "; ".join(problems),
            hint="commit the release.yaml change and merge it through a pull request (or restore the file "
            "with `git checkout -- <file>`, remove an untracked one), then re-run `mlgate promote --apply`; "
            "nothing was changed in the registry",
        )


def _user() -> str:
    import getpass

    return getpass.getuser()


def _promoted_commit(registry: Registry, name: str, version: int, stage: str) -> str:
    return registry.version(name, version).tags.get(f"{TAG_PREFIX}promoted.{stage}.commit", "")


def _apply_change(
    root: Path, registry: Registry, change: Change, plan: Plan, who: str, progress: Progress
) -> audit.Record | None:
    name, stage = change.model, change.stage
    now = registry.alias_version(name, stage)  # compare-and-set: what is there *now*
    record = audit.Record(
        model=name,
        stage=stage,
        version=change.desired,
        previous=now,
        action=change.action,
        commit=plan.commit,
        pr=plan.pr,
        approvers=change.approvers,
        promoted_by=who,
        promoted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    if now == change.desired:
        pending = audit.find(registry, record.key)
        if pending is None or pending.state == audit.RecordState.DONE:
            change.outcome = ChangeOutcome.ALREADY_APPLIED
            return None
        record = pending  # an interrupted apply of this very commit: finish its steps
    elif now is not None:
        # Only a descendant of the commit that promoted the holder may replace it: a late apply
        # of an older merge must not undo a newer one (a revert is a descendant, so it may).
        holder = _promoted_commit(registry, name, now, stage)
        if holder and holder != plan.commit and not is_ancestor(root, holder, plan.commit):
            change.outcome = ChangeOutcome.SUPERSEDED
            change.outcome_reason = f"v{now} was promoted by {holder[:12]}, newer than {plan.commit[:12]}"
            progress(f"{name} {stage}: {change.outcome_text}")
            return None
    if change.verdict is not None:
        record.verdict_status = change.verdict.status
        record.digest = (change.verdict.artifact or {}).get("digest") or ""
    verdict = jsonout.dumps(change.verdict.as_dict()) if change.verdict is not None else ""
    record = audit.begin(registry, record, verdict)  # write-ahead: the record exists before the alias moves
    if record.state == audit.RecordState.DUPLICATE:
        change.outcome = ChangeOutcome.CONCURRENT
        progress(f"{name} {stage}: {change.outcome_text}")
        return None
    progress(f"{name} {stage}: {version_label(record.previous)} → {version_label(record.version)}")
    _move(registry, record, change)
    audit.finish(registry, record)
    change.outcome = ChangeOutcome.APPLIED
    return record


def _move(registry: Registry, record: audit.Record, change: Change) -> None:
    """Every step is idempotent, so a re-run after an outage can repeat them all."""
    name, stage, version, previous = record.model, record.stage, record.version, record.previous
    if change.candidate:
        _move_candidate(registry, record)
        return
    if version is None:
        registry.delete_alias(name, stage)
        if change.champion:
            registry.delete_alias(name, CHAMPION_ALIAS)
    else:
        registry.set_alias(name, stage, version)
        if change.champion:
            registry.set_alias(name, CHAMPION_ALIAS, version)
        registry.delete_version_tag(name, version, ARCHIVED_TAG)
        if stage in LEGACY_STAGES:
            registry.set_legacy_stage(name, version, LEGACY_STAGES[stage])
        registry.set_version_tags(
            name,
            version,
            {
                f"{TAG_PREFIX}promoted_by": record.promoted_by,
                f"{TAG_PREFIX}pr": str(record.pr or ""),
                f"{TAG_PREFIX}commit": record.commit,
                f"{TAG_PREFIX}approvers": ",".join(record.approvers),
                f"{TAG_PREFIX}promoted_at": record.promoted_at,
                f"{TAG_PREFIX}stage": stage,
                f"{TAG_PREFIX}promoted.{stage}.commit": record.commit,
                f"{TAG_PREFIX}promoted.{stage}.at": record.promoted_at,
            },
        )
    # The plan keeps the previous holder when release.yaml still wants it in another stage.
    keep = previous == change.current and change.archive is None and version is not None
    if previous is not None and previous != version and not keep:
        registry.set_version_tags(
            name, previous, {ARCHIVED_TAG: "true", f"{TAG_PREFIX}archived_at": record.promoted_at}
        )
        registry.set_legacy_stage(name, previous, "Archived")


def _move_candidate(registry: Registry, record: audit.Record) -> None:
    """A candidate's alias set, moved or deleted: no champion, no legacy stage, and no version archived.

    A removed candidate may come back (an abort), or is the stage's new version (a completion,
    whose stage change this commit applied first); the version it replaces keeps its place too.
    """
    name, alias, version = record.model, record.stage, record.version
    if version is None:
        registry.delete_alias(name, alias)
        return
    registry.set_alias(name, alias, version)
    registry.delete_version_tag(name, version, ARCHIVED_TAG)  # it answers callers: it is live
    registry.set_version_tags(
        name,
        version,
        {f"{TAG_PREFIX}promoted.{alias}.commit": record.commit, f"{TAG_PREFIX}promoted.{alias}.at": record.promoted_at},
    )


# --------------------------------------------------------------------------- status, rollback, history


class SyncState(StrEnum):
    """How a stage's registry state compares with release.yaml (``mlgate status``)."""

    SYNCED = "Synced"  # the alias points at the version release.yaml asks for (and its files have the pin)
    OUT_OF_SYNC = "OutOfSync"  # the registry lags git: a merged change `promote --apply` has not applied yet
    MISSING = "Missing"  # release.yaml asks for a version the registry does not have
    MOVED_OUT_OF_BAND = "MovedOutOfBand"  # the alias points at a version no recent release.yaml asked for
    TAMPERED = "Tampered"  # the version's files differ from the digest release.yaml pins


@dataclass(frozen=True)
class StatusRow:
    """One model's stage in ``mlgate status``: what release.yaml asks for, what the registry holds, and the state.

    ``detail`` says why a stage is not synced (the moved alias, the files that differ), empty otherwise.
    A candidate has its own row: ``stage`` is its alias (``production-canary``), ``arm`` its kind and
    ``traffic`` a canary's share of the callers (None for a stable row and a shadow).
    """

    model: str
    stage: str
    desired: int | None
    actual: int | None
    digest: str | None  # the digest release.yaml pins (None: unpinned)
    status: SyncState
    detail: str = ""
    arm: ArmKind = ArmKind.STABLE
    traffic: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row as ``mlgate status --json`` prints it."""
        return {
            "model": self.model,
            "stage": self.stage,
            "desired": self.desired,
            "actual": self.actual,
            "digest": self.digest,
            "status": self.status,
            "detail": self.detail,
            "arm": str(self.arm),
            "traffic": self.traffic,
        }


def _lagging(root: Path, name: str, stage: str, desired: int | None, now: int | None) -> bool:
    """Whether ``now`` is what release.yaml asked for just before it asked for ``desired`` (apply pending)."""
    head = git_state(root).commit  # a commit, not "HEAD": _asked is cached per commit
    for _commit, asked in _asked(root, name, head) if head != "unknown" else ():
        if asked.get(stage) != desired:
            return asked.get(stage) == now
    return now is None  # release.yaml always asked for ``desired``: only an alias never set lags


@dataclass(frozen=True)
class StatusFacts:
    """What ``status`` read to judge the stages, for a caller that shows more than the rows (``mlgate site``).

    ``contexts``: every model with a release.yaml (spec, policy, params, release); ``aliases`` and
    ``versions``: the two batched registry reads (every alias, every version with its tags), which
    also cover ``unreleased``: the models with a model.yaml and no release.yaml, when asked for
    (``status_facts(..., unreleased=True)``; no rows: nothing is desired of them).
    """

    rows: list[StatusRow]
    contexts: dict[str, ModelContext]
    aliases: dict[str, dict[str, int]]
    versions: dict[str, list[ModelVersion]]
    unreleased: dict[str, ModelContext] = field(default_factory=dict)


def status(root: Path | Workspace, registry: Registry | None = None) -> list[StatusRow]:
    """Per model and stage: desired (git), actual (registry) and a :class:`SyncState` (see :func:`status_facts`)."""
    return status_facts(root, registry).rows


def status_facts(root: Path | Workspace, registry: Registry | None = None, *, unreleased: bool = False) -> StatusFacts:
    """Per model and stage: desired (git), actual (registry) and a :class:`SyncState`; with what was read.

    ``unreleased=True`` also loads every model with a model.yaml and no release.yaml (a spec that
    does not load is exit 2 naming file:line:key, as a released model's is) and reads its aliases
    and versions in the same two registry searches: the governance site lists models under
    development too. ``status`` itself judges releases only.

    A synced stage whose release.yaml pins a digest is downloaded and digested: files that differ
    are ``Tampered`` (``detail`` names them). An alias that differs is ``OutOfSync`` when it still
    holds what the previous revision of release.yaml asked for (the apply is pending), else
    ``MovedOutOfBand`` (moved outside a merged promotion). Each canary or shadow release.yaml asks
    for, or whose alias the registry still holds, is a row of its own, judged the same way.
    """
    ws = Workspace.of(root)
    root = ws.root
    registry = registry or ws.registry
    rows: list[StatusRow] = []
    with tempfile.TemporaryDirectory() as tmp:
        wanted = releases(root, None, Path(tmp))
    extra = (
        {n: load_model_context(root, n, check_estimator=False) for n in model_names(root) if n not in wanted}
        if unreleased
        else {}
    )
    aliases = registry.aliases([*wanted, *extra])  # registered models only: one search, not one read per alias
    known = registry.versions_of(aliases)  # one search (a page of names at a time) for released and unreleased
    for name, (ctx, stages) in wanted.items():
        versions = {v.version: v for v in known.get(name, [])}
        held = aliases.get(name, {})
        for stage, desired in stages.items():
            entry = ctx.release.stages.get(stage) if ctx.release else None
            pinned = entry.digest if entry else None
            state, detail = _sync_state(root, registry, name, stage, desired, held.get(stage), pinned, versions)
            rows.append(StatusRow(name, stage, desired, held.get(stage), pinned, state, detail))
        for alias, desired in _arms(ctx, stages).items():
            now = held.get(alias)
            if desired is None and now is None:
                continue
            stage, kind = split_alias(alias)
            candidate = ctx.release.candidate(stage) if ctx.release and desired is not None else None
            pinned = candidate.digest if candidate else None
            traffic = candidate.traffic if candidate and kind == ArmKind.CANARY else None
            state, detail = _sync_state(root, registry, name, alias, desired, now, pinned, versions)
            rows.append(StatusRow(name, alias, desired, now, pinned, state, detail, kind, traffic))
    return StatusFacts(rows, {name: ctx for name, (ctx, _stages) in wanted.items()}, aliases, known, extra)


def _sync_state(
    root: Path,
    registry: Registry,
    name: str,
    alias: str,
    desired: int | None,
    now: int | None,
    pinned: str | None,
    versions: dict[int, ModelVersion],
) -> tuple[SyncState, str]:
    """How one alias (a stage's or a candidate's) compares with release.yaml, and why when it is not synced."""
    if desired is not None and desired not in versions:
        return SyncState.MISSING, ""
    if now != desired:
        if _lagging(root, name, alias, desired, now):
            return SyncState.OUT_OF_SYNC, ""
        moved = version_label(now)
        asked = version_label(desired)
        return SyncState.MOVED_OUT_OF_BAND, f"release.yaml asks for {asked}; the alias was moved to {moved}"
    if desired is not None and pinned is not None:
        found = registry.artifact_digest(name, desired)
        if found.digest != pinned:
            label = f"{name} v{desired}"
            return SyncState.TAMPERED, tampered(
                label, pinned, found, manifest_of(versions[desired].tags), "release.yaml"
            ).message
    return SyncState.SYNCED, ""


def rollback_target(registry: Registry, name: str, stage: str) -> tuple[int | None, int]:
    """(version now in ``stage``, the version it replaced), from the audit history."""
    now = registry.alias_version(name, stage)
    if now is None:
        raise InvalidInput(f"{name} has no version in {stage}: nothing to roll back")
    for record in reversed(audit.history(registry, name, stage)):
        if record.version == now and record.state == audit.RecordState.DONE:
            if record.previous is None:
                break
            return now, record.previous
    raise InvalidInput(
        f"no earlier version of {name} held {stage} (mlgate history {name}): nothing to roll back to",
        hint=f"edit models/{name}/release.yaml by hand to choose a version",
    )


def rollback(root: Path | Workspace, model: str, stage: str) -> dict[str, Any]:
    """Write the version ``stage`` held before into release.yaml; the rollback PR's title and body.

    Nothing moves in the registry: merging the pull request applies the rollback.
    """
    ws = Workspace.of(root)
    root, registry = ws.root, ws.registry
    now, previous = rollback_target(registry, model, stage)
    digest = version_digest(registry, model, previous)
    set_stage(root, model, stage, previous, digest)
    title, body = pr_text(model, stage, now, previous, rollback=True, digest=digest)
    return {"model": model, "stage": stage, "from": now, "to": previous, "title": title, "body": body}


def history(root: Path | Workspace, model: str, stage: str | None = None) -> list[audit.Record]:
    """Every promotion of ``model`` (in ``stage``) the registry's audit log holds, oldest first."""
    return audit.history(Workspace.of(root).registry, model, stage)


# --------------------------------------------------------------------------- promote


@dataclass
class Promotion:
    """What ``promote`` did: the plan (applied or not), its JSON payload, what it posted."""

    mode: str  # plan | apply
    plan: Plan
    payload: dict[str, Any]
    posted: dict[str, str] = field(default_factory=dict)  # comment-url, check-run-url (--post)
    changes: list[dict[str, Any]] = field(default_factory=list)  # per change: model, stage, version, previous, URI
    hook_error: HookFailed | None = None  # apply: the promotion took effect, a deploy hook did not

    def raise_hook_error(self) -> None:
        """Raise the deploy hooks' failure (exit 3), after the caller has written its outputs."""
        if self.hook_error is not None:
            raise self.hook_error


def _pull_request_of(
    ws: Workspace,
    mode: str,
    pr: int | None,
    read_github: bool,
    warn: Progress,
) -> tuple[int | None, PullRequest | None]:
    """The PR whose reviews count (on apply: named by the merge commit), read from GitHub."""
    named_by = "--pr"
    if mode == "apply" and pr is None:
        pr = pr_from_commit_message(ws.root)
        named_by = "the merge commit's message"
    if not read_github:
        read = f"the reviews of PR #{pr} are" if pr is not None else "GitHub is"
        warn(f"--no-github: {read} not read; approvals count as absent")
        return pr, None
    if pr is None:
        return None, None
    if not ws.settings.github_token:
        raise InvalidInput(
            f"PR #{pr} (named by {named_by}): reading its approvals needs a GitHub token, and GITHUB_TOKEN is not set",
            hint="set GITHUB_TOKEN (and GITHUB_REPOSITORY), or pass --no-github: approvals then count as absent",
        )
    return pr, fetch_pull_request(pr, ws.github, ws.teams)


def promote(
    root: Path | Workspace,
    *,
    mode: str,
    base: str | None = None,
    pr: int | None = None,
    post: bool = False,
    read_github: bool = True,
    actor: str | None = None,
    hooks: Hooks | None = None,
    markdown_path: Path | None = None,
    progress: Progress = lambda _m: None,
    warn: Progress = lambda _m: None,
) -> Promotion:
    """Plan (``mode="plan"``, on a PR) or apply (``mode="apply"``, after the merge) every release.yaml.

    Reads the PR's reviews from GitHub unless ``read_github`` is False (approvals then count as
    absent); with ``post``, upserts the plan comment on ``pr`` and a check run on its head; with
    ``markdown_path``, also writes the plan there as Markdown; ``warn`` hears what is left out
    (approvals not read) before anything runs. An apply that is not allowed
    raises :class:`~mlgate.exceptions.Blocked`; a plan that is not allowed is returned (``plan.ok``).
    ``hooks`` adds deploy hooks to what each policy's ``promotion.notify`` asks for (apply only);
    their failure is returned as ``hook_error`` so the caller writes its outputs first.
    """
    if mode not in ("plan", "apply"):
        raise InvalidInput(f"promote mode must be 'plan' or 'apply', not {mode!r}")
    ws = Workspace.of(root)
    root, registry = ws.root, ws.registry
    pr, pull = _pull_request_of(ws, mode, pr, read_github, warn)
    posted: dict[str, str] = {}
    hook_error = None
    if mode == "plan":
        plan = make_plan(root, registry, policy_ref=base, pull=pull, progress=progress)
        payload = plan.as_dict()
        if post:
            posted = payload["posted"] = publish(payload, pr, pull.head_sha if pull else None, ws.github)
        changes = [
            {k: c[k] for k in ("model", "stage", "arm", "desired", "previous", "model_uri", "action")}
            for c in payload["changes"]
        ]
        changes = [{"version": c.pop("desired"), **c} for c in changes]
    else:
        applied = apply(root, registry, pull=pull, actor=actor, hooks=hooks, progress=progress, workspace=ws)
        plan, payload, changes = applied.plan, applied.as_dict(), applied.deployed
        if applied.hooks.errors:
            hook_error = HookFailed(
                f"promotion done: the registry moved and its audit records are complete, but "
                f"{len(applied.hooks.errors)} deploy hook(s) failed: " + "; ".join(applied.hooks.errors)
            )
    if not read_github:
        payload["github"] = {"read": False, "pr": pr, "approvals": "counted as absent (--no-github)"}
    if markdown_path:
        markdown_path.write_text(mask_secrets(markdown(payload)), encoding="utf-8")
    return Promotion(mode=mode, plan=plan, payload=payload, posted=posted, changes=changes, hook_error=hook_error)
