"""Which models a change affects: the matrix of the propose workflow.

A model is affected when the change touches its folder (spec, release), its section of
``params.yaml``, a data file it reads (the ``.dvc`` pointer or ``dvc.lock``), a policy in its
``extends`` chain, or a file that re-gates every model. Those files are the repo's choice
(``--everything PATTERN``); by default only ``constraints.txt``, the pins. mlgate's own repo adds
its source (``src/``, ``action/``, ``pyproject.toml``): a change to the gatekeeper re-gates every
model there, while in a user's repo ``src/`` is just their code.

A model trained by its own command (``train: {command: ...}``) is also affected by the code the
command runs: every argument of the command that is a file or folder of the repo (``python
train/income.py``). A model trained by a DVC stage (``train: {dvc_stage: train}`` or ``dvc repro
train``) is affected by what DVC would re-run the stage for, read from DVC's stage graph at the
base and at the head (mlgate.config._dvcpipeline): the deps, tracked params and cmd of the stage
and of every stage upstream of it, and an edit of those stages' definitions in ``dvc.yaml``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path

from mlgate.config._dvcpipeline import dvc_targets, pipeline_reasons
from mlgate.config._schema import ModelSpec
from mlgate.config._workspace import load_model_context, model_names
from mlgate.config._yamlio import parse
from mlgate.git import changed_files, show

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


def _params_changed(root: Path, base: str, head: str) -> set[str]:
    """Top-level sections of params.yaml whose content differs between base and head."""

    def read(ref: str) -> dict[str, object]:
        text = show(root, ref, "params.yaml")
        if text is None:
            return {}
        # the file at the ref: an error names the commit, since the working tree may differ
        data = parse(text, f"params.yaml (at {ref[:12]})", allow_empty=True).data
        assert isinstance(data, dict)  # parse refuses anything but a mapping (SpecError, located)
        return data

    old, new = read(base), read(head)
    return {key for key in set(old) | set(new) if old.get(key) != new.get(key)}


def command_inputs(root: Path, spec: ModelSpec) -> list[str]:
    """Files and folders (``dir/``) of the repo a ``train.command`` runs: its path arguments.

    (A ``dvc repro`` command's stages are read from DVC's graph: :func:`pipeline_reasons`.)
    """
    import shlex

    command = getattr(spec.train, "command", None)
    if not isinstance(command, str):
        return []
    argv = shlex.split(command)
    paths = [arg for arg in argv[1:] if not arg.startswith("-") and (root / arg).exists()]
    inside = []
    for rel in paths:
        try:
            (root / rel).resolve().relative_to(root.resolve())
        except ValueError:
            continue  # outside the repo: no change to this repo touches it
        inside.append(rel.rstrip("/") + "/" if (root / rel).is_dir() else rel)
    return sorted(set(inside))


def affected_models(root: Path, base: str, head: str, everything: Iterable[str] = EVERYTHING) -> dict[str, list[str]]:
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
        ctx = load_model_context(root, name, check_estimator=False)  # spec and policy files: no scikit-learn
        inputs = set(ctx.spec.input_files().values())
        reasons += [f for f in files if f.removesuffix(".dvc") in inputs or f == "dvc.lock"]
        reasons += [f for f in files if f in ctx.policy.files]
        reasons += [f for f in files if matches(f, command_inputs(root, ctx.spec))]
        targets = dvc_targets(ctx.spec, ctx.spec_doc.data)
        if targets:
            reasons += pipeline_reasons(root, base, head, targets, files)
        if reasons:
            result[name] = sorted(set(reasons))
    return result


def gate_only(root: Path, names: Iterable[str]) -> list[str]:
    """Of ``names``, the predictions specs: nothing to train, the propose workflow only gates them."""
    return sorted(name for name in names if load_model_context(root, name, check_estimator=False).spec.is_predictions)
