"""Fairness gate: how differently the model treats the groups of a sensitive feature.

Groups
------
:func:`sensitive_groups` turns a sensitive column into group labels (strings):

* a categorical column keeps its values (``str(value)``; a float that is a whole number is
  written without ``.0``, so a 0/1 column read with missing values still gives ``"0"``/``"1"``);
* a continuous column with ``bins`` is bucketed into right-open intervals ``[a, b)``: with
  ``bins: [0, 25, 45, 65, 120]`` an age of 25 is in ``[25, 45)``; values below the first edge
  or at/above the last are ``"out of range"``. Buckets are named by ``labels`` (distinct, and
  neither ``"(missing)"`` nor ``"out of range"``: the spec refuses others) or, without them,
  ``"[0, 25)"``, with edges written exactly whenever ``:g`` would round two of them alike;
* missing values (NaN / None / NA) are the group ``"(missing)"`` (``mlgate.config.MISSING_GROUP``):
  parenthesised, so a real category ``"missing"`` stays a group of its own; a real value
  ``"(missing)"`` is refused (the rule is an ``error`` saying so) rather than merged with the blanks.

:func:`intersect` combines two such columns into ``"a & b"`` groups.

Per-group table
---------------
:func:`group_table` counts, for every group, the rows, the positives of ``y_true``, and the four
cells of the confusion matrix, with one ``np.bincount`` over ``4 * group + 2 * y_true + y_pred``
(no per-group loop). From them: selection rate ``P(pred)``, recall / true positive rate
``P(pred | true)``, false positive rate ``P(pred | not true)``, and error rate ``1 - accuracy``.
A rate with no rows behind it (recall of a group without positives, FPR of a group without
negatives) is ``None``. Groups with fewer than ``min_group_size`` rows stay in the table with
``excluded`` saying why, and are left out of every metric: a rate over 12 people is noise.

Metrics
-------
Computed over the non-excluded groups, as fairlearn defines them (``method="between_groups"``,
``agg="worst_case"``): a *difference* is ``max - min`` of the group rates, a *ratio* is
``min / max``; equalized odds is the worse (larger difference / smaller ratio) of the true
positive rate and the false positive rate. ``demographic_parity_*`` and
``selection_rate_difference`` use the selection rate, ``equal_opportunity_*`` the true positive
rate, ``false_positive_rate_difference`` the FPR, ``error_rate_difference`` the error rate.

Where fairlearn would return a number that means nothing, the measurement fails instead, with
the reason: fairlearn's TPR of a group without positives is 0 (sklearn's confusion matrix
normalises an empty row to 0) and would silently decide equal opportunity; a ratio whose
largest rate is 0 is 0/0 (NaN in fairlearn); fewer than two groups leave nothing to compare.
With several sensitive features the measurement is the worst over them.

Named groups and a reference group
----------------------------------
A rule may compare only some groups of its (one) sensitive feature: ``groups: [a, b]`` keeps
those rows of the table and computes the metric over them exactly as above (fairlearn's numbers
on the rows of those groups). With ``reference_group: r`` every other compared group is set
against ``r`` instead of each against each: a *difference* is the largest ``|rate_g - rate_r|``,
a *ratio* the smallest ``rate_g / rate_r`` (the four-fifths rule against a reference: each group
is selected at least 80% as often as ``r``; a group selected more often than ``r`` gives a ratio
above 1 and never fails a ``min``), and equalized odds the worse of TPR and FPR as before. A rule
with ``max`` on a ratio against a reference caps how much a group is favoured over it: its value is
the *largest* ``rate_g / rate_r`` (so ``min: 0.8`` and ``max: 1.25``, two rules, bound both sides;
the policy schema allows any ratio of at least 0 there, and keeps ``[0, 1]`` for ``min / max``
ratios without a reference). A ratio whose reference rate is 0 is undefined and fails. A group
name the data does not have fails the rule, naming it and the groups found, and so does a named
group (in ``groups`` or ``reference_group``) below ``min_group_size``, naming its size: a named
group is never dropped silently while the rule is judged on the others.

Next to the group rates a measurement reports the overall rates (every row of the evaluation
data, groups below ``min_group_size`` included) and the class counted as selected, the spec's
``positive_label`` (:func:`overall_rates`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlgate.config import MISSING_GROUP, OUT_OF_RANGE_GROUP, SensitiveFeature
from mlgate.gates import Measurement
from mlgate.outcome import Failed

MISSING = MISSING_GROUP
OUT_OF_RANGE = OUT_OF_RANGE_GROUP


# --------------------------------------------------------------------------- groups


def _label(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _categorical(codes: NDArray[Any], labels: list[str], index: pd.Index, name: str) -> pd.Series:
    """A categorical Series from codes into ``labels``; equal labels are merged, unused dropped."""
    label_codes, categories = pd.factorize(pd.Index(labels, dtype=object))
    if len(categories) != len(labels):  # two values print alike ("1" and 1): one group
        codes = label_codes[codes]
    used = np.bincount(codes, minlength=len(categories)) > 0
    if not used.all():
        remap = np.cumsum(used) - 1
        codes = remap[codes]
        categories = categories[used]
    # pandas-stubs types codes as Sequence[int]; pandas takes (and here gets) an integer array
    cat = pd.Categorical.from_codes(codes, categories=categories)  # type: ignore[arg-type]
    return pd.Series(cat, index=index, name=name)


def sensitive_groups(frame: pd.DataFrame, feature: SensitiveFeature) -> pd.Series:
    """Group label (a string category) of every row for one sensitive feature.

    Continuous features are bucketed with ``feature.bins`` into right-open intervals
    ``[a, b)``; values outside the bins are ``"out of range"``; missing values ``"(missing)"``.
    """
    if feature.name not in frame.columns:
        raise ValueError(f"sensitive feature '{feature.name}' is not a column of the data")
    column = frame[feature.name]
    if feature.bins is not None:
        return _bucketed(column, feature)
    try:
        codes, uniques = pd.factorize(column, sort=True)
    except TypeError:  # values of mixed types do not sort
        codes, uniques = pd.factorize(column, sort=False)
    labels = [_label(u) for u in np.asarray(uniques, dtype=object)]
    if MISSING in labels:  # it would read as (and merge with) the rows without a value
        raise ValueError(
            f"sensitive feature '{feature.name}' has the value '{MISSING}', the name of the group of rows "
            "without a value: recode that value"
        )
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(MISSING)
    return _categorical(codes, labels, frame.index, feature.name)


def _bucketed(column: pd.Series, feature: SensitiveFeature) -> pd.Series:
    bins = np.asarray(feature.bins, dtype=np.float64)
    try:
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"sensitive feature '{feature.name}' has bins but non-numeric values") from None
    k = bins.size - 1
    labels = list(feature.labels or [f"[{a}, {b})" for a, b in itertools.pairwise(_edges(bins))])
    codes = np.searchsorted(bins, values, side="right") - 1  # bins[i] <= x < bins[i + 1]
    codes[(codes < 0) | (codes >= k)] = k
    codes[np.isnan(values)] = k + 1
    return _categorical(codes, [*labels, OUT_OF_RANGE, MISSING], column.index, feature.name)


def _edges(bins: NDArray[Any]) -> list[str]:
    """Bin edges as bucket names show them: short (``25``, ``0.5``), exact if ``:g`` would round.

    ``1000000`` and ``1000001`` both print as ``1e+06`` with ``:g``: their buckets would share a
    name and be merged into one group.
    """
    short = [f"{edge:g}" for edge in bins.tolist()]
    if all(float(text) == edge for text, edge in zip(short, bins.tolist(), strict=True)):
        return short
    return [str(int(edge)) if edge.is_integer() else repr(edge) for edge in bins.tolist()]


def _codes(groups: pd.Series) -> tuple[NDArray[Any], list[str]]:
    """Integer codes and string labels of a group column; missing values are ``"(missing)"``."""
    if isinstance(groups.dtype, pd.CategoricalDtype):
        codes = np.asarray(groups.cat.codes, dtype=np.int64)
        labels = [_label(c) for c in groups.cat.categories]
    else:
        codes, uniques = pd.factorize(groups, sort=False)
        labels = [_label(u) for u in np.asarray(uniques, dtype=object)]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels = [*labels, MISSING]
    label_codes, distinct = pd.factorize(pd.Index(labels, dtype=object))
    if len(distinct) != len(labels):  # values that print alike are one group
        codes, labels = label_codes[codes], [str(x) for x in distinct]
    return codes, labels


def intersect(a: pd.Series, b: pd.Series) -> pd.Series:
    """Intersectional groups ``"<a> & <b>"``, named ``"<a.name> & <b.name>"``."""
    if len(a) != len(b):
        raise ValueError(f"cannot intersect groups of different lengths ({len(a)} and {len(b)})")
    codes_a, labels_a = _codes(a)
    codes_b, labels_b = _codes(b)
    combined = codes_a * len(labels_b) + codes_b
    codes, present = pd.factorize(combined, sort=True)
    labels = [f"{labels_a[c // len(labels_b)]} & {labels_b[c % len(labels_b)]}" for c in present]
    return _categorical(codes, labels, a.index, f"{a.name} & {b.name}")


# --------------------------------------------------------------------------- table


@dataclass
class GroupTable:
    """Per-group counts and rates for one sensitive feature (or intersection)."""

    feature: str
    rows: list[dict[str, Any]]


def _as_bool(values: Any, what: str) -> NDArray[Any]:
    array = np.asarray(values)
    if array.dtype == bool:
        return array
    if array.dtype.kind in "iuf" and np.isin(array, (0, 1)).all():
        return array.astype(bool)
    raise ValueError(f"{what} must be boolean (True = favourable/positive label)")


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def group_table(
    y_true: NDArray[Any],
    y_pred: NDArray[Any],
    groups: pd.Series,
    min_group_size: int,
    weights: NDArray[Any] | None = None,
) -> GroupTable:
    """Counts and rates per group; groups below ``min_group_size`` rows are marked excluded.

    ``weights``: how many rows each entry stands for (the Spark engine's table of distinct
    (group values, label, decision) with their counts); None: one row each.
    """
    truth = _as_bool(y_true, "y_true")
    pred = _as_bool(y_pred, "y_pred")
    if not (truth.shape == pred.shape == (len(groups),)):
        raise ValueError(
            f"y_true, y_pred and groups must have the same length ({truth.shape[0]}, {pred.shape[0]}, {len(groups)})"
        )
    codes, labels = _codes(groups)
    key = codes * 4  # cell = 4 * group + 2 * y_true + y_pred
    key += truth
    key += truth
    key += pred
    cells = np.bincount(key, weights=weights, minlength=4 * len(labels))
    cells = np.rint(cells).astype(np.int64).reshape(len(labels), 4)  # integer counts, also when weighted
    rows = []
    for label, (tn, fp, fn, tp) in zip(labels, cells.tolist(), strict=True):
        count = tn + fp + fn + tp
        if count == 0:
            continue
        positives, negatives = fn + tp, tn + fp
        rows.append(
            {
                "group": label,
                "count": count,
                "positives": positives,
                "selection_rate": (fp + tp) / count,
                "recall": _rate(tp, positives),
                "false_positive_rate": _rate(fp, negatives),
                "error_rate": 1 - (tp + tn) / count,
                "excluded": (f"{count} rows < min_group_size {min_group_size}" if count < min_group_size else None),
            }
        )
    return GroupTable(feature=str(groups.name) if groups.name is not None else "group", rows=rows)


# --------------------------------------------------------------------------- metrics

_RATE_NAMES = {
    "selection_rate": "selection rate",
    "recall": "true positive rate",
    "false_positive_rate": "false positive rate",
    "error_rate": "error rate",
}
_UNDEFINED = {
    "recall": "it has no positive labels",
    "false_positive_rate": "it has no negative labels",
}
# metric -> (rates it compares, "difference" | "ratio")
_METRICS: dict[str, tuple[tuple[str, ...], str]] = {
    "demographic_parity_difference": (("selection_rate",), "difference"),
    "demographic_parity_ratio": (("selection_rate",), "ratio"),
    "selection_rate_difference": (("selection_rate",), "difference"),
    "equalized_odds_difference": (("recall", "false_positive_rate"), "difference"),
    "equalized_odds_ratio": (("recall", "false_positive_rate"), "ratio"),
    "equal_opportunity_difference": (("recall",), "difference"),
    "equal_opportunity_ratio": (("recall",), "ratio"),
    "false_positive_rate_difference": (("false_positive_rate",), "difference"),
    "error_rate_difference": (("error_rate",), "difference"),
}


@dataclass
class _Disparity:
    value: float
    feature: str
    rate: str
    low: tuple[str, float]
    high: tuple[str, float]
    kind: str
    reference: bool = False  # ``high`` is the reference group

    def text(self) -> str:
        name = _RATE_NAMES[self.rate]
        (lo_group, lo), (hi_group, hi) = self.low, self.high
        what = "ratio" if self.kind == "ratio" else "difference"
        versus = f"reference '{hi_group}'" if self.reference else f"'{hi_group}'"
        return (
            f"{name} {lo:.3g} for '{lo_group}' vs {hi:.3g} for {versus} ({what} {self.value:.3g}) on '{self.feature}'"
        )


def overall_rates(y_true: NDArray[Any], y_pred: NDArray[Any], weights: NDArray[Any] | None = None) -> dict[str, Any]:
    """Rows, positives and the four rates over every row (the same definitions as a group's); ``weights``: as there."""
    everyone = pd.Series(np.zeros(len(y_pred), dtype=np.int64), name="overall")
    row = group_table(y_true, y_pred, everyone, 1, weights).rows[0]
    return {key: value for key, value in row.items() if key not in ("group", "excluded")}


def named_groups(table: GroupTable, groups: list[str] | None, reference_group: str | None) -> GroupTable | Failed:
    """The table restricted to ``groups`` (all when None), or why a named group is not there."""
    found = [row["group"] for row in table.rows]
    wanted = [*(groups or []), *([reference_group] if reference_group is not None else [])]
    unknown = [name for name in dict.fromkeys(wanted) if name not in found]
    if unknown:
        names = ", ".join(f"'{name}'" for name in unknown)
        return Failed(f"no group {names} in '{table.feature}' (groups found: {', '.join(found)})")
    # a group the rule names must be compared: dropping it for its size would judge the rule on the others
    small = [row for row in table.rows if row["group"] in wanted and row["excluded"] is not None]
    if small:
        names = ", ".join(f"'{row['group']}' ({row['excluded']})" for row in small)
        return Failed(f"named group {names} of '{table.feature}' is too small to compare")
    if groups is None:
        return table
    return GroupTable(feature=table.feature, rows=[row for row in table.rows if row["group"] in groups])


def _against_reference(
    table: GroupTable, rates: tuple[str, ...], kind: str, reference: str, highest: bool = False
) -> _Disparity | Failed:
    """The worst disparity of any other group against ``reference`` over ``rates``, or why not.

    ``highest``: a ratio's worst is its largest (a rule capping how much a group is favoured), else its smallest.
    """
    rows = [row for row in table.rows if row["excluded"] is None]
    ref = next((row for row in table.rows if row["group"] == reference), None)
    if ref is None or ref["excluded"] is not None:
        why = ref["excluded"] if ref is not None else "no rows"
        return Failed(f"reference group '{reference}' of '{table.feature}' is left out ({why})")
    others = [row for row in rows if row["group"] != reference]
    if not others:
        return Failed(
            f"no group of '{table.feature}' to compare with reference '{reference}' (with at least min_group_size rows)"
        )
    worst: _Disparity | None = None
    for rate in rates:
        for row in [ref, *others]:
            if row[rate] is None:
                return Failed(
                    f"{_RATE_NAMES[rate]} is undefined for group '{row['group']}' of "
                    f"'{table.feature}': {_UNDEFINED[rate]} (of {row['count']} rows)"
                )
        base = float(ref[rate])
        if kind == "ratio":
            if base == 0:
                return Failed(f"{_RATE_NAMES[rate]} of reference '{reference}' is 0: the ratio to it is undefined")
            pick = max if highest else min
            row = pick(others, key=lambda r: r[rate] / base)
            value = float(row[rate]) / base
            better = worst is None or (value > worst.value if highest else value < worst.value)
        else:
            row = max(others, key=lambda r: abs(r[rate] - base))
            value = abs(float(row[rate]) - base)
            better = worst is None or value > worst.value
        if better:
            worst = _Disparity(
                value, table.feature, rate, (row["group"], float(row[rate])), (reference, base), kind, True
            )
    assert worst is not None
    return worst


def _disparity(table: GroupTable, rates: tuple[str, ...], kind: str) -> _Disparity | Failed:
    """The table's worst disparity over ``rates``, or why it cannot be computed."""
    rows = [row for row in table.rows if row["excluded"] is None]
    if len(rows) < 2:
        excluded = [row for row in table.rows if row["excluded"] is not None]
        why = f"; excluded: {_list_excluded(excluded)}" if excluded else ""
        return Failed(
            f"fewer than two groups of '{table.feature}' to compare "
            f"({len(rows)} with at least min_group_size rows{why})"
        )
    worst: _Disparity | None = None
    for rate in rates:
        for row in rows:
            if row[rate] is None:
                return Failed(
                    f"{_RATE_NAMES[rate]} is undefined for group '{row['group']}' of "
                    f"'{table.feature}': {_UNDEFINED[rate]} (of {row['count']} rows)"
                )
        low = min(rows, key=lambda r: r[rate])
        high = max(rows, key=lambda r: r[rate])
        lo, hi = float(low[rate]), float(high[rate])
        if kind == "ratio":
            if hi == 0:
                return Failed(
                    f"{_RATE_NAMES[rate]} is 0 for every group of '{table.feature}': the ratio is 0/0, undefined"
                )
            value = lo / hi
            better = worst is None or value < worst.value
        else:
            value = hi - lo
            better = worst is None or value > worst.value
        if better:
            worst = _Disparity(value, table.feature, rate, (low["group"], lo), (high["group"], hi), kind)
    assert worst is not None
    return worst


def _list_excluded(rows: list[dict[str, Any]]) -> str:
    shown = ", ".join(f"'{row['group']}' ({row['count']} rows)" for row in rows[:5])
    return shown + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def fairness_measurement(
    tables: list[GroupTable],
    metric: str,
    *,
    groups: list[str] | None = None,
    reference_group: str | None = None,
    overall: dict[str, Any] | None = None,
    positive_label: Any = None,
    highest: bool = False,
) -> Measurement:
    """The fairness metric over the non-excluded groups, worst over the sensitive features.

    ``groups`` / ``reference_group``: compare only those groups / each against that one (see the
    module docstring). ``overall`` (:func:`overall_rates`) and ``positive_label`` are reported
    in the details next to the group tables, which stay whole. ``highest`` (a ``max`` rule): a
    ratio against the reference group is the largest one, the most favoured group's.
    """
    details: dict[str, Any] = {"groups": {table.feature: table.rows for table in tables}}
    if overall is not None:
        details["overall"] = overall
    if positive_label is not None:
        details["positive_label"] = positive_label
    if groups is not None:
        details["compared_groups"] = list(groups)
    if reference_group is not None:
        details["reference_group"] = reference_group
    if metric not in _METRICS:
        return Measurement.failed(f"unknown fairness metric '{metric}'", details)
    if not tables:
        return Measurement.failed("no sensitive features to evaluate", details)
    rates, kind = _METRICS[metric]
    results = []
    for table in tables:
        chosen = named_groups(table, groups, reference_group)
        if isinstance(chosen, Failed):
            return Measurement.failed(f"{metric}: {chosen.reason}", details)
        if reference_group is not None:
            result = _against_reference(chosen, rates, kind, reference_group, highest)
        else:
            result = _disparity(chosen, rates, kind)
        if isinstance(result, Failed):
            return Measurement.failed(f"{metric}: {result.reason}", details)
        results.append(result)
    largest = kind != "ratio" or (highest and reference_group is not None)
    worst = (max if largest else min)(results, key=lambda r: r.value)
    details["by_feature"] = {r.feature: r.value for r in results}
    text = worst.text()
    if len(results) > 1:
        text += f" (worst of {len(results)} sensitive features)"
    if overall is not None:
        selected = f" (selected: {positive_label!r})" if positive_label is not None else ""
        text += f"; overall {_RATE_NAMES[worst.rate]} {overall[worst.rate]:.3g}{selected}"
    excluded = [(table.feature, row) for table in tables for row in table.rows if row["excluded"] is not None]
    if excluded:
        parts = ", ".join(f"'{row['group']}' of '{feat}' ({row['count']} rows)" for feat, row in excluded[:5])
        more = f" and {len(excluded) - 5} more" if len(excluded) > 5 else ""
        text += f"; left out, below min_group_size: {parts}{more}"
    return Measurement(value=worst.value, explanation=text, details=details)
