"""Benchmark: a cold `mlgate gate` over N evaluation rows vs a cold evidently DataDriftPreset run, same data.

Generates ``2 N`` rows (seeded) of 25 columns (20 numeric, 5 categorical; ``sex`` and ``age`` are
the sensitive attributes) plus a binary target: the first N rows are the training file, the last N
the holdout (evaluation) file, which carries drift in three columns (``income`` mean shift,
``balance`` variance x1.6, ``channel`` category mix) and a ``product`` category (0.2% of its rows)
the training rows never saw. A scratch governed repo (git, DVC with a directory remote, the embedded
SQLite MLflow store) holds the model ``bench`` (a logistic regression through mlgate's declarative
pipeline on all 25 columns), trained by ``mlgate train`` (setup, not timed), and a policy with
performance, fairness (``sex``, ``age`` in bins 0/25/45/65/120), drift and the base integrity rules.

Timed, each run a fresh process as a user or a workflow step runs it (benchmarks/cold.py: wall time
from interpreter start to exit, peak RSS of the whole process tree), interleaved (mlgate, evidently,
mlgate, ...) after one warm-up of each, medians over ``--pairs``:

(a) ``mlgate gate bench --json verdict.json``: imports, loading the spec, policy and DVC-tracked
    data, loading the registered version, scoring the N holdout rows, every rule (performance,
    fairness, drift of the 25 features, integrity, documentation), the evidence (confusion matrix,
    curves, permutation importance) and attaching the verdict to the version in MLflow;
(b) evidently: ``import evidently``, reading the two Parquet files (the 25 feature columns), and
    ``Report([DataDriftPreset()]).run(holdout, train)`` (input drift only, nothing else).

Checks (not timed, in this process): the gates' functions on the same frames against scipy
(``ks_2samp``, ``chi2_contingency``; 1e-9) and fairlearn (``MetricFrame``; 1e-9, ``--skip-fairlearn``
skips it and then ``numbers_match`` is false), and the verdict's PSI and drifted share equal to
those functions' on the training vs holdout files. The last line is machine-readable; see
benchmarks/README.md.

    python benchmarks/gates.py --rows 1000000 [--pairs 3] [--skip-evidently] [--keep DIR | --repo DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(HERE / "src"), str(HERE / "devkit"), str(HERE / "benchmarks")]

import cold

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
FEATURES = NUMERIC + CATEGORICAL
FAIRNESS_METRICS: tuple[str, ...] = get_args(FairnessMetric)
TOL = 1e-9
MODEL = "bench"
GIT_ID = ["-c", "user.name=mlgate benchmark", "-c", "user.email=benchmark@mlgate.invalid"]

SPEC = """\
# Benchmark model: gates.py's 25 generated columns, a logistic regression.
name: bench
description: Synthetic credit-like scores for the gate benchmark.
owners: [benchmark]
task: classification
data:
  train: data/train.parquet
  holdout: data/holdout.parquet
target: target
positive_label: 1
features:
  numeric: [{numeric}]
  categorical: [{categorical}]
sensitive_features:
  - name: sex
  - name: age
    bins: [0, 25, 45, 65, 120]
    labels: ["under 25", "25-44", "45-64", "65 and over"]
estimator:
  class: sklearn.linear_model.LogisticRegression
seed: 42
model_card:
  intended_use: Benchmarking mlgate gate.
  out_of_scope_uses: Anything else.
  limitations: Generated data.
  ethical_considerations: None; the data is synthetic.
  caveats_and_recommendations: None.
  license: Apache-2.0.
monitoring:
  owner: benchmark@mlgate.invalid
  frequency: weekly
  retraining_trigger: more than 10% of the features drifted
  rollback_procedure: move the production alias back
