"""The chain of custody after the merge: the attacks of issue #20, each tried against a real `mlflow server`.

A server of this module's own (its artifact root is a folder the test can write, as an attacker
with write access to the artifact store can); credit is trained twice for real. What is tried:

- replacing a promoted version's bytes in the artifact store (v1's model.skops copied over v2's);
- moving an alias with MLflow's own client, outside any merge;
- forging an ``mlgate-audit`` run so that a version looks as if it "held the stage before";
- pinning the wrong digest, or none, in a promotion PR.

Each must be refused by score, serve, gate, monitor, status and the promotion plan as the brief says.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import copy_repo, git, github_stand_in, invoke, promoted
from mlgate.config import entry_at, set_stage
from mlgate.promotion import make_plan
from mlgate.registry import ARTIFACT_DIGEST_TAG, ARTIFACT_FILES_TAG, Registry, audit, folder_digest
from mlgate_devkit.mlflow_server import start_mlflow_server, stop_mlflow_server
from mlgate_devkit.serve_process import ServeProcess, start_serve

pytestmark = pytest.mark.server

FEATURES = ["credit_amount", "duration", "age", "job", "housing", "saving_accounts", "checking_account", "purpose"]
TOKEN = "custody-token-5b1e9d07a3c4f268"
POLL = 0.5


@pytest.fixture(scope="module")
def world(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server whose artifact root the test can tamper with; credit v1 and v2 trained for real."""
    base = tmp_path_factory.mktemp("custody")
    url, proc = start_mlflow_server(base / "server")
    try:
        repo = copy_repo(template_repo, base / "repo")
        versions = []
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_TRACKING_URI", url)
            for _ in range(2):
                done = invoke(CliRunner(), "train", "credit", "--json", "-", cwd=repo)
                assert done.exit_code == 0, done.output
                versions.append(json.loads(done.stdout)["version"])
        frame = pd.read_csv(repo / "data" / "german_credit.csv")[FEATURES].iloc[:50]
        inputs = base / "batch.csv"
        frame.to_csv(inputs, index=False)
        rows = json.loads(frame.iloc[:3].to_json(orient="records"))
        yield {
            "repo": repo,
            "uri": url,
            "artifacts": base / "server" / "artifacts",
            "versions": versions,
            "inputs": inputs,
            "rows": rows,
            "base": base,
        }
    finally:
        stop_mlflow_server(proc)


def stored_file(world: dict[str, Any], version: int, name: str = "model.skops") -> Path:
    """The file of ``credit`` v``version`` in the server's artifact root (where an attacker would write)."""
    model_id = Registry(world["repo"], world["uri"]).version("credit", version).source.removeprefix("models:/")
    found = [p for p in world["artifacts"].rglob(name) if model_id in p.parts]
    assert len(found) == 1, found
    return found[0]


class Tampered:
    """The other version's model.skops copied over v``version``'s in the artifact store; restored on exit."""

    def __init__(self, world: dict[str, Any], version: int) -> None:
        self.target = stored_file(world, version)
        other = next(v for v in world["versions"] if v != version)
        self.source = stored_file(world, other)
        self.saved = self.target.read_bytes()

    def __enter__(self) -> Self:
        shutil.copyfile(self.source, self.target)
        assert self.target.read_bytes() != self.saved
        return self

    def __exit__(self, *exc: object) -> None:
        self.target.write_bytes(self.saved)


def cli(world: dict[str, Any], *args: str, repo: Path | None = None) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", world["uri"])
        return invoke(CliRunner(), *args, cwd=repo or world["repo"])


def score(world: dict[str, Any], out: Path, *args: str, repo: Path | None = None) -> Any:
    return cli(
        world, "score", "credit", "--stage", "production", "--input", str(world["inputs"]), "--output", str(out), *args,
        repo=repo,
    )  # fmt: skip


def status(world: dict[str, Any], repo: Path | None = None) -> tuple[int, list[dict[str, Any]]]:
    done = cli(world, "status", "--check", "--json", "-", repo=repo)
    return done.exit_code, json.loads(done.stdout)


def row(rows: list[dict[str, Any]], stage: str) -> dict[str, Any]:
    return next(r for r in rows if r["model"] == "credit" and r["stage"] == stage)


def start(world: dict[str, Any], name: str) -> ServeProcess:
    return start_serve(
        world["repo"], "credit", "production", world["base"] / f"{name}.log",
        "--audit-url", f"sqlite:///{world['base'] / f'{name}.db'}", "--poll-seconds", str(POLL),
        env={"MLFLOW_TRACKING_URI": world["uri"], "MLGATE_SERVE_TOKENS": f"ops {TOKEN}"},
    )  # fmt: skip


