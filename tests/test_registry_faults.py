"""Registry failures are classed by MLflow's error codes and HTTP statuses, never by words in a message.

A model called ``credit2504`` that does not exist is "not found" (exit 2 where the CLI says so),
not a 504; a 502/503/504 from a proxy in front of a real `mlflow server` is an outage (exit 3,
with the status as the reason); a 404 from that proxy is not an outage. Plus the registry
benchmark, run small so it cannot rot.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PROJECT, git, invoke
from faulty_proxy import FaultyProxy
from mlgate.exceptions import RegistryUnavailable
from mlgate.registry import Registry, outage_reason

pytestmark = pytest.mark.server

LOOKALIKE = "credit2504"  # "504" inside a model name
RUN_ID = "0503" * 8  # "503" inside a run id


@pytest.fixture
def proxy(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyProxy]:
    """The proxy in front of the session's server; one retry, no backoff."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    with FaultyProxy(mlflow_server) as faulty:
        yield faulty


def lookalike_repo(governed_repo: Path) -> Path:
    """The governed repo with the insurance example renamed credit2504, asking for v1 in staging."""
    repo = governed_repo
    (repo / "models" / "insurance").rename(repo / "models" / LOOKALIKE)
    for rel, before, after in (
        (f"models/{LOOKALIKE}/model.yaml", "name: insurance", f"name: {LOOKALIKE}"),
        ("params.yaml", "\ninsurance:", f"\n{LOOKALIKE}:"),
        (f"models/{LOOKALIKE}/release.yaml", "model: insurance", f"model: {LOOKALIKE}"),
        (f"models/{LOOKALIKE}/release.yaml", "staging: null", "staging: 1"),
    ):
        path = repo / rel
        assert before in path.read_text(), rel
        path.write_text(path.read_text().replace(before, after, 1))
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", f"a model called {LOOKALIKE}", cwd=repo)
    return repo


def mlgate(repo: Path, *args: str) -> tuple[int, object, str]:
    out = repo.parent / "out.json"
    out.unlink(missing_ok=True)
    result = invoke(CliRunner(), *args, "--json", str(out), cwd=repo)
    return result.exit_code, json.loads(out.read_text()) if out.exists() else None, result.output


# --------------------------------------------------------------------------- not found is not an outage


def test_missing_names_that_contain_status_codes_are_not_found(mlflow_server: str, tmp_path: Path) -> None:
    from mlflow.exceptions import MlflowException

    registry = Registry(tmp_path, mlflow_server)
    assert registry.alias_version(LOOKALIKE, "staging") is None
    with pytest.raises(MlflowException) as err:
        registry.version(LOOKALIKE, 1)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert LOOKALIKE in str(err.value)  # the message names it; the class, not the text, decides
    with pytest.raises(MlflowException) as err:
        registry.run_status(RUN_ID)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    registry.delete_alias(LOOKALIKE, "staging")  # nothing to delete: not an error either
    assert registry.aliases([LOOKALIKE]) == {}
    assert registry.versions_of([LOOKALIKE]) == {LOOKALIKE: []}


