"""The edge every command runs through: options in, one api call, JSON and exit code out.

A command is ``@edge(Options, show=...)`` over a function that makes one :mod:`mlgate.api` call.
The edge builds the options dataclass from click's parameters and the command's
:class:`~mlgate.config.Workspace` (once; closed at the end), writes ``--json`` from the
result's ``as_dict()``, lets ``show`` print it for people, and decides the exit code: 2 when the
result is ``invalid``, 1 when it is ``blocked``, else 0. Errors are caught here, once (:func:`_run`):
an :class:`~mlgate.exceptions.MlgateError` prints its message (and a hint) to stderr and exits with
its own code — 1 blocked, 2 invalid input, 3 external service. Anything else is a bug in mlgate:
exit 70 with a pointer to ``--traceback``.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from mlgate import api
from mlgate.cli import _ui as ui
from mlgate.exceptions import MlgateError, SpecError, missing_extra

EXIT_BUG = 70
EXIT_BLOCKED = 1
EXIT_INVALID = 2

JSON_HELP = "Write the result as JSON to PATH ('-' for stdout)."
GITHUB_OUTPUT_HELP = "Append step outputs (key=value) to this file; in Actions: $GITHUB_OUTPUT."
REPO_HELP = "The governed repo (default: the nearest folder with models/ from here up)."
REF_HELP = "Act on release.yaml as committed at this git ref of the governed repo (never a working-tree edit)."
UNPINNED_HELP = "Accept a release.yaml stage with no digest (warns; the alias must still agree with release.yaml)."

# What long-running library calls report while they work: stderr, for people.
FEEDBACK = api.Feedback(progress=ui.progress, step=ui.step, warn=ui.warn)

O = TypeVar("O")
R = TypeVar("R")


def _error_payload(err: MlgateError) -> dict[str, Any]:
    payload: dict[str, Any] = {"ok": False, "exit_code": err.exit_code, "error": err.message}
    if isinstance(err, SpecError):
        payload["problems"] = [p.as_dict() for p in err.problems]
    return payload


def exit_code(result: Any) -> int:
    """A result's exit code: 2 when it is ``invalid``, 1 when it is ``blocked``, else 0."""
    if getattr(result, "invalid", False):
        return EXIT_INVALID
    if getattr(result, "blocked", False):
        return EXIT_BLOCKED
    return 0


def edge(
    options: Callable[..., O],
    *,
    show: Callable[[Any, O], None] | None = None,
    workspace: bool = True,
    writes_json: bool = True,
) -> Callable[[Callable[..., R]], Callable[..., None]]:
    """Run a command function through the edge (see the module docstring).

    ``workspace=False``: the function takes only the options (the command needs no repo).
    ``writes_json=False``: the command writes its own JSON while it runs (``serve``'s start record).
    """

    def decorate(func: Callable[..., R]) -> Callable[..., None]:
        name = func.__name__.replace("_", "-")

        @functools.wraps(func)
        def wrapper(**params: Any) -> None:
            json_path = params.get("json_path")
            # `--json -`: stdout carries the JSON alone; tables and text for people go to stderr
            with ui.json_on_stdout(json_path == "-"):
                _run(name, json_path, lambda: _invoke(func, options(**params), show, workspace, writes_json))

        return wrapper

    return decorate


def handled(func: Callable[..., int | None]) -> Callable[..., None]:
    """The error edge alone, for a click command outside :mod:`mlgate.api` (the devkit's demo)."""

    @functools.wraps(func)
    def wrapper(**params: Any) -> None:
        json_path = params.get("json_path")
        with ui.json_on_stdout(json_path == "-"):
            _run(func.__name__.replace("_", "-"), json_path, lambda: func(**params) or 0)

    return wrapper


def _invoke(
    func: Callable[..., Any], opts: Any, show: Callable[[Any, Any], None] | None, workspace: bool, writes_json: bool
) -> int:
    """Build the workspace, make the call, write the JSON, show the result; its exit code."""
    if not workspace:
        result = func(opts)
    else:
        ws = api.workspace(getattr(opts, "repo", None), tracking_uri=getattr(opts, "tracking_uri", None))
        try:
            result = func(ws, opts)
        finally:
            ws.close()
    if writes_json:
        ui.write_json(getattr(opts, "json_path", None), result.as_dict())
    if show is not None:
        show(result, opts)
    return exit_code(result)


def _run(name: str, json_path: str | None, call: Callable[[], int]) -> None:
    """Run one command; its result's exit code, or a library error's message (and error JSON) and code."""
    try:
        try:
            code = call()
        except ModuleNotFoundError as err:
            # an optional dependency not installed is the user's to fix (exit 2 naming the extra), not a bug
            missing = missing_extra(err, f"`mlgate {name}`")
            if missing is None:
                raise
            raise missing from err
    except MlgateError as err:
        if not ui.json_written():  # never a second JSON document on stdout
            ui.write_json(json_path, _error_payload(err))
        ui.error(err.message, err.hint)
        sys.exit(err.exit_code)
    except Exception as err:
        if os.environ.get("MLGATE_TRACEBACK") == "1":
            raise
        ui.error(
            f"unexpected {type(err).__name__}: {err}",
            "this is a bug in mlgate: re-run with --traceback and report it",
        )
        sys.exit(EXIT_BUG)
    if code:
        sys.exit(code)
