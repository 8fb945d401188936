"""Typed model specs, policies and releases, and their strict loading.

Every governance file is parsed with :mod:`mlgate.config.yamlio` (duplicate keys and tabs rejected,
line and column kept) and validated by a pydantic model with ``extra="forbid"`` and
``strict=True``: an unknown key is an error with a suggestion, and ``"0.8"`` is not silently
read as ``0.8``. Errors become :class:`~mlgate.exceptions.Problem` objects that name the file,
line, column and key path.
"""

from __future__ import annotations

import difflib
import re
import shlex
import sys
import types
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator, model_validator

from mlgate.config import _catalog as catalog
from mlgate.config._catalog import GateFamily
from mlgate.config._yamlio import Document, KeyPath, load
from mlgate.exceptions import Problem, SpecError, excerpt

Task = catalog.Task
Severity = Literal["block", "warn"]
COMPARISONS = ("min", "max", "max_regression")

MONITORING_METRICS: tuple[str, ...] = (
    *catalog.names("drift"),
    *(name for name in catalog.NATIVE_INTEGRITY_METRICS if name not in ("conflicting_labels", "train_holdout_overlap")),
    *catalog.names("performance"),
    *catalog.names("monitoring"),
)
"""What a ``monitoring`` rule of a policy can name: drift and data quality of the production inputs,
performance once labels arrive, and what only production shows (catalog family ``monitoring``)."""
if TYPE_CHECKING:
    # The metric names are the catalog's, known at run time only: to the type checker a metric is a
    # str; pydantic validates against the Literal below (and lists its values in the JSON schema).
    PerformanceMetric: TypeAlias = str
    FairnessMetric: TypeAlias = str
    DriftMetric: TypeAlias = str
    IntegrityMetric: TypeAlias = str
    MonitoringMetric: TypeAlias = str
else:
    PerformanceMetric = Literal[catalog.names("performance")]
    FairnessMetric = Literal[catalog.names("fairness")]
    DriftMetric = Literal[catalog.names("drift")]
    IntegrityMetric = Literal[catalog.names("integrity")]
    MonitoringMetric = Literal[MONITORING_METRICS]
DeepchecksSuite = Literal["data_integrity", "train_test_validation", "model_evaluation"]
DocumentedField = Literal[
    "description",
    "owners",
    "model_card.intended_use",
    "model_card.out_of_scope_uses",
    "model_card.limitations",
    "model_card.ethical_considerations",
    "model_card.caveats_and_recommendations",
    "model_card.license",
    "monitoring.owner",
    "monitoring.frequency",
    "monitoring.retraining_trigger",
    "monitoring.rollback_procedure",
]
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
STAGE_PATTERN = r"^[a-z][a-z0-9_-]*$"
MAX_SEED = 2**32 - 1
"""numpy (and so scikit-learn's random_state) takes seeds from 0 to 2**32 - 1."""
MAX_VERSION = 2**31 - 1
"""MLflow keeps model versions in an SQL INTEGER column (32 bits on PostgreSQL and MySQL)."""
MAX_PSI_BINS = 1000
"""More PSI bins than this measure noise (and cost memory), whatever the data size."""

Finite = Annotated[float, Field(allow_inf_nan=False)]


class LocatedError(ValueError):
    """A validator's error about one key below the model that raises it (``loc`` from there)."""

    def __init__(self, message: str, *loc: str | int, key: bool = False) -> None:
        """``message`` about the key at ``loc``, relative to the model that raises it (``key``: the key itself)."""
        super().__init__(message)
        self.loc, self.key = loc, key


class StrictModel(BaseModel):
    """Base for everything read from YAML: unknown keys and type coercion are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


# --------------------------------------------------------------------------- model spec

POLICY_FOLDER = "policies"
_DRIVE = re.compile(r"^[A-Za-z]:")


def repo_relative(value: str) -> bool:
    """Whether ``value`` is a relative POSIX path that cannot leave the folder it is joined to.

    A pull request author controls the spec: an absolute path (``/x``, ``C:\\x``), a ``..``
    component, a backslash or an empty string could point mlgate at a file outside the repo.
    """
    if not value or "\\" in value or "\0" in value or is_absolute(value):
        return False
    return ".." not in PurePosixPath(value).parts


def is_absolute(value: str) -> bool:
    """``/x`` or a Windows drive (``C:\\x``, ``C:/x``): never a path inside the repo."""
    return value.startswith("/") or bool(_DRIVE.match(value))


def policy_path_error(value: str) -> str | None:
    """Why ``value`` is not a ``.yaml``/``.yml`` file under ``policies/`` of the repo, if it is not."""
    parts = PurePosixPath(value).parts
    if not repo_relative(value) or len(parts) < 2 or parts[0] != POLICY_FOLDER:
        return f"must be a file under {POLICY_FOLDER}/ in this repository, got {value!r}"
    if not parts[-1].endswith((".yaml", ".yml")):
        return f"must be a .yaml or .yml file under {POLICY_FOLDER}/, got {value!r}"
    return None


DATA_FORMATS: dict[str, str] = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}
"""Data file extension → format: what :func:`mlgate.data.read_table` reads (the extension decides)."""


def data_format_error(value: str) -> str | None:
    """Why ``value`` names no data format mlgate reads, if it does not."""
    if PurePosixPath(value).suffix.lower() in DATA_FORMATS:
        return None
    return f"{value!r} is not a data file mlgate reads: the extension must be one of {', '.join(DATA_FORMATS)}"


def data_file(value: str | None) -> str | None:
    """Check a spec's data file path: relative, inside the repo, an extension mlgate reads (ValueError)."""
    if value is not None and not repo_relative(value):
        raise ValueError(f"must be a relative path to a file in this repository, got {value!r}")
    if value is not None and (error := data_format_error(value)):
        raise ValueError(error)
    return value


class Split(StrictModel):
    """Split one data file into train and holdout with a fixed seed."""

    holdout_fraction: float = Field(0.25, gt=0, lt=1, allow_inf_nan=False, description="share of rows held out")
    seed: int = Field(42, ge=0, le=MAX_SEED, description="random seed of the split")
    stratify: bool = Field(True, description="stratify by the target (classification only)")


