"""One md5 for mlgate: the one DVC records (``hash: md5``), for files and for bytes alike."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import PROJECT
from mlgate.config import load
from mlgate.data import bytes_md5, file_md5


def test_file_md5_is_what_dvc_records() -> None:
    for pointer in sorted((PROJECT / "data").glob("*.csv.dvc")):
        data = PROJECT / "data" / pointer.name.removesuffix(".dvc")
        if not data.is_file():
            continue
        (out,) = load(pointer).data["outs"]
        assert file_md5(data) == out["md5"]
        assert file_md5(data, chunk=7) == bytes_md5(data.read_bytes()) == out["md5"]


def test_file_md5_reads_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 3000)
    assert file_md5(path, chunk=1000) == bytes_md5(b"x" * 3000) != bytes_md5(b"x" * 2999)
    assert bytes_md5(b"") == "d41d8cd98f00b204e9800998ecf8427e"


def test_md5_is_computed_in_one_module() -> None:
    # every other module calls file_md5 / bytes_md5: two hashers could drift apart (chunking, dos2unix)
    callers = []
    for path in sorted((PROJECT / "src" / "mlgate").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "md5" and getattr(node.value, "id", "") == "hashlib":
                callers.append(path.relative_to(PROJECT).as_posix())
    assert set(callers) == {"src/mlgate/data/_dvc.py"}
