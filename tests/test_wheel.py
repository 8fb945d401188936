"""The built wheel works outside the clone: what a user installs from a git ref or a wheel file.

`pip wheel` builds mlgate as `python -m build` would (hatchling, isolated); the wheel is
unpacked into a folder that shadows the editable install, and a new governed repo made by
`mlgate init` in a temp dir — far from this clone — validates and trains with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import PROJECT


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(PROJECT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [wheel] = out.glob("mlgate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "mlgate/resources/templates/report.md.j2" in names
    assert "mlgate/resources/schemas/model.schema.json" in names
    assert "mlgate/resources/workflows/propose.yml" in names  # the templates `mlgate init` renders
    assert "mlgate/resources/site/templates.zip" in names  # the site's templates, precompiled
    assert not [n for n in names if n.startswith(("tests/", "devkit/", "mlgate_devkit/"))]
    site = out / "site"
    zipfile.ZipFile(wheel).extractall(site)
    return site


def mlgate(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(site)}  # the unpacked wheel shadows the editable install
    code = "import sys; from mlgate.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_the_wheel_runs_a_new_repo_outside_the_clone(wheel_site: Path, template_repo: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [sys.executable, "-c", "import mlgate; print(mlgate.__file__)"],
        env=os.environ | {"PYTHONPATH": str(wheel_site)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(wheel_site)
    repo = tmp_path / "team-repo"
    (repo / "data").mkdir(parents=True)
    shutil.copy2(template_repo / "data" / "insurance.csv", repo / "data" / "insurance.csv")  # pulled by DVC
    done = mlgate(wheel_site, repo, "init", "--model", "pricing", "--data", "data/insurance.csv", "--target", "charges")
    assert done.returncode == 0, done.stdout + done.stderr
    done = mlgate(wheel_site, repo, "validate")
    assert done.returncode == 0, done.stdout + done.stderr
    done = mlgate(wheel_site, repo, "train", "pricing", "--json", "-")
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"version": 1' in done.stdout