class DataSpec(StrictModel):
    """DVC-tracked inputs: one ``path`` with a ``split``, or separate ``train`` and ``holdout``."""

    path: str | None = Field(None, description="one data file, split into train and holdout")
    split: Split | None = None
    train: str | None = Field(None, description="training data file")
    holdout: str | None = Field(None, description="holdout data file")
    reference: str | None = Field(None, description="drift reference (default: training data)")
    current: str | None = Field(None, description="drift current data (default: holdout data)")
    columns: list[str] | None = Field(
        None,
        description=(
            "the column names of header-less CSV/TSV files (every CSV/TSV file of this section, e.g. a DVC "
            "stage's output; Parquet files carry their own names); without it the first row is the header"
        ),
    )
    engine: Literal["pandas", "spark"] | None = Field(
        None,
        description=(
            "what `mlgate gate` measures with by default (--engine overrides): pandas (in memory), or spark "
            "(Parquet datasets, a file or a DVC-tracked directory named *.parquet, measured by Spark aggregations; "
            "needs 'train' and 'holdout', mlgate[spark] and Java)"
        ),
    )

    @model_validator(mode="after")
    def _one_layout(self) -> DataSpec:
        # whether a layout is required at all depends on the spec (a predictions spec has none):
        # ModelSpec checks that, see ModelSpec._one_subject
        if self.path and (self.train or self.holdout):
            raise ValueError("give either 'path' (with 'split') or 'train' and 'holdout', not both")
        if self.split and not self.path:
            raise ValueError("'split' applies to 'path' only")
        if self.engine == "spark":
            if self.path:
                raise ValueError("engine spark reads 'train' and 'holdout' Parquet datasets: a 'path' split needs rows")
            other = [f"{role}: {rel}" for role, rel in self.files().items() if not rel.lower().endswith(".parquet")]
            if other:
                raise ValueError(f"engine spark reads Parquet datasets (*.parquet), not {', '.join(other)}")
        return self

    @field_validator("columns")
    @classmethod
    def _named_once(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("name the columns of the header-less files, in file order (or drop 'columns')")
        for index, name in enumerate(value):
            if not name.strip():
                raise LocatedError("a column name must not be blank", index)
            if name in value[:index]:
                raise LocatedError(f"column '{name}' is named twice", index)
        return value

    def layout_error(self) -> str | None:
        """Why this block names no data to train and evaluate on, if it does not."""
        if not self.path and not (self.train and self.holdout):
            return "give 'path' (with 'split') or both 'train' and 'holdout'"
        return None

    _inside_repo = field_validator("path", "train", "holdout", "reference", "current")(data_file)

    def files(self) -> dict[str, str]:
        """Role → path of every input file named by the spec."""
        roles = ("path", "train", "holdout", "reference", "current")
        return {role: getattr(self, role) for role in roles if getattr(self, role)}


TEXT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
"""Words of a text feature: what its TF-IDF vectoriser and the text drift statistics both count."""
TEXT_MIN_ROWS = 20
"""A categorical column with a distinct value in every row is refused from this many rows (below: too few to tell)."""


class Features(StrictModel):
    """Columns fed to the model; each is preprocessed by its kind."""

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    text: list[str] = Field(
        default_factory=list,
        description="free-text columns: TF-IDF of words and word pairs per column (missing text reads as empty)",
    )

    @model_validator(mode="after")
    def _distinct(self) -> Features:
        if not self.numeric and not self.categorical and not self.text:
            raise ValueError("at least one numeric, categorical or text feature is required")
        kinds = ("numeric", "categorical", "text")
        for i, first in enumerate(kinds):
            for second in kinds[i + 1 :]:
                both = [n for n in getattr(self, second) if n in getattr(self, first)]
                if both:
                    at = getattr(self, second).index(both[0])
                    raise LocatedError(f"listed as both {first} and {second}: {', '.join(both)}", second, at)
        for kind in kinds:
            names = getattr(self, kind)
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                again = next(i for i, n in enumerate(names) if n in names[:i])
                raise LocatedError(f"{kind} features listed twice: {', '.join(twice)}", kind, again)
        return self

    @property
    def all(self) -> list[str]:
        """Every feature: the numeric ones, then the categorical ones, then the text ones."""
        return [*self.numeric, *self.categorical, *self.text]


PER_CLASS_METRICS = ("precision", "recall", "f1")
"""Performance metrics a rule may take of one class (``class:``), one-vs-rest."""
MISSING_GROUP = "(missing)"
"""The fairness group of rows without a value: parenthesised, so a real category "missing" stays its own group."""
OUT_OF_RANGE_GROUP = "out of range"
"""The fairness group of values outside a sensitive feature's bins."""
RESERVED_GROUPS = {MISSING_GROUP: "rows without a value", OUT_OF_RANGE_GROUP: "values outside the bins"}
"""Group names mlgate.gates.fairness gives rows no bin holds; a label may not take them."""


class SensitiveFeature(StrictModel):
    """An attribute the fairness gates group by; not fed to the model unless also a feature."""

    name: str
    bins: list[Finite] | None = Field(
        None, description="bucket edges for a continuous attribute, e.g. [0, 25, 120] for age"
    )
    labels: list[str] | None = Field(None, description="names of the buckets (len(bins) - 1)")

    @model_validator(mode="after")
    def _bins(self) -> SensitiveFeature:
        if self.bins is not None and (
            len(self.bins) < 2 or any(a >= b for a, b in zip(self.bins, self.bins[1:], strict=False))
        ):
            raise ValueError("bins must be at least two strictly increasing edges")
        if self.labels is not None:
            if self.bins is None:
                raise ValueError("labels need bins")
            if len(self.labels) != len(self.bins) - 1:
                raise ValueError(f"{len(self.bins) - 1} bins need as many labels")
            for index, label in enumerate(self.labels):
                if label in RESERVED_GROUPS:
                    why = RESERVED_GROUPS[label]
                    raise LocatedError(f"'{label}' is reserved for {why}: give the bin another label", "labels", index)
                first = self.labels.index(label)
                if first < index:
                    message = (
                        f"'{label}' already labels bin {first + 1}: two bins with one label would be "
                        "merged into one group; give each bin its own label"
                    )
                    raise LocatedError(message, "labels", index)
        return self


class Estimator(StrictModel):
    """An estimator class with the scikit-learn API; its params live in ``params.yaml`` under the model name.

    Only classes under the allowed module prefixes may be named (mlgate.config.estimators):
    importing a module runs its code, and the spec is the pull request author's to change.
    """

    class_: str = Field(
        alias="class", description="e.g. sklearn.ensemble.RandomForestClassifier, xgboost.XGBClassifier"
    )


MAX_TRAIN_TIMEOUT_MINUTES = 24 * 60
"""A training command running longer than a day is stuck, not training (a CI job ends sooner)."""


DVC_STAGE_NAME = re.compile(r"^[A-Za-z0-9_][\w.-]*(@[\w.-]+)?$")
"""A stage of dvc.yaml as ``dvc repro`` names it: ``train``, or ``train@credit`` for a ``foreach`` item."""


class TrainCommand(StrictModel):
    """The team's own training: a command (``python train.py``) or a stage of ``dvc.yaml``, run by mlgate.

    mlgate creates the MLflow run with the lineage tags first, runs the command (or the stage, by a
    forced ``dvc repro``) from the repo root with ``MLFLOW_RUN_ID`` and ``MLGATE_*`` variables set, then
    registers the one model the command logged into that run (mlgate.training.command).
    """

    command: str | None = Field(
        None,
        min_length=1,
        description="split like a POSIX shell (shlex) and run without a shell from the repo root; or give dvc_stage",
    )
    dvc_stage: str | None = Field(
        None,
        description=(
            "a stage of dvc.yaml (e.g. train, or train@credit of a foreach): its upstream stages are reproduced "
            "as `dvc repro` would, then it runs even when cached (`dvc repro --force --single-item`), and its "
            "deps, params and outs from dvc.lock are recorded in the version's lineage"
        ),
    )
    timeout_minutes: int = Field(60, ge=1, le=MAX_TRAIN_TIMEOUT_MINUTES, description="the command is killed after")

    @field_validator("command")
    @classmethod
    def _one_command(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            argv = shlex.split(value)
        except ValueError as err:
            raise ValueError(f"cannot split {value!r} into arguments: {err}") from None
        if not argv:
            raise ValueError("give a command to run, e.g. 'python train.py' (or dvc_stage: <stage> for a DVC stage)")
        return value

    @field_validator("dvc_stage")
    @classmethod
    def _stage_name(cls, value: str | None) -> str | None:
        if value is not None and not DVC_STAGE_NAME.match(value):
            raise ValueError(f"{value!r} is not a stage name of dvc.yaml (e.g. 'train', or 'train@credit')")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> TrainCommand:
        if (self.command is None) == (self.dvc_stage is None):
            both = self.command is not None
            message = "give exactly one of 'command' (your own command) or 'dvc_stage' (a stage of dvc.yaml), " + (
                "not both" if both else "got neither"
            )
            if both:
                raise LocatedError(message, "dvc_stage")
            raise ValueError(message)
        return self

    @property
    def shown(self) -> str:
        """How the training is named in messages and the run's tags: the command, or ``dvc stage <name>``."""
        return self.command if self.command is not None else f"dvc stage {self.dvc_stage}"


class Predictions(StrictModel):
    """Predictions made elsewhere (a vendor's score, a rules engine), audited instead of a model.

    The file holds one row per decision with the true outcome next to it, so it is evaluation
    data: a judging field, DVC-tracked like ``data`` files. A score is turned into a decision
    with ``threshold`` (``score >= threshold`` → ``positive_label``); a decided label is used as it is.

    The score may be on any scale where higher means ``positive_label`` is likelier (a probability,
    a decile 1-10, points): ``threshold`` is in the score's own units. Ranking metrics (ROC AUC,
    PR AUC) hold on any scale; the probability metrics (log loss, Brier) are computed only when
    every score is in [0, 1] and are ``skipped`` with the reason otherwise. For a score where lower
    means ``positive_label`` (a credit score and default), name the other class ``positive_label``.
    """

    path: str = Field(description="DVC-tracked CSV file of the repo: one row per prediction")
    label_column: str = Field(description="the true outcome")
    score_column: str | None = Field(
        None,
        description="score of positive_label on any scale, higher = likelier (a probability in [0, 1], a decile...)",
    )
    prediction_column: str | None = Field(None, description="the decided label (instead of a score)")
    threshold: Finite | None = Field(
        None, description="with score_column, in the score's own units: score >= threshold decides positive_label"
    )

    @field_validator("path")
    @classmethod
    def _inside_repo(cls, value: str) -> str:
        if not repo_relative(value):
            raise ValueError(f"must be a relative path to a file in this repository, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_output(self) -> Predictions:
        if (self.score_column is None) == (self.prediction_column is None):
            raise ValueError("give exactly one of 'score_column' (with 'threshold') or 'prediction_column'")
        if self.score_column is not None and self.threshold is None:
            raise LocatedError("required with 'score_column': a score >= threshold decides positive_label", "threshold")
        if self.prediction_column is not None and self.threshold is not None:
            raise LocatedError("'threshold' applies to 'score_column' only: the predictions are decided", "threshold")
        output = self.score_column or self.prediction_column
        if output == self.label_column:
            key = "score_column" if self.score_column else "prediction_column"
            raise LocatedError(f"'{output}' is also the label_column: the outcome cannot judge itself", key)
        return self

    @property
    def output_column(self) -> str:
        """The column holding the score or the decided label."""
        return str(self.score_column or self.prediction_column)


class ModelCard(StrictModel):
    """Model-card text (Mitchell et al., 2019); the documentation gate checks what is required."""

    intended_use: str = ""
    out_of_scope_uses: str = ""
    limitations: str = ""
    ethical_considerations: str = ""
    caveats_and_recommendations: str = ""
    license: str = ""


class RetrainWhen(StrictModel):
    """A machine-readable retraining trigger: retrain when ``metric`` crosses ``min`` or ``max``."""

    metric: str = Field(description="a metric mlgate computes (performance, drift or integrity catalog)")
    min: Finite | None = Field(None, description="retrain when the metric falls below this")
    max: Finite | None = Field(None, description="retrain when the metric rises above this")

    @field_validator("metric")
    @classmethod
    def _known(cls, metric: str) -> str:
        known = MONITORING_METRICS  # what mlgate monitor measures: the trigger is evaluated there
        if metric not in known:
            raise ValueError(f"unknown metric '{metric}'; one of: {', '.join(known)}")
        return metric

    @model_validator(mode="after")
    def _one_bound(self) -> RetrainWhen:
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of 'min' (retrain below) or 'max' (retrain above)")
        return self


PASSWORD_HINT = (
    "the URL holds a password, and the spec is in git: give it to the service through the driver's "
    "environment (PGPASSWORD or ~/.pgpass for PostgreSQL, MYSQL_PWD for MySQL)"
)


def no_password(url: str | None) -> str | None:
    """A database URL a spec may hold: none with a password (the spec is in git, its output public)."""
    from urllib.parse import urlsplit

    if url is None or "://" not in url:
        return url
    try:
        password = urlsplit(url).password
    except ValueError:  # e.g. a port that is not a number: the store's own check says so
        return url
    if password is not None:
        raise ValueError(PASSWORD_HINT)
    return url


class MonitoringSources(StrictModel):
    """Where ``mlgate monitor`` reads what the model saw in production (at least one source)."""

    audit_url: str | None = Field(
        None, description="database URL of mlgate serve's audit store (default: serving.audit_url; no password)"
    )
    scores: str | None = Field(
        None, description="folder mlgate score writes to (its --output): the model=/stage=/date= partitions"
    )

    _no_password = field_validator("audit_url")(no_password)


class Labels(StrictModel):
    """Where the outcomes arrive, joined to the production rows on ``id_columns``.

    ``path``: a DVC-tracked file in the repo (CSV/TSV/Parquet); or ``url`` + ``table``: a
    database table. Audit rows join on ``[request_id, row]`` (the audit store's key); scored
    rows on the id columns ``mlgate score`` passed through.
    """

    path: str | None = Field(None, description="DVC-tracked outcomes file")
    url: str | None = Field(None, description="database URL holding the outcomes (no password)")
    table: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$", description="table with the outcomes")
    id_columns: list[str] = Field(min_length=1, description="columns joining an outcome to its production row")
    label_column: str = Field(description="the outcome (the spec's target values)")
    delay_days: int = Field(0, ge=0, le=3650, description="how long outcomes take")

    _inside_repo = field_validator("path")(data_file)
    _no_password = field_validator("url")(no_password)

    @model_validator(mode="after")
    def _one_source(self) -> Labels:
        if (self.path is None) == (self.url is None):
            raise LocatedError("give exactly one of 'path' (a DVC-tracked file) or 'url' (with 'table')", "path")
        if self.url is not None and self.table is None:
            raise LocatedError("'url' needs 'table': the table holding the outcomes", "url")
        if self.table is not None and self.url is None:
            raise LocatedError("'table' applies to 'url' only", "table")
        return self


class Retrain(StrictModel):
    """How a retraining pull request refreshes the training data (``mlgate monitor --propose-retrain``).

    ``command``: run from the repo root without a shell (e.g. ``dvc repro prepare``); what it
    changes (``dvc.lock``, ``.dvc`` files, params) is the pull request. ``snapshots``: a glob of
    DVC-tracked data files; the newest by name becomes the spec's ``data.path``.
    """

    command: str | None = Field(None, min_length=1, description="refreshes the DVC-tracked training data")
    snapshots: str | None = Field(None, min_length=1, description="glob of data snapshots; the newest is trained on")
    timeout_minutes: int = Field(
        60, ge=1, le=MAX_TRAIN_TIMEOUT_MINUTES, description="the command is stopped after (command only)"
    )

    @model_validator(mode="after")
    def _one_way(self) -> Retrain:
        if (self.command is None) == (self.snapshots is None):
            raise LocatedError("give exactly one of 'command' or 'snapshots'", "command")
        return self

    @field_validator("snapshots")
    @classmethod
    def _snapshots_inside(cls, value: str | None) -> str | None:
        if value is not None and not repo_relative(value):
            raise ValueError(f"must be a relative glob inside this repository, got {value!r}")
        return value


MAX_REVIEW_DAYS = 3650
"""A post-deployment review more than ten years out is not a schedule."""


class Monitoring(StrictModel):
    """Who watches the model in production, how often, and when it is retrained."""

    owner: str = ""
    frequency: str = ""
    retraining_trigger: str = ""
    rollback_procedure: str = ""
    # Left out of the dump (and so of the spec hash) when absent: specs without them hash as before.
    retrain_when: RetrainWhen | None = Field(
        None, exclude_if=lambda value: value is None, description="the retraining trigger as a metric threshold"
    )
    reviews: list[Annotated[int, Field(ge=1, le=MAX_REVIEW_DAYS)]] | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="post-deployment reviews, in days after the version enters production (e.g. [30, 90, 180])",
    )
    sources: MonitoringSources | None = Field(
        None, exclude_if=lambda value: value is None, description="where mlgate monitor reads production traffic"
    )
    reference: str | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="DVC-tracked reference data (default: the version's training data, from its lineage)",
    )
    labels: Labels | None = Field(None, exclude_if=lambda value: value is None, description="where outcomes arrive")
    retrain: Retrain | None = Field(
        None, exclude_if=lambda value: value is None, description="how a retraining pull request refreshes the data"
    )

    _reference_inside = field_validator("reference")(data_file)

    @field_validator("reviews")
    @classmethod
    def _increasing(cls, days: list[int] | None) -> list[int] | None:
        for index in range(1, len(days or [])):
            assert days is not None
            if days[index] <= days[index - 1]:
                raise LocatedError("review days must increase (each a later review)", index)
        return days


DURABLE_AUDIT_SCHEMES = ("postgresql", "postgresql+psycopg", "postgresql+psycopg2", "mysql", "mysql+pymysql", "sqlite")
"""Databases a serving audit store may be (see Serving.audit_url)."""


class Serving(StrictModel):
    """How ``mlgate serve`` runs this model: where it keeps the audit log of its decisions.

    ``audit_url`` is an SQLAlchemy-style database URL. It must name a durable store: a database
    server (``postgresql://``, ``mysql://``), or SQLite at an absolute path outside temporary
    folders (``sqlite:////var/lib/mlgate/audit.db``) — never ``:memory:`` or a relative path,
    which vanish with the container. It must not hold a password (the spec is in git): give it to
    the service through the driver's own environment (``PGPASSWORD``, ``MYSQL_PWD``).

    Callers' bearer tokens come from the environment variable ``tokens_env`` (default
    ``MLGATE_SERVE_TOKENS``) or the file ``tokens_file`` (a mounted secret), never from the spec:
    the spec names where they are, not what they are.

    ``arm_key`` names the column (e.g. ``customer_id``) whose value decides, by a hash, whether a
    row goes to a canary release.yaml asks for or to the stable version: one entity stays on one
    arm. Without it, the request id decides (all rows of a request on one arm).
    """

    audit_url: str = Field(description="database URL of the service's audit store (no password)")
    tokens_env: str | None = Field(
        None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="environment variable holding the callers' tokens (default MLGATE_SERVE_TOKENS)",
    )
    tokens_file: str | None = Field(
        None, pattern=r"^/", description="absolute path of a file holding the callers' tokens (a mounted secret)"
    )
    arm_key: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="column whose value routes each row to a canary or the stable version, sticky per entity "
        "(a signature column, or one each request row carries beside the features; default: the request id)",
    )

    @model_validator(mode="after")
    def _one_token_source(self) -> Serving:
        if self.tokens_env and self.tokens_file:
            raise LocatedError("give tokens_env or tokens_file, not both", "tokens_file")
        return self

    @field_validator("audit_url")
    @classmethod
    def _durable(cls, url: str) -> str:
        from urllib.parse import urlsplit

        scheme, _, rest = url.partition("://")
        if scheme not in DURABLE_AUDIT_SCHEMES:
            raise ValueError(
                f"'{scheme or url}' is not a durable database; use one of: {', '.join(DURABLE_AUDIT_SCHEMES)}"
            )
        if scheme == "sqlite":
            path = rest[1:] if rest.startswith("/") else ""  # sqlite:////abs/path -> /abs/path
            if not path.startswith("/") or ":memory:" in rest or path.startswith(("/tmp/", "/dev/shm/", "/var/tmp/")):
                raise ValueError(
                    "SQLite must be a file at an absolute, persistent path (sqlite:////var/lib/mlgate/audit.db), "
                    "not in memory, relative or under a temporary folder"
                )
            return url
        parts = urlsplit(url)
        if parts.password is not None:
            raise ValueError(PASSWORD_HINT)
        if not parts.hostname:
            raise ValueError("the URL names no database host")
        return url


