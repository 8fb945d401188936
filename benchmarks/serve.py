"""Online serving throughput: `mlgate serve` (audit on: SQLite, PostgreSQL) vs `mlflow models serve`.

On one trained repo (``--repo``: `mlgate train credit` done; ``staging`` is set to the latest
version if it points nowhere) each server runs as its own process on 127.0.0.1 and serves the same
version; `mlflow models serve --env-manager local` loads it by number. One load generator (this
process: ``--concurrency`` asyncio clients with keep-alive) posts ``{"dataframe_records": rows}``
to ``/invocations`` for ``--seconds`` after a one-second warm-up, with 1-row and 100-row bodies.
Every mlgate request is decided, audited (one committed row per prediction) and authenticated;
mlflow's answers the model's ``predict`` (labels). One line per (server, rows), then ``done``:

    server=mlgate-sqlite rows=1 requests=… requests_per_s=… p50_ms=… p99_ms=… errors=0

PostgreSQL is Debian's, started in a temp folder (skipped with a note when not installed).
``--smoke``: 2 seconds per case (tests/test_benchmark.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(HERE / "src"), str(HERE / "devkit")]

from mlgate_devkit.mlflow_server import UVICORN_STARTED, log_size, wait_reported_url
from mlgate_devkit.serve_process import ServeProcess, start_serve

FEATURES = ["credit_amount", "duration", "age", "job", "housing", "saving_accounts", "checking_account", "purpose"]
TOKEN = "benchmark-token-0123456789abcdef"


async def load(url: str, body: dict, seconds: float, concurrency: int, token: str | None) -> dict[str, float]:
    """Post ``body`` from ``concurrency`` clients for ``seconds``: count, requests/s, p50/p99 ms, errors."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:

        async def worker(until: float, record: bool) -> None:
            nonlocal errors
            while time.perf_counter() < until:
                started = time.perf_counter()
                response = await client.post("/invocations", json=body)
                if record:
                    latencies.append(time.perf_counter() - started)
                    errors += response.status_code != 200

        warm = time.perf_counter() + 1
        await asyncio.gather(*(worker(warm, False) for _ in range(concurrency)))
        start = time.perf_counter()
        await asyncio.gather(*(worker(start + seconds, True) for _ in range(concurrency)))
        took = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / took,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": errors,
    }


def start_mlflow(repo: Path, version: int, log: Path) -> ServeProcess:
    """`mlflow models serve` on the same version, waited for on /health."""
    import subprocess
    import urllib.request

    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/credit/{version}"]
    cmd += ["--env-manager", "local", "--host", "127.0.0.1", "--port", "0"]  # uvicorn logs the port it bound
    # mlflow starts `uvicorn` by name: this interpreter's scripts folder goes first on PATH
    env = os.environ | {"PATH": os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))}
    offset = log_size(log)
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=repo, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = wait_reported_url(log, offset, proc, UVICORN_STARTED, "mlflow models serve", 180)
    except RuntimeError as err:
        raise SystemExit(str(err)) from None
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"mlflow models serve exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return ServeProcess(url, proc, log)
        except OSError:
            time.sleep(0.3)
    raise SystemExit("mlflow models serve did not start")


def main() -> None:
    """Run every (server, rows) case and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, type=Path, help="a governed repo with credit trained")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="2 seconds per case")
    args = parser.parse_args()
    seconds = 2.0 if args.smoke else args.seconds
    repo = args.repo.resolve()
    from mlgate.registry import Registry

    registry = Registry(repo)
    version = registry.alias_version("credit", "staging")
    if version is None:
        version = registry.latest_version("credit")
        assert version is not None, "train credit first"
        from mlgate_devkit.release import promoted

        promoted(repo, None, "credit", "staging", version)  # serve acts on release.yaml, pinned and committed
    frame = pd.read_csv(repo / "data" / "german_credit.csv")[FEATURES]
    rows = frame.iloc[:100].astype(object).where(frame.iloc[:100].notna(), None).to_dict(orient="records")
    bodies = {1: {"dataframe_records": rows[:1]}, 100: {"dataframe_records": rows}}
    os.environ["MLGATE_SERVE_TOKENS"] = f"bench {TOKEN}"
    # the servers run this checkout's mlgate, whatever the environment has installed
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE / "src"), os.environ.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-serve-") as tmp:
        folder = Path(tmp)
        servers: list[tuple[str, str | None]] = [("mlgate-sqlite", f"sqlite:///{folder / 'audit.db'}")]
        cluster = None
        from mlgate_devkit.postgres import binaries, start_cluster

        if binaries() is not None:
            cluster = start_cluster(folder / "postgres")
            servers.append(("mlgate-postgresql", cluster.url))
        else:
            print("note: PostgreSQL not installed, its case is left out", file=sys.stderr)
        servers.append(("mlflow", None))
        try:
            for name, audit in servers:
                log = folder / f"{name}.log"
                if audit is None:
                    proc = start_mlflow(repo, version, log)
                else:
                    proc = start_serve(repo, "credit", "staging", log, "--audit-url", audit, "--max-rows", "1000")
                try:
                    for n, body in bodies.items():
                        token = TOKEN if audit is not None else None
                        got = asyncio.run(load(proc.url, body, seconds, args.concurrency, token))
                        print(
                            f"server={name} rows={n} requests={got['requests']} "
                            f"requests_per_s={got['requests_per_s']:.1f} p50_ms={got['p50_ms']:.2f} "
                            f"p99_ms={got['p99_ms']:.2f} errors={got['errors']}",
                            flush=True,
                        )
                finally:
                    proc.stop()
        finally:
            if cluster is not None:
                cluster.stop()
    print("done")


if __name__ == "__main__":
    main()
