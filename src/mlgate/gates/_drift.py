"""Drift gate: how far the current data moved from the reference, feature by feature.

Every feature gets a Population Stability Index (PSI) and a two-sample test: Kolmogorov-Smirnov
for numeric features, chi-squared for categorical ones. A feature is *drifted* when its PSI is
above the policy's ``settings.drift.feature_psi_threshold``. The tests' p-values are reported
but do not decide ``drifted`` (``settings.drift.p_value`` is not used for it): PSI does not grow
with the sample size, p-values do. At a million rows a shift nobody would notice gives a p-value
of 1e-30, so a p-value rule would call every feature drifted; a rule on ``ks_pvalue`` or
``chi2_pvalue`` is still available in the policy for small samples.

Missing values (NaN / None / NA) are dropped from the reference and from the current data
before anything is computed, for both kinds of feature; ``reference_rows`` and ``current_rows``
count the rows that remain. A shift in the share of missing values is the integrity gate's
business (``null_fraction``), not this one's.

Numeric PSI binning
-------------------
1. Cut points are quantiles of the (NaN-free) reference at the ``psi_bins - 1`` equal-probability
   levels ``1/psi_bins, 2/psi_bins, ...``, with numpy's default linear interpolation
   (``np.quantile(reference, levels, method="linear")``).
2. Repeated cut points are merged, so a column with few distinct values gets fewer bins (a
   binary column gets two or three), and the outer edges are -inf and +inf: every value of the
   current data falls in some bin, however far it moved.
3. Bins are closed on the right: ``(-inf, c1], (c1, c2], ..., (ck, +inf)``. A value equal to a
   cut point belongs to the bin below it, as in ``pandas.cut``; this matters for discrete
   columns whose cut points are observed values.

Categorical PSI uses one bin per category seen in the reference or the current data (a category
absent from both is not a bin). Categories of the current data that the reference never saw are
bins too: they are usually the strongest drift signal, and they are also listed in
``unseen_categories`` (the 20 most frequent, by current count) and counted in ``unseen_count``
(rows of the current data).

PSI formula and smoothing
-------------------------
With ``r_i`` and ``c_i`` the shares of the reference and current rows in bin ``i`` (each summing
to 1) and ``e = settings.drift.psi_epsilon``::

    PSI = sum_i (c_i - r_i) * ln((c_i + e) / (r_i + e))

i.e. ``e`` is added to *every* share of *every* bin before the logarithm (no renormalisation),
which keeps a bin that is empty on one side finite: it contributes ``c_i * ln((c_i + e) / e)``.
A bin empty on both sides contributes 0. (Evidently instead replaces zero shares by 1e-4;
with shares far above ``e`` the two agree to about ``e``.)

Tests
-----
KS: the statistic is the largest gap between the two empirical CDFs, computed from the two
sorted samples with two ``np.searchsorted`` calls (each sample is sorted once, as order-preserving
int64 keys, and the reference's sort also gives the PSI cut points); statistic and p-value equal
``scipy.stats.ks_2samp(reference, current)`` (``method="auto"``): the exact distribution when
both samples have at most 10,000 rows (scipy computes it), otherwise the asymptotic
``kstwo.sf(D, round(n*m/(n+m)))``. In the band where scipy evaluates that survival function by an
O(n) double-double series (``2.2 <= N*D^2 < 354``, N > 140), the same Birnbaum-Tingey series is
summed here vectorised in log space (Loader's saddle-point form of the binomial terms), which
agrees with scipy to ~1e-12 relative and is 5-10x faster.

Text features
-------------
A text column is never tested per string (each review is its own "category": chi-squared would
call any two samples different). It gets the statistics of its **document length** — the number
of words (``mlgate.config.schema.TEXT_TOKEN_PATTERN``, the words its TF-IDF counts, lowercased)
per row, missing text counting as 0 — as a numeric feature would: PSI (which decides ``drifted``),
KS statistic and p-value; and its **out-of-vocabulary rate** ``oov_rate``: the share of the
current data's words (occurrences) that never occur in the reference, with the 20 most frequent
of them listed in ``unseen_categories``. A rule ``oov_rate`` with ``max`` bounds it (identical
data: 0; a holdout drawn from the same corpus: a few percent, the rare words).

Chi-squared: a test of homogeneity on the 2 x k table of reference and current counts per
category, equal to ``scipy.stats.chi2_contingency(table, correction=False)``. With a single
category there is nothing to test: statistic 0, p-value 1 (as scipy).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special, stats

from mlgate.config import TEXT_TOKEN_PATTERN, DriftSettings
from mlgate.exceptions import excerpt
from mlgate.gates import Measurement

MAX_UNSEEN_LISTED = 20
# scipy.stats.ks_2samp(method="auto") is exact up to this many rows per sample.
_KS_EXACT_MAX_N = 10_000
# Below this effective size scipy's own Smirnov series is fast enough: call it.
_FAST_SMIRNOV_MIN_N = 2_000
_SMIRNOV_MAX_COMPUTE_N = 1_000_000  # scipy (xsf) switches to an approximation above this
_CEPHES_MINLOG = -7.08396418532264106224e2
_LN_2PI = math.log(2 * math.pi)


@dataclass
class FeatureDrift:
    """Drift of one feature between the reference and the current data."""

    feature: str
    kind: str  # "numeric" | "categorical" | "text" (numeric statistics of the document length)
    psi: float
    ks_statistic: float | None  # numeric only
    ks_pvalue: float | None  # numeric only
    chi2_statistic: float | None  # categorical only
    chi2_pvalue: float | None  # categorical only
    unseen_categories: list[str]  # categorical only: the 20 most frequent unseen ones
    unseen_count: int  # rows of current whose category the reference never saw
    drifted: bool  # psi > settings.feature_psi_threshold
    reference_rows: int  # non-missing rows used
    current_rows: int
    unseen_distinct: int = 0  # how many distinct unseen categories (the list is capped)
    bins: int = 0  # PSI bins (numeric) or categories (categorical) actually used
    notes: list[str] = field(default_factory=list)
    oov_rate: float | None = None  # text only: share of current words the reference never used
    reference_vocabulary: int = 0  # text only: distinct words of the reference

    def as_dict(self) -> dict[str, Any]:
        """The feature's drift row as the verdict and the report hold it."""
        return asdict(self)


