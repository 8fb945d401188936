"""A DVC pipeline repo shaped like iterative's example-get-started, governed by mlgate.

``files/`` is the repo: ``dvc.yaml`` with the stages prepare → featurize → train → evaluate,
``params.yaml``, ``src/*.py``, a header-less TSV input tracked by DVC (``data/data.tsv``),
directory outs (``data/prepared``, ``data/features``) and DVC metrics (``eval/metrics.json``).
The train stage logs the featurizer and the classifier as one scikit-learn pipeline into the
MLflow run it finds in its environment (``mlflow.start_run()`` resumes ``MLFLOW_RUN_ID``), so
the model takes raw rows. The mlgate files (``models/``, ``policies/``) are added by a second
commit: the pipeline itself is unchanged by governing it.

:func:`make_pipeline_repo` materialises it as a git + DVC repo with a local directory remote.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

FILES = Path(__file__).resolve().parent / "files"
MLGATE_FILES = ("models", "policies")
"""What governing the pipeline adds: the spec and its policy (everything else is the pipeline's)."""
MODEL = "classifier"
"""The model the spec names (``models/classifier/model.yaml``), trained by the ``train`` stage."""
INPUT = "data/data.tsv"


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def dvc(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the real ``dvc`` command line of this interpreter's environment in ``repo``."""
    return _run([sys.executable, "-m", "dvc", *args], repo, env)


def git(repo: Path, *args: str) -> str:
    """Run ``git`` in ``repo``."""
    return _run(["git", *args], repo)


def pipeline_env(tracking_uri: str) -> dict[str, str]:
    """The environment of a user's own ``dvc repro``: ``python`` is this interpreter, MLflow at ``tracking_uri``."""
    folder = str(Path(sys.executable).parent)
    return os.environ | {
        "PATH": os.pathsep.join([folder, os.environ.get("PATH", "")]),
        "MLFLOW_TRACKING_URI": tracking_uri,
    }


def make_pipeline_repo(dest: Path, remote: Path | None = None, *, governed: bool = True) -> Path:
    """Make the example pipeline repo in ``dest`` (a new folder): git, DVC, a local remote, the input pushed.

    Two commits: the pipeline as its team has it (``dvc.yaml``, ``params.yaml``, ``src/``, the input
    tracked by ``data/data.tsv.dvc``), then, when ``governed``, the mlgate spec and policy. The stages
    are not run (no ``dvc.lock``): ``dvc repro`` or ``mlgate train`` runs them. ``remote`` defaults
    to ``dest``'s sibling ``<name>-remote``.
    """
    remote = remote or dest.with_name(dest.name + "-remote")
    dest.mkdir(parents=True)
    remote.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", *MLGATE_FILES)
    shutil.copytree(FILES, dest, dirs_exist_ok=True, ignore=ignore)
    git(dest, "init", "-q", "-b", "main")
    dvc(dest, "init", "-q")
    dvc(dest, "config", "core.analytics", "false")
    dvc(dest, "remote", "add", "-d", "local", str(remote))
    dvc(dest, "add", "-q", INPUT)
    dvc(dest, "push", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "pipeline: prepare, featurize, train, evaluate")
    if governed:
        for name in MLGATE_FILES:
            shutil.copytree(FILES / name, dest / name)
        git(dest, "add", "-A")
        git(dest, "commit", "-q", "-m", "govern the classifier with mlgate")
    return dest