class Output(StrictModel):
    """How the gates read what a model's ``predict`` returns when it is not a scikit-learn classifier.

    A model with ``predict_proba`` and ``classes_`` (mlgate's own, XGBClassifier, LGBMClassifier...)
    is read through them and needs none of this. Anything else is called through
    ``mlflow.pyfunc`` and its output mapped: give at most one of ``probabilities`` (one DataFrame
    column per class, in the order of the sorted class labels), ``label_column``,
    ``score_column`` (the positive class's score in [0, 1], decided by ``threshold``) or, for a
    regressor, ``value_column``. Without any, an array (or a one-column frame) is read by
    shape: 1-D floats in [0, 1] for two classes are the positive class's score, other 1-D
    output are labels (classifier) or values (regressor), 2-D output are class probabilities.
    """

    probabilities: list[str] | None = Field(
        None, min_length=2, description="columns of class probabilities, in the order of the sorted class labels"
    )
    label_column: str | None = Field(None, description="column of predicted class labels")
    score_column: str | None = Field(None, description="column of the positive class's score, in [0, 1]")
    threshold: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="score_column at or above this decides positive (0.5)"
    )
    value_column: str | None = Field(None, description="column of predicted values (regression)")

    @model_validator(mode="after")
    def _one_reading(self) -> Output:
        readings = ("probabilities", "label_column", "score_column", "value_column")
        given = [k for k in readings if getattr(self, k)]
        if len(given) > 1:
            raise LocatedError(f"give only one of {', '.join(readings)}, not both {' and '.join(given[:2])}", given[1])
        if self.threshold is not None and self.score_column is None:
            raise LocatedError("'threshold' decides a 'score_column' and applies only there", "threshold")
        if self.probabilities and len(set(self.probabilities)) < len(self.probabilities):
            twice = next(c for c in self.probabilities if self.probabilities.count(c) > 1)
            raise LocatedError(f"column '{twice}' listed twice", "probabilities")
        return self

    @property
    def decision_threshold(self) -> float:
        """The score at or above which ``score_column`` decides the positive class."""
        return 0.5 if self.threshold is None else self.threshold


