"""Benchmark: `mlgate monitor` over N audit rows x 25 features vs evidently's DataDriftPreset, same data.

Builds a scratch governed repo (git + DVC, the embedded SQLite MLflow store) whose model ``bench``
(a scikit-learn logistic regression through mlgate's declarative pipeline) is trained by
`mlgate train` on the reference half of ``benchmarks/gates.py``'s generated data (25 columns:
20 numeric, 5 categorical), and sets its ``production`` alias. Its spec reads a SQLite audit store
(``--postgres``: a PostgreSQL one, Debian's, started in the scratch folder), and its policy has
monitoring rules on drifted_share, psi, prediction_psi, null_fraction, volume and estimated_roc_auc.

The audit store is then filled (timed apart, not counted) with ``--rows`` production rows: the
current half of the same data, drifted as gates.py drifts it (``income`` mean, ``balance`` spread,
``channel`` mix), scored by the production version through mlgate serve's own code
(:class:`mlgate.serving._model.Served`) and written as serve writes them (:class:`AuditStore` and
:class:`Record`, one transaction per request of ``--request-rows`` rows), spread over one week.

Timed, each in its own child process (wall time; peak RSS from ``wait4``, as score.py measures):

(a) ``mlgate monitor bench --stage production --window FROM..TO --json out.json``: everything,
    from interpreter start (imports, loading the version, reading and decoding the audit rows,
    rebuilding and scoring the reference, every metric and rule, recording the verdict in MLflow);
(b) evidently: import, read the reference (the same training rows, saved as Parquet before) and the
    same audit rows (the window's rows of that version, the features JSON decoded with ``json.loads``
    50,000 rows at a time into a DataFrame), then ``Report([DataDriftPreset()]).run(current, reference)``.

Then it checks that mlgate found the injected drift (exit 1 otherwise) and reports which features
each tool calls drifted. The last line is machine-readable; see benchmarks/README.md.

    python benchmarks/monitor.py --rows 1000000 [--postgres] [--skip-evidently] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(HERE / "src"), str(HERE / "devkit"), str(HERE / "benchmarks")]

from gates import CATEGORICAL, NUMERIC, make_data

MODEL = "bench"
STAGE = "production"
FEATURES = NUMERIC + CATEGORICAL
INJECTED = {"income", "balance", "channel"}
"""The features gates.make_data drifts in its current half (its unseen ``product`` category is 0.2%)."""
DAY_FROM, DAY_TO = "2025-03-01", "2025-03-07"
WINDOW = f"{DAY_FROM}..{DAY_TO}"
SCORE_CHUNK = 100_000
READ_CHUNK = 50_000
GIT_ID = ["-c", "user.name=mlgate benchmark", "-c", "user.email=benchmark@mlgate.invalid"]

SPEC = """\
# Benchmark model: gates.py's 25 generated columns, a logistic regression.
name: bench
description: Synthetic credit-like scores for the monitoring benchmark.
owners: [benchmark]
task: classification
data:
  path: data/bench.parquet
  split:
    holdout_fraction: 0.25
    seed: 42
    stratify: true
target: target
positive_label: 1
features:
  numeric: [{numeric}]
  categorical: [{categorical}]
estimator:
  class: sklearn.linear_model.LogisticRegression
seed: 42
model_card:
  intended_use: Benchmarking mlgate monitor.
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
  sources:
    audit_url: {audit_url}
  retrain_when:
    metric: drifted_share
    max: 0.1
policy: policies/bench.yaml
decision:
  threshold: 0.5
  review_band: [0.4, 0.6]
"""

POLICY = """\
# The monitoring benchmark's policy: three of 25 features drift, so drifted_share (0.12) and
# psi (the largest, income's) fail; the score's drift, thin traffic and the estimate warn.
extends: base.yaml
description: Monitoring benchmark.
gates:
  performance:
    - metric: roc_auc
      min: 0.6
monitoring:
  - metric: drifted_share
    max: 0.1
  - metric: psi
    max: 0.25
  - metric: prediction_psi
    max: 0.25
    severity: warn
  - metric: null_fraction
    max: 0.05
  - metric: volume
    min: 1000
    severity: warn
  - metric: estimated_roc_auc
    min: 0.6
    severity: warn
