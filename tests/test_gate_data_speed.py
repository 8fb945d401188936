"""The gate path's faster data preparation gives exactly what the value-by-value code gave.

``prepare_columns`` turns categorical and text columns into Python strings (None where missing);
it now skips the per-value call where the result is known (strings, integers, booleans). Every
kind of column is compared, value and type, with the value-by-value conversion it replaced.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlgate.data import prepare_columns


def by_value(values: pd.Series) -> pd.Series:
    """The conversion as it was: every present value through ``str``."""
    objects = values.astype("object").where(values.notna(), None)
    return objects.map(lambda v: v if v is None else str(v))


COLUMNS: dict[str, Any] = {
    "strings": ["a", "b", None, "a", np.nan],
    "numpy strings": np.array(["a", "b", "c", "a", "b"], dtype=object).astype(np.str_).astype(object),
    "ints": np.array([3, 1, 3, -2, 0], dtype=np.int64),
    "bools": np.array([True, False, True, True, False]),
    "nullable ints": pd.array([1, None, 3, 1, None], dtype="Int64"),
    "floats": [0.0, -0.0, np.nan, 1.5, 1.0],
    "mixed": [1, 1.0, True, "1", None],
    "categorical": pd.Categorical(["x", "y", None, "x", "y"]),
    "all missing": [None, None, np.nan, None, None],
}


@pytest.mark.parametrize("name", list(COLUMNS))
def test_categorical_columns_become_the_strings_str_gives(name: str) -> None:
    frame = pd.DataFrame({"c": pd.Series(COLUMNS[name]), "n": [1, 2, 3, 4, 5]})
    spec = SimpleNamespace(inputs=SimpleNamespace(numeric=["n"], categorical=["c"], text=[]))
    got, expected = prepare_columns(frame, spec)["c"], by_value(frame["c"])  # type: ignore[arg-type]
    assert got.dtype == object
    assert got.tolist() == expected.tolist(), name
    assert [type(v) for v in got] == [type(v) for v in expected], name


def test_integrity_metrics_sharing_one_view_measure_what_fresh_views_measure() -> None:
    """The stacked rows and per-column hashes kept between metrics change no measurement."""
    from mlgate.gates import integrity

    rng = np.random.default_rng(5)
    n = 4000
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 4, n).astype(float),
            "b": np.array(["x", "y", None], dtype=object)[rng.integers(0, 3, n)],
            "c": rng.integers(0, 3, n),
            "target": rng.integers(0, 2, n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "a"] = np.nan
    frame.loc[:50, "a"] = -0.0  # equal to 0.0 as rows compare
    train, holdout = frame.iloc[:3000], frame.iloc[3000:].reset_index(drop=True)

    def view() -> Any:
        columns = {"numeric": ["a", "c"], "categorical": ["b"], "target": "target"}
        return integrity.IntegrityData(train=train, holdout=holdout, **columns)

    shared = view()
    metrics = ["duplicate_rows", "conflicting_labels", "train_holdout_overlap", "null_fraction"]
    for metric in [*metrics, *reversed(metrics)]:
        got, fresh = integrity.integrity_measurement(metric, shared), integrity.integrity_measurement(metric, view())
        assert got.value == fresh.value, metric
        assert got.details == fresh.details, metric
        assert got.explanation == fresh.explanation, metric
    assert integrity.integrity_measurement("duplicate_rows", shared).value > 0  # the data has what is looked for
    assert integrity.integrity_measurement("conflicting_labels", shared).value > 0
    assert integrity.integrity_measurement("train_holdout_overlap", shared).value > 0
