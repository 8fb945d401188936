"""Real data layouts: CSV, TSV and Parquet; files inside DVC-tracked folders and stage outputs; text features.

One governed repo for the module (a copy of the template) holds every layout, trained against the
session's real `mlflow server`:

- ``layout_csv``, ``layout_tsv``, ``layout_parquet``: the German credit data as CSV, TSV and Parquet
  (each ``dvc add``-ed), same spec otherwise: the same metrics;
- ``layout_folder``: the CSV inside ``data/folder``, tracked as a whole by ``dvc add data/folder``;
- ``layout_reviews``: a free-text ``review`` column (``features.text``) in ``gen/reviews.csv``, inside
  the directory output ``gen`` of a real ``dvc.yaml`` stage (``dvc repro``, ``dvc push``).

The review corpus is synthetic (none of ../shared/datasets has free text): :data:`MAKE_REVIEWS`
writes 600 product reviews with a fixed seed; each mixes neutral words with one to three words of
its label's sentiment (and, in 30% of them, one of the other's), and names a distinct order
number, so every review is unique — exactly what a categorical column must not be.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import copy_repo, dvc, git, github_stand_in, invoke
from mlgate.config import DriftSettings
from mlgate.data import dvc_record, file_md5
from mlgate.gates import drift

pytestmark = pytest.mark.server

MAKE_REVIEWS = '''"""Synthetic product reviews for mlgate's tests (fixed seed): review text and whether it was liked."""
import csv
import pathlib
import random

rng = random.Random(15)
POSITIVE = "great excellent love wonderful perfect happy recommend amazing superb delightful".split()
NEGATIVE = "awful terrible hate broken refund poor disappointing useless worst boring".split()
NEUTRAL = "the product arrived box color size delivery price package item store week phone battery screen".split()
rows = []
for i in range(600):
    liked = rng.random() < 0.5
    own, other = (POSITIVE, NEGATIVE) if liked else (NEGATIVE, POSITIVE)
    words = rng.choices(NEUTRAL, k=rng.randint(6, 20)) + rng.choices(own, k=rng.randint(1, 3))
    if rng.random() < 0.3:
        words += rng.choices(other, k=1)
    rng.shuffle(words)
    rows.append([f"order {1000 + i}: " + " ".join(words), int(liked)])