# --------------------------------------------------------------------------- entry points


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    settings: DriftSettings,
    *,
    text: Sequence[str] = (),
    workers: int | None = None,
) -> list[FeatureDrift]:
    """PSI and a two-sample test for every listed feature, numeric first, then categorical, then text.

    Features are independent, so they are computed on ``workers`` threads (default: one per
    core, at most 4); numpy's sorts and searches release the GIL. Raises ``ValueError`` when a
    column is missing or has no non-missing value on one side: there is no drift to measure.
    """
    jobs: list[tuple[str, str]] = [(name, "numeric") for name in numeric]
    jobs += [(name, "categorical") for name in categorical]
    jobs += [(name, "text") for name in text]
    for name, _ in jobs:
        for label, frame in (("reference", reference), ("current", current)):
            if name not in frame.columns:
                raise ValueError(f"drift: feature '{name}' is not a column of the {label} data")

    def one(job: tuple[str, str]) -> FeatureDrift:
        name, kind = job
        if kind == "numeric":
            return _numeric_drift(name, reference[name], current[name], settings)
        if kind == "text":
            return _text_drift(name, reference[name], current[name], settings)
        return _categorical_drift(name, reference[name], current[name], settings)

    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        workers = min(4, cores or 1)
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        return [one(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, jobs))


# What drift_measurement computes (tests/test_catalog.py checks it against mlgate.config.catalog).
_DRIFT_METRICS = ("psi", "ks_statistic", "ks_pvalue", "chi2_pvalue", "drifted_share", "oov_rate")