class Decision(StrictModel):
    """How a binary classifier's positive-class probability becomes a decision (``decision:``).

    ``threshold``: a probability at or above it decides ``positive_label``. ``review_band``
    ``[low, high]``: rows whose probability lies in it (both ends included) are decided as the
    threshold says and flagged ``needs_review`` (the human-in-the-loop path). The gates judge the
    decisions this threshold gives and ``mlgate score`` writes them: what is gated is what is deployed.
    """

    threshold: float = Field(ge=0, le=1, allow_inf_nan=False, description="positive-class probability deciding it")
    review_band: list[Finite] | None = Field(
        None, description="[low, high]: probabilities in it (inclusive) are flagged needs_review"
    )

    @model_validator(mode="after")
    def _band_in_unit(self) -> Decision:
        band = self.review_band
        if band is None:
            return self
        if len(band) != 2:
            raise LocatedError(f"give two probabilities [low, high], not {len(band)} values", "review_band")
        low, high = band
        if not (0 <= low <= 1 and 0 <= high <= 1):
            raise LocatedError(f"the band [{low}, {high}] must lie within [0, 1]", "review_band")
        if low >= high:
            raise LocatedError(f"low {low} must be below high {high}", "review_band")
        return self


class ModelSpec(StrictModel):
    """``models/<name>/model.yaml``: what a model is."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str
    owners: list[str] = Field(min_length=1)
    task: Task
    data: DataSpec | None = Field(None, description="required with estimator; with predictions only 'reference'")
    target: str | None = Field(None, description="the column to predict (required with estimator)")
    positive_label: int | str | None = Field(
        None, description="favourable class for binary metrics (default: the larger label)"
    )
    features: Features | None = Field(
        None, description="required with estimator; with predictions: the columns drift and integrity look at"
    )
    sensitive_features: list[SensitiveFeature] = Field(default_factory=list)
    estimator: Estimator | None = Field(None, description="a declarative pipeline: give this, 'train' or 'predictions'")
    train: TrainCommand | None = Field(
        None, description="the team's own training command: give this, 'estimator' or 'predictions'"
    )
    predictions: Predictions | None = Field(None, description="audit predictions made elsewhere instead of a model")
    seed: int = Field(42, ge=0, le=MAX_SEED, description="seed given to the estimator's random_state")
    model_card: ModelCard = Field(default_factory=ModelCard)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    policy: str = Field("policies/default.yaml", description="policy file, relative to the repo")
    serving: Serving | None = Field(
        None, exclude_if=lambda value: value is None, description="how `mlgate serve` runs the model (see Serving)"
    )
    # Left out of the dump (and so of the spec hash) when absent: specs without it hash as before.
    output: Output | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="how the gates read a non-scikit-learn model's predict output (see Output)",
    )
    # Like ``output``: left out of the dump when absent, so specs without it hash as before.
    decision: Decision | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="binary classifiers: the threshold (and review band) the gates judge and score writes",
    )

    @model_validator(mode="after")
    def _one_subject(self) -> ModelSpec:
        """Exactly one way in: ``estimator`` (mlgate trains), ``train`` (the team's command) or ``predictions``."""
        given = [key for key in ("estimator", "train", "predictions") if getattr(self, key) is not None]
        if len(given) != 1:
            how = ("both " if len(given) == 2 else "") + " and ".join(f"'{k}'" for k in given) if given else "neither"
            message = (
                "say how the model comes to be with exactly one of 'estimator' (mlgate fits a scikit-learn "
                "pipeline), 'train: {command: ...}' (your own command) or 'predictions' (made elsewhere), "
                f"got {how}"
            )
            if len(given) > 1:
                raise LocatedError(message, given[-1])
            raise ValueError(message)
        if self.predictions is not None:
            return self._predictions_spec(self.predictions)
        missing = [key for key in ("data", "target", "features") if getattr(self, key) is None]
        if missing:
            raise LocatedError("required key is missing (a spec that trains a model needs it)", missing[0])
        assert self.data is not None
        assert self.features is not None
        layout = self.data.layout_error()
        if layout:
            raise LocatedError(layout, "data")
        if self.target in self.features.all:
            raise ValueError(f"the target '{self.target}' is also listed as a feature")
        return self

    def _predictions_spec(self, predictions: Predictions) -> ModelSpec:
        """A predictions spec: the file is the evaluation data; ``label_column`` is the target.

        ``data`` may give only ``reference`` (drift); ``features`` are optional (the columns drift
        and integrity look at). ``target`` is filled from ``label_column`` so every gate reads
        one field, and ``features`` left out become an empty list.
        """
        if self.target is not None:
            raise LocatedError("a predictions spec names its outcome in predictions.label_column", "target")
        if self.task != "classification":
            raise LocatedError("predictions specs are classification only for now", "task")
        if self.data is not None:
            extra = [role for role in self.data.files() if role != "reference"] + (["split"] if self.data.split else [])
            if extra:
                message = (
                    f"a predictions spec is evaluated on predictions.path: data may give only 'reference' "
                    f"(drift), not '{extra[0]}'"
                )
                raise LocatedError(message, "data", extra[0])
        self.target = predictions.label_column
        if self.features is None:
            self.features = Features.model_construct(numeric=[], categorical=[])
        columns = {predictions.label_column: "label_column", predictions.output_column: "the output column"}
        for column, role in columns.items():
            if column in self.features.all:
                raise LocatedError(f"'{column}' is {role} of the predictions, not a feature", "features")
        return self

    def input_files(self) -> dict[str, str]:
        """Role → path of every file the spec reads: its data files and a predictions file."""
        files = self.data.files() if self.data is not None else {}
        if self.predictions is not None:
            files["predictions"] = self.predictions.path
        return files

    def file_key(self, role: str) -> tuple[str, ...]:
        """Where the spec names the file of ``role``: ``data.<role>`` or ``predictions.path``."""
        return ("predictions", "path") if role == "predictions" else ("data", role)

    @property
    def is_predictions(self) -> bool:
        """Whether the spec audits predictions made elsewhere (no model to train or promote)."""
        return self.predictions is not None

    # ``data``, ``target`` and ``features`` are optional in the YAML (a predictions spec may leave
    # them out) but set on every validated spec as below: these give them their validated types.
    @property
    def inputs(self) -> Features:
        """The feature columns: set on every validated spec (a predictions spec may have empty lists)."""
        if self.features is None:
            raise ValueError(f"spec '{self.name}' was not validated: it has no features")
        return self.features

    @property
    def target_column(self) -> str:
        """The column to predict: ``target``, or a predictions spec's ``predictions.label_column``."""
        if self.target is None:
            raise ValueError(f"spec '{self.name}' was not validated: it has no target")
        return self.target

    @property
    def dataset(self) -> DataSpec:
        """``data``: required of a spec that trains (an estimator or a command); a predictions spec may omit it."""
        if self.data is None:
            raise ValueError(f"spec '{self.name}' has no data: a predictions spec reads predictions.path")
        return self.data

    @model_validator(mode="after")
    def _output_fits_task(self) -> ModelSpec:
        if self.output is None:
            return self
        classifying = ("probabilities", "label_column", "score_column")
        wrong = ("value_column",) if self.task == "classification" else classifying
        for key in wrong:
            if getattr(self.output, key):
                raise LocatedError(f"'{key}' does not apply to a {self.task} model", "output", key)
        return self

    @model_validator(mode="after")
    def _decision_fits(self) -> ModelSpec:
        """``decision:`` decides a binary classifier's probability; one threshold per spec."""
        if self.decision is None:
            return self
        if self.task != "classification":
            raise LocatedError(
                "a decision threshold applies to a binary classifier's probability; a regression model's "
                "prediction is its value (drop decision:)",
                "decision",
            )
        if self.predictions is not None:
            raise LocatedError("a predictions spec decides with predictions.threshold (drop decision:)", "decision")
        if self.output is not None and self.output.threshold is not None:
            raise LocatedError("give the threshold once: decision.threshold, not output.threshold too", "decision")
        return self

    @property
    def kind(self) -> str:
        """How the model comes to be: ``estimator`` (declarative pipeline), ``command`` or ``predictions``."""
        if self.predictions is not None:
            return "predictions"
        return "estimator" if self.estimator is not None else "command"

    @field_validator("policy")
    @classmethod
    def _policy_in_policies(cls, value: str) -> str:
        error = policy_path_error(value)
        if error:
            raise ValueError(error)
        return value


# --------------------------------------------------------------------------- policy


class Rule(StrictModel):
    """One rule: a metric, exactly one comparison (min, max, max_regression) and a severity."""

    id: str | None = Field(None, description="stable id; defaults to <family>.<metric>")
    min: Finite | None = None
    max: Finite | None = None
    severity: Severity = "block"
    description: str = ""

    @model_validator(mode="after")
    def _one_comparison(self) -> Rule:
        given = [c for c in COMPARISONS if getattr(self, c, None) is not None]
        if len(given) != 1:
            allowed = ", ".join(c for c in COMPARISONS if c in type(self).model_fields)
            raise ValueError(f"give exactly one comparison ({allowed}), got {len(given)}")
        self._in_range()
        return self

    def _range(self) -> catalog.Range | None:
        """The values the rule's metric can take (None: any)."""
        return catalog.METRIC_RANGES.get(str(getattr(self, "metric", None)))

    def _in_range(self) -> None:
        """A min or max outside the values the metric can take is always or never met."""
        metric = getattr(self, "metric", None)
        comparison = self.comparison
        bounds = self._range()
        if comparison == "max_regression" or bounds is None:
            return
        low, high = bounds
        value = self.threshold
        below, above = low is not None and value < low, high is not None and value > high
        if not (below or above):
            return
        if low is not None and high is not None:
            lies, give = f"between {low:g} and {high:g}", f"from {low:g} to {high:g}"
        elif low is not None:
            lies, give = f"at least {low:g}", f"of at least {low:g}"
        else:
            lies, give = f"at most {high:g}", f"of at most {high:g}"
        met = "always" if (comparison == "min") == below else "never"
        message = f"'{metric}' is always {lies}, so {comparison} {value:g} is {met} met: give a value {give}"
        if above and isinstance(self, FairnessRule) and str(metric).endswith("_ratio"):
            message += " (a ratio against a reference_group has no upper bound: a group favoured over it gives above 1)"
        raise LocatedError(message, comparison)

    @property
    def comparison(self) -> str:
        """The comparison the rule gives: ``min``, ``max`` or ``max_regression``."""
        return next(c for c in COMPARISONS if getattr(self, c, None) is not None)

    @property
    def threshold(self) -> float:
        """The value of the rule's comparison."""
        return float(getattr(self, self.comparison))


class PerformanceRule(Rule):
    """Holdout metric, absolute or relative to the production champion."""

    metric: PerformanceMetric
    max_regression: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description=(
            "largest allowed worsening vs the champion, in metric units "
            "(a drop for scores, a rise for errors such as rmse)"
        ),
    )
    class_: str | int | bool | None = Field(
        None,
        alias="class",
        # unset, it is left out of the dump the policy hash is computed from: policies without a
        # per-class rule keep the sha256 their recorded verdicts name
        exclude_if=lambda value: value is None,
        description=(
            "one class of a classifier: the rule judges precision, recall or f1 of that class, one-vs-rest "
            "(default: the positive_label's with two classes, the macro average with more); a class the "
            "model does not have is an error naming the classes it has"
        ),
    )

    @model_validator(mode="after")
    def _class_metric(self) -> PerformanceRule:
        if self.class_ is not None and self.metric not in PER_CLASS_METRICS:
            message = f"'class' applies to {', '.join(PER_CLASS_METRICS)}; {self.metric} is not measured per class"
            raise LocatedError(message, "class")
        return self


