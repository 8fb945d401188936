"""Merge to promote, against a real `mlflow server` over HTTP and the local GitHub API server.

Each test registers its own model (the insurance example renamed) on the session's server, so
tests never see each other's aliases. Two versions are trained from two commits and gated
(verdicts recorded on the versions), as the propose workflow leaves them.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import (
    checkout_state,
    commit_all,
    copy_repo,
    dirty,
    git,
    github_stand_in,
    head,
    invoke,
    rename_model,
    start_mlflow_server,
    stop_mlflow_server,
)
from mlgate.exceptions import Blocked, RegistryUnavailable
from mlgate.gates import run_gates
from mlgate.github import Action, GitHub, TagResult
from mlgate.promotion import (
    ChangeOutcome,
    Check,
    Hooks,
    PullRequest,
    apply,
    fetch_pull_request,
    gto_view,
    make_plan,
)
from mlgate.registry import Registry, audit
from mlgate.training import train
from mlgate_devkit.github_stand_in import FakeGitHub

pytestmark = pytest.mark.server

TOKEN = "ghs_FAKE_promote_token_1234567890abcdef"
REPO = "octo-org/models"
MLGATE = str(Path(sys.executable).parent / "mlgate")
_names = itertools.count(1)


@dataclass
class Promo:
    repo: Path
    name: str
    uri: str

    @property
    def registry(self) -> Registry:
        return Registry(self.repo, self.uri)

    def digest(self, version: int) -> str:
        """The digest of the version's files, as `mlgate propose-promotion` pins it."""
        return self.registry.artifact_digest(self.name, version).digest

    def entry(self, version: int | None) -> str:
        """A stage's value in release.yaml: null, or the version with its pinned digest."""
        if version is None:
            return "null"
        return f'{{version: {version}, digest: "{self.digest(version)}"}}'

    def release(self, **stages: int | None) -> str:
        """Write release.yaml with ``stages`` (each version pinned to its files' digest) and commit it; the commit."""
        lines = [f"model: {self.name}", "stages:"]
        lines += [f"  {stage}: {self.entry(v)}" for stage, v in stages.items()]
        (self.repo / "models" / self.name / "release.yaml").write_text("\n".join(lines) + "\n")
        git("commit", "-q", "-am", f"release {stages}", cwd=self.repo)
        return head(self.repo)

    def alias(self, stage: str) -> int | None:
        return self.registry.alias_version(self.name, stage)

    def records(self) -> list[audit.Record]:
        return audit.history(self.registry, self.name)


TEMPLATE_NAME = "instpl"


