"""The only module that talks to MLflow (tracking and model registry).

Callers get mlgate's own values (:class:`ModelVersion`, :class:`Run`, ints and dicts), never
MLflow's entities, so nothing outside :mod:`mlgate.registry` depends on MLflow's types.

The embedded default is a SQLite store in the repo (``sqlite:///<repo>/mlflow.db``) with
artifacts in ``<repo>/mlartifacts``; ``MLFLOW_TRACKING_URI`` points the same code at an
``mlflow server``. Network failures are retried by MLflow's HTTP client (bounded here) and then
surface as :class:`~mlgate.exceptions.RegistryUnavailable` (exit 3).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import posixpath
import re
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mlgate.exceptions import (
    S3_CREDENTIALS_HINT,
    InvalidInput,
    MaskedStream,
    RegistryUnavailable,
    TamperedModel,
    UnsafeModel,
    mask_secrets,
    s3_refusal,
)
from mlgate.registry import _flavours as flavours

T = TypeVar("T")

TAG_PREFIX = "mlgate."
# Tries of an idempotent write that collided with a concurrent identical one (Registry._upsert).
UPSERT_ATTEMPTS = 3
# The one version tag that records a gate verdict (see Registry.read_verdict).
VERDICT_TAG = TAG_PREFIX + "gates"
# where a version's run keeps its gate verdicts (one file per gating; the tag names the latest)
VERDICT_DIR = "mlgate/verdicts"
MODEL_ARTIFACT = "model"
# What registration records about a version's files (mlgate.registry.mlflow.folder_digest): the
# manifest digest, and the per-file sha256 as compact JSON (only to name a file that differs: a tag
# anyone with registry write access can set never decides whether bytes are trusted).
ARTIFACT_DIGEST_TAG = TAG_PREFIX + "artifact.digest"
ARTIFACT_FILES_TAG = TAG_PREFIX + "artifact.files"
DIGEST_PREFIX = "sha256:"
DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
# MLflow's limit on a tag value; a larger per-file manifest is left out (the digest still decides).
MAX_TAG_VALUE = 5000
# Written by MLflow's download of a registered version (its name and number), not stored with the
# model: left out of the digest so the digest is that of the files in the artifact store.
_DOWNLOAD_METADATA = frozenset({"registered_model_meta"})
_CHUNK = 1 << 20
# Types skops may load from an mlgate model: scikit-learn, numpy and scipy internals only.
# The allow-list lives here, in mlgate's code, not in the model artifact: a crafted model
# cannot widen it (MLflow reads skops_trusted_types from the model's own MLmodel file).
# Not "builtins." or "collections.": skops already trusts the plain containers, and anything
# else there (builtins.exec, builtins.eval as a FunctionTransformer's func) runs code on load.
TRUSTED_TYPE_PREFIXES = ("sklearn.", "numpy.", "scipy.")
# Whole type names skops may load too: lightgbm keeps its booster's params in an OrderedDict, a
# plain dict subclass that runs no code when it is built (a prefix would let in all of collections).
TRUSTED_EXACT_TYPES = ("collections.OrderedDict",)
# Types no policy may trust by name (training.skops_trusted_types): rebuilt by skops, they run code
# or reach the system when a model calls them on its input (a FunctionTransformer's func).
NEVER_TRUSTED_MODULES = frozenset(
    {"builtins", "os", "posix", "nt", "subprocess", "sys", "importlib", "pickle", "marshal", "shutil", "ctypes",
     "socket", "runpy", "code", "codeop", "pty", "io", "pathlib", "tempfile", "webbrowser", "antigravity",
     "multiprocessing", "threading", "signal", "types", "pdb", "shelve", "dbm", "urllib", "http", "ftplib"}
)  # fmt: skip
NEVER_TRUSTED_TYPES = frozenset({"operator.methodcaller", "functools.partial", "functools.reduce"})
# Registry searches: the largest page MLflow serves, and model names per `name IN (...)` filter
# (a search is a GET: the filter travels in the URL).
SEARCH_PAGE = 1000
MONITORING_PAGES = 20  # Registry.monitoring_runs reads at most the latest 20,000 monitoring runs
NAMES_PER_FILTER = 100
_SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")

# MLflow's HTTP client retries 7 times with exponential backoff (minutes); a CI step should
# report an outage sooner. Users can still raise these through the environment.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # mlgate prints its own progress; tqdm bars from artifact downloads garble CI logs.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # A server proxying artifacts from S3 (--artifacts-destination s3://...) advertises presigned
    # downloads, and MLflow's client then fetches every file straight from the object store at the
    # URL the server signed: the job must reach the endpoint the *server* uses (often an internal
    # host). Proxied then means proxied: files stream through the tracking server, and a job needs
    # only its MLflow credential (docs/deploy.md); export "true" to download from the store directly.
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false",
}


def tracking_uri(root: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite store in the repo."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root / 'mlflow.db').resolve()}"


def is_embedded(uri: str) -> bool:
    """Whether ``uri`` is the embedded SQLite store (no server)."""
    return uri.startswith("sqlite:")


def _is_trusted(name: str, modules: tuple[str, ...], exact: frozenset[str] = frozenset()) -> bool:
    """Whether skops may rebuild ``name``; an entry of ``modules`` ending in '.' is a prefix, else a type name."""
    prefixes = TRUSTED_TYPE_PREFIXES + tuple(m for m in modules if m.endswith("."))
    named = {m for m in modules if not m.endswith(".")}
    return name.startswith(prefixes) or name in TRUSTED_EXACT_TYPES or name in exact or name in named


def never_trusted(name: str) -> bool:
    """Whether no policy may trust the type ``name`` (a module of :data:`NEVER_TRUSTED_MODULES` or a listed type)."""
    return name.split(".")[0] in NEVER_TRUSTED_MODULES or name in NEVER_TRUSTED_TYPES


def trusted_types(
    untrusted: list[str], extra: tuple[str, ...] = (), exact: frozenset[str] = frozenset(), policy: str = ""
) -> list[str]:
    """Check skops' list of non-default types against mlgate's allow-list.

    ``extra``: module prefixes the caller trusts besides sklearn/numpy/scipy — the estimator
    modules of the judged policy (xgboost., lightgbm., ...), never anything read from the model.
    ``policy``: the judged policy file, named in the refusal with the exact setting that trusts
    the foreign types (``training.skops_trusted_types``). An entry of ``extra`` without a final
    '.' is an exact type name (the policy's ``skops_trusted_types``).
    """
    foreign = sorted(t for t in untrusted if not _is_trusted(t, extra, exact))
    if foreign:
        where = f"{policy} on the base branch" if policy else "the model's policy (the spec's `policy:` file)"
        dangerous = [name for name in foreign if never_trusted(name)]
        if dangerous:
            hint = f"{', '.join(dangerous)} can run code when the model is used: no policy can trust it"
        else:
            hint = (
                "skops rebuilds them when it loads the model: if you trust them, add "
                f"`training: {{skops_trusted_types: [{', '.join(foreign)}]}}` to {where} (a governance change, "
                'reviewed); a package of your own estimators: `training: {estimator_modules: ["yourpackage."]}`'
            )
        raise UnsafeModel(f"the model holds types outside mlgate's allow-list: {', '.join(foreign)}", hint=hint)
    return sorted(untrusted)


def _configure_mlflow(uri: str) -> None:
    """The one place mlgate changes process-wide state for MLflow: MLflow's HTTP settings and its global URIs.

    Why global state at all: MLflow reads its HTTP retry/timeout settings (and telemetry, progress bars)
    only from environment variables, so :data:`_HTTP_DEFAULTS` are set there — with ``setdefault``, a
    value the user exported wins. And ``log_model`` / ``start_run`` use MLflow's global tracking and
    registry URIs, not a client's, so they point at ``uri``. ``mlflow.set_tracking_uri`` also writes
    ``MLFLOW_TRACKING_URI`` into ``os.environ`` for subprocesses; left there, it would read as the
    user's choice and send the next repo's models to this repo's store when one process works on
    several repos (the demo, the tests): those two variables are put back as they were.
    """
    for key, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    import mlflow

    saved = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, was in saved.items():
        if was is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = was


class IncompleteVerdict(InvalidInput):
    """A version's ``mlgate.gates`` tag and the verdict artifact it names do not agree."""

    hint = "gate the version again: mlgate gate MODEL --version N"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model, as mlgate reads it."""

    name: str
    version: int
    run_id: str  # '' for a version registered without a run
    tags: dict[str, str]
    current_stage: str  # MLflow's deprecated stage ('None', 'Staging', 'Production', 'Archived')
    source: str
    created_ms: int = 0  # when it was registered (milliseconds since the epoch; 0: unknown)

    @classmethod
    def of(cls, mv: Any) -> ModelVersion:
        """From MLflow's ``ModelVersion`` entity."""
        return cls(
            name=str(mv.name),
            version=int(mv.version),
            run_id=str(mv.run_id or ""),
            tags=dict(mv.tags or {}),
            current_stage=str(mv.current_stage or ""),
            source=str(mv.source or ""),
            created_ms=int(getattr(mv, "creation_timestamp", 0) or 0),
        )


@dataclass(frozen=True)
class Run:
    """One tracking run, as the audit log reads it."""

    run_id: str
    status: str  # RUNNING, FINISHED, FAILED, KILLED or SCHEDULED
    start_time: int  # milliseconds since the epoch
    tags: dict[str, str]

    @classmethod
    def of(cls, run: Any) -> Run:
        """From MLflow's ``Run`` entity."""
        return cls(
            run_id=str(run.info.run_id),
            status=str(run.info.status),
            start_time=int(run.info.start_time or 0),
            tags=dict(run.data.tags or {}),
        )


@dataclass(frozen=True)
class RunRecord:
    """Everything a run records: status, times, params, metrics and tags (what an evidence bundle reports)."""

    run_id: str
    experiment_id: str
    status: str
    start_ms: int  # milliseconds since the epoch (0: unknown)
    end_ms: int  # 0 while it runs
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]

    @classmethod
    def of(cls, run: Any) -> RunRecord:
        """From MLflow's ``Run`` entity."""
        return cls(
            run_id=str(run.info.run_id),
            experiment_id=str(run.info.experiment_id),
            status=str(run.info.status),
            start_ms=int(run.info.start_time or 0),
            end_ms=int(run.info.end_time or 0),
            params={str(k): str(v) for k, v in sorted(run.data.params.items())},
            metrics={str(k): float(v) for k, v in sorted(run.data.metrics.items())},
            tags={str(k): str(v) for k, v in sorted((run.data.tags or {}).items())},
        )


