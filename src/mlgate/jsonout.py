"""JSON as mlgate writes it: sorted keys, indented, NaN and infinities as null (JSON has none).

Every string is passed through :func:`mlgate.exceptions.mask_secrets`: a verdict, a result or
an error payload never carries a URL's password (a tracking URI, a run link), wherever it goes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mlgate.exceptions import mask_deep


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float, at any depth, replaced by None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def dumps(payload: Any) -> str:
    """``payload`` as mlgate's JSON text."""
    return json.dumps(mask_deep(finite(payload)), indent=2, sort_keys=True, default=str, allow_nan=False)


def compact(payload: Any) -> str:
    """``payload`` as one line of JSON (a ``$GITHUB_OUTPUT`` value: ``fromJSON`` reads it)."""
    return json.dumps(mask_deep(finite(payload)), sort_keys=True, separators=(",", ":"), default=str, allow_nan=False)


def write(path: Path, payload: Any) -> None:
    """Write ``payload`` as mlgate's JSON to ``path`` (folders created, newline at the end)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(payload) + "\n", encoding="utf-8")
