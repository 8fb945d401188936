"""Performance gate: holdout metrics of the challenger, and of the champion on the same data."""

from __future__ import annotations

from mlgate.config import LOWER_IS_BETTER
from mlgate.gates import Measurement


def absolute(metric: str, metrics: dict[str, float], rows: str = "the holdout set") -> Measurement:
    """The challenger's value of ``metric`` on ``rows`` (what they are: a predictions audit's are all its file's)."""
    if metric not in metrics:
        return Measurement.failed(f"{metric} was not computed for this model (multiclass or regression?)")
    value = metrics[metric]
    return Measurement(value=value, explanation=f"{metric} = {value:.4g} on {rows}")


def regression(
    metric: str, challenger: dict[str, float], champion: dict[str, float], champion_version: int
) -> Measurement:
    """How much worse the challenger is than the champion (0 or less: no worse).

    Without a champion there is nothing to compare: the caller marks the rule ``skipped`` with
    the reason instead of passing it silently (see mlgate.gates.run).
    """
    if metric not in challenger or metric not in champion:
        return Measurement.failed(f"{metric} is missing for the challenger or the champion")
    new, old = challenger[metric], champion[metric]
    worse = new - old if metric in LOWER_IS_BETTER else old - new
    direction = "lower" if metric in LOWER_IS_BETTER else "higher"
    return Measurement(
        value=worse,
        explanation=(
            f"{metric} {new:.4g} vs champion v{champion_version} {old:.4g} "
            f"({'worse' if worse > 0 else 'no worse'} by {abs(worse):.4g}; {direction} is better)"
        ),
        details={"challenger": new, "champion": old, "champion_version": champion_version},
    )
