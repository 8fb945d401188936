"""Online serving throughput: `mlgate serve --workers N` (auth and audit on) vs `mlflow models serve --workers N`.

On one trained repo (``--repo``: `mlgate train credit` done; ``staging`` is set to the latest
version if it points nowhere) each server runs as its own cold process tree on 127.0.0.1 and
serves the same version; `mlflow models serve --env-manager local` loads it by number. For each
worker count (``--workers 1,2,4``) and each of ``--rounds`` rounds, the two servers are started
one after the other (the order alternates between rounds, so load from other jobs on a shared
machine falls on both alike), and each gets the same load: ``--concurrency`` keep-alive clients
(a minimal asyncio HTTP/1.1 client in this process, lighter than httpx, so more of the two cores
is left to the servers) posting ``{"dataframe_records": rows}`` to ``/invocations`` for
``--seconds`` after a one-second warm-up, with 1-row and 100-row bodies.

Every mlgate request is authenticated (bearer token), checked against the signature, decided
(probabilities, decision, review band) and audited (one committed row per prediction, SQLite in
WAL mode, or PostgreSQL with ``--audit postgresql``) before it is answered; after each run the
SQLite audit file is counted: every answered request must be there exactly once (``audited=ok``;
``skipped`` on PostgreSQL, whose cluster all the runs share).
mlflow's answers the model's ``predict`` (labels), unauthenticated and unaudited.

Printed per run: ``server=… workers=… rows=… requests_per_s=… p50_ms=… p99_ms=… tree_peak_mb=…``
(the peak resident memory of the server's whole process tree, sampled every 50 ms while it
serves); then the medians over the rounds per (workers, rows) and, last, one machine-readable
line: per case ``rps_ratio_wN_rR`` (mlgate's median requests/s over mlflow's) and
``p99_ratio_wN_rR`` (mlgate's median p99 over mlflow's), the peaks ``mlgate_mb_wN`` and
``mlflow_mb_wN``, ``scaling_rps`` (mlgate's 1-row requests/s at the most workers over one worker)
and ``goal_met`` (every rps ratio ≥ 1 and every p99 ratio ≤ 1).

``--smoke``: one round, 2 seconds per case, workers 1 and 2 (a quick check that it runs).

``--reasons K``: the cost of reason codes instead (issue #24). One mlgate server (one worker)
serves every run, so no cold start differs; each of ``--rounds`` rounds loads it, for 1-row and
100-row bodies, with ``/invocations`` and with ``/invocations?reasons=K``, the two interleaved (the
order alternates between rounds). Printed per run the same line as above (``reasons=0|K``), then
the medians over the rounds and, last, ``p99_ratio_rR`` / ``p50_ratio_rR`` / ``rps_ratio_rR`` (with
reasons over without) and ``reasons_audited`` (every answered request audited once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

HERE = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(HERE / "src"), str(HERE / "devkit")]

from mlgate_devkit.mlflow_server import log_size
from mlgate_devkit.serve_process import ServeProcess, start_serve

FEATURES = ["credit_amount", "duration", "age", "job", "housing", "saving_accounts", "checking_account", "purpose"]
TOKEN = "benchmark-token-0123456789abcdef"
SAMPLE_S = 0.05


@dataclass
class Result:
    """One (server, workers, rows) run."""

    requests: int
    answered: int  # 200s, warm-up included (what the audit must hold)
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


async def _client(host: str, port: int, request: bytes, until: float, record: list[float] | None) -> tuple[int, int]:
    """Post ``request`` on one keep-alive connection until ``until``: (200s, others); latencies into ``record``."""
    reader, writer = await asyncio.open_connection(host, port)
    ok = bad = 0
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if record is not None:
                record.append(time.perf_counter() - started)
            if status == 200:
                ok += 1
            else:
                bad += 1
    finally:
        writer.close()
    return ok, bad


async def load(
    url: str, body: dict[str, Any], seconds: float, concurrency: int, token: str | None, path: str = "/invocations"
) -> Result:
    """``concurrency`` clients post ``body`` to ``path`` for ``seconds`` after a one-second warm-up."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    payload = json.dumps(body).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n{auth}"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    warm = time.perf_counter() + 1
    warmed = await asyncio.gather(*(_client(host, int(port), request, warm, None) for _ in range(concurrency)))
    latencies: list[float] = []
    start = time.perf_counter()
    counted = await asyncio.gather(
        *(_client(host, int(port), request, start + seconds, latencies) for _ in range(concurrency))
    )
    took = time.perf_counter() - start
    latencies.sort()
    return Result(
        requests=len(latencies),
        answered=sum(ok for ok, _ in warmed) + sum(ok for ok, _ in counted),
        requests_per_s=len(latencies) / took,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        errors=sum(bad for _, bad in counted),
    )


