"""Benchmark: mlgate's drift, fairness and performance gates vs evidently and fairlearn.

Generates ``--rows`` rows (seeded) of 25 columns (20 numeric, 5 categorical; ``sex`` and
``age`` are the sensitive attributes) plus a binary target and a model score. The first half of
the rows is the drift reference, the second half the current data, with drift injected in three
columns (``income`` mean shift, ``balance`` variance x1.6, ``channel`` category mix) and a new
``product`` category (0.2% of the current rows) the reference never saw.

Then, on the same data, it times

(a) mlgate: ``feature_drift`` over the 23 non-sensitive features (reference half vs current
    half) + ``drift_measurement`` for ``psi`` and ``drifted_share``; ``sensitive_groups`` +
    ``group_table`` for ``sex`` and ``age`` (bins 0/25/45/65/120) over all rows + every fairness
    metric; ``classification_metrics`` over all rows. Wall time, and peak memory as the rise of
    the process's peak RSS (VmHWM, reset through /proc/self/clear_refs) over the RSS before the
    run, next to the size of the data;
(b) evidently ``Report([DataDriftPreset()])`` on the same 23 columns (``--skip-evidently``);
(c) fairlearn ``MetricFrame`` (selection rate, TPR, FPR, error rate) for each sensitive feature
    + ``demographic_parity_difference/ratio`` + ``equalized_odds_difference/ratio``;

and checks mlgate's numbers: fairness metrics vs fairlearn (1e-9), KS and chi-squared vs
scipy on every feature (1e-9 relative; the scipy runs are not timed). The last line is
machine-readable; see benchmarks/README.md.

    python benchmarks/gates.py --rows 1000000 [--skip-evidently]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import math
import os
import platform
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd

from mlgate.config import DriftSettings, FairnessMetric, FairnessSettings, SensitiveFeature
from mlgate.gates import (
    classification_metrics,
    drift_measurement,
    fairness_measurement,
    feature_drift,
    group_table,
    sensitive_groups,
)

AGE_BINS = [0, 25, 45, 65, 120]
AGE_LABELS = ["under 25", "25-44", "45-64", "65 and over"]
SENSITIVE = [
    SensitiveFeature(name="sex"),
    SensitiveFeature(name="age", bins=AGE_BINS, labels=AGE_LABELS),
]
NUMERIC = [
    "age",
    "income",
    "tenure_months",
    "balance",
    "credit_score",
    "num_accounts",
    "utilisation",
    "late_payments",
    *[f"x{i:02d}" for i in range(1, 13)],
]
CATEGORICAL = ["sex", "region", "channel", "product", "segment"]
SENSITIVE_NAMES = {f.name for f in SENSITIVE}
DRIFT_NUMERIC = [c for c in NUMERIC if c not in SENSITIVE_NAMES]
DRIFT_CATEGORICAL = [c for c in CATEGORICAL if c not in SENSITIVE_NAMES]
FAIRNESS_METRICS: tuple[str, ...] = get_args(FairnessMetric)
TOL = 1e-9


# --------------------------------------------------------------------------- data


def _strings(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object)


def make_data(rows: int, seed: int) -> pd.DataFrame:
    """``rows`` rows; the second half (current) carries the injected drift."""
    rng = np.random.default_rng(seed)
    half = rows // 2
    cur = np.arange(rows) >= half
    cols: dict[str, Any] = {}
    cols["age"] = np.round(rng.uniform(18, 90, rows), 1)
    income = rng.lognormal(10.5, 0.5, rows)
    income[cur] *= 1.35  # (1) shifted mean
    cols["income"] = income
    cols["tenure_months"] = rng.poisson(40, rows).astype(np.float64)  # ties
    balance = rng.normal(5000, 1500, rows)
    balance[cur] = 5000 + (balance[cur] - 5000) * 1.6  # (2) scaled variance
    cols["balance"] = balance
    cols["credit_score"] = np.round(rng.normal(650, 80, rows))
    cols["num_accounts"] = rng.poisson(2.5, rows).astype(np.float64)
    cols["utilisation"] = rng.beta(2, 5, rows)
    cols["late_payments"] = rng.poisson(0.3, rows).astype(np.float64)  # mostly 0: few bins
    for i in range(1, 13):
        kind = i % 3
        if kind == 0:
            cols[f"x{i:02d}"] = rng.normal(0, 1, rows)
        elif kind == 1:
            cols[f"x{i:02d}"] = rng.uniform(-1, 1, rows)
        else:
            cols[f"x{i:02d}"] = rng.exponential(1.0, rows)
    cols["x03"][rng.random(rows) < 0.01] = np.nan  # 1% missing: dropped by the drift gate

    cols["sex"] = _strings(["female", "male"])[(rng.random(rows) < 0.52).astype(np.int64)]
    cols["region"] = _strings([f"region_{i}" for i in range(8)])[rng.integers(0, 8, rows)]
    mix_ref, mix_cur = [0.4, 0.3, 0.2, 0.1], [0.25, 0.3, 0.2, 0.25]  # (3) shifted mix
    channel = np.where(cur, _choice(rng, mix_cur, rows), _choice(rng, mix_ref, rows))
    cols["channel"] = _strings(["branch", "web", "app", "partner"])[channel]
    product = rng.integers(0, 20, rows)
    product[cur & (rng.random(rows) < 0.002)] = 20  # a product the reference never saw
    cols["product"] = _strings([f"product_{i:02d}" for i in range(21)])[product]
    cols["segment"] = _strings(["retail", "premium", "business"])[_choice(rng, [0.7, 0.2, 0.1], rows)]

    z_income = (np.log(cols["income"]) - 10.5) / 0.5
    logit = (
        -0.3
        + 0.8 * z_income
        - 2.0 * (cols["utilisation"] - 0.28) / 0.16 * 0.4
        + 0.25 * (cols["sex"] == "male")
        - 0.015 * (cols["age"] - 50)
        + 0.3 * cols["x03"].clip(-3, 3)
    )
    logit = np.nan_to_num(logit)
    cols["target"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    cols["score"] = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.8, rows))))
    return pd.DataFrame(cols)


def _choice(rng: np.random.Generator, probs: list[float], rows: int) -> np.ndarray:
    return np.searchsorted(np.cumsum(probs), rng.random(rows) * sum(probs), side="right")


def data_megabytes(frame: pd.DataFrame) -> tuple[float, float]:
    """(actual, pandas-deep) size in MB.

    Actual: column buffers (8-byte pointers for object columns) plus each distinct string
    object once, which is how read_csv and this generator store repeated strings. pandas'
    ``deep=True`` counts the string behind every pointer again and overstates it.
    """
    actual = float(frame.memory_usage(index=True, deep=False).sum())
    for name in frame.columns:
        if frame[name].dtype == object:
            actual += sum(sys.getsizeof(v) for v in pd.unique(frame[name]))
    deep = float(frame.memory_usage(index=True, deep=True).sum())
    return actual / 2**20, deep / 2**20


# --------------------------------------------------------------------------- memory


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _trim() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # glibc only
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float | None]:
    """(result, seconds, peak RSS rise in MB or None where /proc cannot tell)."""
    _trim()
    before = _status_kb("VmRSS")
    can_reset = _reset_peak_rss() and before is not None
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak = _status_kb("VmHWM") if can_reset else None
    rise = (peak - before) / 1024 if peak is not None and before is not None else None
    return result, seconds, rise


def traced_peak(fn: Callable[[], Any]) -> float:
    """Peak of memory allocated through Python's allocators and numpy during ``fn``, in MB."""
    _trim()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------- the three runs


