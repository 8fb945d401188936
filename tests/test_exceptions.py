"""The exception tree in docs/design.md ("### Exit codes") is the code's: every class, its exit code.

Every module of the package is imported first, so a subclass defined anywhere (the GitHub client,
the deploy hooks, the registry) is in ``MlgateError.__subclasses__()``; the tree is then rendered
from the classes and compared with the block in the design document.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import mlgate
from conftest import PROJECT
from mlgate.exceptions import MlgateError

DESIGN = PROJECT / "docs" / "design.md"
MARKER = "<!-- exception tree: generated, see tests/test_exceptions.py -->"


def _import_every_module() -> list[str]:
    """Import every module of the package (so each subclass is defined); the names imported."""
    names = [info.name for info in pkgutil.walk_packages(mlgate.__path__, "mlgate.")]
    for name in names:
        importlib.import_module(name)
    return names


def _line(cls: type[MlgateError]) -> str:
    summary = (cls.__doc__ or "").strip().splitlines()
    assert summary, f"{cls.__name__} has no docstring"
    return f"{cls.__name__} ({cls.exit_code}): {summary[0]}"


def _branches(cls: type[MlgateError], prefix: str = "") -> list[str]:
    """The subclasses of ``cls`` as tree lines, by exit code then name (import order is no order)."""
    children = sorted(cls.__subclasses__(), key=lambda c: (c.exit_code, c.__name__))
    lines = []
    for index, child in enumerate(children):
        last = index == len(children) - 1
        lines.append(prefix + ("└── " if last else "├── ") + _line(child))
        lines += _branches(child, prefix + ("    " if last else "│   "))
    return lines


def render_tree() -> str:
    """The exception tree as docs/design.md shows it."""
    _import_every_module()
    return "\n".join([_line(MlgateError), *_branches(MlgateError)])


def documented_tree() -> str:
    text = DESIGN.read_text(encoding="utf-8")
    assert text.count(MARKER) == 1, f"{DESIGN} must hold the marker {MARKER!r} once"
    found = re.search(re.escape(MARKER) + r"\n```text\n(.*?)\n```", text, re.DOTALL)
    assert found, f"no ```text block after {MARKER!r} in {DESIGN}"
    return found.group(1)


def walk(cls: type[MlgateError]) -> list[type[MlgateError]]:
    return [cls, *(c for child in cls.__subclasses__() for c in walk(child))]


def test_the_documented_exception_tree_is_the_codes() -> None:
    expected = render_tree()
    assert documented_tree() == expected, f"paste this into {DESIGN.name} after {MARKER}:\n```text\n{expected}\n```"


def test_the_walk_sees_classes_outside_the_exceptions_module() -> None:
    """The comparison is only as good as the walk: classes of other modules must be in it."""
    render_tree()
    modules = {cls.__module__ for cls in walk(MlgateError)}
    assert "mlgate.exceptions" in modules
    assert len(modules) >= 3, modules  # the GitHub client, the deploy hooks, the registry define their own
    names = [cls.__name__ for cls in walk(MlgateError)]
    assert len(names) == len(set(names)), "two exception classes share a name: the tree could not tell them apart"


@pytest.mark.parametrize(("code", "root"), [(1, "Blocked"), (2, "InvalidInput"), (3, "ExternalServiceError")])
def test_the_exit_code_table_names_the_class_of_each_code(code: int, root: str) -> None:
    """Each row of the table names the class whose subtree has its code; no class below changes it."""
    text = DESIGN.read_text(encoding="utf-8")
    row = re.search(rf"^\| {code} \| .* \| `(\w+)` and its subclasses \|$", text, re.MULTILINE)
    assert row, f"the exit code table has no row for {code} naming its class"
    assert row.group(1) == root
    render_tree()
    (cls,) = [c for c in MlgateError.__subclasses__() if c.__name__ == root]
    assert {c.exit_code for c in walk(cls)} == {code}


def test_excerpt_bounds_a_value_and_says_how_big_it_was() -> None:
    from mlgate.exceptions import excerpt

    assert excerpt("forty") == "'forty'"
    assert excerpt(1597.5) == "1597.5"
    long = "é" * 1000  # two UTF-8 bytes each
    shown = excerpt(long)
    assert shown == f"{'é' * 80!r}… (2000 bytes)"
    assert len(excerpt("x" * 30_000_000)) < 120