@dataclass(frozen=True)
class RunFacts:
    """What gating reads from a version's run, in one request."""

    status: str  # '' without a run (a version registered by hand)
    params: dict[str, str]
    url: str | None  # the run's page, over HTTP(S) only


@dataclass(frozen=True)
class ArtifactDigest:
    """The digest of a model version's files: what release.yaml pins and the gate verdict records.

    ``files`` maps each file's path (relative, posix) to the sha256 of its bytes; ``digest`` is
    ``sha256:<hex>`` over the sorted ``"<sha256>  <path>\n"`` lines (``sha256sum``'s format), so
    two folders have the same digest exactly when they hold the same files with the same bytes.
    """

    digest: str
    files: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        """``{"digest": "sha256:…", "files": {path: sha256}}``: the verdict's ``artifact`` block."""
        return {"digest": self.digest, "files": dict(sorted(self.files.items()))}

    def differing(self, expected: dict[str, str]) -> list[str]:
        """Paths whose bytes differ from ``expected`` (a per-file manifest), or that only one side has."""
        paths = set(self.files) | set(expected)
        return sorted(p for p in paths if self.files.get(p) != expected.get(p))

    def files_tag(self) -> str | None:
        """The per-file manifest as a compact JSON tag value; None when it would not fit in a tag."""
        text = json.dumps(dict(sorted(self.files.items())), separators=(",", ":"))
        return text if len(text) <= MAX_TAG_VALUE else None


def folder_digest(folder: Path) -> ArtifactDigest:
    """sha256 of every file under ``folder`` and the manifest digest over them (see :class:`ArtifactDigest`).

    Reads bytes only: nothing in the folder is parsed, loaded or imported.
    """
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink() or not path.is_file() or rel in _DOWNLOAD_METADATA:
            continue
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        files[rel] = digest.hexdigest()
    manifest = "".join(f"{sha}  {rel}\n" for rel, sha in sorted(files.items()))
    return ArtifactDigest(DIGEST_PREFIX + hashlib.sha256(manifest.encode("utf-8")).hexdigest(), files)


def manifest_of(tags: dict[str, str]) -> dict[str, str]:
    """The per-file manifest registration recorded on a version ({} when absent or unreadable)."""
    try:
        found = json.loads(tags.get(ARTIFACT_FILES_TAG, "") or "{}")
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): str(v) for k, v in found.items()}


def tampered(label: str, expected: str, found: ArtifactDigest, manifest: dict[str, str], source: str) -> TamperedModel:
    """The error for files whose digest is not ``expected``, naming the differing files when ``manifest`` knows them."""
    named = found.differing(manifest) if manifest else []
    if named:
        files = f"; file(s) that differ from the registered ones: {', '.join(named)}"
    elif manifest:  # the bytes are what registration recorded: the pin names other files
        files = f"; its files are the ones registered ({ARTIFACT_DIGEST_TAG}): the pinned digest is not this version's"
    else:
        files = ""
    return TamperedModel(f"{label}: its files have digest {found.digest}, {source} pins {expected}{files}")


@dataclass(frozen=True)
class LoadedModel:
    """A registered model and its input signature, read from one download."""

    model: Any
    signature: list[tuple[str, str]] | None  # (column, MLflow type); None when logged without
    flavour: str = "sklearn"  # the MLflow flavour it was loaded by (mlgate.registry.flavours)
    format: str = "skops"  # its serialization: skops, xgboost-ubj, lightgbm-text, cloudpickle, ...
    artifact: ArtifactDigest | None = None  # the digest of the bytes this model was loaded from


@dataclass(frozen=True)
class LoggedModelRef:
    """A model logged into a run (MLflow 3 logged model)."""

    model_id: str
    name: str
    status: str  # READY, PENDING or FAILED

    @property
    def uri(self) -> str:
        """``models:/<model_id>``, what registering it takes."""
        return f"models:/{self.model_id}"


@dataclass(frozen=True)
class RegisteredVersion:
    """What registering a trained model produced."""

    name: str
    version: int
    run_id: str
    model_uri: str
    tracking_uri: str


MONITORING_EXPERIMENT = "mlgate-monitoring"
"""The experiment holding one run per ``mlgate monitor`` verdict."""
MONITORING_TAG = TAG_PREFIX + "monitoring."
COMPARE_TAG = TAG_PREFIX + "compare."
"""Tags of a ``mlgate monitor --compare`` run (in :data:`MONITORING_EXPERIMENT`) and of the candidate version."""
_METRIC_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


def metric_name(name: str) -> str:
    """``name`` as MLflow accepts a metric name (letters, digits, ``_ - . /`` and spaces; others become ``_``)."""
    return _METRIC_UNSAFE.sub("_", name)[:250]


def _finite(value: float) -> bool:
    import math

    return isinstance(value, int | float) and math.isfinite(value)


def _quoted(value: str) -> str:
    """A value inside a single-quoted search filter string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


@dataclass(frozen=True)
class MonitoringRun:
    """One monitoring verdict as recorded: run id, when, which version, its status and metrics."""

    run_id: str
    evaluated_at: str  # ISO UTC
    version: int
    status: str
    metrics: dict[str, float]

    @classmethod
    def of(cls, run: Any) -> MonitoringRun:
        """From MLflow's ``Run`` entity of the monitoring experiment."""
        tags = dict(run.data.tags or {})
        return cls(
            run_id=str(run.info.run_id),
            evaluated_at=tags.get(MONITORING_TAG + "evaluated_at", ""),
            version=int(tags.get(MONITORING_TAG + "version", "0") or 0),
            status=tags.get(MONITORING_TAG + "status", ""),
            metrics={str(k): float(v) for k, v in sorted((run.data.metrics or {}).items())},
        )


