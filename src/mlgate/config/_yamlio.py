"""The one YAML reader of governance files: strict, and keeping line and column of every key.

Every YAML file mlgate reads from a governed repo goes through :func:`load` or :func:`parse`:
specs, policies, ``release.yaml``, ``params.yaml``, ``dvc.yaml``, ``dvc.lock`` and ``.dvc``
pointers (``release.yaml`` edits keep ruamel's round trip, in :mod:`mlgate.config._release`).

Governance files must fail loudly: PyYAML's constructor silently keeps the last of two duplicate
keys, which would let a reviewer read one threshold while the gate applies another. ruamel.yaml's
round-trip loader rejects duplicates and records where each key and value sits, so every later
error can say ``file:line:col: key -> path: message``.

Before anything is constructed, the event stream is screened (:func:`_screen`), because a file
from a pull request is untrusted input: it may hold at most :data:`MAX_BYTES` and nest at most
:data:`MAX_DEPTH` levels (deeper nesting would exhaust Python's recursion); anchors and aliases
are refused (a reviewer must see every value where it applies, and a few hundred bytes of
nested aliases expand into billions of nodes); so are tags other than YAML's plain core types
(``!!python/object`` and friends), keys that are not scalars, and ``<<`` merge keys.

**Fast path.** ruamel's parser is pure Python and was the slow part of commands that read many
files (``status`` over 100 models). So a file is first read by libyaml's C parser (PyYAML's
``CSafeLoader``, when PyYAML was built with it): :func:`_fast` builds the plain data and the
marks from its events itself, resolving plain scalars by YAML 1.2's rules as ruamel does. It
accepts only what it can build exactly as the round-trip path would (no tags, anchors, aliases,
duplicate keys, directives, depth past :data:`MAX_DEPTH`, and only the common spellings of
numbers); for anything else, and for every error, it gives up and the round-trip path above
decides, so refusals and their located messages are the round-trip path's, unchanged.
``tests/test_yamlio_fast.py`` checks that both paths give the same data and marks on every YAML
file of the repo and the tests. ruamel is imported only when the round-trip path runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.exceptions import Problem, SpecError, excerpt

if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

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


@cache
def _depth_scanner() -> type:
    """The round-trip scanner, made to stop at the 65th open ``[`` or ``{``.

    Inside brackets ruamel's scanner reads ahead to the first closing one, in time quadratic in
    the depth, before the parser yields a single event: the screen would come too late. Built on
    first use: ruamel is imported only when the round-trip path runs.
    """
    from ruamel.yaml.scanner import RoundTripScanner

    class _DepthScanner(RoundTripScanner):
        def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
            if self.flow_level >= MAX_DEPTH:
                mark = self.reader.get_mark()
                raise _Refused((), mark.line + 1, mark.column + 1, _TOO_DEEP)
            super().fetch_flow_collection_start(TokenClass, to_push)

    return _DepthScanner


def _round_trip_loader() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt", pure=True)
    yaml.Scanner = _depth_scanner()
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
    from ruamel.yaml.events import (
        AliasEvent,
        MappingEndEvent,
        MappingStartEvent,
        NodeEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
    )

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
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

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
# per model (and each spec at the base and the head). Keyed by content, not mtime: an edit
# within the filesystem's timestamp granularity must not return the old document.
_PARSED: dict[str, Document] = {}
_PARSED_MAX = 512


def load(path: Path, display: str | None = None, *, allow_empty: bool = False, section: str | None = None) -> Document:
    """Load one YAML file strictly; raise :class:`SpecError` naming file, line and column.

    ``allow_empty``: an empty file (or one holding only comments) loads as ``{}`` instead of
    being refused (``params.yaml`` with no section yet). ``section``: the data holds only that
    top-level key (when present), so a command reading one model's section of a large shared
    file (``params.yaml`` over 100 models) does not copy the other sections for each model.
    """
    shown = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SpecError([Problem(shown, 1, 1, (), _too_big(size))])
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([Problem(shown, 0, 0, (), "file not found")]) from None
    return _cached(raw, path, shown, allow_empty, section)


def parse(text: str, display: str, *, allow_empty: bool = False) -> Document:
    """Load YAML ``text`` (a file as committed at some git ref, named ``display``) as :func:`load` loads a file."""
    raw = text.encode("utf-8")
    if len(raw) > MAX_BYTES:
        raise SpecError([Problem(display, 1, 1, (), _too_big(len(raw)))])
    return _cached(raw, Path(display), display, allow_empty)


def _too_big(size: int) -> str:
    return f"file is {size} bytes: governance files may hold at most {MAX_BYTES} (1 MiB)"


def _cached(raw: bytes, path: Path, shown: str, allow_empty: bool, section: str | None = None) -> Document:
    key = hashlib.sha256(raw).hexdigest()
    if key not in _PARSED:
        try:
            # as Path.read_text reads it: universal newlines
            text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError as err:
            raise SpecError([Problem(shown, 0, 0, (), f"not UTF-8 text ({err.reason})")]) from None
        if allow_empty and _is_empty(text):
            return Document(path=path, data={}, display=shown)
        doc = _from_text(text, shown)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = doc
    cached = _PARSED[key]
    data = cached.data if section is None else {k: v for k, v in cached.data.items() if k == section}
    # marks are only read; the data is the caller's to edit
    return Document(
        path=path,
        data=_copy(data),
        display=shown,
        key_marks=cached.key_marks,
        value_marks=cached.value_marks,
    )


def _copy(value: Any) -> Any:
    """A deep copy of loaded data: new dicts and lists, the (immutable) scalars shared.

    ``copy.deepcopy`` keeps a memo for shared and cyclic objects that loaded YAML never has (no
    aliases): it was the largest cost of `status` over 100 models after parsing (params.yaml
    and the policy chain are handed out once per model).
    """
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value


def _is_empty(text: str) -> bool:
    """The text holds no YAML node (blank, or only comments)."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def _from_text(text: str, shown: str) -> Document:
    """The document: by the fast path when it can build it, else by the round-trip path (errors: always)."""
    return _fast(text, shown) or _round_trip(text, shown)


def _round_trip(text: str, shown: str) -> Document:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    doc = Document(path=Path(shown), data=None, display=shown)
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


# --------------------------------------------------------------------------- the fast path

# Plain scalars as YAML 1.2 (ruamel's default) resolves them: ruamel's regular expressions for
# 1.2 numbers and timestamps. The fast path builds null, the six booleans, decimal integers
# without leading zeros or `_`, and decimal floats with digits before the point; any other
# number or timestamp spelling (`0o17`, `1_000`, `.5`, `.inf`, `2024-01-01`), a merge key `<<`
# or a value key `=` sends the file to the round-trip path. Everything else is a string.
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)")
_NOT_BUILT = re.compile(
    r"""(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN)
    |[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
     (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?
    |<<|=)""",
    re.VERBOSE,
)


class _GiveUp(Exception):
    """The fast path cannot build this document exactly as the round-trip path would."""


def _scalar(value: str) -> Any:
    """A plain scalar's value, as ruamel's YAML 1.2 resolver and constructor give it."""
    if value in _NULL:
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    if _NOT_BUILT.fullmatch(value):
        raise _GiveUp
    return value


@cache
def _c_loader() -> Any:
    """PyYAML's libyaml-backed loader class, or None when PyYAML was built without libyaml."""
    import yaml

    return yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else None


def _fast(text: str, shown: str) -> Document | None:
    """The document built from libyaml's events, or None when the round-trip path must decide."""
    loader_class = _c_loader()
    if loader_class is None or "\t" in text:
        # libyaml accepts tabs in places ruamel refuses (`key:\t# comment`): tabs are rare enough
        # in governance files to leave every file holding one to the round trip
        return None
    import yaml

    loader = loader_class(text)
    try:
        return _build(loader, text, shown)
    except (_GiveUp, yaml.YAMLError):
        return None
    finally:
        loader.dispose()


def _build(loader: Any, text: str, shown: str) -> Document | None:
    """Walk the events once: plain data plus key and value marks, as :func:`_plain` records them."""
    from yaml.events import (
        AliasEvent,
        DocumentStartEvent,
        MappingEndEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
        StreamEndEvent,
    )

    doc = Document(path=Path(shown), data=None, display=shown)
    key_marks, value_marks = doc.key_marks, doc.value_marks
    # open containers: [container, its key path, the pending key (mappings), whether a key is next, flow style]
    stack: list[list[Any]] = []
    documents = 0
    root: Any = None
    pending: KeyPath | None = None  # an empty value whose mark is the next event's start
    lines: list[str] | None = None
    get = loader.get_event
    while True:
        event = get()
        mark = event.start_mark
        if pending is not None:
            value_marks[pending] = (mark.line, mark.column)
            pending = None
        kind = type(event)
        if kind is ScalarEvent or kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None or event.tag is not None:
                raise _GiveUp
            if kind is ScalarEvent:
                plain = not event.style and event.implicit[0]  # libyaml: style "" for plain
                value: Any = _scalar(event.value) if plain else event.value
            else:
                value = {} if kind is MappingStartEvent else []
                if len(stack) >= MAX_DEPTH:
                    raise _GiveUp
            if not stack:
                root = value
                if kind is not ScalarEvent:
                    stack.append([value, (), None, True, event.flow_style])
                continue
            top = stack[-1]
            container, loc = top[0], top[1]
            if type(container) is dict:
                if top[3]:  # a key
                    if kind is not ScalarEvent or value in container:
                        raise _GiveUp  # a collection as a key, or a duplicate key
                    top[2], top[3] = value, False
                    key_marks[(*loc, value)] = (mark.line, mark.column)
                    continue
                child = (*loc, top[2])
                container[top[2]] = value
                top[3] = True
            else:
                child = (*loc, len(container))
                container.append(value)
            if kind is ScalarEvent and plain and event.value == "":
                # an empty value: in a block mapping ruamel places it where the next token starts
                # (libyaml: where the value would be); elsewhere the two differ in ways not worth
                # following (a flow mapping, a list item), so the round trip builds those
                if type(container) is not dict or top[4]:
                    raise _GiveUp
                if lines is None:
                    lines = text.split("\n")
                if lines[mark.line][mark.column :].strip():
                    raise _GiveUp  # a comment follows: ruamel's mark then depends on what comes next
                pending = child
            else:
                value_marks[child] = (mark.line, mark.column)
            if kind is not ScalarEvent:
                stack.append([value, child, None, True, event.flow_style])
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            stack.pop()
        elif kind is AliasEvent:
            raise _GiveUp
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1 or event.version is not None or event.tags:
                raise _GiveUp
        elif kind is StreamEndEvent:
            break
    if type(root) is not dict:
        return None  # empty, a list or a scalar: the round-trip path says what is wrong
    doc.data = root
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
        raise SpecError([doc.problem(loc, f"mlgate could not replace {excerpt(old)} with {excerpt(value)} in place")])
    path.write_text(new_text, encoding="utf-8")
    return new_text
