"""One module per command group (DVC's ``commands/``): each command parses, makes one api call and shows it.

``main`` adds :data:`COMMANDS` to the ``mlgate`` group.
"""

from __future__ import annotations

from mlgate.cli.commands import _evidence as evidence
from mlgate.cli.commands import _gates as gates
from mlgate.cli.commands import _governance as governance
from mlgate.cli.commands import _monitoring as monitoring
from mlgate.cli.commands import _promotion as promotion
from mlgate.cli.commands import _repo as repo
from mlgate.cli.commands import _scoring as scoring
from mlgate.cli.commands import _serving as serving
from mlgate.cli.commands import _site as site
from mlgate.cli.commands import _training as training

COMMANDS = [
    *repo.COMMANDS,
    *training.COMMANDS,
    *gates.COMMANDS,
    *governance.COMMANDS,
    *promotion.COMMANDS,
    *scoring.COMMANDS,
    *serving.COMMANDS,
    *monitoring.COMMANDS,
    *site.COMMANDS,
    *evidence.COMMANDS,
]


__all__ = ["COMMANDS"]
