"""``mlgate evidence verify FILE.tar.gz``: does the bundle hold what it says, and does the registry and repo still?

Offline: every manifest line, files missing from or absent in the manifest, the statement's byproduct
(the manifest's digest), the statement's subjects against ``version.json``, the recorded and
recomputed artifact digests, and the DSSE signature when the bundle is signed and a public key is
given. Online (without ``--offline``, when a governed repo and its registry are at hand): the
version's files downloaded again and digested (a changed byte is named), the lineage tags and the
training run's params and metrics compared with the registry's (written once: any difference is an
edit), the audit records compared with the registry's, and each file of ``judged/`` compared with
the git blob at its commit.
Each mismatch is one line naming the file or object; any mismatch makes the result blocked (exit 1).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from mlgate.config import LINEAGE_EXTERNAL, LINEAGE_TAG, Workspace, is_lineage_tag
from mlgate.evidence._archive import read_archive
from mlgate.evidence._bundle import ENVELOPE, MANIFEST, STATEMENT, file_at, git_blob_sha, manifest_digest
from mlgate.evidence._statement import PREDICATE_TYPE, PUBLIC_KEY_ENV, STATEMENT_TYPE, check_envelope, load_public_key
from mlgate.exceptions import InvalidInput
from mlgate.registry import VERDICT_TAG, ModelVersion, Registry, audit, folder_digest

_LINE = re.compile(r"^([0-9a-f]{64})  (\S.*)$")
ONLINE_CHECKS = ("registry", "lineage", "audit", "judged")  # against the registry and the repo (not --offline)
_IGNORED_AUDIT_FIELDS = ("state", "dispatched")  # a record started then finished, a hook run later: not a change


class CheckStatus(StrEnum):
    """One check's outcome."""

    OK = "ok"
    MISMATCH = "mismatch"
    SKIPPED = "skipped"  # offline, or nothing to compare with
    UNSIGNED = "unsigned"  # the bundle has no signature
    NOT_CHECKED = "not_checked"  # signed, but no public key was given


@dataclass(frozen=True)
class VerifyCheck:
    """One check: its name, outcome and what it found."""

    name: str
    status: CheckStatus
    detail: str

    def as_dict(self) -> dict[str, str]:
        """``{name, status, detail}``."""
        return {"name": self.name, "status": str(self.status), "detail": self.detail}


@dataclass
class Verification:
    """``mlgate evidence verify``: every check, and one line per mismatch (any mismatch: exit 1)."""

    path: Path
    model: str | None
    version: int | None
    offline: bool
    checks: list[VerifyCheck] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No mismatch anywhere."""
        return not self.mismatches

    @property
    def blocked(self) -> bool:
        """A mismatch: exit 1."""
        return not self.ok

    @property
    def signature(self) -> CheckStatus:
        """The signature check's status."""
        return next((c.status for c in self.checks if c.name == "signature"), CheckStatus.UNSIGNED)

    def add(self, name: str, problems: list[str], ok_detail: str) -> None:
        """A check that found ``problems`` (mismatch lines), or none (``ok_detail``)."""
        if problems:
            self.mismatches += problems
            self.checks.append(VerifyCheck(name, CheckStatus.MISMATCH, f"{len(problems)} mismatch(es)"))
        else:
            self.checks.append(VerifyCheck(name, CheckStatus.OK, ok_detail))

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "path": str(self.path),
            "ok": self.ok,
            "model": self.model,
            "version": self.version,
            "offline": self.offline,
            "signature": str(self.signature),
            "checks": [c.as_dict() for c in self.checks],
            "mismatches": self.mismatches,
        }


def _json(files: dict[str, bytes], name: str, problems: list[str]) -> Any:
    data = files.get(name)
    if data is None:
        problems.append(f"{name}: missing from the bundle")
        return None
    try:
        return json.loads(data)
    except ValueError:
        problems.append(f"{name}: not valid JSON")
        return None


def _manifest(files: dict[str, bytes], result: Verification) -> str:
    problems: list[str] = []
    text = files[MANIFEST].decode("utf-8", errors="replace")
    listed: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        found = _LINE.match(line)
        if found is None:
            problems.append(f"{MANIFEST}:{n}: not a sha256sum line")
            continue
        listed[found.group(2)] = found.group(1)
    for rel, sha in sorted(listed.items()):
        if rel not in files:
            problems.append(f"MANIFEST: {rel}: listed, but missing from the bundle")
        elif hashlib.sha256(files[rel]).hexdigest() != sha:
            problems.append(f"MANIFEST: {rel}: sha256 differs")
    for rel in sorted(set(files) - set(listed) - {MANIFEST, ENVELOPE}):
        problems.append(f"MANIFEST: {rel}: not in the manifest")
    result.add("manifest", problems, f"{len(listed)} files, every sha256 matches")
    return text