def drift_measurement(
    table: list[FeatureDrift], metric: str, features: list[str] | None, settings: DriftSettings
) -> Measurement:
    """One drift rule's value over the selected features (default: all of ``table``).

    ``psi`` and ``ks_statistic``: the largest over the features; ``ks_pvalue`` (numeric, and the
    document length of text) and ``chi2_pvalue`` (categorical): the smallest; ``drifted_share``:
    the share of features whose PSI is above ``settings.feature_psi_threshold``; ``oov_rate``
    (text): the largest.
    """
    if metric not in _DRIFT_METRICS:
        return Measurement.failed(f"unknown drift metric '{metric}' (known: {', '.join(_DRIFT_METRICS)})")
    by_name = {fd.feature: fd for fd in table}
    if features is None:
        selected = list(table)
    else:
        missing = [name for name in features if name not in by_name]
        if missing:
            known = ", ".join(f"'{n}'" for n in by_name) or "none"
            return Measurement.failed(
                f"drift rule names feature(s) not in the drift table: "
                f"{', '.join(repr(n) for n in missing)} (features measured: {known})"
            )
        selected = [by_name[name] for name in dict.fromkeys(features)]
    if not selected:
        return Measurement.failed("no features to measure drift on")

    details = {"features": [fd.as_dict() for fd in sorted(selected, key=lambda f: -f.psi)]}
    threshold = settings.feature_psi_threshold
    drifted = [fd for fd in selected if fd.drifted]
    drift_note = f"{len(drifted)} of {len(selected)} features drifted, PSI > {threshold:g}"

    if metric == "psi":
        worst = max(selected, key=lambda f: f.psi)
        text = f"max PSI {worst.psi:.3g} on '{worst.feature}' ({drift_note})"
        return Measurement(value=worst.psi, explanation=text, details=details)
    if metric == "drifted_share":
        share = len(drifted) / len(selected)
        names = ", ".join(f"'{fd.feature}'" for fd in sorted(drifted, key=lambda f: -f.psi)[:5])
        more = f" and {len(drifted) - 5} more" if len(drifted) > 5 else ""
        text = f"{drift_note}" + (f": {names}{more}" if drifted else "")
        return Measurement(value=share, explanation=text, details=details)

    if metric == "oov_rate":
        texts = [fd for fd in selected if fd.kind == "text"]
        if not texts:
            return Measurement.failed("no text features to measure the out-of-vocabulary rate on", details)
        worst = max(texts, key=lambda f: f.oov_rate or 0.0)
        value = float(worst.oov_rate or 0.0)
        listed = ", ".join(excerpt(w) for w in worst.unseen_categories[:5])
        text = (
            f"max out-of-vocabulary rate {value:.3g} on '{worst.feature}': share of its current words the "
            f"reference ({worst.reference_vocabulary} words) never used" + (f", e.g. {listed}" if listed else "")
        )
        return Measurement(value=value, explanation=text, details=details)
    kinds = ("categorical",) if metric == "chi2_pvalue" else ("numeric", "text")
    kind = kinds[0]
    pool = [fd for fd in selected if fd.kind in kinds]
    if not pool:
        return Measurement.failed(f"no {kind} features to test", details)
    large = " (p-values shrink with the sample size; PSI decides 'drifted')"
    if metric == "ks_statistic":
        worst = max(pool, key=lambda f: f.ks_statistic or 0.0)
        value = float(worst.ks_statistic or 0.0)
        text = f"max KS statistic {value:.3g} on '{worst.feature}' ({len(pool)} numeric features)"
    elif metric == "ks_pvalue":
        worst = min(pool, key=lambda f: 1.0 if f.ks_pvalue is None else f.ks_pvalue)
        value = float(worst.ks_pvalue if worst.ks_pvalue is not None else 1.0)
        text = f"min KS p-value {value:.3g} on '{worst.feature}' ({len(pool)} numeric features){large}"
    else:
        worst = min(pool, key=lambda f: 1.0 if f.chi2_pvalue is None else f.chi2_pvalue)
        value = float(worst.chi2_pvalue if worst.chi2_pvalue is not None else 1.0)
        text = f"min chi-squared p-value {value:.3g} on '{worst.feature}' ({len(pool)} categorical features){large}"
    return Measurement(value=value, explanation=text, details=details)


# --------------------------------------------------------------------------- numeric


_SIGN_MASK = np.int64(0x7FFFFFFFFFFFFFFF)


def _keys(values: NDArray[Any]) -> NDArray[Any]:
    """Order-preserving int64 keys of NaN-free float64 values (a new array).

    Flipping the magnitude bits of negative numbers makes int64 order equal float order; -0.0
    is first turned into +0.0 so that equal floats have equal keys. numpy sorts and searches
    int64 faster than float64 (whose comparisons must handle NaN): ~20% for np.sort, ~35% for
    np.searchsorted on this machine.
    """
    keys = (values + 0.0).view(np.int64)  # the addition copies and maps -0.0 to +0.0
    flip = keys >> 63
    flip &= _SIGN_MASK
    keys ^= flip
    return keys


def _floats(keys: NDArray[Any]) -> NDArray[Any]:
    """Inverse of :func:`_keys` (a new array)."""
    flip = keys >> 63
    flip &= _SIGN_MASK
    flip ^= keys
    return flip.view(np.float64)


def _sorted_keys(series: pd.Series, name: str, label: str) -> NDArray[Any]:
    """Sorted int64 keys of the column's non-missing values (NaN/None/NA dropped)."""
    if isinstance(series.dtype, np.dtype) and series.dtype.kind == "f":
        values = series.to_numpy()
    else:
        try:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as err:
            raise ValueError(f"drift: numeric feature '{name}' has non-numeric values ({err})") from None
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    if missing.any():
        values = values[~missing]
    if values.size == 0:
        raise ValueError(f"drift: numeric feature '{name}' has no non-missing value in the {label} data")
    keys = _keys(values)
    keys.sort()
    return keys


def quantile_positions(n: int, bins: int) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """(lo, hi, frac): the 0-based order statistics np.quantile(method='linear') interpolates between, per level.

    The levels are ``1/bins, 2/bins, ...``; the cut point at a level is ``x[lo] + (x[hi] - x[lo]) * frac``
    (:func:`interpolated_edges`) of the ``n`` sorted reference values ``x``. Both engines locate the cut
    points this way (pandas: in the sorted keys; Spark: in the counts per distinct value).
    """
    levels = np.arange(1, bins) / bins
    h = (n - 1) * levels
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, h - lo


