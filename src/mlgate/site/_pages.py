"""The site's pages: what each one shows, gathered from a model's facts, rendered by jinja2 (autoescaped).

Every value a page shows passes through jinja2's autoescape: spec text, tags and audit fields are
written by pull-request authors and must appear as text, never as markup. The only markup that is
not escaped is the trend charts' SVG, which :func:`mlgate.report.svg_trend` builds escaping every
value it writes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate import __version__
from mlgate.config import rule_id
from mlgate.exceptions import InvalidInput
from mlgate.promotion import SyncState
from mlgate.registry import ARTIFACT_DIGEST_TAG, TAG_PREFIX, VERDICT_TAG, audit, verdict_sha256
from mlgate.report import monitoring_trends, svg_trend

if TYPE_CHECKING:
    from mlgate.config import ModelContext
    from mlgate.monitoring import OpenAlert
    from mlgate.promotion import StatusRow
    from mlgate.registry import ModelVersion, MonitoringRun, Record, Registry
    from mlgate.site._build import VerdictCache

TEMPLATES = ("base.html.j2", "macros.html.j2", "lineage.svg.j2", "index.html.j2", "model.html.j2", "version.html.j2")
ASSETS = ("site.css", "site.js")
COMPILED = "templates.zip"  # the templates precompiled by jinja2 (compile_templates), shipped in the package
COMPILED_KEY = "templates.zip.key"  # templates_key() of the sources and jinja2 version they were compiled from
CARD_FIELDS = (
    ("Intended use", "intended_use"),
    ("Out-of-scope uses", "out_of_scope_uses"),
    ("Limitations", "limitations"),
    ("Ethical considerations", "ethical_considerations"),
    ("Caveats and recommendations", "caveats_and_recommendations"),
    ("License", "license"),
)
MAX_EXPLAINED = 15  # features in the model card's global explanation table
NOT_RELEASED = "not released"  # the index's state of a model with a model.yaml and no release.yaml


@dataclass(frozen=True)
class SiteFacts:
    """What every page's footer says: the commit and registry the site was built from."""

    commit: str
    registry_uri: str
    github_repository: str
    mlgate_version: str
    github_server_url: str  # links to pull requests (Settings.github_server_url: GITHUB_SERVER_URL, else github.com)


@dataclass(frozen=True)
class ModelFacts:
    """Everything one model's pages show, read once per build (the fingerprint hashes it)."""

    ctx: ModelContext
    rows: list[StatusRow]
    versions: list[ModelVersion]
    aliases: dict[str, int]
    records: list[Record]
    monitoring: dict[str, list[MonitoringRun]]
    alerts: list[OpenAlert] | None  # None: GitHub was not asked (no token)
    site: SiteFacts


@functools.cache  # package files: read once per process (the key, the version and the assets all read them)
def _resource(name: str) -> bytes:
    return resources.files("mlgate").joinpath("resources", "site", name).read_bytes()


def _environment(jinja2: Any, loader: Any) -> Any:
    """The site's jinja2 environment: the same options compile the shipped templates and render pages."""
    return jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def templates_key(jinja2_version: str) -> str:
    """The sha256 of the templates' sources and the jinja2 version: what precompiled templates must match."""
    digest = hashlib.sha256(f"jinja2 {jinja2_version}".encode())
    for name in TEMPLATES:
        digest.update(b"\0" + name.encode() + b"\0" + _resource(name))
    return digest.hexdigest()