class FairnessRule(Rule):
    """A fairlearn disparity metric across the groups of sensitive features."""

    metric: FairnessMetric
    sensitive_features: list[str] | None = Field(None, description="default: all of the spec")
    intersection: bool = Field(False, description="also evaluate intersections of the features")
    groups: list[str] | None = Field(
        None, min_length=1, description="compare only these groups of the rule's one sensitive feature"
    )
    reference_group: str | None = Field(
        None,
        description=(
            "compare every group with this one instead of each with each (see gates/fairness.py); a *_ratio "
            "against it is rate_g / rate_ref, above 1 for a group favoured over it: min judges the smallest "
            "ratio, max the largest (two rules, e.g. min 0.8 and max 1.25, bound both sides)"
        ),
    )

    def _range(self) -> catalog.Range | None:
        """A ratio against a reference group is ``rate_g / rate_ref``: at least 0, above 1 for a favoured group."""
        if self.reference_group is not None and self.metric.endswith("_ratio"):
            return catalog.NON_NEGATIVE
        return super()._range()

    @model_validator(mode="after")
    def _named_groups(self) -> FairnessRule:
        named = "groups" if self.groups is not None else ("reference_group" if self.reference_group else None)
        if named is None:
            return self
        if self.sensitive_features is None or len(self.sensitive_features) != 1 or self.intersection:
            message = (
                f"'{named}' names groups of one sensitive feature: give sensitive_features: [<one name>] "
                "(and no intersection)"
            )
            raise LocatedError(message, named)
        if self.groups is not None:
            for index, group in enumerate(self.groups):
                if self.groups.index(group) < index:
                    raise LocatedError(f"group '{group}' is listed twice", "groups", index)
            if self.reference_group is not None and self.reference_group not in self.groups:
                message = f"'{self.reference_group}' is not one of groups ({', '.join(self.groups)})"
                raise LocatedError(message, "reference_group")
        return self


class DriftRule(Rule):
    """A drift statistic between reference and current data."""

    metric: DriftMetric
    features: list[str] | None = Field(None, description="default: every model feature")


class MonitoringRule(Rule):
    """A rule on what the model saw in production (``mlgate monitor``): its family is the metric's."""

    metric: MonitoringMetric
    features: list[str] | None = Field(None, description="drift and quality: default every model feature")


class IntegrityRule(Rule):
    """A data-integrity check; ``deepchecks`` runs a deepchecks suite (mlgate[deepchecks])."""

    metric: IntegrityMetric
    suite: DeepchecksSuite | None = None

    @model_validator(mode="after")
    def _suite(self) -> IntegrityRule:
        if (self.metric == "deepchecks") != (self.suite is not None):
            raise ValueError("'suite' is required with metric 'deepchecks' and only there")
        return self


class DocumentationRule(StrictModel):
    """A spec field that must be present and non-empty."""

    id: str | None = None
    field: DocumentedField
    severity: Severity = "block"
    description: str = ""


class Gates(StrictModel):
    """Rules per gate family."""

    performance: list[PerformanceRule] = Field(default_factory=list)
    fairness: list[FairnessRule] = Field(default_factory=list)
    drift: list[DriftRule] = Field(default_factory=list)
    integrity: list[IntegrityRule] = Field(default_factory=list)
    documentation: list[DocumentationRule] = Field(default_factory=list)

    def rules(self, family: str) -> list[Any]:
        """The rules of one gate family (``performance``, ``fairness``...)."""
        return list(getattr(self, family))


class FairnessSettings(StrictModel):
    """How fairness groups are formed."""

    min_group_size: int = Field(30, ge=1, description="smaller groups are reported and excluded")


class DriftSettings(StrictModel):
    """How drift statistics are computed."""

    psi_bins: int = Field(10, ge=2, le=MAX_PSI_BINS, description="quantile bins of the reference for PSI")
    psi_epsilon: float = Field(1e-4, gt=0, allow_inf_nan=False, description="smoothing for empty bins")
    feature_psi_threshold: float = Field(0.2, gt=0, allow_inf_nan=False, description="PSI above this = drifted")
    p_value: float = Field(0.05, gt=0, lt=1, allow_inf_nan=False, description="test p-value below this = drifted")