def interpolated_edges(a: NDArray[Any], b: NDArray[Any], frac: NDArray[Any]) -> NDArray[Any]:
    """The distinct inner cut points (floats, sorted) from the order statistics ``a`` (lo) and ``b`` (hi)."""
    with np.errstate(invalid="ignore"):
        edges = np.where(frac == 0, a, a + (b - a) * frac)
    distinct: NDArray[Any] = np.unique(edges[~np.isnan(edges)])
    return distinct


def _quantile_edges(ref_keys: NDArray[Any], bins: int) -> NDArray[Any]:
    """Distinct inner cut points, np.quantile(ref, [1/bins, ...], method='linear'), as keys."""
    lo, hi, frac = quantile_positions(ref_keys.size, bins)
    return _keys(interpolated_edges(_floats(ref_keys[lo]), _floats(ref_keys[hi]), frac))


def psi_from_shares(ref_share: NDArray[Any], cur_share: NDArray[Any], epsilon: float) -> float:
    """PSI = sum (c - r) * ln((c + e) / (r + e)); see the module docstring."""
    return float(np.sum((cur_share - ref_share) * np.log((cur_share + epsilon) / (ref_share + epsilon))))


def _ks_statistic(a: NDArray[Any], b: NDArray[Any]) -> float:
    """The largest |F_a - F_b| over the pooled sample: the same float ks_2samp computes.

    ``a`` and ``b`` are sorted keys (:func:`_keys`), which compare as the values do. scipy
    evaluates both ECDFs at every pooled value and takes the max and the min of ``F_a - F_b``.
    ``F_a - F_b`` only rises where ``F_a`` jumps, so its max is reached at a value of ``a``; its
    min, likewise, at a value of ``b``. Evaluating ``F_a - F_b`` at ``a``'s values and
    ``F_b - F_a`` at ``b``'s gives the same two extremes (as the same ``i/n1 - j/n2`` floats)
    with two searches instead of four. Earlier copies of a tied value give smaller gaps than
    its last copy, so ties need no special handling.
    """
    n1, n2 = a.size, b.size
    up = np.arange(1, n1 + 1) / n1
    up -= np.searchsorted(b, a, side="right") / n2
    max_s = float(up.max())
    del up
    down = np.arange(1, n2 + 1) / n2
    down -= np.searchsorted(a, b, side="right") / n1
    min_s = min(max(float(down.max()), 0.0), 1.0)
    return max(max_s, min_s)


def _stirlerr(k: NDArray[Any]) -> NDArray[Any]:
    """log(k!) - log(sqrt(2 pi k) (k/e)^k), Loader's Stirling remainder, for k >= 1."""
    nn = k * k
    out: NDArray[Any] = (1 / 12 - 1 / 360 / nn) / k  # k > 500: the next term is below 3e-17
    mid = k <= 500
    if mid.any():
        km, nm = k[mid], nn[mid]
        out[mid] = (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / 1188 / nm) / nm) / nm) / nm) / km
    small = k <= 15
    if small.any():
        ks = k[small]
        out[small] = special.gammaln(ks + 1) - (ks + 0.5) * np.log(ks) + ks - 0.5 * _LN_2PI
    return out


def _smirnov_sf(n: int, x: float) -> float:
    """P(D+_n >= x), Birnbaum-Tingey: x * sum_v C(n,v) (x+v/n)^(v-1) (1-x-v/n)^(n-v).

    All terms are positive; each is ``dbinom(v; n, p) / p`` with ``p = x + v/n``, evaluated in
    log space with Loader's saddle-point decomposition (Stirling remainders and deviances
    ``bd0(y, m) = y log(y/m) + m - y``), so nothing of the size of log(n!) is ever subtracted.
    Here ``|y - m| = n x`` for both deviances, so ``bd0 = y log1p((y-m)/m) - (y-m)`` loses at
    most ~1/x ulps (x >= 0.0015 where this is used). Agrees with scipy.special.smirnov to
    ~1e-12 relative.
    """
    nf = float(n)
    nx = nf * x
    top = math.floor(nf * (1.0 - x))
    v = np.arange(1, top + 1, dtype=np.float64)
    m1 = nx + v  # n * p
    m2 = (nf - nx) - v  # n * (1 - p)
    if m2[-1] <= 0:
        keep = m2 > 0
        v, m1, m2 = v[keep], m1[keep], m2[keep]
    n_v = nf - v
    log_terms = _stirlerr(np.array([nf]))[0] - _stirlerr(v) - _stirlerr(n_v)
    log_terms -= v * np.log1p(-nx / m1) + nx  # bd0(v, n p)
    log_terms -= n_v * np.log1p(nx / m2) - nx  # bd0(n - v, n (1 - p))
    log_terms -= 0.5 * (_LN_2PI + np.log(v) + np.log1p(-v / nf))
    log_terms -= np.log(m1 / nf)
    first = nf * math.log1p(-x) - math.log(x)  # v = 0: (1-x)^n / x
    return x * (math.exp(first) + float(np.sum(np.exp(log_terms))))


