"""A real PostgreSQL cluster in a folder of its own, started and stopped with Debian's ``initdb``/``pg_ctl``.

Used by the serving tests and ``benchmarks/serve.py``: the cluster listens on 127.0.0.1 only, trusts
local connections (nothing leaves the machine) and keeps its socket in its own folder. When this
process runs as root, the server runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

START_ATTEMPTS = 5
"""Ports tried before start_cluster gives up (each taken only if another process won it in between)."""


class PortInUse(RuntimeError):
    """PostgreSQL could not bind its port: another process listens there."""


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (Debian's newest ``/usr/lib/postgresql/N/bin``), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path and (Path(on_path).resolve().parent / "initdb").exists():
        return Path(on_path).resolve().parent
    return None


@dataclass
class Cluster:
    """A running cluster: ``url`` for SQLAlchemy (psycopg 3); :meth:`stop` and :meth:`start` for fault tests."""

    bin: Path
    data: Path
    port: int
    user: str | None

    @property
    def url(self) -> str:
        """The database URL (user ``postgres``, database ``postgres``, no password: trust auth)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def log(self) -> Path:
        """The server's log file (appended to by every start)."""
        return self.data.parent / "postgres.log"

    def _run(self, *args: str) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        done = subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            **_as(self.user),
        )
        if done.returncode != 0:
            text = self.log.read_bytes()[offset:].decode(errors="replace") if self.log.exists() else ""
            failure = PortInUse if "Address already in use" in text else RuntimeError
            raise failure(f"pg_ctl {' '.join(args)} failed: {done.stderr}\n{text[-2000:]}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.data.parent / 'socket'} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("-w", "-o", options, "-l", str(self.log), "start")

    def stop(self) -> None:
        """Stop it now (``-m fast``: connections are cut, as when the database host goes away)."""
        self._run("-w", "-m", "fast", "stop")


def _kernel_port() -> int:
    """A port the kernel hands out for 127.0.0.1 now; another process may take it before PostgreSQL binds it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_cluster(base: Path, ports: Iterable[int] | None = None) -> Cluster:
    """``initdb`` a cluster under ``base`` and start it (``binaries()`` must have found PostgreSQL).

    PostgreSQL cannot bind port 0 (the port names its socket file), so it is given one the kernel
    hands out; when another process takes that port first, the next of ``ports`` (default: up to
    ``START_ATTEMPTS`` fresh ones) is tried, so the race costs a retry instead of a failed run.
    """
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    user = "postgres" if os.geteuid() == 0 else None
    base.mkdir(parents=True, exist_ok=True)
    (base / "socket").mkdir(exist_ok=True)
    if user is not None:  # the server's user must own its folders
        entry = pwd.getpwnam(user)
        for path in (base, base / "socket"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        # ...and reach them: pytest's temp folders are root's 0700. Only folders under the temp
        # folder get "others may pass through" (o+x, no listing, no reading).
        top = Path(tempfile.gettempdir()).resolve()
        for parent in base.resolve().parents:
            if parent == top or top not in parent.parents:
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
    data = base / "data"
    done = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        **_as(user),
    )
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {done.stderr}")
    tried = []
    for port in ports if ports is not None else (_kernel_port() for _ in range(START_ATTEMPTS)):
        cluster = Cluster(bin_dir, data, port, user)
        try:
            cluster.start()
        except PortInUse:
            tried.append(port)
            continue
        return cluster
    raise RuntimeError(f"PostgreSQL found every port it tried in use: {tried}")


def _as(user: str | None) -> dict[str, object]:
    """Subprocess arguments running a command as ``user`` with that user's group only (root's would leak)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
