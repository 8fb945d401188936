"""Shared fixtures: an isolated environment, real governed repos, a real `mlflow server`.

Nothing here is a stand-in: repos are made with the real `git` and `dvc` commands and a real
directory remote, MLflow runs for real (SQLite, and a server process on 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mlgate.cli import main
from mlgate_devkit.github_stand_in import FakeGitHub
from mlgate_devkit.mariadb import Server as MariaDB
from mlgate_devkit.mariadb import binaries as mariadb_binaries
from mlgate_devkit.mariadb import start_server as start_mariadb
from mlgate_devkit.mlflow_server import start_mlflow_server, stop_mlflow_server
from mlgate_devkit.postgres import Cluster, binaries, start_cluster
from mlgate_devkit.release import canary_running, promoted  # noqa: F401 — the tests import them from here

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE_FILES = ("models/credit", "models/insurance", "policies", "params.yaml", "dvc.yaml", "data/SOURCES.md")
"""The example repo's two declarative models (the demo adds models/income, trained by its own script)."""
EXAMPLE_DATA = ("data/german_credit.csv", "data/insurance.csv")


@pytest.fixture(scope="session", autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """HOME, caches and git identity inside the test's temp dir; telemetry off."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = mlgate tests\n\temail = tests@mlgate.invalid\n[init]\n\tdefaultBranch = main\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        mp.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        mp.setenv("DVC_NO_ANALYTICS", "1")
        mp.setenv("DVC_SITE_CACHE_DIR", str(home / "dvc-site-cache"))
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mp.setenv("DO_NOT_TRACK", "1")
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        mp.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
        yield home


def run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def dvc(*args: str, cwd: Path) -> str:
    """The real `dvc` command line, from this interpreter's environment."""
    return run([sys.executable, "-m", "dvc", *args], cwd)


def git(*args: str, cwd: Path) -> str:
    return run(["git", *args], cwd)


def head(repo: Path) -> str:
    """The commit ``repo`` has checked out."""
    return git("rev-parse", "HEAD", cwd=repo).strip()


def commit_all(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)


def rename_model(repo: Path, old: str, new: str) -> None:
    """The example model under another registry name (spec, params section, release)."""
    (repo / "models" / old).rename(repo / "models" / new)
    for rel, before, after in (
        (f"models/{new}/model.yaml", f"name: {old}", f"name: {new}"),
        ("params.yaml", f"\n{old}:", f"\n{new}:"),
        (f"models/{new}/release.yaml", f"model: {old}", f"model: {new}"),
    ):
        path = repo / rel
        assert before in path.read_text(), rel
        path.write_text(path.read_text().replace(before, after, 1))


def checkout_state(repo: Path) -> dict[str, object]:
    """Everything a user sees of their checkout: branch, HEAD, index, work tree bytes, branches, worktrees, stashes.

    DVC's own scratch folders (``.dvc/cache``, ``.dvc/tmp``) are left out: they are not the checkout.
    """
    skip = (".git", ".dvc/cache", ".dvc/tmp")
    files = {
        path.relative_to(repo).as_posix(): path.read_bytes()
        for path in sorted(repo.rglob("*"))
        if path.is_file() and not path.relative_to(repo).as_posix().startswith(skip)
    }
    return {
        "branch": git("branch", "--show-current", cwd=repo),
        "head": git("rev-parse", "HEAD", cwd=repo),
        "index": git("ls-files", "--stage", cwd=repo),
        "status": git("status", "--porcelain", "--untracked-files=all", cwd=repo),
        "branches": git("branch", "--list", cwd=repo),
        "worktrees": git("worktree", "list", "--porcelain", cwd=repo),
        "stashes": git("stash", "list", cwd=repo),
        "files": files,
    }


def dirty(repo: Path, rel: str) -> None:
    """Uncommitted work on ``rel``: a staged edit, an unstaged one on top, and an untracked file beside."""
    path = repo / rel
    path.write_text(path.read_text() + "# staged, not committed\n")
    git("add", rel, cwd=repo)
    path.write_text(path.read_text() + "# not even staged\n")
    (repo / "notes-in-progress.txt").write_text("an untracked file\n")


def edit(repo: Path, rel: str, old: str, new: str) -> None:
    """Replace ``old`` (which must occur exactly once) with ``new`` in ``repo``'s file ``rel``."""
    path = repo / rel
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {rel}"
    path.write_text(text.replace(old, new))


def copy_paths(source: Path, dest: Path, rels: tuple[str, ...]) -> None:
    """Copy files and folders (relative paths) from one tree into another."""
    for rel in rels:
        src, dst = source / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory, isolated_env: Path) -> Path:
    """A governed repo made once per session with git, dvc and a directory remote."""
    base = tmp_path_factory.mktemp("template")
    repo, remote = base / "repo", base / "dvc-remote"
    repo.mkdir()
    remote.mkdir()
    copy_paths(PROJECT, repo, EXAMPLE_FILES)
    for rel in EXAMPLE_DATA:
        source = PROJECT / rel
        if not source.exists():  # a plain clone: fetch from the project's own DVC remote
            dvc("pull", rel, cwd=PROJECT)
        shutil.copy2(source, repo / rel)
    (repo / ".gitignore").write_text("/mlflow.db\n/mlartifacts/\n/metrics/\n")
    git("init", "-q", cwd=repo)
    dvc("init", "-q", cwd=repo)
    dvc("config", "core.analytics", "false", cwd=repo)
    dvc("remote", "add", "-d", "local", str(remote), cwd=repo)
    dvc("add", "-q", *EXAMPLE_DATA, cwd=repo)
    dvc("push", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "governed repo", cwd=repo)
    return repo


