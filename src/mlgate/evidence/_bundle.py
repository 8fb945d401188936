"""``mlgate evidence MODEL --version N --output FILE.tar.gz``: one version's evidence, self-contained and verifiable.

Every fact is read from where it is recorded — the registry (version, run, verdict artifacts, audit
records, monitoring runs), git (the files as judged, at the commits the version and its verdicts
name), GitHub when a token is at hand (the reviews of each promotion's pull request) — and written
as files whose sha256 the manifest lists; the in-toto statement names the model's files as its
subject and the manifest as its byproduct (see docs/design.md "Evidence bundles"). Nothing in the
bundle depends on when it was built: the same registry, repo and key give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate import git
from mlgate.config import ModelSpec, Workspace, load_model_spec, schema, spec_path, yamlio
from mlgate.evidence._archive import write_archive
from mlgate.evidence._statement import (
    BUILD_TYPE,
    KEY_ENV,
    LOCAL_BUILDER,
    canonical,
    sign,
    signing_key,
    statement,
)
from mlgate.exceptions import CustodyViolation, ExternalServiceError, GitError, InvalidInput
from mlgate.registry import (
    ARTIFACT_DIGEST_TAG,
    COMPARE_TAG,
    MONITORING_EXPERIMENT,
    TAG_PREFIX,
    VERDICT_TAG,
    ModelVersion,
    Registry,
    audit,
    folder_digest,
    manifest_of,
    tampered,
)
from mlgate.report import ReportInput, render_card_html, render_html

MANIFEST = "MANIFEST.sha256"
STATEMENT = "statement.intoto.json"
ENVELOPE = "statement.dsse.json"
ENVIRONMENT_FILES = ("requirements.txt", "python_env.yaml", "conda.yaml")
VERDICT_FOLDER = "mlgate/verdicts"
CI_RUN_TAG = TAG_PREFIX + "ci.run_url"


def _say(_message: str) -> None:
    """Progress nobody asked to see."""


@dataclass(frozen=True)
class BuildResult:
    """What ``mlgate evidence`` wrote: the bundle, its sha256, what it holds and whether it is signed."""

    path: Path
    sha256: str
    model: str
    version: int
    files: list[str]
    signed: bool
    subject: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """``{path, sha256, model, version, files (count), signed, subject: [{name, digest}]}``."""
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "model": self.model,
            "version": self.version,
            "files": len(self.files),
            "signed": self.signed,
            "subject": self.subject,
        }


def top_folder(model: str, version: int) -> str:
    """The bundle's one top folder."""
    return f"{model}-v{version}-evidence"


def _iso(ms: int) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z" if ms else None


def git_blob_sha(data: bytes) -> str:
    """The git blob id of ``data`` (what ``git ls-tree`` lists for a file with these bytes)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def manifest_text(files: dict[str, bytes]) -> str:
    """``sha256sum``'s format over ``files`` (sorted by path)."""
    return "".join(f"{hashlib.sha256(files[rel]).hexdigest()}  {rel}\n" for rel in sorted(files))


