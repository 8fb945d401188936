"""The ``mlgate-serve-*`` folders of a serve process in the temp folder, and the removal of those whose owner died.

A serve keeps each downloaded model version, and with ``--workers N`` the workers' configuration,
in a private folder (mode 0700) named ``mlgate-serve-*`` in the temp folder. A stop removes them;
a serve killed by SIGKILL (or crashed, or whose machine lost power) cannot. So each folder
holds a lock file, ``.owner.lock``, on which every process using the folder holds a shared
``flock`` for as long as it uses it. The kernel releases a flock when its holder exits, however
it exits, and a pid reused by another process does not hold it: a folder whose lock can be taken
exclusively has no living owner. :func:`remove_orphans`, run as ``mlgate serve`` starts,
removes those, and only those.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import stat
import tempfile
import weakref
from datetime import UTC, datetime

log = logging.getLogger("mlgate.serve")

PREFIX = "mlgate-serve-"
LOCK = ".owner.lock"
"""The lock file in each folder; it names its creator (pid, start time) for a reader, the flock decides."""


class Scratch:
    """A new private folder ``mlgate-serve-*`` in the temp folder, locked (shared) by this process until removed.

    ``name`` is where to write: the folder itself, or its subfolder ``sub`` (a model download goes
    there, so the lock file is never among the files whose digest is checked). ``cleanup`` (or the
    object's collection, or the interpreter's exit) removes the folder, then releases the lock. A
    ``tempfile.TemporaryDirectory`` stand-in: what holds the object keeps the folder.
    """

    def __init__(self, sub: str | None = None) -> None:
        """Create the folder and its lock (the lock is in place before another process can see it as a lock)."""
        root = tempfile.mkdtemp(prefix=PREFIX)  # mode 0700
        try:
            fd = _lock(root)
            if sub is not None:
                os.mkdir(os.path.join(root, sub), 0o700)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        self.root = root
        self.name = os.path.join(root, sub) if sub is not None else root
        self._finalizer = weakref.finalize(self, _remove, root, fd)

    def cleanup(self) -> None:
        """Remove the folder and release its lock (once; later calls do nothing)."""
        self._finalizer()

    def __repr__(self) -> str:
        """The folder's path."""
        return f"Scratch({self.root!r})"


def hold(root: str) -> int:
    """Take a shared lock on the folder ``root`` (made by another process's :class:`Scratch`) for this process's life.

    A worker of ``mlgate serve --workers N`` holds its configuration folder so: the folder is in
    use while any worker runs, even if the supervisor died. The descriptor is returned (closing it
    releases the lock; the process's exit does).
    """
    fd = os.open(os.path.join(root, LOCK), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _lock(root: str) -> int:
    """Create ``root``'s lock file, already locked (shared) when it appears under its name; the descriptor."""
    pending = os.path.join(root, f"{LOCK}.{os.getpid()}")
    fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.write(fd, f"mlgate serve pid {os.getpid()} since {datetime.now(UTC).isoformat()}\n".encode())
        # renamed only once locked: a remover never finds this lock free while its folder is being made
        os.rename(pending, os.path.join(root, LOCK))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove(root: str, fd: int) -> None:
    """Remove ``root`` while its lock is held, then release the lock."""
    try:
        shutil.rmtree(root, ignore_errors=True)
    finally:
        os.close(fd)


def remove_orphans(folder: str | None = None) -> list[str]:
    """Remove the ``mlgate-serve-*`` folders in ``folder`` (the temp folder) whose owner processes all exited.

    Only a real folder (a symbolic link is not followed, nor removed) owned by this user, holding a
    regular lock file of this user that no process holds. A live serve's folder (this user's or
    another's), a folder without a lock file (an older mlgate's, or one being made), anything named
    otherwise is left alone. Never raises: an error is a warning line, and the serve starts.
    The paths removed.
    """
    base = folder if folder is not None else tempfile.gettempdir()
    removed: list[str] = []
    try:
        base_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        log.warning("leftover %s* folders not checked: %s: %s", PREFIX, base, err.strerror or err)
        return removed
    try:
        try:
            names = sorted(n for n in os.listdir(base_fd) if n.startswith(PREFIX))
        except OSError as err:
            log.warning("leftover %s* folders not checked: %s: %s", PREFIX, base, err.strerror or err)
            return removed
        for name in names:
            path = os.path.join(base, name)
            try:
                if _remove_if_orphaned(base_fd, name):
                    removed.append(path)
            except OSError as err:
                log.warning("leftover folder %s not removed: %s", path, err.strerror or err)
    finally:
        os.close(base_fd)
    if removed:
        log.info("removed %d folder(s) left by serve processes that exited: %s", len(removed), ", ".join(removed))
    return removed


def _remove_if_orphaned(base_fd: int, name: str) -> bool:
    """Remove ``name`` (in the folder ``base_fd``) if it is this user's serve folder and no process holds its lock."""
    uid = os.getuid()
    try:
        # O_NOFOLLOW: a symbolic link is refused here (ELOOP), O_DIRECTORY: so is a file
        folder_fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=base_fd)
    except OSError:
        return False  # gone meanwhile, a symbolic link, not a folder, or not ours to read
    try:
        found = os.fstat(folder_fd)
        if found.st_uid != uid:
            return False
        try:
            lock_fd = os.open(LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
        except OSError:
            return False  # no lock file (being made, or an older mlgate's): whose it is cannot be told
        try:
            lock = os.fstat(lock_fd)
            if not stat.S_ISREG(lock.st_mode) or lock.st_uid != uid:
                return False
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a live process holds it
            # still the folder opened above (not replaced meanwhile by another one, or by a link)?
            if not os.path.samestat(found, os.stat(name, dir_fd=base_fd, follow_symlinks=False)):
                return False
            # removed while locked; rmtree by descriptors: a link inside is removed, never followed
            shutil.rmtree(name, dir_fd=base_fd)
            return True
        finally:
            os.close(lock_fd)
    finally:
        os.close(folder_fd)