policy: policies/bench.yaml
"""

POLICY = """\
# The gate benchmark's policy: every family, as a credit model's.
extends: base.yaml
description: Gate benchmark.
gates:
  performance:
    - metric: roc_auc
      min: 0.6
    - metric: balanced_accuracy
      min: 0.55
    - metric: f1
      min: 0.3
      severity: warn
    - metric: log_loss
      max: 0.7
      severity: warn
  fairness:
    - metric: demographic_parity_ratio
      min: 0.8
    - metric: equalized_odds_difference
      max: 0.2
  drift:
    - metric: psi
      max: 0.25
"""


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


# --------------------------------------------------------------------------- checks (not timed)


def run_mlgate(
    frame: pd.DataFrame, reference: pd.DataFrame, current: pd.DataFrame, workers: int | None
) -> dict[str, Any]:
    """Time mlgate's drift, fairness and performance gates; their results and seconds."""
    drift_settings, fairness_settings = DriftSettings(), FairnessSettings()
    times = {}
    start = time.perf_counter()
    table = feature_drift(reference, current, NUMERIC, CATEGORICAL, drift_settings, workers=workers)
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


# --------------------------------------------------------------------------- the repo


def child_env() -> dict[str, str]:
    """The environment of every child: this checkout's mlgate, no telemetry, the repo's embedded store."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE / "src"), env.get("PYTHONPATH", "")) if p)
    env |= {"DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run(cmd: list[str], cwd: Path) -> str:
    """A setup command that must succeed (not timed)."""
    done = subprocess.run(cmd, cwd=cwd, env=child_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def build_repo(folder: Path, train: pd.DataFrame, holdout: pd.DataFrame) -> Path:
    """A governed repo (git, DVC with a directory remote) holding the bench spec, policy and both files."""
    repo, remote = folder / "repo", folder / "dvc-remote"
    for path in (repo / "models" / MODEL, repo / "policies", repo / "data", remote):
        path.mkdir(parents=True)
    shutil.copy2(HERE / "policies" / "base.yaml", repo / "policies" / "base.yaml")
    (repo / "policies" / "bench.yaml").write_text(POLICY)
    spec = SPEC.format(numeric=", ".join(NUMERIC), categorical=", ".join(CATEGORICAL))
    (repo / "models" / MODEL / "model.yaml").write_text(spec)
    (repo / "params.yaml").write_text(f"{MODEL}:\n  C: 1.0\n  max_iter: 500\n")
    (repo / ".gitignore").write_text("/mlflow.db\n/mlartifacts/\n/metrics/\n")
    train.to_parquet(repo / "data" / "train.parquet", index=False)
    holdout.to_parquet(repo / "data" / "holdout.parquet", index=False)
    run(["git", "init", "-q"], repo)
    run([sys.executable, "-m", "dvc", "init", "-q"], repo)
    run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], repo)
    run([sys.executable, "-m", "dvc", "remote", "add", "-d", "local", str(remote)], repo)
    run([sys.executable, "-m", "dvc", "add", "-q", "data/train.parquet", "data/holdout.parquet"], repo)
    run([sys.executable, "-m", "dvc", "push", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", *GIT_ID, "commit", "-q", "-m", "gate benchmark repo"], repo)
    out = folder / "train.json"
    run([*cold.mlgate_command(), "train", MODEL, "--json", str(out)], repo)
    return repo


# --------------------------------------------------------------------------- evidently (child)


EVIDENTLY_CHILD = """
import json, sys, time
mark = time.perf_counter()
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
times = {"import": time.perf_counter() - mark}
train_path, holdout_path, out, *features = sys.argv[1:]
mark = time.perf_counter()
reference = pd.read_parquet(train_path, columns=features)
current = pd.read_parquet(holdout_path, columns=features)
times["read"] = time.perf_counter() - mark
mark = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current, reference)
times["report"] = time.perf_counter() - mark
counts = [m["value"] for m in snapshot.dict()["metrics"] if str(m.get("metric_name", "")).startswith("DriftedCol")]
drifted = float(counts[0]["count"]) if counts else None
open(out, "w").write(json.dumps({"times": times, "drifted_columns": drifted, "rows": len(current)}))
"""
"""evidently's whole run, in its own interpreter (``--evidently-python``: it needs only evidently and pandas).

