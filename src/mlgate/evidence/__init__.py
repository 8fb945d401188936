"""Evidence bundles for auditors: one verifiable, self-contained archive per model version (``mlgate evidence``)."""

from __future__ import annotations

from mlgate._lazy import lazy_surface

__all__: list[str] = []

_LAZY: dict[str, str] = {}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)
