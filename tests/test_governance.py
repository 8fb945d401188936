"""The governance check: red while a PR changes what judges models, until a named approver approves.

Real git repos and DVC; GitHub is the local stand-in that validates every request against
GitHub's OpenAPI description.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PROJECT, dvc, git, github_stand_in, invoke
from mlgate_devkit.github_stand_in import FakeGitHub

TOKEN = "ghs_FAKE_governance_token_000000000000"
REPO = "octo-org/models"
PR = 12
CREDIT = "models/credit/model.yaml"
GOVERNANCE_APPROVERS = "governance:\n  approvals: 1\n  approvers:\n    users: [risk-officer]"
WRITERS = ("risk-officer", "ana.lima", "mallory")  # accounts that can push (the stand-in's others cannot)
AGE = '  - name: age\n    bins: [0, 25, 120]\n    labels: ["under 25", "25 and over"]\n'


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.delenv("MLGATE_ORG_TOKEN", raising=False)
    with github_stand_in(monkeypatch, TOKEN, REPO) as fake:
        for login in WRITERS:
            fake.grant(login, "write")
        yield fake


def replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(repo: Path) -> None:
        path = repo / rel
        assert old in path.read_text(), (rel, old)
        path.write_text(path.read_text().replace(old, new, 1))

    return edit


def write(rel: str, text: str) -> Callable[[Path], None]:
    def edit(repo: Path) -> None:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)

    return edit


def commit(repo: Path, edit: Callable[[Path], None], message: str = "change") -> str:
    edit(repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def branch(repo: Path, edit: Callable[[Path], None]) -> tuple[str, str]:
    """(base, head): a PR branch with one commit that applies ``edit``."""
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    git("switch", "-q", "-c", "pr", cwd=repo)
    return base, commit(repo, edit)


def run(
    cli: CliRunner, repo: Path, base: str, head: str, tmp_path: Path, *extra: str, command: str = "governance"
) -> tuple[int, dict]:
    out = tmp_path / "governance.json"
    result = invoke(cli, command, "--base", base, "--head", head, "--pr", str(PR), "--json", str(out), *extra, cwd=repo)
    return result.exit_code, json.loads(out.read_text())


def runs_of(github: FakeGitHub) -> list[dict]:
    return [r["public"] for r in sorted(github.check_runs.values(), key=lambda r: r["public"]["id"])]


LOOSEN = replace("policies/credit.yaml", "min: 0.70", "min: 0.50")


def test_policy_change_is_red_until_a_named_approver_approves_the_head(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    base, head = branch(governed_repo, LOOSEN)
    github.set_pull(PR, author="mallory", head_sha=head)

    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["conclusion"], result["changed"]) == (1, "failure", ["policies/credit.yaml"])
    assert result["changes"][0]["reason"].startswith("policy")
    assert "needs an approving review" in result["title"]
    assert "mallory" in result["title"]
    assert "risk-officer" in result["title"]
    assert result["named_approvers"] is True

    # the author's own approval, a collaborator who is not a named approver, and the approver's
    # approval of an older commit do not count
    github.add_review(PR, login="mallory", commit_id=head, association="OWNER", submitted_at="2026-01-01T10:00:00Z")
    github.add_review(PR, login="ana.lima", commit_id=head, association="MEMBER", submitted_at="2026-01-01T10:01:00Z")
    github.add_review(
        PR, login="risk-officer", commit_id=base, association="MEMBER", submitted_at="2026-01-01T10:02:00Z"
    )
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 1
    assert result["ignored"] == {
        "mallory": "the pull request's author cannot approve it",
        "ana.lima": "not a named approver",
        "risk-officer": f"approved an older commit ({base[:12]}), not the head",
    }

    github.add_review(
        PR, login="risk-officer", commit_id=head, association="MEMBER", submitted_at="2026-01-01T11:00:00Z"
    )
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["conclusion"], result["approvers"]) == (0, "success", ["risk-officer"])

    runs = runs_of(github)
    assert [r["conclusion"] for r in runs] == ["failure", "failure", "success"]
    assert {r["name"] for r in runs} == {"mlgate / governance"}
    assert {r["head_sha"] for r in runs} == {head}
    summary = runs[0]["output"]["summary"]
    assert "`policies/credit.yaml`" in summary
    assert "-      min: 0.70" in summary
    assert "+      min: 0.50" in summary


@pytest.mark.parametrize(
    ("edit", "path", "field"),
    [
        (replace(CREDIT, AGE, ""), CREDIT, "sensitive_features"),
        (replace(CREDIT, "bins: [0, 25, 120]", "bins: [0, 30, 120]"), CREDIT, "sensitive_features"),
        (replace(CREDIT, "    seed: 42\n    stratify", "    seed: 7\n    stratify"), CREDIT, "data"),
        (replace(CREDIT, "target: risk", "target: housing"), CREDIT, "target"),
        (replace(CREDIT, "policy: policies/credit.yaml", "policy: policies/default.yaml"), CREDIT, "policy"),
    ],
    ids=["drop-age", "rebin-age", "split-seed", "target", "policy-field"],
)
def test_a_judging_field_change_is_red_with_its_diff(
    cli: CliRunner,
    governed_repo: Path,
    github: FakeGitHub,
    tmp_path: Path,
    edit: Callable[[Path], None],
    path: str,
    field: str,
) -> None:
    base, head = branch(governed_repo, edit)
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["conclusion"], result["changed"]) == (1, "failure", [path])
    [change] = result["changes"]
    assert change["field"] == field
    assert change["reason"].startswith(f"judging field '{field}' changed")
    assert change["diff"].startswith("--- base\n+++ head\n")
    [check] = runs_of(github)
    assert change["diff"].rstrip("\n") in check["output"]["summary"]
    assert f"`{field}`" in check["output"]["summary"]


def test_rebinned_age_shows_the_bins_in_the_diff(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    base, head = branch(governed_repo, replace(CREDIT, "bins: [0, 25, 120]", "bins: [0, 30, 120]"))
    github.set_pull(PR, author="mallory", head_sha=head)
    _, result = run(cli, governed_repo, base, head, tmp_path, "--no-post")
    diff = result["changes"][0]["diff"]
    assert "-      25,\n" in diff
    assert "+      30,\n" in diff
    assert github.check_runs == {}  # --no-post


def test_new_evaluation_data_is_red_by_pointer_and_by_md5(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    def append_row(repo: Path) -> None:
        csv = repo / "data/german_credit.csv"
        rows = csv.read_text().splitlines(keepends=True)
        csv.write_text("".join(rows) + rows[-1])
        dvc("add", "-q", "data/german_credit.csv", cwd=repo)

    base, head = branch(governed_repo, append_row)
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 1
    assert result["changed"] == ["data/german_credit.csv.dvc", CREDIT]
    pointer, content = result["changes"]
    assert pointer["reason"] == "evaluation data pointer (credit: data.path)"
    assert content["field"] == "data.path (content)"
    old_md5 = git("show", f"{base}:data/german_credit.csv.dvc", cwd=governed_repo).split("md5: ")[1].split()[0]
    assert f'-"{old_md5}"\n+"' in content["diff"]


def test_a_new_model_is_a_governance_change(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    def new_model(repo: Path) -> None:
        shutil.copytree(repo / "models/credit", repo / "models/credit2")
        spec = repo / "models/credit2/model.yaml"
        spec.write_text(spec.read_text().replace("name: credit\n", "name: credit2\n"))
        (repo / "models/credit2/release.yaml").write_text("model: credit2\nstages: {}\n")

    base, head = branch(governed_repo, new_model)
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["changed"]) == (1, ["models/credit2/model.yaml"])
    assert result["changes"][0]["field"] == "(new model)"
    assert result["changes"][0]["reason"].startswith("new model")


@pytest.mark.parametrize(
    ("edit", "path", "reason"),
    [
        (write(".github/workflows/x.yml", "name: x\non: push\n"), ".github/workflows/x.yml", "workflow"),
        (write("action/gate/action.yml", "name: gate\n"), "action/gate/action.yml", "mlgate action"),
        (write("constraints.txt", "scikit-learn==1.0\n"), "constraints.txt", "mlgate's pins"),
        (write(".github/CODEOWNERS", "* @mallory\n"), ".github/CODEOWNERS", "code owners"),
    ],
    ids=["workflow", "action", "constraints", "codeowners"],
)
def test_what_runs_the_gates_is_a_governance_change(
    cli: CliRunner,
    governed_repo: Path,
    github: FakeGitHub,
    tmp_path: Path,
    edit: Callable[[Path], None],
    path: str,
    reason: str,
) -> None:
    base, head = branch(governed_repo, edit)
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["conclusion"], result["changed"]) == (1, "failure", [path])
    assert result["changes"][0]["reason"].startswith(reason)
    assert path in runs_of(github)[0]["output"]["summary"]


@pytest.mark.parametrize(
    "edit",
    [
        replace("params.yaml", "n_estimators: 200", "n_estimators: 201"),
        replace(CREDIT, "numeric: [credit_amount, duration, age, job]", "numeric: [credit_amount, duration, age]"),
        replace(CREDIT, "owners: [credit-risk-team, ana.lima]", "owners: [credit-risk-team]"),
    ],
    ids=["retune", "feature", "owners"],
)
def test_model_changes_are_green_without_reading_reviews(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path, edit: Callable[[Path], None]
) -> None:
    base, head = branch(governed_repo, edit)
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["conclusion"], result["changed"], result["title"]) == (
        0,
        "success",
        [],
        "no governance change",
    )
    assert not [r for r in github.requests if r["path"].endswith("/reviews")]
    assert [r["conclusion"] for r in runs_of(github)] == ["success"]


def test_without_a_governance_section_any_collaborator_but_the_author_approves(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    base_yaml = (governed_repo / "policies/base.yaml").read_text()
    assert "\ngovernance:" in base_yaml
    commit(
        governed_repo, write("policies/base.yaml", base_yaml.split("\n# Who approves a governance change")[0] + "\n")
    )
    base, head = branch(governed_repo, LOOSEN)
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["named_approvers"]) == (1, False)
    assert "a collaborator with write access" in result["title"]
    assert "has no `governance:` section" in runs_of(github)[0]["output"]["summary"]

    github.add_review(PR, login="drive-by", commit_id=head, association="NONE", submitted_at="2026-01-01T10:00:00Z")
    github.add_review(PR, login="ana.lima", commit_id=head, association="MEMBER", submitted_at="2026-01-01T10:01:00Z")
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["approvers"]) == (0, ["ana.lima"])
    assert result["ignored"] == {"drive-by": "has no write access (none)"}


def test_the_base_policy_names_the_approvers_not_the_pr(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    """A PR that adds its author's friend to the approvers is still judged by the base's list."""
    base, head = branch(
        governed_repo,
        replace("policies/base.yaml", GOVERNANCE_APPROVERS, GOVERNANCE_APPROVERS.replace("officer]", "officer, pal]")),
    )
    github.set_pull(PR, author="mallory", head_sha=head)
    github.add_review(PR, login="pal", commit_id=head, association="MEMBER", submitted_at="2026-01-01T10:00:00Z")
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["ignored"]) == (1, {"pal": "not a named approver"})


def test_team_approvers_are_checked_with_github(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    team_only = GOVERNANCE_APPROVERS.replace("users: [risk-officer]", "teams: [octo-org/model-risk]")
    commit(governed_repo, replace("policies/base.yaml", GOVERNANCE_APPROVERS, team_only))
    base, head = branch(governed_repo, LOOSEN)
    github.set_pull(PR, author="mallory", head_sha=head)
    github.add_team_member("octo-org/model-risk", "ana.lima")
    github.add_team_member("octo-org/model-risk", "invited", state="pending")
    for minute, login in enumerate(("outsider", "invited")):
        github.add_review(
            PR, login=login, commit_id=head, association="MEMBER", submitted_at=f"2026-01-01T10:0{minute}:00Z"
        )
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 1
    assert result["ignored"] == {
        "invited": "not a named approver (membership of team octo-org/model-risk is pending)",
        "outsider": "not a named approver (not a member of team octo-org/model-risk)",
    }
    github.add_review(PR, login="ana.lima", commit_id=head, association="MEMBER", submitted_at="2026-01-01T11:00:00Z")
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["approvers"]) == (0, ["ana.lima"])
    asked = [r["path"] for r in github.requests if "/memberships/" in r["path"]]
    assert "/orgs/octo-org/teams/model-risk/memberships/ana.lima" in asked


def test_dismissed_approval_turns_it_red_again(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    base, head = branch(governed_repo, LOOSEN)
    github.set_pull(PR, author="mallory", head_sha=head)
    approval = github.add_review(
        PR, login="risk-officer", commit_id=head, association="MEMBER", submitted_at="2026-01-01T10:00:00Z"
    )
    assert run(cli, governed_repo, base, head, tmp_path)[0] == 0
    approval["state"] = "DISMISSED"  # what GitHub shows after "Dismiss review"
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 1
    assert result["ignored"] == {"risk-officer": "latest review is dismissed"}


def test_the_pr_head_is_never_checked_out(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    """The workflow's workspace is the base: the check reads the head from git objects only."""
    base, head = branch(governed_repo, LOOSEN)
    git("switch", "-q", "--detach", base, cwd=governed_repo)
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["changed"]) == (1, ["policies/credit.yaml"])
    assert git("rev-parse", "HEAD", cwd=governed_repo).strip() == base
    assert git("status", "--porcelain", cwd=governed_repo).strip() == ""


