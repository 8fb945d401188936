"""Benchmark: `mlgate gate` on large Parquet evaluation sets, pandas engine vs Spark (``local[*]``).

On a governed repo (``--repo``: git, DVC and MLflow set up, the example credit spec and policy;
e.g. a copy of the demo's or `mlgate init`'s), a model ``scale`` is added: the credit spec with
``data.train`` (``--train-rows`` rows) and ``data.holdout`` Parquet files drawn from the repo's
german_credit.csv with noise, trained once (`mlgate train scale`) on a small holdout. Then, for
each size N of ``--rows``, the holdout is replaced by N rows (written to Parquet in chunks of 1M
rows: the generator never holds N rows) and DVC-tracked; the version trained on other rows, so
both engines leave out the holdout rows equal to a training row (the same honest evaluation).

Each engine runs as a cold CLI process, as a workflow step runs it —
``mlgate gate scale --no-attach --engine E --json …`` — interleaved (pandas, spark, pandas, ...)
after one unrecorded warm-up, ``--repeat`` times; time and peak RSS of the whole process tree
(the JVM and its Python workers included) come from :mod:`cold`. Medians are printed.
``--warmup 0`` keeps every run (a long size on a busy machine: one run each is all there is time for). Above the
pandas engine's limit (``MLGATE_PANDAS_MAX_ROWS``, docs/design.md "Gates on Spark") it exits 2
pointing to ``--engine spark``: that refusal is recorded (``pandas_N_s=refused``) and is the
expected outcome, not swapping. Every size checks that both verdicts have the same status and
every metric equal to 1e-9.

    python benchmarks/scale.py --repo /tmp/repo --rows 1000000,10000000 [--repeat 3]

The last line is machine-readable ``key=value``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cold import Run, mlgate_command, run

CHUNK = 1_000_000
MODEL = "scale"
CATEGORICAL = ("housing", "saving_accounts", "checking_account", "purpose")


def write_rows(source: pd.DataFrame, rows: int, dest: Path, seed: int, shift: float) -> None:
    """``rows`` rows drawn from ``source`` with noise, a chunk of 1M rows at a time (never all in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    schema = None
    try:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            chunk = source.iloc[rng.integers(0, len(source), n)].reset_index(drop=True)
            chunk["credit_amount"] = (chunk["credit_amount"] * rng.uniform(0.9, 1.1, n) * (1 + shift)).round(2)
            chunk["duration"] = (chunk["duration"] + rng.integers(-2, 3, n)).clip(lower=1)
            chunk["age"] = (chunk["age"] + rng.integers(-1, 2, n)).clip(lower=19)
            for column in CATEGORICAL:
                chunk[column] = chunk[column].astype("object").where(chunk[column].notna(), None)
            table = pa.Table.from_pandas(chunk, schema=schema, preserve_index=False)
            schema = schema or table.schema
            writer = writer or pq.ParquetWriter(dest, schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def sh(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run a set-up command; exit with its output when it fails."""
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(f"{' '.join(cmd)} exited {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-4000:]}\n")
        sys.exit(1)
    return done.stdout


def set_up(repo: Path, train_rows: int, env: dict[str, str]) -> pd.DataFrame:
    """The ``scale`` model: its spec (credit's, on Parquet files), its data, trained once; the source rows."""
    source = pd.read_csv(repo / "data" / "german_credit.csv")
    spec = (repo / "models" / "credit" / "model.yaml").read_text()
    start = spec.index("data:\n")
    end = spec.index("target:", start)
    layout = f"data:\n  train: data/{MODEL}_train.parquet\n  holdout: data/{MODEL}_holdout.parquet\n"
    spec = spec[:start] + layout + spec[end:]
    spec = spec.replace("name: credit\n", f"name: {MODEL}\n", 1)
    folder = repo / "models" / MODEL
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.yaml").write_text(spec)
    params = repo / "params.yaml"  # a 50-tree forest: scoring 10M rows stays minutes, for both engines alike
    params.write_text(params.read_text() + f"{MODEL}:\n  n_estimators: 50\n  max_depth: 6\n  min_samples_leaf: 5\n")
    write_rows(source, train_rows, repo / "data" / f"{MODEL}_train.parquet", 1, 0.0)
    write_rows(source, 20_000, repo / "data" / f"{MODEL}_holdout.parquet", 2, 0.0)
    sh(["dvc", "add", "-q", f"data/{MODEL}_train.parquet", f"data/{MODEL}_holdout.parquet"], repo, env)
    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-qm", f"benchmark model {MODEL}"], repo, env)
    sh([*mlgate_command(), "train", MODEL], repo, env)
    return source


def holdout_of(repo: Path, source: pd.DataFrame, rows: int, env: dict[str, str]) -> None:
    """Replace the holdout by ``rows`` rows (credit_amount shifted 10%: drift to find), tracked and committed."""
    write_rows(source, rows, repo / "data" / f"{MODEL}_holdout.parquet", 3 + rows % 1000, 0.1)
    sh(["dvc", "add", "-q", f"data/{MODEL}_holdout.parquet"], repo, env)
    sh(["git", "commit", "-qam", f"holdout of {rows} rows"], repo, env)


def gate(repo: Path, engine: str, out: Path, env: dict[str, str]) -> Run:
    """One cold `mlgate gate` process on ``engine``."""
    cmd = [*mlgate_command(), "gate", MODEL, "--no-attach", "--engine", engine, "--json", str(out)]
    return run(cmd, repo, env)


def same_verdict(pandas_out: Path, spark_out: Path) -> float:
    """The largest difference between the engines' metrics (exit 1 when a status or a metric differs)."""
    a, b = json.loads(pandas_out.read_text()), json.loads(spark_out.read_text())
    worst = 0.0
    for name, value in a["metrics"].items():
        other = b["metrics"][name]
        gap = 0.0 if (math.isnan(value) and math.isnan(other)) else abs(value - other)
        worst = max(worst, gap)
    if a["status"] != b["status"] or worst > 1e-9:
        sys.stderr.write(f"engines disagree: {a['status']} vs {b['status']}, largest metric gap {worst:.3g}\n")
        sys.exit(1)
    return worst


def main() -> None:
    """Set up, then for each size interleave cold pandas and Spark gate runs; medians, last line key=value."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="a governed repo with the credit example (a copy)")
    parser.add_argument("--rows", default="1000000,10000000", help="holdout sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per engine and size (after a warm-up)")
    parser.add_argument("--train-rows", type=int, default=50_000)
    parser.add_argument("--engines", default="pandas,spark")
    parser.add_argument("--warmup", type=int, default=1, choices=(0, 1), help="an unrecorded first round (1) or not")
    args = parser.parse_args()
    repo = args.repo.resolve()
    env = dict(os.environ)
    env.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{repo / 'mlflow.db'}")
    engines = args.engines.split(",")
    source = set_up(repo, args.train_rows, env)
    figures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in [int(r) for r in args.rows.split(",")]:
            holdout_of(repo, source, rows, env)
            outs = {e: Path(tmp) / f"{e}-{rows}.json" for e in engines}
            samples: dict[str, list[Run]] = {e: [] for e in engines}
            refused: set[str] = set()
            first = 1 - args.warmup  # with a warm-up, round 0 is run and not kept
            for attempt in range(first, args.repeat + 1):
                for engine in engines:
                    if engine in refused:
                        continue
                    done = gate(repo, engine, outs[engine], env)
                    if engine == "pandas" and done.returncode == 2 and "--engine spark" in done.stderr:
                        refused.add(engine)
                        said = [line for line in done.stderr.splitlines() if line.startswith("error:")] or ["exit 2"]
                        print(f"  {rows} rows: pandas refused ({said[0]})", file=sys.stderr)
                        continue
                    if done.returncode not in (0, 1):
                        sys.stderr.write(
                            f"{engine} exited {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
                        )
                        sys.exit(1)
                    if attempt:
                        samples[engine].append(done)
                    print(
                        f"  {rows} rows {engine} #{attempt}: {done.seconds:.1f} s, {done.tree_peak_mb:.0f} MB",
                        file=sys.stderr,
                        flush=True,
                    )
            for engine in engines:
                key = f"{engine}_{rows}"
                if engine in refused:
                    figures.append(f"{key}_s=refused")
                    continue
                seconds = statistics.median(r.seconds for r in samples[engine])
                peak = statistics.median(r.tree_peak_mb for r in samples[engine])
                print(f"rows={rows} engine={engine} seconds={seconds:.1f} tree_peak_mb={peak:.0f}")
                figures.append(f"{key}_s={seconds:.1f} {key}_mb={peak:.0f}")
            if not refused and len(engines) == 2:
                gap = same_verdict(outs["pandas"], outs["spark"])
                figures.append(f"gap_{rows}={gap:.1e}")
    print(" ".join([*figures, f"repeat={args.repeat}", f"cores={os.cpu_count()}"]))


if __name__ == "__main__":
    main()
