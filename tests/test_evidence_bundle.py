"""`mlgate evidence` and `mlgate evidence verify` on a version trained, gated, promoted and monitored for real.

One model (the insurance example renamed) on the session's `mlflow server`: trained, gated, promoted to
staging then to production through a pull request approved on the GitHub stand-in, one monitoring
verdict recorded. The state and the bundle are built once per module; each test reads or copies them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import copy_repo, git, github_stand_in, head, invoke
from mlgate.evidence import git_blob_sha, manifest_digest, manifest_text
from mlgate.gates import run_gates
from mlgate.github import GitHub
from mlgate.promotion import apply, fetch_pull_request
from mlgate.registry import ARTIFACT_FILES_TAG, Registry
from mlgate.training import train

pytestmark = pytest.mark.server

NAME = "evid"
TOKEN = "ghs_FAKE_evidence_token_1234567890abcdef"
REPO = "octo-org/models"
HOSTILE = "<script>alert('x')</script>"  # a spec field an HTML page must show as text
HOSTILE_YAML = '"' + HOSTILE + ' Report intervals, not point estimates, to customers."  #'


@dataclass
class State:
    repo: Path
    uri: str
    bundle: Path
    result: dict
    top: str
    files: dict[str, bytes]
    server_base: Path

    @property
    def registry(self) -> Registry:
        return Registry(self.repo, self.uri)


def release(repo: Path, registry: Registry, **stages: int | None) -> str:
    """release.yaml with ``stages`` pinned to each version's digest, committed; the commit."""
    lines = [f"model: {NAME}", "stages:"]
    for stage, version in stages.items():
        pin = (
            "null"
            if version is None
            else f'{{version: {version}, digest: "{registry.artifact_digest(NAME, version).digest}"}}'
        )
        lines.append(f"  {stage}: {pin}")
    (repo / "models" / NAME / "release.yaml").write_text("\n".join(lines) + "\n")
    git("commit", "-q", "-am", f"release {stages}", cwd=repo)
    return head(repo)


def unpack(path: Path) -> tuple[str, dict[str, bytes]]:
    files: dict[str, bytes] = {}
    tops = set()
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            top, _, rel = member.name.partition("/")
            tops.add(top)
            if member.isreg():
                handle = tar.extractfile(member)
                assert handle is not None
                files[rel] = handle.read()
    [top] = tops
    return top, files


