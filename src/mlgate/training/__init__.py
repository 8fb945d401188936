"""Training: fit a model from its spec and register it.

``train`` fits, logs and registers; ``estimator`` builds the pipeline; ``record`` is what a
trained version records (lineage, run params, tags); ``command`` runs a spec's own training command.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgate.training._command import child_env, command_env, echo_masked, run_command
    from mlgate.training._register import RegisterResult, register_external
    from mlgate.training._train import TrainResult, train


__all__ = [
    "RegisterResult",
    "TrainResult",
    "child_env",
    "command_env",
    "echo_masked",
    "register_external",
    "run_command",
    "train",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "RegisterResult": "_register:RegisterResult",
    "TrainResult": "_train:TrainResult",
    "child_env": "_command:child_env",
    "command_env": "_command:command_env",
    "echo_masked": "_command:echo_masked",
    "register_external": "_register:register_external",
    "run_command": "_command:run_command",
    "train": "_train:train",
}


def __getattr__(name: str) -> Any:
    """Import a public name's private module on first use (PEP 562): the package imports lightly."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = _LAZY[name].partition(":")
    value = import_module(f"{__name__}.{module}")
    if attr:
        value = getattr(value, attr)
    globals()[name] = value  # once: the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    """The module's globals and its public names, imported or not."""
    return sorted({*globals(), *__all__})