class DegenerateDecisions(StrictModel):
    """The built-in blocking rules against decisions that do not decide (mlgate.gates.decisions).

    Every policy has them, listed or not, for every classifier: no decided class may cover more
    than ``max_class_share`` of the evaluation rows, and every class of the labels must be decided
    for at least ``min_rate_ratio`` times as many rows as hold it (for two classes: the selection
    rate lies in ``[base_rate * r, 1 - (1 - base_rate) * r]``). ``enabled: false`` is the only
    way out, and it is a policy line: on a pull request the base branch's policy decides.
    """

    enabled: bool = Field(True, description="false: no built-in degenerate-decisions rules (say why in the policy)")
    max_class_share: float = Field(
        0.98, gt=0.5, le=1, allow_inf_nan=False, description="largest share of rows one decided class may cover"
    )
    min_rate_ratio: float = Field(
        0.1,
        ge=0,
        lt=1,
        allow_inf_nan=False,
        description="each class decided for at least this times its share of the labels (selection rate band)",
    )


class Settings(StrictModel):
    """Family-wide settings."""

    fairness: FairnessSettings = Field(default_factory=FairnessSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    degenerate_decisions: DegenerateDecisions = Field(
        default_factory=DegenerateDecisions,
        description="built-in blocking rules: a classifier's decisions must not all be (nearly) one class",
    )


LOGIN_PATTERN = r"^(?=.{1,39}$)[A-Za-z0-9](?:-?[A-Za-z0-9])*$"
"""A GitHub login: 1 to 39 letters, digits and single inner hyphens."""


class PinnedUser(StrictModel):
    """An approver named by login *and* GitHub account id: a renamed login's next owner does not count."""

    login: str = Field(min_length=1, max_length=39, pattern=r"^[A-Za-z0-9](?:-?[A-Za-z0-9])*$")
    id: int = Field(ge=1, description="the account's id (GET /users/{login} answers it)")


class Approvers(StrictModel):
    """Who may approve a promotion: GitHub logins (optionally pinned to an account id) and org/team slugs."""

    users: list[str | PinnedUser] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)

    @field_validator("users")
    @classmethod
    def _logins(cls, users: list[str | PinnedUser]) -> list[str | PinnedUser]:
        # an empty or malformed login names nobody: it would look like an approver and count none
        for index, user in enumerate(users):
            if isinstance(user, str) and not re.fullmatch(LOGIN_PATTERN, user):
                raise LocatedError(f"{user!r} is not a GitHub login (letters, digits and single hyphens)", index)
        return users

    @field_validator("teams")
    @classmethod
    def _slugs(cls, teams: list[str]) -> list[str]:
        for index, team in enumerate(teams):
            org, slash, slug = team.partition("/")
            if not (org and slash and slug) or "/" in slug or team.strip() != team:
                raise LocatedError(f"{team!r} is not a team: write it as <org>/<team-slug>", index)
        return teams


ReadinessCheck = Literal[
    "decision", "audit_store", "monitoring_owner", "retraining_trigger", "rollback_rehearsed", "reviews_scheduled"
]
"""What mlgate can verify of a pre-production checklist (mlgate.promotion.readiness says how)."""


class Readiness(StrictModel):
    """The readiness checks a stage requires, each a promotion check in the plan."""

    checks: list[ReadinessCheck] = Field(min_length=1)
    rollback_stage: str = Field(
        "staging", pattern=STAGE_PATTERN, description="rollback_rehearsed: the stage a rollback must be on record in"
    )
    reviews: list[Annotated[int, Field(ge=1, le=MAX_REVIEW_DAYS)]] = Field(
        default_factory=lambda: [30, 90, 180],
        description="reviews_scheduled: the days after deployment the spec's monitoring.reviews must include",
    )

    @field_validator("checks")
    @classmethod
    def _distinct(cls, checks: list[str]) -> list[str]:
        for index, name in enumerate(checks):
            if name in checks[:index]:
                raise LocatedError(f"'{name}' is listed twice", index)
        return checks


_DURATION_PATTERN = r"^[1-9][0-9]{0,5}[mhdw]$"
_DURATION_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> int:
    """``30m``, ``24h``, ``7d``, ``2w`` in seconds (the pattern was checked when the policy was read)."""
    return int(text[:-1]) * _DURATION_SECONDS[text[-1]]


class CompareSettings(StrictModel):
    """How ``mlgate monitor --compare`` judges a canary or shadow against the stable version."""

    min_samples: int = Field(500, ge=1, description="rows per arm before any verdict but 'pending'")
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level of every test")
    max_score_psi: float = Field(0.2, gt=0, description="PSI of the score distributions between the arms")
    max_decision_rate_change: float = Field(
        0.05, gt=0, le=1, description="absolute change of each decision's rate (candidate minus stable)"
    )
    max_performance_drop: float = Field(
        0.02, ge=0, description="drop of the spec's primary metric where labels arrived (stable minus candidate)"
    )


class CanaryPolicy(StrictModel):
    """What a canary or shadow beside a stage needs (``promotion.stages.<stage>.canary``).

    Without this block a stage takes no candidate at all. ``require_gates``, ``approvals`` and
    ``approvers`` default to the stage's own: a version that takes live traffic passes what the
    stage demands unless the policy says otherwise.
    """

    max_traffic: float = Field(0.25, gt=0, lt=1, description="the largest canary traffic release.yaml may ask for")
    require_gates: list[GateFamily] | None = Field(None, description="default: the stage's require_gates")
    approvals: int | None = Field(None, ge=0, description="default: the stage's approvals")
    approvers: Approvers | None = Field(None, description="default: the stage's approvers")
    min_duration: str = Field(
        "1h",
        pattern=_DURATION_PATTERN,
        description="how long the candidate runs (since its alias was set) before compare may say 'promote'",
    )
    compare: CompareSettings = Field(default_factory=CompareSettings)

    @property
    def min_duration_seconds(self) -> int:
        """``min_duration`` in seconds."""
        return duration_seconds(self.min_duration)

    @model_validator(mode="after")
    def _approvers(self) -> CanaryPolicy:
        if self.approvals and self.approvers is not None and not (self.approvers.users or self.approvers.teams):
            raise ValueError("approvals > 0 needs approvers (users or teams)")
        return self


class StageRequirement(StrictModel):
    """What a version needs before it may enter a stage."""

    require_gates: list[GateFamily] = Field(default_factory=list)
    allow_external: bool = Field(
        False,
        description=(
            "let versions registered from elsewhere (`mlgate register`, lineage 'external') into this stage; "
            "their lineage is what the user stated, not what mlgate saw"
        ),
    )
    approvals: int = Field(0, ge=0)
    approvers: Approvers = Field(default_factory=Approvers)
    readiness: Readiness | None = Field(
        None, exclude_if=lambda value: value is None, description="what must be in place before a version enters"
    )
    dismiss_stale_approvals: bool = Field(True, description="approvals given on an older head commit do not count")
    canary: CanaryPolicy | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="allow a canary or shadow beside this stage, and what it needs (absent: none allowed)",
    )

    @model_validator(mode="after")
    def _approvers(self) -> StageRequirement:
        if self.approvals and not (self.approvers.users or self.approvers.teams):
            raise ValueError("approvals > 0 needs approvers (users or teams)")
        return self

    def candidate_requirement(self) -> StageRequirement:
        """What a canary or shadow beside this stage needs: the ``canary`` block over the stage's own settings."""
        settings = self.canary
        if settings is None:
            return self
        return self.model_copy(
            update={
                "require_gates": self.require_gates if settings.require_gates is None else settings.require_gates,
                "approvals": self.approvals if settings.approvals is None else settings.approvals,
                "approvers": self.approvers if settings.approvers is None else settings.approvers,
                "readiness": None,  # a pre-production checklist is for the stage itself, not its candidate
            }
        )


# MLflow keeps these alias names for itself (mlflow.utils.validation._validate_model_alias_name_reserved:
# "latest", any case, and v<digits> / V<digits>); set_alias refuses them, mid-promotion.
_MLFLOW_RESERVED_ALIAS = re.compile(r"^(latest|[vV]\d+)$", re.IGNORECASE)
CHAMPION_ALIAS = "champion"
MAX_STAGE_LENGTH = 100
"""A stage is an alias (MLflow: 255 characters) and part of tag keys (``mlgate.promoted.<stage>.commit``: 250)."""
"""The alias a promotion moves along with the policy's champion stage (:attr:`Promotion.champion_stage`)."""


class ArmKind(StrEnum):
    """One arm of a stage: the stable version, or the candidate release.yaml asks for beside it."""

    STABLE = "stable"  # the stage's own version: answers every request the canary does not take
    CANARY = "canary"  # answers a fixed share of the callers (sticky per caller)
    SHADOW = "shadow"  # scores every request beside the stable one; its answers are audited, never returned


def arm_alias(stage: str, kind: ArmKind) -> str:
    """The MLflow alias an arm follows: ``production``, ``production-canary``, ``production-shadow``."""
    return stage if kind == ArmKind.STABLE else f"{stage}-{kind.value}"