class TreePeak:
    """The peak resident memory of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        """Start sampling ``pid``'s tree."""
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            try:
                root = psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            total = 0
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        """Stop sampling; the peak in MB."""
        self._stop.set()
        self._thread.join()
        return self.peak / 2**20


def free_port() -> int:
    """A free port for mlflow (with several workers uvicorn logs the port asked for, not the one bound)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mlflow(repo: Path, version: int, workers: int, log: Path) -> ServeProcess:
    """`mlflow models serve -w N` on the same version; waited for until every worker started and /health answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/credit/{version}"]
    cmd += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    # mlflow starts `uvicorn` by name: this interpreter's scripts folder goes first on PATH
    env = os.environ | {"PATH": os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))}
    offset = log_size(log)
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=repo, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mlflow models serve exited:\n{log.read_text()[-3000:]}")
        with log.open("rb") as handle:
            handle.seek(offset)
            started = handle.read().count(b"Application startup complete")
        if started >= workers:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    return ServeProcess(url, proc, log)
            except OSError:
                pass
        time.sleep(0.3)
    raise SystemExit("mlflow models serve did not start")


def audited_requests(db: Path) -> tuple[int, int]:
    """(requests, rows) in the SQLite audit store."""
    conn = sqlite3.connect(db)
    try:
        requests, rows = conn.execute("SELECT count(DISTINCT request_id), count(*) FROM mlgate_predictions").fetchone()
        return int(requests), int(rows)
    finally:
        conn.close()


def _medians(runs: list[Result]) -> str:
    rps = statistics.median(r.requests_per_s for r in runs)
    return f"{rps:.1f} req/s p50 {statistics.median(r.p50_ms for r in runs):.1f} ms " + (
        f"p99 {statistics.median(r.p99_ms for r in runs):.1f} ms"
    )


