"""The serve request check: the vectorised path answers exactly as pydantic's row models do.

``mlgate.serving.validate_rows`` takes a fast path for rows that plainly fit the signature and
falls back to pydantic for anything else. Here both paths run on thousands of generated bodies —
valid ones and ones with a value, a key or a row that is wrong — and must agree: the same frame
(values and dtypes, as ``mlgate.data.model_input`` builds it), the same audited rows (types
included: an int in a double column is audited as a float), or the same 422 problems. No server.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pandas as pd
import pytest

from mlgate.serving import validate_rows

FEATURES = [
    ("amount", "double"),
    ("ratio", "float"),
    ("duration", "long"),
    ("count", "integer"),
    ("flag", "boolean"),
    ("housing", "string"),
    ("blob", "binary"),
    ("when", "datetime"),
]
VALUES: dict[str, list[Any]] = {
    "double": [0.5, -1e300, 30, 0, None, 2**53, -(2**53), 2**53 + 1, 2**70, 10**400, float("inf"), True, "1", [1]],
    "long": [0, 7, -(2**63), 2**63 - 1, 2**63, -(2**63) - 1, 1.0, None, False, "3", {"a": 1}],
    "integer": [0, 2**31 - 1, -(2**31), 2**31, 5.5, None, True],
    "boolean": [True, False, 0, 1, None, "true"],
    "string": ["own", "", "ünï 😀", "nul\u0000", None, 3, True, ["x"]],
    "binary": ["aGk=", None, 1],
    "datetime": ["2025-01-01T00:00:00Z", None, 5],
}
VALUES["float"] = VALUES["double"]


def both(records: list[Any]) -> tuple[Any, Any]:
    """(fast path's outcome, pydantic's): the frame and rows, or the refusal's status and problems."""
    outcomes = []
    for fast in (True, False):
        try:
            frame, rows = validate_rows(FEATURES, records, "dataframe_records", fast=fast)
        except Exception as err:  # noqa: BLE001 — the refusal is compared, whatever its type
            outcomes.append(("refused", type(err).__name__, getattr(err, "status", None), getattr(err, "detail", None)))
        else:
            outcomes.append(("answered", frame, rows))
    return outcomes[0], outcomes[1]


def typed(rows: list[dict[str, Any]]) -> list[list[tuple[str, str, str]]]:
    """Rows with each value's type: 30 and 30.0 differ here (the audit would show it)."""
    return [[(k, type(v).__name__, json.dumps(v)) for k, v in row.items()] for row in rows]


def assert_same(fast: Any, slow: Any) -> None:
    assert fast[0] == slow[0], (fast, slow)
    if fast[0] == "refused":
        assert fast == slow
        return
    pd.testing.assert_frame_equal(fast[1], slow[1], check_exact=True)
    assert typed(fast[2]) == typed(slow[2])


def good_row(rng: random.Random) -> dict[str, Any]:
    return {
        "amount": rng.choice([rng.uniform(-1e6, 1e6), rng.randint(-(10**6), 10**6), None]),
        "ratio": rng.choice([rng.random(), 1, None]),
        "duration": rng.randint(-(2**63), 2**63 - 1),
        "count": rng.randint(-(2**31), 2**31 - 1),
        "flag": rng.choice([True, False]),
        "housing": rng.choice(["own", "rent", "free", None]),
        "blob": rng.choice(["aGk=", None]),
        "when": rng.choice(["2025-01-01", None]),
    }


class Unusable:
    """A pydantic adapter that must not be reached: the fast path took the body."""

    def validate_python(self, _records: Any) -> Any:
        raise AssertionError("pydantic's path was taken")


def test_valid_bodies_give_the_same_frame_and_audited_rows_both_ways() -> None:
    rng = random.Random(7)
    for _ in range(300):
        records = [good_row(rng) for _ in range(rng.randint(1, 12))]
        fast, slow = both(records)
        assert fast[0] == "answered"
        assert_same(fast, slow)
        validate_rows(FEATURES, records, "rows", Unusable())  # type: ignore[arg-type]  # the fast path took them


@pytest.mark.parametrize("column", [name for name, _ in FEATURES])
def test_every_value_of_every_type_is_taken_or_refused_alike(column: str) -> None:
    kind = dict(FEATURES)[column]
    rng = random.Random(column)
    refused = 0
    for value in VALUES[kind]:
        for at in (0, 2):
            records = [good_row(rng) for _ in range(3)]
            records[at][column] = value
            fast, slow = both(records)
            assert_same(fast, slow)
            refused += fast[0] == "refused"
    assert 0 < refused < 2 * len(VALUES[kind])  # the values include both kinds: the comparison covers each


def test_rows_with_a_missing_an_extra_or_a_renamed_key_or_not_an_object_are_refused_alike() -> None:
    rng = random.Random(3)
    row = good_row(rng)
    for bad in (
        {k: v for k, v in row.items() if k != "flag"},
        {**row, "colour": "red"},
        {("Flag" if k == "flag" else k): v for k, v in row.items()},
        [1, 2, 3],
        None,
        "row",
    ):
        fast, slow = both([good_row(rng), bad])
        assert fast[0] == "refused"
        assert_same(fast, slow)
        assert fast[2] == 422
        assert all(p["field"].startswith("dataframe_records[1]") for p in fast[3])


def test_an_int_in_a_double_column_is_audited_as_a_float_and_a_missing_category_is_nan_for_the_model() -> None:
    rng = random.Random(5)
    record = {**good_row(rng), "amount": 30, "housing": None}
    frame, rows = validate_rows(FEATURES, [record], "rows")
    assert rows[0]["amount"] == 30.0
    assert type(rows[0]["amount"]) is float
    assert rows[0]["housing"] is None  # the audit keeps the null as sent
    assert pd.isna(frame.loc[0, "housing"])
    assert frame.loc[0, "housing"] is not None  # the model sees NaN, as training's read_csv gave it
    assert frame["duration"].dtype == "int64"
    assert frame["flag"].dtype == bool
