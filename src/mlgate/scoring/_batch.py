"""`mlgate score MODEL --stage STAGE --input PATH|GLOB --output DIR`: batch scoring by alias.

1. The spec and policy are read (the stage must be one of the policy's ``promotion.stages``);
   ``models:/MODEL@STAGE`` is resolved **once** to a version number, which is refused when its
   training did not complete (:func:`mlgate.config.incomplete_reason`), and loaded the
   governed way (:meth:`mlgate.registry.Registry.verified_folder`: the judged formats only).
2. Every input file is checked against the version's signature before anything is scored:
   missing, extra (neither a signature column nor an ``--id-column``) and mistyped columns exit 2
   naming the file. CSV values are converted batch by batch and a bad one is named by its line
   (a quoted field may span lines) and column, on both engines (:func:`check_values`); the
   message quotes a bounded excerpt of it (:func:`mlgate.exceptions.excerpt`).
3. The pandas engine streams each file in batches of ``batch_rows`` (memory bounded by the batch,
   not the file) into one Parquet file per input file; the Spark engine runs the same job in
   ``mapInPandas`` (:mod:`mlgate.registry.spark`). Both build the model's input with
   :func:`mlgate.data.model_input` (what training fitted on) and turn probabilities into
   decisions with :meth:`Plan.assemble` (→ :func:`mlgate.gates.apply_decision`, what the
   gates judged), so their output is identical row for row.
4. Output: ``DIR/model=NAME/stage=STAGE/date=YYYY-MM-DD/part-*.parquet``. The partition is
   written into a hidden folder beside it and renamed into place (:func:`replacing`): a crash
   leaves the previous partition as it was, a re-run for the same date replaces it (never
   duplicates rows), another date adds a partition. Runs writing one partition take turns
   (:func:`partition_lock`); recovery removes only half-written folders whose owner is gone.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import glob
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from mlgate.config import Decision, ModelContext, Workspace, incomplete_reason, load_model_context, refuse_predictions
from mlgate.data import file_md5, model_input
from mlgate.exceptions import ExternalServiceError, InvalidInput, excerpt
from mlgate.gates import MAX_REASONS, Explainer, Reasons, adapt, apply_decision, decide, explainer, positive_label
from mlgate.registry import TAG_PREFIX, LoadedModel, ModelVersion, Registry
from mlgate.scoring import _custody as custody

ENGINES = ("pandas", "spark")
BATCH_ROWS = 100_000
"""Rows per batch of the pandas engine: its memory is bounded by this, not by the file."""
INPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
LINEAGE_COLUMNS = (
    "mlgate_model",
    "mlgate_version",
    "mlgate_alias",
    "mlgate_run_id",
    "mlgate_commit",
    "mlgate_input_file",
    "mlgate_input_md5",
    "scored_at",
)
"""Prefixed so they never clash with an id column or a partition key (``model=``, ``stage=``, ``date=``)."""
SPARK_FEATURE = "__feature_"
"""The Spark engine hands the n-th signature column to :meth:`Plan.from_spark` as ``__feature_<n>``."""
_NUMERIC = frozenset({"double", "float", "long", "integer"})
"""Signature types whose values are checked as numbers (:func:`mlgate.data.model_input` converts them)."""
_INTEGER = frozenset({"long", "integer"})
"""Signature types whose values must be whole numbers, never missing (MLflow refuses a float64 column for them)."""
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
PARTITION_KEYS = ("model", "stage", "date")
"""The output's hive partition keys: an id column of one of these names would be shadowed by the folder's value."""
_INTEGER_ID = re.compile(r"-?(?:0|[1-9][0-9]{0,18})")
"""An id written as an integer in canonical form (no sign ``+``, no leading zero, no ``.0``): int64 in the output."""
LOCK_TIMEOUT = 3600.0
"""Seconds a run waits for another run writing the same partition before it gives up (exit 3)."""
_WRITING = re.compile(r"\.writing-(?P<pid>[0-9]+)@(?P<host>.+)-(?P<token>[0-9a-f]{12})")
"""A half-written folder's owner, in its name: ``.date=D.writing-PID@HOST-TOKEN``."""


class PartitionBusy(ExternalServiceError):
    """Another ``mlgate score`` run kept writing the same output partition past the lock timeout."""


@dataclass(frozen=True)
class InputFile:
    """One input file: its path as given, resolved path, format and md5 (lineage)."""

    shown: str
    path: Path
    format: str
    md5: str


