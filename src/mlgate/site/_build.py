"""``mlgate site``: the governance site, built from git and the registry, re-rendering only what changed.

One build reads what ``mlgate status`` reads (:func:`mlgate.promotion.status_facts`: every model's
spec, policy and release.yaml, every alias and every version with its tags, in two registry
searches, which with ``unreleased=True`` also cover the models with a model.yaml and no
release.yaml) plus one search of the audit records and one of the monitoring runs, and — when the
workspace has a GitHub token — one listing of mlgate's open issues. Each model's inputs are hashed
into a fingerprint (:func:`fingerprint`); a model whose fingerprint is the one the last build
stored in ``DIR/.mlgate-site/state.json`` keeps its pages. Verdict artifacts are cached by the
sha256 their version's tag names (``DIR/.mlgate-site/verdicts/<sha>.json``), so a rebuild downloads
only new verdicts. Every page is written atomically (temporary file, then rename), and only when
its bytes differ.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import __version__
from mlgate.config import Workspace
from mlgate.exceptions import GitError, InvalidInput
from mlgate.git import resolve_commit
from mlgate.monitoring import open_alerts
from mlgate.promotion import status_facts
from mlgate.registry import Registry, audit, verdict_sha256
from mlgate.site._pages import ModelFacts, Renderer, SiteFacts, model_pages

STATE_DIR = ".mlgate-site"
STATE_SCHEMA = "mlgate.site/1"
Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    """No progress wanted."""


@dataclass(frozen=True)
class SiteResult:
    """What ``mlgate site`` built: where, which models were re-rendered and which kept their pages."""

    output: Path
    index: Path
    models: list[str]
    rendered: list[str]
    reused: list[str]
    pages: int
    seconds: float
    templates: str  # "precompiled" (the zip shipped in the package) or "compiled" (from the sources: it was stale)

    def as_dict(self) -> dict[str, Any]:
        """The result as ``mlgate site --json`` prints it."""
        return {
            "output": str(self.output),
            "index": str(self.index),
            "models": self.models,
            "rendered": self.rendered,
            "reused": self.reused,
            "pages": self.pages,
            "seconds": self.seconds,
            "templates": self.templates,
        }


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename; False (nothing written) when it holds them."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _file_bytes(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def fingerprint(facts: ModelFacts, site_version: str) -> str:
    """The sha256 of everything a model's pages show: files at HEAD, registry facts, the site's own version."""
    ctx = facts.ctx
    root = ctx.root
    files = {
        rel: _file_bytes(root / rel)
        for rel in (f"models/{ctx.name}/model.yaml", f"models/{ctx.name}/release.yaml", *ctx.policy.files)
    }
    return _hash(
        {
            "site": site_version,
            "files": files,
            "params": ctx.params,
            "rows": [r.as_dict() for r in facts.rows],
            "versions": [
                [v.version, v.run_id, v.tags, v.current_stage, v.source, v.created_ms] for v in facts.versions
            ],
            "aliases": facts.aliases,
            "records": [r.as_dict() for r in facts.records],
            "monitoring": {stage: [vars(r) for r in runs] for stage, runs in facts.monitoring.items()},
            "alerts": None if facts.alerts is None else [vars(a) for a in facts.alerts],
            "registry": facts.site.registry_uri,
            "github": [facts.site.github_server_url, facts.site.github_repository],  # the pull-request links
        }
    )


class VerdictCache:
    """Verdict artifacts kept by the sha256 their version's tag names: a rebuild downloads only new ones."""

    def __init__(self, folder: Path, use: bool, listings: dict[str, Any] | None = None) -> None:
        """Cache in ``folder``; ``use=False`` (``--full``) reads nothing from it (and writes it afresh).

        ``listings``: per run and verdict sha256 (``<run>@<sha>``), the verdict files the run held
        when a version's tag named that verdict (from the last build's state). A run gains a verdict
        file only when a gate runs, and the gate then moves the version's tag to it: a listing is
        reused while the tag names the same sha256.
        """
        self.folder = folder
        self.use = use
        self.listings: dict[str, Any] = dict(listings or {}) if use else {}

    def verdict_files(self, registry: Registry, run_id: str, sha: str | None) -> list[str]:
        """The run's verdict files: the last build's listing while the latest verdict is the same, else listed."""
        key = f"{run_id}@{sha}"
        known = self.listings.get(key)
        if sha and isinstance(known, list):
            return [str(f) for f in known]
        files = registry.verdict_files(run_id)
        if sha and run_id:
            self.listings[key] = files
        return files

    def get(self, sha: str | None) -> bytes | None:
        """The cached bytes of the verdict with ``sha``, or None."""
        if not self.use or not sha:
            return None
        try:
            return (self.folder / f"{sha}.json").read_bytes()
        except OSError:
            return None

    def put(self, sha: str, data: bytes) -> None:
        """Keep the verdict's bytes (written atomically; only when its sha256 is ``sha``)."""
        if hashlib.sha256(data).hexdigest() == sha:
            write_atomic(self.folder / f"{sha}.json", data)


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) and state.get("schema") == STATE_SCHEMA else {}


_PAGE = re.compile(r"index\.html|v[0-9]+\.html|\..+\.html\..+")  # a page, or a temporary file of one


def _remove_model(output: Path, name: str) -> bool:
    """Delete a removed model's folder of pages; False (left alone) when it holds anything the site did not write."""
    folder = output / "models" / name
    if not folder.is_dir() or folder.is_symlink() or folder.resolve().parent != (output / "models").resolve():
        return False
    if not all(p.is_file() and _PAGE.fullmatch(p.name) for p in folder.iterdir()):
        return False
    shutil.rmtree(folder)
    return True