def _kstwo_sf(d: float, n: float) -> float:
    """scipy.stats.kstwo.sf(d, n), with scipy's slow O(n) branch replaced by _smirnov_sf."""
    nxx = n * d * d
    if (
        n > max(140, _FAST_SMIRNOV_MIN_N)
        and n <= _SMIRNOV_MAX_COMPUTE_N
        and d < 0.5
        and 1.0 < n * d < n - 1
        and 2.2 <= nxx < 370.0
    ):
        if -2 * nxx < _CEPHES_MINLOG:
            return 0.0
        return min(max(2.0 * _smirnov_sf(int(n), d), 0.0), 1.0)
    return float(stats.kstwo.sf(d, n))


def _ks_2samp(a: NDArray[Any], b: NDArray[Any]) -> tuple[float, float]:
    """(statistic, p-value) of scipy.stats.ks_2samp for sorted keys ``a`` and ``b``."""
    return ks_test(_ks_statistic(a, b), a.size, b.size)


def ks_test(d: float, n1: int, n2: int) -> tuple[float, float]:
    """(statistic, p-value) of scipy.stats.ks_2samp (two-sided, ``method="auto"``) from its largest ECDF gap ``d``.

    The test depends on the samples only through ``d`` and their sizes, so both engines call this:
    pandas with :func:`_ks_statistic` of the sorted keys, Spark with the gap of its cumulative counts
    per distinct value (the same ``i/n1 - j/n2`` floats). Up to :data:`_KS_EXACT_MAX_N` rows per
    sample scipy's own exact computation runs (which rounds ``d`` to a multiple of 1/lcm(n1, n2), as
    ks_2samp reports it); above, the asymptotic ``kstwo.sf`` (:func:`_kstwo_sf`).
    """
    if max(n1, n2) <= _KS_EXACT_MAX_N:
        from scipy.stats import _stats_py  # ks_2samp's exact step, given d (ks_2samp itself wants the rows)

        g = math.gcd(n1, n2)
        if n1 // g < np.iinfo(np.int32).max / (n2 // g):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                success, exact_d, prob = _stats_py._attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
            if success:
                return float(exact_d), float(np.clip(prob, 0, 1))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    prob = _kstwo_sf(d, float(np.round(en)))
    return d, float(np.clip(prob, 0, 1))


def _numeric_drift(name: str, ref_col: pd.Series, cur_col: pd.Series, settings: DriftSettings) -> FeatureDrift:
    ref = _sorted_keys(ref_col, name, "reference")
    cur = _sorted_keys(cur_col, name, "current")
    edges = _quantile_edges(ref, settings.psi_bins)
    ref_below = np.searchsorted(ref, edges, side="right")
    cur_below = np.searchsorted(cur, edges, side="right")
    ks, pvalue = _ks_2samp(ref, cur)
    missing = (len(ref_col) - ref.size, len(cur_col) - cur.size)
    return numeric_drift(name, ref_below, cur_below, (ref.size, cur.size), (ks, pvalue), missing, settings)


def numeric_drift(
    name: str,
    ref_below: NDArray[Any],
    cur_below: NDArray[Any],
    sizes: tuple[int, int],
    test: tuple[float, float],
    missing: tuple[int, int],
    settings: DriftSettings,
) -> FeatureDrift:
    """A numeric feature's drift row from counts, whichever engine counted them.

    ``ref_below``/``cur_below``: how many (non-missing) values are at or below each inner cut point;
    ``sizes``: non-missing rows (reference, current); ``test``: :func:`ks_test`'s (statistic, p-value);
    ``missing``: rows dropped as missing (reference, current).
    """
    n_ref, n_cur = sizes
    ref_counts = np.diff(np.concatenate(([0], np.asarray(ref_below, dtype=np.int64), [n_ref])))
    cur_counts = np.diff(np.concatenate(([0], np.asarray(cur_below, dtype=np.int64), [n_cur])))
    psi = psi_from_shares(ref_counts / n_ref, cur_counts / n_cur, settings.psi_epsilon)
    ks, pvalue = test
    notes = []
    missing_ref, missing_cur = missing
    if missing_ref or missing_cur:
        notes.append(f"dropped missing values: {missing_ref} reference, {missing_cur} current rows")
    return FeatureDrift(
        feature=name,
        kind="numeric",
        psi=psi,
        ks_statistic=ks,
        ks_pvalue=pvalue,
        chi2_statistic=None,
        chi2_pvalue=None,
        unseen_categories=[],
        unseen_count=0,
        drifted=bool(psi > settings.feature_psi_threshold),
        reference_rows=int(n_ref),
        current_rows=int(n_cur),
        bins=int(len(ref_below) + 1),
        notes=notes,
    )


