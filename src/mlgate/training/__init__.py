"""Training: fit a model from its spec and register it.

``train`` fits, logs and registers; ``estimator`` builds the pipeline; ``record`` is what a
trained version records (lineage, run params, tags); ``command`` runs a spec's own training command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

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


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)
