"""The only module that runs git: each git question mlgate asks, as one function.

Every call runs ``git`` in a child process in the given folder, captures its output and never
prompts. A failure the caller cannot answer for raises :class:`~mlgate.exceptions.GitError`
(exit 3) with git's own message; functions whose question has a "no" answer (``show`` of a file
the commit does not have, ``is_ancestor``, ``toplevel`` outside a repository) return it instead.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class PathChange:
    """One file a diff changes: git's status letter (A, M, D, R, T...), its path, and where it came from."""

    status: str
    path: str
    old_path: str = ""  # a rename's or a copy's source

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the change touches: a rename changes what is at its old path too."""
        return (self.old_path, self.path) if self.old_path and self.old_path != self.path else (self.path,)


def _diff_failure(done: subprocess.CompletedProcess[str], base: str, head: str) -> Exception:
    message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git diff failed"
    missing = ("unknown revision", "bad revision", "Invalid symmetric difference", "no merge base")
    if any(text in done.stderr for text in missing):
        return InvalidInput(
            f"git cannot compare {base}...{head}: {message}",
            hint="fetch full history (actions/checkout with fetch-depth: 0)",
        )
    return GitError(f"git diff {base}...{head}: {message}")


def path_changes(root: Path, base: str, head: str) -> list[PathChange]:
    """What ``base...head`` changes (what a pull request from ``base`` to ``head`` changes), per file.

    ``--name-status -z`` with rename detection: a rename is one change with both paths, so a file
    moved out of a folder is seen leaving it (``--name-only`` lists only where it went). No
    attribute, textconv or external diff driver of the repository takes part in a name listing.
    """
    done = _git(
        root, "diff", "--name-status", "-z", "-M", "--no-ext-diff", "--no-textconv", f"{base}...{head}", timeout=None
    )
    if done.returncode != 0:
        raise _diff_failure(done, base, head)
    fields = done.stdout.split("\0")
    out: list[PathChange] = []
    index = 0
    while index < len(fields) and fields[index]:
        status = fields[index]
        if status[:1] in ("R", "C"):  # R100\0old\0new
            out.append(PathChange(status[:1], fields[index + 2], fields[index + 1]))
            index += 3
        else:
            out.append(PathChange(status[:1], fields[index + 1]))
            index += 2
    return out


def changed_files(root: Path, base: str, head: str) -> list[str]:
    """The files ``base...head`` changes, each once: a rename lists its old path and its new one."""
    return list(dict.fromkeys(path for change in path_changes(root, base, head) for path in change.paths))


def show(root: Path, ref: str, path: str) -> str | None:
    """The text of ``path`` as of ``ref``; None when the commit has no such file (or no such ref)."""
    done = _git(root, "show", f"{ref}:{path}", timeout=None)
    return done.stdout if done.returncode == 0 else None


@dataclass(frozen=True)
class TreeEntry:
    """One file of a commit's tree, as ``git ls-tree`` lists it."""

    mode: str  # 100644, 100755, 120000 (a symbolic link), 160000 (a submodule)
    kind: str  # blob | tree | commit
    sha: str
    path: str


def tree_entries(root: Path, commit: str) -> list[TreeEntry]:
    """Every file of ``commit``'s tree (recursive; paths exactly as stored, even with odd characters)."""
    done = _git(root, "ls-tree", "-r", "-z", "--full-tree", commit, timeout=None)
    if done.returncode != 0:
        raise GitError(f"git ls-tree {commit[:12]} failed: {done.stderr.strip()}")
    entries = []
    for record in done.stdout.split("\0"):
        if record:
            meta, _, path = record.partition("\t")
            mode, kind, sha = meta.split()
            entries.append(TreeEntry(mode, kind, sha, path))
    return entries


def _cat_blobs(root: Path, shas: Sequence[str], sink: Callable[[str, int, IO[bytes]], None]) -> None:
    """Stream each blob through one ``git cat-file --batch``: ``sink(sha, size, stream)`` reads ``size`` bytes.

    Raw means as committed: ``cat-file`` applies no attribute of the repository (no
    ``export-ignore``/``export-subst``, ``eol``, ``ident`` or smudge filter), where ``git archive``
    and a checkout apply the archived tree's ``.gitattributes``. Streamed, so a large file never
    sits in memory whole.
    """
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                ["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
            )
        except FileNotFoundError as err:
            raise GitError("git is not installed", hint="install git and re-run") from err
        assert process.stdin is not None
        assert process.stdout is not None
        pipe = process.stdin  # narrowed here: the thread's closure would not see the assert

        def feed() -> None:  # a thread: git answers while it reads, and both pipes are bounded
            with contextlib.suppress(BrokenPipeError), pipe as stdin:
                stdin.write(("\n".join(wanted) + "\n").encode())

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        try:
            for sha in wanted:
                header = process.stdout.readline().decode(errors="replace").split()
                if len(header) != 3 or header[1] != "blob":
                    raise GitError(f"git cat-file: {sha} is not a blob ({' '.join(header) or 'no answer'})")
                sink(sha, int(header[2]), process.stdout)
                process.stdout.read(1)  # the newline after each object
        finally:
            process.stdout.close()
            writer.join()
            code = process.wait()
        if code != 0:
            errors.seek(0)
            raise GitError(f"git cat-file --batch failed: {errors.read().decode(errors='replace').strip()}")


def blobs(root: Path, shas: Sequence[str]) -> dict[str, bytes]:
    """The raw content of each blob, by its sha (small files: held in memory; see :func:`write_blobs`)."""
    out: dict[str, bytes] = {}
    _cat_blobs(root, shas, lambda sha, size, stream: out.__setitem__(sha, stream.read(size)))
    return out


def write_blobs(root: Path, targets: dict[str, list[Path]]) -> None:
    """Write each blob's raw content (see :func:`_cat_blobs`) to every path listed for its sha."""

    def sink(sha: str, size: int, stream: IO[bytes]) -> None:
        with contextlib.ExitStack() as stack:
            outs = [stack.enter_context(path.open("wb")) for path in targets[sha]]
            left = size
            while left:
                chunk = stream.read(min(left, 1 << 20))
                if not chunk:
                    raise GitError(f"git cat-file: {sha} ended early")
                for out in outs:
                    out.write(chunk)
                left -= len(chunk)

    _cat_blobs(root, list(targets), sink)


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
