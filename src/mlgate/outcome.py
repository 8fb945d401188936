"""``Failed(reason)``: what a function that can fail returns instead of a bare error string.

Low in the layers (it imports nothing of mlgate) so every layer can use it: the GitHub adapter (a
reviewer's access that could not be read), the gates (a fairness disparity over too few groups),
monitoring (a drift table whose columns are missing). A caller tells the outcome apart with
``isinstance(x, Failed)``, never ``isinstance(x, str)``: a ``str`` result can be a legitimate value.
Beside it, :class:`mlgate.gates.Skip` is a rule that does not apply (reported ``skipped``); ``Failed``
is one that should have applied and could not be computed (reported ``error``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Failed"]


@dataclass(frozen=True)
class Failed:
    """A result that could not be had, and why (a sentence a person can act on)."""

    reason: str

    def __str__(self) -> str:
        """The reason."""
        return self.reason
