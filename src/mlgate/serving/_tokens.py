"""Bearer tokens of the service's callers: read once, kept only as SHA-256 digests, compared in constant time.

The source (an environment variable or a file, named by the spec's ``serving:`` block or the
command line) holds one entry per line (``;`` also separates entries, for a one-line variable)::

    CALLER_ID  TOKEN_OR_SHA256  [MODEL,MODEL...]
    scoring-app  sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  credit
    batch-job    s3cr3t-random-token

The second field is the token itself or, better, ``sha256:<hex>`` of it (then the secret store
never holds a usable token). A plain token is hashed on reading and dropped. The caller id is
what the audit log and the logs name; the token never appears anywhere. The optional third field
lists the models the caller may call (403 for others); without it, any model this service serves.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlgate.exceptions import InvalidInput

DEFAULT_ENV = "MLGATE_SERVE_TOKENS"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_HASHED = re.compile(r"^sha256:([0-9a-f]{64})$")
MIN_TOKEN_CHARS = 16
"""A plain token shorter than this is refused: bearer tokens must not be guessable."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: its id (audit log) and the models it may call (None: all)."""

    id: str
    models: frozenset[str] | None

    def may_call(self, model: str) -> bool:
        """Whether this caller is granted ``model``."""
        return self.models is None or model in self.models


@dataclass(frozen=True)
class _Entry:
    caller: Caller
    digest: bytes


def digest(token: str) -> bytes:
    """The SHA-256 of a token (tokens are long random strings: a fast hash is enough, no salt needed)."""
    return hashlib.sha256(token.encode("utf-8")).digest()


class Tokens:
    """The callers' token digests; :meth:`check` finds a token's caller in constant time."""

    def __init__(self, entries: list[_Entry], source: str) -> None:
        """Entries as parsed by :func:`parse`; ``source`` says where they came from (for messages)."""
        self._entries = entries
        self.source = source

    def __len__(self) -> int:
        """How many callers there are."""
        return len(self._entries)

    def check(self, token: str) -> Caller | None:
        """The caller whose token this is, or None.

        Every entry is compared (``hmac.compare_digest`` on equal-length digests), so the time
        taken says nothing about which entry, or how much of one, matched.
        """
        given = digest(token)
        found = None
        for entry in self._entries:
            if hmac.compare_digest(given, entry.digest):
                found = entry.caller
        return found

    def digests_text(self) -> str:
        """The entries as a token source holding digests only (``CALLER sha256:HEX [MODELS]``): what workers read.

        ``mlgate serve --workers N`` hands the callers to its workers in a file of mode 0600 in
        this form, never on a command line: no usable token is in it, and :func:`parse` reads it back.
        """
        lines = []
        for entry in self._entries:
            models = entry.caller.models
            # None: any model; an empty grant (the source's lone ",") stays empty: the caller may call none
            grant = "" if models is None else " " + (",".join(sorted(models)) or ",")
            lines.append(f"{entry.caller.id} sha256:{entry.digest.hex()}{grant}")
        return "\n".join(lines) + "\n"


def parse(text: str, source: str) -> Tokens:
    """Parse a token source; a bad entry is InvalidInput naming ``source`` and entry number, never its secret."""
    entries: list[_Entry] = []
    seen: set[str] = set()
    holders: dict[bytes, str] = {}  # digest -> "entry N (caller)": one token, one caller
    for number, raw in enumerate(re.split(r"[\n;]", text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        where = f"{source}: entry {number}"
        if len(fields) not in (2, 3):
            raise InvalidInput(f"{where}: expected 'CALLER_ID TOKEN [MODEL,...]', got {len(fields)} field(s)")
        caller_id, secret = fields[0], fields[1]
        if not _ID.match(caller_id):
            raise InvalidInput(f"{where}: caller id must be letters, digits, '_.@-' (at most 100 characters)")
        if caller_id in seen:
            raise InvalidInput(f"{where}: caller id {caller_id!r} given twice")
        seen.add(caller_id)
        hashed = _HASHED.match(secret)
        if hashed:
            value = bytes.fromhex(hashed.group(1))
        elif secret.startswith("sha256:"):
            raise InvalidInput(f"{where} ({caller_id}): sha256: must be followed by 64 lowercase hex digits")
        elif len(secret) < MIN_TOKEN_CHARS:
            raise InvalidInput(f"{where} ({caller_id}): a token needs at least {MIN_TOKEN_CHARS} characters")
        else:
            value = digest(secret)
        if value in holders:  # the audit would name whichever caller came first: refuse, naming entries only
            raise InvalidInput(
                f"{where} ({caller_id}): the same token as {holders[value]}: each caller needs a token of its own"
            )
        holders[value] = f"entry {number} ({caller_id})"
        models = frozenset(m for m in fields[2].split(",") if m) if len(fields) == 3 else None
        entries.append(_Entry(Caller(caller_id, models), value))
    if not entries:
        raise InvalidInput(f"{source}: no caller tokens: the service refuses to run without authentication")
    return Tokens(entries, source)


def load(env: str | None = None, file: str | None = None) -> Tokens:
    """The tokens from ``file`` if given, else from the environment variable ``env`` (default MLGATE_SERVE_TOKENS)."""
    if file:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise InvalidInput(f"tokens file {file}: cannot be read ({err.strerror})") from None
        return parse(text, f"tokens file {file}")
    name = env or DEFAULT_ENV
    value = os.environ.get(name)
    if value is None:
        raise InvalidInput(
            f"environment variable {name} is not set: the service needs its callers' tokens",
            hint=f"set {name}='CALLER_ID sha256:<hex of the token>' (see mlgate serve --help)",
        )
    return parse(value, f"environment variable {name}")
