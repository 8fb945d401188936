"""Cold-process timing shared by the benchmarks that compare a CLI run with an anchor.

Each measured command is a fresh process, as a user or a workflow step runs it: start-up and
imports are part of the time. :func:`run` starts it and, until it exits, samples every 20 ms the
resident set size of the whole process tree (the process and all its descendants, through
psutil, summed at each sample), so ``tree_peak_mb`` is the largest simultaneous footprint seen;
a spike shorter than the sampling interval can be missed. ``self_peak_mb`` is the kernel's exact
high-water mark (``wait4``'s ``ru_maxrss``) of the largest single process in the tree that was
waited for, a lower bound that misses nothing but does not add processes up.

:func:`interleaved` runs the measured command and its anchor alternately (A, B, A, B, ...) after
one unrecorded warm-up of each (the page cache holds the libraries, as on a machine that ran
them before), so that load from other jobs on a shared machine falls on both alike.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_S = 0.02


@dataclass(frozen=True)
class Run:
    """One process run: wall seconds, peaks in MB, exit code, captured output."""

    seconds: float
    tree_peak_mb: float
    self_peak_mb: float
    returncode: int
    stdout: str
    stderr: str


def _tree_rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue  # it exited between listing and reading
    return total


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> Run:
    """Run ``cmd`` once in a fresh process; its time, tree peak RSS and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=err)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(SAMPLE_S)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, not by Popen
        out.seek(0)
        err.seek(0)
        return Run(
            seconds=seconds,
            tree_peak_mb=peak / 2**20,
            self_peak_mb=usage.ru_maxrss / 1024,  # KiB on Linux
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def checked(what: str, done: Run, ok: Sequence[int] = (0,)) -> Run:
    """``done``, or exit 1 with its output when its exit code is not in ``ok``."""
    if done.returncode not in ok:
        sys.stderr.write(f"{what} exited {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-4000:]}\n")
        sys.exit(1)
    return done


@dataclass(frozen=True)
class Sample:
    """One measurement of a side: seconds and peaks (several processes: summed time, largest peaks)."""

    seconds: float
    tree_peak_mb: float
    self_peak_mb: float


def sample(runs: Sequence[Run]) -> Sample:
    """Processes run one after another as one measurement: their times add, the peak is the largest."""
    return Sample(sum(r.seconds for r in runs), max(r.tree_peak_mb for r in runs), max(r.self_peak_mb for r in runs))


def interleaved(
    pairs: int, measured: Callable[[], Sample], anchor: Callable[[], Sample]
) -> tuple[list[Sample], list[Sample]]:
    """``pairs`` measurements of each side, alternating, after one warm-up of each (not kept)."""
    measured()
    anchor()
    ours, theirs = [], []
    for index in range(pairs):
        ours.append(measured())
        theirs.append(anchor())
        print(
            f"  pair {index + 1}: measured {ours[-1].seconds:.2f} s ({ours[-1].tree_peak_mb:.0f} MB), "
            f"anchor {theirs[-1].seconds:.2f} s ({theirs[-1].tree_peak_mb:.0f} MB)",
            file=sys.stderr,
            flush=True,
        )
    return ours, theirs


def summary(name: str, samples: Sequence[Sample]) -> str:
    """``NAME_s=… NAME_mb=… NAME_self_mb=…``: medians of seconds, tree peak and single-process peak."""
    seconds = statistics.median(s.seconds for s in samples)
    tree = statistics.median(s.tree_peak_mb for s in samples)
    single = statistics.median(s.self_peak_mb for s in samples)
    return f"{name}_s={seconds:.2f} {name}_mb={tree:.0f} {name}_self_mb={single:.0f}"


def ratio(measured: Sequence[Sample], anchor: Sequence[Sample]) -> float:
    """Median measured time over median anchor time."""
    return statistics.median(s.seconds for s in measured) / statistics.median(s.seconds for s in anchor)


def mlgate_command() -> list[str]:
    """How a user runs mlgate: the ``mlgate`` script next to this interpreter, else ``python -c`` its main."""
    script = Path(sys.executable).with_name("mlgate")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "import sys; from mlgate.cli import main; sys.exit(main())"]
