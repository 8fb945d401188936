"""`mlgate site`: the static governance site, from a real registry (`mlflow server`) and git.

One model (the insurance example, renamed) is trained twice, gated, and promoted with an approved
pull request on the GitHub stand-in, once per module; each test copies the repo and the
registry's versions under a name of its own, then builds the site and reads the pages back.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PROJECT, commit_all, copy_repo, git, github_stand_in, head, invoke, rename_model
from mlgate.config import Settings
from mlgate.gates import run_gates
from mlgate.github import GitHub
from mlgate.promotion import apply, fetch_pull_request
from mlgate.registry import VERDICT_TAG, Registry, audit
from mlgate.site import compile_templates
from mlgate.training import train
from mlgate_devkit.github_stand_in import FakeGitHub

pytestmark = pytest.mark.server

TOKEN = "ghs_FAKE_site_token_1234567890abcdef"
REPO = "octo-org/models"
TEMPLATE_NAME = "sitetpl"
_names = itertools.count(1)


@dataclass
class Site:
    repo: Path
    name: str
    uri: str

    @property
    def registry(self) -> Registry:
        return Registry(self.repo, self.uri)

    def release(self, **stages: int | None) -> str:
        lines = [f"model: {self.name}", "stages:"]
        for stage, v in stages.items():
            entry = (
                "null"
                if v is None
                else f'{{version: {v}, digest: "{self.registry.artifact_digest(self.name, v).digest}"}}'
            )
            lines.append(f"  {stage}: {entry}")
        (self.repo / "models" / self.name / "release.yaml").write_text("\n".join(lines) + "\n")
        git("commit", "-q", "-am", f"release {stages}", cwd=self.repo)
        return head(self.repo)


@pytest.fixture(scope="module")
def site_source(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained once per module: v1 and v2 from two commits, both gated."""
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("site") / "repo")
    rename_model(repo, "insurance", TEMPLATE_NAME)
    git("rm", "-q", "-r", "models/credit", cwd=repo)  # one model here (a model.yaml alone is listed too)
    commit_all(repo, f"the model is called {TEMPLATE_NAME} here")
    for n_estimators in (150, 160):
        params = repo / "params.yaml"
        params.write_text(params.read_text().replace("n_estimators: 150", f"n_estimators: {n_estimators}", 1))
        git("commit", "-q", "--allow-empty", "-am", f"{n_estimators} trees", cwd=repo)
        version = train(repo, TEMPLATE_NAME, tracking_uri=mlflow_server).version
        run_gates(repo, TEMPLATE_NAME, version=version, tracking_uri=mlflow_server)
    return repo


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.delenv("MLGATE_ORG_TOKEN", raising=False)
    with github_stand_in(monkeypatch, TOKEN, REPO) as fake:
        fake.grant("risk-officer", "write")
        yield fake


