"""Which arm answers a row: the canary split, deterministic and sticky per entity (no FastAPI, no model).

A canary takes the keys whose hash falls below its traffic fraction:
``canary iff int(sha256(f"{model}:{stage}:{key}").hexdigest()[:16], 16) / 2**64 < traffic``. The
same key always lands on the same arm for a given traffic (and a key on the canary at 5 % stays
there at 10 %: raising the traffic only adds keys). ``mlgate monitor`` may import :func:`arm_of`
to tell which arm an entity was on.
"""

from __future__ import annotations

import hashlib

from mlgate.config import ArmKind

MAX_KEY_CHARS = 200
"""The longest arm key a row may carry (the audit column ``arm_key`` holds it)."""
_SPAN = float(2**64)


def arm_of(model: str, stage: str, key: str, traffic: float) -> ArmKind:
    """``ArmKind.CANARY`` when ``key``'s hash falls below ``traffic`` (a fraction in [0, 1]), else ``STABLE``."""
    digest = hashlib.sha256(f"{model}:{stage}:{key}".encode()).hexdigest()
    return ArmKind.CANARY if int(digest[:16], 16) / _SPAN < traffic else ArmKind.STABLE


def key_text(value: object) -> str | None:
    """The text an arm key value is hashed as: a string as is, an integer in decimal, a number by ``repr``.

    None (a missing or null key) is None: the request id keys that row. A JSON ``"42"`` and ``42``
    name the same entity. Other values (lists, objects, booleans) are not keys: ValueError.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("an arm key must be a string or a number")  # noqa: TRY004 — a 422's message, as pydantic's
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a double column holding 42 checks as 42.0: the same entity as "42"
    text = value if isinstance(value, str) else repr(value)
    if len(text) > MAX_KEY_CHARS:
        raise ValueError(f"an arm key is at most {MAX_KEY_CHARS} characters")
    return text