class Registry:
    """MLflow tracking + registry for one governed repo."""

    def __init__(self, root: Path, uri: str | None = None) -> None:
        """Connect to the store at ``uri`` (default: :func:`tracking_uri` of ``root``).

        Points MLflow's process-wide settings at it first (:func:`_configure_mlflow`, the one place).
        """
        self.root = root
        self.uri = uri or tracking_uri(root)
        _configure_mlflow(self.uri)
        import mlflow
        from mlflow.tracking import MlflowClient

        self._mlflow = mlflow
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    @property
    def shown_uri(self) -> str:
        """The tracking URI as mlgate prints and records it: any password (or token) masked.

        ``uri`` connects (MLflow's client sends the credentials a URL carries); this one is for people.
        """
        return mask_secrets(self.uri)

    def _call(self, what: str, func: Callable[[], T]) -> T:
        """Run a registry call; outages become RegistryUnavailable (exit 3), see :func:`outage_reason`.

        Everything else (a model or version that does not exist, a bad parameter) is raised as
        MLflow raised it, for the caller to turn into its own answer.
        """
        try:
            # MLflow prints run links ("View run ... at") to stdout when a run ends over HTTP;
            # stdout is the JSON's alone under `--json -`, so anything MLflow prints goes to stderr,
            # masked: the link is the tracking URI's, password included
            with contextlib.redirect_stdout(MaskedStream(sys.stderr)):
                return func()
        except Exception as err:
            refused = credentials_refused(err)
            if refused:
                reason, hint = refused
                raise RegistryUnavailable(f"{what}: {reason} (MLflow at {self.shown_uri})", hint=hint) from err
            if outage_reason(err):
                raise self._unavailable(what, err) from err
            raise

    def _upsert(self, what: str, func: Callable[[], T]) -> T:
        """An idempotent write (a tag, an alias), retried when a concurrent twin collides.

        Two applies racing may set the same tag at the same moment; the SQL store then answers
        the second insert with BAD_REQUEST (a uniqueness violation) instead of updating. Writing
        the same value again is harmless, so the write is repeated; a request that is really
        bad fails the same way every time and is raised.
        """
        from mlflow.exceptions import MlflowException

        for attempt in range(UPSERT_ATTEMPTS):
            try:
                return self._call(what, func)
            except MlflowException as err:
                if err.error_code != "BAD_REQUEST" or attempt == UPSERT_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def _unavailable(self, what: str, err: Exception) -> RegistryUnavailable:
        retries = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        reason = outage_reason(err) or type(err).__name__
        where = self.shown_uri
        return RegistryUnavailable(f"{what}: MLflow at {where} did not answer after {retries} retries ({reason})")

    def experiment(self, name: str) -> str:
        """Id of the experiment ``name``, created on first use."""
        found = self._call("read experiment", lambda: self.client.get_experiment_by_name(name))
        if found is not None:
            return str(found.experiment_id)
        location = None
        if is_embedded(self.uri):
            location = (self.root / "mlartifacts").resolve().as_uri()
        return str(
            self._call(
                "create experiment",
                lambda: self.client.create_experiment(name, artifact_location=location),
            )
        )

    @contextmanager
    def run(self, experiment: str, run_name: str, tags: dict[str, str]) -> Iterator[str]:
        """An active MLflow run in ``experiment`` (its id); ended as FAILED if the body raises."""
        experiment_id = self.experiment(experiment)
        run = self._call(
            "start run",
            lambda: self._mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags),
        )
        try:
            yield str(run.info.run_id)
        except BaseException:
            # In an outage the run stays RUNNING (training incomplete); the first error is the news.
            with contextlib.suppress(Exception):
                self._mlflow.end_run(status="FAILED")
            raise
        self._call("end run", self._mlflow.end_run)

    def log_run_data(self, params: dict[str, Any], metrics: dict[str, float]) -> None:
        """Log params and metrics to the active run (inside :meth:`run`)."""
        self._call("log params", lambda: self._mlflow.log_params(params))
        self._call("log metrics", lambda: self._mlflow.log_metrics(metrics))

    def log_artifacts(self, files: dict[str, str | bytes], folder: str = "mlgate") -> None:
        """Log small text artifacts (spec copy, resolved policy, lineage) under ``folder``."""
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in files.items():
                target = Path(tmp) / name
                if isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    target.write_text(content, encoding="utf-8")
            self._call("log artifacts", lambda: self._mlflow.log_artifacts(tmp, folder))

    def log_sklearn_model(
        self,
        model: Any,
        *,
        name: str,
        signature_data: tuple[Any, Any],
        input_example: Any,
        pip_requirements: list[str],
        skops_types: list[str],
    ) -> str:
        """Log ``model`` with skops serialization in the active run; its ``models:/<id>`` URI.

        The signature is inferred from ``signature_data``: (a frame of model inputs, the model's
        ``predict`` on some of them). Its output is what ``mlflow.pyfunc`` ``predict`` returns
        (pyfunc calls ``predict``: a classifier's labels, a regressor's values), typed as **one
        column**: a 1-D array would be inferred as a tensor, which ``spark_udf`` returns as a
        one-element array per row. mlgate itself reads probabilities from the estimator
        (``predict_proba``) and only the signature's inputs. Registering is a separate step
        (:meth:`register_model`), done once the run finished.
        """
        import warnings

        import mlflow.sklearn
        import pandas as pd
        from mlflow.models import infer_signature

        inputs, output = signature_data
        # a 2-D output (predict_proba) raises here; infer_signature takes a Series (its docs), its type hint omits it
        column: Any = pd.Series(output)
        with warnings.catch_warnings():
            # Integer columns stay integers on purpose (see mlgate.data.dvc.prepare_columns);
            # MLflow's hint about missing values in integer columns is answered there.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(inputs, column)
        info = self._call(
            "log model",
            lambda: mlflow.sklearn.log_model(
                model,
                name=MODEL_ARTIFACT,
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
                skops_trusted_types=skops_types,
                signature=signature,
                input_example=input_example,
                pip_requirements=pip_requirements,
            ),
        )
        return str(info.model_uri)

    def register_model(self, name: str, model_uri: str, tags: dict[str, str]) -> RegisteredVersion:
        """A new version of ``name`` for a logged model, born with ``tags`` (one request).

        A ``model_uri`` the store does not know (no such run, model or version) is InvalidInput.
        """
        from mlflow.exceptions import MlflowException

        try:
            created = self._call(
                f"register {name}",
                lambda: self._mlflow.register_model(model_uri, name, tags=tags),
            )
        except MlflowException as err:
            if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                raise InvalidInput(f"cannot register {model_uri} as {name}: {err.message}") from None
            raise
        version = int(created.version)
        return RegisteredVersion(
            name=name,
            version=version,
            run_id=str(created.run_id or ""),
            model_uri=f"models:/{name}/{version}",
            tracking_uri=self.shown_uri,
        )

    def set_version_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        """Set tags on version ``version`` of ``name`` (idempotent writes, see ``_upsert``)."""
        for key, value in tags.items():
            self._upsert(
                f"tag {name} v{version}",
                functools.partial(self.client.set_model_version_tag, name, str(version), key, value),
            )

    def run_status(self, run_id: str) -> str:
        """``FINISHED``, ``RUNNING``, ``FAILED``, ``KILLED`` or ``SCHEDULED``; '' without a run id."""
        return self.run_facts(run_id).status

    def run_facts(self, run_id: str) -> RunFacts:
        """A run's status, params and (over HTTP) page link, from one request."""
        if not run_id:
            return RunFacts(status="", params={}, url=None)
        run = self._call(f"read run {run_id}", lambda: self.client.get_run(run_id))
        return RunFacts(
            status=str(run.info.status),
            params=dict(run.data.params),
            url=self.run_url(str(run.info.experiment_id), run_id),
        )

    def run_record(self, run_id: str) -> RunRecord:
        """A run's status, times, params, metrics and tags, from one request."""
        return RunRecord.of(self._call(f"read run {run_id}", lambda: self.client.get_run(run_id)))

    def artifact_files(self, run_id: str, folder: str) -> list[str]:
        """The paths of the files directly in ``folder`` of run ``run_id``'s artifacts, sorted ([] when none)."""
        listed = self._call(f"list {folder} of run {run_id}", lambda: self.client.list_artifacts(run_id, folder))
        return sorted(str(f.path) for f in listed if not f.is_dir)

    def run_url(self, experiment_id: str, run_id: str) -> str | None:
        """The run's page in the MLflow UI when the registry is a server; None for the embedded store."""
        if not self.uri.startswith(("http://", "https://")):
            return None
        return f"{self.shown_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    def set_model_description(self, name: str, description: str) -> None:
        """Set the registered model's description."""
        self._call(
            "describe model",
            lambda: self.client.update_registered_model(name, description=description),
        )

    def version(self, name: str, version: int) -> ModelVersion:
        """Version ``version`` of ``name``."""
        found = self._call(f"read {name} v{version}", lambda: self.client.get_model_version(name, str(version)))
        return ModelVersion.of(found)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        found = self._call(
            f"list versions of {name}",
            lambda: self.client.search_model_versions(f"name = '{name}'"),
        )
        return sorted((ModelVersion.of(mv) for mv in found), key=lambda v: v.version)

    def _registered_model_pages(self) -> Iterator[Any]:
        token = None
        while True:
            page = self._call(
                "list models",
                functools.partial(self.client.search_registered_models, max_results=SEARCH_PAGE, page_token=token),
            )
            yield from page
            token = page.token
            if not token:
                return

    def aliases(self, names: Iterable[str]) -> dict[str, dict[str, int]]:
        """``{model: {alias: version}}`` for the registered models among ``names``, in one search.

        A name that is not registered is absent; a registered model without aliases maps to
        ``{}``. One paginated ``search_registered_models`` (1000 a page) reads every alias of
        every model, instead of one request per model and alias.
        """
        wanted = set(names)
        return {
            model.name: {str(alias): int(version) for alias, version in (model.aliases or {}).items()}
            for model in self._registered_model_pages()
            if model.name in wanted
        }

    def versions_of(self, names: Iterable[str]) -> dict[str, list[ModelVersion]]:
        """Every version of each of ``names``, oldest first: ``search_model_versions`` a page of names at a time.

        Names must be mlgate model names (``[a-z0-9_-]``: nothing to quote in the filter); a
        name without versions maps to ``[]``.
        """
        wanted = sorted(set(names))
        unsafe = [n for n in wanted if not _SAFE_NAME.fullmatch(n)]
        if unsafe:
            raise InvalidInput(f"not an mlgate model name: {unsafe[0]!r}")
        found: dict[str, list[ModelVersion]] = {name: [] for name in wanted}
        for start in range(0, len(wanted), NAMES_PER_FILTER):
            chunk = wanted[start : start + NAMES_PER_FILTER]
            query = "name IN (" + ", ".join(f"'{n}'" for n in chunk) + ")"
            token = None
            while True:
                page = self._call(
                    f"list versions of {len(chunk)} model(s)",
                    functools.partial(
                        self.client.search_model_versions, query, max_results=SEARCH_PAGE, page_token=token
                    ),
                )
                for mv in page:
                    found.setdefault(mv.name, []).append(ModelVersion.of(mv))
                token = page.token
                if not token:
                    break
        return {name: sorted(found[name], key=lambda v: v.version) for name in wanted}

    def latest_version(self, name: str) -> int | None:
        """The highest version number of ``name``, or None when it has none."""
        found = self.versions(name)
        return found[-1].version if found else None

    def alias_version(self, name: str, alias: str) -> int | None:
        """The version ``alias`` points at, or None when the alias is not set."""
        from mlflow.exceptions import MlflowException

        try:
            found = self._call(
                f"read alias {alias} of {name}",
                lambda: self.client.get_model_version_by_alias(name, alias),
            )
        except MlflowException as err:
            if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        return int(found.version)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` of ``name`` at ``version``."""
        self._upsert(
            f"set alias {alias} of {name} to v{version}",
            lambda: self.client.set_registered_model_alias(name, alias, str(version)),
        )

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` from ``name``; an alias that is not there is fine."""
        from mlflow.exceptions import MlflowException

        try:
            self._call(
                f"delete alias {alias} of {name}", lambda: self.client.delete_registered_model_alias(name, alias)
            )
        except MlflowException as err:
            if err.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise

    def set_legacy_stage(self, name: str, version: int, stage: str) -> bool:
        """Set MLflow's deprecated stage (Staging/Production/Archived) where the server has it.

        Returns False when the server refuses stages (a server that dropped them); older
        consumers that read ``current_stage`` keep working where it still exists.
        """
        import warnings

        from mlflow.exceptions import MlflowException

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # stages are deprecated, on purpose
                self._call(
                    f"set stage {stage} on {name} v{version}",
                    lambda: self.client.transition_model_version_stage(name, str(version), stage),
                )
        except MlflowException as err:
            if err.error_code in ("INVALID_PARAMETER_VALUE", "ENDPOINT_NOT_FOUND", "BAD_REQUEST"):
                return False
            raise
        return True

    def delete_version_tag(self, name: str, version: int, key: str) -> None:
        """Remove tag ``key`` from a version; a tag that is not there is fine."""
        from mlflow.exceptions import MlflowException

        try:
            self._call(
                f"untag {name} v{version}", lambda: self.client.delete_model_version_tag(name, str(version), key)
            )
        except MlflowException as err:
            if err.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise

    def create_run(self, experiment: str, run_name: str, tags: dict[str, str]) -> str:
        """A run left open (RUNNING) until ``finish_run``: the audit's write-ahead record."""
        experiment_id = self.experiment(experiment)
        run = self._call(
            f"create run in {experiment}",
            lambda: self.client.create_run(experiment_id, tags=tags, run_name=run_name),
        )
        return str(run.info.run_id)

    def log_params_to(self, run_id: str, params: dict[str, Any]) -> None:
        """Log params on a run that is not this process's active run (one request)."""
        from mlflow.entities import Param

        batch = [Param(str(k), str(v)) for k, v in params.items()]
        self._call(f"log params to run {run_id}", lambda: self.client.log_batch(run_id, params=batch))

    def logged_models(self, run_id: str) -> list[LoggedModelRef]:
        """The models logged into run ``run_id`` (MLflow 3 logged models whose source run it is)."""
        run = self._call(f"read run {run_id}", lambda: self.client.get_run(run_id))
        experiment_id = str(run.info.experiment_id)
        found: list[LoggedModelRef] = []
        token = None
        while True:
            page = self._call(
                f"search models logged by run {run_id}",
                functools.partial(
                    self.client.search_logged_models,
                    [experiment_id],
                    filter_string=f"source_run_id = '{run_id}'",
                    page_token=token,
                ),
            )
            found += [
                LoggedModelRef(str(m.model_id), str(m.name or ""), str(getattr(m.status, "name", m.status)))
                for m in page
                if m.source_run_id == run_id
            ]
            token = page.token
            if not token:
                return found

    def logged_mlmodel(self, uri: str) -> dict[str, Any]:
        """The ``MLmodel`` of a logged model (``models:/``, ``runs:/`` or a local folder) as a dict; nothing is loaded.

        Only that YAML file is downloaded: what :func:`mlgate.registry.flavours.output_problem` reads
        before a model the team logged is registered. An unreadable file is :class:`UnsafeModel`.
        """
        from mlflow.models import Model

        try:
            found = self._call(f"read the MLmodel of {mask_secrets(uri)}", lambda: Model.load(uri))
        except RegistryUnavailable:
            raise
        except Exception as err:  # noqa: BLE001 — its author wrote the file: any parse error is named, not a crash
            reason = mask_secrets((str(err).strip().splitlines() or [type(err).__name__])[0][:300])
            raise UnsafeModel(f"{mask_secrets(uri)}: its MLmodel file cannot be read ({reason})") from None
        return dict(found.to_dict())

    def log_model_folder(self, run_id: str, folder: Path, name: str = MODEL_ARTIFACT) -> str:
        """Log a local MLflow model folder (one with an ``MLmodel`` file) as a model of run ``run_id``.

        The files are copied as they are: nothing in them is loaded or run. Returns ``models:/<id>``.
        """
        run = self._call(f"read run {run_id}", lambda: self.client.get_run(run_id))
        experiment_id = str(run.info.experiment_id)
        created = self._call(
            "create logged model",
            lambda: self.client.create_logged_model(experiment_id, name=name, source_run_id=run_id),
        )
        model_id = str(created.model_id)
        self._call(f"upload {folder}", lambda: self.client.log_model_artifacts(model_id, str(folder)))
        self._call("finalize logged model", lambda: self.client.finalize_logged_model(model_id, "READY"))
        return f"models:/{model_id}"

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """The latest value of each metric logged on run ``run_id``."""
        run = self._call(f"read run {run_id}", lambda: self.client.get_run(run_id))
        return {str(k): float(v) for k, v in sorted(run.data.metrics.items())}

    def logged_model_exists(self, model_id: str) -> bool:
        """Whether the tracking store knows the logged model ``model_id`` (``models:/<model_id>``)."""
        return self._exists(f"read model {model_id}", lambda: self.client.get_logged_model(model_id))

    def run_exists(self, run_id: str) -> bool:
        """Whether the tracking store knows run ``run_id`` (outages raise RegistryUnavailable)."""
        return self._exists(f"read run {run_id}", lambda: self.client.get_run(run_id))

    def _exists(self, what: str, fetch: Callable[[], Any]) -> bool:
        """Whether ``fetch`` finds its object: False for an unknown or malformed id, outages raise."""
        from mlflow.exceptions import MlflowException

        try:
            self._call(what, fetch)
        except MlflowException as err:
            if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return False
            raise
        return True

    def set_run_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Tag a run (finished or not), each tag written idempotently."""
        for key, value in tags.items():
            self._upsert(f"tag run {run_id}", functools.partial(self.client.set_tag, run_id, key, value))

    def finish_run(self, run_id: str, tags: dict[str, str], status: str = "FINISHED") -> None:
        """Tag the run and end it with ``status`` (``FINISHED``, or ``KILLED`` for a lost race)."""
        for key, value in tags.items():
            self._upsert(f"tag run {run_id}", functools.partial(self.client.set_tag, run_id, key, value))
        self._call(f"finish run {run_id}", lambda: self.client.set_terminated(run_id, status))

    def search_runs(self, experiment: str, filter_string: str) -> list[Run]:
        """Every run of ``experiment`` matching the filter, oldest first (all pages)."""
        found = self._call(f"read experiment {experiment}", lambda: self.client.get_experiment_by_name(experiment))
        if found is None:
            return []
        runs: list[Run] = []
        token = None
        while True:
            page = self._call(
                f"search runs of {experiment}",
                functools.partial(
                    self.client.search_runs,
                    [found.experiment_id],
                    filter_string,
                    max_results=1000,
                    page_token=token,
                    order_by=["attributes.start_time ASC"],
                ),
            )
            runs += [Run.of(run) for run in page]
            token = page.token
            if not token:
                return runs

    def run_params(self, run_id: str) -> dict[str, str]:
        """The params logged on a run (a version's split settings live there)."""
        return self.run_facts(run_id).params

    def version_metadata(self, name: str, version: int) -> dict[str, Any]:
        """What a report shows about a version: its mlgate tags and, over HTTP, a run link.

        (For verdicts written before they carried ``lineage``; see :func:`lineage`.)
        """
        mv = self.version(name, version)
        meta: dict[str, Any] = {
            "tracking_uri": self.shown_uri,
            "tags": {k: v for k, v in sorted(mv.tags.items()) if k.startswith(TAG_PREFIX)},
            "run_url": None,
        }
        if self.uri.startswith(("http://", "https://")) and mv.run_id:
            meta["run_url"] = self.run_facts(mv.run_id).url
        return meta

    def attach_json(self, run_id: str, payload: str, artifact_file: str) -> None:
        """Add a JSON artifact to a (finished) run, e.g. a gate verdict."""
        self._call(f"log {artifact_file}", lambda: self.client.log_text(run_id, payload, artifact_file))

    def read_artifact(self, run_id: str, path: str, listed: list[str] | None = None) -> bytes | None:
        """The bytes of one artifact file of a run; None when the run has no such file.

        The folder is listed first because MLflow's download reports every failure, outages
        included, as a wrong path: a listed file that cannot be downloaded is an outage.
        ``listed``: the folder's files as the caller just listed them (not listed again).
        """
        from mlflow.exceptions import MlflowException

        folder = posixpath.dirname(path) or None
        if listed is None:
            found = self._call(
                f"list {folder or 'artifacts'} of run {run_id}",
                lambda: self.client.list_artifacts(run_id, folder),
            )
            listed = [f.path for f in found if not f.is_dir]
        if path not in listed:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            try:
                local = self._call(f"download {path}", lambda: self.client.download_artifacts(run_id, path, tmp))
            except MlflowException as err:
                raise self._unavailable(f"download {path}", err) from err
            return Path(local).read_bytes()

    def read_verdict(self, name: str, version: int) -> dict[str, Any] | None:
        """The gate verdict recorded on ``name`` v``version``, checked; None if it was never gated.

        ``mlgate gate`` stores the verdict as an artifact on the version's run and then sets ONE
        version tag, :data:`VERDICT_TAG`, whose JSON value names that artifact, its sha256 and
        the status, stage, policy hash and per-family statuses. Here the artifact is downloaded,
        its bytes hashed and its content compared with the tag, and the verdict dict (the
        artifact's JSON) is returned. Anything that does not agree — an unreadable tag, a missing
        artifact, another sha256, a different status, stage, policy or family status, another
        model or version — raises :class:`IncompleteVerdict` (exit 2: gate again) rather than
        return a verdict the tag does not describe. Outages raise RegistryUnavailable (exit 3).
        """
        found = self.verdict_of(self.version(name, version))
        return found[0] if found else None

    def verdict_of(
        self, mv: ModelVersion, data: bytes | None = None, listed: list[str] | None = None
    ) -> tuple[dict[str, Any], bytes] | None:
        """:meth:`read_verdict` of a version already read, and the artifact's bytes; None if it was never gated.

        ``data``: the artifact's bytes kept from an earlier read (``mlgate site``'s cache, found by
        :func:`verdict_sha256`); used only when its sha256 is the one the tag names, else downloaded.
        ``listed``: the run's verdict files as :meth:`verdict_files` just listed them.
        """
        name, version = mv.name, mv.version
        raw = mv.tags.get(VERDICT_TAG)
        if raw is None:
            return None
        label = f"{name} v{version}"
        record = _verdict_record(raw, label)
        if data is None or hashlib.sha256(data).hexdigest() != record["sha256"]:
            folder_listed = listed if posixpath.dirname(record["verdict"]) == VERDICT_DIR else None
            data = self.read_artifact(mv.run_id, record["verdict"], folder_listed)
        if data is None:
            raise IncompleteVerdict(
                f"{label}: the verdict {record['verdict']} named by {VERDICT_TAG} is missing from run {mv.run_id}"
            )
        digest = hashlib.sha256(data).hexdigest()
        if digest != record["sha256"]:
            raise IncompleteVerdict(
                f"{label}: {record['verdict']} has sha256 {digest[:12]}…, {VERDICT_TAG} says {record['sha256'][:12]}…"
            )
        try:
            verdict = json.loads(data)
        except ValueError as err:
            raise IncompleteVerdict(f"{label}: {record['verdict']} is not JSON ({err})") from None
        if not isinstance(verdict, dict):
            problem = "its shape (the artifact is not a JSON object)"
            raise IncompleteVerdict(f"{label}: {VERDICT_TAG} and {record['verdict']} disagree on {problem}")
        problem = _verdict_mismatch(record, verdict, name, version)
        if problem:
            raise IncompleteVerdict(f"{label}: {VERDICT_TAG} and {record['verdict']} disagree on {problem}")
        return verdict, data

    def verdict_files(self, run_id: str) -> list[str]:
        """The gate verdict artifacts a run holds (``mlgate/verdicts/*.json``), oldest first by name."""
        from mlflow.exceptions import MlflowException

        if not run_id:
            return []
        try:
            listed = self._call(
                f"list {VERDICT_DIR} of run {run_id}",
                lambda: self.client.list_artifacts(run_id, VERDICT_DIR),
            )
        except MlflowException as err:
            if err.error_code == "RESOURCE_DOES_NOT_EXIST":  # the run is gone: no verdict to read
                return []
            raise
        return sorted(f.path for f in listed if not f.is_dir and f.path.endswith(".json"))

    def load_model(self, name: str, version: int, **options: Any) -> Any:
        """Load a registered model (see :meth:`load_version`, whose keyword options it takes)."""
        return self.load_version(name, version, **options).model

    def load_version(
        self,
        name: str,
        version: int,
        trust: Collection[str] = (),
        policy: str = "the policy",
        trusted_modules: tuple[str, ...] = (),
        expected: str | None = None,
        expected_from: str = "",
    ) -> LoadedModel:
        """A registered model and its input signature, from one download of its folder.

        The ``MLmodel`` file is read first and the serialization classified
        (:mod:`mlgate.registry._flavours`): skops with mlgate's allow-list (plus ``trusted_modules``,
        the judged policy's estimator modules), XGBoost json/ubj and LightGBM text load without
        running code; a format that runs code (pickle, cloudpickle, pytorch, code, other) loads only
        when ``trust`` (the judged policy's ``trust.formats``, from ``policy``) names it, else
        :class:`UnsafeModel` (exit 2) before anything is loaded.
        """
        holder = tempfile.TemporaryDirectory()
        keep = False
        try:
            loaded, _folder = self.verified_folder(
                name, version, holder, trust, policy, trusted_modules, expected, expected_from
            )
            keep = isinstance(loaded.model, flavours.PythonFunction)  # it holds the folder now
            return loaded
        finally:
            if not keep:
                holder.cleanup()

    def verified_folder(
        self,
        name: str,
        version: int,
        holder: Any,
        trust: Collection[str] = (),
        policy: str = "the policy",
        trusted_modules: tuple[str, ...] = (),
        expected: str | None = None,
        expected_from: str = "",
    ) -> tuple[LoadedModel, Path]:
        """Download a version into ``holder`` and load it as :meth:`load_version` does; the model and its folder.

        ``holder`` keeps the folder: ``.name`` is its path (a ``TemporaryDirectory``, which a
        trusted pyfunc model keeps alive).

        ``expected`` (``sha256:<hex>``, e.g. what release.yaml pins; ``expected_from`` says where it
        comes from) is checked against the downloaded files' digest **before** the MLmodel file is
        read or anything is unpickled or imported: a mismatch raises :class:`TamperedModel` (exit 1),
        naming the files that differ from the manifest registration recorded (that tag only names
        files; the pinned digest decides). The digest of the loaded bytes is ``loaded.artifact``.

        The folder is what was verified: a caller that hands the model to another loader (the Spark
        executors' ``mlflow.pyfunc.load_model``, :mod:`mlgate.registry.spark`) passes this folder,
        never the registry URI, so the bytes loaded elsewhere are the bytes checked here.
        """
        label = f"{name} v{version}"
        root, folder = self._download(name, version, Path(holder.name))
        artifact = folder_digest(root)
        if expected is not None and artifact.digest != expected:
            manifest = manifest_of(self.version(name, version).tags)
            raise tampered(label, expected, artifact, manifest, expected_from or "the expected digest")
        found = flavours.classify(_read_mlmodel(folder / "MLmodel", label))
        flavours.check_trust(found, trust, label, policy)
        signature = _signature_of(folder / "MLmodel")
        if not found.needs:
            model = flavours.load_native(
                folder, found, label, lambda path, exact: load_skops(path, trusted_modules, exact, policy)
            )
        else:
            model = flavours.load_trusted(folder, found, holder)
        loaded = LoadedModel(
            model=model, signature=signature, flavour=found.flavour, format=found.format, artifact=artifact
        )
        return loaded, folder

    def download_version(self, name: str, version: int, into: Path) -> tuple[Path, Path]:
        """Download a version's files into ``into`` (nothing is loaded); the download's root, the ``MLmodel`` folder.

        :func:`folder_digest` of the root is the version's artifact digest.
        """
        return self._download(name, version, into)

    def artifact_digest(self, name: str, version: int) -> ArtifactDigest:
        """Download version ``version`` of ``name`` and digest its files (nothing is loaded)."""
        with tempfile.TemporaryDirectory(prefix="mlgate-digest-") as tmp:
            root, _folder = self._download(name, version, Path(tmp))
            return folder_digest(root)

    def record_artifact(self, name: str, version: int) -> ArtifactDigest:
        """Digest a newly registered version's files and tag it with the digest and per-file manifest."""
        found = self.artifact_digest(name, version)
        tags = {ARTIFACT_DIGEST_TAG: found.digest}
        files = found.files_tag()
        if files is not None:
            tags[ARTIFACT_FILES_TAG] = files
        self.set_version_tags(name, version, tags)
        return found

    def resolve_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``models:/NAME@ALIAS`` points at, resolved once (callers then use the number).

        An alias that points nowhere (or a model that does not exist) is :class:`InvalidInput`
        saying what to do; an outage is RegistryUnavailable (exit 3).
        """
        number = self.alias_version(name, alias)
        if number is None:
            raise InvalidInput(
                f"models:/{name}@{alias} points at no version in {self.shown_uri}",
                hint=f"promote a version to {alias} first (a promotion PR editing models/{name}/release.yaml)",
            )
        return self.version(name, number)

    def record_monitoring(
        self,
        model: str,
        stage: str,
        version: int,
        *,
        evaluated_at: str,
        status: str,
        params: dict[str, str],
        metrics: dict[str, float],
        verdict_json: Callable[[str], str],
    ) -> str:
        """One run in :data:`MONITORING_EXPERIMENT` for a monitoring verdict, then the version's tags; its id.

        The run holds the verdict's metrics (names made MLflow-safe, non-finite values left out:
        MLflow's stores differ on NaN), its ``window`` param and the verdict as ``monitoring.json``
        (``verdict_json(run_id)``: the verdict names the run it is stored in).
        The version tags (``mlgate.monitoring.last_run``, ``.status``, ``.at``) are written last:
        a reader following them always finds a finished run.
        """
        tags = {
            MONITORING_TAG + "model": model,
            MONITORING_TAG + "stage": stage,
            MONITORING_TAG + "version": str(version),
            MONITORING_TAG + "status": status,
            MONITORING_TAG + "evaluated_at": evaluated_at,
        }
        run_id = self._finished_run(
            f"{model}@{stage} {evaluated_at}", tags, params, metrics, verdict_json, "monitoring.json", "monitoring"
        )
        self.set_version_tags(
            model,
            version,
            {
                MONITORING_TAG + "last_run": run_id,
                MONITORING_TAG + "status": status,
                MONITORING_TAG + "at": evaluated_at,
            },
        )
        return run_id

    def _finished_run(
        self,
        name: str,
        tags: dict[str, str],
        params: dict[str, str],
        metrics: dict[str, float],
        verdict_json: Callable[[str], str],
        artifact: str,
        what: str,
    ) -> str:
        """A FINISHED run of :data:`MONITORING_EXPERIMENT` with its metrics, params and verdict artifact; its id.

        A failure on the way marks the run FAILED before it propagates: no reader takes it as a verdict.
        """
        run_id = self.create_run(MONITORING_EXPERIMENT, name, tags)
        try:
            from mlflow.entities import Metric, Param

            stamp = int(time.time() * 1000)
            batch = [Metric(metric_name(k), float(v), stamp, 0) for k, v in metrics.items() if _finite(v)]
            self._call(
                f"log {what} metrics to run {run_id}",
                lambda: self.client.log_batch(
                    run_id, metrics=batch, params=[Param(k, str(v)) for k, v in params.items()]
                ),
            )
            self.attach_json(run_id, verdict_json(run_id), artifact)
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.set_terminated(run_id, "FAILED")
            raise
        self._call(f"finish run {run_id}", lambda: self.client.set_terminated(run_id, "FINISHED"))
        return run_id

    def record_comparison(
        self,
        model: str,
        stage: str,
        kind: str,
        stable: int,
        candidate: int,
        *,
        evaluated_at: str,
        state: str,
        params: dict[str, str],
        metrics: dict[str, float],
        verdict_json: Callable[[str], str],
    ) -> str:
        """One run in :data:`MONITORING_EXPERIMENT` for a comparison of arms, then the candidate's tags; its id.

        As :meth:`record_monitoring`: the run's tags (``mlgate.compare.*``: model, stage, kind, both
        versions, state), metrics and params, the verdict as ``compare.json``; the candidate version's
        tags (``mlgate.compare.last_run``, ``.state``, ``.at``) last.
        """
        tags = {
            COMPARE_TAG + "model": model,
            COMPARE_TAG + "stage": stage,
            COMPARE_TAG + "kind": kind,
            COMPARE_TAG + "stable": str(stable),
            COMPARE_TAG + "candidate": str(candidate),
            COMPARE_TAG + "state": state,
            COMPARE_TAG + "evaluated_at": evaluated_at,
        }
        name = f"{model}@{stage} {kind} v{candidate} {evaluated_at}"
        run_id = self._finished_run(name, tags, params, metrics, verdict_json, "compare.json", "comparison")
        self.set_version_tags(
            model,
            candidate,
            {COMPARE_TAG + "last_run": run_id, COMPARE_TAG + "state": state, COMPARE_TAG + "at": evaluated_at},
        )
        return run_id

    def monitoring_history(self, model: str, stage: str, limit: int = 20) -> list[MonitoringRun]:
        """The last ``limit`` finished monitoring runs of ``model@stage``, oldest first (for trend charts)."""
        found = self._call(
            f"read experiment {MONITORING_EXPERIMENT}",
            lambda: self.client.get_experiment_by_name(MONITORING_EXPERIMENT),
        )
        if found is None:
            return []
        query = (
            f"tags.`{MONITORING_TAG}model` = '{_quoted(model)}' and tags.`{MONITORING_TAG}stage` = '{_quoted(stage)}'"
            " and attributes.status = 'FINISHED'"
        )
        runs = self._call(
            f"search monitoring runs of {model}@{stage}",
            lambda: self.client.search_runs(
                [found.experiment_id], query, max_results=limit, order_by=["attributes.start_time DESC"]
            ),
        )
        history = [MonitoringRun.of(run) for run in runs]
        return sorted(history, key=lambda r: (r.evaluated_at, r.run_id))

    def monitoring_runs(
        self, wanted: Iterable[tuple[str, str]], limit: int = 20, max_pages: int = MONITORING_PAGES
    ) -> dict[tuple[str, str], list[MonitoringRun]]:
        """``{(model, stage): runs}``: the last ``limit`` finished monitoring runs of each ``wanted`` model and stage.

        One paginated search of the monitoring experiment, newest first, instead of one per model
        and stage (``mlgate site``); each list oldest first, as :meth:`monitoring_history` gives it.
        It stops once every wanted pair has ``limit`` runs, or after ``max_pages`` pages of
        :data:`SEARCH_PAGE` runs (a pair not monitored among the latest ones then has fewer, or none).
        """
        keys = set(wanted)
        found = self._call(
            f"read experiment {MONITORING_EXPERIMENT}",
            lambda: self.client.get_experiment_by_name(MONITORING_EXPERIMENT),
        )
        if found is None:
            return {}
        grouped: dict[tuple[str, str], list[MonitoringRun]] = {}
        token = None
        while True:
            page = self._call(
                f"search runs of {MONITORING_EXPERIMENT}",
                functools.partial(
                    self.client.search_runs,
                    [found.experiment_id],
                    "attributes.status = 'FINISHED'",
                    max_results=SEARCH_PAGE,
                    page_token=token,
                    order_by=["attributes.start_time DESC"],
                ),
            )
            for run in page:
                tags = run.data.tags or {}
                key = (str(tags.get(MONITORING_TAG + "model", "")), str(tags.get(MONITORING_TAG + "stage", "")))
                if key in keys and len(grouped.setdefault(key, [])) < limit:
                    grouped[key].append(MonitoringRun.of(run))
            token = page.token
            max_pages -= 1
            full = len(grouped) == len(keys) and all(len(runs) >= limit for runs in grouped.values())
            if not token or full or max_pages <= 0:
                break
        return {key: sorted(runs, key=lambda r: (r.evaluated_at, r.run_id)) for key, runs in sorted(grouped.items())}

    def _download(self, name: str, version: int, into: Path) -> tuple[Path, Path]:
        """Download a version's model folder into ``into``; (the download's root, the folder holding ``MLmodel``)."""
        local = self._call(
            f"download {name} v{version}",
            lambda: self._mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=str(into)
            ),
        )
        found = sorted(Path(local).rglob("MLmodel"), key=lambda p: len(p.parts))
        if not found:
            raise UnsafeModel(f"{name} v{version} is not an MLflow model (no MLmodel file)")
        return Path(local), found[0].parent


def _read_mlmodel(path: Path, label: str) -> dict[str, Any]:
    """The parsed ``MLmodel`` file (plain YAML: safe_load builds no objects)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise UnsafeModel(f"{label}: its MLmodel file cannot be read ({err})") from None
    if not isinstance(data, dict):
        raise UnsafeModel(f"{label}: its MLmodel file is not a mapping")
    return data