def _statement(files: dict[str, bytes], manifest: str, result: Verification) -> dict[str, Any] | None:
    problems: list[str] = []
    state = _json(files, STATEMENT, problems)
    version = _json(files, "version.json", problems)
    if isinstance(state, dict):
        if state.get("_type") != STATEMENT_TYPE or state.get("predicateType") != PREDICATE_TYPE:
            problems.append(f"{STATEMENT}: not an in-toto Statement v1 with a SLSA Provenance v1 predicate")
        byproducts = ((state.get("predicate") or {}).get("runDetails") or {}).get("byproducts") or []
        digests = [b.get("digest", {}).get("sha256") for b in byproducts if b.get("name") == MANIFEST]
        if digests != [manifest_digest(manifest)]:
            problems.append(f"{MANIFEST}: its digest differs from the statement's byproduct (the manifest was altered)")
    elif state is not None:
        problems.append(f"{STATEMENT}: not a JSON object")
    if isinstance(version, dict):
        artifact = version.get("artifact") or {}
        recomputed = (artifact.get("recomputed") or {}).get("files") or {}
        recorded = artifact.get("recorded") or {}
        if (artifact.get("recomputed") or {}).get("digest") != recorded.get("digest"):
            problems.append("version.json: the recomputed artifact digest differs from the recorded one")
        if recorded.get("files") and recorded.get("files") != recomputed:
            problems.append("version.json: the recomputed files differ from the recorded manifest")
        if isinstance(state, dict):
            subjects = {
                str(s.get("name")): (s.get("digest") or {}).get("sha256")
                for s in state.get("subject") or []
                if isinstance(s, dict)
            }
            expected = {f"model/{rel}": sha for rel, sha in recomputed.items()}
            for name in sorted(set(subjects) | set(expected)):
                if subjects.get(name) != expected.get(name):
                    problems.append(f"{STATEMENT}: subject {name} differs from version.json's artifact files")
        result.model = str(version.get("model")) if version.get("model") else None
        result.version = version.get("version") if isinstance(version.get("version"), int) else None
    elif version is not None:
        problems.append("version.json: not a JSON object")
    result.add("statement", problems, "in-toto Statement v1; subjects = version.json's files; byproduct = the manifest")
    return state if isinstance(state, dict) else None


def _verdicts(files: dict[str, bytes], result: Verification) -> None:
    """The current verdict is the one the `mlgate.gates` tag names; each audit verdict is its own record's."""
    problems: list[str] = []
    index = _json(files, "verdicts/index.json", problems)
    version = _json(files, "version.json", [])
    tag = ((version or {}).get("tags") or {}).get(VERDICT_TAG) if isinstance(version, dict) else None
    current = (index or {}).get("current") if isinstance(index, dict) else None
    if tag is not None:
        try:
            named = json.loads(tag)
            if not current or current not in files:
                problems.append(f"verdicts/index.json: no current verdict, but version.json's {VERDICT_TAG} names one")
            elif hashlib.sha256(files[current]).hexdigest() != named.get("sha256"):
                problems.append(f"{current}: sha256 differs from version.json's {VERDICT_TAG} tag")
        except (ValueError, AttributeError):
            problems.append(f"version.json: its {VERDICT_TAG} tag is not JSON")
    for rel in sorted(f for f in files if f.startswith("audit/") and not f.endswith(".verdict.json")):
        try:
            entry = json.loads(files[rel])
            wanted = entry["record"]["verdict_sha256"]
            verdict_file = (entry.get("verdict") or {}).get("file")
        except (ValueError, KeyError, TypeError, AttributeError):
            problems.append(f"{rel}: not an audit record")
            continue
        if verdict_file and hashlib.sha256(files.get(verdict_file, b"")).hexdigest() != wanted:
            problems.append(f"{verdict_file}: sha256 differs from the audit record's verdict_sha256 ({rel})")
    result.add("verdicts", problems, "the current verdict is the tag's; each audit verdict is its record's")


