"""Commands import only what they use: the heavy modules each read-only command loads, pinned.

Each command runs in a fresh interpreter with ``-X importtime`` on a copy of the example repo
(an MLflow registry in a SQLite file for the commands that read one), and the top-level packages
of every module it imported are compared with the set pinned here. ``status``, ``history``,
``report``, ``affected``, ``governance`` and ``promote --plan`` (no gate to run) never import
scikit-learn or ``scipy.stats``; ``validate`` imports the estimator's own module (scikit-learn, to
check its params) and nothing else heavy. (A ``promote --plan`` with a change to check imports the
estimator's module too: the params hash a version recorded includes ``random_state`` only when the
class takes one, and only the class can say.)

What MLflow itself insists on is pinned as such: ``import mlflow`` (any MLflow client) imports
``mlflow.genai`` -> ``mlflow.gateway`` -> FastAPI/Starlette, ``mlflow.types.schema`` -> pyspark
(when installed) and ``mlflow.models`` -> ``scipy.sparse``; the SQLite store imports alembic,
whose mako templates import pygments. None of them comes from an mlgate module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT, copy_repo, edit, git, github_stand_in

HEAVY = frozenset(
    {
        "deepchecks",
        "evidently",
        "fairlearn",
        "fastapi",
        "lightgbm",
        "matplotlib",
        "py4j",
        "pygments",
        "pyspark",
        "rich",
        "scipy",
        "skops",
        "sklearn",
        "starlette",
        "torch",
        "uvicorn",
        "xgboost",
    }
)
"""Packages a command must not load unless it needs them (or MLflow insists)."""

NEVER = ("sklearn", "scipy.stats")
"""Never imported by the read-only commands (a gate, training or scoring imports them)."""

MLFLOW_CLIENT = frozenset({"fastapi", "starlette", "pyspark", "py4j", "scipy", "pygments"})
"""What ``import mlflow`` with a SQLite registry brings (see the module docstring): MLflow's, not mlgate's."""

TOKEN, REPO, PR = "ghs_imports", "acme/credit-models", 7
# every module the process holds at exit (importtime does not log every import that importlib.import_module
# makes, as the lazy packages' PEP 562 __getattr__ does)
CLI = (
    "import atexit, sys; "
    "atexit.register(lambda: print('modules at exit: ' + ' '.join(sorted(sys.modules)), file=sys.stderr)); "
    "from mlgate.cli import main; sys.argv[0] = 'mlgate'; main()"
)


def imported(stderr: str) -> set[str]:
    """Every module name ``-X importtime`` reported, and every module the process held at exit."""
    logged = {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", stderr, re.MULTILINE)}
    held = re.search(r"^modules at exit: (.*)$", stderr, re.MULTILINE)
    assert held, "the process did not reach its exit"
    return logged | set(held.group(1).split())


def heavy(modules: set[str]) -> set[str]:
    """The :data:`HEAVY` packages among ``modules``."""
    return {name.split(".")[0] for name in modules} & HEAVY


@pytest.fixture(scope="module")
def repo(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example repo with a SQLite registry (created once here, so no run measures its migration)."""
    root = copy_repo(template_repo, tmp_path_factory.mktemp("imports") / "repo")
    mlgate(root, "status")  # creates mlflow.db's tables
    return root


def mlgate(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], str]:
    """Run ``mlgate ARGS`` in a fresh interpreter in ``root``: (exit code, modules imported, output)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CLI, *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", **(env or {})},
    )
    output = done.stdout + "\n".join(
        line for line in done.stderr.splitlines() if not line.startswith(("import time:", "modules at exit:"))
    )
    return done.returncode, imported(done.stderr), output


def check(modules: set[str], expected: frozenset[str] | set[str]) -> None:
    """The command imported exactly ``expected`` of the heavy packages, and nothing of :data:`NEVER`."""
    assert [name for name in NEVER if name in modules] == []
    assert heavy(modules) == expected


def test_status_loads_only_what_mlflow_insists_on(repo: Path) -> None:
    code, modules, output = mlgate(repo, "status", "--check")
    assert code == 0, output
    assert "mlflow.tracking" in modules  # the registry was read: the command did its work
    check(modules, MLFLOW_CLIENT)


def test_history_loads_only_what_mlflow_insists_on(repo: Path) -> None:
    code, modules, output = mlgate(repo, "history", "credit")
    assert code == 0, output
    assert "no promotion of credit recorded yet" in output
    check(modules, MLFLOW_CLIENT)


def test_promote_plan_without_gates_loads_only_what_mlflow_insists_on(repo: Path) -> None:
    """Every release.yaml matches the registry: planned, nothing to check, no gate run."""
    code, modules, output = mlgate(repo, "promote", "--plan", "--no-github")
    assert code == 0, output
    assert "in sync: every release.yaml matches the registry" in output
    assert "mlgate.promotion._plan" in modules
    assert "mlgate.gates._run" not in modules
    check(modules, MLFLOW_CLIENT)


def test_report_loads_nothing_heavy(repo: Path) -> None:
    verdict = PROJECT / "tests" / "data" / "verdict-credit.json"
    code, modules, output = mlgate(repo, "report", "credit", "--verdict", str(verdict), "--no-registry")
    assert code == 0, output
    assert "Champion vs challenger" in output
    assert "mlflow" not in {m.split(".")[0] for m in modules}
    check(modules, set())


def test_affected_loads_nothing_heavy(repo: Path) -> None:
    work = copy_repo(repo, repo.parent / "affected")
    base = git("rev-parse", "HEAD", cwd=work).strip()
    edit(work, "params.yaml", "  n_estimators: 200\n", "  n_estimators: 300\n")
    git("commit", "-qam", "tune credit", cwd=work)
    code, modules, output = mlgate(work, "affected", "--base", base, "--head", "HEAD")
    assert code == 0, output
    assert "credit: params.yaml (credit)" in output
    assert "insurance:" not in output
    check(modules, set())


def test_governance_loads_nothing_heavy(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A policy change on a pull request, judged against the base branch: red, nothing heavy."""
    work = copy_repo(repo, repo.parent / "governance")
    base = git("rev-parse", "HEAD", cwd=work).strip()
    policy = work / "policies" / "credit.yaml"
    policy.write_text(policy.read_text() + "\n# loosened\n")
    git("commit", "-qam", "loosen the policy", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).strip()
    with github_stand_in(monkeypatch, TOKEN, REPO) as github:
        github.set_pull(PR, author="dana", head_sha=head)
        code, modules, output = mlgate(work, "governance", "--base", base, "--head", head, "--pr", str(PR), "--no-post")
    assert code == 1, output
    assert f"policies/{policy.name}" in output
    check(modules, set())


def test_validate_imports_the_estimators_module_and_nothing_else_heavy(repo: Path) -> None:
    code, modules, output = mlgate(repo, "validate", "--no-data")
    assert code == 0, output
    assert "sklearn.ensemble._forest" in modules  # credit's RandomForestClassifier: its params are checked
    # scikit-learn's own dependency (scipy, scipy.stats: sklearn.ensemble imports them), and nothing of
    # the gates' (mlgate.gates.drift imports scipy.stats itself) or MLflow's stack
    assert heavy(modules) == {"sklearn", "scipy"}
    assert not [m for m in modules if m.startswith(("mlgate.gates._run", "mlgate.gates._drift", "mlgate.training."))]
    assert "mlflow" not in {m.split(".")[0] for m in modules}