def _signature_of(mlmodel: Path) -> list[tuple[str, str]] | None:
    """(column, MLflow type) of the input signature in an ``MLmodel`` file (as get_model_info reads it)."""
    from mlflow.models import Model

    signature = Model.load(str(mlmodel)).signature
    columns = getattr(signature.inputs, "inputs", None) if signature is not None else None
    if not columns or any(getattr(col, "name", None) is None for col in columns):
        return None  # no signature, or a tensor one: no named columns to select
    return [(col.name, str(col.type.name)) for col in columns]


# A node of a skops schema.json, as skops writes it: "__class__" then "__module__", plain strings.
_SKOPS_NODE = re.compile(rb'"__class__":\s*"([^"\\]*)",\s*"__module__":\s*"([^"\\]*)"')


def _named_types(schema: bytes) -> set[str]:
    """The ``<module>.<class>`` of every node of a skops ``schema.json`` written the way skops writes it.

    skops names a node's type the same way in its audit. A node written otherwise (keys in
    another order, escapes in a name) is not found here; :func:`load_skops` then falls back to
    skops' full audit, so this only ever makes loading faster, never more permissive.
    """
    found = _SKOPS_NODE.findall(schema)
    return {f"{module.decode(errors='replace')}.{cls.decode(errors='replace')}" for cls, module in found}


