"""The benchmarks still run: the gate benchmark agrees with scipy and fairlearn, the pull-request
overhead benchmark goes through validate, gate and report, the monitoring benchmark finds the
injected drift (small sizes: not timings)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from conftest import PROJECT, invoke


def test_benchmark_runs_and_numbers_match() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "benchmarks" / "gates.py"),
            "--rows",
            "20000",
            "--skip-evidently",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    fields = dict(item.split("=", 1) for item in last.split())
    assert list(fields) == [
        "rows",
        "mlgate_s",
        "mlgate_peak_mb",
        "evidently_s",
        "fairlearn_s",
        "speedup_vs_evidently",
        "speedup_vs_fairlearn",
        "numbers_match",
    ]
    assert fields["rows"] == "20000"
    assert fields["evidently_s"] == "skipped"
    assert fields["numbers_match"] == "true"
    assert float(fields["mlgate_s"]) > 0


def test_pr_overhead_benchmark_runs_on_a_trained_repo(governed_repo: Path) -> None:
    trained = invoke(CliRunner(), "train", "credit", cwd=governed_repo)
    assert trained.exit_code == 0, trained.output
    done = subprocess.run(
        [sys.executable, str(PROJECT / "benchmarks" / "pr_overhead.py"), "--repo", str(governed_repo), "--pairs", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    fields = dict(item.split("=", 1) for item in last.split())
    assert list(fields) == [
        "validate_s",
        "gate_s",
        "report_s",
        "overhead_s",
        "overhead_mb",
        "overhead_self_mb",
        "anchor_s",
        "anchor_mb",
        "anchor_self_mb",
        "ratio",
    ]
    numbers = {name: float(value) for name, value in fields.items()}
    assert all(value > 0 for value in numbers.values())
    # the overhead is the three commands run one after another: its time is their sum (medians of one pair)
    assert abs(numbers["overhead_s"] - (numbers["validate_s"] + numbers["gate_s"] + numbers["report_s"])) < 0.03
    assert abs(numbers["ratio"] - numbers["overhead_s"] / numbers["anchor_s"]) < 0.01 + 0.01 * numbers["ratio"]
    # the whole tree is at least as large as its largest process, and a Python process with mlflow is > 100 MB
    assert numbers["overhead_mb"] >= numbers["overhead_self_mb"] * 0.9 > 90
    assert numbers["anchor_mb"] >= numbers["anchor_self_mb"] * 0.9 > 90


def test_score_benchmark_smoke_runs_every_tool(governed_repo: Path) -> None:
    trained = invoke(CliRunner(), "train", "credit", cwd=governed_repo)
    assert trained.exit_code == 0, trained.output
    done = subprocess.run(
        [sys.executable, str(PROJECT / "benchmarks" / "score.py"), "--repo", str(governed_repo), "--smoke"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "done"
    rows = [dict(item.split("=", 1) for item in line.split()) for line in lines[:-1]]
    assert [r["tool"] for r in rows] == ["pandas", "spark", "mlflow"]
    for r in rows:
        assert list(r) == ["rows", "tool", "seconds", "rows_per_s", "peak_mb"]
        assert r["rows"] == "20000"
        assert float(r["rows_per_s"]) > 0
        assert float(r["peak_mb"]) > 50


def test_serve_benchmark_smoke_runs_every_server(governed_repo: Path) -> None:
    trained = invoke(CliRunner(), "train", "credit", cwd=governed_repo)
    assert trained.exit_code == 0, trained.output
    done = subprocess.run(
        [sys.executable, str(PROJECT / "benchmarks" / "serve.py"), "--repo", str(governed_repo), "--smoke"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "done"
    rows = [dict(item.split("=", 1) for item in line.split()) for line in lines[:-1]]
    servers = ["mlgate-sqlite", "mlgate-postgresql", "mlflow"] if "not installed" not in done.stderr else []
    if servers:
        assert [r["server"] for r in rows] == [s for s in servers for _ in (1, 100)]
    for r in rows:
        assert list(r) == ["server", "rows", "requests", "requests_per_s", "p50_ms", "p99_ms", "errors"]
        assert r["errors"] == "0"
        assert int(r["requests"]) > 0
        assert float(r["p99_ms"]) >= float(r["p50_ms"]) > 0


def test_monitor_benchmark_smoke_finds_the_injected_drift() -> None:
    """2,000 audit rows through a real trained repo; evidently too when it is installed."""
    with_evidently = importlib.util.find_spec("evidently") is not None
    done = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "benchmarks" / "monitor.py"),
            "--rows",
            "2000",
            "--request-rows",
            "100",
            *([] if with_evidently else ["--skip-evidently"]),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    fields = dict(item.split("=", 1) for item in last.split())
    assert list(fields) == [
        "rows",
        "features",
        "mlgate_s",
        "mlgate_peak_mb",
        "evidently_s",
        "evidently_peak_mb",
        "speedup",
        "drifted_features_mlgate",
        "drifted_features_evidently",
        "injected_drift_found",
    ]
    assert fields["rows"] == "2000"
    assert fields["features"] == "25"
    assert float(fields["mlgate_s"]) > 0
    assert float(fields["mlgate_peak_mb"]) > 50
    assert fields["injected_drift_found"] == "true"
    assert {"income", "balance", "channel"} <= set(fields["drifted_features_mlgate"].split(","))
    if with_evidently:
        assert float(fields["evidently_s"]) > 0
        assert fields["drifted_features_evidently"] != "skipped"
    else:
        assert fields["evidently_s"] == fields["drifted_features_evidently"] == "skipped"
