"""Gate families: pure functions from data and predictions to measurements.

One module per family (``performance``, ``fairness``, ``drift``, ``integrity``,
``documentation``). None of them knows about thresholds or severities: they measure, and
:mod:`mlgate.gates.verdict` compares the measurements with the policy's rules. That split keeps the
statistics testable against reference implementations (scipy, fairlearn) on their own.
``judging`` loads a model as the gates judge it (the base branch's judging fields);
``governance`` is the governance check of a pull request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlgate.outcome import Failed

__all__ = ["Failed", "Measurement", "Skip"]


@dataclass
class Measurement:
    """What one rule's metric came to.

    ``value`` is None when it could not be computed; ``error`` then says why (a group with
    one label class, a column missing from the data...) and the rule's status is ``error``.
    ``details`` carries tables for the report (per-group rates, per-feature drift).
    """

    value: float | None
    explanation: str
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def failed(cls, reason: str, details: dict[str, Any] | None = None) -> Measurement:
        """A measurement that could not be made, and why (the rule's status is then ``error``)."""
        return cls(value=None, explanation=reason, details=details or {}, error=reason)


@dataclass(frozen=True)
class Skip:
    """A rule that does not apply here, and why (reported as ``skipped``, never as a pass).

    Beside it, :class:`~mlgate.outcome.Failed` is a result that should have been had and could not
    (a rule measured on it is an ``error``): a function returns ``X | Skip`` or ``X | Failed``, never ``X | str``.
    """

    reason: str
