"""A command whose optional extra is missing stops with exit 2 naming the extra, never 70.

Each extra is removed in turn from a real `mlgate` process: a ``sitecustomize`` on PYTHONPATH
(read by every Python the process starts, training commands included) makes the extra's modules
fail to import exactly as an absent package does (``ModuleNotFoundError`` with its name), so the
real import paths of the commands run, not a stub of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlgate.exceptions import EXTRA_OF_MODULE, MissingExtra, missing_extra

BLOCKER = textwrap.dedent(
    """
    import os, sys
    from importlib.abc import MetaPathFinder

    BLOCKED = set(filter(None, os.environ.get("MLGATE_TEST_UNINSTALLED", "").split(",")))

    class Uninstalled(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Uninstalled())
    """
)


def mlgate(tmp_path: Path, uninstalled: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real CLI with the modules ``uninstalled`` (comma-separated) made unimportable."""
    env = {**os.environ, "MLGATE_TEST_UNINSTALLED": uninstalled}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_site(tmp_path)), env.get("PYTHONPATH", "")]))
    command = [str(Path(sys.executable).with_name("mlgate")), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def bare_repo(tmp_path: Path) -> Path:
    """A folder mlgate takes for a governed repo; the missing extra must be found before anything else."""
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    return repo


def test_the_blocker_really_removes_a_module(tmp_path: Path, bare_repo: Path) -> None:
    env = {**os.environ, "MLGATE_TEST_UNINSTALLED": "prometheus_client", "PYTHONPATH": str(_site(tmp_path))}
    done = subprocess.run(
        [sys.executable, "-c", "import prometheus_client"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'prometheus_client'" in done.stderr


@pytest.mark.parametrize("module", ["prometheus_client", "fastapi", "uvicorn"])
def test_serve_without_the_serve_extra(tmp_path: Path, bare_repo: Path, module: str) -> None:
    done = mlgate(tmp_path, module, "serve", "credit", "--stage", "production", cwd=bare_repo)
    assert done.returncode == 2, done.stderr
    assert f"'{module}'" in done.stderr
    assert "pip install 'mlgate[serve]'" in done.stderr
    assert "bug in mlgate" not in done.stderr


def test_score_with_spark_without_the_spark_extra(tmp_path: Path, bare_repo: Path) -> None:
    done = mlgate(
        tmp_path,
        "pyspark",
        "score",
        "credit",
        "--stage",
        "production",
        "--engine",
        "spark",
        "--input",
        "in.csv",
        "--output",
        "out",
        "--json",
        "-",
        cwd=bare_repo,
    )
    assert done.returncode == 2, done.stderr
    assert "Spark engine" in done.stderr
    assert "pip install 'mlgate[spark]'" in done.stderr
    # `--json -`: the error is the one JSON document on stdout
    assert '"exit_code": 2' in done.stdout


def test_a_postgres_audit_store_without_psycopg(tmp_path: Path, bare_repo: Path) -> None:
    # monitor reads a PostgreSQL audit store through SQLAlchemy's psycopg dialect (serve extra)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlgate.serving import AuditStore\nAuditStore('postgresql://mlgate@127.0.0.1:1/audit')",
        ],
        env={**os.environ, "MLGATE_TEST_UNINSTALLED": "psycopg", "PYTHONPATH": str(_site(tmp_path))},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "No module named 'psycopg'" in done.stderr
    # ...which the CLI edge turns into the serve extra (the same mapping every command uses)
    err = ModuleNotFoundError("No module named 'psycopg'", name="psycopg")
    missing = missing_extra(err, "`mlgate monitor`")
    assert isinstance(missing, MissingExtra)
    assert missing.exit_code == 2
    assert missing.hint.startswith("pip install 'mlgate[serve]'")


def test_a_mysql_audit_store_without_pymysql(tmp_path: Path) -> None:
    # mysql:// is driven by PyMySQL (the mysql extra): its absence surfaces where the engine is made
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlgate.serving import AuditStore\nAuditStore('mysql://mlgate@127.0.0.1:1/audit')",
        ],
        env={**os.environ, "MLGATE_TEST_UNINSTALLED": "pymysql", "PYTHONPATH": str(_site(tmp_path))},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "No module named 'pymysql'" in done.stderr
    missing = missing_extra(ModuleNotFoundError("No module named 'pymysql'", name="pymysql"), "`mlgate serve`")
    assert isinstance(missing, MissingExtra)
    assert missing.exit_code == 2
    assert missing.hint.startswith("pip install 'mlgate[mysql]'")


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    return site


def test_an_unknown_missing_module_stays_a_bug_report() -> None:
    # only modules of mlgate's extras are the user's to install; anything else is a bug (exit 70)
    assert missing_extra(ModuleNotFoundError("No module named 'mlgate.nothing'", name="mlgate.nothing")) is None
    assert missing_extra(ImportError("cannot import name 'x'")) is None


def test_every_extra_module_is_an_extra_of_the_package() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for module, extra in EXTRA_OF_MODULE.items():
        assert extra in extras, f"{module}: extra {extra!r} is not in pyproject.toml"
    # the demo extra brings what scripts/demo runs: income's XGBoost script and `mlgate serve`
    assert "mlgate[byo,serve]" in extras["demo"]
