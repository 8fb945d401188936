"""Which models a change affects: the matrix of the propose workflow.

A model is affected when the change touches its folder (spec, release), its section of
``params.yaml``, a data file it reads (the ``.dvc`` pointer or ``dvc.lock``), a policy in its
``extends`` chain, or a file that re-gates every model. Those files are the repo's choice
(``--everything PATTERN``); by default only ``constraints.txt``, the pins. mlgate's own repo adds
its source (``src/``, ``action/``, ``pyproject.toml``): a change to the gatekeeper re-gates every
model there, while in a user's repo ``src/`` is just their code.
"""

from __future__ import annotations

import fnmatch
import subprocess
from collections.abc import Iterable
from pathlib import Path

from mlgate.config.workspace import load_model_context, model_names
from mlgate.exceptions import GitError, InvalidInput

EVERYTHING = ("constraints.txt",)


def matches(path: str, patterns: Iterable[str]) -> bool:
    """``path`` matches a pattern: a folder ending in ``/`` (everything under it) or a glob."""
    for pattern in patterns:
        if pattern.endswith("/"):
            if path.startswith(pattern.removeprefix("./")):
                return True
        elif fnmatch.fnmatchcase(path, pattern.removeprefix("./")):
            return True
    return False


def changed_files(root: Path, base: str, head: str) -> list[str]:
    done = subprocess.run(
        ["git", "diff", "--name-only", f"{base}...{head}"], cwd=root, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git diff failed"
        missing = ("unknown revision", "bad revision", "Invalid symmetric difference", "no merge base")
        if any(text in done.stderr for text in missing):
            raise InvalidInput(f"git cannot compare {base}...{head}: {message}",
                               hint="fetch full history (actions/checkout with fetch-depth: 0)")
        raise GitError(f"git diff {base}...{head}: {message}")
    return [line for line in done.stdout.splitlines() if line]


def _params_changed(root: Path, base: str, head: str) -> set[str]:
    """Top-level sections of params.yaml whose content differs between base and head."""
    import yaml

    def read(ref: str) -> dict[str, object]:
        done = subprocess.run(["git", "show", f"{ref}:params.yaml"], cwd=root, capture_output=True, text=True, check=False)
        return (yaml.safe_load(done.stdout) or {}) if done.returncode == 0 else {}

    old, new = read(base), read(head)
    return {key for key in set(old) | set(new) if old.get(key) != new.get(key)}


def affected_models(
    root: Path, base: str, head: str, everything: Iterable[str] = EVERYTHING
) -> dict[str, list[str]]:
    """Model name → the changed files that affect it (models absent: not affected).

    A changed file matching a pattern of ``everything`` affects every model.
    """
    everything = tuple(everything)
    files = changed_files(root, base, head)
    params = _params_changed(root, base, head) if "params.yaml" in files else set()
    result: dict[str, list[str]] = {}
    for name in model_names(root):
        reasons = [f for f in files if matches(f, everything) or f.startswith(f"models/{name}/")]
        if name in params:
            reasons.append(f"params.yaml ({name})")
        ctx = load_model_context(root, name)
        inputs = set(ctx.spec.data.files().values())
        reasons += [f for f in files if f.removesuffix(".dvc") in inputs or f == "dvc.lock"]
        reasons += [f for f in files if f in ctx.policy.files]
        if reasons:
            result[name] = sorted(set(reasons))
    return result
