"""Integrity gate, native metrics: is the data the model was trained and judged on fit for that purpose?

Computed here with vectorised pandas. Rows are compared as ``DataFrame.duplicated`` compares
them (NaN equals NaN, -0.0 equals 0.0): pandas' row hash first picks the rows that can equal
another one, and only those are grouped by value (a million rows of 26 columns: under a second).
Each metric returns a :class:`~mlgate.gates.Measurement` whose explanation names the worst column
or the counts and whose ``details`` hold a small table for the report. Where deepchecks has a
check for the same thing, the definition follows it (``DataDuplicates``, ``ConflictingLabels``,
``TrainTestSamplesMix``, ``IsSingleValue``) so the numbers agree with its suites.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlgate.config import NATIVE_INTEGRITY_METRICS
from mlgate.gates import Measurement

NATIVE_METRICS = NATIVE_INTEGRITY_METRICS
MAX_VALUES = 10  # unseen category values listed per column
MAX_EXAMPLES = 5  # example rows listed for duplicates, conflicts and overlap
MAX_NAMED = 3  # columns named in a one-line explanation

_NUMERIC_TYPES = frozenset({"integer", "long", "float", "double"})
_INTEGER_TYPES = frozenset({"integer", "long"})
_CHECKED_TYPES = _NUMERIC_TYPES | {"boolean", "datetime", "string", "binary"}


@dataclass
class IntegrityData:
    """What the integrity gate looks at: prepared train and holdout frames and the model's inputs.

    ``signature`` is the MLflow input signature as (column, MLflow type name such as ``long``,
    ``double``, ``string``), or None when the model was logged without one.
    """

    train: pd.DataFrame
    holdout: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    target: str
    signature: list[tuple[str, str]] | None = None
    text: list[str] = field(default_factory=list)  # free text: never categories (no unseen-category check)
    scope: str = "train + holdout"  # what the rows are, as the explanations say (monitoring: production)
    # the stacked rows and each column's row hashes, computed once for all the metrics that compare rows
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def features(self) -> list[str]:
        """The model's input columns: numeric, then categorical, then text."""
        return [*self.numeric, *self.categorical, *self.text]

    @property
    def columns(self) -> list[str]:
        """The features and the target: the columns a row is compared on."""
        return [*self.features, self.target]


# --------------------------------------------------------------------------- native metrics


def integrity_measurement(metric: str, data: IntegrityData) -> Measurement:
    """Measure one native integrity ``metric`` on ``data`` (``deepchecks`` is not one)."""
    if metric not in _MEASURES:
        if metric == "deepchecks":
            raise ValueError("the 'deepchecks' metric runs a suite: use deepchecks_results()")
        raise ValueError(f"unknown integrity metric '{metric}' (known: {', '.join(NATIVE_METRICS)})")
    return _MEASURES[metric](data)


class ColumnNulls(TypedDict):
    """One column of the ``null_fraction`` table (report details)."""

    column: str
    fraction: float
    nulls: int
    train_nulls: int
    holdout_nulls: int


class UnseenCategories(TypedDict):
    """One column of the ``unseen_categories`` table (report details)."""

    column: str
    rows: int
    new_values: int
    values: list[str]


class ConflictExample(TypedDict):
    """One group of rows with equal features and different labels (``conflicting_labels`` details)."""

    row: str
    rows: int
    labels: list[str]


def _null_fraction(data: IntegrityData) -> Measurement:
    missing = _missing_columns(data, data.columns)
    if missing is not None:
        return missing
    nulls = {
        column: (int(data.train[column].isna().sum()), int(data.holdout[column].isna().sum()))
        for column in data.columns
    }
    return null_fraction(nulls, (len(data.train), len(data.holdout)), data.scope)


