"""The governance site (`mlgate site`) in a real headless Chromium, loaded from file://.

One registry state per module on the session's `mlflow server`, as the workflows leave it: the
insurance example (here `siteins`) trained from two commits and gated, v1 promoted to staging and
then to production with the policy's approver (the GitHub stand-in serves the pull request and its
review), v2 then in staging; the credit example (here `sitecred`) trained and gated, and asked for
in staging by release.yaml with no alias yet (out of sync). One `mlgate site --output` build; each
page is rendered once per width (390 and 1280 px) and every test reads those renderings.

The screenshots are kept in the test artifacts (`$MLGATE_TEST_ARTIFACTS/site/`, by default
`test-artifacts/site/` in the checkout).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser import (
    ACCESSIBILITY_AUDIT,
    Rendered,
    accessibility_problems,
    audit,
    is_blank,
    png_stats,
    render,
    require_chromium,
)
from conftest import PROJECT, commit_all, copy_repo, git, github_stand_in, rename_model
from mlgate.config import load_release, set_stage
from mlgate.gates import run_gates
from mlgate.github import GitHub
from mlgate.promotion import apply, fetch_pull_request
from mlgate.registry import Registry
from mlgate.registry import audit as audit_records
from mlgate.training import train

pytestmark = pytest.mark.server

MLGATE = str(Path(sys.executable).parent / "mlgate")
TOKEN = "ghs_FAKE_site_token_1234567890abcdefgh"
REPO = "octo-org/models"
INSURANCE, CREDIT = "siteins", "sitecred"  # names of their own on the session's shared server
DEV = "sitedev"  # a model.yaml without release.yaml and never registered: listed as not released
WIDTHS = (390, 1280)
PAGES = {
    "index": "index.html",
    "model": f"models/{INSURANCE}/index.html",
    "version": f"models/{INSURANCE}/v1.html",
    "unreleased": f"models/{DEV}/index.html",
}

ROWS = """Array.from(document.querySelectorAll("#models tbody tr")).map((r) => ({
  model: r.dataset.model, stage: r.dataset.stage, owner: r.dataset.owner, state: r.dataset.state,
  desired: r.querySelector(".desired").textContent.trim(), actual: r.querySelector(".actual").textContent.trim()}))"""
WIDTH = "document.documentElement.scrollWidth"
WIDE = """Array.from(document.querySelectorAll("table"))
  .filter((t) => t.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .map((t) => `${t.id || t.caption.textContent.trim()}: ${Math.round(t.getBoundingClientRect().width)} px wide`)"""
FILTERS = """(() => {
  const search = document.getElementById("search");
  const owner = document.getElementById("filter-owner");
  const state = document.getElementById("filter-state");
  const shown = () => Array.from(document.querySelectorAll("#models tbody tr"))
    .filter((r) => r.getClientRects().length > 0).map((r) => r.dataset.model + "/" + r.dataset.stage);
  const type = (text) => { search.value = text; search.dispatchEvent(new Event("input", {bubbles: true})); };
  const pick = (select, value) => { select.value = value; select.dispatchEvent(new Event("change", {bubbles: true})); };
  const out = {all: shown()};
  type("CREDIT"); out.search = shown();
  type("no-such-model"); out.nothing = shown();
  type("");
  out.state = document.querySelector('tr[data-model="CREDIT"]').dataset.state;
  pick(state, out.state); out.by_state = shown();
  pick(state, "not released"); out.not_released = shown();
  pick(state, "");
  out.owner = "pricing-team";
  pick(owner, out.owner); out.by_owner = shown();
  pick(owner, "");
  out.reset = shown();
  return out;
})()""".replace("CREDIT", CREDIT)
RULES = """Array.from(document.querySelectorAll("#rules tbody tr")).map((r) => [r.dataset.rule, r.dataset.status])"""
APPROVALS = """Array.from(document.querySelectorAll("#approvals tbody tr")).map((r) => ({stage: r.dataset.stage,
  approvers: Array.from(r.querySelectorAll(".approvers .login")).map((e) => e.textContent.trim())}))"""


def artifacts_dir() -> Path:
    """Where the screenshots are kept for the CI run: $MLGATE_TEST_ARTIFACTS/site, else test-artifacts/site."""
    root = os.environ.get("MLGATE_TEST_ARTIFACTS") or str(PROJECT / "test-artifacts")
    return Path(root) / "site"


def release(repo: Path, registry: Registry, model: str, **stages: int | None) -> None:
    """Pin ``stages`` in the model's release.yaml (each version with its files' digest) and commit."""
    for stage, version in stages.items():
        digest = None if version is None else registry.artifact_digest(model, version).digest
        set_stage(repo, model, stage, version, digest)
    git("commit", "-q", "--allow-empty", "-am", f"release {model} {stages}", cwd=repo)


def under_development(repo: Path, source: str, name: str) -> None:
    """``source``'s spec and params under ``name``, without a release.yaml."""
    import copy

    import yaml

    folder = repo / "models" / name
    folder.mkdir()
    spec = (repo / "models" / source / "model.yaml").read_text()
    (folder / "model.yaml").write_text(spec.replace(f"name: {source}", f"name: {name}", 1))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params[name] = copy.deepcopy(params[source])
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@dataclass
class Site:
    repo: Path
    registry: Registry
    out: Path  # the built site
    result: dict[str, object]  # `mlgate site --json -`


