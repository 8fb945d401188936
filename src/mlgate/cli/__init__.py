"""The ``mlgate`` command line: the group (``main``), commands (``commands/``), the edge (``base``), output (``ui``).

Importing :mod:`mlgate` does not import this package (nor click).
"""

from mlgate.cli.main import main

__all__ = ["main"]