def compile_templates(folder: Path) -> tuple[Path, Path]:
    """Write the templates precompiled by jinja2 (``COMPILED``) and their key (``COMPILED_KEY``) to ``folder``.

    Compiling the six templates costs a build about as much as everything else the site adds to
    what ``mlgate status`` does; the package ships them compiled (``scripts/compile-site-templates``
    writes them into ``src/mlgate/resources/site``; tests/test_site.py fails while they are stale).
    The zip is deterministic: members sorted, fixed timestamps.
    """
    import jinja2

    env = _environment(jinja2, jinja2.PackageLoader("mlgate", "resources/site"))
    with tempfile.TemporaryDirectory(prefix="mlgate-site-compile-") as tmp:
        env.compile_templates(tmp, filter_func=TEMPLATES.__contains__, zip=None, ignore_errors=False)
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / COMPILED
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
            for path in sorted(Path(tmp).iterdir()):
                info = zipfile.ZipInfo(path.name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                out.writestr(info, path.read_bytes())
    key = folder / COMPILED_KEY
    key.write_text(templates_key(jinja2.__version__) + "\n", encoding="utf-8")
    return archive, key


def _compiled_loader(jinja2: Any) -> Any | None:
    """A loader of the shipped precompiled templates, or None when they are not those of these sources.

    Stale (a template edited, not recompiled) or built by another jinja2 version: the templates
    are compiled from their sources instead, which is slower but renders the same pages.
    """
    folder = resources.files("mlgate").joinpath("resources", "site")
    archive = Path(str(folder.joinpath(COMPILED)))
    try:
        shipped = Path(str(folder.joinpath(COMPILED_KEY))).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not archive.is_file() or shipped != templates_key(jinja2.__version__):
        return None
    return jinja2.ModuleLoader(str(archive))


class Renderer:
    """The jinja2 environment of the site's templates (autoescape on), and its assets."""

    def __init__(self) -> None:
        """Load the templates (the shipped precompiled ones when they match their sources).

        :attr:`version` hashes the templates, the assets and mlgate's version.
        """
        import jinja2

        loader = _compiled_loader(jinja2)
        self.precompiled = loader is not None
        self.env = _environment(jinja2, loader or jinja2.PackageLoader("mlgate", "resources/site"))
        digest = hashlib.sha256(__version__.encode())
        for name in (*TEMPLATES, *ASSETS):
            digest.update(name.encode() + b"\0" + _resource(name))
        self.version = digest.hexdigest()

    def assets(self) -> dict[str, bytes]:
        """``site.css`` and ``site.js``, as written under ``assets/``."""
        return {name: _resource(name) for name in ASSETS}

    def render(self, template: str, root: str, page: str, site: SiteFacts, **context: Any) -> str:
        """One page; ``root`` is the relative way back to the site's top (``""`` or ``"../../"``)."""
        return self.env.get_template(template).render(
            root=root,
            page=page,
            commit=site.commit if page == "index" else "",  # a model's pages change with its own inputs only
            registry_uri=site.registry_uri,
            mlgate_version=site.mlgate_version,
            **context,
        )

    def index(self, models: list[ModelFacts]) -> str:
        """``index.html``: every model × stage, with the summary counts."""
        rows = [row for mf in models for row in stage_rows(mf)]
        staged = [r for r in rows if r["state"] != NOT_RELEASED]  # stages: what out-of-sync and blocked count
        alerts_known = all(mf.alerts is not None for mf in models)
        counts = {
            "models": len(models),
            "not_released": len(rows) - len(staged),
            "out_of_sync": sum(r["state"] != SyncState.SYNCED for r in staged),
            "blocked": sum(r["verdict"] == "fail" for r in staged),
            "alerts": (len({(a.kind, a.number) for mf in models for a in mf.alerts or []}) if alerts_known else None),
        }
        owners = sorted({o for mf in models for o in mf.ctx.spec.owners})
        states = sorted({str(r["state"]) for r in rows})
        site = models[0].site if models else None
        if site is None:
            site = SiteFacts("", "", "", __version__, "")
        return self.render("index.html.j2", "", "index", site, rows=rows, counts=counts, owners=owners, states=states)


# ----------------------------------------------------------------------------- facts → page context


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M") if ms else ""


def verdict_tag(tags: dict[str, str]) -> dict[str, Any]:
    """The verdict tag's summary (status, stage, evaluated_at, data md5s) without downloading; {} when absent."""
    try:
        record = json.loads(tags.get(VERDICT_TAG, ""))
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def judged(mf: ModelFacts, mv: ModelVersion) -> dict[str, Any]:
    """The version's latest verdict summary: its gate verdict tag, else the verdict its latest promotion ran.

    A version promoted straight from a plan (the demo's canary, a retrained version) has no
    ``mlgate.gates`` tag: the gates ran inside ``promote --plan/--apply`` and their verdict is on
    the audit record's run. Showing "not gated" there would tell a reviewer the opposite of the truth.
    """
    tag = verdict_tag(mv.tags)
    if tag:
        return tag | {"source": "gate"}
    ran = [r for r in mf.records if r.version == mv.version and r.verdict_status and r.run_id]
    if not ran:
        return {}
    record = ran[-1]  # records are oldest first
    return {
        "status": record.verdict_status,
        "stage": record.stage,
        "evaluated_at": record.promoted_at,
        "source": f"promotion to {record.stage}" + (f" (PR #{record.pr})" if record.pr else ""),
        "record": record,
    }


def policy_limits(ctx: ModelContext) -> list[dict[str, Any]]:
    """The policy's monitoring rules as a monitoring verdict writes them: the thresholds the trend charts draw.

    The charts draw the rules of the policy at the commit the site is built from (the fingerprint
    hashes the policy files, so a changed threshold re-renders the model); blocking ones first.
    """
    return [
        {
            "rule_id": rule_id("monitoring", rule),
            "metric": rule.metric,
            "threshold": rule.threshold,
            "comparison": rule.comparison,
            "severity": str(rule.severity),
        }
        for rule in ctx.policy.policy.monitoring or []
    ]


def _pr_url(site: SiteFacts, pr: int | None) -> str | None:
    return f"{site.github_server_url}/{site.github_repository}/pull/{pr}" if pr and site.github_repository else None


def _unreleased_row(mf: ModelFacts) -> dict[str, Any]:
    """The one index row of a model without a release.yaml: no stage, its versions and the newest one's verdict."""
    newest = max(mf.versions, key=lambda v: v.version) if mf.versions else None
    count = len(mf.versions)
    return {
        "model": mf.ctx.name,
        "owner": " ".join(mf.ctx.spec.owners),
        "owners": ", ".join(mf.ctx.spec.owners),
        "stage": "",
        "arm": "",
        "traffic": None,
        "desired": None,
        "actual": None,
        "state": NOT_RELEASED,
        "detail": (
            f"{count} version{'s' if count > 1 else ''} registered, the newest v{newest.version}"
            if newest
            else "no versions registered"
        ),
        "verdict": judged(mf, newest).get("status", "") if newest else "",
        "verdict_of": newest.version if newest else None,
        "monitoring": "",
        "monitored_at": "",
        "alerts": mf.alerts,
        "candidate": "",
    }


def stage_rows(mf: ModelFacts) -> list[dict[str, Any]]:
    """The model's rows of the index: one per status row (a canary or shadow has its own), with the extras.

    A model without a release.yaml has one row, :data:`NOT_RELEASED`.
    """
    if mf.ctx.release is None:
        return [_unreleased_row(mf)]
    by_version = {v.version: v for v in mf.versions}
    release = mf.ctx.release
    out = []
    for row in mf.rows:
        held = by_version.get(row.actual) if row.actual is not None else None
        runs = mf.monitoring.get(row.stage, [])
        latest = runs[-1] if runs else None
        candidate = release.candidate(row.stage) if release and str(row.arm) == "stable" else None
        alerts = None if mf.alerts is None else [a for a in mf.alerts if a.stage == row.stage]
        out.append(
            {
                "model": mf.ctx.name,
                "owner": " ".join(mf.ctx.spec.owners),
                "owners": ", ".join(mf.ctx.spec.owners),
                "stage": row.stage,
                "arm": str(row.arm),
                "traffic": row.traffic,
                "desired": row.desired,
                "actual": row.actual,
                "state": str(row.status),
                "detail": row.detail,
                "verdict": judged(mf, held).get("status", "") if held else "",
                "verdict_of": None,  # the held version's
                "monitoring": latest.status if latest else "",
                "monitored_at": latest.evaluated_at if latest else "",
                "alerts": alerts,
                "candidate": (
                    f"{candidate.kind} v{candidate.version} (alias {candidate.alias}: "
                    f"{_label(mf.aliases.get(candidate.alias))})"
                    if candidate
                    else ""
                ),
            }
        )
    return out


def _label(version: int | None) -> str:
    return "—" if version is None else f"v{version}"


def _stages_of(mf: ModelFacts) -> dict[int, list[str]]:
    held: dict[int, list[str]] = {}
    for alias, version in sorted(mf.aliases.items()):
        held.setdefault(version, []).append(alias)
    return held


def _chain(mf: ModelFacts, mv: ModelVersion, stages: list[str]) -> dict[str, Any]:
    """The lineage boxes of one version: commit → data md5s → run → version → stage(s)."""
    tags = mv.tags
    boxes = [{"kind": "commit", "text": tags.get(TAG_PREFIX + "git.commit", "") or "not recorded"}]
    for key in sorted(tags):
        if key.startswith(TAG_PREFIX + "data.") and key.endswith(".md5"):
            role = key[len(TAG_PREFIX + "data.") : -len(".md5")]
            path = tags.get(f"{TAG_PREFIX}data.{role}.path") or role
            boxes.append({"kind": f"data md5 ({path})", "text": tags[key]})
    boxes.append({"kind": "training run", "text": mv.run_id or "none (registered by hand)"})
    boxes.append({"kind": "registered version", "text": f"{mf.ctx.name} v{mv.version}"})
    boxes.append({"kind": "stage", "text": ", ".join(stages) if stages else "none"})
    return {"id": f"{mf.ctx.name}-v{mv.version}", "model": mf.ctx.name, "version": mv.version, "boxes": boxes}


def _record_row(mf: ModelFacts, record: Record) -> dict[str, Any]:
    row = record.as_dict()
    row["pr_url"] = _pr_url(mf.site, record.pr)
    return row


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int | float):
        return f"{value:.4g}"
    return str(value)