def split_alias(alias: str) -> tuple[str, ArmKind]:
    """``production-canary`` -> (``production``, CANARY); a stage's own alias -> (stage, STABLE)."""
    for kind in (ArmKind.CANARY, ArmKind.SHADOW):
        suffix = f"-{kind.value}"
        if alias.endswith(suffix) and len(alias) > len(suffix):
            return alias.removesuffix(suffix), kind
    return alias, ArmKind.STABLE


def reserved_alias(name: str) -> str:
    """Why ``name`` cannot be a stage (its alias is MLflow's or mlgate's own), or "" when it can."""
    if _MLFLOW_RESERVED_ALIAS.match(name):
        return "MLflow reserves 'latest' and 'v<digits>' as alias names (they address versions)"
    if name == CHAMPION_ALIAS:
        return f"mlgate's '{CHAMPION_ALIAS}' alias follows the last stage of promotion.order"
    if split_alias(name)[1] != ArmKind.STABLE:
        return "a name ending in -canary or -shadow is the alias of a stage's candidate (release.yaml canary:/shadow:)"
    return ""


class Notify(StrictModel):
    """What ``promote --apply`` tells other systems once a change has taken effect (default: nothing)."""

    dispatch: bool = Field(False, description="a repository_dispatch event 'mlgate-promoted' per change")
    gto_tags: bool = Field(False, description="a GTO tag <model>#<stage>#<n> per assignment, at the merge commit")


class Promotion(StrictModel):
    """Per-stage promotion requirements."""

    order: list[str] = Field(default_factory=list, description="e.g. [staging, production]")
    stages: dict[str, StageRequirement] = Field(default_factory=dict)
    # Left out of the dump (and so of the policy hash) when absent: what is told to whom judges nothing.
    notify: Notify | None = Field(None, exclude=True, description="deploy hooks run after the registry moved")

    @property
    def champion_stage(self) -> str | None:
        """The stage whose holder is the champion: the last stage of ``order`` (None: no order, no champion).

        ``max_regression`` rules compare with the version holding this stage's alias, and a
        promotion into it moves the ``champion`` alias too. Derived, never a fixed name: a
        policy whose last stage is ``prod`` has its champion in ``prod``.
        """
        return self.order[-1] if self.order else None

    @field_validator("stages")
    @classmethod
    def _stage_names(cls, stages: dict[str, StageRequirement]) -> dict[str, StageRequirement]:
        for name in stages:
            if not re.match(STAGE_PATTERN, name):
                raise LocatedError(f"stage names must match {STAGE_PATTERN}, got {name!r}", name, key=True)
            if len(name) > MAX_STAGE_LENGTH:
                message = f"stage names are at most {MAX_STAGE_LENGTH} characters, got {len(name)}"
                raise LocatedError(message, name, key=True)
            why = reserved_alias(name)
            if why:
                raise LocatedError(f"stage name '{name}' is reserved: {why}", name, key=True)
        return stages

    @model_validator(mode="after")
    def _order_known(self) -> Promotion:
        for index, name in enumerate(self.order):
            if name in self.order[:index]:  # a stage twice: "before" would be itself, and the order ambiguous
                raise LocatedError(f"'{name}' is listed twice: each stage comes once in the order", "order", index)
        unknown = [s for s in self.order if s not in self.stages]
        if unknown:
            raise ValueError(f"order names stages not defined under 'stages': {', '.join(unknown)}")
        for name, stage in self.stages.items():
            ready = stage.readiness
            if ready and "rollback_rehearsed" in ready.checks and ready.rollback_stage not in self.stages:
                raise LocatedError(
                    f"rollback_stage '{ready.rollback_stage}' is not a stage defined under 'stages'",
                    "stages",
                    name,
                    "readiness",
                    "rollback_stage",
                )
        return self


class Governance(StrictModel):
    """Who approves a governance change (policies, judging fields, workflows, pins).

    The ``mlgate / governance`` check reads it from the base commit's ``policies/default.yaml``.
    """

    approvals: int = Field(1, ge=1)
    approvers: Approvers = Field(default_factory=Approvers)

    @model_validator(mode="after")
    def _approvers(self) -> Governance:
        if not (self.approvers.users or self.approvers.teams):
            raise ValueError("governance needs approvers (users or teams)")
        return self


TrustedFormat = Literal["pickle", "cloudpickle", "pytorch", "code", "other"]
"""Model serializations that run code when loaded (see mlgate.registry.flavours)."""


class Trust(StrictModel):
    """Model serializations that run code on load, which the gates may load for this policy's models.

    skops (with mlgate's allow-list), XGBoost json/ubj and LightGBM text run no code and need no
    entry; everything else does: ``pickle``, ``cloudpickle`` (also a ``PythonModel`` object),
    ``pytorch``, ``code`` (Python files logged with the model: models from code, ``code_paths``)
    and ``other`` (a flavour mlgate does not know, loaded by the MLmodel's ``loader_module``).
    """

    formats: list[TrustedFormat] = Field(
        default_factory=list, description="code-executing model formats the gates may load"
    )

    @field_validator("formats")
    @classmethod
    def _distinct(cls, formats: list[str]) -> list[str]:
        for index, name in enumerate(formats):
            if name in formats[:index]:
                raise LocatedError(f"'{name}' is listed twice", index)
        return formats


_MODULE_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\.$")


_TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class Training(StrictModel):
    """How models may be trained under this policy."""

    estimator_modules: list[str] = Field(
        default_factory=list,
        description=(
            "module prefixes whose estimator classes specs may name, besides sklearn., xgboost., lightgbm. and "
            "catboost. (e.g. 'mycompany.models.'); their types are also trusted when mlgate loads a skops model"
        ),
    )

    # Left out of the dump (and so of the policy hash) when empty: policies without it hash as before.
    skops_trusted_types: list[str] = Field(
        default_factory=list,
        exclude_if=lambda value: not value,
        description=(
            "exact type names (e.g. 'operator.itemgetter') mlgate's skops loader trusts besides scikit-learn, "
            "numpy, scipy and the estimator modules; what MLflow's log_model(skops_trusted_types=...) names"
        ),
    )

    @field_validator("skops_trusted_types")
    @classmethod
    def _type_names(cls, names: list[str]) -> list[str]:
        for index, name in enumerate(names):
            if not _TYPE_NAME.match(name):
                message = f"'{name}' is not a type name: give module and name, e.g. 'operator.itemgetter'"
                raise LocatedError(message, index)
            from mlgate.registry import never_trusted  # the allow-list's own module; loaded only with entries

            if never_trusted(name):
                message = (
                    f"'{name}' is never trusted: a model holding it can run commands or touch files when it "
                    "predicts; select columns with sklearn (ColumnTransformer) instead"
                )
                raise LocatedError(message, index)
        return names

    @field_validator("estimator_modules")
    @classmethod
    def _prefixes(cls, prefixes: list[str]) -> list[str]:
        for index, prefix in enumerate(prefixes):
            if not _MODULE_PREFIX.match(prefix):
                message = (
                    f"'{prefix}' is not a module prefix: give dotted module names ending in '.', e.g. 'mycompany.'"
                )
                raise LocatedError(message, index)
            top = prefix.split(".")[0]
            if top in sys.stdlib_module_names:
                message = (
                    f"'{prefix}' is in Python's standard library, which holds no estimators and much that runs "
                    "commands: name the package of your estimators"
                )
                raise LocatedError(message, index)
        return prefixes


class Policy(StrictModel):
    """``policies/*.yaml``: the rules a model must pass and who approves each stage."""

    extends: str | None = Field(None, description="base policy, relative to this file")
    description: str = ""
    gates: Gates = Field(default_factory=Gates)
    settings: Settings = Field(default_factory=Settings)
    training: Training = Field(default_factory=Training)
    promotion: Promotion = Field(default_factory=Promotion)
    # Left out of the dump (and so of the policy hash) when absent: policies without it hash as before.
    trust: Trust | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="code-executing model formats the gates may load (default: none)",
    )
    # exclude: not part of the policy hash (who approves a change does not judge a model)
    governance: Governance | None = Field(None, exclude=True)
    # exclude: watching production does not judge a version at promotion
    monitoring: list[MonitoringRule] | None = Field(
        None, exclude=True, description="rules mlgate monitor evaluates on production traffic"
    )


# --------------------------------------------------------------------------- release


DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"  # mlgate.registry.ArtifactDigest.digest
_STAGE_HELP = 'a version number, or {version: N, digest: "sha256:<64 hex digits>"}'


