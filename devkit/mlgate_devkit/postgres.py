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
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlgate_devkit.mlflow_server import free_port


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

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            **_as(self.user),
        )
        if done.returncode != 0:
            log = (self.data.parent / "postgres.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {done.stderr}\n{log}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.data.parent / 'socket'} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("-w", "-o", options, "-l", str(self.data.parent / "postgres.log"), "start")

    def stop(self) -> None:
        """Stop it now (``-m fast``: connections are cut, as when the database host goes away)."""
        self._run("-w", "-m", "fast", "stop")


def start_cluster(base: Path) -> Cluster:
    """``initdb`` a cluster under ``base`` and start it on a free port (``binaries()`` must have found PostgreSQL)."""
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
    cluster = Cluster(bin_dir, data, free_port(), user)
    cluster.start()
    return cluster


def _as(user: str | None) -> dict[str, object]:
    """Subprocess arguments running a command as ``user`` with that user's group only (root's would leak)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
