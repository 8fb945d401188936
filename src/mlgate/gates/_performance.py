"""Performance gate: holdout metrics of the challenger, and of the champion on the same data."""

from __future__ import annotations

from typing import Any, TypeAlias

from mlgate.config import BY_NAME, LOWER_IS_BETTER
from mlgate.gates import Measurement

ByClass: TypeAlias = dict[str, dict[str, float]]
"""metric → ``str(class)`` → value (:func:`mlgate.gates._metrics.per_class_metrics`)."""


def not_computed(metric: str, task: str) -> str:
    """Why ``metric`` is not among a model's metrics: the task does not have it, or the model gives no scores."""
    wanted = BY_NAME[metric].task if metric in BY_NAME else None
    if wanted is not None and wanted != task:
        article = "an" if task[0] in "aeiou" else "a"
        return f"{metric} is a {wanted} metric: this model is {article} {task} model"
    # a classifier has every threshold metric: a missing one needs scores (roc_auc, log_loss, brier...)
    return f"{metric} needs scores; this model gives decided labels only: no scores"


def _of_class(metric: str, label: Any, by_class: ByClass | None) -> tuple[float, str] | str:
    """(value, description) of ``metric`` for class ``label``, or why there is none."""
    if by_class is None or metric not in by_class:
        return f"{metric} of class {label!r}: per-class metrics need a classifier's decided labels"
    values = by_class[metric]
    if str(label) not in values:
        seen = ", ".join(repr(c) for c in values)
        return f"no class {label!r} among the model's classes ({seen})"
    return values[str(label)], f"{metric} of class {label!r} (one-vs-rest)"


def absolute(
    metric: str,
    metrics: dict[str, float],
    rows: str = "the holdout set",
    missing: str = "",
    *,
    label: Any = None,
    by_class: ByClass | None = None,
) -> Measurement:
    """The challenger's value of ``metric`` on ``rows`` (what they are: a predictions audit's are all its file's).

    ``missing``: why it is not computed, if it is not. ``label`` (a rule's ``class:``): the metric
    of that one class, from ``by_class``.
    """
    if label is not None:
        found = _of_class(metric, label, by_class)
        if isinstance(found, str):
            return Measurement.failed(found)
        value, what = found
        return Measurement(value=value, explanation=f"{what} = {value:.4g} on {rows}", details={"class": label})
    if metric not in metrics:
        return Measurement.failed(missing or f"{metric} was not computed for this model")
    value = metrics[metric]
    return Measurement(value=value, explanation=f"{metric} = {value:.4g} on {rows}")


def regression(
    metric: str,
    challenger: dict[str, float],
    champion: dict[str, float],
    champion_version: int,
    *,
    label: Any = None,
    by_class: tuple[ByClass | None, ByClass | None] = (None, None),
) -> Measurement:
    """How much worse the challenger is than the champion (0 or less: no worse).

    Without a champion there is nothing to compare: the caller marks the rule ``skipped`` with
    the reason instead of passing it silently (see mlgate.gates.run). ``label``: the metric of that
    class, from ``by_class`` (the challenger's, the champion's).
    """
    name = metric
    if label is not None:
        ours, theirs = (_of_class(metric, label, table) for table in by_class)
        if isinstance(ours, str):
            return Measurement.failed(ours)
        if isinstance(theirs, str):
            return Measurement.failed(f"champion v{champion_version}: {theirs}")
        (new, name), (old, _) = ours, theirs
    elif metric not in challenger or metric not in champion:
        return Measurement.failed(f"{metric} is missing for the challenger or the champion")
    else:
        new, old = challenger[metric], champion[metric]
    worse = new - old if metric in LOWER_IS_BETTER else old - new
    direction = "lower" if metric in LOWER_IS_BETTER else "higher"
    details: dict[str, Any] = {"challenger": new, "champion": old, "champion_version": champion_version}
    if label is not None:
        details["class"] = label
    return Measurement(
        value=worse,
        explanation=(
            f"{name} {new:.4g} vs champion v{champion_version} {old:.4g} "
            f"({'worse' if worse > 0 else 'no worse'} by {abs(worse):.4g}; {direction} is better)"
        ),
        details=details,
    )
