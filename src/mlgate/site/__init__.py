"""The governance site: a static site of every model × stage, version, verdict, approval and trend (``mlgate site``)."""

from __future__ import annotations

from mlgate._lazy import lazy_surface

__all__: list[str] = []

_LAZY: dict[str, str] = {}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)
