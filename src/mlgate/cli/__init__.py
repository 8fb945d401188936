"""The ``mlgate`` command line (``main``) and its terminal output (``ui``).

Importing :mod:`mlgate` does not import this package (nor click).
"""

from mlgate.cli.main import main

__all__ = ["main"]