Imports evidently, reads both files (the 25 feature columns), runs ``DataDriftPreset``; a JSON
summary (its parts' seconds, the drifted column count) goes to the file named third.
"""


# --------------------------------------------------------------------------- main


def check_verdict(verdict: dict[str, Any], train: pd.DataFrame, holdout: pd.DataFrame) -> list[str]:
    """The verdict's PSI and drifted share against :func:`feature_drift` on the same two files."""
    settings = DriftSettings()
    table = feature_drift(train, holdout, NUMERIC, CATEGORICAL, settings)
    bad = []
    for rule in verdict["rules"]:
        if rule["family"] != "drift":
            continue
        expected = drift_measurement(table, rule["metric"], None, settings).value
        if expected is None or rule["observed"] is None or abs(rule["observed"] - expected) > TOL:
            bad.append(f"verdict {rule['metric']} {rule['observed']!r}, feature_drift {expected!r}")
    return bad


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the repo, time both tools interleaved, check the numbers; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="evaluation (holdout) rows; as many train")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pairs", type=int, default=3, help="interleaved runs of each tool (after a warm-up)")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-fairlearn", action="store_true", help="(its check; numbers_match is then false)")
    parser.add_argument("--keep", type=Path, help="build the repo in this (new) folder and keep it")
    parser.add_argument("--repo", type=Path, help="a folder --keep built before (same --rows and --seed)")
    parser.add_argument("--evidently-python", default=sys.executable, help="an interpreter with evidently==0.7.23")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    holder = None
    if args.repo:
        folder = args.repo.resolve()
    elif args.keep:
        args.keep.mkdir(parents=True)
        folder = args.keep.resolve()
    else:
        holder = tempfile.TemporaryDirectory(prefix="mlgate-bench-gates-")
        folder = Path(holder.name)
    try:
        return _main(args, folder)
    finally:
        if holder is not None:
            holder.cleanup()


