"""A pull request cannot point mlgate at files outside the repo, or at policies outside policies/.

The attack: a model new in the pull request names, as its ``policy:``, a lax file the PR adds
outside ``policies/`` (by a relative path, ``..`` or an absolute path into the PR checkout). With
``--policy-ref`` the gate reads policies from the base commit, but joining an absolute path to
that folder yields the path itself, so the lax file would judge the model. Every such path must
be refused as invalid input (exit 2) before MLflow is contacted (that would be exit 3).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import git, invoke

SPEC2 = "models/credit2/model.yaml"
LAX = "description: Lax (written by the pull request).\n"


def stderr_lines(result: Result) -> list[str]:
    return [line.removeprefix("error: ") for line in result.stderr.splitlines()]


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def head(repo: Path) -> str:
    return git("rev-parse", "HEAD", cwd=repo).strip()


def add_credit2(repo: Path, policy: str) -> None:
    """models/credit2: a copy of credit (own params section) whose ``policy:`` is ``policy``."""
    shutil.copytree(repo / "models/credit", repo / "models/credit2")
    (repo / "models/credit2/release.yaml").unlink()
    _replace(repo / SPEC2, "name: credit\n", "name: credit2\n")
    _replace(repo / SPEC2, "policy: policies/credit.yaml", f"policy: {policy}")
    params = repo / "params.yaml"
    credit = "credit:\n  n_estimators: 200\n  max_depth: 6\n  min_samples_leaf: 5\n"
    params.write_text(params.read_text() + credit.replace("credit:", "credit2:", 1))


def commit(repo: Path, message: str) -> str:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return head(repo)


@pytest.fixture
def no_mlflow(monkeypatch: pytest.MonkeyPatch, refused_port: int) -> None:
    """Nothing listens here: touching MLflow would fail with exit 3, not 2."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{refused_port}")


@pytest.mark.parametrize(
    "policy_path",
    [
        pytest.param(lambda repo, lax: "lax/policy.yaml", id="outside-policies"),
        pytest.param(lambda repo, lax: "../repo/lax/policy.yaml", id="dot-dot-into-checkout"),
        pytest.param(lambda repo, lax: "policies/../lax/policy.yaml", id="dot-dot-out-of-policies"),
        pytest.param(lambda repo, lax: str(repo / "lax/policy.yaml"), id="absolute-into-checkout"),
        pytest.param(lambda repo, lax: str(lax), id="absolute-elsewhere"),
    ],
)
@pytest.mark.usefixtures("no_mlflow")
def test_new_model_cannot_name_a_lax_policy_outside_policies(
    governed_repo: Path, cli: CliRunner, tmp_path: Path, policy_path: Callable[[Path, Path], str]
) -> None:
    repo = governed_repo
    base = head(repo)
    (repo / "lax").mkdir()
    (repo / "lax/policy.yaml").write_text(LAX)
    elsewhere = tmp_path / "lax.yaml"
    elsewhere.write_text(LAX)
    value = policy_path(repo, elsewhere)
    add_credit2(repo, value)
    commit(repo, "credit2, judged by a lax policy")
    expected = f"{SPEC2}:48:9: policy: must be a file under policies/ in this repository, got {value!r}"

    validated = invoke(cli, "validate", cwd=repo)
    assert validated.exit_code == 2, validated.output
    assert expected in stderr_lines(validated), validated.stderr

    gated = invoke(cli, "gate", "credit2", "--policy-ref", base, cwd=repo)
    assert gated.exit_code == 2, gated.output
    assert expected in stderr_lines(gated), gated.stderr
    assert not (repo / "mlflow.db").exists()


@pytest.mark.usefixtures("no_mlflow")
def test_policy_symlinked_out_of_policies_is_refused(governed_repo: Path, cli: CliRunner) -> None:
    repo = governed_repo
    base = head(repo)
    (repo / "lax").mkdir()
    (repo / "lax/policy.yaml").write_text(LAX)
    (repo / "policies/lax.yaml").symlink_to("../lax/policy.yaml")
    add_credit2(repo, "policies/lax.yaml")
    commit(repo, "credit2, judged by a policy linked out of policies/")

    validated = invoke(cli, "validate", cwd=repo)
    assert validated.exit_code == 2, validated.output
    lines = stderr_lines(validated)
    assert f"{SPEC2}:48:9: policy: policy file policies/lax.yaml resolves to a file outside policies/" in lines, (
        validated.stderr
    )
    assert "policies/lax.yaml: resolves to a file outside policies/ of this repository" in lines, validated.stderr

    # Judged by the base commit's policies/, which has no lax.yaml.
    gated = invoke(cli, "gate", "credit2", "--policy-ref", base, cwd=repo)
    assert gated.exit_code == 2, gated.output
    assert not (repo / "mlflow.db").exists()


def test_extends_symlinked_out_of_policies_is_refused(governed_repo: Path, cli: CliRunner) -> None:
    repo = governed_repo
    (repo / "lax").mkdir()
    lax = repo / "lax/policy.yaml"
    lax.write_text(LAX)
    (repo / "policies/lax-base.yaml").symlink_to("../lax/policy.yaml")
    _replace(repo / "policies/credit.yaml", "extends: base.yaml", "extends: lax-base.yaml")

    result = invoke(cli, "validate", cwd=repo)
    assert result.exit_code == 2, result.output
    expected = (
        "policies/credit.yaml:2:10: extends: must name a file under policies/ in this repository, "
        f"got 'lax-base.yaml' (a link to {lax.resolve()})"
    )
    assert expected in stderr_lines(result), result.stderr


def test_shipped_specs_and_policies_still_validate(governed_repo: Path, cli: CliRunner) -> None:
    result = invoke(cli, "validate", cwd=governed_repo)
    assert result.exit_code == 0, result.output


def test_policies_in_subfolders_may_extend_upwards_within_policies(governed_repo: Path, cli: CliRunner) -> None:
    """``..`` that stays inside policies/ is fine for ``extends``."""
    repo = governed_repo
    (repo / "policies/teams").mkdir()
    shutil.move(repo / "policies/credit.yaml", repo / "policies/teams/credit.yaml")
    _replace(repo / "policies/teams/credit.yaml", "extends: base.yaml", "extends: ../base.yaml")
    _replace(repo / "models/credit/model.yaml", "policies/credit.yaml", "policies/teams/credit.yaml")
    result = invoke(cli, "validate", cwd=repo)
    assert result.exit_code == 0, result.output