def test_changes_made_on_the_base_branch_after_the_pr_branched_are_not_the_prs(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    """Specs are compared from the merge base: main moving on does not make the PR a governance change."""
    _, head = branch(governed_repo, replace("params.yaml", "n_estimators: 200", "n_estimators: 201"))
    git("switch", "-q", "main", cwd=governed_repo)
    base = commit(governed_repo, lambda repo: (LOOSEN(repo), replace(CREDIT, AGE, "")(repo)))
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["changed"], result["title"]) == (0, [], "no governance change")


# --------------------------------------------------------------------------- what counts as a change


def mlgate_checkout(repo: Path) -> None:
    """The layout of a repository that installs mlgate from itself (mlgate's own): workflows, actions, src."""
    write(".github/workflows/governance.yml", "name: governance\non: pull_request_target\n")(repo)
    write(".github/workflows/propose.yml", "name: propose\non: pull_request\n")(repo)
    write("action/gate/action.yml", "name: gate\nruns:\n  using: composite\n  steps: []\n")(repo)
    (repo / "action/setup").mkdir(parents=True)
    shutil.copy2(PROJECT / "action/setup/action.yml", repo / "action/setup/action.yml")  # installs action_path
    write("src/mlgate/gates/_fairness.py", "THRESHOLD = 0.8\n")(repo)
    write("scripts/setup-venv", "#!/usr/bin/env bash\npip install -e .\n")(repo)
    write("docs/notes.yml", "notes: []\n")(repo)