def copy_repo(template: Path, dest: Path) -> Path:
    """A copy of a governed repo: git history, DVC cache and remote config included."""
    shutil.copytree(template, dest, symlinks=True)
    return dest


@pytest.fixture
def governed_repo(template_repo: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template repo for one test."""
    return copy_repo(template_repo, tmp_path / "repo")


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, cwd: Path | None = None) -> Result:
    """Run the CLI in-process (from ``cwd``), never swallowing unexpected exceptions."""
    old = Path.cwd()
    try:
        if cwd:
            os.chdir(cwd)
        return runner.invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture(scope="session")
def deepchecks_ok() -> None:
    """Skip unless deepchecks imports and runs here (its extra pins numpy 1.26: the numpy 2 CI job has none)."""
    from mlgate.gates.integrity import DEEPCHECKS_HINT, deepchecks_available

    if not deepchecks_available():
        pytest.skip(f"deepchecks is not usable here: {DEEPCHECKS_HINT}")


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections for the whole test.

    Bound but never listening: a connection gets a reset, as from a server that is down, and no
    other process can take the port meanwhile (a port merely found free could be).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, isolated_env: Path) -> Iterator[str]:
    """A real `mlflow server` on 127.0.0.1 (SQLite backend, proxied artifacts), for the session."""
    url, proc = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    try:
        yield url
    finally:
        stop_mlflow_server(proc)


@contextlib.contextmanager
def github_stand_in(monkeypatch: pytest.MonkeyPatch, token: str, repo: str) -> Iterator[FakeGitHub]:
    """The local GitHub API server, with mlgate's environment pointed at it.

    On exit it stops, and every request it saw must have matched GitHub's API description.
    """
    fake = FakeGitHub(token, repo).start()
    monkeypatch.setenv("GITHUB_TOKEN", token)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", repo)
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.violations == []


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A PostgreSQL cluster of Debian's binaries in a temp folder, one per test module.

    Without PostgreSQL the tests that use it skip, and fail under ``CI=true`` (scripts/setup-system,
    which scripts/test runs, installs it).
    """
    if binaries() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not installed (scripts/setup-system installs Debian's postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    cluster = start_cluster(tmp_path_factory.mktemp("postgres"))
    try:
        yield cluster
    finally:
        cluster.stop()


EXAMPLE_DECISION = "decision:\n  threshold: 0.5\n  review_band: [0.4, 0.6]\n"  # models/credit/model.yaml


def credit_decides_at_0_6(repo: Path) -> None:
    """credit decides at 0.6 with the review band [0.45, 0.75] instead of the example's 0.5, committed.

    Away from 0.5, a decision the threshold made cannot pass for the most probable class.
    """
    spec = repo / "models" / "credit" / "model.yaml"
    text = spec.read_text()
    assert EXAMPLE_DECISION in text
    spec.write_text(text.replace(EXAMPLE_DECISION, "decision:\n  threshold: 0.6\n  review_band: [0.45, 0.75]\n"))
    git("commit", "-qam", "credit decides at 0.6 with a review band", cwd=repo)


def spark_ready() -> None:
    """pyspark and Java are there, or (outside CI) the Spark test is skipped; under CI a missing one fails."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("pyspark is not installed (pip install 'mlgate[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("CI") == "true":
            pytest.fail("Java is required for Spark under CI")
        pytest.skip("no Java for Spark")


# --- served traffic: audit rows as `mlgate serve` writes them --------------------------------------

CREDIT_CATEGORICAL = ["housing", "saving_accounts", "checking_account", "purpose"]
CREDIT_FEATURES = ["credit_amount", "duration", "age", "job", *CREDIT_CATEGORICAL]
"""credit's model inputs (models/credit/model.yaml); ``sex`` is a sensitive feature beside them."""


def credit_holdout(repo: Path) -> Any:
    """The quarter of german_credit.csv credit's training holds out (its split: seed 42, stratified)."""
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    data = pd.read_csv(repo / "data" / "german_credit.csv")
    _, held = train_test_split(np.arange(len(data)), test_size=0.25, random_state=42, stratify=data["risk"])
    return data.iloc[held].reset_index(drop=True)


def resample(frame: Any, n: int, seed: int) -> Any:
    """``n`` rows drawn from ``frame`` with replacement (seeded): applicants of the same population."""
    import numpy as np

    return frame.iloc[np.random.default_rng(seed).integers(0, len(frame), n)].reset_index(drop=True)


def credit_scores(model: Any, frame: Any) -> Any:
    """``model``'s positive-class probabilities for ``frame``'s rows, the inputs as serve hands them over."""
    x = frame[CREDIT_FEATURES].copy()
    for column in CREDIT_CATEGORICAL:
        x[column] = x[column].astype("object").where(x[column].notna(), None)
    return model.predict_proba(x)[:, 1]


def served_record(
    rows: list[dict[str, Any]], scores: Sequence[float], *, model: str, version: int, alias: str, at: datetime
) -> Any:
    """One request of ``rows`` scored ``scores`` (positive-class probabilities), as `mlgate serve` records it.

    Decision at 0.5, review band [0.4, 0.6] (the example's); the arm is the arm alias's suffix
    (``production-canary``: ``canary``), else ``stable``.
    """
    from mlgate.serving import Record

    outputs = [
        {"decision": int(p >= 0.5), "needs_review": bool(0.4 <= p <= 0.6), "probabilities": {"0": 1 - p, "1": p}}
        for p in (float(s) for s in scores)
    ]
    return Record(
        request_id=uuid.uuid4().hex,
        at=at,
        caller="alice",
        model=model,
        version=version,
        alias=alias,
        run_id="r" * 32,
        latency_ms=1.0,
        rows=list(zip(rows, outputs, strict=True)),
        arm=alias.rpartition("-")[2] if "-" in alias else "stable",
    )


def audit_served(
    store_url: str,
    rows: list[dict[str, Any]],
    scores: Sequence[float],
    *,
    model: str,
    version: int,
    alias: str,
    start: datetime,
    chunk: int = 50,
    step: timedelta = timedelta(seconds=1),
) -> list[Any]:
    """``rows`` scored ``scores`` audited with the audit store's own API (the code `mlgate serve` writes with).

    Requests of ``chunk`` rows (:func:`served_record`), the one at row offset ``i`` at ``start + i * step``;
    the records, in order.
    """
    from mlgate.serving import AuditStore

    written = []
    store = AuditStore(store_url)
    store.create()
    try:
        for i in range(0, len(rows), chunk):
            record = served_record(
                rows[i : i + chunk],
                scores[i : i + chunk],
                model=model,
                version=version,
                alias=alias,
                at=start + i * step,
            )
            store.write(record)
            written.append(record)
    finally:
        store.close()
    return written


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """A MariaDB server of Debian's binaries in a temp folder, one per test session.

    Its user ``mlgate`` has a password, given through ``MYSQL_PWD`` (set for the session, so the
    ``mlgate serve`` processes the tests start read it as a deployment would). Without MariaDB the
    tests that use it skip, and fail under ``CI=true`` (scripts/setup-system installs it).
    """
    if mariadb_binaries() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("MariaDB is not installed (scripts/setup-system installs Debian's mariadb-server)")
        pytest.skip("MariaDB is not installed (apt-get install mariadb-server)")
    server = start_mariadb(tmp_path_factory.mktemp("mariadb"))
    before = os.environ.get("MYSQL_PWD")
    os.environ["MYSQL_PWD"] = server.password
    try:
        yield server
    finally:
        server.stop()
        if before is None:
            os.environ.pop("MYSQL_PWD", None)
        else:
            os.environ["MYSQL_PWD"] = before