@dataclass
class Plan:
    """What turns model output into output rows; picklable: Spark ships it to its executors.

    ``files`` maps each input's resolved path to (path as given, md5) for the lineage columns.
    """

    task: str
    classes: list[Any]
    positive: Any
    decision: Decision | None
    id_columns: list[str]
    features: list[tuple[str, str]]  # (column, MLflow type): the version's signature
    lineage: dict[str, Any]
    files: dict[str, tuple[str, str]]
    with_proba: bool = True
    id_types: dict[str, Any] = field(default_factory=dict)  # column → pyarrow type
    scored_at: str = ""  # ISO time the job started: one ``scored_at`` for every row of a run
    reasons: int = 0  # top reasons per row (``--reasons K``): columns reason_<i>_feature/_value/_contribution

    def assemble(
        self,
        ids: pd.DataFrame,
        result: np.ndarray | None,
        file: str,
        predicted: np.ndarray | None = None,
        reasons: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Output rows: id columns, prediction, probabilities, needs_review, reasons, lineage.

        ``result`` holds class probabilities (classifier; rows × classes) or values (regressor).
        With the spec's ``decision:``, decisions and review flags come from
        :func:`~mlgate.gates.apply_decision` (as the gates judged); otherwise the most
        probable class (or ``predicted``, a label-only model's labels) and no row needs review.
        """
        out = ids.reset_index(drop=True).copy()
        for column in self.id_columns:
            out[column] = _id_values(out[column], self.id_types.get(column))
        if self.task == "classification":
            labels, proba, review = self.outcome(result, predicted)
            out["prediction"] = labels
            if proba is not None:
                for at, cls in enumerate(self.classes):
                    out[f"probability_{cls}"] = proba[:, at]
            out["needs_review"] = review
        else:
            out["prediction"] = np.asarray(result, dtype=float)
        if reasons is not None:  # the reason_* columns (:func:`reason_columns`)
            for column in reasons.columns:
                out[column] = reasons[column].to_numpy()
        shown, md5 = self.files[file]
        for column, value in self.lineage.items():
            out[column] = value
        out["mlgate_input_file"], out["mlgate_input_md5"] = shown, md5
        out["scored_at"] = pd.Series([pd.Timestamp(self.scored_at)] * len(out), dtype="datetime64[us, UTC]")
        return out[self.arrow_schema().names]

    def outcome(
        self, result: np.ndarray | None, predicted: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """A classifier's (decided labels, class probabilities or None, needs_review flags) from model output.

        With the spec's ``decision:``, :func:`~mlgate.gates.apply_decision` decides (as the
        gates judged); otherwise the most probable class (or ``predicted``, a label-only model's
        labels) and no row needs review. Batch scoring and ``mlgate serve`` both decide here.
        """
        proba = np.asarray(result, dtype=float) if self.with_proba else None
        if self.decision is not None:
            labels, review = apply_decision(proba, self.classes, self.positive, self.decision)
        else:
            if predicted is not None:  # a label-only model's labels
                labels = predicted
            else:
                assert proba is not None, "a model without labels returns class probabilities"
                labels = np.asarray(self.classes)[proba.argmax(axis=1)]
            review = np.zeros(len(labels), dtype=bool)
        return np.asarray(labels), proba, np.asarray(review, dtype=bool)

    def arrow_schema(self) -> Any:
        """The output's pyarrow schema, fixed before the first row (both engines write it)."""
        import pyarrow as pa

        fields = [pa.field(c, self.id_types.get(c, pa.string())) for c in self.id_columns]
        if self.task == "classification":
            fields.append(pa.field("prediction", pa.array(np.asarray(self.classes)).type))
            if self.with_proba:
                fields += [pa.field(f"probability_{c}", pa.float64()) for c in self.classes]
            fields.append(pa.field("needs_review", pa.bool_()))
        else:
            fields.append(pa.field("prediction", pa.float64()))
        if self.reasons:
            fields.append(pa.field("reason_base_value", pa.float64()))
            for at in range(1, self.reasons + 1):
                fields += [
                    pa.field(f"reason_{at}_feature", pa.string()),
                    pa.field(f"reason_{at}_value", pa.string()),
                    pa.field(f"reason_{at}_contribution", pa.float64()),
                ]
        fields += [
            pa.field("mlgate_model", pa.string()),
            pa.field("mlgate_version", pa.int64()),
            pa.field("mlgate_alias", pa.string()),
            pa.field("mlgate_run_id", pa.string()),
            pa.field("mlgate_commit", pa.string()),
            pa.field("mlgate_input_file", pa.string()),
            pa.field("mlgate_input_md5", pa.string()),
            pa.field("scored_at", pa.timestamp("us", tz="UTC")),
        ]
        return pa.schema(fields)

    def from_spark(self, batch: pd.DataFrame, predict: Any) -> pd.DataFrame:
        """Output rows from a Spark batch of id columns, ``__file`` (a URI) and the signature columns.

        The signature's n-th column is ``__feature_<n>`` (:data:`SPARK_FEATURE`: an id column may
        also be a feature). The model input is built here, as the pandas engine builds it
        (:func:`mlgate.data.model_input`: a Spark null is NaN, not None); ``predict`` (the pyfunc
        loaded on the executor) returns class probabilities (classifier) or values (regressor).
        """
        out = []
        renamed = {f"{SPARK_FEATURE}{at}": column for at, (column, _) in enumerate(self.features)}
        for uri, rows in batch.groupby("__file", sort=False):
            x = model_input(rows.rename(columns=renamed), self.features)
            result = np.asarray(predict(x), dtype=float)
            out.append(self.assemble(rows[self.id_columns], result, _resolved(str(uri))))
        return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=self.arrow_schema().names)


