"""Strict YAML loading for governance files, keeping line and column of every key.

Governance files (specs, policies, releases) must fail loudly: PyYAML silently keeps the last
of two duplicate keys, which would let a reviewer read one threshold while the gate applies
another. ruamel.yaml's round-trip loader rejects duplicates and records where each key and
value sits, so every later error can say ``file:line:col: key -> path: message``.

Before anything is constructed, the event stream is screened (:func:`_screen`), because a file
from a pull request is untrusted input: it may hold at most :data:`MAX_BYTES` and nest at most
:data:`MAX_DEPTH` levels (deeper nesting would exhaust Python's recursion); anchors and aliases
are refused (a reviewer must see every value where it applies, and a few hundred bytes of
nested aliases expand into billions of nodes); so are tags other than YAML's plain core types
(``!!python/object`` and friends), keys that are not scalars, and ``<<`` merge keys.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.scanner import RoundTripScanner

from mlgate.exceptions import Problem, SpecError

KeyPath = tuple[str | int, ...]

MAX_BYTES = 1 << 20
"""Largest governance file read (1 MiB): real specs and policies are a few KiB."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted: real files nest fewer than ten levels."""
_CORE = "tag:yaml.org,2002:"
_PLAIN_TAGS = {None, "!", *(_CORE + kind for kind in ("str", "int", "float", "bool", "null", "map", "seq"))}
_NO_ALIASES = (
    "governance files may not use anchors or aliases (a reviewer must see each value where it "
    "applies, and aliases can expand a few lines into millions of nodes)"
)
_TOO_DEEP = f"more than {MAX_DEPTH} levels of nesting: governance files are refused past that depth"


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


class _Refused(Exception):
    """The screen found something a governance file may not hold."""

    def __init__(self, loc: KeyPath, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.loc, self.line, self.column, self.message = loc, line, column, message


class _DepthScanner(RoundTripScanner):
    """A scanner that stops at the 65th open ``[`` or ``{``.

    Inside brackets ruamel's scanner reads ahead to the first closing one, in time quadratic in
    the depth, before the parser yields a single event: the screen would come too late.
    """

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
        if self.flow_level >= MAX_DEPTH:
            mark = self.reader.get_mark()
            raise _Refused((), mark.line + 1, mark.column + 1, _TOO_DEEP)
        super().fetch_flow_collection_start(TokenClass, to_push)


def _round_trip_loader() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.Scanner = _DepthScanner
    yaml.allow_duplicate_keys = False
    return yaml


@dataclass
class _Level:
    """One open mapping or list while screening: where the next node goes."""

    mapping: bool
    index: int = 0
    key: str | int = ""
    at_key: bool = True

    def advance(self) -> None:
        if self.mapping:
            self.at_key = not self.at_key
        else:
            self.index += 1


def _path(levels: list[_Level]) -> KeyPath:
    """Key path of the node an event starts (a key is located at its mapping)."""
    parts: list[str | int] = []
    for level in levels:
        if not level.mapping:
            parts.append(level.index)
        elif not level.at_key:
            parts.append(level.key)
    return tuple(parts)


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


def _screen(yaml: YAML, text: str) -> None:
    """Walk the parser's events once, refusing what no governance file needs (see module doc).

    The parser is not recursive and stops at the first refusal, so neither a deeply nested
    file nor an alias bomb costs more than reading it.
    """
    levels: list[_Level] = []
    for event in yaml.parse(text):
        if isinstance(event, MappingEndEvent | SequenceEndEvent):
            levels.pop()
            if levels:
                levels[-1].advance()
            continue
        if not isinstance(event, NodeEvent):
            continue
        mark = event.start_mark
        at_key = bool(levels) and levels[-1].mapping and levels[-1].at_key
        loc = _path(levels)
        if isinstance(event, ScalarEvent) and at_key:
            loc = (*loc, event.value)

        def refuse(message: str, where: KeyPath = loc, mark: Any = mark) -> _Refused:
            return _Refused(where, mark.line + 1, mark.column + 1, message)

        if isinstance(event, AliasEvent):
            raise refuse(f"YAML alias '*{event.anchor}' refused: {_NO_ALIASES}")
        if event.anchor is not None:
            raise refuse(f"YAML anchor '&{event.anchor}' refused: {_NO_ALIASES}")
        tag = getattr(event, "tag", None)
        if tag not in _PLAIN_TAGS:
            raise refuse(
                f"YAML tag '{_tag_name(str(tag))}' refused: governance files hold only mappings, "
                "lists, strings, numbers, booleans and null"
            )
        if isinstance(event, ScalarEvent):
            if at_key:
                if event.value == "<<" and event.style is None and tag is None:
                    raise refuse("merge keys ('<<') refused: write the keys out where they apply")
                levels[-1].key = event.value
                levels[-1].advance()
            elif levels:
                levels[-1].advance()
            continue
        mapping = isinstance(event, MappingStartEvent)
        if at_key:
            kind = "mapping" if mapping else "list"
            raise refuse(f"a key must be a plain string, not a {kind}")
        if len(levels) >= MAX_DEPTH:
            raise refuse(_TOO_DEEP, loc[:1])
        assert isinstance(event, MappingStartEvent | SequenceStartEvent)
        levels.append(_Level(mapping=mapping))


def _plain(node: Any, loc: KeyPath, doc: Document) -> Any:
    """Convert ruamel's commented nodes into plain Python, recording marks on the way."""
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            child = (*loc, key)
            doc.key_marks[child] = tuple(node.lc.key(key))
            doc.value_marks[child] = tuple(node.lc.value(key))
            out[key] = _plain(value, child, doc)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*loc, index)
            doc.value_marks[child] = tuple(node.lc.item(index))
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
    if isinstance(node, TaggedScalar):  # `!!str 5`: the screen let only core tags through
        return str(node.value)
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