@pytest.fixture
def site(site_source: Path, mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    name = f"site{next(_names)}"
    repo = copy_repo(site_source, tmp_path / "repo")
    rename_model(repo, TEMPLATE_NAME, name)
    commit_all(repo, f"the model is called {name} here")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.chdir(repo)
    client = Registry(repo, mlflow_server).client
    for version in (1, 2):
        client.copy_model_version(f"models:/{TEMPLATE_NAME}/{version}", name)
    run_gates(repo, name, version=1, tracking_uri=mlflow_server)  # the copied tags name the template's verdict
    return Site(repo, name, mlflow_server)


def promote(site: Site, github: FakeGitHub) -> None:
    """v1 into staging and production (production approved by risk-officer on PR #7), then v2 asked for staging."""
    site.release(staging=1, production=None)
    apply(site.repo, site.registry, pull=None, actor="ci")
    sha = site.release(staging=1, production=1)
    github.set_pull(7, author="data-scientist", head_sha=sha)
    github.add_review(7, login="risk-officer", commit_id=sha, association="MEMBER", submitted_at="2026-01-01T10:00:00Z")
    apply(site.repo, site.registry, pull=fetch_pull_request(7, GitHub()), actor="merger")


def build(cli: CliRunner, site: Site, out: Path, *extra: str) -> dict:
    result = invoke(cli, "site", "--output", str(out), "--json", "-", *extra, cwd=site.repo)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


class Cells(HTMLParser):
    """The rows of one table (by id): each row's attributes and its cells' text, by class."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.inside = False
        self.rows: list[dict] = []
        self.cell: list[str] | None = None
        self.cell_class = ""
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "script" and "src" not in a:
            self.scripts += 1
        if tag == "table" and a.get("id") == self.table_id:
            self.inside = True
        elif (self.inside and tag == "tr" and "data-model" in a) or (self.inside and tag == "tr" and a):
            self.rows.append({"attrs": a, "cells": []})
        elif self.inside and tag in ("td", "th") and self.rows:
            self.cell = []
            self.cell_class = a.get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif tag in ("td", "th") and self.cell is not None:
            self.rows[-1]["cells"].append((self.cell_class, " ".join("".join(self.cell).split())))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table(path: Path, table_id: str) -> list[dict]:
    parser = Cells(table_id)
    parser.feed(path.read_text())
    return parser.rows


def cell(row: dict, cls: str) -> str:
    return next(text for c, text in row["cells"] if c.split() and c.split()[0] == cls)


def test_index_model_and_version_pages_show_the_registry_and_release(
    site: Site, github: FakeGitHub, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    promote(site, github)
    site.release(staging=2, production=1)  # merged, not applied: staging is OutOfSync
    for day, psi in ((1, 0.05), (2, 0.31)):  # two monitoring runs of production: drift on the second
        site.registry.record_monitoring(
            site.name,
            "production",
            1,
            evaluated_at=f"2026-02-0{day}T00:00:00Z",
            status="pass" if psi < 0.2 else "fail",
            params={},
            metrics={"psi": psi, "drifted_share": psi / 2},
            verdict_json=lambda _run_id: "{}",
        )
    marker = f"<!-- mlgate:monitoring model={site.name} stage=production -->"
    issue = GitHub().create_issue("drift", f"{marker}\nPSI 0.31", labels=["mlgate", "monitoring"], lookup=lambda: None)
    policy = site.repo / "policies" / "default.yaml"  # a monitoring limit for the drift chart to draw
    policy.write_text(policy.read_text() + "monitoring:\n  - metric: drifted_share\n    max: 0.3\n")
    commit_all(site.repo, "monitoring: at most 30% of the features may drift")
    out = tmp_path / "out"
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://ghe.example.internal/")  # pull-request links: GitHub Enterprise
    done = build(cli, site, out)
    assert done["models"] == [site.name]
    assert done["rendered"] == [site.name]
    assert done["reused"] == []
    assert done["index"] == str((out / "index.html").resolve())
    rows = {r["attrs"]["data-stage"]: r for r in table(out / "index.html", "models")}
    assert set(rows) == {"staging", "production"}
    assert (cell(rows["staging"], "desired"), cell(rows["staging"], "actual")) == ("v2", "v1")
    assert rows["staging"]["attrs"]["data-state"] == "OutOfSync"
    assert (cell(rows["production"], "desired"), cell(rows["production"], "actual")) == ("v1", "v1")
    assert rows["production"]["attrs"]["data-state"] == "Synced"
    assert cell(rows["staging"], "alerts") == "none"  # asked GitHub (the stand-in)
    assert cell(rows["production"], "alerts") == f"#{issue.number} monitoring"
    assert cell(rows["production"], "monitoring").startswith("fail 2026-02-02T00:00:00Z")
    index = (out / "index.html").read_text()
    assert 'id="count-out-of-sync">1<' in index
    assert 'id="count-alerts">1<' in index
    model = (out / "models" / site.name / "index.html").read_text()
    assert re.search(r'<svg [^>]*data-chart="drift" role="img"[^>]*><title>Feature drift</title>', model)
    # the drift chart draws the policy's drifted_share limit as a dashed line
    drift_chart = re.search(r'<svg [^>]*data-chart="drift".*?</svg>', model, re.DOTALL).group(0)
    assert re.findall(r'<line class="threshold"[^>]*><title>([^<]*)</title>', drift_chart) == [
        "drifted_share max 0.3 (rule monitoring.drifted_share, block)"
    ]
    versions = table(out / "models" / site.name / "index.html", "versions")
    assert [r["attrs"]["data-version"] for r in versions] == ["2", "1"]
    history = table(out / "models" / site.name / "index.html", "history")
    assert [(r["cells"][1][1], r["cells"][3][1], r["cells"][8][1]) for r in history] == [
        ("production", "v1", "risk-officer"),
        ("staging", "v1", "—"),
    ]
    repository = os.environ["GITHUB_REPOSITORY"]
    assert f'href="https://ghe.example.internal/{repository}/pull/7"' in model
    assert f"github.com/{repository}/pull/" not in model  # (issue links are the html_url GitHub gives)

    version = out / "models" / site.name / "v1.html"
    verdict = site.registry.read_verdict(site.name, 1)
    rules = table(version, "rules")
    assert [r["attrs"]["data-rule"] for r in rules] == [r["rule_id"] for r in verdict["rules"]]
    assert [r["attrs"]["data-status"] for r in rules] == [r["status"] for r in verdict["rules"]]
    approvals = table(version, "approvals")
    production = [r for r in approvals if r["attrs"].get("data-stage") == "production"]
    assert len(production) == 1
    assert cell(production[0], "approvers") == "risk-officer"
    assert (out / "models" / site.name / "v2.html").is_file()
    assert (out / "models" / site.name / "index.html").is_file()


def clone_model(repo: Path, source: str, name: str, *, released: bool = True) -> None:
    """A second model: ``source``'s spec and params under ``name``, with an empty release (no version asked for).

    ``released=False``: no release.yaml at all (a model under development).
    """
    import copy

    import yaml

    folder = repo / "models" / name
    folder.mkdir()
    spec = (repo / "models" / source / "model.yaml").read_text().replace(f"name: {source}", f"name: {name}", 1)
    (folder / "model.yaml").write_text(spec)
    if released:
        (folder / "release.yaml").write_text(f"model: {name}\nstages:\n  staging: null\n  production: null\n")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params[name] = copy.deepcopy(params[source])
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit_all(repo, f"{name}: a second model")


def snapshot(out: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of the site (the cache and state included): its mtime and bytes."""
    return {str(p.relative_to(out)): (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}


def test_rebuilds_render_only_the_models_whose_inputs_changed(site: Site, cli: CliRunner, tmp_path: Path) -> None:
    other = f"{site.name}b"
    clone_model(site.repo, site.name, other)
    out = tmp_path / "out"
    first = build(cli, site, out)
    assert first["models"] == sorted([site.name, other])
    assert sorted(first["rendered"]) == sorted([site.name, other])
    assert first["pages"] == 1 + 3 + 1  # index, site's model page and two versions, other's model page
    cached = list((out / ".mlgate-site" / "verdicts").glob("*.json"))
    assert len(cached) == 1  # v1's verdict (v2's copied tag names the template's artifact, unreadable here)

    before = snapshot(out)
    second = build(cli, site, out)
    assert (second["rendered"], sorted(second["reused"])) == ([], sorted([site.name, other]))
    assert snapshot(out) == before  # not one file rewritten

    # a new tag on one version: only that model is re-rendered
    site.registry.set_version_tags(site.name, 2, {"mlgate.note": "re-reviewed"})
    third = build(cli, site, out)
    assert (third["rendered"], third["reused"]) == ([site.name], [other])
    after = snapshot(out)
    assert after[f"models/{other}/index.html"] == before[f"models/{other}/index.html"]
    assert "re-reviewed" in (out / "models" / site.name / "v2.html").read_text()

    # a release.yaml edit of the other model: only it is re-rendered
    release = site.repo / "models" / other / "release.yaml"
    release.write_text(f"model: {other}\nstages:\n  staging: null\n")
    commit_all(site.repo, f"{other}: no production stage")
    fourth = build(cli, site, out)
    assert (fourth["rendered"], fourth["reused"]) == ([other], [site.name])
    assert [
        r["attrs"]["data-stage"] for r in table(out / "index.html", "models") if r["attrs"]["data-model"] == other
    ] == ["staging"]

    # a removed model's pages go
    git("rm", "-q", "-r", f"models/{other}", cwd=site.repo)
    commit_all(site.repo, f"{other} retired")
    fifth = build(cli, site, out)
    assert fifth["models"] == [site.name]
    assert fifth["reused"] == [site.name]
    assert not (out / "models" / other).exists()
    assert other not in (out / "index.html").read_text()

    # --full: every model again, whatever the cache says
    full = build(cli, site, out, "--full")
    assert (full["rendered"], full["reused"]) == ([site.name], [])

    # people read one line at the end
    result = invoke(cli, "site", "--output", str(out), cwd=site.repo)
    assert result.exit_code == 0, result.output
    index = (out / "index.html").resolve()
    assert result.output.strip().splitlines()[-1] == f"site: {index} (1 models: 0 rendered, 1 unchanged)"


def test_the_shipped_precompiled_templates_are_compiled_from_the_sources(tmp_path: Path) -> None:
    """templates.zip is what compile_templates makes of today's sources (else: scripts/compile-site-templates)."""
    shipped = PROJECT / "src" / "mlgate" / "resources" / "site"
    archive, key = compile_templates(tmp_path)
    assert (archive.name, key.name) == ("templates.zip", "templates.zip.key")
    assert key.read_text() == (shipped / key.name).read_text(), "run scripts/compile-site-templates"
    with zipfile.ZipFile(archive) as fresh, zipfile.ZipFile(shipped / archive.name) as ours:
        assert sorted(fresh.namelist()) == sorted(ours.namelist())
        assert len(ours.namelist()) == len(list(shipped.glob("*.j2")))
        for name in ours.namelist():
            assert fresh.read(name) == ours.read(name), f"{name}: run scripts/compile-site-templates"


def test_stale_precompiled_templates_are_ignored_and_the_pages_are_the_same(
    site: Site, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = build(cli, site, tmp_path / "fast")
    assert fast["templates"] == "precompiled"
    # a template edited without recompiling (or another jinja2 version): the key no longer matches
    monkeypatch.setattr("mlgate.site._pages.templates_key", lambda _jinja2_version: "0" * 64)
    slow = build(cli, site, tmp_path / "slow")
    assert slow["templates"] == "compiled"
    assert fast["pages"] == slow["pages"] == 1 + 3  # index, the model page, two versions
    pages = sorted(p.relative_to(tmp_path / "fast") for p in (tmp_path / "fast").rglob("*.html"))
    assert len(pages) == 4
    for rel in pages:
        assert (tmp_path / "fast" / rel).read_bytes() == (tmp_path / "slow" / rel).read_bytes(), rel


@pytest.mark.parametrize(
    ("value", "used"),
    [
        ("", "https://github.com"),
        ("https://github.com", "https://github.com"),
        ("https://ghe.example.internal/", "https://ghe.example.internal"),
        ("http://ghe.example.internal:8080/github", "http://ghe.example.internal:8080/github"),
        ("https://user:secret@ghe.example.internal", "https://github.com"),  # credentials never reach a page
        ("javascript:alert(1)", "https://github.com"),
        ("https://ghe.example.internal/?next=x", "https://github.com"),
    ],
)
def test_pull_request_links_use_the_github_server_url_without_credentials(value: str, used: str) -> None:
    assert Settings.from_env({"GITHUB_SERVER_URL": value}).github_server_url == used


def test_spec_text_is_escaped_and_nothing_is_fetched(site: Site, cli: CliRunner, tmp_path: Path) -> None:
    spec = site.repo / "models" / site.name / "model.yaml"
    text = spec.read_text()
    hostile = "<script>alert('owned')</script><img src=x onerror=alert(1)>"
    assert "intended_use:" in text
    spec.write_text(re.sub(r"intended_use: .*", f'intended_use: "{hostile}"', text, count=1))
    commit_all(site.repo, "a hostile model card")
    out = tmp_path / "out"
    build(cli, site, out)
    page = (out / "models" / site.name / "index.html").read_text()
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert" not in page
    assert "<img" not in page
    for path in out.rglob("*.html"):
        html = path.read_text()
        # no script but the site's own file, no stylesheet or image from elsewhere
        assert re.findall(r"<script[^>]*>", html) in ([], ['<script src="assets/site.js">'])
        fetched = re.findall(r'<(?!a\s)[a-z]+\s[^>]*(?:src|href)="(https?:)?//', html)
        assert fetched == [], path
        # outside links are plain <a> links only (the run, a pull request, an issue)
        for link in re.findall(r'<a [^>]*href="(https?://[^"]+)"', html):
            assert link.startswith((site.uri, "https://github.com/")), link
    assert (out / "assets" / "site.css").is_file()
    assert (out / "assets" / "site.js").is_file()


def test_without_a_github_token_alerts_are_not_checked(site: Site, cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(cli, "site", "--output", str(out), "--json", str(tmp_path / "site.json"), cwd=site.repo)
    assert result.exit_code == 0, result.output
    assert "not checked" in result.output  # the warning says why
    rows = table(out / "index.html", "models")
    assert [cell(r, "alerts") for r in rows] == ["not checked", "not checked"]
    assert [(cell(r, "desired"), cell(r, "actual")) for r in rows] == [("—", "—"), ("—", "—")]
    assert 'id="count-alerts">not checked<' in (out / "index.html").read_text()


def test_site_benchmark_runs() -> None:
    """benchmarks/site.py at a small size (not timings): every build renders what it must."""
    done = subprocess.run(
        [sys.executable, str(PROJECT / "benchmarks" / "site.py"), "--models", "3", "--rounds", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    number = r"\d+(?:\.\d+)?"
    sides = " ".join(f"{s}_s={number} {s}_mb={number} {s}_self_mb={number}" for s in ("status", "full", "incremental"))
    assert re.fullmatch(rf"models=3 {sides} full_ratio={number} ratio={number}", last), last
    assert "site: 10 pages; status, full and incremental builds all as expected: True" in done.stdout


def test_an_output_over_the_governed_repo_is_refused(governed_repo: Path, cli: CliRunner, tmp_path: Path) -> None:
    before = sorted(p.name for p in (governed_repo / "models").iterdir())
    for output in (".", "models", "models/credit"):
        result = invoke(cli, "site", "--output", output, cwd=governed_repo)
        assert result.exit_code == 2, result.output
        assert "over the governed repo" in result.output
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = invoke(cli, "site", "--output", str(afile), cwd=governed_repo)
    assert result.exit_code == 2
    assert "is a file, not a folder" in result.output
    assert sorted(p.name for p in (governed_repo / "models").iterdir()) == before
    assert not (governed_repo / "index.html").exists()


def test_a_canary_beside_a_stage_has_its_row_and_is_named_beside_the_stable_one(
    site: Site, cli: CliRunner, tmp_path: Path
) -> None:
    digest = {v: site.registry.artifact_digest(site.name, v).digest for v in (1, 2)}
    (site.repo / "models" / site.name / "release.yaml").write_text(
        f"model: {site.name}\n"
        f'stages:\n  production: {{version: 1, digest: "{digest[1]}"}}\n'
        f'canary:\n  production: {{version: 2, digest: "{digest[2]}", traffic: 0.1}}\n'
    )
    commit_all(site.repo, "a canary of v2 beside production")
    out = tmp_path / "out"
    build(cli, site, out)
    rows = {r["attrs"]["data-stage"]: r for r in table(out / "index.html", "models")}
    assert set(rows) == {"production", "production-canary"}
    assert (cell(rows["production-canary"], "desired"), cell(rows["production-canary"], "actual")) == ("v2", "—")
    assert cell(rows["production"], "candidate") == "canary v2 (alias production-canary: —)"
    assert "10% of callers" in (out / "index.html").read_text()


def test_a_version_promoted_without_a_gate_verdict_shows_the_verdict_its_promotion_ran(
    site: Site, github: FakeGitHub, cli: CliRunner, tmp_path: Path
) -> None:
    """The gates a promotion runs are a verdict too: the page shows them, never "not gated"."""
    promote(site, github)
    registry = site.registry
    registry.delete_version_tag(site.name, 1, VERDICT_TAG)  # as for a version promoted straight from a plan
    # the latest record of v1 that ran gates (records sort by time, then stage)
    record = [r for r in audit.every(registry) if r.model == site.name and r.version == 1 and r.verdict_status][-1]
    ran = json.loads(registry.read_artifact(record.run_id, audit.VERDICT_ARTIFACT))
    out = tmp_path / "site"
    build(cli, site, out)
    [production] = [r for r in table(out / "index.html", "models") if r["attrs"]["data-stage"] == "production"]
    assert record.verdict_status == ran["status"]
    words = {"pass": "passed", "warn": "passed with warnings", "fail": "blocked"}
    assert cell(production, "verdict") == words[ran["status"]]
    page = out / "models" / site.name / "v1.html"
    rules = table(page, "rules")
    assert [r["attrs"]["data-rule"] for r in rules] == [r["rule_id"] for r in ran["rules"]]
    assert f"the gates run by its promotion to {record.stage}" in " ".join(page.read_text().split())
    # a verdict.json that no longer matches its audit record is named, not shown
    client = registry.client
    with tempfile.TemporaryDirectory() as tmp:
        forged = Path(tmp) / audit.VERDICT_ARTIFACT
        forged.write_text(json.dumps(ran | {"status": "pass", "rules": []}))
        client.log_artifact(record.run_id, str(forged))
    assert registry.read_artifact(record.run_id, audit.VERDICT_ARTIFACT) != json.dumps(ran).encode()
    build(cli, site, out, "--full")
    text = " ".join(page.read_text().split())
    assert "does not match its recorded sha256" in text
    assert table(page, "rules") == []


def test_models_without_a_release_are_listed_as_not_released(
    site: Site, cli: CliRunner, tmp_path: Path, mlflow_server: str
) -> None:
    """A model.yaml without release.yaml: one index row "not released", its model and version pages, incremental."""
    dev, bare = f"{site.name}dev", f"{site.name}bare"
    clone_model(site.repo, site.name, dev, released=False)  # two versions registered, v1 gated under its name
    clone_model(site.repo, site.name, bare, released=False)  # never registered
    client = site.registry.client
    for version in (1, 2):
        client.copy_model_version(f"models:/{TEMPLATE_NAME}/{version}", dev)
    run_gates(site.repo, dev, version=1, tracking_uri=mlflow_server)
    out = tmp_path / "out"
    first = build(cli, site, out)
    assert first["models"] == sorted([site.name, dev, bare])
    assert first["pages"] == 1 + 3 + 3 + 1  # index; site's and dev's model page and two versions; bare's model page

    rows = table(out / "index.html", "models")
    by_model = {r["attrs"]["data-model"]: r for r in rows if r["attrs"]["data-model"] in (dev, bare)}
    assert [r["attrs"]["data-model"] for r in rows].count(dev) == 1
    assert {m: r["attrs"]["data-state"] for m, r in by_model.items()} == {dev: "not released", bare: "not released"}
    assert {m: r["attrs"]["data-stage"] for m, r in by_model.items()} == {dev: "", bare: ""}
    assert cell(by_model[dev], "sync") == "not released 2 versions registered, the newest v2"
    assert cell(by_model[bare], "sync") == "not released no versions registered"
    assert (cell(by_model[dev], "desired"), cell(by_model[dev], "actual")) == ("—", "—")
    v2_status = json.loads(client.get_model_version(dev, "2").tags[VERDICT_TAG])["status"]
    words = {"pass": "passed", "warn": "passed with warnings", "fail": "blocked"}
    assert cell(by_model[dev], "verdict") == f"{words[v2_status]} (newest, v2)"
    assert cell(by_model[bare], "verdict") == "—"
    index = (out / "index.html").read_text()
    assert 'id="count-models">3<' in index
    assert 'id="count-not-released">2<' in index
    assert 'id="count-out-of-sync">0<' in index  # site's two stages ask for nothing and hold nothing: synced
    assert '<option value="not released">not released</option>' in index  # a value of the state filter

    page = out / "models" / dev / "index.html"
    text = page.read_text()
    assert 'id="not-released"' in text
    assert 'id="stages"' not in text  # no stages table
    assert [r["attrs"]["data-version"] for r in table(page, "versions")] == ["2", "1"]
    assert table(page, "history") == []
    assert f'id="lin-{dev}-v2-t"' in text  # the newest version's lineage (none holds a stage)
    assert f'id="lin-{dev}-v1-t"' not in text
    verdict = site.registry.read_verdict(dev, 1)
    rules = table(out / "models" / dev / "v1.html", "rules")
    assert [r["attrs"]["data-rule"] for r in rules] == [r["rule_id"] for r in verdict["rules"]]
    assert [r["attrs"]["data-status"] for r in rules] == [r["status"] for r in verdict["rules"]]
    assert (out / "models" / dev / "v2.html").is_file()
    assert "No version is registered yet." in (out / "models" / bare / "index.html").read_text()
    assert sorted(p.name for p in (out / "models" / bare).iterdir()) == ["index.html"]

    # a tag of one of dev's versions moves: only dev is re-rendered
    site.registry.set_version_tags(dev, 2, {"mlgate.note": "reviewed before its first promotion"})
    second = build(cli, site, out)
    assert (second["rendered"], sorted(second["reused"])) == ([dev], sorted([site.name, bare]))
    assert "reviewed before its first promotion" in (out / "models" / dev / "v2.html").read_text()

    # its first release.yaml makes it a model like the others
    (site.repo / "models" / dev / "release.yaml").write_text(f"model: {dev}\nstages:\n  staging: null\n")
    commit_all(site.repo, f"{dev}: released")
    third = build(cli, site, out)
    assert (third["rendered"], sorted(third["reused"])) == ([dev], sorted([site.name, bare]))
    [row] = [r for r in table(out / "index.html", "models") if r["attrs"]["data-model"] == dev]
    assert (row["attrs"]["data-stage"], row["attrs"]["data-state"]) == ("staging", "Synced")
    assert 'id="stages"' in (out / "models" / dev / "index.html").read_text()
    assert 'id="count-not-released">1<' in (out / "index.html").read_text()


def test_an_unreleased_model_yaml_that_does_not_load_is_exit_2_naming_the_file(
    site: Site, cli: CliRunner, tmp_path: Path
) -> None:
    """As `mlgate status` does for a released model's spec: the build stops, naming file:line, no page written."""
    dev = f"{site.name}dev"
    clone_model(site.repo, site.name, dev, released=False)
    spec = site.repo / "models" / dev / "model.yaml"
    spec.write_text(spec.read_text() + "owners: [unclosed\n")
    commit_all(site.repo, f"{dev}: a broken spec")
    lines = len(spec.read_text().splitlines())
    out = tmp_path / "out"
    result = invoke(cli, "site", "--output", str(out), cwd=site.repo)
    assert result.exit_code == 2, result.output
    assert f"error: models/{dev}/model.yaml:{lines + 1}:1: expected ',' or ']'" in result.output, result.output
    assert f"opened at line {lines}" in result.output
    assert not (out / "index.html").exists()
    # the same break in a released model's spec: `mlgate status` stops the same way
    released = site.repo / "models" / site.name / "model.yaml"
    released.write_text(released.read_text() + "owners: [unclosed\n")
    status = invoke(cli, "status", cwd=site.repo)
    assert status.exit_code == 2, status.output
    assert f"error: models/{site.name}/model.yaml:" in status.output