@dataclass
class ScoreResult:
    """What one scoring run did (``--json``)."""

    model: str
    stage: str
    version: int
    run_id: str
    engine: str
    date: str
    partition: str
    rows: int
    needs_review: int
    decided: dict[str, int]
    files: list[dict[str, Any]]
    seconds: float
    reasons: dict[str, Any] = field(default_factory=dict)  # --reasons: per_row, method, output

    def as_dict(self) -> dict[str, Any]:
        """The JSON of ``mlgate score --json``."""
        return {
            "model": self.model,
            "stage": self.stage,
            "version": self.version,
            "model_uri": f"models:/{self.model}/{self.version}",
            "run_id": self.run_id,
            "engine": self.engine,
            "date": self.date,
            "partition": self.partition,
            "rows": self.rows,
            "needs_review": self.needs_review,
            "decided": self.decided,
            "files": self.files,
            "seconds": self.seconds,
        } | ({"reasons": self.reasons} if self.reasons else {})


def score(
    root: Path | Workspace,
    name: str,
    *,
    stage: str,
    inputs: str,
    output: Path,
    id_columns: tuple[str, ...] = (),
    engine: str = "pandas",
    on: str | None = None,
    spark_master: str | None = None,
    batch_rows: int = BATCH_ROWS,
    tracking_uri: str | None = None,
    progress: Any = lambda _msg: None,
    ref: str = "HEAD",
    allow_unpinned: bool = False,
    warn: Any = lambda _msg: None,
    lock_timeout: float = LOCK_TIMEOUT,
    reasons: int = 0,
) -> ScoreResult:
    """Score ``inputs`` (a path or glob) with ``models:/NAME@STAGE`` into ``output``'s partition for ``on``.

    ``on`` is the partition's date (``YYYY-MM-DD``, default today in UTC). Nothing is written
    unless every check passes; the partition is replaced in one rename. The version is the one
    release.yaml at git ``ref`` asks for; the alias must agree and the files have its pinned
    digest (:mod:`mlgate.scoring.custody`), else exit 1 before anything is loaded. Runs writing
    the same partition take turns (:func:`partition_lock`); one waits at most ``lock_timeout`` seconds.
    ``reasons`` > 0 adds each row's top reasons (:func:`reason_columns`; pandas engine only).
    """
    start = time.perf_counter()
    ws = Workspace.of(root, tracking_uri)
    root = ws.root
    if engine not in ENGINES:
        raise InvalidInput(f"--engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if not 0 <= reasons <= MAX_REASONS:
        raise InvalidInput(f"--reasons {reasons}: expected 1 to {MAX_REASONS} (the reasons per row)")
    if reasons and engine == "spark":
        raise InvalidInput(
            "--reasons is not available on the Spark engine yet", hint="score with --engine pandas for reason codes"
        )
    if engine == "spark":
        from mlgate.registry import spark

        spark.require()
    day = _day(on)
    if batch_rows < 1:
        raise InvalidInput(f"batch_rows {batch_rows}: must be at least 1")
    ctx = load_model_context(root, name)
    refuse_predictions(ctx, "score")
    check_stage(ctx, stage)
    files = _input_files(inputs)
    registry = ws.registry
    mv, wanted = custody.resolve(registry, root, name, stage, ref=ref, allow_unpinned=allow_unpinned, warn=warn)
    progress(
        f"models:/{name}@{stage} is v{mv.version}, as {wanted.source} asks: loading it as {ctx.policy.file} trusts"
    )
    with tempfile.TemporaryDirectory(prefix="mlgate-score-") as tmp:
        holder = _Folder(Path(tmp) / "model")
        holder.path.mkdir()
        loaded, folder = load_alias_version(registry, ctx, mv, stage, holder, wanted)
        plan, model = _plan(ctx, mv, stage, loaded, files, list(id_columns), day)
        explain = None
        if reasons:  # built before anything is scored: a missing shap is exit 2 here, nothing written
            explain = explainer(
                model, [c for c, _ in plan.features], task=plan.task, classes=plan.classes, positive=plan.positive
            )
            plan = replace(plan, reasons=min(reasons, len(plan.features)))
            progress(f"reason codes: the top {plan.reasons} per row, by {explain.method} ({explain.output})")
        partition = output / f"model={name}" / f"stage={stage}" / f"date={day}"
        if engine == "spark":  # the pandas engine checks each batch as it reads it; Spark reads on executors
            check_values(plan, files, batch_rows)
        progress(f"scoring {len(files)} file(s) with the {engine} engine into {partition}")
        with partition_lock(partition, lock_timeout, progress), replacing(partition) as into:
            if engine == "pandas":
                _score_pandas(plan, model, files, into, batch_rows, explain)
            else:
                from mlgate.registry import spark

                spark.score_files(
                    master=spark_master,
                    model_folder=folder,
                    classifier=ctx.spec.task == "classification",
                    flavour=loaded.flavour,
                    trusted_modules=ctx.skops_trusted,
                    files=[str(f.path) for f in files],
                    file_format=files[0].format,
                    features=plan.features,
                    id_columns=plan.id_columns,
                    feature_prefix=SPARK_FEATURE,
                    finish=plan.from_spark,
                    schema=plan.arrow_schema(),
                    into=into,
                    scratch=output.resolve().parent / f"{output.resolve().name}.spark-{uuid.uuid4().hex[:12]}",
                )
            summary = _summary(plan, into, files)
    return ScoreResult(
        model=name,
        stage=stage,
        version=mv.version,
        run_id=mv.run_id,
        engine=engine,
        date=day,
        partition=str(partition),
        rows=summary["rows"],
        needs_review=summary["needs_review"],
        decided=summary["decided"],
        files=summary["files"],
        seconds=round(time.perf_counter() - start, 3),
        reasons={"per_row": plan.reasons, "method": explain.method, "output": explain.output} if explain else {},
    )


def check_stage(ctx: ModelContext, stage: str) -> None:
    """Refuse a stage the model's policy does not name (an alias mlgate never moves)."""
    stages = ctx.policy.policy.promotion.stages if ctx.policy.policy.promotion else {}
    if stage not in stages:
        raise InvalidInput(
            f"--stage {stage!r} is not a stage of {ctx.policy.file} (promotion.stages: {', '.join(stages) or 'none'})"
        )


def load_alias_version(
    registry: Registry, ctx: ModelContext, mv: ModelVersion, stage: str, holder: Any, wanted: custody.Desired
) -> tuple[LoadedModel, Path]:
    """The version an alias was resolved to, refused when incomplete, loaded the governed way.

    ``holder`` keeps the downloaded folder (``.name`` is its path). ``mlgate score``, ``serve``
    (at start and on every move) and ``monitor`` load through here: the working tree's policy
    ``trust.formats`` and estimator modules decide what may load, and the files must have the
    digest ``wanted`` (release.yaml) pins, checked before anything is read (exit 1 naming the file).
    """
    _refuse_incomplete(registry, mv, stage)
    trust = ctx.policy.policy.trust
    return registry.verified_folder(
        ctx.name,
        mv.version,
        holder,
        trust.formats if trust else (),
        ctx.policy.file,
        ctx.skops_trusted,
        expected=wanted.digest,
        expected_from=wanted.source,
    )


class _Folder:
    """A folder's keeper with ``.name`` (what :meth:`Registry.verified_folder` takes); removed with its parent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)


def _day(on: str | None) -> str:
    if on is None:
        return datetime.now(UTC).strftime("%Y-%m-%d")
    try:
        if not _DATE.fullmatch(on):
            raise ValueError
        return date.fromisoformat(on).isoformat()
    except ValueError:
        raise InvalidInput(f"--date {on!r}: expected a date as YYYY-MM-DD") from None


def _input_files(inputs: str) -> list[InputFile]:
    """The files a path or glob names (sorted), each with its format and md5; none is an error."""
    matched = sorted(glob.glob(inputs)) if glob.has_magic(inputs) else [inputs]
    paths = [Path(p) for p in matched if Path(p).is_file()]
    if not paths:
        raise InvalidInput(f"--input {inputs!r}: no such file" + (" (the glob matched none)" if matched == [] else ""))
    files = []
    for path in paths:
        fmt = INPUT_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InvalidInput(f"--input {path}: expected CSV or Parquet ({', '.join(INPUT_FORMATS)})")
        files.append(InputFile(str(path), path.resolve(), fmt, file_md5(path)))
    if len({f.format for f in files}) > 1:
        raise InvalidInput(f"--input {inputs!r} mixes CSV and Parquet files: score each format on its own")
    return files


def _refuse_incomplete(registry: Registry, mv: ModelVersion, stage: str) -> None:
    reason = incomplete_reason(mv.tags, registry.run_facts(mv.run_id).status)
    if reason:
        raise InvalidInput(
            f"models:/{mv.name}@{stage} points at v{mv.version}, which cannot be trusted: {reason}",
            hint=f"move {stage} to a complete version (a promotion PR), then score again",
        )


def _plan(
    ctx: ModelContext,
    mv: ModelVersion,
    stage: str,
    loaded: LoadedModel,
    files: list[InputFile],
    id_columns: list[str],
    day: str,
) -> tuple[Plan, Any]:
    """The checked plan (signature against every file) and the model adapted the way the gates read it."""
    twice = sorted({c for c in id_columns if id_columns.count(c) > 1})
    if twice:
        raise InvalidInput(f"--id-column {twice[0]!r} given twice")
    keys = [c for c in id_columns if c in PARTITION_KEYS]
    if keys:
        # readers of the output (Spark, pyarrow datasets) give a column named like a hive partition key the
        # folder's value: every row's id would read back as the partition's date; pandas refuses to merge them
        raise InvalidInput(
            f"--id-column {keys[0]!r} has the name of a partition key of the output "
            f"(DIR/model=NAME/stage=STAGE/date=YYYY-MM-DD/): readers would replace its values with the folder's",
            hint=f"rename the column in the input (e.g. {keys[0]}_id): {', '.join(PARTITION_KEYS)} cannot be ids",
        )
    plan, model = model_plan(ctx, mv, stage, loaded)
    id_types: dict[str, Any] = {}
    for file in files:
        id_types = _check_columns(file, plan.features, id_columns, id_types)
    if files[0].format == "csv":
        id_types = _csv_id_types(files, id_columns)
    files_seen = {str(f.path): (f.shown, f.md5) for f in files}
    plan = replace(plan, id_columns=id_columns, files=files_seen, id_types=id_types)
    return plan, model


def model_plan(ctx: ModelContext, mv: ModelVersion, stage: str, loaded: LoadedModel) -> tuple[Plan, Any]:
    """A loaded version's plan (signature, classes, decision, lineage; no files yet) and its adapted model.

    Refuses a model without an input signature (there is nothing to check input against) and,
    with ``decision:``, a model that is not a binary classifier, before anything is scored.
    """
    label = f"{ctx.name} v{mv.version}"
    if not loaded.signature:
        raise InvalidInput(
            f"{label} was logged without an input signature: input is checked against it",
            hint="log the model with an input_example (mlgate train always does)",
        )
    features = list(loaded.signature)
    model = adapt(loaded.model, ctx, [], label)
    spec = ctx.spec
    classes = list(model.classes_) if getattr(model, "classes_", None) is not None else []
    classes = [c.item() if isinstance(c, np.generic) else c for c in classes]
    with_proba = spec.task == "classification" and not (spec.output and spec.output.label_column)
    if spec.decision is not None:  # refuse a non-binary model (located at decision:) before writing anything
        apply_decision(np.empty((0, len(classes))), classes, spec.positive_label, spec.decision, ctx.spec_doc)
    pos = positive_label(classes, spec.positive_label) if classes else None
    tags = mv.tags
    commit = tags.get(TAG_PREFIX + "git.commit") or tags.get(TAG_PREFIX + "external.commit") or ""
    lineage = {
        "mlgate_model": ctx.name,
        "mlgate_version": mv.version,
        "mlgate_alias": stage,
        "mlgate_run_id": mv.run_id,
        "mlgate_commit": commit,
    }
    plan = Plan(
        task=spec.task,
        classes=classes,
        positive=pos,
        decision=spec.decision,
        id_columns=[],
        features=features,
        lineage=lineage,
        files={},
        with_proba=with_proba,
        scored_at=datetime.now(UTC).isoformat(),
    )
    return plan, model


def _check_columns(
    file: InputFile, features: list[tuple[str, str]], id_columns: list[str], id_types: dict[str, Any]
) -> dict[str, Any]:
    """Missing, extra and (Parquet) mistyped columns of one file → InvalidInput naming them; id column types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if file.format == "parquet":
        try:
            schema = pq.read_schema(file.path)
        except (OSError, pa.ArrowException) as err:
            raise InvalidInput(f"{file.shown}: not a readable Parquet file ({err})") from None
        types = {f.name: f.type for f in schema}
        columns = list(schema.names)
    else:
        with file.path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        columns, types = header, {c: pa.string() for c in header}
    wanted = [c for c, _ in features]
    missing = [c for c in wanted if c not in columns]
    missing_ids = [c for c in id_columns if c not in columns]
    extra = [c for c in columns if c not in wanted and c not in id_columns]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)} of the model's signature")
    if missing_ids:
        problems.append(f"no id column(s) {', '.join(missing_ids)}")
    if extra:
        problems.append(f"extra column(s) {', '.join(extra)} (neither in the signature nor an --id-column)")
    if file.format == "parquet":
        for column, kind in features:
            if column in types and not _fits(types[column], kind):
                problems.append(f"column {column!r} is {_arrow_name(types[column])}, the signature wants {kind}")
    if problems:
        raise InvalidInput(
            f"{file.shown}: " + "; ".join(problems),
            hint=f"the model's signature: {', '.join(f'{c} ({k})' for c, k in features)}",
        )
    found = {c: types[c] for c in id_columns}
    if id_types and found != id_types:
        raise InvalidInput(f"{file.shown}: id column types {found} differ from the other files' {id_types}")
    return found


