"""Every git process mlgate starts runs in the C locale, whatever the user's.

No non-English locale is installed on every machine, so the test puts a ``git`` first on PATH
that records the locale it was started with, then runs the real git: the user's environment says
German, and each git process, the streaming ``cat-file --batch`` included, must have seen ``C``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import git
from mlgate import git as mlgit


def test_every_git_process_runs_in_the_c_locale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "a.txt").write_text("hallo\n")
    git("add", "a.txt", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "one", cwd=repo)
    real = shutil.which("git")
    assert real is not None
    shim = tmp_path / "bin"
    shim.mkdir()
    log = tmp_path / "locales.log"
    (shim / "git").write_text(f'#!/bin/sh\necho "LC_ALL=$LC_ALL LANG=$LANG $1" >> {log}\nexec {real} "$@"\n')
    (shim / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    monkeypatch.setenv("LC_MESSAGES", "de_DE.UTF-8")

    state = mlgit.git_state(repo)
    assert state.branch == "main"
    [entry] = mlgit.tree_entries(repo, "HEAD")
    assert mlgit.blobs(repo, [entry.sha]) == {entry.sha: b"hallo\n"}
    assert mlgit.show(repo, "HEAD", "a.txt") == "hallo\n"
    with pytest.raises(mlgit.GitError, match=r"unknown revision|Needed a single revision"):  # git's English
        mlgit.resolve_commit(repo, "no-such-branch")

    lines = log.read_text().splitlines()
    assert len(lines) >= 6, lines  # rev-parse, status, rev-parse, ls-tree, cat-file, show, rev-parse
    assert {line.split()[0] for line in lines} == {"LC_ALL=C"}, lines
    assert any(line.endswith(" cat-file") for line in lines), "the streaming cat-file too"
    assert all("LANG=de_DE.UTF-8" in line for line in lines), "the rest of the environment is the user's"


def test_the_git_environment_is_the_callers_in_the_c_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    monkeypatch.setenv("MLGATE_PROBE", "kept")
    env = mlgit.environment()
    assert env["LC_ALL"] == "C"
    assert env["MLGATE_PROBE"] == "kept"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