out = pathlib.Path("gen")
out.mkdir(exist_ok=True)
with (out / "reviews.csv").open("w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["review", "liked"])
    writer.writerows(rows)
'''

REVIEWS_SPEC = """name: layout_reviews
description: Whether a product review was liked, from its text (synthetic corpus, tests).
owners: [tests]
task: classification
data:
  path: gen/reviews.csv
target: liked
positive_label: 1
features:
  text: [review]
estimator:
  class: sklearn.linear_model.LogisticRegression
policy: policies/reviews.yaml
"""

REVIEWS_POLICY = """extends: base.yaml
description: Review sentiment.
gates:
  performance:
    - metric: roc_auc
      min: 0.8
  drift:
    - metric: oov_rate
      max: 0.2
"""

CREDIT_CSV = "data/german_credit.csv"
LAYOUTS = {
    "layout_csv": "data/credit.csv",
    "layout_tsv": "data/credit.tsv",
    "layout_parquet": "data/credit.parquet",
    "layout_folder": "data/folder/german.csv",
}


def run(repo: Path, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    out = repo.parent / f"out-{len(list(repo.parent.glob('out-*')))}.json"
    result = invoke(CliRunner(), *args, "--json", str(out), cwd=repo)
    payload = json.loads(out.read_text()) if out.exists() else None
    return result.exit_code, payload, result.output


def _credit_spec(repo: Path, name: str, path: str) -> None:
    text = (repo / "models/credit/model.yaml").read_text()
    text = text.replace("name: credit\n", f"name: {name}\n").replace(f"path: {CREDIT_CSV}\n", f"path: {path}\n")
    (repo / "models" / name).mkdir(parents=True)
    (repo / "models" / name / "model.yaml").write_text(text)


def _build(repo: Path) -> None:
    frame = pd.read_csv(repo / CREDIT_CSV)
    shutil.copy2(repo / CREDIT_CSV, repo / "data/credit.csv")
    frame.to_csv(repo / "data/credit.tsv", sep="\t", index=False)
    frame.to_parquet(repo / "data/credit.parquet", index=False)
    (repo / "data/folder").mkdir()
    shutil.copy2(repo / CREDIT_CSV, repo / "data/folder/german.csv")
    (repo / "data/folder/notes.csv").write_text("a,b\n1,2\n")
    dvc("add", "-q", "data/credit.csv", "data/credit.tsv", "data/credit.parquet", "data/folder", cwd=repo)
    params = (repo / "params.yaml").read_text()
    section = params.split("credit:\n", 1)[1].split("insurance:", 1)[0]
    for name, path in LAYOUTS.items():
        _credit_spec(repo, name, path)
        params += f"{name}:\n{section}"
    params += "layout_reviews:\n  max_iter: 1000\n"
    (repo / "params.yaml").write_text(params)
    (repo / "make_reviews.py").write_text(MAKE_REVIEWS)
    dvc("stage", "add", "-q", "-n", "make_reviews", "-d", "make_reviews.py", "-o", "gen",
        f"{sys.executable} make_reviews.py", cwd=repo)  # fmt: skip
    dvc("repro", "-q", "make_reviews", cwd=repo)
    (repo / "models/layout_reviews").mkdir()
    (repo / "models/layout_reviews/model.yaml").write_text(REVIEWS_SPEC)
    (repo / "policies/reviews.yaml").write_text(REVIEWS_POLICY)
    dvc("push", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "data layouts", cwd=repo)


@pytest.fixture(scope="module")
def layouts(template_repo: Path, tmp_path_factory: pytest.TempPathFactory, mlflow_server: str) -> Iterator[dict]:
    """The module's repo with every layout trained (the review data pulled from the remote first) and gated."""
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("layouts") / "repo")
    _build(repo)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        # the stage's output is gone from the workspace and the cache: training pulls it from the remote
        shutil.rmtree(repo / ".dvc/cache")
        shutil.rmtree(repo / "gen")
        found: dict[str, Any] = {"repo": repo, "trained": {}, "verdicts": {}}
        for name in [*LAYOUTS, "layout_reviews"]:
            code, trained, output = run(repo, "train", name)
            assert code == 0, output
            found["trained"][name] = trained
            code, verdict, output = run(repo, "gate", name)
            assert verdict is not None, output
            found["verdicts"][name] = verdict
        yield found


def _data(verdict: dict[str, Any]) -> dict[str, Any]:
    return {d["role"]: d for d in verdict["data"]}


def test_tsv_and_parquet_train_and_gate_to_the_metrics_of_the_csv(layouts: dict) -> None:
    trained, verdicts = layouts["trained"], layouts["verdicts"]
    csv_metrics = verdicts["layout_csv"]["metrics"]
    assert csv_metrics["roc_auc"] > 0.7
    for name in ("layout_tsv", "layout_parquet", "layout_folder"):
        assert verdicts[name]["metrics"] == csv_metrics, name
        assert trained[name]["metrics"] == trained["layout_csv"]["metrics"], name
    assert _data(verdicts["layout_parquet"])["path"]["md5"] == file_md5(layouts["repo"] / "data/credit.parquet")


def test_a_file_inside_a_dvc_added_folder_is_gated_with_its_md5_from_the_listing(layouts: dict) -> None:
    repo = layouts["repo"]
    data = _data(layouts["verdicts"]["layout_folder"])["path"]
    assert data["tracked_by"] == "data/folder.dvc"
    assert data["md5"] == file_md5(repo / "data/folder/german.csv")  # the file's md5, not the folder's
    assert "data/folder/german.csv.dvc" not in git("ls-files", cwd=repo)


def test_a_stage_output_is_pulled_and_gated_with_its_md5_from_dvc_lock(layouts: dict) -> None:
    repo = layouts["repo"]
    data = _data(layouts["verdicts"]["layout_reviews"])["path"]
    assert data["tracked_by"] == "dvc.lock:make_reviews"
    assert (repo / "gen/reviews.csv").is_file()  # pulled from the remote by `mlgate train`
    assert data["md5"] == file_md5(repo / "gen/reviews.csv")
    assert dvc_record("gen/reviews.csv", repo) == (data["md5"], "dvc.lock:make_reviews")


def test_text_features_train_to_a_high_auc_and_drift_by_length_and_vocabulary(layouts: dict, tmp_path: Path) -> None:
    verdict = layouts["verdicts"]["layout_reviews"]
    assert verdict["metrics"]["roc_auc"] > 0.8
    rules = {r["rule_id"]: r for r in verdict["rules"]}
    oov = rules["drift.oov_rate"]
    assert oov["status"] == "pass", oov
    assert 0 < oov["observed"] < 0.2  # the holdout's own order numbers are new words; little else
    [row] = oov["details"]["features"]
    assert (row["feature"], row["kind"], row["chi2_pvalue"]) == ("review", "text", None)  # never chi² on strings
    assert row["ks_pvalue"] > 0.01
    verdict_file, markdown = tmp_path / "verdict.json", tmp_path / "report.md"
    verdict_file.write_text(json.dumps(verdict))
    result = invoke(
        CliRunner(),
        "report",
        "layout_reviews",
        "--verdict",
        str(verdict_file),
        "--markdown",
        str(markdown),
        cwd=layouts["repo"],
    )
    assert result.exit_code == 0, result.output
    assert f"| review | text (out-of-vocabulary {oov['observed']:.3f}" in markdown.read_text()


def test_a_modified_workspace_copy_is_read_at_the_base_commit_from_dvc(layouts: dict) -> None:
    repo = layouts["repo"]
    head = git("rev-parse", "HEAD", cwd=repo).strip()
    for name, rel in (("layout_reviews", "gen/reviews.csv"), ("layout_parquet", "data/credit.parquet")):
        original = (repo / rel).read_bytes()
        try:
            frame = pd.read_csv(repo / rel) if rel.endswith(".csv") else pd.read_parquet(repo / rel)
            shuffled = frame.sample(frac=1.0, random_state=1).head(len(frame) // 2)
            shuffled.to_csv(repo / rel, index=False) if rel.endswith(".csv") else shuffled.to_parquet(repo / rel)
            code, verdict, output = run(repo, "gate", name, "--base", head, "--no-attach")
            assert verdict is not None, output
            assert verdict["metrics"] == layouts["verdicts"][name]["metrics"]
            assert _data(verdict)["path"]["md5"] == _data(layouts["verdicts"][name])["path"]["md5"]
            code, _, output = run(repo, "gate", name)  # without a base the workspace must match its record
            assert code == 2
            hint = "`dvc repro make_reviews`" if name == "layout_reviews" else "`dvc add data/credit.parquet`"
            assert hint in output
        finally:
            (repo / rel).write_bytes(original)


@pytest.fixture
def scratch_repo(layouts: dict, tmp_path: Path) -> Path:
    return copy_repo(layouts["repo"], tmp_path / "repo")


def _point(repo: Path, name: str, path: str) -> None:
    spec = repo / "models" / name / "model.yaml"
    text = spec.read_text()
    old = next(line for line in text.splitlines() if line.startswith("  path: "))
    spec.write_text(text.replace(old, f"  path: {path}"))


@pytest.mark.parametrize(
    ("rel", "hint", "fix"),
    [
        ("data/loose.csv", "track it with `dvc add data/loose.csv`", ["add", "-q", "data/loose.csv"]),
        ("data/folder/extra.csv", "run `dvc add data/folder` and commit data/folder.dvc", ["add", "-q", "data/folder"]),
        ("gen/extra.csv", "run `dvc repro make_reviews` and commit dvc.lock", None),
    ],
)
def test_an_untracked_file_exits_2_with_a_hint_dvc_accepts(
    scratch_repo: Path, rel: str, hint: str, fix: list[str] | None
) -> None:
    repo = scratch_repo
    shutil.copy2(repo / "data/credit.csv", repo / rel)
    _point(repo, "layout_csv", rel)
    code, _, output = run(repo, "validate")
    assert code == 2
    assert "models/layout_csv/model.yaml:9:" in output
    assert f"data file {rel} is not tracked by DVC" in output
    assert hint in output
    if fix:  # DVC does what the hint says, and the file is then tracked by its md5
        dvc(*fix, cwd=repo)
        assert dvc_record(rel, repo) == (file_md5(repo / rel), f"{fix[-1]}.dvc")


def test_a_free_text_column_declared_categorical_is_refused_with_the_hint(scratch_repo: Path) -> None:
    spec = scratch_repo / "models/layout_reviews/model.yaml"
    spec.write_text(spec.read_text().replace("  text: [review]", "  categorical: [review]"))
    code, _, output = run(scratch_repo, "validate")
    assert code == 2
    assert "models/layout_reviews/model.yaml:10:" in output
    assert "column 'review' of gen/reviews.csv has a different value in each of its 600 rows" in output
    assert "declare it under features.text if it is free text, or drop it if it is an id" in output


@pytest.mark.parametrize(
    ("features", "line", "message"),
    [
        ("  text: review\n", 10, "features -> text: expected a list, got string 'review'"),
        ("  numeric: [review]\n  text: [review]\n", 11, "features -> text -> 0: listed as both numeric and text"),
        ("  text: [review, review]\n", 10, "features -> text -> 1: text features listed twice: review"),
    ],
)
def test_malformed_text_features_exit_2_located(scratch_repo: Path, features: str, line: int, message: str) -> None:
    spec = scratch_repo / "models/layout_reviews/model.yaml"
    spec.write_text(spec.read_text().replace("  text: [review]\n", features))
    code, _, output = run(scratch_repo, "validate", "--no-data")
    assert code == 2
    assert f"models/layout_reviews/model.yaml:{line}:" in output
    assert message in output


def test_an_unknown_data_extension_exits_2_naming_the_supported_ones(scratch_repo: Path) -> None:
    _point(scratch_repo, "layout_csv", "data/credit.xlsx")
    code, _, output = run(scratch_repo, "validate", "--no-data")
    assert code == 2
    assert "models/layout_csv/model.yaml:9:" in output
    assert "'data/credit.xlsx' is not a data file mlgate reads: the extension must be one of .csv, .tsv" in output


def test_a_folder_change_that_moves_an_evaluation_file_is_a_governance_change(
    scratch_repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = scratch_repo
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    git("switch", "-q", "-c", "pr", cwd=repo)
    csv = repo / "data/folder/german.csv"
    csv.write_text(csv.read_text() + csv.read_text().splitlines(keepends=True)[-1])
    dvc("add", "-q", "data/folder", cwd=repo)
    git("commit", "-q", "-am", "more rows", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo).strip()
    out = tmp_path / "governance.json"
    with github_stand_in(monkeypatch, "t0ken", "acme/credit-models") as github:
        github.set_pull(3, author="mallory", head_sha=head)
        result = invoke(CliRunner(), "governance", "--base", base, "--head", head, "--pr", "3", "--json", str(out),
                        "--no-post", cwd=repo)  # fmt: skip
    assert result.exit_code == 1, result.output
    changes = json.loads(out.read_text())["changes"]
    reasons = {(c["path"], c["field"]): c["reason"] for c in changes}
    assert (
        reasons[("data/folder.dvc", "")] == "evaluation data inside a tracked folder changed (layout_folder: data.path)"
    )
    assert "data.path (content)" in {c["field"] for c in changes if c["path"] == "models/layout_folder/model.yaml"}
    # a folder change that leaves the evaluation file alone is not one
    git("switch", "-q", "-c", "pr2", base, cwd=repo)
    dvc("pull", "-q", "data/folder", cwd=repo)  # the folder as the base records it (from the remote)
    (repo / "data/folder/notes.csv").write_text("a,b\n3,4\n")
    dvc("add", "-q", "data/folder", cwd=repo)
    git("commit", "-q", "-am", "notes only", cwd=repo)
    head2 = git("rev-parse", "HEAD", cwd=repo).strip()
    with github_stand_in(monkeypatch, "t0ken", "acme/credit-models") as github:
        github.set_pull(4, author="mallory", head_sha=head2)
        result = invoke(CliRunner(), "governance", "--base", base, "--head", head2, "--pr", "4", "--json", str(out),
                        "--no-post", cwd=repo)  # fmt: skip
    assert json.loads(out.read_text())["changes"] == [], result.output


def _reviews(words_per_row: list[list[str]]) -> pd.Series:
    return pd.Series([" ".join(words) for words in words_per_row], dtype=object)


def test_text_drift_fires_on_longer_documents_and_new_words_and_not_on_identical_data() -> None:
    settings = DriftSettings()
    vocabulary = [f"word{i}" for i in range(50)]
    ref = _reviews([[vocabulary[(i * 7 + j) % 50] for j in range(5 + i % 5)] for i in range(400)])
    reference = pd.DataFrame({"review": ref})

    def one(current: pd.Series) -> drift.FeatureDrift:
        [row] = drift.feature_drift(reference, pd.DataFrame({"review": current}), [], [], settings, text=["review"])
        return row

    same = one(ref.copy())
    assert (same.kind, same.oov_rate, same.drifted, same.chi2_pvalue) == ("text", 0.0, False, None)
    assert same.psi == pytest.approx(0.0, abs=1e-12)
    assert same.ks_statistic == 0.0
    longer = one(_reviews([[vocabulary[(i + j) % 50] for j in range(20 + i % 5)] for i in range(400)]))
    assert longer.drifted
    assert longer.psi > 1
    assert longer.ks_pvalue < 1e-6
    assert longer.oov_rate == 0.0  # same words: only the length moved
    new_words = one(_reviews([[f"novel{i % 30}", *vocabulary[i % 50 : i % 50 + 4]] for i in range(400)]))
    assert new_words.oov_rate == pytest.approx(0.2, abs=0.01)  # 1 of every 5 words is new
    assert new_words.unseen_categories[0].startswith("novel")
    measured = drift.drift_measurement([new_words], "oov_rate", None, settings)
    assert measured.value == new_words.oov_rate
    assert "novel" in measured.explanation
    none = drift.drift_measurement([same], "chi2_pvalue", None, settings)
    assert none.value is None  # text is never tested per string: no categorical feature to test