def null_fraction(nulls: dict[str, tuple[int, int]], rows_in: tuple[int, int], scope: str) -> Measurement:
    """The null-fraction measurement from counts, whichever engine counted them.

    ``nulls``: column → (missing values in train, in holdout); ``rows_in``: (train rows, holdout rows).
    """
    rows = sum(rows_in)
    if rows == 0:
        return Measurement.failed("train and holdout hold no rows")
    table: list[ColumnNulls] = []
    for column, (in_train, in_holdout) in nulls.items():
        table.append(
            {
                "column": column,
                "fraction": (in_train + in_holdout) / rows,
                "nulls": in_train + in_holdout,
                "train_nulls": in_train,
                "holdout_nulls": in_holdout,
            }
        )
    table.sort(key=lambda row: (-row["fraction"], row["column"]))
    worst = table[0]
    if worst["nulls"] == 0:
        explanation = f"no missing values in {len(table)} columns ({rows} rows, {scope})"
    else:
        explanation = (
            f"largest null fraction {_pct(worst['fraction'])} in '{worst['column']}' "
            f"({worst['nulls']} of {rows} rows, {scope})"
        )
        others = sum(1 for row in table[1:] if row["nulls"])
        if others:
            explanation += f"; {others} other column(s) have nulls"
    return Measurement(value=worst["fraction"], explanation=explanation, details={"columns": table})


def _duplicate_rows(data: IntegrityData) -> Measurement:
    missing = _missing_columns(data, data.columns)
    if missing is not None:
        return missing
    rows = len(data.train) + len(data.holdout)
    if rows == 0:
        return Measurement.failed("train and holdout hold no rows")
    split = len(data.train)
    positions, groups = _equal_rows(_rows_of(data, data.columns), _hashes_of(data, data.columns))
    repeated = pd.Series(groups).duplicated(keep="first").to_numpy()  # a copy of an earlier row
    count = int(repeated.sum())
    ids, first, copies = np.unique(groups, return_index=True, return_counts=True)
    most_copied = np.lexsort((ids, -copies))[:MAX_EXAMPLES]  # ties: the first seen first
    examples = [{"row": _where(int(positions[first[i]]), split), "copies": int(copies[i])} for i in most_copied]
    where = (int((repeated & (positions < split)).sum()), int((repeated & (positions >= split)).sum()))
    return duplicate_rows(count, rows, where, len(ids), examples, data.scope)


def duplicate_rows(
    count: int, rows: int, where: tuple[int, int], repeated_rows: int, examples: list[dict[str, Any]], scope: str
) -> Measurement:
    """The ``duplicate_rows`` measurement from counts, whichever engine counted them.

    ``count``: rows equal to an earlier row; ``where``: how many of them are in train, in holdout;
    ``repeated_rows``: distinct rows that occur more than once; ``examples``: the most copied (may be empty).
    """
    details = {
        "rows": rows,
        "duplicate_rows": count,
        "in_train": where[0],
        "in_holdout": where[1],
        "repeated_rows": repeated_rows,
        "examples": examples,
        "definition": "rows equal to an earlier row (features + target): deepchecks DataDuplicates",
    }
    if count == 0:
        explanation = f"no duplicate rows among {rows} (features + target, {scope})"
    else:
        explanation = (
            f"{count} of {rows} rows ({_pct(count / rows)}) repeat an earlier row (features + target, {scope})"
        )
        if examples:
            explanation += f"; most copied: {examples[0]['row']} x{examples[0]['copies']}"
    return Measurement(value=count / rows, explanation=explanation, details=details)


def _constant_columns(data: IntegrityData) -> Measurement:
    missing = _missing_columns(data, data.features, holdout=False)
    if missing is not None:
        return missing
    if len(data.train) == 0:
        return Measurement.failed("the training data holds no rows")
    constant = []
    for column in data.features:
        single, value = _single_value(data.train[column])
        if single:
            constant.append({"column": column, "value": None if value is None else str(value)})
    names = [row["column"] for row in constant]
    checked = len(data.features)
    if not constant:
        explanation = f"no feature column is constant in train ({checked} checked)"
    else:
        shown = ", ".join(f"'{row['column']}' ({_constant_value(row['value'])})" for row in constant[:MAX_NAMED])
        explanation = f"{len(constant)} of {checked} feature columns are constant in train: {shown}"
        explanation += _more(len(constant))
    details = {
        "constant": constant,
        "columns": names,
        "checked": checked,
        "definition": (
            "at most one distinct non-null value in train (deepchecks IsSingleValue, which "
            "ignores nulls; an all-null column counts here too)"
        ),
    }
    return Measurement(value=float(len(constant)), explanation=explanation, details=details)