def test_cli_says_not_found_for_a_lookalike_model(
    governed_repo: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    repo = lookalike_repo(governed_repo)

    code, _, output = mlgate(repo, "promote", "--plan")
    assert code == 2, output
    assert f"asks for {LOOKALIKE} v1, which is not registered" in output

    code, _, output = mlgate(repo, "rollback", LOOKALIKE, "--stage", "staging")
    assert code == 2, output
    assert f"{LOOKALIKE} has no version in staging" in output

    code, rows, output = mlgate(repo, "status")
    assert code == 0, output
    missing = {"model": LOOKALIKE, "stage": "staging", "desired": 1, "actual": None, "digest": None}
    assert missing | {"status": "Missing", "detail": "", "arm": "stable", "traffic": None} in rows


# --------------------------------------------------------------------------- outages


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_5xx_on_a_read_is_an_outage_with_its_status(proxy: FaultyProxy, tmp_path: Path, status: int) -> None:
    proxy.fail(r"/registered-models/alias", status=status)
    with pytest.raises(RegistryUnavailable) as err:
        Registry(tmp_path, proxy.url).alias_version(LOOKALIKE, "staging")
    assert err.value.exit_code == 3
    assert f"read alias staging of {LOOKALIKE}: MLflow at {proxy.url} did not answer after 1 retries" in str(err.value)
    assert f"(HTTP {status} after retries)" in str(err.value)
    assert [s.status for s in proxy.failed] == [status, status]  # the try and one retry


def test_status_in_an_outage_exits_3_with_the_reason(
    governed_repo: Path, proxy: FaultyProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.url)
    proxy.fail(r"/registered-models/search")
    code, payload, output = mlgate(governed_repo, "status")
    assert code == 3, output
    assert "HTTP 503 after retries" in output
    assert isinstance(payload, dict)
    assert payload["exit_code"] == 3


def test_a_404_from_the_proxy_is_not_an_outage(proxy: FaultyProxy, tmp_path: Path) -> None:
    from mlflow.exceptions import MlflowException

    registry = Registry(tmp_path, proxy.url)
    proxy.fail(r"/model-versions/get\b", status=404)  # a gateway's "404 Not Found" page
    with pytest.raises(MlflowException) as err:
        registry.version(LOOKALIKE, 1)
    assert not isinstance(err.value, RegistryUnavailable)
    assert err.value.get_http_status_code() == 404
    assert [s.status for s in proxy.failed] == [404]  # not retried either

    # MLflow's own "not found" answer, with status-like numbers in its message
    body = json.dumps(
        {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no alias (502 503 504, Connection refused)"}
    )
    proxy.fail(r"/registered-models/alias", status=404, body=body.encode())
    assert registry.alias_version(LOOKALIKE, "staging") is None


def test_connection_refused_is_an_outage(tmp_path: Path, refused_port: int) -> None:
    url = f"http://127.0.0.1:{refused_port}"
    with pytest.raises(RegistryUnavailable, match=r"did not answer after \d+ retries \(connection refused\)"):
        Registry(tmp_path, url).aliases(["credit"])


def test_classes_come_from_codes_not_messages() -> None:
    from mlflow.exceptions import MlflowException, RestException

    noisy = "Registered Model with name=credit2504 not found (502, 503, 504, Max retries exceeded, Read timed out)"
    assert outage_reason(RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": noisy})) == ""
    assert outage_reason(MlflowException(noisy)) == ""  # MLflow's default code, nothing underneath
    assert outage_reason(RestException({"error_code": "INVALID_PARAMETER_VALUE", "message": noisy})) == ""
    assert (
        outage_reason(RestException({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "x"}))
        == "TEMPORARILY_UNAVAILABLE, HTTP 503"
    )
    assert (
        outage_reason(RestException({"error_code": "INTERNAL_ERROR", "message": "x"}))
        == "INTERNAL_ERROR from the server, HTTP 500"
    )
    assert outage_reason(ValueError(noisy)) == ""


# --------------------------------------------------------------------------- the benchmark


def test_registry_benchmark_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(PROJECT / "benchmarks" / "registry.py"), "--models", "5", "--pairs", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    number = r"\d+(?:\.\d+)?"
    sides = " ".join(f"{side}_s={number} {side}_mb={number} {side}_self_mb={number}" for side in ("status", "anchor"))
    assert re.fullmatch(rf"models=5 {sides} ratio={number}", last), last
    assert "status: 10 rows, all Synced: True" in done.stdout


# --------------------------------------------------------------------------- racing writes

UNIQUE = json.dumps(
    {
        "error_code": "BAD_REQUEST",
        "message": "(sqlite3.IntegrityError) UNIQUE constraint failed: model_version_tags.key",
    }
).encode()


def test_a_tag_write_that_collides_with_a_concurrent_twin_is_repeated(proxy: FaultyProxy, tmp_path: Path) -> None:
    """Two applies racing set the same tag; the SQL store answers the second insert with
    BAD_REQUEST. Writing the same value again is an update, so the write is repeated."""
    registry = Registry(tmp_path, proxy.url)
    name = f"race{uuid.uuid4().hex[:12]}"  # its own model on the shared server
    registry.client.create_registered_model(name)
    registry.client.create_model_version(name, source="s3://nowhere/model")  # never read
    proxy.fail(r"/model-versions/set-tag", status=400, body=UNIQUE, times=1)
    registry.set_version_tags(name, 1, {"mlgate.pr": "7"})
    assert [s.status for s in proxy.failed] == [400]
    assert registry.version(name, 1).tags["mlgate.pr"] == "7"
    # a request that is bad every time is not retried forever
    from mlflow.exceptions import MlflowException

    proxy.fail(r"/model-versions/set-tag", status=400, body=UNIQUE)
    with pytest.raises(MlflowException, match="UNIQUE constraint"):
        registry.set_version_tags(name, 1, {"mlgate.pr": "8"})
    assert len(proxy.failed) == 1 + 3


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MLFLOW_TRACKING_TOKEN": "tok-9f1e"}, "check MLFLOW_TRACKING_TOKEN"),
        ({"MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": "pw-3c7a"}, "MLFLOW_TRACKING_USERNAME and"),
        ({"MLFLOW_TRACKING_URI": "https://ci:pw-3c7a@mlflow.invalid"}, "the user:password in MLFLOW_TRACKING_URI"),
        ({}, "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"),
    ],
)
def test_a_refused_mlflow_credential_names_the_variable_in_use_never_its_value(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    """The hint follows what the job set (the server-backed cases are in tests/test_topology.py)."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, UNAUTHENTICATED

    from mlgate.registry import credentials_refused

    for key in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    refused = credentials_refused(MlflowException("You are not authenticated.", error_code=UNAUTHENTICATED))
    assert refused is not None
    reason, hint = refused
    assert reason == "the MLflow server refused the credentials (HTTP 401 UNAUTHENTICATED)"
    assert named in hint
    assert "tok-9f1e" not in hint
    assert "pw-3c7a" not in hint
    assert credentials_refused(MlflowException("no such model", error_code=RESOURCE_DOES_NOT_EXIST)) is None