def run_mlgate(
    frame: pd.DataFrame, reference: pd.DataFrame, current: pd.DataFrame, workers: int | None
) -> dict[str, Any]:
    """Time mlgate's drift, fairness and performance gates; their results and seconds."""
    drift_settings, fairness_settings = DriftSettings(), FairnessSettings()
    times = {}
    start = time.perf_counter()
    table = feature_drift(reference, current, DRIFT_NUMERIC, DRIFT_CATEGORICAL, drift_settings, workers=workers)
    drift = {m: drift_measurement(table, m, None, drift_settings) for m in ("psi", "drifted_share")}
    times["drift"] = time.perf_counter() - start

    start = time.perf_counter()
    target = frame["target"].to_numpy()
    score = frame["score"].to_numpy()
    y_true = target == 1
    y_pred = score >= 0.5
    groups = [sensitive_groups(frame, feature) for feature in SENSITIVE]
    tables = [group_table(y_true, y_pred, g, fairness_settings.min_group_size) for g in groups]
    fairness = {m: fairness_measurement(tables, m) for m in FAIRNESS_METRICS}
    times["fairness"] = time.perf_counter() - start

    start = time.perf_counter()
    proba = np.column_stack([1.0 - score, score])
    performance = classification_metrics(target, proba, classes=[0, 1], pos=1)
    times["performance"] = time.perf_counter() - start
    return {
        "table": table,
        "drift": drift,
        "tables": tables,
        "fairness": fairness,
        "performance": performance,
        "times": times,
    }