def _signature(files: dict[str, bytes], public_key: Path | None, result: Verification) -> None:
    """The DSSE envelope against the statement; a public key given asks for a signature (unsigned: a mismatch)."""
    source = "--public-key"
    if public_key is None and os.environ.get(PUBLIC_KEY_ENV):
        public_key, source = Path(os.environ[PUBLIC_KEY_ENV]), f"${PUBLIC_KEY_ENV}"
    key = load_public_key(public_key, source) if public_key is not None else None
    if ENVELOPE not in files:
        if key is None:
            result.checks.append(VerifyCheck("signature", CheckStatus.UNSIGNED, "the bundle is not signed"))
        else:
            detail = f"missing: the bundle is not signed, and {source} asks for a signature"
            result.mismatches.append(f"{ENVELOPE}: {detail}")
            result.checks.append(VerifyCheck("signature", CheckStatus.MISMATCH, detail))
        return
    status, detail = check_envelope(files[ENVELOPE], files.get(STATEMENT, b""), key)
    if status == "mismatch":
        result.mismatches.append(f"{ENVELOPE}: {detail}")
        result.checks.append(VerifyCheck("signature", CheckStatus.MISMATCH, detail))
    elif status == "not_checked":
        result.checks.append(VerifyCheck("signature", CheckStatus.NOT_CHECKED, "not checked (pass --public-key)"))
    else:
        result.checks.append(VerifyCheck("signature", CheckStatus.OK, detail))


