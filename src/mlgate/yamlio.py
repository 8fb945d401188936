"""Strict YAML loading for governance files, keeping line and column of every key.

Governance files (specs, policies, releases) must fail loudly: PyYAML silently keeps the last
of two duplicate keys, which would let a reviewer read one threshold while the gate applies
another. ruamel.yaml's round-trip loader rejects duplicates and records where each key and
value sits, so every later error can say ``file:line:col: key -> path: message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from mlgate.exceptions import Problem, SpecError

KeyPath = tuple[str | int, ...]


@dataclass
class Document:
    """A loaded YAML document: plain Python data plus where each piece came from."""

    path: Path
    data: Any
    display: str
    key_marks: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    value_marks: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def mark(self, loc: KeyPath, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of ``loc``, or of its nearest ancestor that exists."""
        marks = (self.key_marks, self.value_marks) if key else (self.value_marks, self.key_marks)
        probe = tuple(loc)
        while probe:
            for table in marks:
                if probe in table:
                    line, col = table[probe]
                    return line + 1, col + 1
            probe = probe[:-1]
        return 1, 1

    def problem(self, loc: KeyPath, message: str, *, key: bool = False) -> Problem:
        """A problem pointing at ``loc`` in this document."""
        line, col = self.mark(loc, key=key)
        return Problem(self.display, line, col, loc, message)


def _round_trip_loader() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    return yaml


def _plain(node: Any, loc: KeyPath, doc: Document) -> Any:
    """Convert ruamel's commented nodes into plain Python, recording marks on the way."""
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            child = (*loc, key)
            doc.key_marks[child] = tuple(node.lc.key(key))  # type: ignore[assignment]
            doc.value_marks[child] = tuple(node.lc.value(key))  # type: ignore[assignment]
            out[key] = _plain(value, child, doc)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*loc, index)
            doc.value_marks[child] = tuple(node.lc.item(index))  # type: ignore[assignment]
            items.append(_plain(value, child, doc))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _describe(err: MarkedYAMLError) -> str:
    """Turn the parser's message into one that says what to fix."""
    problem = err.problem or err.context or "invalid YAML"
    opened = err.context_mark
    if "\\t" in problem or "'\\t'" in problem or "\t" in problem:
        return "tab character used for indentation: YAML indents with spaces only"
    if "found duplicate key" in problem:
        return f"{problem}: each key may appear only once in a governance file"
    if problem.startswith("expected <block end>"):
        where = f" (while parsing the mapping at line {opened.line + 1}, column {opened.column + 1})"
        return "bad indentation: a key here must line up with a key above it" + (where if opened else "")
    if problem == "mapping values are not allowed here":
        return f"{problem}: check this line's indentation, or quote a value that contains ': '"
    if problem.startswith("expected ',' or") and opened is not None:
        closer = "]" if "']'" in problem else "}"
        kind = "list" if closer == "]" else "mapping"
        return (
            f"{problem} (in the {kind} opened at line {opened.line + 1}, column "
            f"{opened.column + 1}: is its '{closer}' missing?)"
        )
    return problem


def load(path: Path, display: str | None = None) -> Document:
    """Load one YAML file strictly; raise :class:`SpecError` naming file, line and column."""
    shown = display or str(path)
    doc = Document(path=path, data=None, display=shown)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(shown, 0, 0, (), "file not found")]) from None
    except UnicodeDecodeError as err:
        raise SpecError([Problem(shown, 0, 0, (), f"not UTF-8 text ({err.reason})")]) from None
    try:
        raw = _round_trip_loader().load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SpecError([Problem(shown, line, col, (), _describe(err))]) from None
    except YAMLError as err:  # e.g. several documents in one file
        raise SpecError([Problem(shown, 1, 1, (), str(err).splitlines()[0])]) from None
    if raw is None:
        raise SpecError([Problem(shown, 1, 1, (), "file is empty: expected a mapping of keys")])
    doc.data = _plain(raw, (), doc)
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        raise SpecError([Problem(shown, 1, 1, (), f"expected a mapping of keys, got a {kind}")])
    return doc
