"""The only module that runs git: each git question mlgate asks, as one function.

Every call runs ``git`` in a child process in the given folder, captures its output and never
prompts. A failure the caller cannot answer for raises :class:`~mlgate.exceptions.GitError`
(exit 3) with git's own message; functions whose question has a "no" answer (``show`` of a file
the commit does not have, ``is_ancestor``, ``toplevel`` outside a repository) return it instead.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mlgate.exceptions import GitError, InvalidInput

TIMEOUT = 60  # seconds for a command that reads or writes a few objects


def _git(
    root: Path, *args: str, stdout: IO[bytes] | None = None, timeout: float | None = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in ``root``, unchecked: stdout and stderr as text (stdout to a file if given)."""
    try:
        if stdout is None:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=timeout
            )
        done = subprocess.run(
            ["git", *args], cwd=root, stdout=stdout, stderr=subprocess.PIPE, check=False, timeout=timeout
        )
    except FileNotFoundError as err:
        raise GitError("git is not installed", hint="install git and re-run") from err
    return subprocess.CompletedProcess(done.args, done.returncode, "", done.stderr.decode(errors="replace"))


def run_git(root: Path, *args: str) -> str:
    """``git ARGS`` in ``root``: its stdout, stripped; a failure is a GitError with git's message."""
    done = _git(root, *args)
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass(frozen=True)
class GitState:
    """Where the repo stands: commit, whether tracked files differ from it, branch."""

    commit: str
    dirty: bool
    branch: str

    @classmethod
    def unknown(cls) -> GitState:
        """The state when git cannot tell (no repository): unknown commit, counted as dirty."""
        return cls(commit="unknown", dirty=True, branch="")


def git_state(root: Path) -> GitState:
    """The repo's git state; ``unknown`` outside a repository or before the first commit."""
    try:
        commit = run_git(root, "rev-parse", "--verify", "HEAD")
    except GitError:
        return GitState.unknown()
    # Untracked files (mlflow.db, caches) do not make a model unreproducible; edits do.
    dirty = bool(run_git(root, "status", "--porcelain", "--untracked-files=no"))
    branch = run_git(root, "rev-parse", "--abbrev-ref", "HEAD")
    return GitState(commit=commit, dirty=dirty, branch=branch)


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    """Whether ``newer`` holds ``older`` (False too when either is not a known commit)."""
    return _git(root, "merge-base", "--is-ancestor", older, newer, timeout=None).returncode == 0


def changed_files(root: Path, base: str, head: str) -> list[str]:
    """The files ``base...head`` changes (what a pull request from ``base`` to ``head`` changes)."""
    done = _git(root, "diff", "--name-only", f"{base}...{head}", timeout=None)
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git diff failed"
        missing = ("unknown revision", "bad revision", "Invalid symmetric difference", "no merge base")
        if any(text in done.stderr for text in missing):
            raise InvalidInput(
                f"git cannot compare {base}...{head}: {message}",
                hint="fetch full history (actions/checkout with fetch-depth: 0)",
            )
        raise GitError(f"git diff {base}...{head}: {message}")
    return [line for line in done.stdout.splitlines() if line]


def show(root: Path, ref: str, path: str) -> str | None:
    """The text of ``path`` as of ``ref``; None when the commit has no such file (or no such ref)."""
    done = _git(root, "show", f"{ref}:{path}", timeout=None)
    return done.stdout if done.returncode == 0 else None


def archive(root: Path, commit: str, paths: Sequence[str], tar_path: Path) -> None:
    """``git archive`` of ``paths`` as of ``commit`` into the tar file ``tar_path`` (no checkout)."""
    with tar_path.open("wb") as out:
        done = _git(root, "archive", "--format=tar", commit, "--", *paths, stdout=out, timeout=None)
    if done.returncode != 0:
        raise GitError(f"git archive {commit[:12]} failed: {done.stderr.strip()}")


def config_value(root: Path, key: str) -> str:
    """``git config KEY`` as seen from ``root``; '' when it is not set."""
    done = _git(root, "config", key)
    return done.stdout.strip() if done.returncode == 0 else ""


def toplevel(root: Path) -> Path | None:
    """The top folder of the repository holding ``root``; None outside a repository."""
    done = _git(root, "rev-parse", "--show-toplevel")
    return Path(done.stdout.strip()).resolve() if done.returncode == 0 else None


def init(root: Path) -> None:
    """``git init`` a new repository in ``root``."""
    done = _git(root, "init", "-q")
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise GitError(f"`git init -q` failed in {root}: {said[-1] if said else f'exit {done.returncode}'}")
