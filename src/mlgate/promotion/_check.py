"""A promotion's precondition (:class:`Check`) and how a version is shown: what plan, readiness and comment share.

Its own module so that :mod:`mlgate.promotion.readiness` and :mod:`mlgate.promotion._comment`, which
:mod:`mlgate.promotion._plan` imports, need not import the plan back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Check:
    """One precondition of a promotion, whether it holds, and why."""

    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """The check as the plan JSON lists it."""
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def version_label(version: int | None) -> str:
    """``v3``, or ``—`` for an empty stage: how every message and table shows a version."""
    return "—" if version is None else f"v{version}"
