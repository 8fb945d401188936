"""The ``mlgate`` command line: the group (``main``), commands (``commands/``), the edge (``base``), output (``ui``).

Importing :mod:`mlgate` does not import this package (nor click).
"""

from __future__ import annotations

from mlgate.cli import _ui as ui
from mlgate.cli._base import handled
from mlgate.cli._main import main
from mlgate.cli._ui import write_outputs

__all__ = ["handled", "main", "ui", "write_outputs"]