def _unseen_categories(data: IntegrityData) -> Measurement:
    missing = _missing_columns(data, data.categorical)
    if missing is not None:
        return missing
    rows = len(data.holdout)
    if rows == 0:
        return Measurement.failed("the holdout data holds no rows")
    if not data.categorical:
        return Measurement(value=0.0, explanation="no categorical features to check")
    any_unseen = np.zeros(rows, dtype=bool)
    table: list[UnseenCategories] = []
    for column in data.categorical:
        holdout = data.holdout[column]
        unseen = ~holdout.isin(pd.unique(data.train[column].to_numpy())).to_numpy()
        if unseen.any():  # a null is never an unseen category
            unseen[unseen] = holdout[unseen].notna().to_numpy()
        any_unseen |= unseen
        if unseen.any():
            counts = holdout[unseen].value_counts()
            counts = counts[counts > 0]  # a categorical dtype lists its unused categories too
            table.append(
                {
                    "column": column,
                    "rows": int(unseen.sum()),
                    "new_values": len(counts),
                    "values": [str(v) for v in counts.index[:MAX_VALUES]],
                }
            )
    table.sort(key=lambda row: (-row["rows"], row["column"]))
    count = int(any_unseen.sum())
    if count == 0:
        explanation = f"every category in the holdout was seen in train ({len(data.categorical)} columns)"
    else:
        top = table[0]
        listed = ", ".join(repr(v) for v in top["values"][:MAX_NAMED])
        explanation = (
            f"{count} of {rows} holdout rows ({_pct(count / rows)}) have a category unseen in "
            f"train; most in '{top['column']}': {_rows(top['rows'])}, "
            f"{top['new_values']} new value(s) "
            f"({listed}{', ...' if top['new_values'] > MAX_NAMED else ''})"
        )
    details = {"columns": table, "holdout_rows": rows, "rows_with_unseen": count}
    return Measurement(value=count / rows, explanation=explanation, details=details)


def _schema_mismatch(data: IntegrityData) -> Measurement:
    if data.signature is None:
        missing = _missing_columns(data, data.columns, holdout=False)
        if missing:
            return missing
        expected = [(c, _type_of(data.train[c])) for c in data.columns]
        source = "train dtypes"
        lead = "no model signature: holdout compared with the training data's types"
    else:
        expected = [(str(c), str(t)) for c, t in data.signature]
        in_signature = {c for c, _ in expected}
        source = "model signature"
        lead = "holdout compared with the model signature"
    table = []
    unchecked = []
    for column, mlflow_type in expected:
        problem: str | None
        if column not in data.holdout.columns:
            problem = "is missing from the holdout data"
        elif mlflow_type not in _CHECKED_TYPES:
            unchecked.append({"column": column, "expected": mlflow_type})
            continue
        else:
            problem = _type_problem(data.holdout[column], mlflow_type)
        if problem:
            found = str(data.holdout[column].dtype) if column in data.holdout.columns else "missing"
            table.append({"column": column, "expected": mlflow_type, "found": found, "problem": problem})
    if data.signature is not None:
        for column in data.features:
            if column not in in_signature:
                found = str(data.holdout[column].dtype) if column in data.holdout.columns else "missing"
                table.append(
                    {
                        "column": column,
                        "expected": "absent",
                        "found": found,
                        "problem": "is a model feature the signature does not list",
                    }
                )
    checked = len(expected) - len(unchecked)
    if not table:
        explanation = f"{lead}: all {checked} columns fit"
    else:
        shown = "; ".join(f"'{row['column']}' ({row['expected']}) {row['problem']}" for row in table[:MAX_NAMED])
        explanation = f"{lead}: {len(table)} column(s) do not fit: {shown}{_more(len(table))}"
    details = {"source": source, "checked": checked, "mismatches": table, "unchecked": unchecked}
    return Measurement(value=float(len(table)), explanation=explanation, details=details)


