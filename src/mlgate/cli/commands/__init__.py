"""One module per command group (DVC's ``commands/``): each command parses, makes one api call and shows it.

``main`` adds :data:`COMMANDS` to the ``mlgate`` group.
"""

from __future__ import annotations

from mlgate.cli.commands import gates, governance, monitoring, promotion, repo, scoring, serving, training

COMMANDS = [
    *repo.COMMANDS,
    *training.COMMANDS,
    *gates.COMMANDS,
    *governance.COMMANDS,
    *promotion.COMMANDS,
    *scoring.COMMANDS,
    *serving.COMMANDS,
    *monitoring.COMMANDS,
]

__all__ = ["COMMANDS"]