def repack(path: Path, top: str, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for rel, data in sorted(files.items()):
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def flipped(data: bytes) -> bytes:
    """``data`` with its middle byte changed."""
    at = len(data) // 2
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.fixture(scope="module")
def state(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[State]:
    base = tmp_path_factory.mktemp("evidence")
    repo = copy_repo(template_repo, base / "repo")
    (repo / "models" / "insurance").rename(repo / "models" / NAME)
    for rel, old, new in (
        (f"models/{NAME}/model.yaml", "name: insurance", f"name: {NAME}"),
        ("params.yaml", "\ninsurance:", f"\n{NAME}:"),
        (f"models/{NAME}/release.yaml", "model: insurance", f"model: {NAME}"),
        (f"models/{NAME}/model.yaml", "caveats_and_recommendations: ", f"caveats_and_recommendations: {HOSTILE_YAML} "),
    ):
        path = repo / rel
        path.write_text(path.read_text().replace(old, new, 1))
    (repo / "models" / "credit" / "release.yaml").unlink()  # credit is other tests' business
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", f"the model is called {NAME} here", cwd=repo)
    registry = Registry(repo, mlflow_server)
    with pytest.MonkeyPatch.context() as mp:
        # trained in a GitHub Actions run: the provenance's builder
        mp.setenv("GITHUB_SERVER_URL", "https://github.com")
        mp.setenv("GITHUB_REPOSITORY", REPO)
        mp.setenv("GITHUB_RUN_ID", "4242")
        version = train(repo, NAME, tracking_uri=mlflow_server).version
    assert version == 1
    run_gates(repo, NAME, version=version, tracking_uri=mlflow_server)
    with pytest.MonkeyPatch.context() as mp, github_stand_in(mp, TOKEN, REPO) as fake:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        mp.delenv("MLGATE_ORG_TOKEN", raising=False)
        mp.delenv("MLGATE_EVIDENCE_KEY", raising=False)
        mp.delenv("MLGATE_EVIDENCE_PUBLIC_KEY", raising=False)
        fake.grant("risk-officer", "write")
        release(repo, registry, staging=1, production=None)
        apply(repo, registry, pull=None, actor="ci")
        sha = release(repo, registry, staging=1, production=1)
        fake.set_pull(7, author="data-scientist", head_sha=sha)
        fake.add_review(
            7, login="risk-officer", commit_id=sha, association="MEMBER", submitted_at="2026-01-01T10:00:00Z"
        )
        apply(repo, registry, pull=fetch_pull_request(7, GitHub()), actor="merger")
        registry.record_monitoring(
            NAME,
            "production",
            1,
            evaluated_at="2026-01-02T00:00:00Z",
            status="pass",
            params={"window": "7d"},
            metrics={"r2": 0.81},
            verdict_json=lambda run_id: json.dumps({"run_id": run_id, "status": "pass"}),
        )
        bundle, out = base / "bundle.tar.gz", base / "build.json"
        done = invoke(
            CliRunner(), "evidence", NAME, "--version", "1", "--output", str(bundle), "--json", str(out), cwd=repo
        )
        assert done.exit_code == 0, done.output
        top, files = unpack(bundle)
        yield State(repo, mlflow_server, bundle, json.loads(out.read_text()), top, files, base)


@pytest.fixture
def env(state: State, monkeypatch: pytest.MonkeyPatch) -> State:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", state.uri)
    for name in (
        "GITHUB_TOKEN",
        "GITHUB_REPOSITORY",
        "GITHUB_API_URL",
        "MLGATE_EVIDENCE_KEY",
        "MLGATE_EVIDENCE_PUBLIC_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    return state


def verify(state: State, bundle: Path, *args: str) -> tuple[Result, dict]:
    out = bundle.with_suffix(".verify.json")
    done = invoke(CliRunner(), "evidence", "verify", str(bundle), "--json", str(out), *args, cwd=state.repo)
    return done, json.loads(out.read_text()) if out.exists() else {}


def statuses(result: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in result["checks"]}


# --------------------------------------------------------------------------- the bundle


def test_build_result_and_the_files_of_the_bundle(env: State) -> None:
    result, files = env.result, env.files
    assert env.top == f"{NAME}-v1-evidence"
    assert (result["model"], result["version"], result["signed"]) == (NAME, 1, False)
    assert result["path"] == str(env.bundle)
    assert result["sha256"] == hashlib.sha256(env.bundle.read_bytes()).hexdigest()
    assert result["files"] == len(files)
    commit = env.registry.version(NAME, 1).tags["mlgate.git.commit"]
    fixed = {
        "README.md",
        "version.json",
        "model-card.md",
        "model-card.html",
        "data.json",
        "run.json",
        "approvals.json",
        "monitoring.json",
        "statement.intoto.json",
        "MANIFEST.sha256",
        "verdicts/index.json",
        "judged/index.json",
        f"judged/{commit[:12]}/models/{NAME}/model.yaml",
        f"judged/{commit[:12]}/params.yaml",
        f"judged/{commit[:12]}/policies/base.yaml",
        f"judged/{commit[:12]}/policies/default.yaml",
    }
    assert fixed <= set(files)
    verdicts = sorted(f for f in files if f.startswith("verdicts/") and f != "verdicts/index.json")
    assert len(verdicts) == 2
    assert verdicts[0].endswith(".html")
    assert verdicts[1].endswith(".json")
    audit_files = sorted(f for f in files if f.startswith("audit/"))
    assert audit_files == [
        "audit/001-staging-promoted.json",
        "audit/001-staging-promoted.verdict.json",
        "audit/002-production-promoted.json",
        "audit/002-production-promoted.verdict.json",
    ]
    judged_at_promotions = {f for f in files if f.startswith("judged/") and not f.startswith(f"judged/{commit[:12]}/")}
    assert set(files) == fixed | set(verdicts) | set(audit_files) | judged_at_promotions
    manifest = files["MANIFEST.sha256"].decode()
    assert sorted(line.split("  ", 1)[1] for line in manifest.splitlines()) == sorted(set(files) - {"MANIFEST.sha256"})
    assert b"<html" in files[verdicts[0]]


def test_version_json_holds_the_registry_facts(env: State) -> None:
    version = json.loads(env.files["version.json"])
    mv = env.registry.version(NAME, 1)
    assert (version["model"], version["version"], version["run_id"], version["source"]) == (
        NAME,
        1,
        mv.run_id,
        mv.source,
    )
    assert version["aliases"] == ["champion", "production", "staging"]
    assert version["tags"] == {k: v for k, v in mv.tags.items() if k.startswith("mlgate.")}
    artifact = version["artifact"]
    assert artifact["recorded"]["digest"] == artifact["recomputed"]["digest"] == mv.tags["mlgate.artifact.digest"]
    assert artifact["recorded"]["files"] == artifact["recomputed"]["files"] == json.loads(mv.tags[ARTIFACT_FILES_TAG])
    assert version["created"].endswith("Z")


def test_statement_subjects_are_the_registered_files(env: State) -> None:
    statement = json.loads(env.files["statement.intoto.json"])
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    recorded = json.loads(env.registry.version(NAME, 1).tags[ARTIFACT_FILES_TAG])
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == {
        f"model/{rel}": sha for rel, sha in recorded.items()
    }
    assert env.result["subject"] == statement["subject"]
    build = statement["predicate"]["buildDefinition"]
    mv = env.registry.version(NAME, 1)
    assert build["externalParameters"]["commit"] == mv.tags["mlgate.git.commit"]
    deps = {d["name"]: d["digest"] for d in build["resolvedDependencies"]}
    assert deps["the training commit"] == {"gitCommit": mv.tags["mlgate.git.commit"]}
    assert deps["data (path)"] == {"md5": mv.tags["mlgate.data.path.md5"]}
    details = statement["predicate"]["runDetails"]
    assert mv.tags["mlgate.ci.run_url"] == f"https://github.com/{REPO}/actions/runs/4242"  # recorded by train
    assert details["builder"]["id"] == f"https://github.com/{REPO}/actions/runs/4242"
    assert details["metadata"]["invocationId"] == mv.run_id
    [byproduct] = details["byproducts"]
    kept = "".join(
        line + "\n"
        for line in env.files["MANIFEST.sha256"].decode().splitlines()
        if not line.endswith("  statement.intoto.json")
    )
    assert byproduct["digest"]["sha256"] == hashlib.sha256(kept.encode()).hexdigest()


def test_judged_files_are_the_blobs_at_their_commits(env: State) -> None:
    index = json.loads(env.files["judged/index.json"])["files"]
    assert index
    for entry in index:
        shown = git("show", f"{entry['commit']}:{entry['path']}", cwd=env.repo)
        assert env.files[entry["file"]].decode() == shown, entry["file"]
        blob = git("rev-parse", f"{entry['commit']}:{entry['path']}", cwd=env.repo).strip()
        assert entry["blob"] == blob
    trained = env.registry.version(NAME, 1).tags["mlgate.git.commit"]
    roles = {(e["commit"], e["path"]): e["roles"] for e in index}
    assert "spec trained (mlgate.git.commit)" in roles[(trained, f"models/{NAME}/model.yaml")]


def test_audit_records_and_approvals_match_history(env: State) -> None:
    out = env.bundle.parent / "history.json"
    done = invoke(CliRunner(), "history", NAME, "--json", str(out), cwd=env.repo)
    assert done.exit_code == 0, done.output
    history = [r for r in json.loads(out.read_text()) if r["version"] == 1]
    bundled = [json.loads(env.files[f])["record"] for f in sorted(env.files) if fnmatch(f, "audit/*-promoted.json")]
    assert bundled == history
    for rel in sorted(f for f in env.files if fnmatch(f, "audit/*-promoted.json")):
        entry = json.loads(env.files[rel])
        verdict = env.files[entry["verdict"]["file"]]
        assert hashlib.sha256(verdict).hexdigest() == entry["record"]["verdict_sha256"] == entry["verdict"]["sha256"]
    approvals = json.loads(env.files["approvals.json"])
    production = next(p for p in approvals["promotions"] if p["stage"] == "production")
    assert (production["pr"], production["approvers"], production["promoted_by"]) == (7, ["risk-officer"], "merger")
    [review] = production["reviews"]
    assert (review["login"], review["state"], review["submitted_at"]) == (
        "risk-officer",
        "APPROVED",
        "2026-01-01T10:00:00Z",
    )
    assert isinstance(review["review_id"], int)


def test_monitoring_run_and_data(env: State) -> None:
    monitoring = json.loads(env.files["monitoring.json"])
    [run] = monitoring["stages"]["production"]
    assert (run["status"], run["evaluated_at"], run["metrics"]) == ("pass", "2026-01-02T00:00:00Z", {"r2": 0.81})
    assert monitoring["stages"]["staging"] == []
    data = json.loads(env.files["data.json"])
    mv = env.registry.version(NAME, 1)
    assert data["trained_on"] == [
        {"role": "path", "path": "data/insurance.csv", "md5": mv.tags["mlgate.data.path.md5"]}
    ]
    assert data["evaluated"][0]["tracked_by"] == "data/insurance.csv.dvc"
    run = json.loads(env.files["run.json"])
    assert run["params"]["estimator.class"] == "sklearn.ensemble.GradientBoostingRegressor"
    assert "requirements.txt" in run["environment"]["files"]
    assert "scikit-learn" in run["environment"]["files"]["requirements.txt"]
    card = env.files["model-card.md"].decode()
    assert "## Global explanation" in card
    assert "## Documentation gate" in card


def _section(page: str, start: str, end: str) -> str:
    at = page.index(start)
    return page[at : page.index(end, at) + len(end)]


def test_model_card_html_is_the_reports_card_with_the_specs_facts_escaped(env: State) -> None:
    page = env.files["model-card.html"].decode()
    index = json.loads(env.files["verdicts/index.json"])
    [current] = [v for v in index["verdicts"] if v["current"]]
    verdict = json.loads(env.files[current["file"]])
    assert page.startswith("<!DOCTYPE html>")
    assert f"<h1>Model card: {NAME} v1</h1>" in page
    assert (
        f"<p>From <code>models/{NAME}/model.yaml</code> at commit <code>{current['judging_commit']}</code> "
        "(the judging commit of the current verdict).</p>"
    ) in page
    card = _section(page, "<dl>", "</dl>")
    assert (
        "<dt>Model details</dt><dd>Estimates yearly medical insurance charges (USD) for pricing reviews. "
        "Owners: pricing-team. Estimator <code>sklearn.ensemble.GradientBoostingRegressor</code>, task regression."
    ) in card
    assert "<dt>Intended use</dt><dd>Indicative premium estimates reviewed by a pricing actuary.</dd>" in card
    assert (
        "<dt>Caveats and recommendations</dt><dd>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; "
        "Report intervals, not point estimates, to customers.</dd>"
    ) in card
    assert "<script" not in page
    metrics = _section(card, "<dt>Metrics</dt><dd>", "</dd>")
    assert metrics.count(", ") == len(verdict["metrics"]) - 1
    assert f"r2 {verdict['metrics']['r2']:.4g}" in metrics
    assert 'aria-label="Mean |contribution|' in card  # the global explanation's chart
    # the gate report's own card section: the verdict's HTML in the bundle holds the same bytes
    assert card == _section(env.files[current["html"]].decode(), "<dl>", "</dl>")
    # self-contained: inline style, no script, nothing fetched
    assert "<style>" in page
    assert not any(attr in page for attr in ("src=", "href=", "<link", "@import", "url("))
    docs = [r for r in verdict["rules"] if r["family"] == "documentation"]
    assert docs
    gate = page[page.index("<h2>Documentation gate</h2>") :]
    word = {"pass": "passed", "warn": "passed with warnings", "fail": "blocked"}[verdict["status"]]
    assert (
        f'<span class="badge {verdict["status"]}">{verdict["status"]}</span> '
        f"Status of the current verdict: <strong>{word}</strong>.</p>"
    ) in gate
    assert [f"<code>{r['rule_id']}</code>" in gate for r in docs] == [True] * len(docs)
    # the Markdown card says the same of the spec
    markdown = env.files["model-card.md"].decode()
    assert "- Owners: pricing-team" in markdown
    assert f"{HOSTILE} Report intervals" in markdown  # Markdown is shown as text by whoever opens it
    assert "`model-card.html`" in env.files["README.md"].decode()


def test_the_same_inputs_give_the_same_bytes(env: State, tmp_path: Path) -> None:
    again = tmp_path / "again.tar.gz"
    done = invoke(CliRunner(), "evidence", "build", NAME, "--version", "1", "--output", str(again), cwd=env.repo)
    assert done.exit_code == 0, done.output
    # approvals.json holds the PR's reviews when GitHub is readable: the module's build could, this one cannot
    _, files = unpack(again)
    assert {k for k in files if files[k] != env.files[k]} == {
        "approvals.json",
        "statement.intoto.json",
        "MANIFEST.sha256",
    }
    third = tmp_path / "third.tar.gz"
    done = invoke(CliRunner(), "evidence", NAME, "--version", "1", "--output", str(third), cwd=env.repo)
    assert done.exit_code == 0, done.output
    assert third.read_bytes() == again.read_bytes()
    assert done.output.strip().splitlines()[-1] == f"✔ evidence: {third} ({len(files)} files, unsigned)"


# --------------------------------------------------------------------------- verify


def test_round_trip_verifies(env: State) -> None:
    done, result = verify(env, env.bundle)
    assert done.exit_code == 0, done.output
    assert result["ok"] is True
    assert result["mismatches"] == []
    assert (result["model"], result["version"], result["signature"]) == (NAME, 1, "unsigned")
    assert statuses(result) == {
        "manifest": "ok",
        "statement": "ok",
        "verdicts": "ok",
        "signature": "unsigned",
        "registry": "ok",
        "lineage": "ok",
        "audit": "ok",
        "judged": "ok",
    }


def test_offline_skips_the_registry_and_the_repo(env: State) -> None:
    done, result = verify(env, env.bundle, "--offline")
    assert done.exit_code == 0, done.output
    checks = {c["name"]: c for c in result["checks"]}
    for name in ("registry", "lineage", "audit", "judged"):
        assert (checks[name]["status"], checks[name]["detail"]) == ("skipped", "--offline")
    assert "registry: skipped" in done.output


FILE_KINDS = [
    "README.md",
    "version.json",
    "model-card.md",
    "model-card.html",
    "data.json",
    "run.json",
    "approvals.json",
    "monitoring.json",
    "statement.intoto.json",
    "MANIFEST.sha256",
    "verdicts/index.json",
    "verdicts/*.json",
    "verdicts/*.html",
    "judged/index.json",
    "judged/*/models/*/model.yaml",
    "judged/*/params.yaml",
    "judged/*/policies/*.yaml",
    "audit/*-promoted.json",
    "audit/*.verdict.json",
]


def test_the_kinds_cover_every_file(env: State) -> None:
    assert {f for f in env.files if not any(fnmatch(f, kind) for kind in FILE_KINDS)} == set()


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_one_flipped_byte_in_any_file_is_named(env: State, tmp_path: Path, kind: str) -> None:
    chosen = sorted(f for f in env.files if fnmatch(f, kind))
    assert chosen
    for rel in chosen:
        bundle = tmp_path / f"{rel.replace('/', '_')}.tar.gz"
        repack(bundle, env.top, env.files | {rel: flipped(env.files[rel])})
        done, result = verify(env, bundle, "--offline")
        assert done.exit_code == 1, (rel, done.output)
        assert result["ok"] is False
        assert any(rel in line for line in result["mismatches"]), (rel, result["mismatches"])
        assert rel in done.output


def _server_file(state: State, name: str) -> Path:
    """The stored file ``name`` of v1's logged model, in the mlflow server's artifact root on disk.

    The logged model's id (``models:/m-…``, the version's source) is unique: other servers of the
    session may hold files with the same bytes, never under that id.
    """
    model_id = state.registry.version(NAME, 1).source.removeprefix("models:/")
    found = {
        p.resolve()  # pytest's `mlflow-servercurrent` is a link to the newest numbered folder
        for root in state.server_base.parent.glob("mlflow-server*")
        for p in root.rglob(name)
        if model_id in p.parts
    }
    assert len(found) == 1, found
    return found.pop()


def test_a_flipped_byte_in_the_registry_artifact_is_named_and_refused(env: State, tmp_path: Path) -> None:
    recorded = json.loads(env.registry.version(NAME, 1).tags[ARTIFACT_FILES_TAG])
    stored = _server_file(env, "model.skops")
    original = stored.read_bytes()
    assert hashlib.sha256(original).hexdigest() == recorded["model.skops"]
    try:
        stored.write_bytes(flipped(original))
        done, result = verify(env, env.bundle)
        assert done.exit_code == 1, done.output
        assert result["mismatches"] == ["registry: model/model.skops: sha256 differs"]
        assert statuses(result)["manifest"] == "ok"
        built = invoke(
            CliRunner(), "evidence", NAME, "--version", "1", "--output", str(tmp_path / "x.tar.gz"), cwd=env.repo
        )
        assert built.exit_code == 1, built.output
        assert "model.skops" in built.output
        assert not (tmp_path / "x.tar.gz").exists()
    finally:
        stored.write_bytes(original)
    done, _ = verify(env, env.bundle)
    assert done.exit_code == 0, done.output


def test_a_lineage_tag_or_run_metric_rewritten_in_the_registry_is_named(env: State) -> None:
    """Lineage is written once at training: a data hash or a metric edited later is an edit the bundle exposes."""
    registry = env.registry
    md5_tag = "mlgate.data.path.md5"  # the data file's md5 (role "path")
    original = registry.version(NAME, 1).tags[md5_tag]
    dirty = registry.version(NAME, 1).tags["mlgate.git.dirty"]
    run_id = registry.version(NAME, 1).run_id
    metric = min(registry.run_record(run_id).metrics)
    value = registry.run_record(run_id).metrics[metric]
    try:
        registry.set_version_tags(NAME, 1, {md5_tag: "0" * 32, "mlgate.git.dirty": "yes"})
        registry.client.log_metric(run_id, metric, value + 1.0)
        registry.set_version_tags(NAME, 1, {"mlgate.note": "reviewed again"})  # not lineage: never compared
        done, result = verify(env, env.bundle)
        assert done.exit_code == 1, done.output
        assert result["mismatches"] == [
            f"registry: version.json: tag {md5_tag} differs",
            "registry: version.json: tag mlgate.git.dirty differs",
            f"registry: run.json: metric {metric} differs from the training run's",
        ]
        assert statuses(result) | {"lineage": "mismatch"} == statuses(result)
        assert statuses(result)["registry"] == "ok"
    finally:
        registry.set_version_tags(NAME, 1, {md5_tag: original, "mlgate.git.dirty": dirty})
        registry.delete_version_tag(NAME, 1, "mlgate.note")
        registry.client.log_metric(run_id, metric, value)
    done, _ = verify(env, env.bundle)
    assert done.exit_code == 0, done.output


def test_a_judged_file_that_is_not_the_commits_blob_is_named(env: State, tmp_path: Path) -> None:
    """A bundle re-manifested after its judged spec was edited passes the manifest, not git."""

    index = json.loads(env.files["judged/index.json"])
    entry = index["files"][0]
    edited = env.files[entry["file"]] + b"# edited\n"
    entry["blob"] = git_blob_sha(edited)
    files = env.files | {
        entry["file"]: edited,
        "judged/index.json": (json.dumps(index, indent=2, sort_keys=True) + "\n").encode(),
    }
    files.pop("MANIFEST.sha256")
    statement = json.loads(files.pop("statement.intoto.json"))
    statement["predicate"]["runDetails"]["byproducts"][0]["digest"]["sha256"] = manifest_digest(manifest_text(files))
    files["statement.intoto.json"] = (json.dumps(statement, indent=2, sort_keys=True) + "\n").encode()
    files["MANIFEST.sha256"] = manifest_text(files).encode()
    bundle = tmp_path / "edited.tar.gz"
    repack(bundle, env.top, files)
    done, result = verify(env, bundle, "--offline")
    assert done.exit_code == 0, done.output  # consistent in itself
    done, result = verify(env, bundle)
    assert done.exit_code == 1, done.output
    assert result["mismatches"] == [
        f"repo: {entry['file']}: differs from `git show {entry['commit'][:12]}:{entry['path']}`"
    ]


# --------------------------------------------------------------------------- signing


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    base = tmp_path_factory.mktemp("keys")
    out: dict[str, Path | str] = {}
    for name in ("right", "wrong"):
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (base / f"{name}.pub").write_bytes(public)
        out[f"{name}.pub"] = base / f"{name}.pub"
        out[f"{name}.pem"] = pem.decode()
    return out


@pytest.fixture(scope="module")
def signed(state: State, keys: dict[str, Path | str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = tmp_path_factory.mktemp("signed") / "signed.tar.gz"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", state.uri)
        mp.setenv("MLGATE_EVIDENCE_KEY", str(keys["right.pem"]))
        done = invoke(CliRunner(), "evidence", NAME, "--version", "1", "--output", str(bundle), cwd=state.repo)
    assert done.exit_code == 0, done.output
    assert done.output.strip().splitlines()[-1].endswith("files, signed)")
    return bundle


def test_signed_bundle_verifies_with_the_right_key_only(env: State, signed: Path, keys: dict) -> None:
    _, files = unpack(signed)
    envelope = json.loads(files["statement.dsse.json"])
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert base64.b64decode(envelope["payload"]) == files["statement.intoto.json"]
    done, result = verify(env, signed, "--offline", "--public-key", str(keys["right.pub"]))
    assert done.exit_code == 0, done.output
    assert statuses(result)["signature"] == "ok"
    done, result = verify(env, signed, "--offline", "--public-key", str(keys["wrong.pub"]))
    assert done.exit_code == 1, done.output
    assert result["mismatches"] == [
        "statement.dsse.json: no signature verifies with the public key "
        + result["mismatches"][0].split("public key ")[1]
    ]
    assert statuses(result)["signature"] == "mismatch"


def test_a_key_given_asks_for_a_signature(env: State, keys: dict) -> None:
    done, result = verify(env, env.bundle, "--offline", "--public-key", str(keys["right.pub"]))
    assert done.exit_code == 1, done.output
    assert result["mismatches"] == [
        "statement.dsse.json: missing: the bundle is not signed, and --public-key asks for a signature"
    ]


def test_signed_bundle_without_a_key_says_not_checked(
    env: State, signed: Path, keys: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    done, result = verify(env, signed, "--offline")
    assert done.exit_code == 0, done.output
    assert result["signature"] == "not_checked"
    assert "signature: not checked (pass --public-key)" in done.output
    monkeypatch.setenv("MLGATE_EVIDENCE_PUBLIC_KEY", str(keys["right.pub"]))
    done, result = verify(env, signed, "--offline")
    assert (done.exit_code, result["signature"]) == (0, "ok")


def test_an_altered_and_remanifested_statement_fails_the_signature(
    env: State, signed: Path, keys: dict, tmp_path: Path
) -> None:
    top, files = unpack(signed)
    statement = json.loads(files["statement.intoto.json"])
    statement["predicate"]["runDetails"]["builder"]["id"] = "https://github.com/octo-org/models/actions/runs/1"
    files["statement.intoto.json"] = (json.dumps(statement, indent=2, sort_keys=True) + "\n").encode()
    files["MANIFEST.sha256"] = manifest_text(
        {k: v for k, v in files.items() if k not in ("MANIFEST.sha256", "statement.dsse.json")}
    ).encode()
    bundle = tmp_path / "altered.tar.gz"
    repack(bundle, top, files)
    done, result = verify(env, bundle, "--offline", "--public-key", str(keys["right.pub"]))
    assert done.exit_code == 1, done.output
    assert result["mismatches"] == ["statement.dsse.json: its payload is not statement.intoto.json"]


def test_a_bad_signing_key_is_exit_2_naming_the_variable(
    env: State, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "MLGATE_EVIDENCE_KEY", "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW5vdC1hLWtleQ==\n-----END PRIVATE KEY-----\n"
    )
    done = invoke(CliRunner(), "evidence", NAME, "--version", "1", "--output", str(tmp_path / "b.tar.gz"), cwd=env.repo)
    assert done.exit_code == 2, done.output
    assert "$MLGATE_EVIDENCE_KEY does not hold a PEM ed25519 private key" in done.output
    assert "c2VjcmV0" not in done.output


# --------------------------------------------------------------------------- not a bundle


def test_a_path_traversal_tar_is_exit_2(env: State, tmp_path: Path) -> None:
    bundle = tmp_path / "evil.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for name in (f"{env.top}/MANIFEST.sha256", f"{env.top}/../../escaped.txt"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
    done, _result = verify(env, bundle)
    assert done.exit_code == 2, done.output
    assert f"{bundle}: not an mlgate evidence bundle (unsafe path" in done.output
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_a_link_in_the_tar_is_exit_2(env: State, tmp_path: Path) -> None:
    bundle = tmp_path / "link.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        info = tarfile.TarInfo(f"{env.top}/version.json")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    done, _ = verify(env, bundle)
    assert done.exit_code == 2, done.output
    assert "is a link or device" in done.output


@pytest.mark.parametrize(
    "content", [b"not a tar at all\n", gzip.compress(b"gzip, but no tar inside")], ids=["text", "gzip"]
)
def test_a_file_that_is_not_a_bundle_is_exit_2(env: State, tmp_path: Path, content: bytes) -> None:
    bundle = tmp_path / "plain.tar.gz"
    bundle.write_bytes(content)
    done, result = verify(env, bundle)
    assert done.exit_code == 2, done.output
    assert f"{bundle}: not an mlgate evidence bundle" in done.output
    assert result["ok"] is False
    assert result["exit_code"] == 2


def test_an_unknown_version_is_exit_2(env: State, tmp_path: Path) -> None:
    done = invoke(
        CliRunner(), "evidence", NAME, "--version", "99", "--output", str(tmp_path / "b.tar.gz"), cwd=env.repo
    )
    assert done.exit_code == 2, done.output
    assert f"{NAME} v99 is not registered" in done.output
    assert not (tmp_path / "b.tar.gz").exists()