def manifest_digest(text: str) -> str:
    """The statement's byproduct: sha256 of the manifest without the statement's own line."""
    kept = "".join(line for line in text.splitlines(keepends=True) if not line.rstrip("\n").endswith(f"  {STATEMENT}"))
    return hashlib.sha256(kept.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------------------- git


def file_at(root: Path, commit: str, path: str) -> tuple[bytes, str] | None:
    """``path``'s bytes and blob sha at ``commit`` (raw, as committed), or None when absent (or unknown commit)."""
    try:
        entries = [e for e in git.tree_entries(root, commit, path) if e.path == path and e.kind == "blob"]
    except GitError:
        return None
    if not entries:
        return None
    sha = entries[0].sha
    return git.blobs(root, [sha])[sha], sha


class _Judged:
    """The files as judged: (commit, path) -> bundle file, with the roles each played."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}

    def add(self, commit: str, path: str, role: str) -> bytes | None:
        if not commit or not path:
            return None
        key = (commit, path)
        entry = self.entries.get(key)
        if entry is None:
            found = file_at(self.root, commit, path) if self.root is not None else None
            entry = {"path": path, "commit": commit, "roles": [], "file": None, "blob": None}
            if found is None:
                entry["missing"] = "not in this repository's history (a shallow clone? fetch it: git fetch --unshallow)"
            else:
                data, blob = found
                entry["file"] = f"judged/{commit[:12]}/{path}"
                entry["blob"] = blob
                entry["sha256"] = hashlib.sha256(data).hexdigest()
                self.files[entry["file"]] = data
            self.entries[key] = entry
        if role not in entry["roles"]:
            entry["roles"].append(role)
        file = entry["file"]
        return self.files[file] if file else None

    def index(self) -> dict[str, Any]:
        return {
            "note": (
                "A verdict judged with its judging.base when it has one (a pull request, a promotion), else with "
                "the working tree at its commit: there the files are as committed, and the verdict's policy sha256 "
                "and judging.spec_sha256 say whether the tree held the same."
            ),
            "files": [self.entries[k] for k in sorted(self.entries)],
        }


def _judging_commit(verdict: dict[str, Any]) -> str:
    """The commit whose judging fields and policies a verdict judged with: its base, else its own commit."""
    judging = verdict.get("judging") or {}
    return str(judging.get("base") or verdict.get("commit") or "")


def _spec_of(text: bytes | None, shown: str, fallback: ModelSpec | None) -> ModelSpec | None:
    """The spec in ``text`` (as committed); ``fallback`` when absent or not valid for this mlgate."""
    if text is None:
        return fallback
    try:
        return schema.parse(ModelSpec, yamlio.parse(text.decode("utf-8"), shown))
    except (InvalidInput, UnicodeDecodeError):
        return fallback


# ----------------------------------------------------------------------------------------- sections


def _verdicts(
    registry: Registry, mv: ModelVersion, judged: _Judged, spec: ModelSpec
) -> tuple[dict[str, bytes], dict[str, Any], dict[str, Any] | None]:
    """Every verdict artifact of the version's run (JSON and HTML), an index, and the current verdict."""
    files: dict[str, bytes] = {}
    current = registry.read_verdict(mv.name, mv.version)  # checked against the mlgate.gates tag (else exit 2)
    named = json.loads(mv.tags[VERDICT_TAG])["verdict"] if current is not None else None
    index: list[dict[str, Any]] = []
    paths = registry.artifact_files(mv.run_id, VERDICT_FOLDER) if mv.run_id else []
    for path in paths:
        if not path.endswith(".json"):
            continue
        data = registry.read_artifact(mv.run_id, path)
        if data is None:
            continue
        name = PurePosixPath(path).name
        entry: dict[str, Any] = {
            "artifact": path,
            "file": f"verdicts/{name}",
            "sha256": hashlib.sha256(data).hexdigest(),
            "current": path == named,
        }
        files[entry["file"]] = data
        try:
            verdict = json.loads(data)
        except ValueError:
            verdict = None
        if isinstance(verdict, dict) and isinstance(verdict.get("rules"), list):
            commit = _judging_commit(verdict)
            entry |= {"status": verdict.get("status"), "stage": verdict.get("stage"), "judging_commit": commit}
            text = judged.add(commit, f"models/{mv.name}/model.yaml", f"spec judged by {entry['file']}")
            for policy in (verdict.get("policy") or {}).get("files") or []:
                judged.add(commit, str(policy), f"policy judged by {entry['file']}")
            judged_spec = _spec_of(text, f"models/{mv.name}/model.yaml@{commit[:12]}", None) or spec
            meta = {
                "tags": dict((verdict.get("lineage") or {}).get("tags") or {}),
                "run_url": (verdict.get("lineage") or {}).get("run_url"),
            }
            # mlgate's own templates (not the repo's .mlgate/templates): the report is reproducible from the verdict
            html = render_html(ReportInput(verdict, judged_spec, meta, html_artifact=entry["file"]))
            entry["html"] = f"verdicts/{PurePosixPath(name).stem}.html"
            files[entry["html"]] = html.encode("utf-8")
        index.append(entry)
    return files, {"current": f"verdicts/{PurePosixPath(named).name}" if named else None, "verdicts": index}, current


def _model_card(
    spec: ModelSpec, commit: str, verdict: dict[str, Any] | None, which: str, name: str, version: int
) -> str:
    """The model card at the judging commit, with ``verdict``'s explanation and documentation results (``which``)."""
    card = spec.model_card
    lines = [
        f"# Model card: {name} v{version}",
        "",
        (
            f"From `models/{name}/model.yaml` at commit `{commit or 'unknown'}`"
            + (f" (the judging commit of {which})." if verdict is not None else " (the training commit).")
        ),
        "",
        f"- Description: {spec.description or 'not documented'}",
        f"- Owners: {', '.join(spec.owners) or 'none'}",
        f"- Task: {spec.task}",
        f"- License: {card.license or 'not stated'}",
        "",
    ]
    for title, text in (
        ("Intended use", card.intended_use),
        ("Out-of-scope uses", card.out_of_scope_uses),
        ("Limitations", card.limitations),
        ("Ethical considerations", card.ethical_considerations),
        ("Caveats and recommendations", card.caveats_and_recommendations),
    ):
        lines += [f"## {title}", "", (text or "not documented").strip(), ""]
    monitoring = spec.monitoring
    lines += [
        "## Monitoring plan",
        "",
        f"- Owner: {monitoring.owner or 'none'}",
        f"- Frequency: {monitoring.frequency or 'not set'}",
        f"- Retraining trigger: {monitoring.retraining_trigger or 'not set'}",
        f"- Rollback procedure: {monitoring.rollback_procedure or 'not set'}",
        "",
    ]
    if verdict is None:
        return "\n".join([*lines, "The version has no gate verdict.", ""])
    evidence = verdict.get("evidence") or {}
    explanation = evidence.get("explanation") or {}
    if explanation.get("features"):
        lines += [
            "## Global explanation",
            "",
            (
                f"Method {explanation.get('method', '?')} over {explanation.get('of_rows', '?')} rows"
                f" (output: {explanation.get('output', '?')})."
            ),
            "",
            "| feature | mean absolute contribution |",
            "|---|---|",
        ]
        lines += [f"| {f.get('feature')} | {f.get('mean_abs_contribution')} |" for f in explanation["features"]]
        lines.append("")
    importance = evidence.get("importance") or {}
    if importance.get("features"):
        lines += [
            "## Feature importance",
            "",
            f"Method {importance.get('method', '?')}.",
            "",
            "| feature | importance | std |",
            "|---|---|---|",
        ]
        lines += [f"| {f.get('feature')} | {f.get('importance')} | {f.get('std')} |" for f in importance["features"]]
        lines.append("")
    docs = [r for r in verdict.get("rules") or [] if r.get("family") == "documentation"]
    lines += ["## Documentation gate", "", f"Status of {which}: {verdict.get('status')}.", ""]
    if docs:
        lines += ["| rule | status | explanation |", "|---|---|---|"]
        lines += [f"| {r.get('rule_id')} | {r.get('status')} | {r.get('explanation')} |" for r in docs]
    else:
        lines.append("The policy has no documentation rules.")
    return "\n".join([*lines, ""])


def _audit(registry: Registry, mv: ModelVersion) -> tuple[dict[str, bytes], list[dict[str, Any]], list[audit.Record]]:
    """The audit records of this version (it was promoted, or replaced), each with its verdict.json checked."""
    records = [r for r in audit.history(registry, mv.name) if mv.version in (r.version, r.previous) and r.run_id]
    files: dict[str, bytes] = {}
    index: list[dict[str, Any]] = []
    for n, record in enumerate(records, start=1):
        stem = f"audit/{n:03d}-{record.stage}-{'promoted' if record.version == mv.version else 'replaced'}"
        entry: dict[str, Any] = {"file": f"{stem}.json", "record": record.as_dict(), "verdict": None}
        if record.verdict_sha256:
            data = registry.read_artifact(record.run_id, audit.VERDICT_ARTIFACT)
            found = hashlib.sha256(data).hexdigest() if data is not None else None
            if found != record.verdict_sha256:
                raise CustodyViolation(
                    f"{mv.name} v{mv.version}: the audit record {record.run_id} ({record.stage}, {record.promoted_at}) "
                    f"records verdict sha256 {record.verdict_sha256[:12]}…, its verdict.json "
                    + (f"has {found[:12]}…" if found else "is missing"),
                    hint="the audit log was altered: investigate before handing out evidence for this version",
                )
            assert data is not None
            entry["verdict"] = {"file": f"{stem}.verdict.json", "sha256": found}
            files[f"{stem}.verdict.json"] = data
        files[entry["file"]] = canonical(entry)
        index.append(entry)
    return files, index, records


def _approvals(ws: Workspace, records: list[audit.Record], version: int, say: Any) -> dict[str, Any]:
    """Per promotion of this version: who approved (the audit record), and the PR's reviews when GitHub answers."""
    reviews: dict[int, Any] = {}
    github_note = "not read: no GITHUB_TOKEN and GITHUB_REPOSITORY"
    if ws.settings.github_token and ws.settings.github_repository:
        github_note = f"read from {ws.settings.github_repository}"
        for pr in sorted({r.pr for r in records if r.pr is not None and r.version == version}):
            try:
                reviews[pr] = [
                    {
                        "review_id": r.id,
                        "login": r.user.login if r.user else None,
                        "user_id": r.user.id if r.user else None,
                        "state": r.state,
                        "commit_id": r.commit_id,
                        "submitted_at": r.submitted_at,
                        "author_association": r.author_association,
                    }
                    for r in ws.github.pull_request_reviews(pr)
                ]
            except (ExternalServiceError, InvalidInput) as err:  # never required: said, not fatal
                say(f"GitHub: the reviews of PR #{pr} not read ({err.message})")
                reviews[pr] = {"error": err.message}
    promotions = [
        {
            "stage": r.stage,
            "action": r.action,
            "promoted_at": r.promoted_at,
            "promoted_by": r.promoted_by,
            "commit": r.commit,
            "pr": r.pr,
            "approvers": r.approvers,
            "audit_run_id": r.run_id,
            "reviews": reviews.get(r.pr) if r.pr is not None else None,
        }
        for r in records
        if r.version == version
    ]
    return {"github": github_note, "promotions": promotions}


def _monitoring(registry: Registry, mv: ModelVersion, stages: list[str]) -> dict[str, Any]:
    """The monitoring verdicts of each stage the version held (its runs only) and its canary/shadow comparisons."""
    out: dict[str, Any] = {"stages": {}, "comparisons": []}
    for stage in stages:
        runs = [r for r in registry.monitoring_history(mv.name, stage, limit=1000) if r.version == mv.version]
        out["stages"][stage] = [
            {"run_id": r.run_id, "evaluated_at": r.evaluated_at, "status": r.status, "metrics": r.metrics} for r in runs
        ]
    query = f"tags.`{COMPARE_TAG}model` = '{mv.name}'"
    for run in registry.search_runs(MONITORING_EXPERIMENT, query):
        tags = {k[len(COMPARE_TAG) :]: v for k, v in run.tags.items() if k.startswith(COMPARE_TAG)}
        if str(mv.version) in (tags.get("stable"), tags.get("candidate")) and run.status == "FINISHED":
            out["comparisons"].append({"run_id": run.run_id} | dict(sorted(tags.items())))
    out["comparisons"].sort(key=lambda c: (c.get("evaluated_at", ""), c["run_id"]))
    return out


_CONTENTS = (
    (
        "`version.json`",
        (
            "the registered version: run, source, creation time, every `mlgate.*` tag, the aliases it holds, the "
            "artifact digest recorded at registration and the one recomputed from the bytes when this bundle was "
            "built (equal: mlgate refuses to bundle tampered files)"
        ),
        "the registry",
    ),
    (
        "`verdicts/`",
        (
            "every gate verdict of the version's run and its HTML report; `verdicts/index.json` marks the current "
            "one (its sha256 is the `mlgate.gates` tag's)"
        ),
        "the run's artifacts",
    ),
    (
        "`model-card.md`",
        "the spec's model card at the judging commit, the global explanation, the documentation gate",
        "git, the verdict",
    ),
    (
        "`model-card.html`",
        (
            "the same card as one self-contained HTML page (inline CSS and SVG, no script), rendered with the gate "
            "report's model-card section"
        ),
        "git, the verdict",
    ),
    (
        "`judged/`",
        (
            "the spec, policies and params as judged, at the commits that judged them (`judged/index.json`: the "
            "commit, path and git blob of each)"
        ),
        "git objects, never the working tree",
    ),
    ("`data.json`", "the data md5s trained on and evaluated, with their DVC paths", "lineage tags, the verdict"),
    (
        "`run.json`",
        (
            "the training run's params, metrics, tags, times and environment (requirements.txt, python_env.yaml, "
            "conda.yaml as MLflow logged them)"
        ),
        "the run, the model's files",
    ),
    (
        "`approvals.json`",
        (
            "per promotion: the approvers the audit record holds, and the pull request's reviews (ids, times) when "
            "GitHub was readable"
        ),
        "the audit log, GitHub",
    ),
    (
        "`audit/`",
        "the promotion audit records of this version, each with the verdict the promotion ran (`*.verdict.json`)",
        "experiment `mlgate-audit`",
    ),
    (
        "`monitoring.json`",
        "the monitoring verdicts of each stage it held, and canary/shadow comparisons",
        "experiment `mlgate-monitoring`",
    ),
    (
        f"`{STATEMENT}`",
        (
            "an in-toto Statement v1 (SLSA Provenance v1): subject = the model's files and their sha256; byproduct "
            "= the manifest's digest"
        ),
        "all of the above",
    ),
    (f"`{MANIFEST}`", "the sha256 of every other file (`sha256sum` format), the envelope excepted", "this bundle"),
)


def _readme(model: str, version: int, signed: bool) -> str:
    """What each file is and how to verify the bundle."""
    top = top_folder(model, version)
    rows = list(_CONTENTS)
    if signed:
        rows.append((f"`{ENVELOPE}`", "a DSSE envelope: the statement signed with ed25519", "the signing key"))
    table = "\n".join(f"| {name} | {what} | {source} |" for name, what, source in rows)
    return f"""# Evidence bundle: {model} v{version}

Written by `mlgate evidence {model} --version {version}`. Every file below is a fact read from where it
is recorded (the MLflow registry, git, GitHub), not a summary written for this bundle.

| file | what it is | read from |
|---|---|---|
{table}

## Verify

    mlgate evidence verify {top}.tar.gz [--public-key evidence.pub] [--offline]

checks every digest, the signature, and (online) that the registry and the repo still hold what the
bundle says. By hand:

    tar -xzf {top}.tar.gz && cd {top}
    sha256sum -c {MANIFEST}
    grep -v '  {STATEMENT}$' {MANIFEST} | sha256sum   # = the statement's byproduct digest
"""


# ----------------------------------------------------------------------------------------- build


def build_bundle(
    ws: Workspace,
    model: str,
    version: int,
    output: Path,
    *,
    progress: Any = _say,
    warn: Any = _say,
) -> BuildResult:
    """Collect ``model`` v``version``'s evidence and write the bundle at ``output``.

    Signed when ``$MLGATE_EVIDENCE_KEY`` holds a key (a bad key is exit 2 before any work); refused
    (exit 1) when the version's files no longer have the digest registration recorded.
    """
    key = signing_key(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None
    registry = ws.registry
    root = ws.root
    if version not in {v.version for v in registry.versions(model)}:
        raise InvalidInput(
            f"{model} v{version} is not registered in {registry.shown_uri}",
            hint=f"`mlgate history {model}` lists its promotions; versions come from `mlgate train {model}`",
        )
    mv = registry.version(model, version)
    label = f"{model} v{version}"
    files: dict[str, bytes] = {}

    progress(f"{label}: downloading its files to recompute the artifact digest")
    with tempfile.TemporaryDirectory(prefix="mlgate-evidence-") as tmp:
        download, folder = registry.download_version(model, version, Path(tmp))
        found = folder_digest(download)
        environment = {
            (folder / name).relative_to(download).as_posix(): (folder / name).read_text(
                encoding="utf-8", errors="replace"
            )
            for name in ENVIRONMENT_FILES
            if (folder / name).is_file()
        }
    recorded = mv.tags.get(ARTIFACT_DIGEST_TAG)
    if recorded is None:
        warn(f"{label}: no {ARTIFACT_DIGEST_TAG} tag (registered before mlgate recorded digests)")
    elif recorded != found.digest:
        raise tampered(label, recorded, found, manifest_of(mv.tags), f"its registration ({ARTIFACT_DIGEST_TAG})")
    aliases = registry.aliases([model]).get(model, {})
    held = sorted(alias for alias, number in aliases.items() if number == version)

    progress(f"{label}: verdicts, audit records, monitoring")
    judged = _Judged(root)
    commit = mv.tags.get(TAG_PREFIX + "git.commit", "")
    trained_spec = judged.add(commit, f"models/{model}/model.yaml", "spec trained (mlgate.git.commit)")
    judged.add(commit, "params.yaml", "params trained (mlgate.git.commit)")
    policy_file = mv.tags.get(TAG_PREFIX + "policy.file")
    if policy_file:
        judged.add(commit, policy_file, "policy at training (mlgate.policy.file)")
    base_spec = _spec_of(trained_spec, f"models/{model}/model.yaml@{commit[:12]}", None)
    if base_spec is None:  # no training commit here (external lineage, a shallow clone): the working tree's
        base_spec, _ = load_model_spec(spec_path(root, model), root)
    verdict_files, verdict_index, current = _verdicts(registry, mv, judged, base_spec)
    files |= verdict_files
    files["verdicts/index.json"] = canonical(verdict_index)
    audit_files, audit_index, records = _audit(registry, mv)
    files |= audit_files
    promoted: dict[str, Any] | None = None  # the verdict of this version's latest promotion
    for entry in audit_index:
        verdict_file = (entry.get("verdict") or {}).get("file")
        if verdict_file and entry["record"]["version"] == version:  # a "replaced" record's verdict is another's
            promoted = json.loads(files[verdict_file])
            judging = _judging_commit(promoted)
            stage = entry["record"]["stage"]
            judged.add(judging, f"models/{model}/model.yaml", f"spec judged by the {stage} promotion")
            for policy in (promoted.get("policy") or {}).get("files") or []:
                judged.add(judging, str(policy), f"policy judged by the {stage} promotion")
    # the current gate verdict, else the verdict the latest promotion ran itself
    shown, shown_as = (current, "the current verdict") if current else (promoted, "the latest promotion's verdict")
    card_commit = _judging_commit(shown) if shown else commit
    card_text = judged.add(card_commit, f"models/{model}/model.yaml", "model card") if card_commit else None
    card_spec = _spec_of(card_text, f"models/{model}/model.yaml@{card_commit[:12]}", None) or base_spec
    files["model-card.md"] = _model_card(card_spec, card_commit, shown, shown_as, model, version).encode("utf-8")
    # the same card as a page: mlgate's own templates (not the repo's .mlgate/templates), like the verdicts' HTML
    files["model-card.html"] = render_card_html(
        card_spec,
        shown,
        model=model,
        version=version,
        commit=card_commit,
        basis=f"the judging commit of {shown_as}" if shown is not None else "the training commit",
        which=shown_as,
    ).encode("utf-8")
    files |= judged.files
    files["judged/index.json"] = canonical(judged.index())
    stages = sorted({r.stage for r in records if r.version == version} | set(held))
    files["monitoring.json"] = canonical(_monitoring(registry, mv, stages))
    files["approvals.json"] = canonical(_approvals(ws, records, version, warn))

    run = registry.run_record(mv.run_id) if mv.run_id else None
    artifact = {
        "recorded": {"digest": recorded, "files": manifest_of(mv.tags)},
        "recomputed": found.as_dict(),
    }
    files["version.json"] = canonical(
        {
            "model": model,
            "version": version,
            "run_id": mv.run_id,
            "source": mv.source,
            "created": _iso(mv.created_ms),
            "aliases": held,
            "legacy_stage": mv.current_stage,
            "tags": {k: v for k, v in sorted(mv.tags.items()) if k.startswith(TAG_PREFIX)},
            "artifact": artifact,
            "tracking_uri": registry.shown_uri,
        }
    )
    data_roles = sorted(
        {
            k[len(TAG_PREFIX + "data.") : -len(".md5")]
            for k in mv.tags
            if k.startswith(TAG_PREFIX + "data.") and k.endswith(".md5")
        }
    )
    files["data.json"] = canonical(
        {
            "trained_on": [
                {
                    "role": role,
                    "path": mv.tags.get(f"{TAG_PREFIX}data.{role}.path"),
                    "md5": mv.tags.get(f"{TAG_PREFIX}data.{role}.md5"),
                }
                for role in data_roles
            ],
            "verdict": shown_as if shown else None,
            "evaluated": (shown or {}).get("data") or [],
            "verdict_trained_on": (shown or {}).get("trained_on") or {},
            "evaluation": ((shown or {}).get("judging") or {}).get("evaluation"),
        }
    )
    files["run.json"] = canonical(
        {
            "run_id": mv.run_id,
            "status": run.status if run else None,
            "experiment_id": run.experiment_id if run else None,
            "started": _iso(run.start_ms) if run else None,
            "finished": _iso(run.end_ms) if run else None,
            "params": run.params if run else {},
            "metrics": run.metrics if run else {},
            "tags": run.tags if run else {},
            "environment": {"mlgate_version": mv.tags.get(TAG_PREFIX + "version"), "files": environment},
        }
    )
    files["README.md"] = _readme(model, version, key is not None).encode("utf-8")

    subject = [{"name": f"model/{rel}", "digest": {"sha256": sha}} for rel, sha in sorted(found.files.items())]
    build = {
        "buildType": BUILD_TYPE,
        "externalParameters": {
            "model": model,
            "version": version,
            "spec": f"models/{model}/model.yaml",
            "commit": commit,
            "branch": mv.tags.get(TAG_PREFIX + "git.branch"),
            "policy": policy_file,
            "lineage": mv.tags.get(TAG_PREFIX + "lineage"),
            "command": mv.tags.get(TAG_PREFIX + "train.command"),
            "stages": held,
        },
        "internalParameters": {
            "mlgate_version": mv.tags.get(TAG_PREFIX + "version"),
            "spec_sha256": mv.tags.get(TAG_PREFIX + "spec.sha256"),
            "params_sha256": mv.tags.get(TAG_PREFIX + "params.sha256"),
            "policy_sha256": mv.tags.get(TAG_PREFIX + "policy.sha256"),
            "run_params": run.params if run else {},
        },
        "resolvedDependencies": _dependencies(mv, commit, data_roles, {rel: found.files[rel] for rel in environment}),
    }
    builder = mv.tags.get(CI_RUN_TAG) or LOCAL_BUILDER
    details = {
        "builder": {"id": builder},
        "metadata": {
            "invocationId": mv.run_id,
            "startedOn": _iso(run.start_ms) if run else None,
            "finishedOn": _iso(run.end_ms) if run else None,
        },
    }
    manifest = manifest_text(files)
    state = canonical(statement(subject, build, details, manifest_digest(manifest)))
    files[STATEMENT] = state
    files[MANIFEST] = manifest_text(files).encode("utf-8")
    if key is not None:
        files[ENVELOPE] = sign(state, key)
        progress(f"{label}: statement signed (ed25519, ${KEY_ENV})")
    data = write_archive(output, top_folder(model, version), files)
    return BuildResult(
        path=output.resolve(),
        sha256=hashlib.sha256(data).hexdigest(),
        model=model,
        version=version,
        files=sorted(files),
        signed=key is not None,
        subject=subject,
    )


def _dependencies(mv: ModelVersion, commit: str, roles: list[str], environment: dict[str, str]) -> list[dict[str, Any]]:
    """The statement's resolved dependencies: the training commit, the data (DVC md5s), the python environment."""
    deps: list[dict[str, Any]] = []
    if commit:
        deps.append({"uri": f"git+commit:{commit}", "name": "the training commit", "digest": {"gitCommit": commit}})
    for role in roles:
        path = mv.tags.get(f"{TAG_PREFIX}data.{role}.path", "")
        deps.append(
            {
                "uri": f"dvc:{path}",
                "name": f"data ({role})",
                "digest": {"md5": mv.tags.get(f"{TAG_PREFIX}data.{role}.md5", "")},
            }
        )
    for rel, sha in sorted(environment.items()):
        deps.append({"uri": f"model/{rel}", "name": "the python environment MLflow logged", "digest": {"sha256": sha}})
    return deps
