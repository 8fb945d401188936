"""The only module that runs git: each git question mlgate asks, as one function.

Every call runs ``git`` in a child process in the given folder, captures its output and never
prompts. Every git process runs with ``LC_ALL=C``: the messages this module reads (and passes on)
are git's own English ones whatever the user's locale, so parsing never depends on a translation.
A change mlgate proposes (a promotion, a retraining) is built in a :func:`scratch_worktree`, never
in the user's checkout: their branch, index and work tree stay as they were.

A failure the caller cannot answer for raises :class:`~mlgate.exceptions.GitError` (exit 3) with
git's own message; functions whose question has a "no" answer (``show`` of a file the commit does
not have, ``is_ancestor``, ``toplevel`` outside a repository) return it instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mlgate.exceptions import GitError, InvalidInput

TIMEOUT = 60  # seconds for a command that reads or writes a few objects
LOCALE = "C"
"""``LC_ALL`` of every git process: git's messages untranslated, whatever the user's locale."""


def environment() -> dict[str, str]:
    """The environment of every git process: the caller's, in the C locale, never prompting for a password."""
    return {**os.environ, "LC_ALL": LOCALE, "GIT_TERMINAL_PROMPT": "0"}


def _git(
    root: Path, *args: str, stdout: IO[bytes] | None = None, timeout: float | None = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in ``root``, unchecked: stdout and stderr as text (stdout to a file if given)."""
    try:
        if stdout is None:
            return subprocess.run(
                ["git", *args],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout,
                env=environment(),
            )
        done = subprocess.run(
            ["git", *args],
            cwd=root,
            stdout=stdout,
            stderr=subprocess.PIPE,
            check=False,
            timeout=timeout,
            env=environment(),
        )
    except FileNotFoundError as err:
        raise GitError("git is not installed", hint="install git and re-run") from err
    return subprocess.CompletedProcess(done.args, done.returncode, "", done.stderr.decode(errors="replace"))


def run_git(root: Path, *args: str) -> str:
    """``git ARGS`` in ``root``: its stdout, stripped; a failure is a GitError with git's message.

    For tools and tests (the demo builds its repositories with it): mlgate's own modules ask
    git through the named functions below, so each question is answered, and parsed, in one place.
    """
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


MAX_LISTED = 10
"""Branches an unknown-ref error lists at most (a repository may have hundreds)."""


def branch_names(root: Path) -> list[str]:
    """The repository's branches: local ones, then remote-tracking ones (``origin/main``), without ``*/HEAD``."""
    done = _git(root, "for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes")
    if done.returncode != 0:
        return []
    return [name for name in done.stdout.split() if not name.endswith("/HEAD")]


def unknown_ref(root: Path, ref: str, option: str = "--base") -> InvalidInput | None:
    """The error for a ``ref`` the user passed (as ``option``) that names no commit here, else None.

    It names the branches that exist (``--base master`` in a repository whose branch is ``main``
    is the common case) and what to do: pass one of them, or fetch the missing one.
    """
    if has_commit(root, ref):
        return None
    names = branch_names(root)
    if not names:
        return InvalidInput(
            f"{option} {ref}: this repository has no branch yet", hint="commit first (git add -A && git commit)"
        )
    tail = ref.rpartition("/")[2]
    likely = next((n for n in names if n.rpartition("/")[2] == tail), None) or next(
        (n for n in names if n in ("main", "master", "origin/main", "origin/master")), names[0]
    )
    listed = ", ".join(names[:MAX_LISTED]) + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")
    return InvalidInput(
        f"{option} {ref}: no branch or commit of that name in {root}; its branches: {listed}",
        hint=f"pass {option} {likely}, or fetch '{ref}' first (git fetch origin {ref}; "
        "in GitHub Actions: actions/checkout with fetch-depth: 0)",
    )


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
        for ref, option in ((base, "--base"), (head, "head")):
            missing = unknown_ref(root, ref, option)
            if missing is not None:
                raise missing
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


def tree_entries(root: Path, commit: str, under: str | None = None) -> list[TreeEntry]:
    """Every file of ``commit``'s tree (recursive; paths exactly as stored, even with odd characters).

    ``under``: only the files below that folder of ``root``, their paths relative to ``root``
    (``root`` may be a folder inside the repository); without it, the whole tree from its top.
    """
    scope = ["--", under] if under is not None else ["--full-tree"]
    done = _git(root, "ls-tree", "-r", "-z", commit, *scope, timeout=None)
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
                ["git", "cat-file", "--batch"],
                cwd=root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=environment(),
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


# --------------------------------------------------------------------------- commits and history


def resolve_commit(root: Path, ref: str) -> str:
    """The full sha of the commit ``ref`` names; a GitError when it names none."""
    return run_git(root, "rev-parse", "--verify", f"{ref}^{{commit}}")


def has_commit(root: Path, ref: str) -> bool:
    """Whether ``ref`` names a commit this repository holds."""
    return _git(root, "cat-file", "-e", f"{ref}^{{commit}}").returncode == 0


def commit_message(root: Path, commit: str) -> str:
    """The full message of ``commit`` (subject and body), stripped."""
    return run_git(root, "log", "-1", "--format=%B", commit)


def merge_base(root: Path, one: str, other: str) -> str:
    """The best common ancestor of two commits; a GitError when they share no history."""
    return run_git(root, "merge-base", one, other)


def first_parent_commits(root: Path, ref: str, path: str) -> list[str]:
    """The commits on ``ref``'s first-parent line that change ``path``, newest first.

    First parent: a branch's own states (its merges), not the commits of the pull requests merged into it.
    """
    return run_git(root, "log", "--first-parent", "--format=%H", ref, "--", path).split()


def commits_touching(root: Path, ref: str, paths: Sequence[str], limit: int) -> list[str]:
    """Up to ``limit`` commits reachable from ``ref`` that change one of ``paths``, newest first."""
    return run_git(root, "rev-list", f"--max-count={limit}", ref, "--", *paths).split()


# --------------------------------------------------------------------------- diffs and the work tree


def work_tree_changes(root: Path, base: str, under: str) -> list[str]:
    """The files below ``under`` whose work-tree content differs from ``base``'s (tracked files only)."""
    return [name for name in run_git(root, "diff", "--name-only", "-z", base, "--", under).split("\0") if name]


def raw_diff(root: Path, since: str, path: str) -> str:
    """The text diff of one file: ``since`` is a commit (against the work tree) or ``base...head``.

    The raw text: no external diff driver, textconv or ``-diff`` attribute of the repository applies
    (a pull request controls its ``.gitattributes``; a diff shown to a reviewer must be the bytes).
    """
    return run_git(root, "diff", "--no-ext-diff", "--no-textconv", "--text", since, "--", path)


@dataclass(frozen=True)
class Tag:
    """A git tag: its name, the commit it points at (peeled), and whether it is annotated (a tag object)."""

    name: str
    commit: str
    annotated: bool


def tags(root: Path) -> list[Tag]:
    """Every tag of the repository that points at a commit, by name."""
    fields = "%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objectname)%00%(*objecttype)"
    found = []
    for line in run_git(root, "for-each-ref", f"--format={fields}", "refs/tags").splitlines():
        name, kind, target, peeled, peeled_kind = line.split("\0")
        if kind == "commit":
            found.append(Tag(name, target, annotated=False))
        elif kind == "tag" and peeled_kind == "commit":
            found.append(Tag(name, peeled, annotated=True))
    return sorted(found, key=lambda t: t.name)


def tracked_files(root: Path, *patterns: str) -> list[str]:
    """The tracked files matching the pathspecs ``patterns`` (relative to ``root``)."""
    return [name for name in run_git(root, "ls-files", "-z", "--", *patterns).split("\0") if name]


def untracked_files(root: Path) -> set[str]:
    """The untracked files git does not ignore (relative to ``root``)."""
    return {name for name in run_git(root, "ls-files", "--others", "--exclude-standard", "-z").split("\0") if name}


def staged_files(root: Path) -> list[str]:
    """The files the index changes against HEAD (relative to the repository's top)."""
    return [name for name in run_git(root, "diff", "--cached", "--name-only", "-z").split("\0") if name]


def stage_tracked(root: Path) -> None:
    """Stage every change to a tracked file (``git add -u``): edits and deletions, nothing new."""
    run_git(root, "add", "-u")


def stage(root: Path, paths: Sequence[str]) -> None:
    """Stage these files (relative to ``root``), new ones included."""
    if paths:
        run_git(root, "add", "--", *paths)


@dataclass(frozen=True)
class Identity:
    """Who a commit mlgate makes is by, when git has no identity configured (an Actions runner)."""

    name: str
    email: str


ACTIONS_BOT = Identity("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
"""The author of mlgate's commits where git has no identity configured (an Actions runner)."""


def commit(root: Path, message: str, fallback: Identity | None = ACTIONS_BOT) -> str:
    """Commit the index with ``message`` (hooks skipped: mlgate's own commit); the new commit's sha.

    ``fallback`` is the author when git has no ``user.email`` configured; git's own identity wins.
    """
    identity: list[str] = []
    if fallback is not None and not config_value(root, "user.email"):
        identity = ["-c", f"user.name={fallback.name}", "-c", f"user.email={fallback.email}"]
    run_git(root, *identity, "commit", "-q", "--no-verify", "-m", message)
    return resolve_commit(root, "HEAD")


def push_head(root: Path, remote: str, branch: str, *, replace: bool = False) -> None:
    """Push HEAD to ``branch`` of ``remote``; ``replace``: over what the branch holds (mlgate's own branch only)."""
    run_git(root, "push", "-q", *(["--force"] if replace else []), remote, f"HEAD:refs/heads/{branch}")


def branch_commit(root: Path, remote: str, branch: str) -> str | None:
    """The commit of the local ``branch``, else of ``remote``'s as last fetched; None when neither exists.

    Local first: what the user (or the workflow's checkout) has, as a change made on the branch would start from.
    """
    for ref in (f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}"):
        done = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if done.returncode == 0:
            return done.stdout.strip()
    return None


# --------------------------------------------------------------------------- scratch checkouts


@contextlib.contextmanager
def scratch_worktree(root: Path, start: str) -> Iterator[Path]:
    """A temporary checkout of ``start`` (detached, so no branch is created), removed afterwards even on failure.

    Yields the folder that stands for ``root`` in it (``root`` may be below the repository's top).
    A change mlgate commits there and pushes leaves the user's checkout — its branch, HEAD, index
    and work tree, uncommitted files included — exactly as it was.
    """
    top = toplevel(root)
    if top is None:
        raise GitError(f"{root} is not in a git repository")
    folder = Path(tempfile.mkdtemp(prefix="mlgate-worktree-"))
    checkout = folder / "checkout"
    try:
        run_git(top, "worktree", "add", "--detach", "-q", str(checkout), start)
        yield checkout / Path(root).resolve().relative_to(top)
    finally:
        _git(top, "worktree", "remove", "--force", "--force", str(checkout))
        shutil.rmtree(folder, ignore_errors=True)
        _git(top, "worktree", "prune")  # whatever `remove` left registered
