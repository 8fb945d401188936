"""Gates on Spark (``mlgate gate --engine spark``): the same rules, measured from Spark aggregates.

The evaluation data is a Parquet dataset (a DVC-tracked file, or a DVC-tracked directory of
Parquet files), read by Spark where it lies. The model is applied on the executors exactly as
``mlgate score --engine spark`` applies it (:func:`mlgate.registry.spark.model_frame`: the
verified folder, loaded once per Python worker, :func:`mlgate.data.model_input` building its
input, :func:`~mlgate.gates.apply_decision` deciding). Nothing row-sized is collected to the
driver: every family reads a table Spark aggregated, and the pandas engine's own formulas turn
that table into the measurement (one source per formula):

- performance: the aggregates of :mod:`mlgate.gates.metrics` — rows per (label, decision)
  (``Confusion``: the threshold metrics), positive and negative rows per distinct score
  (``ScoreCounts``: ROC AUC and average precision as exact rank statistics, Brier), rows per
  distinct probability of the true class (log loss); regression: ``RegressionSums`` in two
  passes. The score table has as many rows as distinct scores: a forest's votes give a few
  thousand, a linear model's probabilities up to one per row.
- built-in decision rules and fairness: counts per (decision, label[, group values]).
- drift: exact quantiles (the reference's k-th smallest value from cumulative counts per distinct
  value), counts at or below each cut point, the Kolmogorov-Smirnov gap of the cumulative counts
  (the same ``i/n1 - j/n2`` floats scipy compares) and category counts; no approximate quantile.
- integrity: ``null_fraction``, ``duplicate_rows``, ``conflicting_labels`` (``groupBy`` the
  features) and ``train_holdout_overlap`` (``left_semi`` joins) from counts.

What needs rows on the driver is ``skipped`` with the reason (:data:`PANDAS_ONLY`): text drift,
deepchecks suites, ``constant_columns``, ``unseen_categories`` and ``schema_mismatch``,
permutation importance (evidence). See docs/design.md "Gates on Spark".
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlgate.config import DriftSettings, ModelContext, SensitiveFeature
from mlgate.data import DataAt, DataFile, model_input, resolve_dataset
from mlgate.exceptions import InvalidInput
from mlgate.gates import Measurement, integrity
from mlgate.gates import _drift as drift
from mlgate.gates import _fairness as fairness
from mlgate.gates import _metrics as metrics
from mlgate.gates._adapter import apply_decision
from mlgate.gates._metrics import positive_label
from mlgate.registry import LoadedModel
from mlgate.registry import spark as spark_adapter

ENGINES = ("pandas", "spark")
PANDAS_ONLY = "needs rows on the driver: run with --engine pandas"
"""The end of every reason a rule is skipped on Spark."""
SPARK_INTEGRITY = frozenset({"null_fraction", "duplicate_rows", "conflicting_labels", "train_holdout_overlap"})
"""Integrity metrics measured from Spark counts; the others are skipped with :data:`PANDAS_ONLY`."""
_FEATURE = "__feature_"
_KEEP = "__keep_"
_DECIDED = "__decided"
_PREDICTED = "__predicted"
_PROBA = "__p"
_ROWS = "__rows"


@dataclass
class SparkData:
    """The evaluation data as Spark DataFrames (lazily read Parquet) and the DVC records behind them."""

    train: Any
    holdout: Any
    reference: Any
    current: Any
    files: list[DataFile] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # train / holdout rows


def session(master: str | None = None) -> Any:
    """The Spark session (``mlgate score``'s: one per process), after checking pyspark and Java are there."""
    spark_adapter.require()
    if not os.environ.get("SPARK_REMOTE") and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise InvalidInput(
            "--engine spark needs Java (a JDK 17 or 21) and none was found (no `java` on PATH, JAVA_HOME unset)",
            hint="install a JDK (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME; or --engine pandas",
        )
    return spark_adapter.session(master)


def load_data(spark: Any, ctx: ModelContext, root: Path, at: DataAt | None) -> SparkData:
    """Resolve (DVC) and open the spec's Parquet datasets; check their columns against the spec."""
    spec = ctx.spec
    files = spec.dataset.files()
    if "path" in files:
        raise InvalidInput(
            f"models/{ctx.name}/model.yaml: data.path is split into train and holdout row by row, which {PANDAS_ONLY}",
            hint="for --engine spark name Parquet datasets as data.train and data.holdout (file or DVC directory)",
        )
    frames: dict[str, Any] = {}
    records: list[DataFile] = []
    for role, rel in files.items():
        record, parquet = resolve_dataset(role, rel, root, ctx.spec_doc, at)
        records.append(record)
        frames[role] = spark.read.parquet(*[p.resolve().as_uri() for p in parquet])
    wanted = [*spec.inputs.all, spec.target_column, *[f.name for f in spec.sensitive_features]]
    for role, frame in frames.items():
        need = wanted if role in ("train", "holdout") else spec.inputs.all
        absent = [c for c in dict.fromkeys(need) if c not in frame.columns]
        if absent:
            raise InvalidInput(f"{files[role]} (data.{role}): no column(s) {', '.join(absent)} the spec names")
    train, holdout = frames["train"], frames["holdout"]
    return SparkData(
        train=train,
        holdout=holdout,
        reference=frames.get("reference", train),
        current=frames.get("current", holdout),
        files=records,
    )


def leave_out(spark: Any, ctx: ModelContext, data: SparkData, trained_on: Path, shown: str) -> tuple[SparkData, int]:
    """``data`` without the holdout rows the version trained on (the Parquet file ``trained_on``); rows left out.

    As :func:`mlgate.data.leave_out`: a holdout row equal to a training row on the features and
    the target (missing equals missing) is left out (a ``left_anti`` join: Spark matches the rows,
    the driver sees a count), and the version's training rows stand for the training data in
    drift (unless the spec names a reference) and integrity.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    spec = ctx.spec
    if not shown.lower().endswith(".parquet"):
        raise InvalidInput(
            f"this version trained on {shown}, not a Parquet dataset: leaving out its rows {PANDAS_ONLY}"
        )
    trained = spark.read.parquet(trained_on.resolve().as_uri())
    columns = [c for c in [*spec.inputs.all, spec.target_column] if c in trained.columns]
    other = trained.select(*[F.col(c).alias(f"__t_{at}") for at, c in enumerate(columns)]).distinct()
    match = [F.col(c).eqNullSafe(F.col(f"__t_{at}")) for at, c in enumerate(columns)]
    condition = match[0]
    for more in match[1:]:
        condition = condition & more
    # cached: every family reads the evaluation rows, which must not be re-derived (another join) each time
    holdout = data.holdout.join(other, on=condition, how="left_anti").persist(StorageLevel.MEMORY_AND_DISK)
    before, after = data.holdout.count(), holdout.count()
    if spec.task == "classification" and holdout.select(spec.target_column).distinct().limit(2).count() < 2:
        raise InvalidInput(
            f"after leaving out the rows this version trained on, the evaluation holdout has {after} rows and "
            "fewer than two classes: nothing honest can be measured",
            hint="train with the base branch's data, or get the data change approved and merged first",
        )
    explicit = spec.dataset
    return SparkData(
        train=trained,
        holdout=holdout,
        reference=data.reference if explicit.reference else trained,
        current=data.current if explicit.current else holdout,
        files=data.files,
    ), before - after


# --------------------------------------------------------------------------- scoring


@dataclass
class _Finish:
    """Turns a Spark batch of kept columns and signature columns into decisions and probabilities.

    Picklable: Spark ships it to the executors. The model input is built as the pandas engine
    builds it (:func:`mlgate.data.model_input`), and a classifier's decisions are
    :func:`mlgate.gates.decide`'s: the most probable class, or :func:`apply_decision` with the
    spec's ``decision:``.
    """

    features: list[tuple[str, str]]
    keep: list[str]
    task: str
    classes: list[Any]
    positive: Any
    decision: Any

    def __call__(self, batch: pd.DataFrame, predict: Any) -> pd.DataFrame:
        """Output rows of one batch (the kept columns, then the decision and probabilities or the prediction)."""
        renamed = {f"{_FEATURE}{at}": column for at, (column, _) in enumerate(self.features)}
        x = model_input(batch.rename(columns=renamed), self.features)
        out = batch[self.keep].reset_index(drop=True)
        result = np.asarray(predict(x), dtype=float)
        if self.task != "classification":
            out[_PREDICTED] = result.reshape(len(out))
            return out
        if self.decision is not None:
            decided = apply_decision(result, self.classes, self.positive, self.decision)[0]
        else:
            decided = np.asarray(self.classes)[result.argmax(axis=1)]
        out[_DECIDED] = decided
        for at in range(len(self.classes)):
            out[f"{_PROBA}{at}"] = result[:, at]
        return out


@dataclass
class SparkScored:
    """A version scored on Spark: its metrics and the persisted frame the other families aggregate.

    ``frame`` holds the target (``__keep_0``), the sensitive feature columns (``__keep_<n>``), the
    decision and the class probabilities (classification) or the prediction (regression).
    ``confusion``: rows per (label, decision), the decision rules' table.
    """

    metrics: dict[str, float]
    classes: list[Any]
    frame: Any
    kept: dict[str, str]  # column → its name in ``frame``
    confusion: pd.DataFrame | None = None
    rows: int = 0
    by_class: dict[str, dict[str, float]] | None = None  # per-class precision, recall, F1 (a classifier's)

    def release(self) -> None:
        """Drop the cached scores."""
        self.frame.unpersist()


def score(
    ctx: ModelContext, data: SparkData, loaded: LoadedModel, model: Any, folder: Path, scratch: Path
) -> SparkScored:
    """Apply the version (its verified ``folder``) to the holdout on the executors; metrics from aggregates.

    ``model`` is the version as the gates adapt it (its classes); ``scratch`` holds the checked copy
    of the model the executors load, and must outlive every use of the result.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_type

    spec = ctx.spec
    if not loaded.signature:
        raise InvalidInput(
            f"{ctx.name}: the version was logged without an input signature; --engine spark types the columns by it",
            hint="log the model with an input_example (mlgate train always does), or --engine pandas",
        )
    features = list(loaded.signature)
    spark_adapter.check_model(loaded.flavour, features)
    columns = list(dict.fromkeys([spec.target_column, *[f.name for f in spec.sensitive_features]]))
    kept = {c: f"{_KEEP}{at}" for at, c in enumerate(columns)}
    rows = data.holdout.select(
        *[F.col(c).alias(kept[c]) for c in columns], *spark_adapter.feature_columns(features, _FEATURE)
    )
    import pyarrow as pa

    schema_fields = [pa.field(kept[c], to_arrow_type(rows.schema[kept[c]].dataType)) for c in columns]
    classification = spec.task == "classification"
    classes: list[Any] = []
    if classification:
        classes = [c.item() if isinstance(c, np.generic) else c for c in model.classes_]
        schema_fields.append(pa.field(_DECIDED, pa.array(np.asarray(classes)).type))
        schema_fields += [pa.field(f"{_PROBA}{at}", pa.float64()) for at in range(len(classes))]
    else:
        schema_fields.append(pa.field(_PREDICTED, pa.float64()))
    pos = positive_label(classes, spec.positive_label) if classes else None
    finish = _Finish(features, list(kept.values()), spec.task, classes, pos, spec.decision)
    scored = spark_adapter.model_frame(
        rows,
        model_folder=folder,
        classifier=classification,
        trusted_modules=ctx.skops_trusted,
        finish=finish,
        schema=pa.schema(schema_fields),
        scratch=scratch,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    target = kept[spec.target_column]
    if scored.where(F.col(target).isNull()).limit(1).count():
        raise InvalidInput(
            f"{spec.dataset.holdout} (data.holdout): the target column {spec.target_column!r} has missing values"
        )
    if classification:
        confusion = _collect(scored.groupBy(target, _DECIDED).agg(F.count(F.lit(1)).alias(_ROWS)))
        counted = _confusion(confusion, target)
        measured = _classification(scored, target, classes, pos, confusion, counted)
        by_class = metrics.per_class_metrics(counted, classes)
        return SparkScored(measured, classes, scored, kept, confusion, counted.rows, by_class)
    sums = _regression_sums(scored, target)
    return SparkScored(metrics.regression_from_sums(sums), [], scored, kept, None, sums.rows)


def _confusion(confusion: pd.DataFrame, target: str) -> metrics.Confusion:
    """:class:`~mlgate.gates.metrics.Confusion` from the rows per (label, decision) Spark counted."""
    present = sorted({*confusion[target].tolist(), *confusion[_DECIDED].tolist()})
    where = {label: at for at, label in enumerate(present)}
    counts = np.zeros((len(present), len(present)), dtype=np.int64)
    for truth, decided, rows in confusion[[target, _DECIDED, _ROWS]].itertuples(index=False):
        counts[where[truth], where[decided]] += int(rows)
    return metrics.Confusion(present, counts)


def _classification(
    scored: Any, target: str, classes: list[Any], pos: Any, confusion: pd.DataFrame, counted: metrics.Confusion
) -> dict[str, float]:
    """:func:`~mlgate.gates.classification_metrics` from aggregates: the same functions on Spark's counts.

    Threshold metrics from the rows per (label, decision) (:class:`~mlgate.gates.metrics.Confusion`);
    ROC AUC, average precision and Brier from the positive and negative rows per distinct score of
    the positive class (:class:`~mlgate.gates.metrics.ScoreCounts`; per class, one-vs-rest, for more
    than two); log loss from the rows per distinct probability given to the true class.
    """
    from pyspark.sql import functions as F

    binary = len(classes) == 2
    out = metrics.threshold_metrics(counted, pos if binary else None)
    outside = sorted(str(label) for label in confusion[target].unique() if label not in classes)
    if outside:
        raise InvalidInput(
            f"the holdout's target holds {', '.join(outside)}, which are not classes of the model {classes}"
        )
    true_p = F.lit(None).cast("double")
    for at in reversed(range(len(classes))):
        true_p = F.when(F.col(target) == F.lit(classes[at]), F.col(f"{_PROBA}{at}")).otherwise(true_p)
    losses = _collect(scored.groupBy(true_p.alias("__p")).agg(F.count(F.lit(1)).alias(_ROWS)))
    out["log_loss"] = metrics.log_loss(losses["__p"].to_numpy(dtype=np.float64), losses[_ROWS].to_numpy())
    if binary:
        table = _score_counts(scored, f"{_PROBA}{classes.index(pos)}", F.col(target) == F.lit(pos))
        out |= {
            "roc_auc": metrics.roc_auc(table),
            "pr_auc": metrics.average_precision(table),
            "brier": metrics.brier(table),
        }
        return out
    tables = [_score_counts(scored, f"{_PROBA}{at}", F.col(target) == F.lit(c)) for at, c in enumerate(classes)]
    terms = [
        (F.when(F.col(target) == F.lit(c), 1.0).otherwise(0.0) - F.col(f"{_PROBA}{at}")) ** 2
        for at, c in enumerate(classes)
    ]
    squared = terms[0]
    for term in terms[1:]:
        squared = squared + term
    out |= {
        "roc_auc": float(np.average([metrics.roc_auc(t) for t in tables])),
        "pr_auc": float(np.average([metrics.average_precision(t) for t in tables])),
        "brier": float(scored.agg(F.avg(squared).alias("b")).first()["b"]),
    }
    return out


def _score_counts(scored: Any, column: str, hit: Any) -> metrics.ScoreCounts:
    """Positive and negative rows per distinct value of ``column`` (ascending): one ``groupBy`` on Spark."""
    from pyspark.sql import functions as F

    grouped = scored.groupBy(F.col(column).alias("__s")).agg(
        F.sum(F.when(hit, 1).otherwise(0)).alias("__pos"), F.sum(F.when(hit, 0).otherwise(1)).alias("__neg")
    )
    table = _collect(grouped).sort_values("__s", kind="stable")
    return metrics.ScoreCounts(
        table["__s"].to_numpy(dtype=np.float64),
        table["__pos"].to_numpy(dtype=np.int64),
        table["__neg"].to_numpy(dtype=np.int64),
    )


def _regression_sums(scored: Any, target: str) -> metrics.RegressionSums:
    """:class:`~mlgate.gates.metrics.RegressionSums` in two passes (the mean of the target, then the deviations)."""
    from pyspark.sql import functions as F

    y, p = F.col(target).cast("double"), F.col(_PREDICTED)
    first = scored.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum((y - p) ** 2).alias("se"),
        F.sum(F.abs(p - y)).alias("ae"),
        F.avg(y).alias("mean"),
        F.sum(F.when(y != 0, F.abs((y - p) / y)).otherwise(0.0)).alias("pe"),
        F.sum(F.when(y != 0, 1).otherwise(0)).alias("nonzero"),
    ).first()
    mean = float(first["mean"] or 0.0)
    deviation = scored.agg(F.sum((y - F.lit(mean)) ** 2).alias("sd")).first()["sd"]
    return metrics.RegressionSums(
        rows=int(first["n"]),
        squared_error=float(first["se"] or 0.0),
        absolute_error=float(first["ae"] or 0.0),
        squared_deviation=float(deviation or 0.0),
        percentage_error=float(first["pe"] or 0.0),
        nonzero=int(first["nonzero"] or 0),
    )


def _collect(frame: Any) -> pd.DataFrame:
    """An aggregated Spark table as pandas (through Arrow): counts per distinct key, never the rows."""
    table: pd.DataFrame = frame.toPandas()
    return table


# --------------------------------------------------------------------------- decisions and fairness


def decision_table(scored: SparkScored, target: str) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """(labels, decisions, rows) per distinct pair: what the built-in decision rules weigh."""
    assert scored.confusion is not None
    table = scored.confusion
    column = scored.kept[target]
    return table[column].to_numpy(), table[_DECIDED].to_numpy(), table[_ROWS].to_numpy(dtype=np.int64)


def fairness_table(
    scored: SparkScored, features: list[SensitiveFeature], target: str, pos: Any
) -> tuple[dict[str, pd.Series], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Groups, labels, decisions and rows per distinct (group values, label == pos, decision == pos).

    The groups are :func:`mlgate.gates._fairness.sensitive_groups` of the distinct values: the
    same labels, in the same order, as over every row.
    """
    from pyspark.sql import functions as F

    names = [scored.kept[f.name] for f in features]
    hit = (F.col(scored.kept[target]) == F.lit(pos)).alias("__hit")
    chosen = (F.col(_DECIDED) == F.lit(pos)).alias("__chosen")
    table = _collect(scored.frame.groupBy(*names, hit, chosen).agg(F.count(F.lit(1)).alias(_ROWS)))
    table = table.rename(columns={scored.kept[f.name]: f.name for f in features})
    groups = {f.name: fairness.sensitive_groups(table, f) for f in features}
    weights = table[_ROWS].to_numpy(dtype=np.int64)
    return groups, table["__hit"].to_numpy(dtype=bool), table["__chosen"].to_numpy(dtype=bool), weights


# --------------------------------------------------------------------------- drift


def feature_drift(
    data: SparkData, numeric: list[str], categorical: list[str], settings: DriftSettings
) -> list[drift.FeatureDrift]:
    """:func:`mlgate.gates._drift.feature_drift` from Spark aggregates (numeric, then categorical)."""
    sizes = _present_counts(data.reference, numeric, categorical), _present_counts(data.current, numeric, categorical)
    out = [_numeric(data.reference, data.current, name, (sizes[0][name], sizes[1][name]), settings) for name in numeric]
    out += [
        _categorical(data.reference, data.current, name, (sizes[0][name], sizes[1][name]), settings)
        for name in categorical
    ]
    return out


def _present_counts(frame: Any, numeric: list[str], categorical: list[str]) -> dict[str, tuple[int, int]]:
    """(rows, non-missing values) per feature, every feature in one pass over ``frame``."""
    from pyspark.sql import functions as F

    measures = [F.count(F.lit(1)).alias("__rows")]
    for name in numeric:
        value = F.col(name).cast("double")
        measures.append(F.sum(F.when(value.isNotNull() & ~F.isnan(value), 1).otherwise(0)).alias(name))
    measures += [F.count(F.col(name)).alias(name) for name in categorical]
    got = frame.agg(*measures).first()
    return {name: (int(got["__rows"]), int(got[name] or 0)) for name in [*numeric, *categorical]}


def _present(frame: Any, name: str, numeric: bool) -> Any:
    """The column's non-missing values, as ``__v`` (numbers as doubles: NaN is missing too)."""
    from pyspark.sql import functions as F

    if numeric:
        value = F.col(name).cast("double")
        return frame.select(value.alias("__v")).where(F.col("__v").isNotNull() & ~F.isnan("__v"))
    value = F.col(name).cast("string")
    return frame.select(value.alias("__v"), F.monotonically_increasing_id().alias("__at")).where(
        F.col("__v").isNotNull()
    )


def _numeric(
    reference: Any, current: Any, name: str, sizes: tuple[tuple[int, int], tuple[int, int]], settings: DriftSettings
) -> drift.FeatureDrift:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    (ref_total, n1), (cur_total, n2) = sizes
    for label, n in (("reference", n1), ("current", n2)):
        if n == 0:
            raise ValueError(f"drift: numeric feature '{name}' has no non-missing value in the {label} data")
    ref_counts = _present(reference, name, True).groupBy("__v").agg(F.count(F.lit(1)).alias("__r"))
    cur_counts = _present(current, name, True).groupBy("__v").agg(F.count(F.lit(1)).alias("__c"))
    both = ref_counts.join(cur_counts, on="__v", how="full_outer").fillna(0, subset=["__r", "__c"])
    # cumulative counts per distinct value (one ordered window: the table is the distinct values, not the rows)
    upto = Window.orderBy("__v").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    cumulative = both.select(
        "__v", "__r", "__c", F.sum("__r").over(upto).alias("__cum_r"), F.sum("__c").over(upto).alias("__cum_c")
    )
    cumulative = cumulative.persist()
    try:
        lo, hi, frac = drift.quantile_positions(n1, settings.psi_bins)
        positions = sorted({int(k) for k in (*lo, *hi)})
        # the k-th smallest reference value (0-based): the first distinct value whose cumulative count exceeds k
        order = cumulative.agg(
            *[F.min(F.when(F.col("__cum_r") > k, F.col("__v"))).alias(f"k{k}") for k in positions]
        ).first()
        value_at = {k: float(order[f"k{k}"]) for k in positions}
        edges = drift.interpolated_edges(
            np.array([value_at[int(k)] for k in lo]), np.array([value_at[int(k)] for k in hi]), frac
        )
        up = F.col("__cum_r") / F.lit(n1) - F.col("__cum_c") / F.lit(n2)
        measures = [F.max(up).alias("up"), F.min(up).alias("down")]
        for at, edge in enumerate(edges.tolist()):
            below = F.col("__v") <= F.lit(edge)
            measures += [
                F.sum(F.when(below, F.col("__r")).otherwise(0)).alias(f"r{at}"),
                F.sum(F.when(below, F.col("__c")).otherwise(0)).alias(f"c{at}"),
            ]
        got = cumulative.agg(*measures).first()
    finally:
        cumulative.unpersist()
    # scipy: max of F1 - F2, and the min clipped to [0, 1]; the larger of the two
    d = max(float(got["up"]), min(max(-float(got["down"]), 0.0), 1.0))
    ref_below = np.array([int(got[f"r{at}"]) for at in range(len(edges))], dtype=np.int64)
    cur_below = np.array([int(got[f"c{at}"]) for at in range(len(edges))], dtype=np.int64)
    missing = (ref_total - n1, cur_total - n2)
    return drift.numeric_drift(name, ref_below, cur_below, (n1, n2), drift.ks_test(d, n1, n2), missing, settings)


def _categorical(
    reference: Any, current: Any, name: str, sizes: tuple[tuple[int, int], tuple[int, int]], settings: DriftSettings
) -> drift.FeatureDrift:
    from pyspark.sql import functions as F

    def counted(frame: Any, size: tuple[int, int]) -> tuple[NDArray[Any], NDArray[Any], int]:
        total = size[0]
        table = (
            _present(frame, name, False)
            .groupBy("__v")
            .agg(F.count(F.lit(1)).alias("__n"), F.min("__at").alias("__first"))
        )
        rows = _collect(table).sort_values("__first", kind="stable")  # pd.factorize's order: first appearance
        counts = rows["__n"].to_numpy(dtype=np.int64)
        return rows["__v"].to_numpy(dtype=object), counts, total - int(counts.sum())

    ref_values, ref_counts, ref_missing = counted(reference, sizes[0])
    cur_values, cur_counts, cur_missing = counted(current, sizes[1])
    return drift.categorical_drift(
        name, (ref_values, ref_counts), (cur_values, cur_counts), (ref_missing, cur_missing), settings
    )


# --------------------------------------------------------------------------- integrity


def null_counts(data: SparkData, columns: list[str]) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """Missing values per column in train and holdout (null, or NaN in a floating column), and their rows."""
    counted = []
    for frame in (data.train, data.holdout):
        counted.append(frame.agg(*_null_measures(frame, columns)).first())
    nulls = {c: (int(counted[0][c]), int(counted[1][c])) for c in columns}
    return nulls, (int(counted[0]["__rows"]), int(counted[1]["__rows"]))


def _null_measures(frame: Any, columns: list[str]) -> list[Any]:
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    out = [F.count(F.lit(1)).alias("__rows")]
    for column in columns:
        missing = F.col(column).isNull()
        if isinstance(frame.schema[column].dataType, DoubleType | FloatType):
            missing = missing | F.isnan(column)
        out.append(F.sum(F.when(missing, 1).otherwise(0)).alias(column))
    return out


def duplicate_counts(data: SparkData, columns: list[str]) -> dict[str, int]:
    """Rows, rows repeating an earlier row (train first), of those in train, and distinct repeated rows.

    Equal as the pandas engine has it: missing equals missing (Spark groups nulls, and NaN with NaN).
    """
    from pyspark.sql import functions as F

    def grouped(frame: Any) -> Any:
        return frame.select(*columns).groupBy(*columns).agg(F.count(F.lit(1)).alias("__n"))

    train = grouped(data.train).agg(F.sum("__n").alias("rows"), F.count(F.lit(1)).alias("distinct")).first()
    union = data.train.select(*columns).unionByName(data.holdout.select(*columns))
    everything = (
        grouped(union)
        .agg(
            F.sum("__n").alias("rows"),
            F.count(F.lit(1)).alias("distinct"),
            F.sum(F.when(F.col("__n") > 1, 1).otherwise(0)).alias("repeated"),
        )
        .first()
    )
    rows = int(everything["rows"] or 0)
    return {
        "rows": rows,
        "duplicates": rows - int(everything["distinct"] or 0),
        "in_train": int(train["rows"] or 0) - int(train["distinct"] or 0),
        "repeated_rows": int(everything["repeated"] or 0),
        "train_rows": int(train["rows"] or 0),
    }


def duplicate_measurement(counts: dict[str, int], scope: str) -> Measurement:
    """``duplicate_rows`` from :func:`duplicate_counts` (no example rows: Spark rows have no position)."""
    return integrity.native.duplicate_rows(
        counts["duplicates"],
        counts["rows"],
        (counts["in_train"], counts["duplicates"] - counts["in_train"]),
        counts["repeated_rows"],
        [],
        scope,
    )


def conflicting_measurement(data: SparkData, features: list[str], target: str, scope: str) -> Measurement:
    """``conflicting_labels``: rows (train and holdout) whose feature values occur with more than one label.

    One ``groupBy`` over the feature values (missing equals missing) counting rows and distinct
    labels; no example rows (Spark rows have no position).
    """
    from pyspark.sql import functions as F

    union = data.train.select(*features, target).unionByName(data.holdout.select(*features, target))
    grouped = union.groupBy(*features).agg(
        F.count(F.lit(1)).alias("__n"), F.countDistinct(F.col(target).cast("string")).alias("__labels")
    )
    got = grouped.agg(
        F.sum("__n").alias("rows"),
        F.sum(F.when(F.col("__labels") > 1, F.col("__n")).otherwise(0)).alias("ambiguous"),
        F.sum(F.when(F.col("__labels") > 1, 1).otherwise(0)).alias("groups"),
    ).first()
    rows = int(got["rows"] or 0)
    if rows == 0:
        return Measurement.failed("train and holdout hold no rows")
    return integrity.native.conflicting_labels(int(got["ambiguous"] or 0), rows, int(got["groups"] or 0), [], scope)


def overlap_measurement(data: SparkData, features: list[str], target: str) -> Measurement:
    """``train_holdout_overlap``: holdout rows equal to a training row (features + target; and features alone).

    ``left_semi`` joins with the distinct training rows, null-safe (missing equals missing).
    """
    rows = data.holdout.count()
    if rows == 0:
        return Measurement.failed("the holdout data holds no rows")
    same_features = _in_train(data, features)
    return integrity.native.train_holdout_overlap(_in_train(data, [*features, target]), rows, same_features, [])


def _in_train(data: SparkData, columns: list[str]) -> int:
    """Holdout rows whose ``columns`` equal those of some training row (null-safe)."""
    from pyspark.sql import functions as F

    train = data.train.select(*[F.col(c).alias(f"__t_{at}") for at, c in enumerate(columns)]).distinct()
    condition = F.col(columns[0]).eqNullSafe(F.col("__t_0"))
    for at, c in enumerate(columns[1:], start=1):
        condition = condition & F.col(c).eqNullSafe(F.col(f"__t_{at}"))
    count: int = data.holdout.select(*columns).join(train, on=condition, how="left_semi").count()
    return count
