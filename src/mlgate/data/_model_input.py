"""The one frame a model is called with: what training fitted on, built the same way everywhere.

``mlgate train`` fits on it, the gates score the holdout with it, ``mlgate score`` (both engines),
``mlgate serve`` and ``mlgate monitor`` call the version with it. Each caller validates its own
input first (a value that does not fit its column is exit 2 with file:line, or a 422); this module
only converts, so the same rows reach the model the same way whichever door they came in by.

What the frame holds, per column of the version's signature (``(column, MLflow type)``), in the
signature's order:

- **missing values are NaN**, in numeric *and* string columns: what ``pandas.read_csv`` gives a
  training script (a blank cell of a text column is the float NaN in an ``object`` column), and
  what scikit-learn's ``SimpleImputer`` matches by default (``missing_values=np.nan``). ``None``
  (a JSON null, a Parquet null, a Spark null) is not: an imputer left it in place, a one-hot
  encoder made it a category of its own, and the model answered differently from the same model
  on a pandas-read file;
- ``double``/``float`` columns are float64; ``long``/``integer`` columns int64 when every value is
  a whole number, else float64 as pandas reads a column with a blank (a training frame with a
  blank there made the signature ``double``: score and serve refuse a missing value in a ``long``
  column before it gets here, as MLflow's pyfunc refuses float64 for ``long``);
- ``string`` columns stay ``object`` (never float64, even when every value is missing: MLflow's
  pyfunc passes an ``object`` string column as it is and refuses a float64 one);
- ``boolean`` columns holding only True/False are bool; other types are left as they are.

Numbers given as text (a CSV read as strings) are parsed with Python's ``float()`` (correctly
rounded, as Spark's CSV reader parses); integers with ``int()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

FLOAT_TYPES = frozenset({"double", "float"})
INT_TYPES = frozenset({"long", "integer"})
STRING = "string"


def model_input(frame: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """The frame a model is called with: ``columns`` (``(name, MLflow type)``) of ``frame``, converted.

    The index is reset (0..n-1); ``frame`` is not changed. See the module docstring for the rules.
    """
    out: dict[str, pd.Series] = {}
    for column, kind in columns:
        values = frame[column].reset_index(drop=True)
        out[column] = _converted(values, kind)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _converted(values: pd.Series, kind: str) -> pd.Series:
    if kind in FLOAT_TYPES:
        return _floats(values)
    if kind in INT_TYPES:
        return _integers(values)
    if kind == STRING:
        # object with NaN for every missing value (None, pd.NA, NaN): what read_csv gives training
        return values.astype("object").where(values.notna(), np.nan)
    if kind == "boolean" and (values.dtype.kind == "b" or all(isinstance(v, bool | np.bool_) for v in values)):
        return values.astype("bool")  # True/False values (a JSON body's) as a bool column; anything else as given
    return values


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or isinstance(values.dtype, pd.StringDtype)


def _floats(values: pd.Series) -> pd.Series:
    if _is_text(values):
        # Python's float() on text (None and NaN become NaN); numbers in an object column likewise
        return values.astype("object").where(values.notna(), np.nan).astype("float64")
    return values.astype("float64")


def _integers(values: pd.Series) -> pd.Series:
    if values.isna().any():
        return _floats(values)  # as pandas reads an integer column with a blank
    if values.dtype.kind in "iu":
        return values.astype("int64")
    if _is_text(values):
        try:
            return values.astype("int64")  # int() on text: exact beyond 2**53
        except (TypeError, ValueError):
            pass  # "3.0", or numbers in an object column: through float below
    numbers = _floats(values)
    whole = bool((numbers == np.round(numbers)).all())
    return numbers.astype("int64") if whole else numbers


def frame_columns(
    frame: pd.DataFrame, names: Sequence[str], string_columns: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """``(column, MLflow type)`` for a model without a signature yet (training) or without one at all.

    ``string_columns`` (the spec's categorical and text features) are ``string``; any other column
    gets the type MLflow's ``infer_signature`` would give its pandas dtype (int64 → ``long``,
    float64 → ``double``, bool → ``boolean``, text → ``string``), so a frame converted with these
    types is the frame the version's signature is inferred from.
    """
    strings = set(string_columns)
    return [(name, STRING if name in strings else _kind_of(frame[name])) for name in names]


def _kind_of(values: Any) -> str:
    dtype = values.dtype
    if dtype.kind in "iu":
        return "long"
    if dtype.kind == "f":
        return "double"
    if dtype.kind == "b":
        return "boolean"
    return STRING if _is_text(values) else str(dtype)
