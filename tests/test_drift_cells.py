"""Drift from cell counts (what the pushed-down monitor computes) equals drift from the rows, to the float.

The current sample is summarised as counts below, on and between thresholds, first coarse, then
refined where the KS maximum can lie; PSI, the KS statistic and its p-value must equal
:func:`mlgate.gates.drift.feature_drift` on the rows themselves, whatever the data: continuous,
heavy ties, shifted, a current sample outside the reference's range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlgate.config import DriftSettings
from mlgate.gates import drift


def counts(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The cells as the store counts them (below t0, on t0, between t0 and t1, ..., above the last)."""
    values = values[~np.isnan(values)]
    out = [int((values < thresholds[0]).sum())]
    for j, t in enumerate(thresholds):
        out.append(int((values == t).sum()))
        upper = thresholds[j + 1] if j + 1 < len(thresholds) else np.inf
        out.append(int(((values > t) & (values < upper)).sum()))
    return np.asarray(out)


CASES = {
    "continuous-shifted": lambda rng: (rng.normal(0, 1, 30_000), rng.normal(0.05, 1.1, 40_000)),
    "continuous-same": lambda rng: (rng.normal(0, 1, 30_000), rng.normal(0, 1, 40_000)),
    "ties": lambda rng: (rng.poisson(3, 30_000).astype(float), rng.poisson(3.2, 40_000).astype(float)),
    "outside-range": lambda rng: (rng.uniform(0, 1, 20_000), rng.uniform(0.5, 2, 25_000)),
    "rounded": lambda rng: (np.round(rng.lognormal(8, 1, 30_000), 1), np.round(rng.lognormal(8.1, 1, 50_000), 1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_refined_cells_give_the_rows_psi_and_ks(case: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = CASES[case](rng)
    cur[rng.random(cur.size) < 0.01] = np.nan
    settings = DriftSettings()
    want = drift.feature_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), ["x"], [], settings)[0]
    coarse = drift.coarse_thresholds(pd.Series(ref), "x", settings)
    refined = drift.refined_thresholds(pd.Series(ref), "x", coarse, counts(cur, coarse))
    got = drift.numeric_drift_from_cells("x", pd.Series(ref), refined, counts(cur, refined), cur.size, settings)
    assert got.ks_statistic == want.ks_statistic  # the same i/n1 - j/n2 float
    assert got.ks_pvalue == pytest.approx(want.ks_pvalue, rel=1e-9, abs=1e-300)
    assert got.psi == pytest.approx(want.psi, rel=1e-12)
    assert (got.bins, got.current_rows, got.reference_rows, got.notes) == (
        want.bins,
        want.current_rows,
        want.reference_rows,
        want.notes,
    )
    assert refined.size <= np.unique(ref).size + coarse.size  # never more than all reference values