@pytest.fixture(scope="module")
def promo_source(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained once per module: v1 and v2 from two commits, both gated, as the PRs left them."""
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("promo") / "repo")
    rename_model(repo, "insurance", TEMPLATE_NAME)
    (repo / "models" / "credit" / "release.yaml").unlink()  # credit is other tests' business
    commit_all(repo, f"the model is called {TEMPLATE_NAME} here")
    for n_estimators in (150, 160):
        params = repo / "params.yaml"
        params.write_text(params.read_text().replace("n_estimators: 150", f"n_estimators: {n_estimators}", 1))
        git("commit", "-q", "--allow-empty", "-am", f"{n_estimators} trees", cwd=repo)
        version = train(repo, TEMPLATE_NAME, tracking_uri=mlflow_server).version
        run_gates(repo, TEMPLATE_NAME, version=version, tracking_uri=mlflow_server)
    return repo


@pytest.fixture
def promo(promo_source: Path, mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Promo:
    """A model of its own on the shared server: the template's versions copied, tags and all."""
    name = f"ins{next(_names)}"
    repo = copy_repo(promo_source, tmp_path / "repo")
    rename_model(repo, TEMPLATE_NAME, name)
    commit_all(repo, f"the model is called {name} here")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.chdir(repo)
    client = Registry(repo, mlflow_server).client
    for version in (1, 2):
        client.copy_model_version(f"models:/{TEMPLATE_NAME}/{version}", name)
    return Promo(repo, name, mlflow_server)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.delenv("MLGATE_ORG_TOKEN", raising=False)
    with github_stand_in(monkeypatch, TOKEN, REPO) as fake:
        fake.grant("risk-officer", "write")  # the policy's production approver can push
        yield fake


def approved_pr(
    github: FakeGitHub, number: int, head_sha: str, *reviewers: str, author: str = "data-scientist"
) -> PullRequest:
    github.set_pull(number, author=author, head_sha=head_sha)
    for i, login in enumerate(reviewers):
        github.add_review(
            number, login=login, commit_id=head_sha, association="MEMBER", submitted_at=f"2026-01-01T10:0{i}:00Z"
        )
    return fetch_pull_request(number, GitHub())


def promote_to_production(promo: Promo, github: FakeGitHub, version: int, pr: int) -> None:
    """staging then production for ``version``, approved by the policy's approver."""
    promo.release(staging=version, production=None if promo.alias("production") is None else promo.alias("production"))
    apply(promo.repo, promo.registry, pull=None, actor="ci")
    sha = promo.release(staging=version, production=version)
    apply(promo.repo, promo.registry, pull=approved_pr(github, pr, sha, "risk-officer"), actor="merger")


# --------------------------------------------------------------------------- plan


def test_plan_shows_current_to_desired_and_what_is_missing(
    promo: Promo, github: FakeGitHub, cli: CliRunner, tmp_path: Path
) -> None:
    base = head(promo.repo)
    sha = promo.release(staging=None, production=1)
    github.set_pull(5, author="data-scientist", head_sha=sha)
    github.add_review(5, login="data-scientist", commit_id=sha, association="OWNER")  # own approval
    github.add_review(5, login="intern", commit_id=sha, association="MEMBER", submitted_at="2026-01-01T10:01:00Z")
    out = tmp_path / "plan.json"
    result = invoke(cli, "promote", "--plan", "--base", base, "--pr", "5", "--post", "--json", str(out), cwd=promo.repo)
    assert result.exit_code == 1, result.output
    plan = json.loads(out.read_text())
    [change] = plan["changes"]
    assert (change["model"], change["stage"], change["current"], change["desired"]) == (
        promo.name,
        "production",
        None,
        1,
    )
    checks = {c["check"]: c for c in change["checks"]}
    assert checks["exists"]["ok"]
    assert checks["not archived"]["ok"]
    assert checks["gates"]["ok"], checks["gates"]
    assert checks["gates"]["detail"].startswith("gates run by the promotion")  # never read from tags
    assert checks["lineage"]["ok"], checks["lineage"]
    assert "which the base branch holds" in checks["lineage"]["detail"]
    assert not checks["stage order"]["ok"]  # never in staging
    assert "must be in staging before production" in checks["stage order"]["detail"]
    assert not checks["approvals"]["ok"]
    assert "0/1" in checks["approvals"]["detail"]
    assert "author cannot approve" in checks["approvals"]["detail"]
    assert "intern: not an approver for production" in checks["approvals"]["detail"]
    # posted: one sticky comment with the table, and a failed check run on the PR head
    [comment] = github.comments[5]
    assert comment["body"].startswith("❌ **promotion blocked**")
    assert f"| `{promo.name}` | production | — → **v1** |" in comment["body"]
    [check] = github.check_runs.values()
    assert (check["public"]["name"], check["public"]["conclusion"], check["public"]["head_sha"]) == (
        "mlgate / promotion",
        "failure",
        sha,
    )
    # nothing was written to the registry by a plan
    assert promo.alias("production") is None
    assert promo.records() == []


def version_tags(promo: Promo) -> dict[int, dict[str, str]]:
    return {int(v.version): dict(v.tags) for v in promo.registry.versions(promo.name)}


def test_a_plan_runs_the_gates_itself_and_writes_nothing(promo: Promo) -> None:
    policy = promo.repo / "policies" / "default.yaml"
    policy.write_text(policy.read_text().replace("min: 0.75", "min: 0.70", 1))  # the policy moved on
    promo.release(staging=2, production=None)
    before = version_tags(promo)
    plan = make_plan(promo.repo, promo.registry)
    [change] = plan.changes
    gates = next(c for c in change.checks if c.name == "gates")
    assert gates.ok, gates.detail
    assert gates.detail.startswith("gates run by the promotion"), gates.detail
    assert change.verdict is not None
    assert change.verdict.policy["sha256"] != before[2]["mlgate.policy.sha256"]
    assert version_tags(promo) == before  # no verdict attached, no tag touched
    assert promo.records() == []


FORGED = {
    "mlgate.gates.status": "pass",
    "mlgate.gates.performance": "pass",
    "mlgate.gates.fairness": "pass",
    "mlgate.gates.integrity": "pass",
    "mlgate.gates.documentation": "pass",
}


def test_forged_gate_tags_do_not_promote_a_blocked_version(promo: Promo) -> None:
    """Any job with registry credentials can write tags: a plan that read them promoted this."""
    policy = promo.repo / "policies" / "default.yaml"
    policy.write_text(policy.read_text().replace("min: 0.75", "min: 0.99", 1))  # r2 >= 0.99: v1 fails
    git("commit", "-q", "-am", "stricter r2 floor", cwd=promo.repo)
    forged = FORGED | {
        "mlgate.gates": json.dumps(
            {"status": "pass", "families": dict.fromkeys(("performance", "integrity", "documentation"), "pass")}
        ),
        "mlgate.gates.policy.sha256": make_plan.__module__,  # anything: tags are not read
    }
    promo.registry.set_version_tags(promo.name, 1, forged)
    promo.release(staging=1, production=None)
    before = version_tags(promo)
    with pytest.raises(Blocked, match=r"gates: gates run by the promotion: performance=fail"):
        apply(promo.repo, promo.registry, pull=None)
    assert promo.alias("staging") is None
    assert promo.records() == []
    assert version_tags(promo) == before


def _train_on_branch(promo: Promo, trees: int, *, merge: str | None = None, commit: bool = True) -> int:
    """Retrain with ``trees`` on a branch; back on main, optionally squash-merge the branch."""
    git("checkout", "-q", "-b", f"tune-{trees}", cwd=promo.repo)
    params = promo.repo / "params.yaml"
    params.write_text(params.read_text().replace("n_estimators: 160", f"n_estimators: {trees}", 1))
    if commit:
        git("commit", "-q", "-am", f"{trees} trees", cwd=promo.repo)
    version = train(promo.repo, promo.name, tracking_uri=promo.uri).version
    if not commit:
        git("checkout", "-q", "--", "params.yaml", cwd=promo.repo)
    git("checkout", "-q", "main", cwd=promo.repo)
    if merge == "squash":
        git("merge", "-q", "--squash", f"tune-{trees}", cwd=promo.repo)
        git("commit", "-q", "-m", f"{trees} trees (#9)", cwd=promo.repo)
    return version


def _lineage(promo: Promo) -> Check:
    [change] = make_plan(promo.repo, promo.registry).changes
    return next(c for c in change.checks if c.name == "lineage")


def test_a_version_trained_on_an_unmerged_branch_is_refused(promo: Promo) -> None:
    version = _train_on_branch(promo, 170)
    promo.release(staging=version, production=None)
    lineage = _lineage(promo)
    assert not lineage.ok
    assert "which the base branch" in lineage.detail
    assert "merge the change that trained it first" in lineage.detail
    with pytest.raises(Blocked, match="lineage"):
        apply(promo.repo, promo.registry, pull=None)
    assert promo.alias("staging") is None


def test_a_squash_merged_version_is_accepted(promo: Promo) -> None:
    version = _train_on_branch(promo, 170, merge="squash")
    promo.release(staging=version, production=None)
    lineage = _lineage(promo)
    assert lineage.ok, lineage.detail
    assert "(squash merge)" in lineage.detail
    apply(promo.repo, promo.registry, pull=None)
    assert promo.alias("staging") == version
    [record] = promo.records()
    assert record.verdict_status in ("pass", "warn")
    assert len(record.verdict_sha256) == 64


def test_a_version_trained_from_a_dirty_tree_is_refused(promo: Promo) -> None:
    version = _train_on_branch(promo, 175, commit=False)
    promo.release(staging=version, production=None)
    lineage = _lineage(promo)
    assert not lineage.ok
    assert "uncommitted changes" in lineage.detail


def test_a_version_without_mlgate_lineage_is_refused(promo: Promo) -> None:
    for key in [k for k in version_tags(promo)[1] if k.startswith("mlgate.")]:
        promo.registry.delete_version_tag(promo.name, 1, key)
    promo.release(staging=1, production=None)
    lineage = _lineage(promo)
    assert not lineage.ok
    assert "has no mlgate lineage" in lineage.detail


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("case", ["unknown version", "unknown stage", "release without spec"])
def test_bad_release_exits_2_and_leaves_the_registry_untouched(promo: Promo, cli: CliRunner, case: str) -> None:
    release = promo.repo / "models" / promo.name / "release.yaml"
    if case == "unknown version":
        release.write_text(f"model: {promo.name}\nstages:\n  staging: 9\n")
        expected = f"asks for {promo.name} v9, which is not registered (registered: 1, 2)"
    elif case == "unknown stage":
        release.write_text(f"model: {promo.name}\nstages:\n  canary: 1\n")
        expected = f"models/{promo.name}/release.yaml:3:3: stages -> canary: stage 'canary' is not defined"
    else:
        ghost = promo.repo / "models" / "ghost"
        ghost.mkdir()
        (ghost / "release.yaml").write_text("model: ghost\nstages:\n  staging: 1\n")
        release.write_text(f"model: {promo.name}\nstages:\n  staging: 1\n")
        expected = "release.yaml without a model spec: models/ghost/release.yaml"
    git("add", "-A", cwd=promo.repo)
    git("commit", "-q", "-m", case, cwd=promo.repo)
    result = invoke(cli, "promote", "--apply", cwd=promo.repo)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert promo.alias("staging") is None
    assert promo.records() == []
    for version in (1, 2):
        assert "mlgate.promoted_by" not in promo.registry.version(promo.name, version).tags


# --------------------------------------------------------------------------- apply


def test_apply_promotes_archives_tags_and_audits_then_is_idempotent(
    promo: Promo, github: FakeGitHub, cli: CliRunner, tmp_path: Path
) -> None:
    promote_to_production(promo, github, 1, pr=7)
    assert (promo.alias("staging"), promo.alias("production"), promo.alias("champion")) == (1, 1, 1)
    promo.release(staging=2, production=1)
    apply(promo.repo, promo.registry, pull=None)  # v2 into staging first: the stage order
    sha = promo.release(staging=2, production=2)
    github.set_pull(8, author="data-scientist", head_sha=sha)
    github.add_review(8, login="risk-officer", commit_id=sha, association="MEMBER")
    git("commit", "-q", "--allow-empty", "-m", "Merge pull request #8 from acme/promote-v2", cwd=promo.repo)
    merge = head(promo.repo)

    out = tmp_path / "apply.json"
    result = invoke(cli, "promote", "--apply", "--json", str(out), cwd=promo.repo)  # PR #8 from the message
    assert result.exit_code == 0, result.output
    applied = json.loads(out.read_text())
    assert [(c["stage"], c["current"], c["desired"], c["outcome"]) for c in applied["changes"]] == [
        ("production", 1, 2, "applied"),
    ]
    assert (promo.alias("staging"), promo.alias("production"), promo.alias("champion")) == (2, 2, 2)
    v1, v2 = promo.registry.version(promo.name, 1), promo.registry.version(promo.name, 2)
    assert v2.current_stage == "Production"  # legacy stage, where the server has them
    assert v1.current_stage == "Archived"
    assert v1.tags["mlgate.archived"] == "true"
    assert v2.tags["mlgate.commit"] == merge
    assert v2.tags["mlgate.pr"] == "8"
    assert v2.tags["mlgate.approvers"] == "risk-officer"
    assert v2.tags["mlgate.promoted_by"]
    assert v2.tags["mlgate.promoted_at"].endswith("Z")
    records = promo.records()
    assert [(r.stage, r.previous, r.version, r.state) for r in records] == [
        ("staging", None, 1, "done"),
        ("production", None, 1, "done"),
        ("staging", 1, 2, "done"),
        ("production", 1, 2, "done"),
    ]
    assert records[-1].approvers == ["risk-officer"]
    assert (records[-1].pr, records[-1].commit) == (8, merge)
    # each record carries the digest of the files its gates loaded: what release.yaml pinned
    assert [r.digest for r in records] == [promo.digest(r.version) for r in records]
    assert promo.digest(1) != promo.digest(2)

    # a second apply changes nothing and writes no second record
    result = invoke(cli, "promote", "--apply", "--json", str(out), cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["changes"] == []
    assert len(promo.records()) == 4

    # history, from the audit records
    result = invoke(cli, "history", promo.name, "--json", str(out), cwd=promo.repo)
    assert result.exit_code == 0
    rows = json.loads(out.read_text())
    assert [(r["stage"], r["version"], r["pr"]) for r in rows][-1] == ("production", 2, 8)
    assert "risk-officer" in result.output


def _rename_stage(promo: Promo, old: str, new: str) -> None:
    """The policy's stage ``old`` called ``new`` (its definition and the order), committed."""
    base = promo.repo / "policies" / "base.yaml"
    text = base.read_text()
    order = "order: [staging, production]"
    for before, after in (
        (f"    {old}:\n      require_gates", f"    {new}:\n      require_gates"),
        (order, order.replace(old, new)),
    ):
        assert text.count(before) == 1, before
        text = text.replace(before, after)
    base.write_text(text)
    commit_all(promo.repo, f"the stage {old} is called {new}")


def test_the_champion_alias_follows_the_policys_last_stage(promo: Promo, github: FakeGitHub) -> None:
    """A policy whose order ends in ``prod``: promoting into ``prod`` moves ``champion``; staging does not."""
    _rename_stage(promo, "production", "prod")
    promo.release(staging=1, prod=None)
    apply(promo.repo, promo.registry, pull=None, actor="ci")
    assert (promo.alias("staging"), promo.alias("prod"), promo.alias("champion")) == (1, None, None)
    sha = promo.release(staging=1, prod=1)
    apply(promo.repo, promo.registry, pull=approved_pr(github, 21, sha, "risk-officer"), actor="merger")
    assert (promo.alias("prod"), promo.alias("champion"), promo.alias("production")) == (1, 1, None)
    promo.release(staging=1, prod=None)  # emptying the champion stage empties champion too
    apply(promo.repo, promo.registry, pull=approved_pr(github, 22, head(promo.repo), "risk-officer"))
    assert (promo.alias("prod"), promo.alias("champion")) == (None, None)


@pytest.mark.parametrize("reserved", ["latest", "v2"])
def test_a_stage_mlflow_reserves_is_refused_before_any_record(promo: Promo, cli: CliRunner, reserved: str) -> None:
    """An alias MLflow refuses used to crash apply (exit 70) after writing a ``started`` record: now exit 2 first."""
    _rename_stage(promo, "staging", reserved)
    before = {v: promo.registry.version(promo.name, v).tags for v in (1, 2)}
    promo.release(**{reserved: 1, "production": None})
    result = invoke(cli, "promote", "--apply", cwd=promo.repo)
    assert result.exit_code == 2, result.output
    assert f"policies/base.yaml:33:5: promotion -> stages -> {reserved}: stage name '{reserved}' is reserved" in (
        result.output
    )
    assert promo.records() == []  # no audit record, started or otherwise
    assert promo.registry.aliases([promo.name]) == {promo.name: {}}  # no alias moved
    assert {v: promo.registry.version(promo.name, v).tags for v in (1, 2)} == before


def test_apply_refuses_a_merge_that_bypassed_review(promo: Promo, cli: CliRunner) -> None:
    promo.release(staging=1, production=None)
    assert invoke(cli, "promote", "--apply", cwd=promo.repo).exit_code == 0  # staging needs no approval
    promo.release(staging=1, production=1)  # pushed straight to main: no PR, no review
    result = invoke(cli, "promote", "--apply", cwd=promo.repo)
    assert result.exit_code == 1, result.output
    assert "production needs 1 approval(s) on a pull request" in result.output
    assert promo.alias("production") is None
    assert len(promo.records()) == 1


def test_stale_approval_and_unlisted_approver_do_not_count(promo: Promo, github: FakeGitHub) -> None:
    promo.release(staging=1, production=None)
    apply(promo.repo, promo.registry, pull=None)
    old = head(promo.repo)
    sha = promo.release(staging=1, production=1)
    github.set_pull(9, author="data-scientist", head_sha=sha)
    github.add_review(9, login="risk-officer", commit_id=old, association="MEMBER")  # an older head
    github.add_review(9, login="someone", commit_id=sha, association="MEMBER", submitted_at="2026-01-01T11:00:00Z")
    with pytest.raises(Blocked) as err:
        apply(promo.repo, promo.registry, pull=fetch_pull_request(9, GitHub()))
    assert "risk-officer: approved an older commit" in str(err.value)
    assert "someone: not an approver for production" in str(err.value)
    assert promo.alias("production") is None


def test_approvals_count_from_accounts_that_can_push_and_from_the_policys_teams(
    promo: Promo, github: FakeGitHub
) -> None:
    """production: users [risk-officer], teams [acme/model-risk] (policies/base.yaml), as governance counts them."""
    promo.release(staging=1, production=None)
    apply(promo.repo, promo.registry, pull=None)
    sha = promo.release(staging=1, production=1)
    github.set_pull(10, author="data-scientist", head_sha=sha)
    github.add_team_member("acme/model-risk", "reader")
    github.grant("reader", "read")  # in the team, but cannot push
    github.user_ids["risk-officer"] = 77_000_001  # the login now names another account than the reviewer's
    for minute, (login, user_id) in enumerate((("reader", None), ("risk-officer", 66_000_002))):
        github.add_review(
            10,
            login=login,
            user_id=user_id,
            commit_id=sha,
            association="MEMBER",
            submitted_at=f"2026-01-01T10:0{minute}:00Z",
        )
    with pytest.raises(Blocked) as err:
        apply(promo.repo, promo.registry, pull=fetch_pull_request(10, GitHub()))
    assert "0/1 from nobody" in str(err.value)
    assert "reader: has no write access (read)" in str(err.value)
    assert "risk-officer: the login risk-officer names another account now" in str(err.value)
    assert promo.alias("production") is None

    github.add_team_member("acme/model-risk", "ana.lima")
    github.grant("ana.lima", "write")
    review = github.add_review(
        10, login="ana.lima", commit_id=sha, association="MEMBER", submitted_at="2026-01-01T11:00:00Z"
    )
    result = apply(promo.repo, promo.registry, pull=fetch_pull_request(10, GitHub()))
    [change] = result.as_dict()["changes"]
    assert (change["stage"], change["approvers"]) == ("production", ["ana.lima"])
    assert change["approvals"] == [
        {"login": "ana.lima", "user_id": github.user_id("ana.lima"), "review_id": review["id"]}
    ]
    assert promo.alias("production") == 1
    asked = [r["path"] for r in github.requests if "/memberships/" in r["path"]]
    assert "/orgs/acme/teams/model-risk/memberships/ana.lima" in asked


@pytest.mark.parametrize("case", ["untracked", "ignored", "dirty", "deleted"])
def test_apply_reads_desired_state_only_from_the_commit(promo: Promo, cli: CliRunner, case: str) -> None:
    """A release.yaml the commit does not hold never promotes: exit 2 naming it, the registry untouched."""
    rel = f"models/{promo.name}/release.yaml"
    release = promo.repo / rel
    asks = f"model: {promo.name}\nstages:\n  staging: 1\n"
    if case in ("untracked", "ignored"):
        git("rm", "-q", "--cached", rel, cwd=promo.repo)
        if case == "ignored":
            (promo.repo / ".gitignore").write_text((promo.repo / ".gitignore").read_text() + "release.yaml\n")
            git("add", ".gitignore", cwd=promo.repo)
        git("commit", "-q", "-m", "no release in git", cwd=promo.repo)
        release.write_text(asks)
        expected = f"{rel} is not committed (untracked or ignored)"
    elif case == "dirty":
        release.write_text(asks)
        expected = f"{rel} has uncommitted changes"
    else:
        promo.release(staging=1, production=None)
        apply(promo.repo, promo.registry, pull=None)
        release.unlink()
        expected = f"{rel} is deleted in the working tree"
    before = (promo.alias("staging"), len(promo.records()))
    result = invoke(cli, "promote", "--apply", "--no-github", cwd=promo.repo)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert f"reads desired state only from the commit it records ({head(promo.repo)[:12]})" in result.output
    assert "commit the release.yaml change" in result.output
    assert (promo.alias("staging"), len(promo.records())) == before


def test_status_shows_synced_out_of_sync_and_missing(promo: Promo, cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "status.json"
    promo.release(staging=1, production=None)
    result = invoke(cli, "status", "--check", "--json", str(out), cwd=promo.repo)
    assert result.exit_code == 1
    assert [(r["stage"], r["desired"], r["actual"], r["status"]) for r in json.loads(out.read_text())] == [
        ("staging", 1, None, "OutOfSync"),
        ("production", None, None, "Synced"),
    ]
    apply(promo.repo, promo.registry, pull=None)
    result = invoke(cli, "status", "--check", "--json", str(out), cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert {r["status"] for r in json.loads(out.read_text())} == {"Synced"}
    (promo.repo / "models" / promo.name / "release.yaml").write_text(f"model: {promo.name}\nstages:\n  staging: 7\n")
    result = invoke(cli, "status", "--json", str(out), cwd=promo.repo)
    assert result.exit_code == 0  # without --check it only reports
    assert json.loads(out.read_text())[0]["status"] == "Missing"
    assert "Missing" in result.output


# --------------------------------------------------------------------------- rollback


def test_rollback_and_revert_move_the_aliases_back(
    promo: Promo, github: FakeGitHub, cli: CliRunner, tmp_path: Path
) -> None:
    promote_to_production(promo, github, 1, pr=11)
    promo.release(staging=2, production=1)
    apply(promo.repo, promo.registry, pull=None)
    sha = promo.release(staging=2, production=2)
    apply(promo.repo, promo.registry, pull=approved_pr(github, 12, sha, "risk-officer"))
    assert promo.alias("production") == 2

    # git revert of the promotion commit, then apply: v1 (archived, but it held production) returns
    git("revert", "--no-edit", sha, cwd=promo.repo)
    revert = head(promo.repo)
    apply(promo.repo, promo.registry, pull=approved_pr(github, 13, revert, "risk-officer"))
    assert (promo.alias("production"), promo.alias("champion")) == (1, 1)
    assert "mlgate.archived" not in promo.registry.version(promo.name, 1).tags  # un-archived
    assert promo.alias("staging") == 2  # untouched by the revert of the production change

    # `mlgate rollback` writes the version production held before into release.yaml
    out = tmp_path / "rollback.json"
    promo.release(staging=2, production=2)
    apply(promo.repo, promo.registry, pull=approved_pr(github, 14, head(promo.repo), "risk-officer"))
    result = invoke(cli, "rollback", promo.name, "--stage", "production", "--json", str(out), cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["to"] == 1
    pinned = f'production: {{version: 1, digest: "{promo.digest(1)}"}}'  # pinned: a rollback PR's plan needs it
    assert pinned in (promo.repo / "models" / promo.name / "release.yaml").read_text()
    assert "Roll back" in result.output


def test_rollback_without_history_is_invalid_input(promo: Promo, cli: CliRunner) -> None:
    result = invoke(cli, "rollback", promo.name, "--stage", "production", cwd=promo.repo)
    assert result.exit_code == 2
    assert "has no version in production" in result.output


# --------------------------------------------------------------------------- concurrency


def test_two_applies_racing_promote_once(promo: Promo) -> None:
    promo.release(staging=2, production=None)
    procs = [
        subprocess.Popen(
            [MLGATE, "promote", "--apply", "--actor", f"runner-{i}"],
            cwd=promo.repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert promo.alias("staging") == 2
    done = [r for r in promo.records() if r.state == "done"]
    assert [(r.stage, r.version) for r in done] == [("staging", 2)], outputs


def test_an_older_commit_never_overwrites_a_newer_promotion(promo: Promo, tmp_path: Path) -> None:
    older = promo.release(staging=1, production=None)
    stale = tmp_path / "stale"  # a runner still on the older merge commit
    git("clone", "-q", str(promo.repo), str(stale), cwd=tmp_path)
    promo.release(staging=2, production=None)
    apply(promo.repo, promo.registry, pull=None)
    assert promo.alias("staging") == 2
    git("checkout", "-q", older, cwd=stale)
    result = apply(stale, Registry(stale, promo.uri), pull=None)
    [change] = result.plan.changes
    assert change.outcome == ChangeOutcome.SUPERSEDED, change.outcome_text
    assert change.outcome_reason.startswith("v2 was promoted by"), change.outcome_reason
    assert change.as_dict()["outcome"] == f"superseded: {change.outcome_reason}"  # the JSON as before
    assert promo.alias("staging") == 2
    assert len(promo.records()) == 1


# --------------------------------------------------------------------------- propose


def test_propose_promotion_keeps_comments_and_order(promo: Promo, cli: CliRunner, tmp_path: Path) -> None:
    release = promo.repo / "models" / promo.name / "release.yaml"
    release.write_text(
        f"# risk team: production needs two eyes\nmodel: {promo.name}\nstages:\n  staging: null\n  production: null\n"
    )
    git("commit", "-qam", "a release with a comment", cwd=promo.repo)
    before = release.read_text()
    out = tmp_path / "proposal.json"
    args = ("propose-promotion", promo.name, "--version", "2", "--stage", "staging", "--json", str(out))
    result = invoke(cli, *args, cwd=promo.repo)
    assert result.exit_code == 0, result.output
    after = release.read_text()
    pinned = f'staging: {{version: 2, digest: "{promo.digest(2)}"}}'  # the files' digest, from its own download
    assert after == before.replace("staging: null", pinned)  # one line changes; comment kept
    proposal = json.loads(out.read_text())
    assert proposal["title"] == f"Promote {promo.name} to v2 in staging"
    assert proposal["digest"] == promo.digest(2)
    assert "release.yaml" in proposal["body"]
    result = invoke(cli, "propose-promotion", promo.name, "--version", "2", "--stage", "canary", cwd=promo.repo)
    assert result.exit_code == 2
    assert "stage 'canary' is not defined" in result.output
    result = invoke(cli, "propose-promotion", promo.name, "--version", "99", "--stage", "staging", cwd=promo.repo)
    assert result.exit_code == 2
    assert f"{promo.name} has no version 99" in result.output


def test_propose_promotion_opens_the_pull_request(
    promo: Promo, github: FakeGitHub, cli: CliRunner, tmp_path: Path
) -> None:
    """Built in a scratch checkout of main: the user's checkout (a feature branch, uncommitted work
    on the very release.yaml it edits) is exactly as it was; a retry opens no second pull request."""
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    git("remote", "add", "origin", str(origin), cwd=promo.repo)
    git("push", "-q", "origin", "main", cwd=promo.repo)
    main = git("rev-parse", "main", cwd=promo.repo).strip()
    git("switch", "-q", "-c", "feature", cwd=promo.repo)
    (promo.repo / "feature.txt").write_text("feature work\n")
    git("add", "feature.txt", cwd=promo.repo)
    git("commit", "-q", "-m", "feature work", cwd=promo.repo)
    release = f"models/{promo.name}/release.yaml"
    dirty(promo.repo, release)
    state = checkout_state(promo.repo)
    out = tmp_path / "proposal.json"
    args = ("propose-promotion", promo.name, "--version", "2", "--stage", "production", "--open-pr")
    result = invoke(cli, *args, "--json", str(out), cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert checkout_state(promo.repo) == state, "branch, HEAD, index and work tree as they were"
    assert git("worktree", "list", "--porcelain", cwd=promo.repo).count("worktree ") == 1
    proposal = json.loads(out.read_text())
    branch = f"promote/{promo.name}-production-v2"
    assert proposal["branch"] == branch
    assert git("rev-parse", f"{branch}~1", cwd=origin).strip() == main, "from main, not from the feature"
    assert git("diff", "--name-only", f"main...{branch}", cwd=origin).split() == [release]
    pushed = git("show", f"{branch}:{release}", cwd=origin)
    assert f'production: {{version: 2, digest: "{promo.digest(2)}"}}' in pushed
    assert "not committed" not in pushed
    [created] = [r for r in github.requests if r["method"] == "POST" and r["path"].endswith("/pulls")]
    assert created["body"]["head"] == branch
    assert created["body"]["title"] == f"Promote {promo.name} to v2 in production"
    assert promo.digest(2) in created["body"]["body"]
    assert proposal["pr_url"]

    again = invoke(cli, *args, "--json", str(out), cwd=promo.repo)  # a retry: nothing pushed, no second PR
    assert again.exit_code == 0, again.output
    assert json.loads(out.read_text())["pr"] == proposal["pr"]
    assert len([r for r in github.requests if r["method"] == "POST" and r["path"].endswith("/pulls")]) == 1
    assert checkout_state(promo.repo) == state


def test_a_proposal_that_fails_midway_leaves_the_checkout_as_it_was(
    promo: Promo, github: FakeGitHub, cli: CliRunner, tmp_path: Path
) -> None:
    """The push is refused after the commit was made in the scratch checkout: exit 3, nothing changed; a retry works."""
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    git("remote", "add", "origin", str(origin), cwd=promo.repo)
    git("remote", "set-url", "--push", "origin", str(tmp_path / "nowhere.git"), cwd=promo.repo)
    dirty(promo.repo, "params.yaml")
    state = checkout_state(promo.repo)
    args = ("propose-promotion", promo.name, "--version", "2", "--stage", "staging", "--open-pr")
    result = invoke(cli, *args, cwd=promo.repo)
    assert result.exit_code == 3, result.output
    assert "push" in result.output
    assert checkout_state(promo.repo) == state
    assert git("worktree", "list", "--porcelain", cwd=promo.repo).count("worktree ") == 1, "scratch removed"
    assert [r for r in github.requests if r["method"] == "POST"] == []
    git("remote", "set-url", "--push", "origin", str(origin), cwd=promo.repo)
    result = invoke(cli, *args, cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert checkout_state(promo.repo) == state
    assert git("ls-remote", "--heads", str(origin), cwd=tmp_path).count("refs/heads/promote/") == 1


def test_registry_outage_exits_3(
    governed_repo: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, refused_port: int
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{refused_port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    result = invoke(cli, "status", cwd=governed_repo)
    assert result.exit_code == 3, result.output
    assert "did not answer" in result.output


def test_registry_dies_mid_apply_then_a_rerun_completes(
    promo_source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server is killed after the audit record is written and before the alias moves: exit 3
    with the reason, the alias untouched, the record 'started'; a re-run completes both."""
    server_dir = tmp_path / "server"
    url, proc = start_mlflow_server(server_dir)  # port 0: the server reports the one it bound
    port = int(url.rsplit(":", 1)[1])
    try:
        repo = copy_repo(promo_source, tmp_path / "repo")
        rename_model(repo, TEMPLATE_NAME, "inskill")
        commit_all(repo, "the model is called inskill here")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
        train(repo, "inskill", tracking_uri=url)
        promo = Promo(repo, "inskill", url)
        promo.release(staging=1)

        def kill_before_the_alias_moves(message: str) -> None:
            if message == "inskill staging: — → v1":  # printed after the audit record, before the move
                stop_mlflow_server(proc, signal.SIGKILL)

        with pytest.raises(RegistryUnavailable) as err:
            apply(repo, Registry(repo, url), pull=None, progress=kill_before_the_alias_moves)
        assert err.value.exit_code == 3
        assert f"MLflow at {url} did not answer after 1 retries" in str(err.value)

        url, proc = start_mlflow_server(server_dir, port)  # the same registry comes back
        assert promo.alias("staging") is None
        [started] = promo.records()
        assert (started.version, started.state) == (1, "started")

        result = apply(repo, Registry(repo, url), pull=None)
        assert [c.outcome for c in result.plan.changes] == ["applied"]
        assert promo.alias("staging") == 1
        [done] = promo.records()
        assert (done.run_id, done.state) == (started.run_id, "done")  # completed, not duplicated
        assert apply(repo, Registry(repo, url), pull=None).plan.changes == []
    finally:
        stop_mlflow_server(proc)


# --------------------------------------------------------------------------- deploy hooks


def outputs(path: Path) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` lines as a dict (the last value of a key wins, as in Actions)."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_apply_outputs_each_change_with_its_model_uri_and_previous_version(
    promo: Promo, cli: CliRunner, tmp_path: Path
) -> None:
    promo.release(staging=1, production=None)
    apply(promo.repo, promo.registry, pull=None)
    sha = promo.release(staging=2, production=None)
    out, json_path = tmp_path / "github_output", tmp_path / "apply.json"
    args = ("promote", "--apply", "--no-github", "--github-output", str(out), "--json", str(json_path))
    result = invoke(cli, *args, cwd=promo.repo)
    assert result.exit_code == 0, result.output
    written = outputs(out)
    assert written["change-count"] == "1"
    [change] = json.loads(written["changes"])
    assert change == {
        "model": promo.name,
        "stage": "staging",
        "arm": "stable",
        "version": 2,
        "previous": 1,
        "model_uri": f"models:/{promo.name}/2",
        "action": "promote",
        "commit": sha,
        "pr": None,
        "key": promo.records()[-1].key,
    }
    assert json.loads(json_path.read_text())["deployed"] == [change]
    # the URI names the version MLflow resolves, not the alias (which moves on)
    assert promo.registry.version(promo.name, 2).run_id

    # a re-run of the same commit moves nothing and still reports what the commit changed
    out.unlink()
    assert invoke(cli, *args, cwd=promo.repo).exit_code == 0
    assert json.loads(outputs(out)["changes"]) == [change]
    assert json.loads(json_path.read_text())["changes"] == []  # nothing planned: already in sync


def test_gto_tags_and_dispatch_are_created_once_per_change(promo: Promo, github: FakeGitHub, cli: CliRunner) -> None:
    first = promo.release(staging=1, production=None)
    assert invoke(cli, "promote", "--apply", "--no-github", "--gto-tags", "--dispatch", cwd=promo.repo).exit_code == 0
    second = promo.release(staging=2, production=None)
    result = invoke(cli, "promote", "--apply", "--no-github", "--gto-tags", "--dispatch", cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert github.refs == {
        f"refs/tags/{promo.name}#staging#1": first,
        f"refs/tags/{promo.name}#staging#2": second,
    }
    assert [d["event_type"] for d in github.dispatches] == ["mlgate-promoted", "mlgate-promoted"]
    payload = github.dispatches[-1]["client_payload"]
    assert len(payload) <= 10  # GitHub's limit, also checked by the stand-in against the OpenAPI maxProperties
    assert (payload["model"], payload["version"], payload["previous"], payload["commit"]) == (promo.name, 2, 1, second)
    assert payload["model_uri"] == f"models:/{promo.name}/2"
    assert promo.records()[-1].dispatched

    # re-running the apply of the same commit duplicates neither the tag nor the event
    result = invoke(cli, "promote", "--apply", "--no-github", "--gto-tags", "--dispatch", cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert len(github.refs) == 2
    assert len(github.dispatches) == 2

    # emptying the stage is GTO's unassignment, counted on from the model's last tag
    third = promo.release(staging=None, production=None)
    assert invoke(cli, "promote", "--apply", "--no-github", "--gto-tags", cwd=promo.repo).exit_code == 0
    assert github.refs[f"refs/tags/{promo.name}#staging!#3"] == third
    assert len(github.dispatches) == 2  # --dispatch not asked for this time, and the policy does not


def test_a_failed_hook_exits_3_keeps_the_promotion_and_a_rerun_completes_it(
    promo: Promo, github: FakeGitHub, cli: CliRunner
) -> None:
    policy = promo.repo / "policies" / "default.yaml"
    policy.write_text(policy.read_text() + "promotion:\n  notify:\n    dispatch: true\n    gto_tags: true\n")
    sha = promo.release(staging=1, production=None)  # the policy switches the hooks on: no flags
    github.fail_next(403, body={"message": "Resource not accessible by integration"}, method="POST")  # the tag
    result = invoke(cli, "promote", "--apply", "--no-github", cwd=promo.repo)
    assert result.exit_code == 3, result.output
    assert "promotion done" in result.output
    assert "contents: write" in result.output  # which permission the job lacks
    assert promo.alias("staging") == 1  # not undone
    assert [r.state for r in promo.records()] == ["done"]
    assert github.refs == {}
    assert len(github.dispatches) == 1  # the other hook ran

    result = invoke(cli, "promote", "--apply", "--no-github", cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert github.refs == {f"refs/tags/{promo.name}#staging#1": sha}
    assert len(github.dispatches) == 1  # already delivered: not sent again
    assert len(promo.records()) == 1


def test_a_tag_already_at_the_merge_commit_is_not_created_again(promo: Promo, github: FakeGitHub) -> None:
    sha = promo.release(staging=1, production=None)
    github.refs[f"refs/tags/{promo.name}#staging#4"] = sha  # an earlier run made it, its answer lost
    result = apply(promo.repo, promo.registry, pull=None, hooks=Hooks(gto_tags=True))
    assert result.hooks.tags == [TagResult(f"{promo.name}#staging#4", sha, Action.EXISTS)]
    assert result.hooks.as_dict()["tags"] == [{"tag": f"{promo.name}#staging#4", "sha": sha, "action": "exists"}]
    assert list(github.refs) == [f"refs/tags/{promo.name}#staging#4"]


# --------------------------------------------------------------------------- readiness before production

READINESS = """\
      readiness:
        checks: [decision, audit_store, monitoring_owner, retraining_trigger, rollback_rehearsed, reviews_scheduled]
"""


def require_readiness(promo: Promo) -> None:
    """The base policy's production stage asks for every readiness check."""
    base = promo.repo / "policies" / "base.yaml"
    text = base.read_text()
    anchor = "        teams: [acme/model-risk]\n"
    assert anchor in text
    base.write_text(text.replace(anchor, anchor + READINESS, 1))


def readiness_of(plan) -> dict[str, Check]:
    [change] = [c for c in plan.changes if c.stage == "production"]
    return {c.name.removeprefix("readiness: "): c for c in change.checks if c.name.startswith("readiness: ")}


def test_readiness_checks_fail_with_what_to_set_then_pass(promo: Promo) -> None:
    require_readiness(promo)
    promo.release(staging=1, production=1)
    found = readiness_of(make_plan(promo.repo, promo.registry))
    assert list(found) == [
        "decision",
        "audit_store",
        "monitoring_owner",
        "retraining_trigger",
        "rollback_rehearsed",
        "reviews_scheduled",
    ]
    assert not any(c.ok for c in found.values()), found
    spec = f"models/{promo.name}/model.yaml"
    assert found["decision"].detail.startswith(f"{spec}: decision: no decision block")
    assert f"{spec}: serving -> audit_url: not set" in found["audit_store"].detail
    assert "'pricing-team' names a group or role" in found["monitoring_owner"].detail
    assert "text a job cannot evaluate" in found["retraining_trigger"].detail
    assert f"no rollback of {promo.name} in staging is on record" in found["rollback_rehearsed"].detail
    assert "no review at day 30, 90, 180" in found["reviews_scheduled"].detail

    # everything the spec can say, and a rollback rehearsed in staging through promote --apply
    path = promo.repo / spec
    text = path.read_text().replace("  owner: pricing-team\n", "  owner: '@jane-doe'\n")
    text = text.replace(
        "  rollback_procedure: revert the promotion PR\n",
        "  rollback_procedure: revert the promotion PR\n"
        "  retrain_when: {metric: mae, max: 3500}\n"
        "  reviews: [30, 90, 180, 365]\n",
    )
    path.write_text(text + "serving:\n  audit_url: postgresql://mlgate@audit-db.internal:5432/decisions\n")
    git("commit", "-qam", "readiness fields", cwd=promo.repo)
    # a forged audit run of a rollback (anyone with registry credentials can write one) proves nothing
    forged = audit.Record(promo.name, "staging", 1, 2, "rollback", "f" * 40, 1, [], "ci", "2026-01-01T00:00:00Z")
    promo.registry.finish_run(promo.registry.create_run(audit.EXPERIMENT, "forged", forged.tags()), {})
    assert any(r.previous == 2 and r.version == 1 and r.state == "done" for r in promo.records())
    found = readiness_of(make_plan(promo.repo, promo.registry))
    assert not found["rollback_rehearsed"].ok, found["rollback_rehearsed"].detail
    commits = []
    for staging in (1, 2, 1):  # v1, v2, then back to v1: a rollback, asked for in git and applied
        commits.append(promo.release(staging=staging, production=None))
        apply(promo.repo, promo.registry, pull=None)
    rollback = promo.records()[-1]
    assert (rollback.previous, rollback.version, rollback.commit) == (2, 1, commits[-1])
    promo.release(staging=1, production=1)
    found = readiness_of(make_plan(promo.repo, promo.registry))
    assert {name: c.ok for name, c in found.items()} == {
        "decision": False,  # the spec's decision block comes from another branch: absent here
        "audit_store": True,
        "monitoring_owner": True,
        "retraining_trigger": True,
        "rollback_rehearsed": True,
        "reviews_scheduled": True,
    }
    assert found["audit_store"].detail.startswith("the service logs to a durable postgresql audit store")
    assert found["monitoring_owner"].detail == "monitoring owner @jane-doe"
    assert found["retraining_trigger"].detail == "retrain when mae > 3500.0"
    assert f"v2 → v1 at {rollback.promoted_at} by commit {commits[-1][:12]}" in found["rollback_rehearsed"].detail
    assert rollback.run_id in found["rollback_rehearsed"].detail
    assert found["reviews_scheduled"].detail == "post-deployment reviews at days 30, 90, 180, 365"


@pytest.mark.parametrize(
    ("block", "ok", "says"),
    [
        ({"threshold": 0.4, "review_band": [0.35, 0.45]}, True, "decision threshold 0.4, review band [0.35, 0.45]"),
        ({"threshold": 0.4}, False, "decision -> review_band: not defined"),
        ({"threshold": "high", "review_band": [0.3, 0.5]}, False, "decision -> threshold: not set to a number"),
        ({"threshold": float("nan"), "review_band": [0.3, 0.5]}, False, "not set to a number"),
    ],
)
def test_readiness_reads_the_decision_block_defensively(
    promo: Promo, block: dict, ok: bool, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``decision`` key is defined on another branch: read as a mapping or attributes, never trusted."""
    from types import SimpleNamespace

    from mlgate.config import Readiness, load_model_context
    from mlgate.promotion import readiness

    ctx = load_model_context(promo.repo, promo.name)
    as_object = SimpleNamespace(**block)
    for value in (block, as_object):
        spec = SimpleNamespace(decision=value, name=promo.name)
        monkeypatch.setattr(ctx, "spec", spec)
        [check] = readiness.checks(ctx, promo.registry, "production", Readiness(checks=["decision"]))
        assert (check.name, check.ok) == ("readiness: decision", ok)
        assert says in check.detail


@pytest.mark.parametrize(
    ("file", "before", "after", "where"),
    [
        (
            "spec",
            "  rollback_procedure: revert the promotion PR\n",
            "  rollback_procedure: revert the promotion PR\n  reviews: [90, 30]\n",
            "monitoring -> reviews -> 1: review days must increase",
        ),
        (
            "spec",
            "  rollback_procedure: revert the promotion PR\n",
            "  rollback_procedure: revert the promotion PR\n  retrain_when: {metric: accuracy_ish, min: 0.7}\n",
            "monitoring -> retrain_when -> metric",
        ),
        (
            "spec",
            "policy: policies/default.yaml\n",
            "policy: policies/default.yaml\nserving:\n  audit_url: sqlite:///audit.db\n",
            "serving -> audit_url: ",
        ),
        (
            "spec",
            "policy: policies/default.yaml\n",
            "policy: policies/default.yaml\nserving:\n  audit_url: postgresql://mlgate:hunter2@db/audit\n",
            "the URL holds a password",
        ),
        (
            "policy",
            "        teams: [acme/model-risk]\n",
            "        teams: [acme/model-risk]\n      readiness:\n        checks: [vibes]\n",
            "promotion -> stages -> production -> readiness -> checks -> 0",
        ),
        (
            "policy",
            "        teams: [acme/model-risk]\n",
            (
                "        teams: [acme/model-risk]\n      readiness:\n"
                "        checks: [rollback_rehearsed]\n        rollback_stage: canary\n"
            ),
            "rollback_stage 'canary' is not a stage",
        ),
    ],
)
def test_malformed_readiness_inputs_exit_2_with_file_line_and_key(
    promo: Promo, cli: CliRunner, file: str, before: str, after: str, where: str
) -> None:
    rel = f"models/{promo.name}/model.yaml" if file == "spec" else "policies/base.yaml"
    path = promo.repo / rel
    assert before in path.read_text()
    path.write_text(path.read_text().replace(before, after, 1))
    result = invoke(cli, "validate", cwd=promo.repo)
    assert result.exit_code == 2, result.output
    located = [line for line in result.output.splitlines() if where in line]
    assert located, result.output
    assert re.search(rf"{re.escape(rel)}:\d+", located[0]), located[0]
    if "password" in where:
        assert "hunter2" not in result.output  # a secret in a spec is named, never echoed


# --------------------------------------------------------------------------- canary and shadow candidates


def release_with(
    promo: Promo,
    stages: dict[str, int | None],
    *,
    canary: dict[str, tuple[int, float]] | None = None,
    shadow: dict[str, int] | None = None,
    message: str = "",
) -> str:
    """Write release.yaml with stages and candidates (each pinned to its files' digest), commit it; the commit."""
    lines = [f"model: {promo.name}", "stages:", *(f"  {s}: {promo.entry(v)}" for s, v in stages.items())]
    if canary:
        lines.append("canary:")
        lines += [f'  {s}: {{version: {v}, digest: "{promo.digest(v)}", traffic: {t}}}' for s, (v, t) in canary.items()]
    if shadow:
        lines.append("shadow:")
        lines += [f'  {s}: {{version: {v}, digest: "{promo.digest(v)}"}}' for s, v in shadow.items()]
    (promo.repo / "models" / promo.name / "release.yaml").write_text("\n".join(lines) + "\n")
    git("commit", "-q", "-am", message or f"release {stages} canary {canary} shadow {shadow}", cwd=promo.repo)
    return head(promo.repo)


def v1_in_production_v2_in_staging(promo: Promo, github: FakeGitHub) -> None:
    """Where a canary starts: production holds v1, v2 has been through staging (the stage order)."""
    promote_to_production(promo, github, 1, pr=7)
    promo.release(staging=2, production=1)
    apply(promo.repo, promo.registry, pull=None)
    assert (promo.alias("staging"), promo.alias("production"), promo.alias("champion")) == (2, 1, 1)


def merged(promo: Promo, github: FakeGitHub, pr: int, sha: str, *reviewers: str) -> str:
    """The PR behind ``sha`` reviewed, and its merge commit (the apply reads the PR from its message)."""
    github.set_pull(pr, author="data-scientist", head_sha=sha)
    for i, login in enumerate(reviewers):
        github.add_review(pr, login=login, commit_id=sha, association="MEMBER", submitted_at=f"2026-01-01T10:0{i}:00Z")
    git("commit", "-q", "--allow-empty", "-m", f"Merge pull request #{pr} from acme/canary", cwd=promo.repo)
    return head(promo.repo)


def arm_rows(rows: list[dict]) -> list[tuple]:
    return [(r["stage"], r["arm"], r["traffic"], r["desired"], r["actual"], r["status"]) for r in rows]


def stored_files(promo: Promo, version: int, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The files of ``version`` in the session server's artifact store (where an attacker would write)."""
    registry = promo.registry
    source = registry.version(promo.name, version).source
    while not source.removeprefix("models:/").startswith("m-"):  # a copied version names the one it copies
        model, number = source.removeprefix("models:/").split("/")
        source = registry.version(model, int(number)).source
    model_id = source.removeprefix("models:/")
    store = tmp_path_factory.getbasetemp()
    # pytest links `mlflow-servercurrent` to the numbered folder: one file, found twice
    found = sorted({p.resolve() for p in store.glob("mlflow-server*/artifacts/**/model.skops") if model_id in p.parts})
    assert len(found) == 1, (model_id, found)
    return found


def test_a_canary_is_planned_applied_audited_and_aborted_without_archiving(
    promo: Promo, github: FakeGitHub, cli: CliRunner, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    v1_in_production_v2_in_staging(promo, github)
    base = head(promo.repo)
    before = len(promo.records())
    sha = release_with(promo, {"staging": 2, "production": 1}, canary={"production": (2, 0.1)})
    github.set_pull(11, author="data-scientist", head_sha=sha)
    github.add_review(11, login="risk-officer", commit_id=sha, association="MEMBER")

    # the plan: the candidate's own change, checked like a version entering production
    out = tmp_path / "plan.json"
    result = invoke(
        cli, "promote", "--plan", "--base", base, "--pr", "11", "--post", "--json", str(out), cwd=promo.repo
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(out.read_text())
    [change] = plan["changes"]
    assert (change["stage"], change["arm"], change["traffic"], change["current"], change["desired"]) == (
        "production-canary",
        "canary",
        0.1,
        None,
        2,
    )
    assert change["archive"] is None
    assert change["digest"] == promo.digest(2)
    checks = {c["check"]: c for c in change["checks"]}
    assert set(checks) == {
        "exists",
        "candidate",
        "not archived",
        "lineage",
        "digest",
        "gates",
        "stage order",
        "approvals",
    }
    assert all(c["ok"] for c in checks.values()), checks
    assert checks["candidate"]["detail"] == (
        "canary at 10% of callers: policies/default.yaml allows a canary beside production (at most 20% of callers)"
    )
    # the candidate requirement: production's own families (the canary block names none), in its order
    families = re.fullmatch(r"gates run by the promotion: (.*)", checks["gates"]["detail"])
    assert families is not None, checks["gates"]
    assert [f.split()[0] for f in families.group(1).split(", ")] == [
        "performance",
        "fairness",
        "drift",
        "integrity",
        "documentation",
    ]
    assert change["verdict"]["stage"] == "production-canary"
    assert sorted(change["verdict"]["families"]) == ["documentation", "drift", "fairness", "integrity", "performance"]
    assert checks["stage order"]["detail"] == "v2 has been in staging"
    assert checks["approvals"]["detail"] == "1/1 from risk-officer"
    [comment] = github.comments[11]
    assert f"| `{promo.name}` | production canary | — → **v2** (10% of callers) | — |" in comment["body"]
    assert promo.alias("production-canary") is None  # a plan writes nothing
    assert len(promo.records()) == before

    # the merge: alias set, audited under the arm alias, GTO tag and dispatch name the arm
    merge = merged(promo, github, 11, sha, "risk-officer")
    args = ("promote", "--apply", "--gto-tags", "--dispatch", "--json", str(out))
    result = invoke(cli, *args, cwd=promo.repo)
    assert result.exit_code == 0, result.output
    applied = json.loads(out.read_text())
    assert [(c["stage"], c["outcome"]) for c in applied["changes"]] == [("production-canary", "applied")]
    aliases = {s: promo.alias(s) for s in ("staging", "production", "champion", "production-canary")}
    assert aliases == {"staging": 2, "production": 1, "champion": 1, "production-canary": 2}
    record = promo.records()[-1]
    assert (record.stage, record.previous, record.version, record.action, record.state) == (
        "production-canary",
        None,
        2,
        "promote",
        "done",
    )
    assert (record.commit, record.pr, record.approvers, record.digest) == (merge, 11, ["risk-officer"], promo.digest(2))
    assert record.verdict_status
    v1, v2 = promo.registry.version(promo.name, 1), promo.registry.version(promo.name, 2)
    assert v2.tags["mlgate.promoted.production-canary.commit"] == merge
    assert v2.tags["mlgate.promoted.production-canary.at"] == record.promoted_at
    assert v2.tags["mlgate.stage"] == "staging"  # the candidate's tags leave the stage's alone
    assert (v1.current_stage, v2.current_stage) == ("Production", "Staging")  # no legacy stage for a candidate
    assert "mlgate.archived" not in v1.tags
    assert "mlgate.archived" not in v2.tags
    [deployed] = applied["deployed"]
    assert (deployed["stage"], deployed["arm"], deployed["version"], deployed["previous"]) == (
        "production-canary",
        "canary",
        2,
        None,
    )
    assert github.refs[f"refs/tags/{promo.name}#production-canary#1"] == merge
    payload = github.dispatches[-1]["client_payload"]
    assert (payload["stage"], payload["arm"], len(payload)) == ("production-canary", "canary", 10)
    # `mlgate gto` reads the candidate's tag like a stage's: the version release.yaml asked for there
    git("tag", f"{promo.name}#production-canary#1", merge, cwd=promo.repo)
    [row] = [a for a in gto_view(promo.repo).artifacts if a.name == promo.name]
    assert row.holds("production-canary") == "v2"

    # idempotent: a re-run changes nothing, writes no record, sends nothing again
    records = len(promo.records())
    result = invoke(cli, *args, cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["changes"] == []
    assert len(promo.records()) == records
    assert len(github.refs) == 1
    assert len(github.dispatches) == 1

    # status: the canary is a row of its own, and its files are checked against its pin
    status_out = tmp_path / "status.json"
    result = invoke(cli, "status", "--check", "--json", str(status_out), cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert arm_rows(json.loads(status_out.read_text())) == [
        ("staging", "stable", None, 2, 2, "Synced"),
        ("production", "stable", None, 1, 1, "Synced"),
        ("production-canary", "canary", 0.1, 2, 2, "Synced"),
    ]
    assert "canary 10%" in result.output
    [stored] = stored_files(promo, 2, tmp_path_factory)
    saved = stored.read_bytes()
    [other] = stored_files(promo, 1, tmp_path_factory)
    stored.write_bytes(other.read_bytes())  # another version's bytes under the canary's number
    try:
        result = invoke(cli, "status", "--check", "--json", str(status_out), cwd=promo.repo)
    finally:
        stored.write_bytes(saved)
    assert result.exit_code == 1
    rows = {r["stage"]: r for r in json.loads(status_out.read_text())}
    assert (rows["production-canary"]["status"], rows["production"]["status"]) == ("Tampered", "Synced")
    assert "model.skops" in rows["production-canary"]["detail"]
    assert rows["staging"]["status"] == "Tampered"  # staging holds v2 too: the same files

    # the alias moved outside a merge is MovedOutOfBand, as a stage's would be
    promo.registry.set_alias(promo.name, "production-canary", 1)
    result = invoke(cli, "status", "--json", str(status_out), cwd=promo.repo)
    rows = {r["stage"]: r for r in json.loads(status_out.read_text())}
    assert rows["production-canary"]["status"] == "MovedOutOfBand"
    promo.registry.set_alias(promo.name, "production-canary", 2)

    # the abort: the canary removed; no gates, no approvals, nothing archived, production as it was
    abort = release_with(promo, {"staging": 2, "production": 1}, message="Abort canary")
    result = invoke(cli, "status", "--json", str(status_out), cwd=promo.repo)
    rows = {r["stage"]: r for r in json.loads(status_out.read_text())}
    assert (rows["production-canary"]["desired"], rows["production-canary"]["status"]) == (None, "OutOfSync")
    done = apply(promo.repo, promo.registry, pull=None)
    [change] = done.plan.changes
    assert (change.stage, change.current, change.desired, change.archive, change.outcome) == (
        "production-canary",
        2,
        None,
        None,
        ChangeOutcome.APPLIED,
    )
    assert [c.name for c in change.checks] == ["candidate removed"]
    assert promo.alias("production-canary") is None
    assert (promo.alias("production"), promo.alias("staging"), promo.alias("champion")) == (1, 2, 1)
    v1, v2 = promo.registry.version(promo.name, 1), promo.registry.version(promo.name, 2)
    assert "mlgate.archived" not in v1.tags
    assert "mlgate.archived" not in v2.tags
    assert (v1.current_stage, v2.current_stage) == ("Production", "Staging")
    record = promo.records()[-1]
    assert (record.stage, record.previous, record.version, record.action, record.commit) == (
        "production-canary",
        2,
        None,
        "demote",
        abort,
    )
    assert apply(promo.repo, promo.registry, pull=None).plan.changes == []  # in sync: nothing left to do
    result = invoke(cli, "status", "--check", "--json", str(status_out), cwd=promo.repo)
    assert result.exit_code == 0, result.output
    assert [r["stage"] for r in json.loads(status_out.read_text())] == ["staging", "production"]


def test_completing_a_canary_promotes_it_archives_the_old_stable_and_keeps_the_new_one(
    promo: Promo, github: FakeGitHub
) -> None:
    v1_in_production_v2_in_staging(promo, github)
    sha = release_with(promo, {"staging": 2, "production": 1}, canary={"production": (2, 0.1)})
    apply(promo.repo, promo.registry, pull=approved_pr(github, 12, sha, "risk-officer"))
    assert promo.alias("production-canary") == 2
    # more traffic on the canary: nothing moves in the registry, but it is the approvers' decision
    base = head(promo.repo)
    sha = release_with(promo, {"staging": 2, "production": 1}, canary={"production": (2, 0.2)})
    for pull, approved in ((None, False), (approved_pr(github, 14, sha, "risk-officer"), True)):
        [change] = make_plan(promo.repo, promo.registry, policy_ref=base, pull=pull).changes
        assert (change.stage, change.current, change.desired, change.traffic, change.outcome) == (
            "production-canary",
            2,
            2,
            0.2,
            ChangeOutcome.PLANNED_TRAFFIC,
        )
        checks = {c.name: c for c in change.checks}
        assert checks["digest"].ok
        assert checks["traffic"].detail == "canary beside production: 10% → 20% of callers"
        assert checks["approvals"].ok is approved
    # the completion PR: production set to the canary's version, the canary removed, in one commit
    sha = release_with(promo, {"staging": 2, "production": 2}, message="Complete canary: production → v2")
    plan = make_plan(promo.repo, promo.registry, pull=approved_pr(github, 13, sha, "risk-officer"))
    assert [(c.stage, c.current, c.desired, c.archive) for c in plan.changes] == [
        ("production", 1, 2, 1),  # the stage first: v2 is never in neither alias
        ("production-canary", 2, None, None),
    ]
    done = apply(promo.repo, promo.registry, pull=approved_pr(github, 13, sha, "risk-officer"))
    assert [(r.stage, r.previous, r.version) for r in done.records] == [
        ("production", 1, 2),
        ("production-canary", 2, None),
    ]
    aliases = {s: promo.alias(s) for s in ("staging", "production", "champion", "production-canary")}
    assert aliases == {"staging": 2, "production": 2, "champion": 2, "production-canary": None}
    v1, v2 = promo.registry.version(promo.name, 1), promo.registry.version(promo.name, 2)
    assert (v1.tags.get("mlgate.archived"), v1.current_stage) == ("true", "Archived")  # the old stable
    assert "mlgate.archived" not in v2.tags  # the canary that became production
    assert v2.current_stage == "Production"
    # re-running the completion's apply: already applied, no new record
    count = len(promo.records())
    again = apply(promo.repo, promo.registry, pull=approved_pr(github, 13, sha, "risk-officer"))
    assert (again.plan.changes, again.records, len(promo.records())) == ([], [], count)


def test_a_candidate_needs_the_gates_and_approvals_its_policy_block_asks_for(promo: Promo, github: FakeGitHub) -> None:
    v1_in_production_v2_in_staging(promo, github)
    # no approval: refused before anything is written
    sha = release_with(promo, {"staging": 2, "production": 1}, shadow={"production": 2})
    records = len(promo.records())
    with pytest.raises(Blocked) as refused:
        apply(promo.repo, promo.registry, pull=None)
    assert refused.value.exit_code == 1
    assert (
        f"{promo.name} production-shadow v2: approvals: production-shadow needs 1 approval(s) on a pull request"
        in refused.value.message
    )
    assert (promo.alias("production-shadow"), len(promo.records())) == (None, records)

    # the policy's canary block over the stage's own settings: no approval for a candidate, but drift
    # must pass, and it cannot (max -1)
    policy = promo.repo / "policies" / "base.yaml"
    text = policy.read_text()
    assert "      canary:\n        max_traffic: 0.2\n" in text
    text = text.replace("      canary:\n", "      canary:\n        approvals: 0\n        require_gates: [drift]\n", 1)
    policy.write_text(text.replace("metric: drifted_share\n      max: 0.3", "metric: drifted_share\n      max: -1", 1))
    git("commit", "-q", "-am", "canary: no approval, drift only (and an impossible drift limit)", cwd=promo.repo)
    plan = make_plan(promo.repo, promo.registry, pull=None)
    [change] = plan.changes
    checks = {c.name: c for c in change.checks}
    assert "approvals" not in checks
    assert not checks["gates"].ok
    assert checks["gates"].detail.startswith("gates run by the promotion: drift=fail (required: drift fail)")
    assert change.verdict is not None
    assert change.verdict.stage == "production-shadow"
    with pytest.raises(Blocked):
        apply(promo.repo, promo.registry, pull=None)
    assert (promo.alias("production-shadow"), len(promo.records())) == (None, records)

    # a drift limit it meets: applied without any approval, as the policy's block says
    policy.write_text(policy.read_text().replace("max: -1", "max: 0.3", 1))
    git("commit", "-q", "-am", "a drift limit the shadow meets", cwd=promo.repo)
    done = apply(promo.repo, promo.registry, pull=None)
    assert [(c.stage, c.arm, c.traffic, c.outcome) for c in done.plan.changes] == [
        ("production-shadow", "shadow", None, ChangeOutcome.APPLIED)
    ]
    assert (promo.alias("production-shadow"), promo.alias("production")) == (2, 1)
    assert promo.records()[-1].commit != sha  # the commit that fixed the drift limit applied it


def test_propose_promotion_writes_a_canary_beside_the_stage(promo: Promo, cli: CliRunner, tmp_path: Path) -> None:
    release = promo.repo / "models" / promo.name / "release.yaml"
    promo.release(staging=2, production=1)
    before = release.read_text()
    out = tmp_path / "proposal.json"
    args = ("propose-promotion", promo.name, "--version", "2", "--stage", "production")
    result = invoke(cli, *args, "--canary", "0.10", "--json", str(out), cwd=promo.repo)
    assert result.exit_code == 0, result.output
    line = f'  production: {{version: 2, digest: "{promo.digest(2)}", traffic: 0.1}}'
    assert release.read_text() == before + "canary:\n" + line + "\n"  # the stages untouched, one entry added
    proposal = json.loads(out.read_text())
    assert proposal["title"] == f"Canary {promo.name} v2 at 10% beside production v1"
    assert (proposal["arm"], proposal["traffic"], proposal["stable"], proposal["previous"]) == ("canary", 0.1, 1, None)
    assert "**canary -> production** v2" in proposal["body"]
    assert "canary beside production (v1): v— → v2 at 10% of callers" in result.output
    # a shadow replaces the canary: one candidate per stage
    result = invoke(cli, *args, "--shadow", "--json", str(out), cwd=promo.repo)
    assert result.exit_code == 0, result.output
    line = f'  production: {{version: 2, digest: "{promo.digest(2)}"}}'
    assert release.read_text() == before + "shadow:\n" + line + "\n"
    assert json.loads(out.read_text())["title"] == f"Shadow {promo.name} v2 beside production v1"
    # refused: more traffic than the policy allows, both kinds, the stable version itself, a stage without a block
    limit = "(promotion.stages.production.canary.max_traffic: 0.2)"
    for version, stage, extra, message in (
        (
            2,
            "production",
            ("--canary", "0.3"),
            f"--canary 0.3 is more than policies/default.yaml allows beside production {limit}",
        ),
        (2, "production", ("--canary", "0.1", "--shadow"), "a candidate is a canary or a shadow, not both"),
        (1, "production", ("--canary", "0.1"), "v1 already holds production: a canary is another version"),
        (1, "staging", ("--shadow",), "policies/default.yaml allows no canary or shadow beside staging"),
    ):
        proposed = ("propose-promotion", promo.name, "--version", str(version), "--stage", stage, *extra)
        result = invoke(cli, *proposed, cwd=promo.repo)
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()), result.output
    assert release.read_text() == before + "shadow:\n" + line + "\n"  # nothing written by a refusal


def test_a_plan_refuses_a_canary_above_the_policys_max_traffic(promo: Promo, cli: CliRunner) -> None:
    promo.release(staging=2, production=1)
    base = head(promo.repo)
    release_with(promo, {"staging": 2, "production": 1}, canary={"production": (2, 0.3)})
    result = invoke(cli, "promote", "--plan", "--base", base, "--no-github", cwd=promo.repo)
    assert result.exit_code == 2, result.output
    assert f"models/{promo.name}/release.yaml:" in result.output
    assert "traffic 0.3 is more than policies/default.yaml allows beside production" in result.output
    assert "promotion.stages.production.canary.max_traffic: 0.2" in result.output
    assert promo.alias("production-canary") is None