"""


# --------------------------------------------------------------------------- child processes


def child_env() -> dict[str, str]:
    """The environment of every child: this checkout's mlgate, no telemetry."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE / "src"), env.get("PYTHONPATH", "")) if p)
    env |= {"DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)  # the repo's embedded store
    return env


def run(cmd: list[str], cwd: Path) -> str:
    """A setup command that must succeed (not timed)."""
    done = subprocess.run(cmd, cwd=cwd, env=child_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def measure(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB, exit code, stderr) of one child process (``wait4``, as score.py)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        raise SystemExit(f"{' '.join(cmd[:6])} exited {code}:\n{err[-4000:]}")
    return seconds, usage.ru_maxrss / 1024, code, err  # Linux reports KiB


# --------------------------------------------------------------------------- the repo


def build_repo(folder: Path, reference: pd.DataFrame, audit_url: str) -> Path:
    """A governed repo (git, DVC with a directory remote) holding the bench spec, policy and data."""
    repo, remote = folder / "repo", folder / "dvc-remote"
    for path in (repo / "models" / MODEL, repo / "policies", repo / "data", remote):
        path.mkdir(parents=True)
    shutil.copy2(HERE / "policies" / "base.yaml", repo / "policies" / "base.yaml")
    (repo / "policies" / "bench.yaml").write_text(POLICY)
    spec = SPEC.format(numeric=", ".join(NUMERIC), categorical=", ".join(CATEGORICAL), audit_url=audit_url)
    (repo / "models" / MODEL / "model.yaml").write_text(spec)
    (repo / "params.yaml").write_text(f"{MODEL}:\n  C: 1.0\n  max_iter: 500\n")
    (repo / ".gitignore").write_text("/mlflow.db\n/mlartifacts/\n/metrics/\n")
    reference.to_parquet(repo / "data" / "bench.parquet", index=False)
    run(["git", "init", "-q"], repo)
    run([sys.executable, "-m", "dvc", "init", "-q"], repo)
    run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], repo)
    run([sys.executable, "-m", "dvc", "remote", "add", "-d", "local", str(remote)], repo)
    run([sys.executable, "-m", "dvc", "add", "-q", "data/bench.parquet"], repo)
    run([sys.executable, "-m", "dvc", "push", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", *GIT_ID, "commit", "-q", "-m", "monitoring benchmark repo"], repo)
    return repo


def train(repo: Path, folder: Path) -> dict[str, Any]:
    """`mlgate train bench` (a child process); the production alias set to the new version."""
    out = folder / "train.json"
    run([sys.executable, "-c", "from mlgate.cli import main; main()", "train", MODEL, "--json", str(out)], repo)
    trained = json.loads(out.read_text())
    from mlgate_devkit.release import promoted

    promoted(repo, None, MODEL, STAGE, trained["version"])  # monitor judges what release.yaml asks for
    return trained


# --------------------------------------------------------------------------- the audit store


def fill_audit(repo: Path, audit_url: str, current: pd.DataFrame, request_rows: int) -> dict[str, Any]:
    """Score ``current`` with the production version as serve does and write it as serve does.

    The rows' ``at`` spreads evenly over the window's week, in order. Returns the version served.
    """
    from mlgate.config import load_model_context
    from mlgate.registry import Registry
    from mlgate.scoring import custody
    from mlgate.serving import AuditStore, Record
    from mlgate.serving import load as load_served

    ctx = load_model_context(repo, MODEL)
    registry = Registry(repo)
    mv, wanted = custody.resolve(registry, repo, MODEL, STAGE)  # what serve loads: release.yaml's, pinned
    served = load_served(registry, ctx, STAGE, mv.version, wanted)
    store = AuditStore(audit_url, timeout=60)
    store.create()
    start = datetime.fromisoformat(DAY_FROM).replace(tzinfo=UTC)
    span = timedelta(days=7) - timedelta(seconds=1)
    n = len(current)
    try:
        for first in range(0, n, SCORE_CHUNK):
            chunk = current.iloc[first : first + SCORE_CHUNK][FEATURES]
            outputs = served.predict(chunk)  # what serve answers, row for row
            inputs = chunk.astype(object).where(chunk.notna(), None).to_dict(orient="records")  # as sent: null
            for lo in range(0, len(chunk), request_rows):
                hi = min(lo + request_rows, len(chunk))
                store.write(
                    Record(
                        request_id=uuid.uuid4().hex,
                        at=start + span * ((first + lo) / n),
                        caller="bench",
                        model=MODEL,
                        version=served.version,
                        alias=STAGE,
                        run_id=served.run_id,
                        latency_ms=1.0,
                        rows=list(zip(inputs[lo:hi], outputs[lo:hi], strict=True)),
                    )
                )
    finally:
        store.close()
        served.holder.cleanup()
    return {"version": served.version, "run_id": served.run_id}


def save_reference(repo: Path, folder: Path) -> Path:
    """The reference rows mlgate monitor compares with (the version's training rows), as Parquet for evidently."""
    from mlgate.config import load_model_context
    from mlgate.monitoring import load_reference
    from mlgate.registry import Registry

    ctx = load_model_context(repo, MODEL)
    registry = Registry(repo)
    mv = registry.resolve_alias(MODEL, STAGE)
    reference = load_reference(ctx, mv, registry.run_facts(mv.run_id).params, folder / "reference-scratch")
    path = folder / "reference.parquet"
    reference.frame[FEATURES].to_parquet(path, index=False)
    return path


# --------------------------------------------------------------------------- evidently (child)


def evidently_child(audit_url: str, reference_path: str, version: int, out: str) -> None:
    """In its own process: import evidently, read reference and audit rows, run DataDriftPreset; JSON to ``out``."""
    times: dict[str, float] = {}
    mark = time.perf_counter()
    import sqlalchemy as sa
    from evidently import Report
    from evidently.presets import DataDriftPreset

    times["import"] = time.perf_counter() - mark
    mark = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    times["read_reference"] = time.perf_counter() - mark

    mark = time.perf_counter()
    url = sa.make_url(audit_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url)
    table = sa.table(
        "mlgate_predictions",
        sa.column("model", sa.String),
        sa.column("alias", sa.String),
        sa.column("version", sa.Integer),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("features", sa.JSON),
    )
    start = datetime.fromisoformat(DAY_FROM).replace(tzinfo=UTC)
    end = datetime.fromisoformat(DAY_TO).replace(tzinfo=UTC) + timedelta(days=1)
    c = table.c
    query = sa.select(sa.cast(c.features, sa.Text)).where(
        c.model == MODEL, c.alias == STAGE, c.version == version, c.at >= start, c.at < end
    )
    parts = []
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=READ_CHUNK).execute(query)
        for part in result.partitions(READ_CHUNK):
            parts.append(pd.DataFrame.from_records([json.loads(text) for (text,) in part], columns=FEATURES))
    engine.dispose()
    current = pd.concat(parts, ignore_index=True)
    del parts
    times["read_audit"] = time.perf_counter() - mark

    mark = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    times["report"] = time.perf_counter() - mark

    drifted, scores = [], {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        column, method, threshold = config["column"], str(config["method"]), float(config["threshold"])
        value = float(metric["value"])
        scores[column] = {"method": method, "value": value, "threshold": threshold}
        # p-value tests (below 1,000 rows) drift below the threshold, distances at or above it
        if (value < threshold) if "p_value" in method else (value >= threshold):
            drifted.append(column)
    summary = {"rows": len(current), "reference_rows": len(reference), "times": times, "drifted": drifted}
    Path(out).write_text(json.dumps(summary | {"scores": scores}))


# --------------------------------------------------------------------------- main


def drifted_of(verdict: dict[str, Any]) -> list[str]:
    """The features a monitoring verdict calls drifted."""
    return [f["feature"] for f in verdict.get("features", []) if f.get("drifted")]


def main(argv: list[str] | None = None) -> int:
    """Build, fill, time both tools, compare; the exit code (1: mlgate missed the injected drift)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="production (audit) rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--request-rows", type=int, default=1000, help="rows per audited request (serve's max)")
    parser.add_argument("--postgres", action="store_true", help="a PostgreSQL audit store instead of SQLite")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--evidently-python", default=sys.executable, help="an interpreter with evidently==0.7.23")
    parser.add_argument("--keep", type=Path, help="build in this (new) folder and keep it")
    child = ("URL", "REFERENCE", "VERSION", "OUT")
    parser.add_argument("--evidently-child", nargs=4, metavar=child, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.evidently_child:
        url, ref, version, out = args.evidently_child
        evidently_child(url, ref, int(version), out)
        return 0

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    if args.keep:
        args.keep.mkdir(parents=True)
        folder, holder = args.keep.resolve(), None
    else:
        holder = tempfile.TemporaryDirectory(prefix="mlgate-bench-monitor-")
        folder = Path(holder.name)
    cluster = None
    try:
        mark = time.perf_counter()
        frame = make_data(2 * args.rows, args.seed)
        reference, current = frame.iloc[: args.rows], frame.iloc[args.rows :].reset_index(drop=True)
        took = time.perf_counter() - mark
        print(f"data: {args.rows} training + {args.rows} production rows generated in {took:.1f} s")
        if args.postgres:
            from mlgate_devkit.postgres import binaries, start_cluster

            if binaries() is None:
                raise SystemExit("--postgres: PostgreSQL is not installed (apt-get install postgresql)")
            cluster = start_cluster(folder / "postgres")
            audit_url = cluster.url
        else:
            audit_url = f"sqlite:///{folder / 'audit.db'}"

        mark = time.perf_counter()
        repo = build_repo(folder, reference[[*FEATURES, "target"]], audit_url)
        built = time.perf_counter() - mark
        mark = time.perf_counter()
        trained = train(repo, folder)
        print(
            f"repo built in {built:.1f} s; mlgate train: v{trained['version']} in {time.perf_counter() - mark:.1f} s "
            f"(holdout roc_auc {trained['metrics'].get('roc_auc', float('nan')):.3f}); "
            f"{STAGE} -> v{trained['version']}",
            flush=True,
        )
        mark = time.perf_counter()
        served = fill_audit(repo, audit_url, current, args.request_rows)
        fill_s = time.perf_counter() - mark
        store = "PostgreSQL" if args.postgres else f"SQLite, {(folder / 'audit.db').stat().st_size / 2**20:.0f} MB"
        print(
            f"audit store filled ({store}): {args.rows} rows in {-(-args.rows // args.request_rows)} requests, "
            f"{fill_s:.1f} s (scored by v{served['version']} as serve scores; not counted)",
            flush=True,
        )
        del frame, reference, current

        # (a) mlgate monitor
        out = folder / "monitor.json"
        cmd = [sys.executable, "-c", "from mlgate.cli import main; main()", "monitor", MODEL, "--stage", STAGE]
        cmd += ["--window", WINDOW, "--json", str(out)]
        mlgate_s, mlgate_mb, code, _ = measure(cmd, repo, ok=(0, 1))
        verdict = json.loads(out.read_text())
        parts = verdict.get("seconds", {})
        rules = ", ".join(f"{r['metric']} {r['status']}" for r in verdict["rules"])
        print(
            f"mlgate monitor: {mlgate_s:.2f} s, peak RSS {mlgate_mb:.0f} MB, exit {code}, status {verdict['status']}; "
            f"inside: sources {parts['sources']} s, reference {parts['reference']} s, "
            f"measure {parts['measure']} s; loading the version and recording the verdict "
            f"{parts['total'] - parts['sources'] - parts['reference'] - parts['measure']:.2f} s; "
            f"start-up and imports {mlgate_s - parts['total']:.2f} s"
        )
        print(f"  {verdict['rows']} rows vs {verdict['reference']['rows']} reference rows; rules: {rules}")
        mine = drifted_of(verdict)
        psi = {f["feature"]: f["psi"] for f in verdict["features"]}
        print("  drifted (PSI > 0.2): " + ", ".join(f"{n} {psi[n]:.3f}" for n in mine))
        failed = {r["metric"] for r in verdict["rules"] if r["status"] == "fail"}
        found = set(mine) >= INJECTED and {"drifted_share", "psi"} <= failed and verdict["rows"] == args.rows

        # (b) evidently
        evidently_s = evidently_mb = None
        theirs: list[str] | None = None
        if not args.skip_evidently:
            ref_path = save_reference(repo, folder)
            ev_out = folder / "evidently.json"
            cmd = [args.evidently_python, str(Path(__file__).resolve()), "--evidently-child"]
            cmd += [audit_url, str(ref_path), str(served["version"]), str(ev_out)]
            evidently_s, evidently_mb, _, _ = measure(cmd, repo)
            got = json.loads(ev_out.read_text())
            t = got["times"]
            theirs = got["drifted"]
            print(
                f"evidently DataDriftPreset: {evidently_s:.2f} s, peak RSS {evidently_mb:.0f} MB; inside: import "
                f"{t['import']:.2f} s, read reference {t['read_reference']:.2f} s, read + decode audit rows "
                f"{t['read_audit']:.2f} s, report {t['report']:.2f} s ({got['rows']} rows vs {got['reference_rows']})"
            )
            print(
                "  drifted (its defaults): "
                + ", ".join(f"{n} {got['scores'][n]['value']:.3f} ({got['scores'][n]['method']})" for n in theirs)
            )
            both = sorted(set(mine) & set(theirs))
            print(
                f"agreement on drifted features: both {', '.join(both) or '-'}; only mlgate "
                f"{', '.join(sorted(set(mine) - set(theirs))) or '-'}; only evidently "
                f"{', '.join(sorted(set(theirs) - set(mine))) or '-'}"
            )
        print(
            "injected drift ("
            + ", ".join(sorted(INJECTED))
            + "): "
            + ("found by mlgate, drifted_share and psi rules failed" if found else "MISSED by mlgate")
        )

        def fmt(value: float | None, digits: int = 2) -> str:
            return "skipped" if value is None else f"{value:.{digits}f}"

        speedup = None if evidently_s is None else evidently_s / mlgate_s
        print(
            f"rows={args.rows} features={len(FEATURES)} mlgate_s={mlgate_s:.2f} mlgate_peak_mb={mlgate_mb:.0f} "
            f"evidently_s={fmt(evidently_s)} evidently_peak_mb={fmt(evidently_mb, 0)} speedup={fmt(speedup, 1)} "
            f"drifted_features_mlgate={','.join(sorted(mine)) or '-'} "
            f"drifted_features_evidently={'skipped' if theirs is None else ','.join(sorted(theirs)) or '-'} "
            f"injected_drift_found={'true' if found else 'false'}"
        )
        return 0 if found else 1
    finally:
        if cluster is not None:
            cluster.stop()
        if holder is not None:
            holder.cleanup()


if __name__ == "__main__":
    sys.exit(main())