def _csv_id_types(files: list[InputFile], id_columns: list[str]) -> dict[str, Any]:
    """The output type of each CSV id column: int64 when every value of every file is an integer, else string.

    An integer is written canonically (:data:`_INTEGER_ID`, within int64), so the int64 reads back as
    the text the file held (``007`` or ``1.0`` stay strings); blanks are nulls either way. A Parquet
    id column keeps its own type: an integer id is an integer whichever format it came in.
    """
    import pyarrow as pa

    if not id_columns:
        return {}
    integral = dict.fromkeys(id_columns, True)
    seen = dict.fromkeys(id_columns, False)
    for file in files:
        for chunk in pd.read_csv(
            file.path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            usecols=id_columns,
            chunksize=BATCH_ROWS,
            encoding="utf-8",
        ):
            for column in id_columns:
                values = chunk[column].dropna()
                seen[column] = seen[column] or not values.empty
                if integral[column] and not values.empty:
                    integral[column] = bool(values.str.fullmatch(_INTEGER_ID.pattern).all()) and all(
                        -(2**63) <= int(v) < 2**63 for v in values[values.str.len() >= 19]
                    )
    return {c: pa.int64() if integral[c] and seen[c] else pa.string() for c in id_columns}


def _arrow_name(arrow_type: Any) -> str:
    """A Parquet column's type as messages name it: ``large_string`` (pandas 3's strings) is a string too."""
    import pyarrow.types as t

    return "string" if t.is_large_string(arrow_type) else str(arrow_type)