def load_skops(path: Path, modules: tuple[str, ...] = (), exact: frozenset[str] = frozenset(), policy: str = "") -> Any:
    """Load a skops file trusting, beyond skops' defaults, only :data:`TRUSTED_TYPE_PREFIXES`, ``modules``, ``exact``.

    ``modules`` are module prefixes from the judged policy's estimator modules (the caller's);
    ``exact`` names exact types mlgate's code trusts for one flavour (LightGBM's classes, see
    :data:`mlgate.registry._flavours.LIGHTGBM_SKOPS_TYPES`). Never types read from the model.
    ``policy`` is the judged policy file, named in a refusal.

    One audit pass: the types the file names that fall under the allow-list are passed to
    ``skops.io.load``, whose own audit refuses anything else. Only when it refuses (a type outside
    the allow-list, or one this scan missed) is skops asked for the exact untrusted types, which
    :func:`trusted_types` checks (raising :class:`UnsafeModel` that names the foreign ones).
    """
    import zipfile

    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        with zipfile.ZipFile(path) as archive:
            schema = archive.read("schema.json")
    except (OSError, KeyError, zipfile.BadZipFile):
        schema = b""  # let skops say what is wrong with the file
    candidates = sorted(t for t in _named_types(schema) if _is_trusted(t, modules, exact))
    try:
        return skops.io.load(path, trusted=candidates)
    except UntrustedTypesFoundException:
        allowed = trusted_types(skops.io.get_untrusted_types(file=path), modules, exact, policy)
        return skops.io.load(path, trusted=allowed)