def _main(args: argparse.Namespace, folder: Path) -> int:
    mark = time.perf_counter()
    frame = make_data(2 * args.rows, args.seed)
    train, holdout = frame.iloc[: args.rows], frame.iloc[args.rows :].reset_index(drop=True)
    data_mb, deep_mb = data_megabytes(holdout)
    print(
        f"data: {args.rows} training + {args.rows} holdout rows x {len(FEATURES)} features, holdout "
        f"{data_mb:.1f} MB ({deep_mb:.1f} MB by pandas deep=True); generated in {time.perf_counter() - mark:.1f} s",
        flush=True,
    )
    repo = folder / "repo"
    if not args.repo:
        mark = time.perf_counter()
        build_repo(folder, train[[*FEATURES, "target"]], holdout[[*FEATURES, "target"]])
        print(f"repo built and v1 trained by mlgate train in {time.perf_counter() - mark:.1f} s", flush=True)
    env = child_env()
    verdict_path = folder / "verdict.json"
    gate = [*cold.mlgate_command(), "gate", MODEL, "--json", str(verdict_path)]
    summary = folder / "evidently.json"
    data = repo / "data"
    evidently = [args.evidently_python, "-c", EVIDENTLY_CHILD]
    evidently += [str(data / "train.parquet"), str(data / "holdout.parquet"), str(summary), *FEATURES]

    def measured() -> cold.Sample:  # exit 1: the policy's drift rules block (the drift is injected)
        return cold.sample([cold.checked("mlgate gate", cold.run(gate, repo, env), ok=(0, 1))])

    reports: list[float] = []  # evidently's Report.run seconds, inside each anchor run

    def anchor() -> cold.Sample:
        done = cold.sample([cold.checked("evidently", cold.run(evidently, folder, env))])
        reports.append(json.loads(summary.read_text())["times"]["report"])
        return done

    if args.skip_evidently:
        measured()  # the warm-up, as interleaved does
        ours, theirs = [measured() for _ in range(args.pairs)], []
    else:
        ours, theirs = cold.interleaved(args.pairs, measured, anchor)
    verdict = json.loads(verdict_path.read_text())
    seconds = verdict["seconds"]
    print(
        f"mlgate gate: {', '.join(f'{s.seconds:.2f}' for s in ours)} s; tree peaks "
        f"{', '.join(f'{s.tree_peak_mb:.0f}' for s in ours)} MB; status {verdict['status']}; inside the last: "
        f"load {seconds['load']} s, gates {seconds['gates']} s, evidence {seconds['evidence']} s",
        flush=True,
    )
    rules = ", ".join(f"{r['metric']} {r['status']}" for r in verdict["rules"])
    print(f"  rules: {rules}")
    if theirs:
        inside = json.loads(summary.read_text())
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in inside["times"].items())
        print(
            f"evidently DataDriftPreset: {', '.join(f'{s.seconds:.2f}' for s in theirs)} s; tree peaks "
            f"{', '.join(f'{s.tree_peak_mb:.0f}' for s in theirs)} MB; inside the last: {parts}; "
            f"{inside['drifted_columns']} of {len(FEATURES)} columns drifted by its default tests"
        )

    # the gate families alone, in this process (what issue #22's "22x" compared): drift of the 25
    # features, fairness and performance over the holdout rows, against evidently's Report.run alone
    families = []
    for _ in range(3):
        mark = time.perf_counter()
        result = run_mlgate(holdout, train, holdout, None)
        families.append(time.perf_counter() - mark)
    parts = ", ".join(f"{k} {v:.2f}" for k, v in result["times"].items())
    print(
        f"gate families in-process (drift, fairness, performance): {', '.join(f'{t:.2f}' for t in families)} s; "
        f"last: {parts}"
    )
    families_s = statistics.median(families)

    # checks, not timed: the gates' functions against scipy and fairlearn, the verdict against them
    bad = check_scipy(result, train, holdout) + check_verdict(verdict, train, holdout)
    print(f"check vs scipy and the verdict's drift: {'all within 1e-9' if not bad else '; '.join(bad)}")
    if not args.skip_fairlearn:
        y_true = holdout["target"].to_numpy()
        y_pred = (holdout["score"].to_numpy() >= 0.5).astype(np.int64)
        age = pd.cut(holdout["age"], AGE_BINS, right=False, labels=AGE_LABELS)  # independent bucketing
        sensitive = {"sex": holdout["sex"].to_numpy(dtype=str), "age": np.asarray(age.astype(str))}
        fair_bad, _ = check_fairlearn(result, run_fairlearn(y_true, y_pred, sensitive))
        bad += fair_bad
        print(f"check vs fairlearn: {'9 metrics x 2 features within 1e-9' if not fair_bad else '; '.join(fair_bad)}")
    numbers_match = not bad and not args.skip_fairlearn

    ratio = f"{cold.ratio(theirs, ours):.1f}" if theirs else "skipped"
    anchor_fields = cold.summary("evidently", theirs) if theirs else "evidently_s=skipped"
    report_s = statistics.median(reports[1:]) if len(reports) > 1 else None  # the warm-up's left out
    in_process = (
        f"evidently_report_s={report_s:.2f} families_speedup={report_s / families_s:.1f}"
        if report_s is not None
        else "evidently_report_s=skipped families_speedup=skipped"
    )
    print(
        f"rows={args.rows} pairs={args.pairs} {cold.summary('mlgate', ours)} {anchor_fields} "
        f"speedup_vs_evidently={ratio} families_s={families_s:.2f} {in_process} "
        f"numbers_match={'true' if numbers_match else 'false'}"
    )
    return 0 if numbers_match else 1


if __name__ == "__main__":
    sys.exit(main())