# --------------------------------------------------------------------------- text

_TOKEN = re.compile(TEXT_TOKEN_PATTERN)


def _words(column: pd.Series) -> pd.Series:
    """Each row's words, lowercased as the TF-IDF vectoriser reads them (missing text: none)."""
    return column.fillna("").astype(str).str.lower().map(_TOKEN.findall)


def _text_drift(name: str, ref_col: pd.Series, cur_col: pd.Series, settings: DriftSettings) -> FeatureDrift:
    ref_words, cur_words = _words(ref_col), _words(cur_col)
    lengths = _numeric_drift(
        name, ref_words.map(len).astype(np.float64), cur_words.map(len).astype(np.float64), settings
    )
    vocabulary = {word for words in ref_words for word in words}
    current = pd.Series([word for words in cur_words for word in words], dtype=object)
    unseen = current[~current.isin(vocabulary)] if len(current) else current
    oov = len(unseen) / len(current) if len(current) else 0.0
    counts = unseen.value_counts()
    lengths.kind = "text"
    lengths.oov_rate = float(oov)
    lengths.reference_vocabulary = len(vocabulary)
    lengths.unseen_categories = [str(w) for w in counts.index[:MAX_UNSEEN_LISTED]]
    lengths.unseen_count = len(unseen)
    lengths.unseen_distinct = len(counts)
    lengths.notes = [*lengths.notes, "PSI and KS on the number of words per row; oov_rate on the words themselves"]
    return lengths


# --------------------------------------------------------------------------- categorical