def _verdict_record(raw: str, label: str) -> dict[str, Any]:
    """The parsed :data:`VERDICT_TAG` value (it must name an artifact and its sha256)."""
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("verdict", "sha256")):
        raise IncompleteVerdict(f"{label}: {VERDICT_TAG} is not an mlgate verdict record: {raw[:80]!r}")
    return record


def verdict_sha256(tags: dict[str, str]) -> str | None:
    """The sha256 of the verdict artifact a version's :data:`VERDICT_TAG` names; None when not gated or unreadable."""
    raw = tags.get(VERDICT_TAG)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    sha = record.get("sha256") if isinstance(record, dict) else None
    return sha if isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha) else None


def _verdict_mismatch(record: dict[str, Any], verdict: dict[str, Any], name: str, version: int) -> str:
    """The first field the tag and the verdict artifact disagree on ('' when they agree)."""
    policy = verdict.get("policy")
    if not isinstance(policy, dict):
        policy = {}
    pairs = {
        "model": (name, verdict.get("model")),
        "version": (version, verdict.get("version")),
        "status": (record.get("status"), verdict.get("status")),
        "stage": (record.get("stage"), verdict.get("stage") or "all"),
        "policy sha256": (record.get("policy_sha256"), policy.get("sha256")),
        "family statuses": (record.get("families"), verdict.get("families")),
    }
    return next((field for field, (want, got) in pairs.items() if want != got), "")