def _promotion_verdict(record: Record, registry: Registry, cache: VerdictCache) -> tuple[dict[str, Any] | None, str]:
    """The verdict a promotion ran (its audit run's ``verdict.json``, cached by sha256), checked against its record."""
    data = cache.get(record.verdict_sha256)
    if data is None:
        data = registry.read_artifact(record.run_id, audit.VERDICT_ARTIFACT)
        if data is None:
            return None, f"the audit record's {audit.VERDICT_ARTIFACT} is missing (run {record.run_id})"
    if hashlib.sha256(data).hexdigest() != record.verdict_sha256:
        artifact = audit.VERDICT_ARTIFACT
        return None, f"the audit record's {artifact} does not match its recorded sha256 (run {record.run_id})"
    cache.put(record.verdict_sha256, data)
    try:
        verdict = json.loads(data)
    except ValueError:
        return None, f"the audit record's {audit.VERDICT_ARTIFACT} is not JSON (run {record.run_id})"
    return (verdict if isinstance(verdict, dict) else None), ""


def _verdict(
    mf: ModelFacts, mv: ModelVersion, registry: Registry, cache: VerdictCache
) -> tuple[dict[str, Any] | None, str, list[str]]:
    """The version's latest verdict (cached by sha256), a problem reading it, and every verdict file on its run."""
    sha = verdict_sha256(mv.tags)
    if VERDICT_TAG not in mv.tags:
        record = judged(mf, mv).get("record")
        if record is None:
            return None, "", []
        verdict, problem = _promotion_verdict(record, registry, cache)
        return verdict, problem, []
    files = cache.verdict_files(registry, mv.run_id, sha)  # the earlier verdicts, and where the latest is
    try:
        found = registry.verdict_of(mv, cache.get(sha), files)
    except InvalidInput as err:
        return None, err.message, files
    if found is None:
        return None, "", files
    verdict, data = found
    if sha:
        cache.put(sha, data)
    return verdict, "", files