def _label(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def chi2_homogeneity(ref_counts: NDArray[Any], cur_counts: NDArray[Any]) -> tuple[float, float]:
    """scipy.stats.chi2_contingency([ref_counts, cur_counts], correction=False)[:2]."""
    observed = np.vstack([ref_counts, cur_counts]).astype(np.float64)
    dof = observed.shape[1] - 1
    if dof == 0:
        return 0.0, 1.0
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return statistic, float(stats.chi2.sf(statistic, dof))


def _codes(series: pd.Series) -> tuple[NDArray[Any], NDArray[Any]]:
    """pd.factorize codes (-1 = missing) and the uniques as a plain numpy array."""
    codes, uniques = pd.factorize(series, sort=False)
    return codes, np.asarray(uniques)


def _categorical_drift(name: str, ref_col: pd.Series, cur_col: pd.Series, settings: DriftSettings) -> FeatureDrift:
    ref_codes, ref_uniques = _codes(ref_col)
    cur_codes, cur_uniques = _codes(cur_col)
    ref_by_own = np.bincount(ref_codes + 1, minlength=ref_uniques.size + 1)[1:]
    cur_by_own = np.bincount(cur_codes + 1, minlength=cur_uniques.size + 1)[1:]
    missing = (int(np.sum(ref_codes < 0)), int(np.sum(cur_codes < 0)))
    return categorical_drift(name, (ref_uniques, ref_by_own), (cur_uniques, cur_by_own), missing, settings)


def categorical_drift(
    name: str,
    reference: tuple[NDArray[Any], NDArray[Any]],
    current: tuple[NDArray[Any], NDArray[Any]],
    missing: tuple[int, int],
    settings: DriftSettings,
) -> FeatureDrift:
    """A categorical feature's drift row from (categories in order of first appearance, rows of each) per side.

    Whichever engine counted them (pandas: ``pd.factorize``; Spark: a ``groupBy`` ordered by each
    category's first row); ``missing``: rows dropped as missing (reference, current).
    """
    ref_uniques, ref_counts = reference
    cur_uniques, cur_by_own = current
    # Union of categories: the reference's, then the current's new ones (small arrays).
    to_ref = pd.Index(ref_uniques, dtype=object).get_indexer(pd.Index(cur_uniques, dtype=object))
    new = to_ref < 0
    k_ref = ref_uniques.size
    to_union = to_ref.copy()
    to_union[new] = k_ref + np.arange(int(new.sum()))
    k = k_ref + int(new.sum())
    ref_counts = np.asarray(ref_counts, dtype=np.int64)
    cur_by_own = np.asarray(cur_by_own, dtype=np.int64)
    cur_counts = np.zeros(k, dtype=np.int64)
    np.add.at(cur_counts, to_union, cur_by_own)
    ref_counts = np.concatenate([ref_counts, np.zeros(k - k_ref, dtype=np.int64)])
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    for label, n in (("reference", n_ref), ("current", n_cur)):
        if n == 0:
            raise ValueError(f"drift: categorical feature '{name}' has no non-missing value in the {label} data")
    present = (ref_counts + cur_counts) > 0
    ref_counts, cur_counts = ref_counts[present], cur_counts[present]
    psi = psi_from_shares(ref_counts / n_ref, cur_counts / n_cur, settings.psi_epsilon)
    chi2_stat, chi2_p = chi2_homogeneity(ref_counts, cur_counts)

    unseen_values = cur_uniques[new]
    unseen_rows = cur_by_own[new]
    order = np.argsort(-unseen_rows, kind="stable")
    listed = [_label(unseen_values[i]) for i in order[:MAX_UNSEEN_LISTED]]
    notes = []
    missing_ref, missing_cur = missing
    if missing_ref or missing_cur:
        notes.append(f"dropped missing values: {missing_ref} reference, {missing_cur} current rows")
    return FeatureDrift(
        feature=name,
        kind="categorical",
        psi=psi,
        ks_statistic=None,
        ks_pvalue=None,
        chi2_statistic=chi2_stat,
        chi2_pvalue=chi2_p,
        unseen_categories=listed,
        unseen_count=int(unseen_rows.sum()),
        drifted=bool(psi > settings.feature_psi_threshold),
        reference_rows=n_ref,
        current_rows=n_cur,
        unseen_distinct=int(new.sum()),
        bins=int(present.sum()),
        notes=notes,
    )


# --------------------------------------------------------------------------- from aggregates (monitor pushed down)
#
# ``mlgate monitor`` counts production values inside the audit store instead of reading them: per
# numeric feature, how many values fall below, on and between sorted thresholds (the PSI cut points
# and reference values: :func:`coarse_thresholds`, then :func:`refined_thresholds`); per
# categorical feature, the rows per value. Both carry every fact the functions above use: the PSI
# counts at the cut points, and the KS statistic, whose extremes lie at reference values (largest
# F_ref - F_cur) or at the last current value before the next reference value (largest
# F_cur - F_ref), i.e. at the end of a cell. The floats are the same ``i/n1 - j/n2`` as above.


COARSE_THRESHOLDS = 2048
"""Reference values in the first, coarse count of :func:`coarse_thresholds` (a store's per-row cost grows with it)."""


def coarse_thresholds(ref_col: pd.Series, name: str, settings: DriftSettings) -> NDArray[Any]:
    """A first, small threshold set: the PSI cut points and about 2,048 reference values, its smallest and largest.

    Counting the current values against it is cheap; :func:`refined_thresholds` then adds the
    reference values only where the KS maximum can lie.
    """
    ref = _sorted_keys(ref_col, name, "reference")
    distinct = np.unique(ref)
    picked = distinct[
        np.unique(np.linspace(0, distinct.size - 1, min(COARSE_THRESHOLDS, distinct.size)).round()).astype(np.int64)
    ]
    return _floats(np.union1d(picked, _quantile_edges(ref, settings.psi_bins)))


def refined_thresholds(ref_col: pd.Series, name: str, coarse: NDArray[Any], cells: NDArray[Any]) -> NDArray[Any]:
    """``coarse`` plus the reference values inside the coarse cells where the KS statistic's maximum may lie.

    From the coarse counts, every threshold gives a lower bound of the statistic (an ECDF gap at
    any point is at most the largest), and every open cell ``(a, b)`` an upper bound of the gaps
    inside it (``F_ref`` and ``F_cur`` each lie between their values at ``a`` and just below
    ``b``). A cell whose upper bound is below the best lower bound cannot hold the maximum; the
    others get all their reference values, so the statistic computed on the refined counts
    (:func:`numeric_drift_from_cells`) is the exact one.
    """
    ref = _sorted_keys(ref_col, name, "reference")
    n1 = ref.size
    c_keys = _keys(np.asarray(coarse, dtype=np.float64))
    cells = np.asarray(cells, dtype=np.int64)
    n2 = int(cells.sum())
    if n2 == 0 or c_keys.size < 2:
        return np.asarray(coarse, dtype=np.float64)
    through = np.cumsum(cells)
    le, lt = through[1::2], through[0:-1:2]  # current values <= / < each threshold
    ref_le = np.searchsorted(ref, c_keys, side="right")
    ref_lt = np.searchsorted(ref, c_keys, side="left")
    lower = max(float(np.abs(ref_le / n1 - le / n2).max()), float(np.abs(ref_lt / n1 - lt / n2).max()))
    upper = np.maximum(ref_lt[1:] / n1 - le[:-1] / n2, lt[1:] / n2 - ref_le[:-1] / n1)
    open_cells = np.flatnonzero(upper >= lower - 1e-12)
    if not open_cells.size:
        return np.asarray(coarse, dtype=np.float64)
    distinct = np.unique(ref)
    starts = np.searchsorted(distinct, c_keys[open_cells], side="right")
    ends = np.searchsorted(distinct, c_keys[open_cells + 1], side="left")
    inside = [distinct[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True) if b > a]
    if not inside:
        return np.asarray(coarse, dtype=np.float64)
    return _floats(np.union1d(c_keys, np.concatenate(inside)))


def numeric_drift_from_cells(
    name: str,
    ref_col: pd.Series,
    thresholds: NDArray[Any],
    cells: NDArray[Any],
    current_rows: int,
    settings: DriftSettings,
    current_values: NDArray[Any] | None = None,
    kind: str = "numeric",
) -> FeatureDrift:
    """:func:`_numeric_drift` from the current data's cell counts (see :func:`refined_thresholds`).

    ``cells`` has ``2 * len(thresholds) + 1`` counts (below the first threshold, on it, between it
    and the next, ...); ``current_rows`` counts the current rows, missing ones included. When both
    samples are small enough for scipy's exact KS distribution the caller passes the current
    non-missing values (``current_values``, at most 10,000) and the test runs on them.
    """
    ref = _sorted_keys(ref_col, name, "reference")
    t_keys = _keys(np.asarray(thresholds, dtype=np.float64))
    cells = np.asarray(cells, dtype=np.int64)
    n2 = int(cells.sum())
    if n2 == 0:
        raise ValueError(f"drift: numeric feature '{name}' has no non-missing value in the current data")
    through = np.cumsum(cells)  # current values <= the end of each cell
    le = through[1::2]  # current values <= thresholds[j]
    edges = _quantile_edges(ref, settings.psi_bins)
    ref_counts = np.diff(np.concatenate(([0], np.searchsorted(ref, edges, side="right"), [ref.size])))
    cur_le_edges = le[np.searchsorted(t_keys, edges)]
    cur_counts = np.diff(np.concatenate(([0], cur_le_edges, [n2])))
    psi = psi_from_shares(ref_counts / ref.size, cur_counts / n2, settings.psi_epsilon)
    n1 = ref.size
    if current_values is not None and max(n1, n2) <= _KS_EXACT_MAX_N:
        cur_keys = _keys(np.asarray(current_values, dtype=np.float64))
        cur_keys.sort()
        ks, pvalue = _ks_2samp(ref, cur_keys)
    else:
        distinct = np.intersect1d(np.unique(ref), t_keys)  # the reference values counted at (all, or refined)
        ref_le_t = np.searchsorted(ref, t_keys, side="right")  # reference values <= each threshold
        # largest F_ref - F_cur: at the reference's values among the thresholds (see refined_thresholds)
        at = np.searchsorted(t_keys, distinct)
        up = np.searchsorted(ref, distinct, side="right") / n1
        up -= le[at] / n2
        max_s = float(up.max())
        # largest F_cur - F_ref: at the end of each non-empty cell; F_ref there is that of the threshold below
        ref_le_cell = np.concatenate(([0], np.repeat(ref_le_t, 2)))
        full = cells > 0
        down = through[full] / n2
        down -= ref_le_cell[full] / n1
        min_s = min(max(float(down.max()), 0.0), 1.0)
        ks = max(max_s, min_s)
        m, n = sorted([float(n1), float(n2)], reverse=True)
        pvalue = float(np.clip(_kstwo_sf(ks, float(np.round(m * n / (m + n)))), 0, 1))
    notes = []
    missing_ref, missing_cur = len(ref_col) - ref.size, current_rows - n2
    if missing_ref or missing_cur:
        notes.append(f"dropped missing values: {missing_ref} reference, {missing_cur} current rows")
    return FeatureDrift(
        feature=name,
        kind=kind,
        psi=psi,
        ks_statistic=ks,
        ks_pvalue=pvalue,
        chi2_statistic=None,
        chi2_pvalue=None,
        unseen_categories=[],
        unseen_count=0,
        drifted=bool(psi > settings.feature_psi_threshold),
        reference_rows=int(n1),
        current_rows=n2,
        bins=int(edges.size + 1),
        notes=notes,
    )


def categorical_drift_from_counts(
    name: str, ref_col: pd.Series, values: list[Any], counts: list[int], current_rows: int, settings: DriftSettings
) -> FeatureDrift:
    """:func:`_categorical_drift` from the current data's rows per value (``current_rows`` counts missing ones too).

    The current values come grouped, not in order of appearance: unseen categories of equal
    counts are listed by their text (the row-reading path lists them as first seen).
    """
    order = sorted(range(len(values)), key=lambda i: _label(values[i]))
    cur_uniques = np.empty(len(values), dtype=object)
    cur_uniques[:] = [values[i] for i in order]
    cur_by_own = np.asarray([counts[i] for i in order], dtype=np.int64)
    ref_codes, ref_uniques = _codes(ref_col)
    ref_by_own = np.bincount(ref_codes + 1, minlength=ref_uniques.size + 1)[1:]
    missing = (int(np.sum(ref_codes < 0)), current_rows - int(cur_by_own.sum()))
    return categorical_drift(name, (ref_uniques, ref_by_own), (cur_uniques, cur_by_own), missing, settings)