def ready(service: ServeProcess) -> dict[str, Any]:
    return httpx.get(service.url + "/ready", timeout=10).json()


def served_version(world: dict[str, Any], service: ServeProcess) -> int:
    got = httpx.post(
        service.url + "/invocations",
        json={"instances": world["rows"]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert got.status_code == 200, got.text
    return int(got.json()["version"])


def violations(service: ServeProcess, reason: str) -> float:
    text = httpx.get(service.url + "/metrics", timeout=10).text
    line = next(
        ln for ln in text.splitlines() if ln.startswith(f'mlgate_serve_custody_violations_total{{reason="{reason}"}}')
    )
    return float(line.rsplit(" ", 1)[1])


def wait_for(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


# --------------------------------------------------------------------------- 1. digests


def test_registration_records_the_digest_of_the_stored_files(world: dict[str, Any], tmp_path: Path) -> None:
    registry = Registry(world["repo"], world["uri"])
    v1, v2 = world["versions"]
    tags = registry.version("credit", v1).tags
    found = registry.artifact_digest("credit", v1)
    assert tags[ARTIFACT_DIGEST_TAG] == found.digest
    assert json.loads(tags[ARTIFACT_FILES_TAG]) == found.files
    assert {"MLmodel", "model.skops"} <= set(found.files)
    # recomputed here by hand from the stored bytes: sha256sum lines over the sorted paths
    target = stored_file(world, v1)
    assert found.files["model.skops"] == hashlib.sha256(target.read_bytes()).hexdigest()
    manifest = "".join(f"{sha}  {path}\n" for path, sha in sorted(found.files.items()))
    assert found.digest == "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    # one byte differs, the digest differs; a folder with the same bytes has the same digest
    copy = tmp_path / "copy"
    shutil.copytree(target.parent, copy)
    assert folder_digest(copy).digest == found.digest
    (copy / "model.skops").write_bytes((copy / "model.skops").read_bytes() + b"\0")
    assert folder_digest(copy).digest != found.digest
    assert registry.version("credit", v2).tags[ARTIFACT_DIGEST_TAG] != found.digest  # two fits, two digests


def test_the_verdict_carries_the_digest_of_the_bytes_the_gate_loaded(world: dict[str, Any], tmp_path: Path) -> None:
    v1 = world["versions"][0]
    done = cli(world, "gate", "credit", "--version", str(v1), "--json", str(tmp_path / "verdict.json"))
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    found = Registry(world["repo"], world["uri"]).artifact_digest("credit", v1)
    assert verdict["artifact"] == found.as_dict()
    report = cli(
        world, "report", "credit", "--verdict", str(tmp_path / "verdict.json"), "--markdown", str(tmp_path / "r.md")
    )
    assert report.exit_code == 0, report.output
    assert f"| Model files | digest `{found.digest}` ({len(found.files)} files" in (tmp_path / "r.md").read_text()
    assert done.exit_code in (0, 1)


def test_gating_replaced_bytes_exits_1_naming_the_file(world: dict[str, Any]) -> None:
    v2 = world["versions"][1]
    with Tampered(world, v2):
        done = cli(world, "gate", "credit", "--version", str(v2))
    assert done.exit_code == 1, done.output
    assert "model.skops" in done.stderr
    assert "MLmodel" not in done.stderr.split("differ from the registered ones:")[1]  # only the file that differs
    assert (
        Registry(world["repo"], world["uri"]).version("credit", v2).tags.get("mlgate.gates") is None
    )  # nothing attached


# --------------------------------------------------------------------------- 2. pinned in git


def test_propose_promotion_writes_the_digest_it_computed_and_keeps_comments(
    world: dict[str, Any], tmp_path: Path
) -> None:
    repo = copy_repo(world["repo"], tmp_path / "repo")
    release = repo / "models" / "credit" / "release.yaml"
    release.write_text("# who: risk team\nmodel: credit\nstages:\n  staging: null  # next\n  production: null\n")
    v1 = world["versions"][0]
    done = cli(
        world, "propose-promotion", "credit", "--version", str(v1), "--stage", "staging", "--json", "-", repo=repo
    )
    assert done.exit_code == 0, done.output
    digest = Registry(repo, world["uri"]).artifact_digest("credit", v1).digest
    assert json.loads(done.stdout)["digest"] == digest
    assert release.read_text() == (
        f'# who: risk team\nmodel: credit\nstages:\n  staging: {{version: {v1}, digest: "{digest}"}} # next\n'
        "  production: null\n"
    )
    git("commit", "-qam", "propose", cwd=repo)
    entry = entry_at(repo, "credit", "staging", "HEAD")
    assert (entry.version, entry.digest) == (v1, digest)


def test_propose_promotion_refuses_bytes_that_changed_since_registration(world: dict[str, Any], tmp_path: Path) -> None:
    repo = copy_repo(world["repo"], tmp_path / "repo")
    v2 = world["versions"][1]
    with Tampered(world, v2):
        done = cli(world, "propose-promotion", "credit", "--version", str(v2), "--stage", "staging", repo=repo)
    assert done.exit_code == 1
    assert "model.skops" in done.stderr


def test_a_bad_digest_in_release_yaml_exits_2_with_file_line_and_key(world: dict[str, Any], tmp_path: Path) -> None:
    repo = copy_repo(world["repo"], tmp_path / "repo")
    release = repo / "models" / "credit" / "release.yaml"
    release.write_text("model: credit\nstages:\n  staging: null\n  production: {version: 1, digest: md5:abc}\n")
    done = cli(world, "validate", repo=repo)
    assert done.exit_code == 2
    assert "models/credit/release.yaml:4:" in done.stderr
    assert "stages -> production -> digest: expected sha256:<64 lowercase hex digits>" in done.stderr


def plan_on_pr(world: dict[str, Any], repo: Path, production: str) -> Any:
    """A PR branch whose release.yaml says ``production: <production>`` (staging at v2), planned against main."""
    v2 = world["versions"][1]
    registry = Registry(repo, world["uri"])
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    git("switch", "-qc", "promote", cwd=repo)
    release = repo / "models" / "credit" / "release.yaml"
    text = release.read_text()
    head, _sep, _rest = text.partition("  production:")
    release.write_text(f"{head}  production: {production}\n")
    git("commit", "-qam", "promote", cwd=repo)
    return make_plan(repo, registry, policy_ref=base), v2


def test_a_plan_blocks_a_wrong_digest_and_an_unpinned_change(world: dict[str, Any], tmp_path: Path) -> None:
    v1, v2 = world["versions"]
    base_repo = copy_repo(world["repo"], tmp_path / "base")
    promoted(base_repo, world["uri"], "credit", "staging", v2, alias=False)
    wrong = Registry(base_repo, world["uri"]).artifact_digest("credit", v1).digest  # a real digest, of other files
    plan, v2 = plan_on_pr(world, copy_repo(base_repo, tmp_path / "wrong"), f'{{version: {v2}, digest: "{wrong}"}}')
    [change] = [c for c in plan.changes if c.stage == "production"]
    checks = {c.name: c for c in change.checks}
    assert not change.ok
    assert not checks["digest"].ok
    assert wrong in checks["digest"].detail
    assert "the pinned digest is not this version's" in checks["digest"].detail  # v2's files are intact
    assert not checks["gates"].ok
    assert "not run" in checks["gates"].detail

    plan, v2 = plan_on_pr(world, copy_repo(base_repo, tmp_path / "legacy"), str(v2))
    [change] = [c for c in plan.changes if c.stage == "production"]
    checks = {c.name: c for c in change.checks}
    assert not checks["digest"].ok
    assert "mlgate pin credit --stage production" in checks["digest"].detail

    right = Registry(base_repo, world["uri"]).artifact_digest("credit", v2).digest
    plan, v2 = plan_on_pr(world, copy_repo(base_repo, tmp_path / "right"), f'{{version: {v2}, digest: "{right}"}}')
    [change] = [c for c in plan.changes if c.stage == "production"]
    checks = {c.name: c for c in change.checks}
    assert checks["digest"].ok, checks["digest"].detail  # the control: the same plan passes the pinned bytes
    assert change.verdict is not None
    assert change.verdict.artifact["digest"] == right


def test_mlgate_pin_migrates_a_legacy_release_for_a_pull_request(world: dict[str, Any], tmp_path: Path) -> None:
    repo = copy_repo(world["repo"], tmp_path / "repo")
    v1 = world["versions"][0]
    set_stage(repo, "credit", "staging", v1)
    assert "staging: 1\n" in (repo / "models" / "credit" / "release.yaml").read_text().replace(f"{v1}\n", "1\n")
    done = cli(world, "pin", "credit", "--json", "-", repo=repo)
    assert done.exit_code == 0, done.output
    rows = {r["stage"]: r for r in json.loads(done.stdout)}
    digest = Registry(repo, world["uri"]).artifact_digest("credit", v1).digest
    assert rows["staging"] == {"stage": "staging", "version": v1, "digest": digest, "pinned": True}
    assert rows["production"]["pinned"] is False
    assert (
        f'staging: {{version: {v1}, digest: "{digest}"}}' in (repo / "models" / "credit" / "release.yaml").read_text()
    )
    assert git("status", "--porcelain", cwd=repo).strip() == "M models/credit/release.yaml"  # for a PR, not committed


# --------------------------------------------------------------------------- 3-4. after the merge


@pytest.fixture(scope="module")
def production(world: dict[str, Any]) -> dict[str, Any]:
    """production at v1, pinned in release.yaml and committed, its alias set: the promoted state."""
    v1 = world["versions"][0]
    digest = promoted(world["repo"], world["uri"], "credit", "production", v1)
    return {"version": v1, "digest": digest}


def test_a_pin_pull_request_is_checked_against_the_stored_files(
    world: dict[str, Any], production: dict[str, Any], tmp_path: Path
) -> None:
    repo = copy_repo(world["repo"], tmp_path / "repo")
    v1, v2 = world["versions"]
    set_stage(repo, "credit", "production", v1)  # the legacy release this repo had
    git("commit", "-qam", "legacy release", cwd=repo)
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    git("switch", "-qc", "pin", cwd=repo)
    assert cli(world, "pin", "credit", "--stage", "production", repo=repo).exit_code == 0
    git("commit", "-qam", "pin production", cwd=repo)
    registry = Registry(repo, world["uri"])
    [change] = make_plan(repo, registry, policy_ref=base).changes
    assert (change.stage, change.current, change.desired, change.ok) == ("production", v1, v1, True)
    assert [c.name for c in change.checks] == ["digest"]  # the version already passed its promotion
    wrong = registry.artifact_digest("credit", v2).digest
    set_stage(repo, "credit", "production", v1, wrong)
    git("commit", "-qam", "pin production to another version's files", cwd=repo)
    [change] = make_plan(repo, registry, policy_ref=base).changes
    assert not change.ok
    assert wrong in change.checks[0].detail
    assert production["digest"] in change.checks[0].detail  # what v1's stored files have


def test_score_uses_the_pinned_version_and_refuses_replaced_bytes(
    world: dict[str, Any], production: dict[str, Any], tmp_path: Path
) -> None:
    good = score(world, tmp_path / "good", "--json", "-")
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["version"] == production["version"]
    v2 = world["versions"][1]
    stored = stored_file(world, production["version"])
    saved = stored.read_bytes()
    shutil.copyfile(stored_file(world, v2), stored)  # the attack: another model's bytes under v1's number
    try:
        bad = score(world, tmp_path / "bad")
        code, rows = status(world)
    finally:
        stored.write_bytes(saved)
    assert bad.exit_code == 1, bad.output
    assert "model.skops" in bad.stderr
    assert production["digest"] in bad.stderr  # expected vs found, named
    assert "release.yaml at HEAD" in bad.stderr
    assert not (tmp_path / "bad").exists()  # nothing scored
    assert code == 1
    assert row(rows, "production")["status"] == "Tampered"
    assert "model.skops" in row(rows, "production")["detail"]
    code, rows = status(world)  # restored: the same check is green again
    assert row(rows, "production")["status"] == "Synced"


def test_the_custody_check_keeps_one_issue_open_while_a_stage_is_tampered(
    world: dict[str, Any], production: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with github_stand_in(monkeypatch, "ghs_FAKE_custody_token_0123456789abcdef", "octo-org/models") as fake:
        with Tampered(world, production["version"]):
            first = cli(world, "status", "--check", "--alert")
            again = cli(world, "status", "--check", "--alert")
            [issue] = fake.open_issues()
            assert "Tampered" in issue["body"]
            assert {label["name"] for label in issue["labels"]} == {"mlgate", "custody", "blocking"}
        restored = cli(world, "status", "--check", "--alert")
        assert fake.open_issues() == []
    assert first.exit_code == again.exit_code == 1
    assert "custody issue: opened" in first.stderr
    assert "custody issue: unchanged" in again.stderr  # no noise while nothing changes
    assert restored.exit_code == 0, restored.output
    assert "custody issue: closed" in restored.stderr


def test_score_refuses_an_alias_moved_outside_a_promotion(
    world: dict[str, Any], production: dict[str, Any], tmp_path: Path
) -> None:
    v2 = world["versions"][1]
    client = Registry(world["repo"], world["uri"]).client
    client.set_registered_model_alias("credit", "production", str(v2))  # the attack, with MLflow's own client
    try:
        done = score(world, tmp_path / "out")
        code, rows = status(world)
    finally:
        client.set_registered_model_alias("credit", "production", str(production["version"]))
    assert done.exit_code == 1, done.output
    assert f"asks for v{production['version']} in production" in done.stderr
    assert f"points at v{v2}" in done.stderr
    assert "mlgate promote --apply" in done.stderr
    assert not (tmp_path / "out").exists()
    assert code == 1
    assert row(rows, "production")["status"] == "MovedOutOfBand"


def test_score_reads_release_yaml_as_committed_and_refuses_an_unpinned_stage(
    world: dict[str, Any], production: dict[str, Any], tmp_path: Path
) -> None:
    repo = copy_repo(world["repo"], tmp_path / "repo")
    v2 = world["versions"][1]
    set_stage(repo, "credit", "production", v2)  # a working-tree edit: not what anyone merged
    edited = score(world, tmp_path / "edited", "--json", "-", repo=repo)
    assert edited.exit_code == 0, edited.output
    assert json.loads(edited.stdout)["version"] == production["version"]
    set_stage(repo, "credit", "production", production["version"])  # legacy `production: N`, committed
    git("commit", "-qam", "unpinned", cwd=repo)
    unpinned = score(world, tmp_path / "unpinned", repo=repo)
    assert unpinned.exit_code == 1
    assert "mlgate pin credit --stage production" in unpinned.stderr
    allowed = score(world, tmp_path / "allowed", "--allow-unpinned", repo=repo)
    assert allowed.exit_code == 0, allowed.output
    assert "--allow-unpinned" in allowed.stderr  # said, not silent
    old = score(world, tmp_path / "old", "--ref", "HEAD~1", repo=repo)  # the pinned revision, by ref
    assert old.exit_code == 0, old.output


def test_monitor_refuses_a_stage_whose_alias_disagrees_with_release_yaml(
    world: dict[str, Any], production: dict[str, Any], tmp_path: Path
) -> None:
    repo = copy_repo(world["repo"], tmp_path / "repo")
    spec = repo / "models" / "credit" / "model.yaml"
    # a store that is never reached: the refusal comes first (were it not, reading it would exit 3)
    spec.write_text(spec.read_text() + "serving:\n  audit_url: postgresql://mlgate@127.0.0.1:9/audit\n")
    git("commit", "-qam", "credit: served, monitored from the audit store", cwd=repo)
    client = Registry(repo, world["uri"]).client
    client.set_registered_model_alias("credit", "production", str(world["versions"][1]))
    try:
        done = cli(world, "monitor", "credit", "--stage", "production", "--since", "1d", repo=repo)
    finally:
        client.set_registered_model_alias("credit", "production", str(production["version"]))
    assert done.exit_code == 1, done.output
    assert "release.yaml at HEAD" in done.stderr


def test_serve_refuses_to_start_on_replaced_bytes_or_a_moved_alias(
    world: dict[str, Any], production: dict[str, Any]
) -> None:
    cmd = [sys.executable, "-c", "from mlgate.cli import main; main()", "serve", "credit", "--stage", "production"]
    env = {"MLFLOW_TRACKING_URI": world["uri"], "MLGATE_SERVE_TOKENS": f"ops {TOKEN}", "PATH": "/usr/bin:/bin"}
    with Tampered(world, production["version"]):
        tampered = subprocess.run(
            cmd, cwd=world["repo"], capture_output=True, text=True, env=env, timeout=300, check=False
        )
    assert tampered.returncode == 1, tampered.stderr
    assert "model.skops" in tampered.stderr
    client = Registry(world["repo"], world["uri"]).client
    client.set_registered_model_alias("credit", "production", str(world["versions"][1]))
    try:
        moved = subprocess.run(
            cmd, cwd=world["repo"], capture_output=True, text=True, env=env, timeout=300, check=False
        )
    finally:
        client.set_registered_model_alias("credit", "production", str(production["version"]))
    assert moved.returncode == 1, moved.stderr
    assert "points at v" in moved.stderr


def test_a_running_serve_follows_merged_promotions_and_keeps_the_verified_version_under_attack(
    world: dict[str, Any], production: dict[str, Any]
) -> None:
    v1, v2 = world["versions"]
    service = start(world, "follow")
    client = Registry(world["repo"], world["uri"]).client
    try:
        assert served_version(world, service) == v1
        assert ready(service)["problems"] == []
        # a merged promotion (v2, its real files pinned) whose bytes were replaced in the store before it loaded
        real = Registry(world["repo"], world["uri"]).artifact_digest("credit", v2).digest
        with Tampered(world, v2):
            set_stage(world["repo"], "credit", "production", v2, real)
            git("commit", "-qam", "promote v2 (merged)", cwd=world["repo"])
            client.set_registered_model_alias("credit", "production", str(v2))
            wait_for(lambda: violations(service, "digest") >= 1)
            state = ready(service)
            assert state["version"] == v1
            assert state["release_version"] == v2
            assert any("model.skops" in p for p in state["problems"]), state
            assert served_version(world, service) == v1
        # the bytes restored: the merged promotion is followed within the poll interval
        wait_for(lambda: served_version(world, service) == v2)
        assert ready(service)["problems"] == []
        # the alias moved back outside git: v2 keeps serving, /ready and /metrics say so
        before = violations(service, "alias")
        client.set_registered_model_alias("credit", "production", str(v1))
        wait_for(lambda: violations(service, "alias") > before)
        state = ready(service)
        assert state["version"] == v2
        assert state["alias_version"] == v1
        assert state["release_version"] == v2
        assert any(f"asks for v{v2}" in p and f"points at v{v1}" in p for p in state["problems"]), state
        assert served_version(world, service) == v2
        metrics = httpx.get(service.url + "/metrics", timeout=10).text
        assert 'mlgate_serve_release_version{alias="production",model="credit"} ' + f"{float(v2)}" in metrics
    finally:
        service.stop()
        set_stage(world["repo"], "credit", "production", v1, production["digest"])
        git("commit", "-qam", "back to v1", cwd=world["repo"])
        client.set_registered_model_alias("credit", "production", str(v1))


# --------------------------------------------------------------------------- 5. held before: git, not the registry


def test_a_forged_audit_run_does_not_exempt_a_version_from_lineage_or_stage_order(
    world: dict[str, Any], tmp_path: Path
) -> None:
    repo = copy_repo(world["repo"], tmp_path / "repo")
    registry = Registry(repo, world["uri"])
    v1 = world["versions"][0]
    source = registry.version("credit", v1).source
    # the same files registered by hand: no lineage, never in staging
    bare = int(registry.client.create_model_version("credit", source, model_id=source.removeprefix("models:/")).version)
    digest = registry.artifact_digest("credit", bare).digest
    for stage in ("staging", "production"):  # forged records: "done", as an apply would leave them
        forged = audit.Record(
            "credit", stage, bare, None, "promote", "f" * 40, 1, ["risk-officer"], "ci", "2026-01-01T00:00:00Z"
        )
        run_id = registry.create_run(audit.EXPERIMENT, "forged", forged.tags())
        registry.finish_run(run_id, {})
    assert any(r.version == bare and r.state == "done" for r in audit.history(registry, "credit", "production"))
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    git("switch", "-qc", "promote-bare", cwd=repo)
    set_stage(repo, "credit", "production", bare, digest)
    git("commit", "-qam", "promote the bare version", cwd=repo)
    plan = make_plan(repo, registry, policy_ref=base)
    [change] = [c for c in plan.changes if c.stage == "production"]
    checks = {c.name: c for c in change.checks}
    assert not checks["lineage"].ok, checks["lineage"].detail
    assert "no mlgate lineage" in checks["lineage"].detail
    assert not checks["stage order"].ok, checks["stage order"].detail

    # the control: release.yaml on the base branch asked for it before (then for another) — a rollback
    git("switch", "-q", "main", cwd=repo)
    set_stage(repo, "credit", "production", bare, digest)
    git("commit", "-qam", "production: bare (merged long ago)", cwd=repo)
    set_stage(repo, "credit", "production", None)
    git("commit", "-qam", "production emptied", cwd=repo)
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    git("switch", "-qc", "roll-back", cwd=repo)
    set_stage(repo, "credit", "production", bare, digest)
    git("commit", "-qam", "roll back", cwd=repo)
    plan = make_plan(repo, registry, policy_ref=base)
    [change] = [c for c in plan.changes if c.stage == "production"]
    checks = {c.name: c for c in change.checks}
    assert checks["lineage"].ok, checks["lineage"].detail
    assert "asked for" in checks["lineage"].detail
