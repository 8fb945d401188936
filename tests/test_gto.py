"""`mlgate gto`: GTO's registry view of mlgate's promotion tags and dvc.yaml's artifacts, on real git."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import git, invoke

PIPELINE = """\
stages:
  train:
    cmd: python src/train.py
    deps:
      - src/train.py
    outs:
      - model.pkl
artifacts:
  text-classification:
    path: model.pkl
    type: model
    desc: Detect whether a question should have the R tag
    labels:
      - nlp
      - classification
  unrelated-data:
    path: data/other.csv
    type: dataset
"""


def release(repo: Path, model: str, **stages: int | None) -> str:
    """Commit ``models/<model>/release.yaml`` asking for ``stages``; the commit."""
    lines = [f"model: {model}", "stages:"] + [f"  {s}: {'null' if v is None else v}" for s, v in stages.items()]
    (repo / "models" / model / "release.yaml").write_text("\n".join(lines) + "\n")
    git("commit", "-qam", f"release {model} {stages}", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def show(repo: Path, *args: str) -> tuple[dict[str, Any], str]:
    result = invoke(CliRunner(), "gto", *args, "--json", "-", cwd=repo)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_gto_show_reads_mlgate_tags_as_gto_does(governed_repo: Path) -> None:
    first = release(governed_repo, "credit", staging=None, production=3)
    git("tag", "credit#production#1", first, cwd=governed_repo)  # lightweight: what the refs API creates
    second = release(governed_repo, "credit", staging=4, production=3)
    git("tag", "-a", "-m", "staging", "credit#staging#2", second, cwd=governed_repo)  # annotated, as gto writes
    third = release(governed_repo, "credit", staging=4, production=4)
    git("tag", "credit#production#3", third, cwd=governed_repo)
    # insurance: assigned to staging, then the stage emptied (GTO's unassignment `!`)
    one = release(governed_repo, "insurance", staging=2, production=None)
    git("tag", "insurance#staging#1", one, cwd=governed_repo)
    two = release(governed_repo, "insurance", staging=None, production=None)
    git("tag", "insurance#staging!#2", two, cwd=governed_repo)
    # GTO registrations: semver order (1.10 > 1.2), a deregistered one (`!`) does not count
    for tag in ("credit@v1.0.0", "credit@v1.2.0", "credit@v1.10.0", "credit@v1.10.0!"):
        git("tag", tag, first, cwd=governed_repo)
    git("tag", "Credit#prod#1", first, cwd=governed_repo)  # upper case: not a GTO name
    git("tag", "v2.0", first, cwd=governed_repo)  # an ordinary release tag: not GTO's, not reported

    view, _ = show(governed_repo)
    assert view["stages"] == ["production", "staging"]
    rows = {a["name"]: a for a in view["artifacts"]}
    assert set(rows) == {"credit", "insurance"}
    credit = rows["credit"]
    assert credit["model"] == "credit"
    assert credit["latest"] == "v1.2.0", "the greatest registered version that is not deregistered"
    assert credit["registered"] == ["v1.0.0", "v1.2.0"]
    assert credit["stages"]["production"] == {
        "tag": "credit#production#3",
        "commit": third,
        "counter": 3,
        "version": 4,
        "annotated": False,
    }
    assert credit["stages"]["staging"]["version"] == 4
    assert credit["stages"]["staging"]["annotated"] is True
    insurance = rows["insurance"]
    assert insurance["stages"]["staging"]["tag"] == "insurance#staging!#2"
    assert insurance["stages"]["staging"]["version"] is None, "unassigned"
    assert insurance["latest"] is None, "no registration, and no stage holds a version"
    assert view["ignored"] == ["Credit#prod#1"]

    result = invoke(CliRunner(), "gto", cwd=governed_repo)
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["name", "latest", "#production", "#staging"]
    assert lines[1:] == [["credit", "v1.2.0", "v4", "v4"], ["insurance", "-", "-", "-"]]
    assert "Credit#prod#1" in result.stderr


def test_an_assignment_reads_the_release_at_its_own_commit(governed_repo: Path) -> None:
    # the tag names no version: the version is what release.yaml asked for where the tag points,
    # not what it asks for today
    at = release(governed_repo, "credit", staging=None, production=5)
    git("tag", "credit#production#1", at, cwd=governed_repo)
    release(governed_repo, "credit", staging=None, production=9)  # merged, not yet tagged
    view, _ = show(governed_repo, "credit")
    [row] = view["artifacts"]
    assert row["stages"]["production"]["version"] == 5
    assert row["latest"] == "v5"


def test_dvc_yaml_artifacts_are_related_to_the_model_their_stage_trains(governed_repo: Path) -> None:
    spec = (governed_repo / "models/credit/model.yaml").read_text().replace("name: credit", "name: pipe")
    estimator = "estimator:\n  class: sklearn.ensemble.RandomForestClassifier"
    assert estimator in spec
    (governed_repo / "models/pipe").mkdir()
    (governed_repo / "models/pipe/model.yaml").write_text(spec.replace(estimator, "train:\n  dvc_stage: train"))
    (governed_repo / "models/pipe/release.yaml").write_text("model: pipe\nstages:\n  production: 2\n")
    (governed_repo / "dvc.yaml").write_text(PIPELINE)
    (governed_repo / "src").mkdir()
    (governed_repo / "src/train.py").write_text("# train\n")
    git("add", "-A", cwd=governed_repo)
    git("commit", "-qm", "a pipeline with artifacts", cwd=governed_repo)
    git("tag", "pipe#production#1", cwd=governed_repo)

    view, stderr = show(governed_repo)
    rows = {a["name"]: a for a in view["artifacts"]}
    assert set(rows) == {"credit", "insurance", "text-classification", "unrelated-data"}
    assert "pipe" not in rows, "the model is listed under its dvc.yaml artifact"
    text = rows["text-classification"]
    assert text["model"] == "pipe", "model.pkl is an output of the train stage that trains pipe"
    assert text["artifact"] == {
        "path": "model.pkl",
        "type": "model",
        "desc": "Detect whether a question should have the R tag",
        "labels": ["nlp", "classification"],
        "dvcfile": "dvc.yaml",
    }
    assert text["stages"]["production"]["version"] == 2
    assert rows["unrelated-data"]["model"] is None
    assert rows["unrelated-data"]["stages"] == {}
    assert "text-classification: mlgate model 'pipe'" in stderr
    # one artifact, by its name or its model's
    assert [a["name"] for a in show(governed_repo, "pipe")[0]["artifacts"]] == ["text-classification"]
    result = invoke(CliRunner(), "gto", "nope", cwd=governed_repo)
    assert result.exit_code == 2
    assert "no artifact or model named 'nope'" in result.output
