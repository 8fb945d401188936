"""The benchmarks still run: the gate benchmark (a cold `mlgate gate`) agrees with scipy and
fairlearn, the pull-request overhead benchmark goes through validate, gate and report, the
monitoring benchmark finds the injected drift (small sizes: not timings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PROJECT, invoke


def test_benchmark_runs_and_numbers_match() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "benchmarks" / "gates.py"),
            "--rows",
            "3000",
            "--skip-evidently",
            "--pairs",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    fields = dict(item.split("=", 1) for item in last.split())
    assert list(fields) == [
        "rows",
        "pairs",
        "mlgate_s",
        "mlgate_mb",
        "mlgate_self_mb",
        "evidently_s",
        "speedup_vs_evidently",
        "families_s",
        "evidently_report_s",
        "families_speedup",
        "numbers_match",
    ]
    assert fields["rows"] == "3000"
    assert fields["evidently_s"] == "skipped"
    assert fields["numbers_match"] == "true"
    assert float(fields["mlgate_s"]) > 0
    assert float(fields["mlgate_mb"]) > 0


@pytest.mark.parametrize(("journey", "steps"), [("check", ["check"]), ("steps", ["validate", "gate", "report"])])
def test_pr_overhead_benchmark_runs_on_a_trained_repo(journey: str, steps: list[str], governed_repo: Path) -> None:
    trained = invoke(CliRunner(), "train", "credit", cwd=governed_repo)
    assert trained.exit_code == 0, trained.output
    command = [sys.executable, str(PROJECT / "benchmarks" / "pr_overhead.py"), "--repo", str(governed_repo)]
    done = subprocess.run(
        [*command, "--pairs", "1", "--journey", journey], capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    fields = dict(item.split("=", 1) for item in last.split())
    assert list(fields) == [
        *(f"{step}_s" for step in steps),
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
    # the overhead is the commands run one after another: its time is their sum (medians of one pair)
    assert abs(numbers["overhead_s"] - sum(numbers[f"{step}_s"] for step in steps)) < 0.03


def test_monitor_benchmark_finds_the_injected_drift_on_postgresql() -> None:
    from mlgate_devkit.postgres import binaries

    if binaries() is None:
        pytest.skip("PostgreSQL is not installed (the monitoring benchmark's audit store)")
    done = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "benchmarks" / "monitor.py"),
            "--rows",
            "50000",
            "--reference-rows",
            "20000",  # smaller, and channel's sampled PSI may fall under 0.2
            "--request-rows",
            "500",
            "--skip-evidently",
            "--pairs",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fields = dict(item.split("=", 1) for item in done.stdout.strip().splitlines()[-1].split())
    assert fields["rows"] == "50000"
    assert fields["store"] == "postgresql"
    assert fields["injected_drift_found"] == "true"
    assert fields["drifted_features_mlgate"] == "balance,channel,income"
    assert float(fields["mlgate_peak_mb"]) > 0
