"""The gate benchmark still runs and agrees with scipy and fairlearn (small size: not a timing)."""

from __future__ import annotations

import subprocess
import sys

from conftest import PROJECT


def test_benchmark_runs_and_numbers_match() -> None:
    done = subprocess.run(
        [sys.executable, str(PROJECT / "benchmarks" / "gates.py"), "--rows", "20000", "--skip-evidently", "--repeat", "1"],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    fields = dict(item.split("=", 1) for item in last.split())
    assert list(fields) == [
        "rows", "mlgate_s", "mlgate_peak_mb", "evidently_s", "fairlearn_s",
        "speedup_vs_evidently", "speedup_vs_fairlearn", "numbers_match",
    ]
    assert fields["rows"] == "20000"
    assert fields["evidently_s"] == "skipped"
    assert fields["numbers_match"] == "true"
    assert float(fields["mlgate_s"]) > 0
