"""The governance site: a static site of every model × stage, version, verdict, approval and trend (``mlgate site``).

``build`` reads git and the registry and writes the pages (re-rendering only models whose inputs
changed); ``pages`` holds what each page shows and the jinja2 templates' environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

if TYPE_CHECKING:
    from mlgate.site._build import SiteResult, build, write_atomic
    from mlgate.site._pages import compile_templates

__all__ = ["SiteResult", "build", "compile_templates", "write_atomic"]

_LAZY: dict[str, str] = {
    "SiteResult": "_build:SiteResult",
    "build": "_build:build",
    "compile_templates": "_pages:compile_templates",
    "write_atomic": "_build:write_atomic",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)