def _registry_checks(ws: Workspace, files: dict[str, bytes], result: Verification) -> None:
    """The version's files, downloaded and digested again; the audit records against the registry's."""
    model, version = result.model, result.version
    assert model is not None
    assert version is not None
    registry = ws.registry
    version_doc = json.loads(files["version.json"])
    expected = ((version_doc.get("artifact") or {}).get("recomputed") or {}).get("files") or {}
    problems: list[str] = []
    registered = next((v for v in registry.versions(model) if v.version == version), None)
    if registered is None:
        problems.append(f"registry: {model} v{version}: not found in {registry.shown_uri}")
        result.add("registry", problems, "")
        for name in ("lineage", "audit"):
            result.checks.append(VerifyCheck(name, CheckStatus.SKIPPED, "the version is not in this registry"))
        return
    with tempfile.TemporaryDirectory(prefix="mlgate-evidence-verify-") as tmp:
        root, _folder = registry.download_version(model, version, Path(tmp))
        found = folder_digest(root)
    for rel in sorted(set(found.files) | set(expected)):
        if rel not in found.files:
            problems.append(f"registry: model/{rel}: missing from the registry's files")
        elif rel not in expected:
            problems.append(f"registry: model/{rel}: not in the bundle")
        elif found.files[rel] != expected[rel]:
            problems.append(f"registry: model/{rel}: sha256 differs")
    result.add("registry", problems, f"{len(found.files)} model files downloaded: {found.digest}")
    _lineage_checks(registry, registered, version_doc, files, result)

    problems = []
    by_run = {r.run_id: r for r in audit.history(registry, model)}
    compared = 0
    for rel in sorted(f for f in files if f.startswith("audit/") and not f.endswith(".verdict.json")):
        try:
            entry = json.loads(files[rel])
            recorded = dict(entry["record"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"{rel}: not an audit record")
            continue
        live = by_run.get(str(recorded.get("run_id")))
        if live is None:
            problems.append(f"registry: {rel}: audit run {recorded.get('run_id')} is not in the registry")
            continue
        compared += 1
        now = live.as_dict()
        for name in sorted(set(now) | set(recorded)):
            if name not in _IGNORED_AUDIT_FIELDS and now.get(name) != recorded.get(name):
                problems.append(f"registry: {rel}: {name} differs")
    newer = [r for r in by_run.values() if version in (r.version, r.previous) and r.run_id not in _bundle_runs(files)]
    detail = f"{compared} audit record(s) equal the registry's"
    if newer:
        detail += f"; {len(newer)} newer record(s) of this version since the bundle was built"
    result.add("audit", problems, detail)


def _lineage_checks(
    registry: Registry, live: ModelVersion, version_doc: dict[str, Any], files: dict[str, bytes], result: Verification
) -> None:
    """The lineage tags and the training run's params and metrics, against the registry's now.

    Lineage tags (``config.is_lineage_tag``) and run params are written once; a metric is logged
    once by training. Any difference means the registry was edited after the bundle was built.
    Other ``mlgate.*`` tags (verdict, stages, monitoring) change with the version's life and are
    not compared.
    """
    problems: list[str] = []
    bundled = {k: v for k, v in (version_doc.get("tags") or {}).items() if is_lineage_tag(k)}
    now = {k: v for k, v in live.tags.items() if is_lineage_tag(k)}
    for key in sorted(set(bundled) | set(now)):
        if key not in now:
            problems.append(f"registry: version.json: tag {key} removed from the registry's version")
        elif key not in bundled:
            problems.append(f"registry: version.json: tag {key} added to the registry's version since the bundle")
        elif now[key] != bundled[key]:
            problems.append(f"registry: version.json: tag {key} differs")
    run_doc = json.loads(files["run.json"]) if "run.json" in files else {}
    compared = len(bundled)
    if live.run_id and run_doc.get("run_id") == live.run_id:
        run = registry.run_record(live.run_id)
        compare: list[tuple[str, dict[str, Any], dict[str, Any]]] = [("param", run_doc.get("params") or {}, run.params)]
        if live.tags.get(LINEAGE_TAG) != LINEAGE_EXTERNAL:  # a registered model's run is its owner's: it may log on
            compare.append(("metric", run_doc.get("metrics") or {}, run.metrics))
        for kind, then, current in compare:
            for key in sorted(set(then) | set(current)):
                compared += 1
                if then.get(key) != current.get(key):
                    problems.append(f"registry: run.json: {kind} {key} differs from the training run's")
    elif live.run_id != run_doc.get("run_id"):
        problems.append(f"registry: run.json: run {run_doc.get('run_id')} is not the version's run ({live.run_id})")
    result.add("lineage", problems, f"{compared} lineage tags, params and metrics equal the registry's")


def _bundle_runs(files: dict[str, bytes]) -> set[str]:
    runs = set()
    for rel in files:
        if rel.startswith("audit/") and not rel.endswith(".verdict.json"):
            try:
                runs.add(str(json.loads(files[rel])["record"]["run_id"]))
            except (ValueError, KeyError, TypeError):
                continue
    return runs


def _judged_checks(root: Path, files: dict[str, bytes], result: Verification) -> None:
    """Each file of ``judged/`` against the blob its commit holds."""
    problems: list[str] = []
    index = _json(files, "judged/index.json", problems)
    entries = (index or {}).get("files") if isinstance(index, dict) else None
    compared = 0
    for entry in entries or []:
        rel, commit, path = entry.get("file"), str(entry.get("commit", "")), str(entry.get("path", ""))
        if not rel:
            continue
        if rel not in files:
            problems.append(f"{rel}: listed in judged/index.json, missing from the bundle")
            continue
        blob = git_blob_sha(files[rel])
        if blob != entry.get("blob"):
            problems.append(f"{rel}: its git blob differs from judged/index.json")
            continue
        found = file_at(root, commit, path)
        if found is None:
            problems.append(f"repo: {path}@{commit[:12]}: not found in {root} (fetch the full history)")
        elif found[1] != blob:
            problems.append(f"repo: {rel}: differs from `git show {commit[:12]}:{path}`")
        else:
            compared += 1
    result.add("judged", problems, f"{compared} file(s) equal the blobs at their commits")


def verify_bundle(ws: Workspace, path: Path, *, offline: bool = False, public_key: Path | None = None) -> Verification:
    """Verify the evidence bundle at ``path`` (see the module docstring); a file that is not a bundle is exit 2."""
    _top, files = read_archive(path)
    if MANIFEST not in files or "version.json" not in files:
        raise InvalidInput(
            f"{path}: not an mlgate evidence bundle (no {MANIFEST} or version.json)",
            hint="pass the .tar.gz that `mlgate evidence MODEL --version N --output FILE` wrote",
        )
    result = Verification(path=path.resolve(), model=None, version=None, offline=offline)
    manifest = _manifest(files, result)
    _statement(files, manifest, result)
    _verdicts(files, result)
    _signature(files, public_key, result)
    if offline:
        for name in ONLINE_CHECKS:
            result.checks.append(VerifyCheck(name, CheckStatus.SKIPPED, "--offline"))
        return result
    try:
        root = ws.root
    except InvalidInput as err:
        for name in ONLINE_CHECKS:
            result.checks.append(VerifyCheck(name, CheckStatus.SKIPPED, f"no governed repo here ({err.message})"))
        return result
    if result.model is None or result.version is None:
        for name in ONLINE_CHECKS[:-1]:
            result.checks.append(VerifyCheck(name, CheckStatus.SKIPPED, "version.json names no version"))
    else:
        _registry_checks(ws, files, result)
    _judged_checks(root, files, result)
    return result