def move(old: str, new: str) -> Callable[[Path], None]:
    def edit(repo: Path) -> None:
        (repo / new).parent.mkdir(parents=True, exist_ok=True)
        git("mv", old, new, cwd=repo)

    return edit


def delete(rel: str) -> Callable[[Path], None]:
    return lambda repo: git("rm", "-q", "-r", rel, cwd=repo)


def test_the_self_install_rule_reads_mlgates_own_action() -> None:
    """The rule's premise: this repository's action/setup installs the checkout it lives in."""
    assert "github.action_path" in (PROJECT / "action/setup/action.yml").read_text()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            move(".github/workflows/governance.yml", "docs/governance.yml"),
            [(".github/workflows/governance.yml", "workflow", "(moved to docs/governance.yml)")],
        ),
        (
            move(".github/workflows/propose.yml", "docs/propose.yml"),
            [(".github/workflows/propose.yml", "workflow", "(moved to docs/propose.yml)")],
        ),
        (
            move("action/gate", "docs/gate"),
            [("action/gate/action.yml", "mlgate action", "(moved to docs/gate/action.yml)")],
        ),
        (
            move("docs/notes.yml", ".github/workflows/notes.yml"),
            [(".github/workflows/notes.yml", "workflow", "(moved from docs/notes.yml)")],
        ),
        (
            delete(".github/workflows/governance.yml"),
            [(".github/workflows/governance.yml", "workflow", "(deleted)")],
        ),
        (delete("policies/income.yaml"), [("policies/income.yaml", "policy", "(deleted)")]),
        (
            replace("src/mlgate/gates/_fairness.py", "0.8", "0.1"),
            [("src/mlgate/gates/_fairness.py", "mlgate's own code", "")],
        ),
        (
            replace("scripts/setup-venv", "pip install -e .", "pip install mlgate-fork"),
            [("scripts/setup-venv", "mlgate's own code", "")],
        ),
        (
            replace(".dvc/config", "analytics = false", "analytics = false\n    autostage = true"),
            [(".dvc/config", "DVC config", "")],
        ),
        (write("data/.gitattributes", "*.csv -diff\n"), [("data/.gitattributes", "git attributes", "")]),
    ],
    ids=[
        "rename-governance-workflow-out",
        "rename-propose-workflow-out",
        "rename-action-out",
        "rename-into-workflows",
        "delete-workflow",
        "delete-policy",
        "src",
        "setup-venv",
        "dvc-config",
        "nested-gitattributes",
    ],
)
def test_renames_deletions_and_what_installs_the_gatekeeper_are_governance_changes(
    cli: CliRunner,
    governed_repo: Path,
    github: FakeGitHub,
    tmp_path: Path,
    edit: Callable[[Path], None],
    expected: list[tuple[str, str, str]],
) -> None:
    commit(governed_repo, mlgate_checkout, "mlgate's own layout")
    base, head = branch(governed_repo, edit)
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["conclusion"]) == (1, "failure"), result
    file_changes = [c for c in result["changes"] if not c["field"]]
    assert [c["path"] for c in file_changes] == [path for path, _, _ in expected]
    for change, (_, reason, how) in zip(file_changes, expected, strict=True):
        assert change["reason"].startswith(reason), change
        assert change["reason"].endswith(how), change