def _tracking_credential() -> str:
    """Which variable holds the MLflow credential this process sends (its name, never its value)."""
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        return "MLFLOW_TRACKING_TOKEN"
    if os.environ.get("MLFLOW_TRACKING_USERNAME") or os.environ.get("MLFLOW_TRACKING_PASSWORD"):
        return "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
    if mask_secrets(os.environ.get("MLFLOW_TRACKING_URI", "")) != os.environ.get("MLFLOW_TRACKING_URI", ""):
        return "the user:password in MLFLOW_TRACKING_URI"
    return ""


def credentials_refused(err: BaseException) -> tuple[str, str] | None:
    """(reason, hint) when an MLflow call failed because a credential was refused; None otherwise.

    MLflow's server says UNAUTHENTICATED (HTTP 401: no or a wrong credential) or PERMISSION_DENIED
    (HTTP 403: a valid credential without the permission, e.g. a PR job's setting an alias); a
    client writing artifacts straight to S3 (a server without proxied artifacts) gets S3's refusal
    through boto3. The hint names the variable to check, never its value. Both are exit 3: the
    service refused, and the job's environment, not the governed repo, is what to fix.
    """
    from mlflow.exceptions import MlflowException

    # S3's refusal first: MLflow answers a failed S3 download by trying another route, whose
    # error (even a 401 of its own) is raised with the refusal as its context; the refusal is the cause
    reason = s3_refusal(err)
    if reason:
        return f"writing or reading MLflow's artifacts: {reason}", S3_CREDENTIALS_HINT
    from requests import exceptions as rx

    for link in _chain(err):
        # the artifact routes answer with a bare HTTP status, which MLflow raises as requests' HTTPError
        status = link.response.status_code if isinstance(link, rx.HTTPError) and link.response is not None else 0
        if (isinstance(link, MlflowException) and link.error_code == "UNAUTHENTICATED") or status == 401:
            used = _tracking_credential()
            hint = (
                f"check {used}: the MLflow server did not accept them"
                if used
                else "the MLflow server asks for a credential: set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
            )
            return "the MLflow server refused the credentials (HTTP 401 UNAUTHENTICATED)", hint + " (docs/deploy.md)"
        if (isinstance(link, MlflowException) and link.error_code == "PERMISSION_DENIED") or status == 403:
            used = _tracking_credential() or "the MLflow credential"
            hint = (
                f"the credential in {used} is valid but lacks this permission: run this job with the "
                "credential meant for it, or ask the MLflow admin for the permission (docs/deploy.md, "
                "permissions per job)"
            )
            return "the MLflow user may not do this (HTTP 403 PERMISSION_DENIED)", hint
    return None