def _conflicting_labels(data: IntegrityData) -> Measurement:
    missing = _missing_columns(data, data.columns)
    if missing is not None:
        return missing
    rows = len(data.train) + len(data.holdout)
    if rows == 0:
        return Measurement.failed("train and holdout hold no rows")
    split = len(data.train)
    # Rows whose feature values another row shares, grouped by those values.
    positions, groups = _equal_rows(_rows_of(data, data.columns), _hashes_of(data, data.features), data.features)
    target = _stacked(data, data.target).iloc[positions].reset_index(drop=True)
    labels, _ = pd.factorize(target, use_na_sentinel=False)
    per_group = pd.Series(labels).groupby(groups).nunique()  # in order of first appearance
    ambiguous_groups = per_group.index[per_group.to_numpy() > 1]
    ambiguous = np.isin(groups, ambiguous_groups)
    count = int(ambiguous.sum())
    examples: list[ConflictExample] = []
    for group in ambiguous_groups[:MAX_EXAMPLES]:
        members = groups == group
        examples.append(
            {
                "row": _where(int(positions[np.argmax(members)]), split),
                "rows": int(members.sum()),
                "labels": sorted(str(v) for v in pd.unique(target[members])),
            }
        )
    return conflicting_labels(count, rows, len(ambiguous_groups), examples, data.scope)


def conflicting_labels(count: int, rows: int, groups: int, examples: list[ConflictExample], scope: str) -> Measurement:
    """The ``conflicting_labels`` measurement from counts, whichever engine counted them.

    ``count``: rows whose feature values occur with more than one target value; ``groups``: such
    feature values; ``examples``: some of them (may be empty).
    """
    details = {
        "rows": rows,
        "ambiguous_rows": count,
        "groups": groups,
        "examples": examples,
        "definition": (
            "share of rows whose feature values occur with more than one target value; every "
            "row of such a group counts (deepchecks ConflictingLabels: percent of ambiguous "
            "samples)"
        ),
    }
    if count == 0:
        explanation = f"no conflicting labels among {rows} rows ({scope})"
    else:
        explanation = (
            f"{count} of {rows} rows ({_pct(count / rows)}) share identical features with a row of "
            f"another label ({groups} group(s)"
        )
        if examples:
            first = examples[0]
            explanation += f"; e.g. {first['row']}: labels {', '.join(first['labels'])}"
        explanation += ")"
    return Measurement(value=count / rows, explanation=explanation, details=details)


def _train_holdout_overlap(data: IntegrityData) -> Measurement:
    missing = _missing_columns(data, data.columns)
    if missing is not None:
        return missing
    rows = len(data.holdout)
    if rows == 0:
        return Measurement.failed("the holdout data holds no rows")
    split = len(data.train)
    frame = _rows_of(data, data.columns)
    # Features first (to count feature-only overlap), then whole rows among those.
    positions, groups = _equal_rows(frame, _hashes_of(data, data.features), data.features)
    positions = positions[_in_both(positions, groups, split)]
    same_features = int((positions >= split).sum())
    within, groups = _equal_rows(frame.iloc[positions], _hashes_of(data, data.columns)[positions])
    positions = positions[within][_in_both(positions[within], groups, split)]
    leaked = positions[positions >= split] - split
    examples = [f"holdout row {int(i)}" for i in leaked[:MAX_EXAMPLES]]
    return train_holdout_overlap(len(leaked), rows, same_features, examples)


def train_holdout_overlap(count: int, rows: int, same_features: int, examples: list[str]) -> Measurement:
    """The ``train_holdout_overlap`` measurement from counts, whichever engine counted them.

    ``count``: holdout rows whose features and target appear identically in train; ``same_features``:
    holdout rows whose feature values a training row shares; ``examples``: some of them (may be empty).
    """
    details = {
        "holdout_rows": rows,
        "overlapping_rows": count,
        "same_features_rows": same_features,
        "examples": examples,
        "definition": (
            "holdout rows whose features and target appear identically in train (deepchecks TrainTestSamplesMix)"
        ),
    }
    if count == 0:
        explanation = f"none of the {rows} holdout rows appears in train (features + target)"
    else:
        explanation = (
            f"{count} of {rows} holdout rows ({_pct(count / rows)}) appear identically in train (features + target)"
        )
        if examples:
            explanation += f", e.g. {examples[0]}"
    if same_features > count:
        explanation += f"; {same_features} share their feature values with a training row"
    return Measurement(value=count / rows, explanation=explanation, details=details)


