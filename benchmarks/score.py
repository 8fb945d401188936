"""Batch scoring throughput: `mlgate score` (pandas and Spark engines) vs `mlflow models predict`.

On one trained repo (``--repo``: `mlgate train credit` done; the ``staging`` alias is set to the
latest version if it points nowhere), inputs of N rows in the credit schema are made by sampling
the repo's german_credit.csv with replacement (Parquet, written in chunks of 1M rows; a CSV copy
for `mlflow models predict`, which reads CSV or JSON only). Each tool runs in its own process;
wall time gives rows/s and the process's peak RSS (``wait4``) its memory. One line per
(rows, tool), then ``done``:

    rows=1000000 tool=pandas seconds=… rows_per_s=… peak_mb=…

`mlflow models predict --env-manager local` calls the model's ``predict`` (labels) on the whole
file in memory; mlgate writes probabilities, decisions and lineage too. ``--smoke``: 20k rows,
all three tools, in seconds (tests/test_benchmark.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["credit_amount", "duration", "age", "job", "housing", "saving_accounts", "checking_account", "purpose"]
CHUNK = 1_000_000


def make_input(repo: Path, rows: int, folder: Path, csv_too: bool) -> tuple[Path, Path | None]:
    """``rows`` sampled credit rows (+ an id) as Parquet (and CSV), written a chunk at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pd.read_csv(repo / "data" / "german_credit.csv")[FEATURES]
    rng = np.random.default_rng(0)
    parquet, csv = folder / f"credit-{rows}.parquet", folder / f"credit-{rows}.csv" if csv_too else None
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        chunk = source.iloc[rng.integers(0, len(source), n)].reset_index(drop=True)
        for column in ("housing", "saving_accounts", "checking_account", "purpose"):
            chunk[column] = chunk[column].astype("object").where(chunk[column].notna(), None)
        chunk.insert(0, "id", np.arange(start, start + n, dtype=np.int64))
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        writer = writer or pq.ParquetWriter(parquet, table.schema)
        writer.write_table(table)
        if csv is not None:
            chunk.drop(columns="id").to_csv(csv, mode="a" if start else "w", header=not start, index=False)
    assert writer is not None
    writer.close()
    return parquet, csv


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one child process; it must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{err.decode(errors='replace')[-3000:]}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def staging_version(repo: Path) -> int:
    """The version ``staging`` points at (set to the latest when it points nowhere)."""
    project = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(project / "src"), str(project / "devkit")]
    from mlgate.registry import Registry

    registry = Registry(repo)
    version = registry.alias_version("credit", "staging")
    if version is None:
        version = registry.latest_version("credit")
        assert version is not None, "train first: mlgate train credit"
        from mlgate_devkit.release import promoted

        promoted(repo, None, "credit", "staging", version)  # score acts on release.yaml, pinned and committed
    return version


def main() -> None:
    """Make the inputs, run each tool on each size, print one line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="a governed repo where credit is trained")
    parser.add_argument("--rows", default="1000000,10000000", help="comma-separated row counts")
    parser.add_argument("--tools", default="pandas,spark,mlflow", help="which of pandas,spark,mlflow to run")
    parser.add_argument("--smoke", action="store_true", help="20k rows, every tool: a check, not a timing")
    args = parser.parse_args()
    repo = args.repo.resolve()
    counts = [20_000] if args.smoke else [int(r) for r in args.rows.split(",")]
    tools = args.tools.split(",")
    version = staging_version(repo)
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-score-") as tmp:
        folder = Path(tmp)
        for rows in counts:
            parquet, csv = make_input(repo, rows, folder, "mlflow" in tools)
            for tool in tools:
                if tool == "mlflow":
                    assert csv is not None
                    cmd = [sys.executable, "-m", "mlflow", "models", "predict", "-m", f"models:/credit/{version}"]
                    cmd += ["-i", str(csv), "-t", "csv", "-o", str(folder / "mlflow.json"), "--env-manager", "local"]
                    # MLflow's loader refuses skops without it; mlgate checks the types itself instead
                    run_env = env | {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"}
                else:
                    cmd = [
                        sys.executable,
                        "-c",
                        "from mlgate.cli import main; main()",
                        "score",
                        "credit",
                        "--stage",
                        "staging",
                    ]
                    cmd += ["--input", str(parquet), "--output", str(folder / f"out-{tool}"), "--id-column", "id"]
                    cmd += ["--engine", tool, "--repo", str(repo)]
                    run_env = env
                seconds, peak = measure(cmd, run_env, repo)
                print(
                    f"rows={rows} tool={tool} seconds={seconds:.2f} rows_per_s={rows / seconds:.0f} peak_mb={peak:.0f}",
                    flush=True,
                )
            for leftover in (parquet, csv):
                if leftover is not None:
                    leftover.unlink()
    print("done")


if __name__ == "__main__":
    main()