def run_evidently(reference: pd.DataFrame, current: pd.DataFrame) -> Any:
    """Evidently's DataDriftPreset report of current against reference."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    return Report([DataDriftPreset()]).run(current, reference)


def _error_rate(y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import accuracy_score

    return 1.0 - accuracy_score(y_true, y_pred)


def run_fairlearn(
    y_true: np.ndarray, y_pred: np.ndarray, sensitive: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Fairlearn's rates and disparity metrics per sensitive feature, to check mlgate's against."""
    from fairlearn import metrics as flm

    out = {}
    for name, feature in sensitive.items():
        frame = flm.MetricFrame(
            metrics={
                "selection_rate": flm.selection_rate,
                "true_positive_rate": flm.true_positive_rate,
                "false_positive_rate": flm.false_positive_rate,
                "error_rate": _error_rate,
            },
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=feature,
        )
        diff, ratio = frame.difference(), frame.ratio()
        kw = {"sensitive_features": feature}
        out[name] = {
            "demographic_parity_difference": flm.demographic_parity_difference(y_true, y_pred, **kw),
            "demographic_parity_ratio": flm.demographic_parity_ratio(y_true, y_pred, **kw),
            "equalized_odds_difference": flm.equalized_odds_difference(y_true, y_pred, **kw),
            "equalized_odds_ratio": flm.equalized_odds_ratio(y_true, y_pred, **kw),
            "equal_opportunity_difference": diff["true_positive_rate"],
            "equal_opportunity_ratio": ratio["true_positive_rate"],
            "selection_rate_difference": diff["selection_rate"],
            "false_positive_rate_difference": diff["false_positive_rate"],
            "error_rate_difference": diff["error_rate"],
        }
    return {n: {k: float(v) for k, v in values.items()} for n, values in out.items()}


# --------------------------------------------------------------------------- checks