def _fits(arrow_type: Any, kind: str) -> bool:
    """Whether a Parquet column of ``arrow_type`` can be given to a signature column of ``kind``."""
    import pyarrow.types as t

    if kind in ("double", "float"):
        return bool(t.is_floating(arrow_type) or t.is_integer(arrow_type))
    if kind in ("long", "integer"):  # an integral float (1597.0) is accepted: each value is checked as it is read
        return bool(t.is_integer(arrow_type) or t.is_floating(arrow_type))
    if kind == "string":
        return bool(t.is_string(arrow_type) or t.is_large_string(arrow_type))
    if kind == "boolean":
        return bool(t.is_boolean(arrow_type))
    return True  # other MLflow types (datetime, binary): MLflow's own enforcement decides


def _frames(file: InputFile, batch_rows: int, columns: list[str] | None = None) -> Iterator[tuple[pd.DataFrame, int]]:
    """The file (or its ``columns``) in batches of at most ``batch_rows`` rows, each with its first row's number.

    Rows are numbered from 1 (a CSV's header is not a row); CSV values stay text, as written.
    """
    first = 1
    if file.format == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(file.path) as reader:
            for batch in reader.iter_batches(batch_size=batch_rows, columns=columns):
                frame = batch.to_pandas()
                yield frame, first
                first += len(frame)
        return
    reader = pd.read_csv(
        file.path,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        chunksize=batch_rows,
        encoding="utf-8",
        usecols=columns,
    )
    with reader:
        for chunk in reader:
            yield chunk, first
            first += len(chunk)


