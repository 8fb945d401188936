"""The bundle's archive: a deterministic tar.gz written, an untrusted one read safely.

Written: entries sorted, every one a regular file (or its folder) with a fixed mtime, uid/gid 0,
no user or group names, mode 0644 (0755 for folders), PAX format, gzip with mtime 0 and no file
name: the same files give the same bytes. Read: the archive is untrusted input, so it is read into
memory member by member, never extracted: a member must be a regular file or a folder under the one
top folder, with a relative path free of ``..``, and the members' sizes are bounded.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from mlgate.exceptions import InvalidInput

MTIME = 946_684_800  # 2000-01-01T00:00:00Z: a fixed, plausible date (0 makes some tools warn)
MAX_MEMBERS = 10_000
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 256 * 1024 * 1024


def write_archive(output: Path, top: str, files: dict[str, bytes]) -> bytes:
    """Write ``files`` (bundle path -> bytes) under folder ``top`` as a deterministic tar.gz at ``output``; its bytes.

    Written to a temporary file beside ``output`` and renamed: a reader never sees half a bundle.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folders = sorted({str(parent) for rel in files for parent in PurePosixPath(rel).parents if str(parent) != "."})
        for folder in ["", *folders]:
            info = tarfile.TarInfo(f"{top}/{folder}".rstrip("/"))
            info.type = tarfile.DIRTYPE
            _fixed(info, 0o755)
            tar.addfile(info)
        for rel in sorted(files):
            data = files[rel]
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            _fixed(info, 0o644)
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    data = packed.getvalue()
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".evidence-", suffix=".tmp", dir=output.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return data


def _fixed(info: tarfile.TarInfo, mode: int) -> None:
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = mode


def read_archive(path: Path) -> tuple[str, dict[str, bytes]]:
    """The top folder and the files (path below it -> bytes) of the bundle at ``path``.

    Anything that is not a safe bundle is :class:`InvalidInput` (exit 2) naming ``path``.
    """
    shown = str(path)

    def refuse(why: str) -> InvalidInput:
        return InvalidInput(
            f"{shown}: not an mlgate evidence bundle ({why})",
            hint="pass the .tar.gz that `mlgate evidence MODEL --version N --output FILE` wrote",
        )

    if not path.is_file():
        raise refuse("no such file")
    files: dict[str, bytes] = {}
    tops: set[str] = set()
    total = 0
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise refuse(f"more than {MAX_MEMBERS} entries")
                name = member.name
                parts = PurePosixPath(name).parts
                if not parts or name.startswith(("/", "\\")) or ".." in parts or "\\" in name or ":" in parts[0]:
                    raise refuse(f"unsafe path {name!r}")
                tops.add(parts[0])
                if member.isdir():
                    continue
                if not member.isreg():
                    raise refuse(f"{name!r} is a link or device, not a regular file")
                if len(parts) < 2:
                    raise refuse(f"{name!r} is outside the bundle's folder")
                if member.size > MAX_FILE_BYTES:
                    raise refuse(f"{name!r} is {member.size} bytes (at most {MAX_FILE_BYTES})")
                total += member.size
                if total > MAX_TOTAL_BYTES:
                    raise refuse(f"more than {MAX_TOTAL_BYTES} bytes in all")
                handle = tar.extractfile(member)
                if handle is None:
                    raise refuse(f"{name!r} cannot be read")
                rel = PurePosixPath(*parts[1:]).as_posix()
                if rel in files:
                    raise refuse(f"{name!r} is in the archive twice")
                files[rel] = handle.read(MAX_FILE_BYTES + 1)
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as err:
        raise refuse(f"unreadable tar.gz: {err}") from None
    if len(tops) != 1:
        raise refuse("one top folder expected, found " + (", ".join(sorted(tops)) or "none"))
    return tops.pop(), files
