"""Writes a reader can trust, under a real fault: a proxy in front of the real `mlflow server`
answers 503 to chosen requests, mid-way through `mlgate gate` and `mlgate train`.

- A verdict is committed by ONE version tag (``mlgate.gates``) written after its artifact: a
  failed re-gate leaves the previous verdict readable and consistent.
- A trained version is complete only once ``mlgate.train.complete`` is written, last: an
  interrupted one exits 3 and `mlgate gate` refuses it (exit 2) until it is retrained.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import git, invoke
from faulty_proxy import FaultyProxy
from mlgate.config import TRAIN_COMPLETE_TAG, incomplete_reason
from mlgate.exceptions import RegistryUnavailable
from mlgate.registry import VERDICT_TAG, IncompleteVerdict, Registry

pytestmark = pytest.mark.server

MODEL = "insurance"
SET_VERSION_TAG = r"/api/2\.0/mlflow/model-versions/set-tag"


@pytest.fixture
def proxy(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyProxy]:
    """The proxy in front of the session's server; mlgate talks to the proxy."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    with FaultyProxy(mlflow_server) as faulty:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", faulty.url)
        yield faulty


def mlgate(repo: Path, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    out = repo.parent / f"out-{len(list(repo.parent.glob('out-*')))}.json"
    result = invoke(CliRunner(), *args, "--json", str(out), cwd=repo)
    payload = json.loads(out.read_text()) if out.exists() else None
    return result.exit_code, payload, result.output


def direct(repo: Path, server: str) -> Registry:
    """The registry as the real server has it, bypassing the proxy."""
    return Registry(repo, server)


def test_outage_while_attaching_keeps_the_previous_verdict_whole(
    governed_repo: Path, mlflow_server: str, proxy: FaultyProxy
) -> None:
    repo = governed_repo
    code, trained, output = mlgate(repo, "train", MODEL)
    assert code == 0, output
    version = trained["version"]
    code, first, output = mlgate(repo, "gate", MODEL, "--version", str(version))
    assert code in (0, 1), output
    registry = direct(repo, mlflow_server)
    old_tag = registry.version(MODEL, version).tags[VERDICT_TAG]
    assert len(old_tag) < 1000
    assert registry.read_verdict(MODEL, version) == first

    policy = repo / "policies/default.yaml"
    assert policy.read_text().count("max: 3500") == 1
    policy.write_text(policy.read_text().replace("max: 3500", "max: 3600"))
    git("commit", "-qam", "looser mae threshold", cwd=repo)

    proxy.fail(SET_VERSION_TAG)
    code, _, output = mlgate(repo, "gate", MODEL, "--version", str(version))
    assert code == 3, output
    assert "did not answer" in output
    assert [s.path for s in proxy.failed] == ["/api/2.0/mlflow/model-versions/set-tag"] * 2  # try + 1 retry
    proxy.disarm()

    # The new verdict's artifact was stored (artifact first) but never committed by the tag.
    run_id = trained["run_id"]
    stored = [a.path for a in registry.client.list_artifacts(run_id, "mlgate/verdicts")]
    assert len(stored) == 2
    tags = registry.version(MODEL, version).tags
    assert tags[VERDICT_TAG] == old_tag
    record = json.loads(old_tag)
    verdict = registry.read_verdict(MODEL, version)
    assert verdict == first
    assert record["policy_sha256"] == first["policy"]["sha256"] == trained["lineage"]["policy_sha256"]
    assert record["status"] == first["status"]
    assert record["families"] == first["families"]
    raw = registry.read_artifact(run_id, record["verdict"])
    assert raw is not None
    assert hashlib.sha256(raw).hexdigest() == record["sha256"]
    assert not any(k.startswith(VERDICT_TAG + ".") for k in tags), "no per-field verdict tags"

    # A reader in an outage is told so (exit 3), not that the verdict is missing (exit 2).
    proxy.fail(r"/verdicts/[^?]*\.json$")  # downloads of verdict files; listing still works
    with pytest.raises(RegistryUnavailable, match="download mlgate/verdicts/"):
        Registry(repo, proxy.url).read_verdict(MODEL, version)
    assert proxy.failed[-1].method == "GET"
    proxy.disarm()

    # Once MLflow answers, the re-gate commits the new verdict under the changed policy.
    code, second, output = mlgate(repo, "gate", MODEL, "--version", str(version))
    assert code in (0, 1), output
    assert second["policy"]["sha256"] != first["policy"]["sha256"]
    assert registry.read_verdict(MODEL, version) == second
    assert json.loads(registry.version(MODEL, version).tags[VERDICT_TAG])["policy_sha256"] == second["policy"]["sha256"]


def test_a_verdict_tag_that_disagrees_with_its_artifact_is_refused(
    governed_repo: Path, mlflow_server: str, proxy: FaultyProxy
) -> None:
    repo = governed_repo
    code, trained, output = mlgate(repo, "train", MODEL)
    assert code == 0, output
    version = trained["version"]
    registry = direct(repo, mlflow_server)
    assert registry.read_verdict(MODEL, version) is None  # never gated
    code, _, output = mlgate(repo, "gate", MODEL, "--version", str(version))
    assert code in (0, 1), output
    record = json.loads(registry.version(MODEL, version).tags[VERDICT_TAG])

    def tag(**changes: Any) -> None:
        registry.set_version_tags(MODEL, version, {VERDICT_TAG: json.dumps(record | changes)})

    tag(status="pass" if record["status"] != "pass" else "fail", sha256=record["sha256"])
    with pytest.raises(IncompleteVerdict, match="disagree on status"):
        registry.read_verdict(MODEL, version)
    tag(policy_sha256="0" * 64)
    with pytest.raises(IncompleteVerdict, match="disagree on policy sha256"):
        registry.read_verdict(MODEL, version)
    tag(sha256="0" * 64)
    with pytest.raises(IncompleteVerdict, match="has sha256"):
        registry.read_verdict(MODEL, version)
    tag(verdict="mlgate/verdicts/never-written.json")
    with pytest.raises(IncompleteVerdict, match="is missing"):
        registry.read_verdict(MODEL, version)
    # bytes that match the tag's sha256 but are no JSON object: refused, never returned as a verdict
    payload = json.dumps(["pass"])
    registry.attach_json(registry.version(MODEL, version).run_id, payload, "mlgate/verdicts/a-list.json")
    tag(verdict="mlgate/verdicts/a-list.json", sha256=hashlib.sha256(payload.encode()).hexdigest())
    with pytest.raises(IncompleteVerdict, match="disagree on its shape"):
        registry.read_verdict(MODEL, version)
    registry.set_version_tags(MODEL, version, {VERDICT_TAG: "pass"})
    with pytest.raises(IncompleteVerdict, match="not an mlgate verdict record") as err:
        registry.read_verdict(MODEL, version)
    assert err.value.exit_code == 2


def test_outage_while_training_leaves_an_incomplete_version_that_gate_refuses(
    governed_repo: Path, mlflow_server: str, proxy: FaultyProxy
) -> None:
    repo = governed_repo
    registry = direct(repo, mlflow_server)
    before = registry.latest_version(MODEL) or 0
    proxy.fail(SET_VERSION_TAG)  # the version is created (with its lineage), then tagged complete
    code, _, output = mlgate(repo, "train", MODEL)
    assert code == 3, output
    version = before + 1
    assert f"{MODEL} v{version} was registered but not marked complete" in output
    assert "did not answer after 1 retries" in output
    proxy.disarm()

    mv = registry.version(MODEL, version)
    tags = dict(mv.tags)
    assert TRAIN_COMPLETE_TAG not in tags
    assert tags["mlgate.lineage"] == "mlgate"
    assert tags["mlgate.git.commit"] == git("rev-parse", "HEAD", cwd=repo).strip()
    assert registry.run_status(mv.run_id) == "FINISHED"
    assert incomplete_reason(tags, "FINISHED") == f"no {TRAIN_COMPLETE_TAG} tag: training was interrupted"

    for args in (("--version", str(version)), ()):  # named, and as the latest version
        code, verdict, output = mlgate(repo, "gate", MODEL, *args)
        assert code == 2, output
        assert verdict is not None
        assert (verdict["ok"], verdict["exit_code"]) == (False, 2)
        assert f"{MODEL} v{version} is incomplete (no {TRAIN_COMPLETE_TAG} tag" in output
        assert f"mlgate train {MODEL}" in output
    assert VERDICT_TAG not in registry.version(MODEL, version).tags

    # Retraining gives a complete version that gates.
    code, trained, output = mlgate(repo, "train", MODEL)
    assert code == 0, output
    assert registry.version(MODEL, trained["version"]).tags[TRAIN_COMPLETE_TAG] == "true"
    code, _, output = mlgate(repo, "gate", MODEL, "--version", str(trained["version"]))
    assert code in (0, 1), output


def test_incomplete_reason() -> None:
    mlgate_tags = {"mlgate.git.commit": "abc", "mlgate.lineage": "mlgate"}
    assert incomplete_reason(mlgate_tags | {TRAIN_COMPLETE_TAG: "true"}, "FINISHED") == ""
    assert incomplete_reason(mlgate_tags, "FINISHED") == f"no {TRAIN_COMPLETE_TAG} tag: training was interrupted"
    assert incomplete_reason(mlgate_tags | {TRAIN_COMPLETE_TAG: "true"}, "RUNNING") == (
        "training did not finish: run status RUNNING"
    )
    assert incomplete_reason({"mlgate.git.commit": "abc"}, "FAILED").startswith("training did not finish")
    assert incomplete_reason({}, "") == ""  # registered by hand: nothing to complete
    # `mlgate register` writes its complete tag last too: without it the registration was cut short
    assert (
        incomplete_reason({"mlgate.lineage": "external"}, "")
        == f"no {TRAIN_COMPLETE_TAG} tag: registration was interrupted"
    )
    assert incomplete_reason({"mlgate.lineage": "external", TRAIN_COMPLETE_TAG: "true"}, "") == ""
    assert incomplete_reason({"mlgate.lineage": "someone-else"}, "") == ""  # not mlgate's record