# MLflow error codes that say "the server cannot answer now", whatever the message says.
# INTERNAL_ERROR is MlflowException's default code, so it only counts when the server sent it.
_OUTAGE_CODES = frozenset({"TEMPORARILY_UNAVAILABLE", "DEADLINE_EXCEEDED", "REQUEST_LIMIT_EXCEEDED"})
_TOO_MANY = re.compile(r"too many (\d{3}) error responses")


def _chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and what it was raised from or while handling (MLflow wraps requests' errors)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError holds its cause here
        if isinstance(reason, BaseException) and id(reason) not in seen:
            yield from _chain(reason)
        current = current.__cause__ or current.__context__


def outage_reason(err: BaseException) -> str:
    """Why an MLflow call failed for want of a server, from the error's type and codes; '' if it did not.

    An outage is: no connection (refused, reset, DNS, timeout), retries used up on a 5xx or 429
    (requests' RetryError: MLflow retries 408/429/500/502/503/504), an HTTP error response of
    5xx, or an MLflow error code that means "not now" (TEMPORARILY_UNAVAILABLE, DEADLINE_EXCEEDED,
    REQUEST_LIMIT_EXCEEDED, or INTERNAL_ERROR *sent by the server*). Messages are never searched
    for words or numbers: a model called ``credit2504`` that does not exist is "not found"
    (RESOURCE_DOES_NOT_EXIST), not a 504.
    """
    from mlflow.exceptions import MlflowException, RestException
    from requests import exceptions as rx
    from urllib3 import exceptions as ux

    for link in _chain(err):
        if isinstance(link, ux.ResponseError):  # retries used up on an error status
            found = _TOO_MANY.search(str(link))  # urllib3's own fixed wording, with the status
            return f"HTTP {found.group(1)} after retries" if found else "error responses after retries"
        if isinstance(link, rx.HTTPError):
            status = link.response.status_code if link.response is not None else 0
            return f"HTTP {status}" if status >= 500 and status != 501 else ""
        if isinstance(link, (rx.Timeout, ux.TimeoutError, TimeoutError)) and not isinstance(
            link, ux.NewConnectionError
        ):
            return "timed out"  # (urllib3's NewConnectionError is a ConnectTimeoutError: read on)
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
        if isinstance(link, ux.NameResolutionError):
            return "host not found"
        if isinstance(link, MlflowException):
            if link.error_code in _OUTAGE_CODES:
                return f"{link.error_code}, HTTP {link.get_http_status_code()}"
            if link.error_code != "INTERNAL_ERROR":
                return ""  # an answer about the request: not found, invalid, refused, ...
            if isinstance(link, RestException):
                return "INTERNAL_ERROR from the server, HTTP 500"
            # INTERNAL_ERROR is also MLflow's default code, e.g. wrapping requests' errors: read on
    for link in _chain(err):  # no precise reason found: any connection-level failure
        if isinstance(link, (rx.ConnectionError, rx.ChunkedEncodingError, ux.ProtocolError, ConnectionError)):
            return f"connection failed ({type(link).__name__})"
    return ""