_MEASURES: dict[str, Callable[[IntegrityData], Measurement]] = {
    "null_fraction": _null_fraction,
    "duplicate_rows": _duplicate_rows,
    "constant_columns": _constant_columns,
    "unseen_categories": _unseen_categories,
    "schema_mismatch": _schema_mismatch,
    "conflicting_labels": _conflicting_labels,
    "train_holdout_overlap": _train_holdout_overlap,
}


# --------------------------------------------------------------------------- helpers


def _missing_columns(data: IntegrityData, columns: list[str], *, holdout: bool = True) -> Measurement | None:
    """A failed measurement naming columns absent from train (or holdout), else None."""
    frames = [("train", data.train)] + ([("holdout", data.holdout)] if holdout else [])
    problems = []
    for name, frame in frames:
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            problems.append(f"{', '.join(repr(c) for c in absent)} missing from the {name} data")
    if not problems:
        return None
    return Measurement.failed("column " + "; ".join(problems))


def _stacked(data: IntegrityData, column: str) -> pd.Series:
    """Train then holdout values of one column, in one dtype (see :func:`_rows_of`)."""
    rows = _rows_of(data, data.columns) if column in data.columns else _rows_of(data, [column])
    return rows[column]


def _rows_of(data: IntegrityData, columns: list[str]) -> pd.DataFrame:
    """Train then holdout rows over ``columns``, each column in one dtype.

    Stacking gives both parts one dtype: an int column in train and the same column read as
    float in the holdout (a NaN makes it float) become float, so equal values compare equal.
    The rows of all the compared columns are stacked once (each column's dtype is decided alone,
    so a selection of them is what stacking the selection gives); asking for all of them copies nothing.
    """
    everywhere = all(c in frame.columns for frame in (data.train, data.holdout) for c in data.columns)
    if everywhere and set(columns) <= set(data.columns):
        if "rows" not in data._cache:
            data._cache["rows"] = _concat(data, data.columns)
        rows: pd.DataFrame = data._cache["rows"]
        return rows if list(columns) == list(rows.columns) else rows[columns]
    return _concat(data, columns)


def _concat(data: IntegrityData, columns: list[str]) -> pd.DataFrame:
    parts = [frame[columns] for frame in (data.train, data.holdout) if len(frame)]
    # no empty part: pandas warns on those
    return pd.concat(parts, ignore_index=True) if parts else data.train[columns]


def _hashes_of(data: IntegrityData, columns: list[str]) -> NDArray[np.uint64]:
    """A 64-bit hash of each stacked row over ``columns``: alike for equal rows (see :func:`_row_hashes`).

    Combined from each column's hashes, which are computed once per column for every metric. A
    collision only adds a candidate that :func:`_equal_rows` then finds equal to no other row.
    """
    hashes: dict[str, NDArray[np.uint64]] = data._cache.setdefault("hashes", {})
    rows = _rows_of(data, data.columns) if set(columns) <= set(data.columns) else _rows_of(data, columns)
    out = np.zeros(len(rows), dtype=np.uint64)
    for column in columns:
        if column not in hashes:
            hashes[column] = _row_hashes(rows[[column]]).to_numpy(dtype=np.uint64)
        out *= np.uint64(0x100000001B3)  # FNV-style: wraps modulo 2**64, order-dependent
        out ^= hashes[column]
    return out


def _row_hashes(frame: pd.DataFrame) -> pd.Series:
    """A 64-bit hash of each row (pandas'), alike for equal rows: -0.0 and 0.0, any two NaNs."""
    normalised = frame.copy(deep=False)
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column].dtype):
            raw = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
            normalised[column] = np.where(np.isnan(raw), np.nan, raw + 0.0)
    return pd.util.hash_pandas_object(normalised, index=False)