def check_scipy(result: dict[str, Any], reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """Every feature's KS / chi-squared statistic and p-value vs scipy; returns mismatches."""
    from scipy import stats

    bad = []
    for fd in result["table"]:
        ref, cur = reference[fd.feature].dropna(), current[fd.feature].dropna()
        if fd.kind == "numeric":
            res = stats.ks_2samp(ref.to_numpy(), cur.to_numpy())
            pairs = [("KS statistic", fd.ks_statistic, res.statistic), ("KS p-value", fd.ks_pvalue, res.pvalue)]
        else:
            counts = pd.concat([ref.value_counts().rename("ref"), cur.value_counts().rename("cur")], axis=1)
            res = stats.chi2_contingency(counts.fillna(0).to_numpy().T, correction=False)
            pairs = [("chi2", fd.chi2_statistic, res.statistic), ("chi2 p-value", fd.chi2_pvalue, res.pvalue)]
        for what, mine, theirs in pairs:
            if not math.isclose(mine, float(theirs), rel_tol=TOL, abs_tol=1e-300):
                bad.append(f"{fd.feature}: {what} mlgate {mine!r} scipy {float(theirs)!r}")
    return bad


def check_fairlearn(result: dict[str, Any], fl: dict[str, dict[str, float]]) -> tuple[list[str], float]:
    """Metrics where mlgate and fairlearn differ by more than 1e-9, and the largest difference."""
    bad, worst = [], 0.0
    for table in result["tables"]:
        for metric in FAIRNESS_METRICS:
            mine = fairness_measurement([table], metric).value
            theirs = fl[table.feature][metric]
            if mine is None:
                bad.append(f"{table.feature} {metric}: mlgate failed")
                continue
            worst = max(worst, abs(mine - theirs))
            if abs(mine - theirs) > TOL:
                bad.append(f"{table.feature} {metric}: mlgate {mine!r} fairlearn {theirs!r}")
    for metric in FAIRNESS_METRICS:  # worst over the two features
        values = [fl[name][metric] for name in fl]
        expected = min(values) if metric.endswith("ratio") else max(values)
        mine = result["fairness"][metric].value
        if mine is None or abs(mine - expected) > TOL:
            bad.append(f"combined {metric}: mlgate {mine!r} expected {expected!r}")
    return bad, worst


def compare_evidently_psi(result: dict[str, Any], reference: pd.DataFrame, current: pd.DataFrame) -> None:
    """Evidently's PSI next to mlgate's, where the two are comparable (see README)."""
    from evidently.legacy.calculations.stattests import psi_stat_test
    from evidently.legacy.core import ColumnType

    print("PSI vs evidently's psi_stat_test (not timed):")
    unsmoothed = DriftSettings(psi_epsilon=1e-300)
    for fd in result["table"]:
        if fd.kind != "categorical" and not fd.drifted:
            continue
        kind = ColumnType.Categorical if fd.kind == "categorical" else ColumnType.Numerical
        ref, cur = reference[fd.feature].dropna(), current[fd.feature].dropna()
        theirs = float(psi_stat_test(ref, cur, kind, None).drift_score)
        if fd.kind == "categorical":
            # Same categories as bins: without smoothing mlgate's PSI is evidently's, unless a
            # category is empty on one side (evidently then substitutes 1e-4 for the 0).
            raw = feature_drift(reference, current, [], [fd.feature], unsmoothed, workers=1)[0].psi
            same = math.isclose(raw, theirs, rel_tol=TOL, abs_tol=1e-15)
            note = f"|diff| {abs(fd.psi - theirs):.1e} from smoothing; with psi_epsilon=1e-300: " + (
                "equal to 1e-9" if same else f"{raw:.6f} (a category is empty on one side)"
            )
        else:
            note = "not comparable: evidently bins numeric columns in Sturges equal-width bins"
        print(f"  {fd.feature:14s} mlgate {fd.psi:.6f} evidently {theirs:.6f}  {note}")
    print(
        "  (categorical: evidently leaves non-empty shares unsmoothed and replaces empty ones by"
        " 1e-4; mlgate adds psi_epsilon=1e-4 to every share. Numeric: mlgate uses reference"
        " deciles. Not part of numbers_match.)"
    )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Generate the data, time each tool, check the numbers and print the results; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in total (half reference)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="threads for feature_drift")
    parser.add_argument("--repeat", type=int, default=3, help="mlgate runs; the best time is reported")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-fairlearn", action="store_true", help="(and its check)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    # Import what the timed code uses lazily, so that no run pays an import.
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    start = time.perf_counter()
    frame = make_data(args.rows, args.seed)
    half = args.rows // 2
    reference, current = frame.iloc[:half], frame.iloc[half:]
    data_mb, deep_mb = data_megabytes(frame)
    print(
        f"data: {args.rows} rows x {frame.shape[1]} columns (25 + target + score), "
        f"{data_mb:.1f} MB ({deep_mb:.1f} MB by pandas deep=True); generated in "
        f"{time.perf_counter() - start:.1f} s"
    )

    # (a) mlgate, --repeat times: the best time (least disturbed by other load), the worst memory
    runs = [measure(lambda: run_mlgate(frame, reference, current, args.workers)) for _ in range(args.repeat)]
    best = min(range(len(runs)), key=lambda i: runs[i][1])
    result, mlgate_s = runs[best][0], runs[best][1]
    rises = [r[2] for r in runs if r[2] is not None]
    peak_mb = max(rises) if rises else None
    times = result["times"]
    traced_mb = traced_peak(lambda: run_mlgate(frame, reference, current, args.workers))
    mem = f"{peak_mb:.1f}" if peak_mb is not None else "n/a"
    print(
        f"mlgate runs: {', '.join(f'{r[1]:.2f}' for r in runs)} s (median {float(np.median([r[1] for r in runs])):.2f})"
    )
    print(
        f"mlgate best: {mlgate_s:.2f} s (drift {times['drift']:.2f}, fairness {times['fairness']:.2f}, "
        f"performance {times['performance']:.2f}); peak RSS rise {mem} MB (max over runs), "
        f"tracemalloc peak {traced_mb:.1f} MB; data {data_mb:.1f} MB"
    )
    peak_report = peak_mb if peak_mb is not None else traced_mb
    print(f"  peak / data = {peak_report / data_mb:.2f}")
    for metric, m in result["drift"].items():
        print(f"  drift {metric}: {m.value:.4g} - {m.explanation}")
    for metric in ("demographic_parity_ratio", "equalized_odds_difference"):
        m = result["fairness"][metric]
        print(f"  fairness {metric}: {m.value:.4g} - {m.explanation}")
    perf = result["performance"]
    print(f"  performance: accuracy {perf['accuracy']:.4f}, roc_auc {perf['roc_auc']:.4f}")

    scipy_bad = check_scipy(result, reference, current)
    print(
        f"check vs scipy (ks_2samp, chi2_contingency) on {len(result['table'])} features: "
        + ("all within 1e-9" if not scipy_bad else "; ".join(scipy_bad))
    )

    # (c) fairlearn
    fairlearn_s: float | None = None
    fair_bad: list[str] = []
    if not args.skip_fairlearn:
        y_true = frame["target"].to_numpy()
        y_pred = (frame["score"].to_numpy() >= 0.5).astype(np.int64)
        age = pd.cut(frame["age"], AGE_BINS, right=False, labels=AGE_LABELS)  # independent bucketing
        sensitive = {"sex": frame["sex"].to_numpy(dtype=str), "age": np.asarray(age.astype(str))}
        import fairlearn.metrics  # noqa: F401  (imports are not timed, for any of the three)

        fl, fairlearn_s, _ = measure(lambda: run_fairlearn(y_true, y_pred, sensitive))
        fair_bad, worst = check_fairlearn(result, fl)
        print(
            f"fairlearn: {fairlearn_s:.2f} s; mlgate fairness vs fairlearn: "
            + (
                f"all 9 metrics x 2 features within 1e-9 (max |diff| {worst:.1e})"
                if not fair_bad
                else "; ".join(fair_bad)
            )
        )

    # (b) evidently
    evidently_s: float | None = None
    if not args.skip_evidently:
        features = DRIFT_NUMERIC + DRIFT_CATEGORICAL
        ref_ev, cur_ev = reference[features].copy(), current[features].copy()
        import evidently.presets  # noqa: F401  (~7 s to import; not timed)

        snapshot, evidently_s, _ = measure(lambda: run_evidently(ref_ev, cur_ev))
        metrics = snapshot.dict()["metrics"]
        counts = [m["value"] for m in metrics if str(m.get("metric_name", "")).startswith("DriftedColumnsCount")]
        summary = (
            f"{counts[0]['count']:.0f} of {len(features)} columns drifted by its default tests"
            if counts
            else "no DriftedColumnsCount in the snapshot"
        )
        print(
            f"evidently DataDriftPreset: {evidently_s:.2f} s ({summary}: Wasserstein distance for "
            "numeric, Jensen-Shannon for categorical columns; not PSI/KS/chi2, so not compared)"
        )
        compare_evidently_psi(result, reference, current)

    numbers_match = not scipy_bad and not fair_bad and not args.skip_fairlearn

    def fmt(value: float | None) -> str:
        return "skipped" if value is None else f"{value:.2f}"

    def speedup(other: float | None, mine: float = mlgate_s) -> str:
        return "skipped" if other is None else f"{other / mine:.1f}"

    print(
        f"speedup of the whole mlgate run ({mlgate_s:.2f} s): vs evidently {speedup(evidently_s)}, "
        f"vs fairlearn {speedup(fairlearn_s)}; part for part: evidently / mlgate drift "
        f"{speedup(evidently_s, times['drift'])}, fairlearn / mlgate fairness "
        f"{speedup(fairlearn_s, times['fairness'])}"
    )
    print(
        f"rows={args.rows} mlgate_s={mlgate_s:.2f} mlgate_peak_mb={peak_report:.1f} "
        f"evidently_s={fmt(evidently_s)} fairlearn_s={fmt(fairlearn_s)} "
        f"speedup_vs_evidently={speedup(evidently_s)} speedup_vs_fairlearn={speedup(fairlearn_s)} "
        f"numbers_match={'true' if numbers_match else 'false'}"
    )
    return 0 if numbers_match else 1


if __name__ == "__main__":
    sys.exit(main())