@pytest.fixture(scope="module")
def site(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Site:
    base = tmp_path_factory.mktemp("site-browser")
    repo = copy_repo(template_repo, base / "repo")
    rename_model(repo, "insurance", INSURANCE)
    rename_model(repo, "credit", CREDIT)
    under_development(repo, CREDIT, DEV)
    commit_all(repo, "the models have names of their own here")
    registry = Registry(repo, mlflow_server)
    params = repo / "params.yaml"
    for trees in (150, 160):  # v1 and v2 from two commits, gated as their pull requests left them
        params.write_text(params.read_text().replace("n_estimators: 150", f"n_estimators: {trees}", 1))
        git("commit", "-q", "--allow-empty", "-am", f"{trees} trees", cwd=repo)
        version = train(repo, INSURANCE, tracking_uri=mlflow_server).version
        run_gates(repo, INSURANCE, version=version, tracking_uri=mlflow_server)
    version = train(repo, CREDIT, tracking_uri=mlflow_server).version
    run_gates(repo, CREDIT, version=version, tracking_uri=mlflow_server)

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLGATE_ORG_TOKEN", raising=False)
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        with github_stand_in(mp, TOKEN, REPO) as github:
            github.grant("risk-officer", "write")  # the policy's production approver
            release(repo, registry, INSURANCE, staging=1)
            apply(repo, registry, pull=None, actor="ci")
            release(repo, registry, INSURANCE, staging=1, production=1)
            sha = git("rev-parse", "HEAD", cwd=repo).strip()
            github.set_pull(7, author="data-scientist", head_sha=sha)
            github.add_review(
                7, login="risk-officer", commit_id=sha, association="MEMBER", submitted_at="2026-01-01T10:00:00Z"
            )
            apply(repo, registry, pull=fetch_pull_request(7, GitHub()), actor="merger")
            release(repo, registry, INSURANCE, staging=2)
            apply(repo, registry, pull=None, actor="ci")
    release(repo, registry, CREDIT, staging=1)  # asked for, not applied: out of sync

    out = base / "site"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["MLFLOW_TRACKING_URI"] = mlflow_server
    done = subprocess.run(
        [MLGATE, "site", "--output", str(out), "--json", "-"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return Site(repo, registry, out, json.loads(done.stdout))


@pytest.fixture(scope="module")
def rendered(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], Rendered]:
    """Each page at each width, rendered once (with the accessibility audit), its screenshot kept."""
    require_chromium()
    shots = tmp_path_factory.mktemp("site-shots")
    keep = artifacts_dir()
    keep.mkdir(parents=True, exist_ok=True)
    found = {}
    for name, rel in PAGES.items():
        for width in WIDTHS:
            measure = {"width": WIDTH, "wide": WIDE}
            if name == "index":
                measure["rows"] = ROWS
            if name == "version":
                measure |= {"rules": RULES, "approvals": APPROVALS}
            measure["accessibility"] = ACCESSIBILITY_AUDIT  # after the reads: it moves focus
            if name == "index":
                measure["filters"] = FILTERS  # last: it filters the rows (and shows them all again)
            page = render(site.out / rel, shots / f"{name}-{width}", width=width, height=1600, measure=measure)
            shutil.copy2(page.screenshot, keep / f"{name}-{width}.png")
            found[(name, width)] = page
    return found


def stages_in_release(repo: Path, model: str) -> dict[str, int | None]:
    doc, _ = load_release(repo / "models" / model / "release.yaml", repo)
    return {stage: None if pin is None else pin.version for stage, pin in doc.stages.items()}


def shown(version: int | None) -> str:
    return "—" if version is None else f"v{version}"


def test_the_build_lists_every_model(site: Site) -> None:
    assert sorted(site.result["models"]) == [CREDIT, DEV, INSURANCE]
    assert (site.out / "index.html").is_file()
    for rel in PAGES.values():
        assert (site.out / rel).is_file(), rel


@pytest.mark.parametrize("width", WIDTHS)
def test_index_lists_every_model_with_the_desired_and_actual_version_of_each_stage(
    site: Site, rendered: dict[tuple[str, int], Rendered], width: int
) -> None:
    rows = rendered[("index", width)].values["rows"]
    expected = {}
    for model in (CREDIT, INSURANCE):
        for stage, desired in stages_in_release(site.repo, model).items():
            expected[(model, stage)] = (shown(desired), shown(site.registry.alias_version(model, stage)))
    expected[(DEV, "")] = ("—", "—")  # no release.yaml: one row without a stage
    assert {(r["model"], r["stage"]): (r["desired"], r["actual"]) for r in rows} == expected
    # what the registry was brought to above: the site shows it, not a guess
    assert expected[(INSURANCE, "production")] == ("v1", "v1")
    assert expected[(INSURANCE, "staging")] == ("v2", "v2")
    assert expected[(CREDIT, "staging")] == ("v1", "—")
    states = {(r["model"], r["stage"]): r["state"] for r in rows}
    assert states[(INSURANCE, "production")] != states[(CREDIT, "staging")], "in sync and out of sync differ"
    assert states[(DEV, "")] == "not released"


@pytest.mark.parametrize(("name", "width"), [(n, w) for n in PAGES for w in WIDTHS])
def test_pages_load_without_errors_or_requests_and_are_not_blank(
    rendered: dict[tuple[str, int], Rendered], name: str, width: int
) -> None:
    page = rendered[(name, width)]
    assert page.console_errors == []
    assert page.network_requests == []  # file:// only: no CDN, no font, no tracker
    stats = png_stats(page.screenshot)
    assert (stats.width, stats.height) == (width, 1600)
    assert not is_blank(page.screenshot)
    assert stats.colours > 20, stats
    assert (artifacts_dir() / f"{name}-{width}.png").is_file()


@pytest.mark.parametrize("name", PAGES)
def test_no_horizontal_overflow_at_390_px(rendered: dict[tuple[str, int], Rendered], name: str) -> None:
    assert rendered[(name, 390)].values["width"] <= 390


@pytest.mark.parametrize("name", PAGES)
def test_every_table_fits_at_1280_px(rendered: dict[tuple[str, int], Rendered], name: str) -> None:
    """On a desktop screen a reader sees each table whole: no column (a rule's status) behind a sideways scroll."""
    assert rendered[(name, 1280)].values["wide"] == []


@pytest.mark.parametrize(("name", "width"), [(n, w) for n in PAGES for w in WIDTHS])
def test_pages_pass_the_accessibility_audit(rendered: dict[tuple[str, int], Rendered], name: str, width: int) -> None:
    assert accessibility_problems(rendered[(name, width)]) == []


def test_search_and_filters_narrow_the_rows(rendered: dict[tuple[str, int], Rendered]) -> None:
    page = rendered[("index", 1280)]
    rows, filters = page.values["rows"], page.values["filters"]
    every = [f"{r['model']}/{r['stage']}" for r in rows]
    assert filters["all"] == every
    assert filters["search"] == [f"{r['model']}/{r['stage']}" for r in rows if r["model"] == CREDIT]
    assert filters["search"], "the search matches the credit model's rows"
    assert filters["nothing"] == []
    assert filters["by_state"] == [f"{r['model']}/{r['stage']}" for r in rows if r["state"] == filters["state"]]
    assert len(filters["by_state"]) < len(every)
    assert filters["not_released"] == [f"{DEV}/"]
    assert filters["by_owner"] == [f"{r['model']}/{r['stage']}" for r in rows if filters["owner"] in r["owner"].split()]
    assert filters["by_owner"]
    assert all(row.startswith(f"{INSURANCE}/") for row in filters["by_owner"])
    assert filters["reset"] == every


def test_a_version_page_shows_its_rules_and_approvers(site: Site, rendered: dict[tuple[str, int], Rendered]) -> None:
    page = rendered[("version", 1280)]
    verdict = site.registry.read_verdict(INSURANCE, 1)
    assert verdict is not None
    assert sorted(map(tuple, page.values["rules"])) == sorted((r["rule_id"], r["status"]) for r in verdict["rules"])
    assert len(page.values["rules"]) >= 3
    records = [r for r in audit_records.history(site.registry, INSURANCE) if r.version == 1]
    assert sorted((a["stage"], a["approvers"]) for a in page.values["approvals"]) == sorted(
        (r.stage, r.approvers) for r in records
    )
    assert ("production", ["risk-officer"]) in [(a["stage"], a["approvers"]) for a in page.values["approvals"]]
    assert "risk-officer" in (page.text or "")


def test_the_audit_sees_faults_put_into_the_sites_own_css(site: Site, tmp_path: Path) -> None:
    """The audit that passes above is not vacuous: the same pages with low-contrast cells and no focus ring fail it."""
    require_chromium()
    copy = tmp_path / "site"
    shutil.copytree(site.out, copy)
    css = copy / "assets" / "site.css"
    css.write_text(
        css.read_text() + "\n#models td { color: #aaa !important }\n"
        "a:focus, a:focus-visible { outline: none !important; box-shadow: none !important }\n"
    )
    problems = accessibility_problems(audit(copy / "index.html", tmp_path / "shot", width=1280, height=1600))
    assert any(p.startswith("contrast: td") and "#aaaaaa on" in p for p in problems), problems
    assert any(p.startswith("keyboard: a") and "no visible focus" in p for p in problems), problems
    assert {p.split(":")[0] for p in problems} == {"contrast", "keyboard"}, problems
