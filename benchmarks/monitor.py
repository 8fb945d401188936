"""Benchmark: `mlgate monitor` over N audit rows x 25 features vs evidently's DataDriftPreset, same data.

Builds a scratch governed repo (git + DVC, the embedded SQLite MLflow store) whose model ``bench``
(a scikit-learn logistic regression through mlgate's declarative pipeline) is trained by
`mlgate train` on ``--reference-rows`` rows of ``benchmarks/gates.py``'s generated data (25 columns:
20 numeric, 5 categorical), and sets its ``production`` alias. Its spec reads a PostgreSQL audit
store (Debian's, started in the scratch folder; ``--sqlite``: a SQLite file), and its policy has
monitoring rules on drifted_share, psi, prediction_psi, null_fraction, volume and estimated_roc_auc.

The audit store is then filled (timed apart, not counted) with ``--rows`` production rows,
generated 500,000 at a time (gates.py's drifted half: ``income`` mean, ``balance`` spread,
``channel`` mix), scored by the production version through mlgate serve's own code
(:class:`mlgate.serving._model.Served`) and bulk-loaded as serve stores them: the JSON rows of
``mlgate_predictions`` and the typed rows of the version's input table, in requests of
``--request-rows`` rows spread over one week (PostgreSQL: ``COPY``; SQLite: executemany). With
``--skip-evidently`` the JSON columns hold ``{}`` (the monitor reads the typed table only; disk).

Timed, cold processes, interleaved (one warm-up each, then ``--pairs`` alternating pairs), medians,
peak RSS of the whole process tree (:mod:`cold`):

(a) ``mlgate monitor bench --stage production --window FROM..TO --json out.json``: everything,
    from interpreter start (imports, loading the version, aggregating the window in the store,
    rebuilding and scoring the reference, every metric and rule, recording the verdict in MLflow);
(b) evidently: import, read the reference (the same training rows, saved as Parquet before) and the
    same audit rows (the window's rows of that version, the features JSON decoded with ``json.loads``
    50,000 rows at a time into a DataFrame), then ``Report([DataDriftPreset()]).run(current, reference)``.

Then it checks that mlgate found the injected drift (exit 1 otherwise) and reports which features
each tool calls drifted. The last line is machine-readable; see benchmarks/README.md.

    python benchmarks/monitor.py --rows 1000000 --evidently-python PY
    python benchmarks/monitor.py --rows 10000000 --skip-evidently
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
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
GENERATE_CHUNK = 500_000
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


def fill_audit(repo: Path, audit_url: str, rows: int, seed: int, request_rows: int, with_json: bool) -> dict[str, Any]:
    """Generate, score (as serve scores) and bulk-load ``rows`` production rows; the version served.

    Both tables serve writes are filled: ``mlgate_predictions`` (one row per prediction, the JSON
    features and outputs, or ``{}`` without ``with_json``) and the version's typed input table.
    The rows' ``at`` spreads evenly over the window's week, in order.
    """
    import sqlalchemy as sa

    from mlgate.config import load_model_context
    from mlgate.registry import Registry
    from mlgate.scoring import custody
    from mlgate.serving import AuditStore, inputs_of
    from mlgate.serving import load as load_served

    ctx = load_model_context(repo, MODEL)
    registry = Registry(repo)
    mv, wanted = custody.resolve(registry, repo, MODEL, STAGE)  # what serve loads: release.yaml's, pinned
    served = load_served(registry, ctx, STAGE, mv.version, wanted)
    plan = served.plan
    inputs = inputs_of(plan.features, plan.task, plan.positive)
    store = AuditStore(audit_url, timeout=60)
    store.create()
    typed = store.typed_table(MODEL, served.version, inputs)
    start = datetime.fromisoformat(DAY_FROM).replace(tzinfo=UTC)
    span = timedelta(days=7) - timedelta(seconds=1)
    postgres = audit_url.startswith("postgresql")
    names = [c for c, _ in plan.features]
    try:
        for index, first in enumerate(range(0, rows, GENERATE_CHUNK)):
            n = min(GENERATE_CHUNK, rows - first)
            chunk = make_data(2 * n, seed + 1 + index).iloc[n:].reset_index(drop=True)[FEATURES]
            outputs = served.predict(chunk)  # what serve answers, row for row
            request = (first + np.arange(n)) // request_rows
            ats = pd.to_datetime(start) + pd.to_timedelta(
                span.total_seconds() * request * request_rows / rows, unit="s"
            )
            per_request = {r: uuid.uuid5(uuid.NAMESPACE_OID, f"{seed}-{r}").hex for r in np.unique(request).tolist()}
            ids = pd.Series(request).map(per_request)
            row_no = (first + np.arange(n)) % request_rows
            shared = pd.DataFrame({"request_id": ids, "row": row_no, "at": ats})
            if with_json:
                features = chunk.to_json(orient="records", lines=True).splitlines()
                outs = [json.dumps(o) for o in outputs]
            else:
                features = outs = ["{}"] * n
            audit = shared.assign(
                caller="bench",
                model=MODEL,
                version=served.version,
                alias=STAGE,
                run_id=served.run_id,
                features=features,
                outputs=outs,
                latency_ms=1.0,
            )
            typed_rows = shared.assign(alias=STAGE, score=[inputs.score(o) for o in outputs], unfit=False)
            for i, name in enumerate(names):
                typed_rows[f"f{i}"] = chunk[name]
            if postgres:
                _copy(audit_url, "mlgate_predictions", audit)
                _copy(audit_url, typed.name, typed_rows)
            else:
                engine = sa.create_engine(audit_url)
                with engine.begin() as conn:
                    predictions = sa.Table("mlgate_predictions", sa.MetaData(), autoload_with=conn)
                    records = audit.assign(at=audit["at"].dt.to_pydatetime()).to_dict(orient="records")
                    for record in records:
                        record["features"], record["outputs"] = (
                            json.loads(record["features"]),
                            json.loads(record["outputs"]),
                        )
                    conn.execute(predictions.insert(), records)
                    frame = typed_rows.astype(object).where(typed_rows.notna(), None)
                    frame["at"] = list(typed_rows["at"].dt.to_pydatetime())
                    conn.execute(typed.insert(), frame.to_dict(orient="records"))
                engine.dispose()
            print(f"  {first + n} rows loaded", file=sys.stderr, flush=True)
    finally:
        store.close()
        served.holder.cleanup()
    return {"version": served.version, "run_id": served.run_id}


def _copy(url: str, table: str, frame: pd.DataFrame) -> None:
    """``COPY table FROM STDIN`` (CSV) of ``frame``: PostgreSQL's bulk load, an empty unquoted field is NULL."""
    import io

    import psycopg

    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False, date_format="%Y-%m-%dT%H:%M:%S.%f+00:00")
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        conn.commit()


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
    parser.add_argument("--reference-rows", type=int, default=200_000, help="rows generated for training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--request-rows", type=int, default=1000, help="rows per audited request (serve's max)")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite audit store instead of PostgreSQL")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved measurements of each tool")
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

    import cold  # psutil: not needed in the evidently child's interpreter

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
        reference = make_data(2 * args.reference_rows, args.seed).iloc[: args.reference_rows]
        if args.sqlite:
            audit_url = f"sqlite:///{folder / 'audit.db'}"
        else:
            from mlgate_devkit.postgres import binaries, start_cluster

            if binaries() is None:
                raise SystemExit("PostgreSQL is not installed (apt-get install postgresql); or --sqlite")
            cluster = start_cluster(folder / "postgres")
            audit_url = cluster.url

        mark = time.perf_counter()
        repo = build_repo(folder, reference[[*FEATURES, "target"]], audit_url)
        built = time.perf_counter() - mark
        del reference
        mark = time.perf_counter()
        trained = train(repo, folder)
        print(
            f"repo built in {built:.1f} s; mlgate train on {args.reference_rows} rows: v{trained['version']} in "
            f"{time.perf_counter() - mark:.1f} s (holdout roc_auc {trained['metrics'].get('roc_auc', 0.0):.3f}); "
            f"{STAGE} -> v{trained['version']}",
            flush=True,
        )
        mark = time.perf_counter()
        with_json = not args.skip_evidently
        served = fill_audit(repo, audit_url, args.rows, args.seed, args.request_rows, with_json)
        fill_s = time.perf_counter() - mark
        store = "SQLite" if args.sqlite else "PostgreSQL, COPY"
        print(
            f"audit store filled ({store}{'' if with_json else ', JSON columns {}'}): {args.rows} rows in "
            f"{-(-args.rows // args.request_rows)} requests, {fill_s:.1f} s (generated and scored by "
            f"v{served['version']} as serve scores; not counted)",
            flush=True,
        )

        out = folder / "monitor.json"
        monitor_cmd = [*cold.mlgate_command(), "monitor", MODEL, "--stage", STAGE, "--window", WINDOW]
        monitor_cmd += ["--json", str(out)]
        verdicts: list[dict[str, Any]] = []

        def mlgate_side() -> cold.Sample:
            done = cold.checked("mlgate monitor", cold.run(monitor_cmd, repo, child_env()), ok=(0, 1))
            verdicts.append(json.loads(out.read_text()))
            return cold.sample([done])

        evidently_runs: list[dict[str, Any]] = []
        ev_out = folder / "evidently.json"
        ev_cmd: list[str] = []
        if not args.skip_evidently:
            ref_path = save_reference(repo, folder)
            ev_cmd = [args.evidently_python, str(Path(__file__).resolve()), "--evidently-child"]
            ev_cmd += [audit_url, str(ref_path), str(served["version"]), str(ev_out)]

        def evidently_side() -> cold.Sample:
            done = cold.checked("evidently", cold.run(ev_cmd, repo, child_env()))
            evidently_runs.append(json.loads(ev_out.read_text()))
            return cold.sample([done])

        if args.skip_evidently:
            mlgate_side()  # warm-up, not kept
            ours = [mlgate_side() for _ in range(args.pairs)]
            theirs: list[cold.Sample] = []
        else:
            ours, theirs = cold.interleaved(args.pairs, mlgate_side, evidently_side)

        verdict = verdicts[-1]
        parts = verdict.get("seconds", {})
        rules = ", ".join(f"{r['metric']} {r['status']}" for r in verdict["rules"])
        mlgate_s = statistics.median(s.seconds for s in ours)
        mlgate_mb = statistics.median(s.tree_peak_mb for s in ours)
        print(
            f"mlgate monitor: median {mlgate_s:.2f} s, tree peak {mlgate_mb:.0f} MB, status {verdict['status']}; "
            f"last run inside: sources {parts['sources']} s, reference {parts['reference']} s, "
            f"measure {parts['measure']} s, total {parts['total']} s"
        )
        print(f"  {verdict['rows']} rows vs {verdict['reference']['rows']} reference rows; rules: {rules}")
        mine = drifted_of(verdict)
        psi = {f["feature"]: f["psi"] for f in verdict["features"]}
        print("  drifted (PSI > 0.2): " + ", ".join(f"{n} {psi[n]:.3f}" for n in mine))
        failed = {r["metric"] for r in verdict["rules"] if r["status"] == "fail"}
        found = set(mine) >= INJECTED and {"drifted_share", "psi"} <= failed and verdict["rows"] == args.rows

        evidently_s = evidently_mb = None
        theirs_drifted: list[str] | None = None
        if theirs:
            evidently_s = statistics.median(s.seconds for s in theirs)
            evidently_mb = statistics.median(s.tree_peak_mb for s in theirs)
            got = evidently_runs[-1]
            t = got["times"]
            theirs_drifted = got["drifted"]
            print(
                f"evidently DataDriftPreset: median {evidently_s:.2f} s, tree peak {evidently_mb:.0f} MB; last run "
                f"inside: import {t['import']:.2f} s, read reference {t['read_reference']:.2f} s, read + decode "
                f"audit rows {t['read_audit']:.2f} s, report {t['report']:.2f} s ({got['rows']} rows vs "
                f"{got['reference_rows']})"
            )
            print(
                "  drifted (its defaults): "
                + ", ".join(
                    f"{n} {got['scores'][n]['value']:.3f} ({got['scores'][n]['method']})" for n in theirs_drifted
                )
            )
        print(
            "injected drift ("
            + ", ".join(sorted(INJECTED))
            + "): "
            + ("found by mlgate, drifted_share and psi rules failed" if found else "MISSED by mlgate")
        )

        def fmt(value: float | None, digits: int = 2) -> str:
            return "skipped" if value is None else f"{value:.{digits}f}"

        def listed(names: list[str] | None) -> str:
            return "skipped" if names is None else ",".join(sorted(names)) or "-"

        speedup = None if evidently_s is None else evidently_s / mlgate_s
        print(
            f"rows={args.rows} reference_rows={args.reference_rows} store={'sqlite' if args.sqlite else 'postgresql'} "
            f"pairs={args.pairs} mlgate_s={mlgate_s:.2f} mlgate_peak_mb={mlgate_mb:.0f} "
            f"evidently_s={fmt(evidently_s)} evidently_peak_mb={fmt(evidently_mb, 0)} speedup={fmt(speedup, 1)} "
            f"drifted_features_mlgate={','.join(sorted(mine)) or '-'} "
            f"drifted_features_evidently={listed(theirs_drifted)} injected_drift_found={'true' if found else 'false'}"
        )
        return 0 if found else 1
    finally:
        if cluster is not None:
            cluster.stop()
        if holder is not None:
            holder.cleanup()


if __name__ == "__main__":
    sys.exit(main())