def model_pages(renderer: Renderer, mf: ModelFacts, registry: Registry, cache: VerdictCache) -> dict[str, str]:
    """Every page of one model: ``models/<name>/index.html`` and ``models/<name>/v<N>.html``, by relative path."""
    name = mf.ctx.name
    folder = f"models/{name}"
    held = _stages_of(mf)
    records = list(mf.records)
    pages: dict[str, str] = {}
    versions = []
    explanation = None
    for mv in sorted(mf.versions, key=lambda v: v.version, reverse=True):
        tag = judged(mf, mv)
        verdict, problem, files = _verdict(mf, mv, registry, cache)
        stages = held.get(mv.version, [])
        latest_file = str(tag.get("verdict", ""))
        rules = [
            r
            | {
                "observed_text": _number(r.get("observed")),
                "threshold_text": _number(r.get("threshold")),
                "explanation": r.get("explanation") or "",
            }
            for r in (verdict or {}).get("rules") or []
        ]
        tally = (verdict or {}).get("counts") or {}
        counts = [(k, tally[k]) for k in ("pass", "fail", "error", "skipped") if k in tally]
        info = {
            "model": name,
            "version": mv.version,
            "status": tag.get("status", ""),
            "judged_stage": tag.get("stage", ""),
            "judged_by": tag.get("source", ""),
            "evaluated_at": tag.get("evaluated_at", ""),
            "stages": stages,
            "created": _when(mv.created_ms),
            "commit": mv.tags.get(TAG_PREFIX + "git.commit", ""),
            "digest": mv.tags.get(ARTIFACT_DIGEST_TAG, ""),
            "run_id": mv.run_id,
            "run_url": ((verdict or {}).get("lineage") or {}).get("run_url"),
            "rules": rules,
            "counts": counts,
            "verdict_file": latest_file,
            "verdict_problem": problem,
            "older": [f for f in files if f != latest_file],
            "approvals": [_record_row(mf, r) for r in reversed(records) if r.version == mv.version],
            "chain": _chain(mf, mv, stages),
            "tags": sorted((k, v) for k, v in mv.tags.items() if k.startswith(TAG_PREFIX) and k != VERDICT_TAG),
        }
        versions.append(info)
        if explanation is None and verdict:
            found = (verdict.get("evidence") or {}).get("explanation") or {}
            if found.get("features"):
                explanation = found | {
                    "version": mv.version,
                    "features": found["features"][:MAX_EXPLAINED],
                    "method": found.get("method", ""),
                    "rows": found.get("rows", ""),
                }
        pages[f"{folder}/v{mv.version}.html"] = renderer.render("version.html.j2", "../../", "version", mf.site, v=info)
    spec = mf.ctx.spec
    trends = []
    limits = {"rules": policy_limits(mf.ctx)}
    for stage, runs in sorted(mf.monitoring.items()):
        if not runs:
            continue
        history = [vars(r) for r in runs]
        charts = [svg_trend(t) for t in monitoring_trends(limits, history)]
        last = runs[-1]
        trends.append(
            {
                "stage": stage,
                "runs": len(runs),
                "latest": last.status,
                "at": last.evaluated_at,
                "version": last.version,
                "charts": charts,
            }
        )
    by_version = {mv.version: mv for mv in mf.versions}
    lineage = [_chain(mf, by_version[v], stages) for v, stages in sorted(held.items(), reverse=True) if v in by_version]
    released = mf.ctx.release is not None
    newest_only = not released and not lineage and bool(mf.versions)
    if newest_only:  # under development: the newest version's chain
        lineage = [_chain(mf, max(mf.versions, key=lambda v: v.version), [])]
    context = {
        "name": name,
        "released": released,
        "description": spec.description,
        "owners": spec.owners,
        "task": str(spec.task),
        "policy": spec.policy,
        "monitoring_owner": spec.monitoring.owner,
        "stages": stage_rows(mf) if released else [],
        "versions": versions,
        "history": [_record_row(mf, r) for r in reversed(records)],
        "trends": trends,
        "card": [(label, getattr(spec.model_card, key)) for label, key in CARD_FIELDS],
        "explanation": explanation,
        "lineage": lineage,
        "lineage_newest": newest_only,
    }
    pages[f"{folder}/index.html"] = renderer.render("model.html.j2", "../../", "model", mf.site, m=context)
    return pages
