"""The fast YAML path (libyaml's events) builds exactly what the round-trip path (ruamel) builds.

Same data with the same Python types, same key and value marks, on every YAML file of the repo
and on snippets that probe the edges (empty values at the end of a mapping, numbers in every
spelling YAML 1.2 knows, block scalars, flow collections). Where the fast path cannot match it
must give up (return None) so the round-trip path decides: never a different result.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import PROJECT
from mlgate.config import yamlio
from mlgate.exceptions import SpecError

YAML_FILES = sorted(
    rel
    for rel in subprocess.run(
        ["git", "ls-files"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # the workflow templates are not YAML until rendered ({{placeholders}}); .github/workflows holds the renderings
    if (rel.endswith((".yaml", ".yml", ".dvc")) or rel == "dvc.lock")
    and not rel.startswith("src/mlgate/resources/workflows/")
)

# Plain data the fast path must build itself (else the speed-up is gone for files like these).
BUILT = [
    "a: 1\nb:\n",
    "a:\n  b:\n  c:\nd: x\n",
    "a:\n# comment\n\nb: 1\nc:\nd:\n  - e:\n  - f: 1\n    g:\n",
    "bools: [true, True, TRUE, false, yes, no, on, off, y, n]\n",
    "nulls: [~, null, Null, NULL, '', \"\"]\n",
    "strings: [v1, 1.2.3, -x, +y, 3f2a9c, 12ab, 'true', \"1\", a b, 0x, 1e, e3, -, '=', x=y]\n",
    "numbers: [0, -1, +2, 12, 1.5, -2., 1e3, 1E-3, +1.0e+2, 3.]\n",
    "lit: |\n  one\n  two\nfold: >-\n  a\n  b\nkeep: |+\n  c\n\nnext: 1\n",
    "quoted: 'it''s'\ndouble: \"tab\\there \\u00e9\"\n",
    "# comment\na: 1  # trailing\n\n# another\nb:\n  # inside\n  c: 2\n",
    "a:\n- x\n- y:\n    z: 1\n  w: 2\n- - nested\n  - list\n",
    "multi: this is\n  a plain scalar\n  on lines\nafter: 1\n",
    "a: b\r\nc: d\r\n",
    "? complex\n: value\n",
    "a: {b: {c: {d: [[[[1]]]]}}}\n",
    "unicode: é€😀\nkey with spaces: 1\n",
    "a: 'multi\n  line quoted'\nb: \"x\n\n  y\"\n",
]
# Edges where the fast path may give up (then the round trip decides), but must never differ.
SNIPPETS = [
    *BUILT,
    "a:\n  - \n  -\n  - x\n",
    "a: {b: , c: 1}\nd: [1, 2]\n",
    "ints: [0, -1, +2, 12, 007, 0o17, 0x1F, 0b101, 1_000]\n",
    "floats: [1.5, -2., 1e3, 1E-3, +1.0e+2, .5, -.5, .inf, -.inf, .nan, 1_0.5, 01.5]\n",
    "dates: [2024-01-02, 2024-1-2 3:04:05, 2024-01-02T03:04:05Z]\n",
    "1: int key\ntrue: bool key\nnull: null key\n'2': str key\n",
    "1: int key\nnull: null key\n'2': str key\n",
    "a: 1\n---\nb: 2\n",
    "%YAML 1.1\n---\na: yes\n",
    "a: !!str 5\n",
    "a: &x 1\nb: *x\n",
    "a: 1\na: 2\n",
    "<<: {a: 1}\n",
    "- a\n- b\n",
    "just a scalar\n",
    "",
    "# only a comment\n",
    "a: [1, 2\n",
    "a:\n\tb: 1\n",
    "a: " + "[" * 70 + "]" * 70 + "\n",
    "c: #\n",
    "c:   # trailing\nd: 1\n",
    "c:\t# t\nd:\n",
    "a: 'tab\tinside'\n",
]


def typed(value: Any) -> Any:
    """``value`` with every scalar paired with its type: 1 and 1.0 and True must not compare equal."""
    if isinstance(value, dict):
        return {typed(k): typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def both(text: str) -> tuple[yamlio.Document | None, yamlio.Document | SpecError]:
    """The fast path's document (None: it gave up) and the round-trip path's document or error."""
    fast = yamlio._fast(text, "x.yaml")
    try:
        slow: yamlio.Document | SpecError = yamlio._round_trip(text, "x.yaml")
    except SpecError as err:
        slow = err
    return fast, slow


def assert_same(text: str) -> bool:
    """The fast path gave up, or built the round-trip path's document; whether it built it."""
    fast, slow = both(text)
    if fast is None:
        return False
    assert isinstance(slow, yamlio.Document), f"fast path accepted what the round trip refuses: {slow}"
    assert typed(fast.data) == typed(slow.data)
    assert fast.key_marks == slow.key_marks
    assert fast.value_marks == slow.value_marks
    return True


def test_libyaml_is_there() -> None:
    # without it every file takes the round-trip path: correct, but the speed-up is gone
    import yaml

    assert yaml.__with_libyaml__
    assert yamlio._c_loader() is yaml.CSafeLoader


@pytest.mark.parametrize("rel", YAML_FILES)
def test_fast_path_matches_round_trip_on_repo_files(rel: str) -> None:
    text = (PROJECT / rel).read_text(encoding="utf-8")
    assert assert_same(text), f"{rel}: the fast path gave up on a file of the repo"


@pytest.mark.parametrize("text", SNIPPETS)
def test_fast_path_matches_round_trip_or_gives_up(text: str) -> None:
    assert_same(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases: the round trip refuses them, located
        "a: 1\na: 2\n",  # duplicate key
        "a: !!python/object:os.system x\n",
        "<<: {a: 1}\n",
        "a: 1\n---\nb: 2\n",
        "[a, b]: 1\n",
        "a: " + "[" * 70 + "]" * 70 + "\n",
        "- a\n",
        "",
    ],
)
def test_fast_path_gives_up_on_what_the_screen_refuses(text: str) -> None:
    fast, slow = both(text)
    assert fast is None
    assert isinstance(slow, SpecError)


def test_fast_path_builds_plain_data() -> None:
    gave_up = [text for text in BUILT if not assert_same(text)]
    assert gave_up == []


def test_load_uses_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: fast-path-probe\nthreshold: 0.5\n")
    monkeypatch.setattr(yamlio, "_round_trip", lambda *a: pytest.fail("the round-trip path ran"))
    assert yamlio.load(path).data == {"name": "fast-path-probe", "threshold": 0.5}