def main() -> None:
    """Run every (round, workers, server) and print one line per run, the medians, then the key=value line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, type=Path, help="a governed repo with credit trained")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="cold starts of each server per worker count")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--audit", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--smoke", action="store_true", help="one round, 2 seconds per case, workers 1 and 2")
    parser.add_argument("--reasons", type=int, default=0, metavar="K", help="measure ?reasons=K against none instead")
    args = parser.parse_args()
    seconds, rounds = (2.0, 1) if args.smoke else (args.seconds, args.rounds)
    worker_counts = [1, 2] if args.smoke else [int(w) for w in args.workers.split(",")]
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
    if args.reasons:
        reasons_cost(repo, bodies, args.reasons, rounds, seconds, args.concurrency)
        return
    results: dict[tuple[str, int, int], list[Result]] = {}
    peaks: dict[tuple[str, int], list[float]] = {}
    audit_ok = True
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-serve-") as tmp:
        folder = Path(tmp)
        cluster = None
        if args.audit == "postgresql":
            from mlgate_devkit.postgres import start_cluster

            cluster = start_cluster(folder / "postgres")
        try:
            for round_ in range(rounds):
                for workers in worker_counts:
                    order = ["mlgate", "mlflow"] if round_ % 2 == 0 else ["mlflow", "mlgate"]
                    for server in order:
                        log = folder / f"{server}-{workers}-{round_}.log"
                        db = folder / f"audit-{workers}-{round_}.db"
                        audit = cluster.url if cluster is not None else f"sqlite:///{db}"
                        if server == "mlflow":
                            proc = start_mlflow(repo, version, workers, log)
                        else:
                            proc = start_serve(
                                repo, "credit", "staging", log, "--audit-url", audit, "--workers", str(workers)
                            )
                        peak = TreePeak(proc.proc.pid)
                        answered = 0
                        try:
                            for n, body in bodies.items():
                                token = TOKEN if server == "mlgate" else None
                                got = asyncio.run(load(proc.url, body, seconds, args.concurrency, token))
                                answered += got.answered
                                results.setdefault((server, workers, n), []).append(got)
                                print(
                                    f"round={round_ + 1} server={server} workers={workers} rows={n} "
                                    f"requests={got.requests} requests_per_s={got.requests_per_s:.1f} "
                                    f"p50_ms={got.p50_ms:.1f} p99_ms={got.p99_ms:.1f} errors={got.errors}",
                                    flush=True,
                                )
                        finally:
                            mb = peak.stop()
                            proc.stop(group=True)
                        peaks.setdefault((server, workers), []).append(mb)
                        print(f"round={round_ + 1} server={server} workers={workers} tree_peak_mb={mb:.0f}", flush=True)
                        if server == "mlgate" and cluster is None:
                            requests, audited_rows = audited_requests(db)
                            ok = requests == answered and audited_rows == sum(
                                r[-1].answered * n for (s, w, n), r in results.items() if s == server and w == workers
                            )
                            audit_ok &= ok
                            print(
                                f"  audit: {requests} requests, {audited_rows} rows for {answered} answered: "
                                f"{'ok' if ok else 'MISMATCH'}",
                                flush=True,
                            )
        finally:
            if cluster is not None:
                cluster.stop()
    fields: list[str] = []
    goal = True
    print("medians:")
    for workers in worker_counts:
        for n in bodies:
            ours, theirs = results[("mlgate", workers, n)], results[("mlflow", workers, n)]
            rps = statistics.median(r.requests_per_s for r in ours) / statistics.median(
                r.requests_per_s for r in theirs
            )
            p99 = statistics.median(r.p99_ms for r in ours) / statistics.median(r.p99_ms for r in theirs)
            goal &= rps >= 1.0 and p99 <= 1.0
            print(
                f"  workers={workers} rows={n}: mlgate {_medians(ours)} | mlflow {_medians(theirs)} | "
                f"{rps:.2f}x req/s, {p99:.2f}x p99"
            )
            fields += [f"rps_ratio_w{workers}_r{n}={rps:.2f}", f"p99_ratio_w{workers}_r{n}={p99:.2f}"]
    for workers in worker_counts:
        for server in ("mlgate", "mlflow"):
            fields.append(f"{server}_mb_w{workers}={statistics.median(peaks[(server, workers)]):.0f}")
    one = statistics.median(r.requests_per_s for r in results[("mlgate", worker_counts[0], 1)])
    most = statistics.median(r.requests_per_s for r in results[("mlgate", worker_counts[-1], 1)])
    audited = "skipped" if args.audit == "postgresql" else ("ok" if audit_ok else "mismatch")  # counted on SQLite
    fields += [f"scaling_rps={most / one:.2f}", f"audited={audited}"]
    fields.append(f"goal_met={'true' if goal else 'false'}")
    print(" ".join(fields))
    if not audit_ok:
        sys.exit(1)


def reasons_cost(
    repo: Path, bodies: dict[int, dict[str, Any]], k: int, rounds: int, seconds: float, concurrency: int
) -> None:
    """``/invocations`` with and without ``?reasons=K`` on one server, interleaved; the ratios last."""
    results: dict[tuple[int, int], list[Result]] = {}
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-reasons-") as tmp:
        folder = Path(tmp)
        db = folder / "audit.db"
        proc = start_serve(repo, "credit", "staging", folder / "serve.log", "--audit-url", f"sqlite:///{db}")
        answered = 0
        try:
            for round_ in range(rounds):
                for n, body in bodies.items():
                    for asked in (0, k) if round_ % 2 == 0 else (k, 0):
                        path = f"/invocations?reasons={asked}" if asked else "/invocations"
                        got = asyncio.run(load(proc.url, body, seconds, concurrency, TOKEN, path))
                        answered += got.answered
                        results.setdefault((n, asked), []).append(got)
                        print(
                            f"round={round_ + 1} reasons={asked} rows={n} requests={got.requests} "
                            f"requests_per_s={got.requests_per_s:.1f} p50_ms={got.p50_ms:.1f} "
                            f"p99_ms={got.p99_ms:.1f} errors={got.errors}",
                            flush=True,
                        )
        finally:
            proc.stop(group=True)
        requests, _rows = audited_requests(db)
    fields = []
    print("medians:")
    for n in bodies:
        plain, explained = results[(n, 0)], results[(n, k)]
        ratios = {
            what: statistics.median(getattr(r, what) for r in explained)
            / statistics.median(getattr(r, what) for r in plain)
            for what in ("p99_ms", "p50_ms", "requests_per_s")
        }
        print(
            f"  rows={n}: without {_medians(plain)} | reasons={k} {_medians(explained)} | "
            f"{ratios['p99_ms']:.2f}x p99, {ratios['p50_ms']:.2f}x p50, {ratios['requests_per_s']:.2f}x req/s"
        )
        fields += [
            f"p99_ratio_r{n}={ratios['p99_ms']:.2f}",
            f"p50_ratio_r{n}={ratios['p50_ms']:.2f}",
            f"rps_ratio_r{n}={ratios['requests_per_s']:.2f}",
        ]
    fields.append(f"reasons_audited={'ok' if requests == answered else 'mismatch'}")
    print(" ".join(fields))
    if requests != answered:
        sys.exit(1)


if __name__ == "__main__":
    main()
