"""URL credentials never leave mlgate: a tracking URI's password in no output, file or error.

The commands run for real (the console script in a child process, so MLflow's own logging and
retries are in the output too), with ``MLFLOW_TRACKING_URI`` carrying a password: against a port
nothing listens on, and against the session's real ``mlflow server`` (MLflow's client sends the
credentials; the plain server ignores them). The host is shown; the password never is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import copy_repo, invoke
from mlgate import jsonout
from mlgate.exceptions import InvalidInput, mask_logs, mask_secrets
from mlgate.registry import Registry

MLGATE = str(Path(sys.executable).parent / "mlgate")
SECRET = "s3cr3t-Pa55"
TOKEN = "ghp_tok3nVALUE"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("MLflow at http://ana:s3cr3t@host:5000 did not answer", "MLflow at http://ana:***@host:5000 did not answer"),
        ("https://ghp_tok3nVALUE@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("git+https://ghp_tok3nVALUE@github.com/o/r.git", "git+https://***@github.com/o/r.git"),
        ("postgresql://mlgate@db/audit", "postgresql://mlgate@db/audit"),  # a user name; PGPASSWORD holds the rest
        ("postgresql+psycopg://u:pw@db/audit?sslmode=require", "postgresql+psycopg://u:***@db/audit?sslmode=require"),
        ("http://u:p@ss@h:1/a?b=c@d", "http://u:***@h:1/a?b=c@d"),  # an unescaped '@' in the password
        ("'http://a:b@h', and mail to a@b", "'http://a:***@h', and mail to a@b"),
        ("http://host:5000/#/experiments/1/runs/2", "http://host:5000/#/experiments/1/runs/2"),
        ("git@github.com:o/r.git, models:/credit@production", "git@github.com:o/r.git, models:/credit@production"),
    ],
)
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_json_and_errors_are_masked() -> None:
    payload = {"run_url": f"http://ana:{SECRET}@h/#/x", "nested": [{"k": f"https://{TOKEN}@github.com"}]}
    text = jsonout.dumps(payload) + jsonout.compact(payload)
    assert SECRET not in text
    assert TOKEN not in text
    assert "http://ana:***@h/#/x" in text
    err = InvalidInput(f"cannot reach http://ana:{SECRET}@h")
    assert err.message == "cannot reach http://ana:***@h"


def mlgate(repo: Path, uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"MLFLOW_TRACKING_URI": uri, "NO_COLOR": "1"}
    return subprocess.run([MLGATE, *args], check=False, cwd=repo, env=env, capture_output=True, text=True, timeout=300)


def assert_masked(done: subprocess.CompletedProcess[str], *files: Path) -> None:
    for name, text in (("stdout", done.stdout), ("stderr", done.stderr)):
        assert SECRET not in text, f"{name} leaks the password:\n{text}"
    for path in files:
        assert SECRET not in path.read_text(), f"{path} leaks the password"


@pytest.fixture(scope="module")
def repo(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repo(template_repo, tmp_path_factory.mktemp("secrets") / "repo")


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("gate", "credit"),
        ("score", "credit", "--stage", "production", "--input", "data/german_credit.csv", "--output", "scores"),
    ],
    ids=["status", "gate", "score"],
)
def test_an_unreachable_server_is_named_without_its_password(
    repo: Path, tmp_path: Path, args: tuple[str, ...], refused_port: int
) -> None:
    port = refused_port
    out = tmp_path / "out.json"
    done = mlgate(repo, f"http://ana:{SECRET}@127.0.0.1:{port}", *args, "--json", str(out))
    assert done.returncode == 3, done.stderr
    assert f"http://ana:***@127.0.0.1:{port}" in done.stderr, done.stderr
    assert_masked(done, out)
    assert f"127.0.0.1:{port}" in out.read_text()


def test_a_reachable_server_with_credentials_never_shows_them(repo: Path, mlflow_server: str, tmp_path: Path) -> None:
    host = mlflow_server.removeprefix("http://")
    uri = f"http://ana:{SECRET}@{host}"
    trained = tmp_path / "trained.json"
    done = mlgate(repo, uri, "train", "credit", "--json", str(trained))
    assert done.returncode == 0, done.stderr
    assert_masked(done, trained)
    version = json.loads(trained.read_text())["version"]
    assert json.loads(trained.read_text())["tracking_uri"] == f"http://ana:***@{host}"
    verdict_path = tmp_path / "verdict.json"
    done = mlgate(repo, uri, "gate", "credit", "--version", str(version), "--json", str(verdict_path))
    assert done.returncode in (0, 1), done.stderr
    assert_masked(done, verdict_path)
    verdict = json.loads(verdict_path.read_text())
    assert verdict["lineage"]["run_url"].startswith(f"http://ana:***@{host}/#/experiments/")
    # the copy attached to the version in MLflow too
    registry = Registry(repo, mlflow_server)
    stored = registry.read_verdict("credit", version)
    assert stored is not None
    assert SECRET not in json.dumps(stored)
    assert stored["lineage"]["run_url"] == verdict["lineage"]["run_url"]
    # the reports rendered from it, with the registry's metadata
    reports = tmp_path / "reports"
    done = mlgate(
        repo,
        uri,
        "report",
        "credit",
        "--verdict",
        str(verdict_path),
        "--markdown",
        str(reports / "r.md"),
        "--html",
        str(reports / "r.html"),
    )
    assert done.returncode == 0, done.stderr
    assert_masked(done, reports / "r.md", reports / "r.html")
    assert f"ana:***@{host}" in (reports / "r.html").read_text()
    done = mlgate(repo, uri, "status", "--json", str(tmp_path / "status.json"))
    assert done.returncode == 0, done.stderr
    assert_masked(done, tmp_path / "status.json")


@pytest.mark.parametrize(
    ("key", "block"),
    [
        (
            "monitoring -> sources -> audit_url",
            "  sources:\n    audit_url: postgresql://mlgate:{s}@db.internal/audit\n",
        ),
        ("serving -> audit_url", "serving:\n  audit_url: postgresql://mlgate:{s}@db.internal/audit\n"),
        (
            "monitoring -> labels -> url",
            (
                "  labels:\n    url: postgresql://u:{s}@db/x\n    table: outcomes\n"
                "    id_columns: [request_id, row]\n    label_column: risk\n"
            ),
        ),
    ],
)
def test_validate_refuses_a_password_in_a_spec_url(governed_repo: Path, cli: CliRunner, key: str, block: str) -> None:
    spec = governed_repo / "models/credit/model.yaml"
    lines = spec.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("  rollback_procedure:")) + 1
    spec.write_text("".join([*lines[:at], block.format(s=SECRET), *lines[at:]]))
    line = at + 2
    result = invoke(cli, "validate", cwd=governed_repo)
    assert result.exit_code == 2, result.output
    [problem] = [p for p in result.stderr.splitlines() if "models/credit/model.yaml" in p]
    assert problem.startswith(f"error: models/credit/model.yaml:{line}:"), problem
    assert f": {key}: the URL holds a password" in problem
    assert "PGPASSWORD or ~/.pgpass" in problem
    assert SECRET not in result.output


def test_log_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    """MLflow's and urllib3's log lines may quote the tracking URI: the CLI and serve mask every record."""
    import logging

    factory = logging.getLogRecordFactory()
    # caplog's handler on the logger itself: once mlflow is imported its logger does not propagate
    # to the root (mlflow's own logging set-up), so whether root sees it depends on test order
    logger = logging.getLogger("mlflow.utils.rest_utils")
    logger.addHandler(caplog.handler)
    try:
        mask_logs()
        with caplog.at_level(logging.WARNING, logger=logger.name):
            logger.warning("API request to %s failed", f"http://ana:{SECRET}@h/a")
    finally:
        logging.setLogRecordFactory(factory)
        logger.removeHandler(caplog.handler)
    assert "API request to http://ana:***@h/a failed" in caplog.text
    assert SECRET not in caplog.text