# Parsed documents by content hash: one command reads params.yaml and the policy chain once
# per model (and each spec at the base and the head), and ruamel's pure-Python parser is the
# slow part of `status` and `promote --plan` over many models. Keyed by content, not mtime:
# an edit within the filesystem's timestamp granularity must not return the old document.
_PARSED: dict[str, Document] = {}
_PARSED_MAX = 512


def load(path: Path, display: str | None = None) -> Document:
    """Load one YAML file strictly; raise :class:`SpecError` naming file, line and column."""
    import hashlib

    shown = display or str(path)
    try:
        key = hashlib.sha256(path.read_bytes()).hexdigest() if path.stat().st_size <= MAX_BYTES else None
    except OSError:
        key = None
    if key is None or key not in _PARSED:
        doc = _load(path, shown)
        if key is None:
            return doc
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = doc
    cached = _PARSED[key]
    # marks are only read; the data is the caller's to edit
    return Document(
        path=path,
        data=copy.deepcopy(cached.data),
        display=shown,
        key_marks=cached.key_marks,
        value_marks=cached.value_marks,
    )


def _load(path: Path, shown: str) -> Document:
    doc = Document(path=path, data=None, display=shown)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            message = f"file is {size} bytes: governance files may hold at most {MAX_BYTES} (1 MiB)"
            raise SpecError([Problem(shown, 1, 1, (), message)])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(shown, 0, 0, (), "file not found")]) from None
    except UnicodeDecodeError as err:
        raise SpecError([Problem(shown, 0, 0, (), f"not UTF-8 text ({err.reason})")]) from None
    try:
        _screen(_round_trip_loader(), text)
        raw = _round_trip_loader().load(text)
    except _Refused as err:
        raise SpecError([Problem(shown, err.line, err.column, err.loc, err.message)]) from None
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


_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./+=@-]*")


def _scalar_end(row: str, col: int) -> int:
    """Where the one-line scalar starting at ``col`` of ``row`` ends (a quote closed, or before a comment)."""
    quote = row[col : col + 1]
    if quote in ("'", '"'):
        index = col + 1
        while index < len(row):
            char = row[index]
            if quote == '"' and char == "\\":
                index += 2
                continue
            if char == quote:
                if quote == "'" and row[index + 1 : index + 2] == "'":  # '' is an escaped quote
                    index += 2
                    continue
                return index + 1
            index += 1
        return -1  # the quoted scalar goes on past this line
    body = row[col:].rstrip("\r\n")
    comment = re.search(r"\s#", body)
    return col + len((body[: comment.start()] if comment else body).rstrip())


def replace_scalar(path: Path, loc: KeyPath, value: str, display: str | None = None) -> str:
    """Set the string at ``loc`` of the YAML file ``path`` by editing its text in place; the new text.

    Only that scalar's characters change: comments, order, quoting style of everything else and
    the file's line endings stay byte for byte (a governed file's diff is the one value). The
    scalar must exist and sit on one line; the edited text is parsed again and must hold
    ``value`` at ``loc`` and nothing else changed, or nothing is written.
    """
    doc = load(path, display)
    shown = doc.display
    if loc not in doc.value_marks:
        raise SpecError([doc.problem(loc, f"no value at {'.'.join(map(str, loc))} to replace", key=True)])
    line, col = doc.value_marks[loc]
    text = path.read_text(encoding="utf-8")
    rows = text.splitlines(keepends=True)
    end = _scalar_end(rows[line], col)
    if end <= col:
        raise SpecError([doc.problem(loc, "the value spans several lines: write it on one line to let mlgate edit it")])
    old = rows[line][col:end]
    # a JSON string is a valid double-quoted YAML scalar
    written = json.dumps(value) if old[:1] in ("'", '"') or not _PLAIN_SAFE.fullmatch(value) else value
    rows[line] = rows[line][:col] + written + rows[line][end:]
    new_text = "".join(rows)
    tmp = path.with_name(f".{path.name}.mlgate-edit")
    try:
        tmp.write_text(new_text, encoding="utf-8")
        edited = load(tmp, shown)
    finally:
        tmp.unlink(missing_ok=True)
    expected = copy.deepcopy(doc.data)
    target = expected
    for key in loc[:-1]:
        target = target[key]
    target[loc[-1]] = value
    if edited.data != expected:
        raise SpecError([doc.problem(loc, f"mlgate could not replace {old!r} with {value!r} in place")])
    path.write_text(new_text, encoding="utf-8")
    return new_text
