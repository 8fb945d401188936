"""``mlgate serve``: online decisions by alias, every prediction audited.

The one package importing FastAPI, uvicorn, SQLAlchemy and prometheus_client.

``arm_of`` routes a row to a canary or the stable version (light: monitoring imports it),
``model`` holds and follows the alias's version and the candidate beside it (loaded and decided as
:mod:`mlgate.scoring` does),
``audit`` the SQLAlchemy audit store, ``tokens`` the callers' hashed bearer tokens, ``app`` the
FastAPI routes and metrics, ``_scratch`` the temp folders a serve holds (and removes, once their
owner died), ``server`` the checks and the uvicorn run (one process, or
``worker_app``, the factory each of ``--workers N`` worker processes builds its app with). Import ``server`` or
``app`` only where serving is wanted: ``import mlgate.serving`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

if TYPE_CHECKING:
    from mlgate.serving import _audit as audit
    from mlgate.serving._app import GroupCommit, row_model, validate_rows
    from mlgate.serving._arms import arm_of
    from mlgate.serving._audit import AuditStore, Record, read_table_columns, shown_url, typed_window
    from mlgate.serving._inputs import Inputs, TypedWindow, inputs_of
    from mlgate.serving._model import load
    from mlgate.serving._server import Options, serve, worker_app


__all__ = [
    "AuditStore",
    "GroupCommit",
    "Inputs",
    "Options",
    "Record",
    "TypedWindow",
    "arm_of",
    "audit",
    "inputs_of",
    "load",
    "read_table_columns",
    "row_model",
    "serve",
    "shown_url",
    "typed_window",
    "validate_rows",
    "worker_app",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "AuditStore": "_audit:AuditStore",
    "GroupCommit": "_app:GroupCommit",
    "Inputs": "_inputs:Inputs",
    "TypedWindow": "_inputs:TypedWindow",
    "inputs_of": "_inputs:inputs_of",
    "typed_window": "_audit:typed_window",
    "Options": "_server:Options",
    "Record": "_audit:Record",
    "arm_of": "_arms:arm_of",
    "audit": "_audit",
    "load": "_model:load",
    "read_table_columns": "_audit:read_table_columns",
    "row_model": "_app:row_model",
    "serve": "_server:serve",
    "shown_url": "_audit:shown_url",
    "validate_rows": "_app:validate_rows",
    "worker_app": "_server:worker_app",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)