def _batches(file: InputFile, plan: Plan, batch_rows: int) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """The file in batches of at most ``batch_rows`` rows: (id columns, model input), each value checked."""
    for frame, first in _frames(file, batch_rows):
        yield _typed(frame, file, plan, first)


def check_values(plan: Plan, files: list[InputFile], batch_rows: int) -> None:
    """Check every value the signature types as a number, as the pandas engine does while it scores.

    The Spark engine runs this on the driver before the job, so a value that does not fit is the
    same exit 2 naming file:line and column on both engines (Spark's own parse errors locate
    nothing). Only the columns that need it are read: a CSV's number columns; a Parquet file's
    integer columns (nulls, and fractions in a float column).
    """
    for file in files:
        kinds = _NUMERIC if file.format == "csv" else _INTEGER
        columns = [c for c, k in plan.features if k in kinds]
        if not columns:
            continue
        features = [(c, k) for c, k in plan.features if k in kinds]
        for frame, first in _frames(file, batch_rows, sorted(set(columns))):
            _check_numbers(frame, file, features, first)


def _typed(frame: pd.DataFrame, file: InputFile, plan: Plan, first: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(id columns, model input) of a batch: every signature value checked, then :func:`mlgate.data.model_input`."""
    out = frame.reset_index(drop=True)
    _check_numbers(out, file, plan.features, first)
    return out[plan.id_columns], model_input(out, plan.features)


def _check_numbers(frame: pd.DataFrame, file: InputFile, features: list[tuple[str, str]], first: int) -> None:
    """Refuse (exit 2, file:line and column) a value that does not fit its number column.

    A number column's text that is no number; an integer column's missing, infinite or fractional
    value (``1597.0`` is the integer 1597: it is exactly integral). ``first`` is the batch's first
    row number (from 1); a CSV row is located by its line in the file (quoted fields may span lines).
    """
    for column, kind in features:
        if kind not in _NUMERIC:
            continue
        values = frame[column].reset_index(drop=True)
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if kind in _INTEGER:
            whole = np.isfinite(numbers.fillna(0).astype(float)) & (numbers == numbers.round())
            bad |= values.isna() | (numbers.notna() & ~whole)
        if bad.any():
            at = int(np.flatnonzero(bad.to_numpy())[0])
            value = values.iloc[at]
            shown = "a missing value" if pd.isna(value) else excerpt(value)
            raise InvalidInput(f"{_where(file, first + at)}: column {column!r} has {shown}, the signature wants {kind}")


def _where(file: InputFile, row: int) -> str:
    """Where row ``row`` (from 1) of ``file`` is: ``file:line`` for CSV, ``file (row N)`` for Parquet."""
    return f"{file.shown}:{_line_of(file.path, row)}" if file.format == "csv" else f"{file.shown} (row {row})"


def _line_of(path: Path, row: int) -> int:
    """The file line CSV row ``row`` (from 1; the header is row 0) starts on, counting lines inside quoted fields.

    Read again only when an error names a row: the batches do not carry line numbers. Blank
    lines are skipped as pandas skips them.
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a field may be megabytes long; the default stops at 128 KiB
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            seen, end = -1, 0
            for cells in reader:
                start, end = end + 1, reader.line_num
                if not cells:
                    continue
                seen += 1
                if seen == row:
                    return start
    finally:
        csv.field_size_limit(limit)
    return row + 1  # not found (cannot happen for a row pandas read): the line it would be on without quoted breaks


def _score_pandas(
    plan: Plan, model: Any, files: list[InputFile], into: Path, batch_rows: int, explain: Explainer | None = None
) -> None:
    """Score every file batch by batch into ``into/part-NNNNN.parquet`` (one per file); with reasons if ``explain``."""
    import pyarrow.parquet as pq

    schema = plan.arrow_schema()
    for index, file in enumerate(files):
        with pq.ParquetWriter(into / f"part-{index:05d}.parquet", schema) as writer:
            for ids, x in _batches(file, plan, batch_rows):
                if plan.task == "classification":
                    predicted, proba = decide(model, x)
                    labels = plan.outcome(proba, predicted)[0]
                    why = reason_columns(explain.explain(x, labels), x, plan.reasons) if explain else None
                    out = plan.assemble(ids, proba, str(file.path), predicted, why)
                else:
                    why = reason_columns(explain.explain(x), x, plan.reasons) if explain else None
                    out = plan.assemble(ids, np.asarray(model.predict(x)), str(file.path), reasons=why)
                writer.write_table(_arrow_table(out, schema))


def reason_columns(reasons: Reasons, x: pd.DataFrame, k: int) -> pd.DataFrame:
    """The reason columns: ``reason_base_value``, per rank i ``reason_<i>_feature``, ``_value``, ``_contribution``.

    Flat columns rather than one JSON column, so a query filters or groups on the first reason
    directly; a value is written as text (``48``, ``own``; null when missing): a rank holds a
    different feature's value on each row.
    """
    top = reasons.top(x, k)
    out: dict[str, Any] = {"reason_base_value": reasons.base}
    for at in range(k):
        out[f"reason_{at + 1}_feature"] = [row[at]["feature"] for row in top]
        out[f"reason_{at + 1}_value"] = [_text(row[at]["value"]) for row in top]
        out[f"reason_{at + 1}_contribution"] = np.array([row[at]["contribution"] for row in top], dtype=float)
    return pd.DataFrame(out)


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else str(value)


def _arrow_table(out: pd.DataFrame, schema: Any) -> Any:
    """``out`` as an Arrow table of ``schema``, its tz-aware ``scored_at`` column converted by hand.

    pyarrow (< 26, which MLflow 3.17 requires) converts a tz-aware pandas column through
    ``Series.values``, deprecated by pandas 3.1 (a ``Pandas4Warning`` per batch). The UTC instants
    become a naive Arrow timestamp, then the UTC type: a cast that keeps the stored instants.
    """
    import pyarrow as pa

    at = schema.get_field_index("scored_at")
    table = pa.Table.from_pandas(out.drop(columns="scored_at"), schema=schema.remove(at), preserve_index=False)
    instants = pa.array(out["scored_at"].dt.tz_convert(None).to_numpy(), type=pa.timestamp("us"))
    return table.add_column(at, schema.field(at), instants.cast(schema.field(at).type))


def _summary(plan: Plan, into: Path, files: list[InputFile]) -> dict[str, Any]:
    """Rows, decisions and review flags of the written partition, read back batch by batch (what readers see).

    Reading back (rather than counting while writing) covers both engines alike; batch by batch,
    so the memory stays bounded by a batch here too.
    """
    import pyarrow.parquet as pq

    wanted = ["mlgate_input_file"] + (["prediction", "needs_review"] if plan.task == "classification" else [])
    per_file: dict[str, int] = {}
    decided: dict[Any, int] = {}
    rows = review = 0
    for part in sorted(into.glob("part-*.parquet")):
        with pq.ParquetFile(part) as reader:
            for batch in reader.iter_batches(columns=wanted, batch_size=BATCH_ROWS):
                frame = batch.to_pandas()
                rows += len(frame)
                for name, n in frame["mlgate_input_file"].value_counts().items():
                    per_file[name] = per_file.get(name, 0) + int(n)
                if plan.task == "classification":
                    review += int(frame["needs_review"].sum())
                    for label, n in frame["prediction"].value_counts().items():
                        decided[label] = decided.get(label, 0) + int(n)
    return {
        "rows": rows,
        "needs_review": review,
        "decided": {str(k): v for k, v in sorted(decided.items(), key=lambda kv: str(kv[0]))},
        "files": [{"path": f.shown, "md5": f.md5, "rows": per_file.get(f.shown, 0)} for f in files],
    }


def _id_values(values: pd.Series, arrow_type: Any) -> pd.Series:
    """A CSV id column's text as the output type :func:`_csv_id_types` chose: exact integers for int64."""
    import pyarrow.types as t

    if arrow_type is None or not t.is_integer(arrow_type) or values.dtype.kind in "iu":
        return values
    if values.dtype.kind == "f" and values.isna().all():
        return values.astype("Int64")
    return pd.Series([None if pd.isna(v) else int(v) for v in values], dtype="Int64", index=values.index)


def _resolved(uri: str) -> str:
    """A Spark ``input_file_name()`` URI as the resolved path :class:`Plan` keys files by."""
    parsed = urlparse(uri)
    return str(Path(unquote(parsed.path if parsed.scheme else uri)).resolve())


@contextlib.contextmanager
def partition_lock(partition: Path, timeout: float, progress: Any = lambda _msg: None) -> Iterator[None]:
    """Hold the output partition's lock (``.date=D.lock`` beside it) while the body runs.

    Two runs writing one partition take turns: a second run waits (polling) until the first
    releases it, for at most ``timeout`` seconds, then gives up (:class:`PartitionBusy`, exit 3,
    naming the holder: pid, host, start time, which the lock file holds). The lock is an
    ``flock`` on the file, released by the kernel when its holder exits however it exits, so a
    crashed run never leaves it held; the file itself stays (removing it would let two runs
    lock two different files).
    """
    parent = partition.parent
    parent.mkdir(parents=True, exist_ok=True)
    lock = parent / f".{partition.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = lock.read_text(encoding="utf-8", errors="replace").strip() or "another run"
                if time.monotonic() >= deadline:
                    raise PartitionBusy(
                        f"{partition} is being written by {holder}: gave up after waiting {timeout:g}s",
                        hint="score again when that run has finished (or raise --lock-timeout)",
                    ) from None
                if not told:
                    progress(f"waiting for {holder} to finish writing {partition}")
                    told = True
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        owner = f"mlgate score pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC).isoformat()}"
        os.pwrite(fd, owner.encode("utf-8"), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def replacing(partition: Path) -> Iterator[Path]:
    """A hidden folder beside ``partition`` to write into; on success it replaces ``partition``.

    The old partition is renamed aside (``.date=D.replaced-*``) and the new one renamed into
    place, then the old one removed: until the second rename the old partition is whole, and
    a run that died between the two renames is repaired by the next (:func:`_recover`). Readers
    (pyarrow, pandas, Spark) skip names starting with ``.``. On an error the new folder is removed
    and the previous partition is left byte for byte as it was. The caller holds
    :func:`partition_lock`; the folder's name says whose it is (``.writing-PID@HOST-TOKEN``).
    """
    parent = partition.parent
    parent.mkdir(parents=True, exist_ok=True)
    _recover(partition)
    token = uuid.uuid4().hex[:12]
    writing = parent / f".{partition.name}.writing-{os.getpid()}@{socket.gethostname()}-{token}"
    writing.mkdir()
    try:
        yield writing
    except BaseException:
        shutil.rmtree(writing, ignore_errors=True)
        raise
    aside = parent / f".{partition.name}.replaced-{token}"
    if partition.exists():
        os.rename(partition, aside)
    os.rename(writing, partition)
    _fsync_dir(parent)
    shutil.rmtree(aside, ignore_errors=True)


def _recover(partition: Path) -> None:
    """Put back a partition a crash left renamed aside; drop folders half-written by runs that are gone.

    A ``.writing-*`` folder is removed only when its owner (pid and host, in its name) is a
    process of this host that no longer runs; a live run's folder, another host's, or one whose
    name says no owner is left alone.
    """
    parent = partition.parent
    for stale in parent.glob(f".{partition.name}.writing-*"):
        owner = _WRITING.fullmatch(stale.name[len(partition.name) + 1 :])
        if owner and owner["host"] == socket.gethostname() and not _alive(int(owner["pid"])):
            shutil.rmtree(stale, ignore_errors=True)
    aside = sorted(parent.glob(f".{partition.name}.replaced-*"))
    if aside and not partition.exists():
        os.rename(aside[-1], partition)
        aside = aside[:-1]
    for old in aside:
        shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable (a power cut must not bring the old partition back)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
