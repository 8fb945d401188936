"""mlgate: GitHub Actions-native GitOps for machine-learning models.

The public library surface; the CLI (:mod:`mlgate.cli`) is a thin layer over it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    """``__version__``, read from the installed metadata on first use (not on every import)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import metadata  # ~40 ms to import: most commands never show the version

    try:
        version = metadata.version("mlgate")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        version = "0.0.0+unknown"
    globals()["__version__"] = version
    return version