def test_src_is_the_teams_code_where_mlgate_is_installed_from_elsewhere(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    """Without a self-installing action/setup at the base, src/ is model code: no second person needed."""
    commit(governed_repo, write("src/features.py", "SCALE = 1\n"))
    base, head = branch(governed_repo, replace("src/features.py", "1", "2"))
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["changed"]) == (0, [])


def test_the_base_decides_that_mlgate_installs_itself_not_the_pr(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    """A PR that deletes action/setup and edits src/ is still judged by the base's action/setup."""
    commit(governed_repo, mlgate_checkout, "mlgate's own layout")

    def edit(repo: Path) -> None:
        git("rm", "-q", "-r", "action/setup", cwd=repo)
        replace("src/mlgate/gates/_fairness.py", "0.8", "0.1")(repo)

    base, head = branch(governed_repo, edit)
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 1
    assert result["changed"] == ["action/setup/action.yml", "src/mlgate/gates/_fairness.py"]


def test_gitattributes_cannot_hide_a_policy_change(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    """export-ignore and -diff on the loosened policy: still listed, with its diff, and the attributes file too."""

    def edit(repo: Path) -> None:
        LOOSEN(repo)
        write(".gitattributes", "policies/credit.yaml export-ignore -diff\nmodels/** export-subst\n")(repo)

    base, head = branch(governed_repo, edit)
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 1
    assert result["changed"] == [".gitattributes", "policies/credit.yaml"]
    policy = next(c for c in result["changes"] if c["path"] == "policies/credit.yaml")
    assert "-      min: 0.70\n+      min: 0.50" in policy["diff"]  # not "Binary files differ"


def test_judging_reads_ignore_the_trees_attributes(governed_repo: Path, tmp_path: Path) -> None:
    """A commit's .gitattributes cannot drop a policy from what is judged, nor rewrite its text."""
    from mlgate.gates import materialise

    marker = "# built from $Format:%H$\n"

    def edit(repo: Path) -> None:
        write(".gitattributes", "policies/credit.yaml export-ignore\npolicies/default.yaml export-subst\n")(repo)
        path = repo / "policies/default.yaml"
        path.write_text(marker + path.read_text())

    sha = commit(governed_repo, edit)
    # what `git archive` (the old way) makes of this commit: the policy is gone, the text rewritten
    listed = subprocess.run(
        ["git", "archive", "--format=tar", sha, "--", "policies"], cwd=governed_repo, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(listed)) as tar:
        archived: dict[str, bytes] = {}
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is not None:  # a regular file always has its content
                archived[member.name] = extracted.read()
    assert "policies/credit.yaml" not in archived
    assert marker.encode() not in archived["policies/default.yaml"]

    tree = materialise(governed_repo, sha, tmp_path / "tree")
    for rel in ("policies/credit.yaml", "policies/default.yaml"):
        committed = subprocess.run(
            ["git", "cat-file", "blob", f"{sha}:{rel}"], cwd=governed_repo, capture_output=True, check=True
        ).stdout
        assert (tree.root / rel).read_bytes() == committed
    assert (tree.root / "policies/default.yaml").read_text().startswith(marker)


def test_a_link_out_of_the_head_tree_is_exit_2(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    base, head = branch(governed_repo, lambda repo: (repo / "policies/extra.yaml").symlink_to("/etc/passwd"))
    github.set_pull(PR, author="mallory", head_sha=head)
    result = invoke(cli, "governance", "--base", base, "--head", head, "--pr", str(PR), cwd=governed_repo)
    assert result.exit_code == 2
    assert "policies/extra.yaml links outside the tree" in result.output


# --------------------------------------------------------------------------- who may approve


def test_only_accounts_that_can_push_approve_and_the_login_must_be_the_same_account(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    two = GOVERNANCE_APPROVERS.replace("users: [risk-officer]", "users: [risk-officer, auditor]")
    commit(governed_repo, replace("policies/base.yaml", GOVERNANCE_APPROVERS, two))
    base, head = branch(governed_repo, LOOSEN)
    github.set_pull(PR, author="mallory", head_sha=head)
    github.grant("auditor", "triage")  # named in the policy, an org member, but cannot push
    github.add_review(PR, login="auditor", commit_id=head, association="MEMBER", submitted_at="2026-01-01T10:00:00Z")
    # "risk-officer" renamed away; another account took the login: its review has another user id
    github.user_ids["risk-officer"] = 77_000_001
    github.add_review(
        PR,
        login="risk-officer",
        user_id=66_000_002,
        commit_id=head,
        association="MEMBER",
        submitted_at="2026-01-01T10:01:00Z",
    )
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["approvers"]) == (1, [])
    assert result["ignored"] == {
        "auditor": "has no write access (triage)",
        "risk-officer": (
            "the login risk-officer names another account now (the review's user id 66000002, "
            "GitHub's for the login 77000001)"
        ),
    }
    assert "/repos/octo-org/models/collaborators/auditor/permission" in [r["path"] for r in github.requests]

    github.grant("auditor", "maintain")
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["approvers"]) == (0, ["auditor"])
    [review] = [r for r in github.reviews[PR] if r["user"]["login"] == "auditor"]
    assert result["approvals"] == [
        {"login": "auditor", "user_id": github.user_id("auditor"), "review_id": review["id"]}
    ]


def test_without_a_governance_section_a_read_only_member_does_not_count(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    base_yaml = (governed_repo / "policies/base.yaml").read_text()
    commit(
        governed_repo, write("policies/base.yaml", base_yaml.split("\n# Who approves a governance change")[0] + "\n")
    )
    base, head = branch(governed_repo, LOOSEN)
    github.set_pull(PR, author="mallory", head_sha=head)
    github.grant("reader", "read")
    github.add_review(PR, login="reader", commit_id=head, association="MEMBER", submitted_at="2026-01-01T10:00:00Z")
    github.add_review(PR, login="outsider", commit_id=head, association="CONTRIBUTOR")
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["approvers"]) == (1, [])
    assert result["ignored"] == {
        "reader": "has no write access (read)",
        "outsider": "has no write access (contributor)",
    }
    asked = [r["path"] for r in github.requests if "/collaborators/" in r["path"]]
    assert asked == ["/repos/octo-org/models/collaborators/reader/permission"]  # the association ruled the other out


def test_an_approver_pinned_to_an_account_id_is_that_account_only(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    """`{login, id}` in the policy: the login's next owner (another id, even with write access) does not count."""
    pinned = GOVERNANCE_APPROVERS.replace("users: [risk-officer]", "users: [{login: risk-officer, id: 5001}]")
    commit(governed_repo, replace("policies/base.yaml", GOVERNANCE_APPROVERS, pinned))
    base, head = branch(governed_repo, LOOSEN)
    github.set_pull(PR, author="mallory", head_sha=head)
    github.add_review(PR, login="risk-officer", commit_id=head, association="MEMBER")
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 1
    assert result["ignored"] == {
        "risk-officer": (
            "not a named approver: the policy names risk-officer as account id 5001, the reviewer's id is "
            f"{github.user_id('risk-officer')}"
        )
    }
    assert "an approver named in the base policy (risk-officer)" in result["title"]

    github.user_ids["risk-officer"] = 5001  # the account the policy pinned
    github.reviews[PR].clear()
    github.add_review(PR, login="risk-officer", commit_id=head, association="MEMBER")
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, [a["user_id"] for a in result["approvals"]]) == (0, [5001])


def test_trees_are_written_blob_by_blob_large_and_shared_files_alike(governed_repo: Path, tmp_path: Path) -> None:
    """Streamed from one `git cat-file --batch`: a file over the 1 MiB chunk, and one blob at two paths."""
    from mlgate.gates import materialise

    big = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, not a multiple of the chunk

    def edit(repo: Path) -> None:
        (repo / "models/credit/notes.bin").write_bytes(big)
        (repo / "models/credit/copy.bin").write_bytes(big)
        (repo / "policies/same.yaml").write_text("# same\n")
        (repo / "models/credit/same.yaml").write_text("# same\n")

    sha = commit(governed_repo, edit)
    tree = materialise(governed_repo, sha, tmp_path / "tree")
    assert (tree.root / "models/credit/notes.bin").read_bytes() == big
    assert (tree.root / "models/credit/copy.bin").read_bytes() == big
    assert (tree.root / "policies/same.yaml").read_text() == (tree.root / "models/credit/same.yaml").read_text()
    assert (tree.root / "models/credit/model.yaml").read_bytes() == (governed_repo / CREDIT).read_bytes()
    assert {p.suffix for p in (tree.root / "data").rglob("*") if p.is_file()} == {".dvc"}  # pointers, no data
    assert (governed_repo / ".gitignore").is_file()
    assert not (tree.root / ".gitignore").exists()  # only what judging reads


def test_the_reports_policy_diff_is_the_raw_text_whatever_the_attributes(governed_repo: Path) -> None:
    """A PR's `-diff` attribute on policies would make `git diff` say "Binary files differ"."""
    from mlgate.gates import policy_changes

    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    commit(governed_repo, lambda repo: (LOOSEN(repo), write(".gitattributes", "policies/** -diff\n")(repo)))
    assert "Binary files" in git("diff", base, "--", "policies/credit.yaml", cwd=governed_repo)  # the attack works
    [change] = policy_changes(governed_repo, base)
    assert change["file"] == "policies/credit.yaml"
    assert "-      min: 0.70\n+      min: 0.50" in change["diff"]