def _equal_rows(
    frame: pd.DataFrame, hashes: NDArray[np.uint64] | None = None, columns: list[str] | None = None
) -> tuple[NDArray[Any], NDArray[Any]]:
    """The rows of ``frame`` equal to another of its rows over ``columns`` (default: all of them).

    Their positions, and a group per row. Equal as ``DataFrame.duplicated`` has it (NaN equals
    NaN). The row hash (``hashes``, one per row of ``frame`` over those columns, else pandas' of
    them) keeps only the rows whose hash another row shares, few in most data; grouping those by
    value is then exact. Positions ascend; groups are numbered in the order their first row appears.
    """
    compared = list(frame.columns) if columns is None else list(columns)
    if not compared:  # no columns: every row equals every other
        size = len(frame) if len(frame) > 1 else 0
        return np.arange(size), np.zeros(size, dtype=np.int64)
    row_hashes = pd.Series(hashes) if hashes is not None else _row_hashes(frame[compared])
    positions = np.flatnonzero(row_hashes.duplicated(keep=False).to_numpy())
    candidates = frame.iloc[positions][compared]
    groups = candidates.groupby(compared, sort=False, dropna=False, observed=True).ngroup().to_numpy(dtype=np.int64)
    paired = np.bincount(groups, minlength=1)[groups] > 1  # not a lone row whose hash collided
    return positions[paired], groups[paired]


def _in_both(positions: NDArray[Any], groups: NDArray[Any], split: int) -> NDArray[Any]:
    """Which rows belong to a group with both a train row and a holdout row."""
    in_train = positions < split
    both = np.intersect1d(groups[in_train], groups[~in_train])
    return np.isin(groups, both)


def _single_value(values: pd.Series) -> tuple[bool, Any]:
    """(at most one distinct non-null value, that value or None)."""
    present = values.notna().to_numpy()
    if not present.any():
        return True, None
    value = values.iloc[int(present.argmax())]
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return bool(values.min() == values.max()), value
    head = values.iloc[:1000]  # most varying columns show it early: spare the full scan
    if head.nunique(dropna=True) > 1:
        return False, value
    return bool(((values == value).to_numpy() | ~present).all()), value


def _type_of(values: pd.Series) -> str:
    """The MLflow type a column of this dtype would get in an inferred signature."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "long"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "string"


def _type_problem(values: pd.Series, mlflow_type: str) -> str | None:
    """Why ``values`` do not fit an MLflow column type, or None when they do.

    Values are judged, not dtypes: a ``long`` column read as float because of a NaN fits as
    long as every value is whole; ``string`` takes anything (categoricals are cast to str).
    """
    if mlflow_type in ("string", "binary"):
        return None
    present = values[values.notna()]
    if mlflow_type in _NUMERIC_TYPES:
        if present.dtype == object:
            present = present.infer_objects()
        if not pd.api.types.is_numeric_dtype(present.dtype):
            bad = present[pd.to_numeric(present, errors="coerce").isna()]
            if bad.empty:
                return f"holds numbers as text such as {present.iloc[0]!r} ({_rows(len(present))})"
            return f"holds non-numeric values such as {bad.iloc[0]!r} ({_rows(len(bad))})"
        if mlflow_type in _INTEGER_TYPES and pd.api.types.is_float_dtype(present.dtype):
            raw = present.to_numpy(dtype=np.float64)
            fractional = np.isinf(raw) | (raw != np.floor(raw))
            if fractional.any():
                return f"holds non-integer values such as {raw[fractional][0]:g} ({_rows(int(fractional.sum()))})"
        return None
    if mlflow_type == "boolean":
        if pd.api.types.is_bool_dtype(present.dtype):
            return None
        if present.dtype == object:
            bad = present[~present.map(lambda v: isinstance(v, bool | np.bool_))]
            if bad.empty:
                return None
            return f"holds non-boolean values such as {bad.iloc[0]!r} ({_rows(len(bad))})"
        return f"holds {present.dtype} values, not booleans"
    if mlflow_type == "datetime":
        if pd.api.types.is_datetime64_any_dtype(present.dtype):
            return None
        if present.dtype == object:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(present, errors="coerce")
            bad = present[parsed.isna()]
            if bad.empty:
                return None
            return f"holds values that are not dates such as {bad.iloc[0]!r} ({_rows(len(bad))})"
        return f"holds {present.dtype} values, not dates"
    return None


def _constant_value(value: str | None) -> str:
    return "all null" if value is None else f"always {value!r}"


def _where(position: int, split: int) -> str:
    return f"train row {position}" if position < split else f"holdout row {position - split}"


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.3g}%"


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _more(count: int) -> str:
    return f" and {count - MAX_NAMED} more" if count > MAX_NAMED else ""