def _head(ws: Workspace) -> str:
    """The commit the index says it was built from ('' before the first commit)."""
    try:
        return resolve_commit(ws.root, "HEAD")
    except GitError:
        return ""


def _check_output(ws: Workspace, output: Path) -> None:
    """Refuse an output folder that is (or holds) the governed repo: the site deletes pages it no longer needs."""
    root = ws.root.resolve()
    if output == root or root.is_relative_to(output) or output.is_relative_to(root / "models"):
        raise InvalidInput(
            f"--output {output}: the site would be written over the governed repo at {root}",
            hint="give a folder of its own, e.g. --output site/ (add it to .gitignore)",
        )
    if output.exists() and not output.is_dir():
        raise InvalidInput(f"--output {output} is a file, not a folder", hint="give a folder (created if absent)")


def build(
    ws: Workspace,
    output: Path,
    *,
    full: bool = False,
    progress: Progress = _quiet,
    warn: Progress = _quiet,
) -> SiteResult:
    """Build (or bring up to date) the governance site in ``output``; see the module docstring."""
    started = time.perf_counter()
    output = output.resolve()
    _check_output(ws, output)
    output.mkdir(parents=True, exist_ok=True)
    state_dir = output / STATE_DIR
    state_path = state_dir / "state.json"
    state = {} if full else _read_state(state_path)
    renderer = Renderer()

    progress("reading model.yaml and release.yaml files and the registry (aliases, versions)")
    facts = status_facts(ws, unreleased=True)  # the models without a release.yaml too, in the same searches
    registry = ws.registry
    progress("reading the audit records and the monitoring runs")
    records = audit.every(registry)
    monitoring = registry.monitoring_runs({(r.model, r.stage) for r in facts.rows})
    alerts = None
    if ws.settings.github_token and ws.settings.github_repository:
        progress("reading the open alerts on GitHub")
        alerts = open_alerts(ws.github)
    else:
        warn("no GITHUB_TOKEN: open alerts are shown as 'not checked'")

    site = SiteFacts(
        commit=_head(ws),
        registry_uri=registry.shown_uri,
        github_repository=ws.settings.github_repository,
        mlgate_version=__version__,
        github_server_url=ws.settings.github_server_url,
    )
    contexts = facts.contexts | facts.unreleased
    models = sorted(contexts)
    per_model = {
        name: ModelFacts(
            ctx=contexts[name],
            rows=[r for r in facts.rows if r.model == name],
            versions=facts.versions.get(name, []),
            aliases=facts.aliases.get(name, {}),
            records=[r for r in records if r.model == name],
            monitoring={stage: runs for (model, stage), runs in monitoring.items() if model == name},
            alerts=None if alerts is None else [a for a in alerts if a.model == name],
            site=site,
        )
        for name in models
    }

    cache = VerdictCache(state_dir / "verdicts", use=not full, listings=state.get("listings"))
    old_prints: dict[str, str] = state.get("models") or {}
    old_pages: dict[str, list[str]] = state.get("pages") or {}
    prints: dict[str, str] = {}
    pages: dict[str, list[str]] = {}
    rendered: list[str] = []
    reused: list[str] = []
    for i, name in enumerate(models, 1):
        mf = per_model[name]
        prints[name] = fingerprint(mf, renderer.version)
        kept = old_pages.get(name) or []
        if prints[name] == old_prints.get(name) and kept and all((output / rel).is_file() for rel in kept):
            reused.append(name)
            pages[name] = kept
            continue
        progress(f"[{i}/{len(models)}] rendering {name}")
        written = model_pages(renderer, mf, registry, cache)
        for rel, text in written.items():
            write_atomic(output / rel, text.encode())
        for rel in set(kept) - set(written):  # a version no longer registered
            (output / rel).unlink(missing_ok=True)
        pages[name] = sorted(written)
        rendered.append(name)
    gone = set(old_pages) - set(models)
    if full:  # no state is trusted: any folder of pages of a model no longer there goes
        gone |= {f.name for f in (output / "models").glob("*") if f.name not in models}
    for name in sorted(gone):
        if not _remove_model(output, name) and (output / "models" / name).exists():
            warn(f"{output / 'models' / name}: not a model of this repo any more, but it holds other files: left as is")

    index = output / "index.html"
    write_atomic(index, renderer.index(list(per_model.values())).encode())
    for asset, data in renderer.assets().items():
        write_atomic(output / "assets" / asset, data)
    keys = {f"{v.run_id}@{verdict_sha256(v.tags)}" for mf in per_model.values() for v in mf.versions}
    listings = {key: listed for key, listed in sorted(cache.listings.items()) if key in keys}
    new_state = {
        "schema": STATE_SCHEMA,
        "site": renderer.version,
        "models": prints,
        "pages": pages,
        "listings": listings,
    }
    write_atomic(state_path, (json.dumps(new_state, indent=1, sort_keys=True) + "\n").encode())
    if not full:
        _prune_cache(cache, per_model)
    count = 1 + sum(len(p) for p in pages.values())
    return SiteResult(
        output=output,
        index=index,
        models=models,
        rendered=rendered,
        reused=reused,
        pages=count,
        seconds=round(time.perf_counter() - started, 3),
        templates="precompiled" if renderer.precompiled else "compiled",
    )


def _prune_cache(cache: VerdictCache, per_model: dict[str, ModelFacts]) -> None:
    """Drop cached verdicts no version's tag names any more."""
    wanted = {verdict_sha256(v.tags) for mf in per_model.values() for v in mf.versions}
    for path in cache.folder.glob("*.json") if cache.folder.is_dir() else ():
        if path.stem not in wanted:
            path.unlink(missing_ok=True)