class PinnedVersion(StrictModel):
    """One stage of a release: the version, and the digest of its files the promotion pinned.

    Written ``stage: N`` (legacy: no digest; score and serve refuse it without ``--allow-unpinned``)
    or ``stage: {version: N, digest: "sha256:…"}`` (what ``mlgate propose-promotion`` and
    ``mlgate pin`` write).
    """

    version: int = Field(ge=1, le=MAX_VERSION)
    digest: str | None = Field(description="sha256 manifest digest of the version's files (mlgate pin)")

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= MAX_VERSION:  # said here, at the stage's key, as the legacy form was read
                raise ValueError(f"expected a version from 1 to {MAX_VERSION}, got number {value}")
            return {"version": value, "digest": None}
        if not isinstance(value, dict):
            raise ValueError(f"expected {_STAGE_HELP}, got {_yaml_kind(value)}")  # noqa: TRY004 — pydantic reports ValueError, not TypeError
        return value

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(DIGEST_PATTERN, value):
            raise ValueError(f"expected sha256:<64 lowercase hex digits>, got {_yaml_kind(value)}")
        return value


_STAGE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_VERSION, "description": "version, unpinned (legacy)"},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["version", "digest"],
            "properties": {
                "version": {"type": "integer", "minimum": 1, "maximum": MAX_VERSION},
                "digest": {"type": "string", "pattern": DIGEST_PATTERN},
            },
            "description": "version and the digest of its files (mlgate propose-promotion, mlgate pin)",
        },
        {"type": "null", "description": "stage empty"},
    ]
}


class ShadowEntry(StrictModel):
    """A shadow beside a stage: scored on every request, audited, never answering. Always pinned."""

    version: int = Field(ge=1, le=MAX_VERSION)
    digest: str = Field(pattern=DIGEST_PATTERN, description="sha256 manifest digest of the version's files")


class CanaryEntry(ShadowEntry):
    """A canary beside a stage: answers ``traffic`` of the callers (sticky per caller). Always pinned."""

    traffic: float = Field(gt=0, lt=1, description="share of the callers the canary answers, e.g. 0.10")


@dataclass(frozen=True)
class Candidate:
    """The candidate release.yaml asks for beside a stage: a canary or a shadow."""

    stage: str
    kind: ArmKind
    version: int
    digest: str
    traffic: float  # a shadow answers nobody: 0.0

    @property
    def alias(self) -> str:
        """The MLflow alias the candidate follows (``production-canary``)."""
        return arm_alias(self.stage, self.kind)


class Release(StrictModel):
    """``models/<name>/release.yaml``: the desired registry version per stage (and its pinned digest).

    ``canary:`` and ``shadow:`` ask for a candidate beside a stage (``production: {version: 4,
    digest: …, traffic: 0.10}``): at most one per stage, beside a stage that holds a version, never
    that version itself. Whether the policy lets a stage have one (and how much traffic) is checked
    where the policy is known (``config.load_model_context``).
    """

    model: str = Field(pattern=NAME_PATTERN)
    stages: dict[str, Annotated[PinnedVersion | None, WithJsonSchema(_STAGE_SCHEMA)]] = Field(
        default_factory=dict,
        description='stage -> version, or {version, digest: "sha256:…"} (null: stage empty)',
    )
    canary: dict[str, CanaryEntry] = Field(
        default_factory=dict,
        exclude_if=lambda value: not value,
        description='stage -> {version, digest: "sha256:…", traffic: 0.10}: a canary beside the stage',
    )
    shadow: dict[str, ShadowEntry] = Field(
        default_factory=dict,
        exclude_if=lambda value: not value,
        description='stage -> {version, digest: "sha256:…"}: a shadow beside the stage',
    )

    @model_validator(mode="after")
    def _candidates(self) -> Release:
        for kind, entries in ((ArmKind.CANARY, self.canary), (ArmKind.SHADOW, self.shadow)):
            for stage, entry in entries.items():
                stable = self.stages.get(stage)
                if stable is None:
                    message = f"a {kind} needs a version in stages -> {stage} to run beside"
                    raise LocatedError(message, kind.value, stage, key=True)
                if entry.version == stable.version:
                    message = f"v{entry.version} already holds {stage}: a {kind} is another version"
                    raise LocatedError(message, kind.value, stage, "version")
        both = sorted(set(self.canary) & set(self.shadow))
        if both:
            message = f"{both[0]} has both a canary and a shadow: at most one candidate per stage"
            raise LocatedError(message, "shadow", both[0], key=True)
        return self

    def versions(self) -> dict[str, int | None]:
        """``{stage: version}`` (None: the stage is to be empty)."""
        return {stage: (entry.version if entry else None) for stage, entry in self.stages.items()}

    def candidate(self, stage: str) -> Candidate | None:
        """The canary or shadow beside ``stage`` (None: only the stable version)."""
        canary = self.canary.get(stage)
        if canary is not None:
            return Candidate(stage, ArmKind.CANARY, canary.version, canary.digest, canary.traffic)
        shadow = self.shadow.get(stage)
        if shadow is not None:
            return Candidate(stage, ArmKind.SHADOW, shadow.version, shadow.digest, 0.0)
        return None

    def candidates(self) -> list[Candidate]:
        """Every candidate, in the order of ``stages``."""
        return [c for c in (self.candidate(stage) for stage in self.stages) if c is not None]

    def arm_versions(self) -> dict[str, int]:
        """``{"production-canary": 4}``: the version each candidate's alias is to point at."""
        return {c.alias: c.version for c in self.candidates()}

    def entry(self, alias: str) -> PinnedVersion | None:
        """What release.yaml asks for under an alias: a stage's entry, or a candidate's (``production-canary``)."""
        stage, kind = split_alias(alias)
        if kind == ArmKind.STABLE:
            return self.stages.get(alias)
        candidate = self.candidate(stage)
        if candidate is None or candidate.kind != kind:
            return None
        return PinnedVersion(version=candidate.version, digest=candidate.digest)


# --------------------------------------------------------------------------- error mapping

_TYPE_WORDS = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _yaml_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {excerpt(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated/Union down to the first BaseModel or container inside."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            if arg is not type(None):
                found = _unwrap(arg)
                if found is not None:
                    return found
        return None
    return annotation


def _model_at(root: type[BaseModel], loc: KeyPath) -> type[BaseModel] | None:
    """The pydantic model that holds the mapping at ``loc`` (for key suggestions)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unknown_key_message(root: type[BaseModel], loc: KeyPath) -> str:
    model = _model_at(root, loc[:-1])
    if model is None:
        return "unknown key"
    allowed = [f.alias or n for n, f in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    return f"unknown key (allowed: {', '.join(allowed)})"


def _suggest(value: Any, expected: str) -> str:
    """`` (did you mean 'x'?)`` for a value close to one of the allowed ones, else nothing."""
    if not isinstance(value, str):
        return ""
    allowed = re.findall(r"'([^']*)'", expected)
    typed = value.strip().lower().replace("-", "_").replace(" ", "_").removeprefix("neg_")
    alias = catalog.METRIC_ALIASES.get(typed)
    close = [alias] if alias in allowed else difflib.get_close_matches(typed, allowed, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close and close[0] != value else ""


def _message(root: type[BaseModel], error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key_message(root, tuple(error["loc"]))
    if kind == "missing":
        return "required key is missing"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {_yaml_kind(error['input'])}"
    if kind == "finite_number":
        return f"expected a finite number, got {_yaml_kind(error['input'])}"
    if kind == "literal_error":
        expected = error["ctx"]["expected"]
        return f"expected {expected}, got {_yaml_kind(error['input'])}{_suggest(error['input'], expected)}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


# pydantic appends the union member it tried (``int``, ``str``, ``constrained-int``) to the
# loc of an error inside a union; drop those tags so the path is the YAML path the user wrote.
_UNION_TAG = re.compile(r"^(int|str|float|bool|none|constrained-\w+|function-\w+)$")


def _clean_loc(loc: tuple[Any, ...]) -> KeyPath:
    return tuple(p for p in loc if isinstance(p, int) or not _UNION_TAG.match(str(p)))


_Model = TypeVar("_Model", bound=BaseModel)


def parse(model: type[_Model], doc: Document) -> _Model:
    """Validate ``doc`` as ``model``; raise :class:`SpecError` with every located problem."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            loc = _clean_loc(tuple(error["loc"]))
            raised = error.get("ctx", {}).get("error")
            loc += getattr(raised, "loc", ())
            is_key = error["type"] == "extra_forbidden" or getattr(raised, "key", False)
            problems.append(doc.problem(loc, _message(model, error), key=is_key))
        raise SpecError(_dedupe(problems)) from None


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: dict[str, Problem] = {}
    for problem in problems:
        seen.setdefault(str(problem), problem)
    return list(seen.values())


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to the repo root when it is inside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def load_model_spec(path: Path, root: Path) -> tuple[ModelSpec, Document]:
    """Read and validate a ``model.yaml``; the spec and its document (to locate problems)."""
    doc = load(path, display_path(path, root))
    return parse(ModelSpec, doc), doc


def load_release(path: Path, root: Path) -> tuple[Release, Document]:
    """Read and validate a ``release.yaml``; the release and its document (to locate problems)."""
    doc = load(path, display_path(path, root))
    return parse(Release, doc), doc


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas of the three governance file kinds (published in resources/schemas)."""
    return {
        "model": ModelSpec.model_json_schema(by_alias=True),
        "policy": Policy.model_json_schema(by_alias=True),
        "release": Release.model_json_schema(by_alias=True),
    }
