"""mlgate: GitHub Actions-native GitOps for machine-learning models.

The public library surface; the CLI (:mod:`mlgate.cli`) is a thin layer over it.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("mlgate")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
