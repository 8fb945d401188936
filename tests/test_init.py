"""`mlgate init`: a scaffold that passes `mlgate validate` and `mlgate train` at once."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import PROJECT, dvc, git, invoke
from mlgate.data import TEMPLATES as WORKFLOW_TEMPLATES
from mlgate.data import THIS_REPO, WORKFLOWS, WorkflowParams, default_name, render_workflow

TEMPLATES = PROJECT / "src/mlgate/resources/init"


@pytest.fixture
def project(template_repo: Path, tmp_path: Path) -> Path:
    """An empty folder (not a git repo) holding a copy of the insurance data."""
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    shutil.copy2(template_repo / "data/insurance.csv", folder / "data/insurance.csv")
    return folder


def test_init_then_validate_and_train(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "init.json"
    result = invoke(
        CliRunner(),
        "init",
        "--model",
        "pricing",
        "--data",
        "data/insurance.csv",
        "--target",
        "charges",
        "--approver",
        "risk-officer",
        "--json",
        str(out),
        cwd=project,
    )
    assert result.exit_code == 0, result.output
    done = json.loads(out.read_text())
    assert done["model"] == "pricing"
    assert done["task"] == "regression"  # charges: floats
    assert done["ran"] == ["git init", "dvc init", "dvc add data/insurance.csv"]
    assert set(done["created"]) == {
        "models/pricing/model.yaml",
        "params.yaml",
        "policies/base.yaml",
        "policies/default.yaml",
        *(f".github/workflows/{w}" for w in WORKFLOWS),
        ".github/CODEOWNERS",
        ".gitignore",
    }
    spec = yaml.safe_load((project / "models/pricing/model.yaml").read_text())
    assert spec["features"] == {"numeric": ["age", "bmi", "children"], "categorical": ["sex", "smoker", "region"]}
    assert spec["target"] == "charges"
    assert spec["data"]["path"] == "data/insurance.csv"
    assert yaml.safe_load((project / "params.yaml").read_text()) == {
        "pricing": {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.05},
    }
    base = yaml.safe_load((project / "policies/base.yaml").read_text())
    assert base["promotion"]["stages"]["production"]["approvers"] == {"users": ["risk-officer"]}
    assert base["governance"]["approvers"] == {"users": ["risk-officer"]}
    assert "@risk-officer" in (project / ".github/CODEOWNERS").read_text()
    assert {"/mlflow.db", "/mlartifacts/"} <= set((project / ".gitignore").read_text().splitlines())
    assert (project / ".git").is_dir()
    assert (project / ".dvc").is_dir()
    assert (project / "data/insurance.csv.dvc").is_file()
    assert "columns that look protected (age, sex)" in result.stderr

    result = invoke(CliRunner(), "validate", cwd=project)
    assert result.exit_code == 0, result.output
    result = invoke(CliRunner(), "train", "pricing", cwd=project)
    assert result.exit_code == 0, result.output
    assert "registered models:/pricing/1" in result.stderr
    # default.yaml adds the training-data rules to base.yaml's: all of them judge a trained model
    rules = gate_rules(project, "pricing", code=1)  # the model card is still empty
    assert {r["rule_id"] for r in rules if r["family"] in ("integrity", "drift")} == {
        "integrity.null_fraction",
        "integrity.duplicate_rows",
        "integrity.conflicting_labels",
        "integrity.train_holdout_overlap",
        "drift.drifted_share",
    }
    assert not [r for r in rules if r["status"] == "error"], rules


def test_init_refuses_to_overwrite_and_writes_nothing(project: Path) -> None:
    (project / "policies").mkdir()
    (project / "policies/base.yaml").write_text("# mine\n")
    (project / "params.yaml").write_text("insurance:\n  n_estimators: 3\n")
    result = invoke(CliRunner(), "init", "--data", "data/insurance.csv", "--target", "charges", cwd=project)
    assert result.exit_code == 2
    assert "never overwrites: policies/base.yaml, params.yaml (its section 'insurance:') already exist" in result.stderr
    assert (project / "policies/base.yaml").read_text() == "# mine\n"
    assert not (project / "models").exists()
    assert not (project / ".git").exists(), "nothing is run either"


def test_init_appends_to_params_and_gitignore_and_infers_classification(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    rows = ["id score,plan,active,approved,Gender"]
    rows += [f"{i * 1.5},{'ab'[i % 2]},{'true' if i % 3 else 'false'},{i % 2},{'mf'[i % 2 == 0]}" for i in range(60)]
    (project / "loans.csv").write_text("\n".join(rows) + "\n")
    (project / "params.yaml").write_text("# mine\nother:\n  x: 1\n")
    (project / ".gitignore").write_text("/.venv/")  # no final newline
    result = invoke(CliRunner(), "init", "--data", "loans.csv", "--target", "approved", "--json", "-", cwd=project)
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert done["model"] == "loans"
    assert done["task"] == "classification"  # 0/1 integers
    assert sorted(done["appended"]) == [".gitignore", "params.yaml"]
    spec = yaml.safe_load((project / "models/loans/model.yaml").read_text())
    assert spec["features"] == {"numeric": ["id score"], "categorical": ["plan", "active", "Gender"]}
    assert spec["estimator"]["class"] == "sklearn.ensemble.RandomForestClassifier"
    assert spec["data"]["split"]["stratify"] is True
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["other"] == {"x": 1}
    assert (project / "params.yaml").read_text().startswith("# mine\n")
    ignored = (project / ".gitignore").read_text().splitlines()
    assert ignored[0] == "/.venv/"
    assert {"/loans.csv", "/mlflow.db", "/mlartifacts/"} <= set(ignored)  # dvc add, then init
    default = yaml.safe_load((project / "policies/default.yaml").read_text())
    assert {r["metric"] for r in default["gates"]["performance"]} == {"roc_auc", "balanced_accuracy"}
    base = yaml.safe_load((project / "policies/base.yaml").read_text())
    assert "approvals" not in base["promotion"]["stages"]["production"], "no approver named: commented out"
    assert "governance" not in base
    assert "# /policies/" in (project / ".github/CODEOWNERS").read_text()
    result = invoke(CliRunner(), "validate", cwd=project)
    assert result.exit_code == 0, result.output


def test_init_declares_free_text_as_text_and_leaves_ids_out(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    words = ["late", "payment", "never", "again", "great", "service", "slow", "refund", "kind", "staff"]
    rows = ["ticket,review,channel,label"]
    rows += [
        f"T-{i:04d},{' '.join(words[(i + k) % 10] for k in range(5))} {i},{'ab'[i % 2]},{i % 2}" for i in range(40)
    ]
    (project / "reviews.csv").write_text("\n".join(rows) + "\n")
    result = invoke(CliRunner(), "init", "--data", "reviews.csv", "--target", "label", "--json", "-", cwd=project)
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load((project / "models/reviews/model.yaml").read_text())
    # a categorical 'review' would be refused by validate (every value distinct); an id carries nothing
    assert spec["features"] == {"numeric": [], "categorical": ["channel"], "text": ["review"]}
    assert "left out as ids (a distinct short value in every row): ticket" in result.stderr
    result = invoke(CliRunner(), "validate", cwd=project)
    assert result.exit_code == 0, result.output


def test_init_without_a_model_validates(tmp_path: Path) -> None:
    result = invoke(CliRunner(), "init", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "models/.gitkeep").is_file()
    assert not (tmp_path / ".dvc").exists()
    result = invoke(CliRunner(), "validate", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "0 model(s), 2 policy file(s)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "data/insurance.csv"], "--data needs --target"),
        (["--target", "charges"], "need --data"),
        (["--data", "data/nosuch.csv", "--target", "charges"], "data file not found: data/nosuch.csv"),
        (["--data", "data/insurance.csv", "--target", "charge"], "'charge' is not a column of data/insurance.csv"),
        (["--data", "data/insurance.csv", "--target", "charges", "--model", "Bad Name"], "must match"),
        (["--actions", "not a repo"], "--actions must be OWNER/REPO@REF"),
    ],
)
def test_init_rejects_bad_arguments(project: Path, args: list[str], message: str) -> None:
    result = invoke(CliRunner(), "init", *args, cwd=project)
    assert result.exit_code == 2
    assert message in result.stderr


def test_data_outside_the_folder_is_refused(project: Path) -> None:
    inner = project / "inner"
    inner.mkdir()
    result = invoke(CliRunner(), "init", "--data", "../data/insurance.csv", "--target", "charges", cwd=inner)
    assert result.exit_code == 2
    assert "copy the data into the repo first" in result.stderr


def test_actions_option_names_where_the_actions_live(tmp_path: Path) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    result = invoke(CliRunner(), "init", "--actions", f"acme/mlgate@{sha}", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    for name in WORKFLOWS:
        text = (tmp_path / ".github/workflows" / name).read_text()
        uses = re.findall(r"uses: (\S+/action/\S+)", text)
        assert uses, name
        assert all(u.startswith("acme/mlgate/action/") and u.endswith(f"@{sha}") for u in uses), uses
        assert "<owner>" not in text


def test_the_readme_snippet_is_the_propose_template() -> None:
    readme = (PROJECT / "README.md").read_text()
    block = re.search(r"```yaml\n(# On every pull request.*?\nname: mlgate propose\n.*?)```", readme, re.DOTALL)
    assert block, "README: the 'Use mlgate in your repository' workflow"
    assert block.group(1) == render_workflow("propose", WorkflowParams.scaffold())


@pytest.mark.parametrize("name", WORKFLOW_TEMPLATES)
def test_this_repos_workflows_are_the_templates_rendered(name: str) -> None:
    """One source: .github/workflows/NAME.yml is, byte for byte, the template `mlgate init` renders,
    with this repository's parameters (local actions, no name prefix, mlgate's own paths re-gate all).

    After editing a template: scripts/render-workflows.
    """
    ours = (PROJECT / ".github/workflows" / f"{name}.yml").read_text(encoding="utf-8")
    assert ours == render_workflow(name, THIS_REPO), f"run scripts/render-workflows: {name}.yml drifted"


@pytest.mark.parametrize("name", WORKFLOW_TEMPLATES)
def test_init_and_this_repo_differ_only_in_the_parameters(name: str) -> None:
    """The scaffold and this repo's rendering differ only where a parameter is: every other line is equal."""
    ours = render_workflow(name, THIS_REPO).splitlines()
    theirs = render_workflow(name, WorkflowParams.scaffold()).splitlines()
    extra = {"# this repo is mlgate itself", "--everything src/"}
    ours = [line for line in ours if not any(line.strip().startswith(e) for e in extra)]
    assert len(ours) == len(theirs)
    for mine, init in zip(ours, theirs, strict=True):
        if mine != init:
            normalised = mine.replace("./action/", "<owner>/<repo>/action/")
            normalised = re.sub(r"(<owner>/<repo>/action/[a-z]+)", r"\1@v1", normalised)
            normalised = re.sub(r"^name: ", "name: mlgate ", normalised)
            normalised = re.sub(r"group: ", "group: mlgate-", normalised)
            normalised = re.sub(r'workflows: \["', 'workflows: ["mlgate ', normalised)  # site.yml's workflow_run
            assert normalised == init, (mine, init)


def test_the_propose_workflows_upload_the_report_the_comment_points_to() -> None:
    for params in (THIS_REPO, WorkflowParams.scaffold()):
        doc = yaml.safe_load(render_workflow("propose", params))
        steps = doc["jobs"]["model"]["steps"]
        [upload] = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
        assert upload["with"]["name"] == "mlgate-report-${{ matrix.model }}"
        assert upload["with"]["path"] == "${{ runner.temp }}/mlgate/${{ matrix.model }}"


@pytest.mark.parametrize(
    ("stem", "name"), [("insurance", "insurance"), ("German Credit", "german-credit"), ("__", "model")]
)
def test_default_model_name(stem: str, name: str) -> None:
    assert default_name(Path(f"{stem}.csv")) == name


# --------------------------------------------------------------------------- issue #23: init friction


def test_numeric_ids_are_left_out_and_real_numbers_kept(tmp_path: Path) -> None:
    """On main before #23 every integer column was a feature: `id` (named) and `seq` (a row count) too."""
    project = tmp_path / "p"
    project.mkdir()
    n = 60
    order = [(i * 37) % n for i in range(n)]  # a permutation: ids are distinct but not sorted
    rows = ["id,seq,customer_id,store_id,income,id score,plan,approved"]
    rows += [
        f"{1000 + order[i]},{i},{7 * order[i] + 3},{i % 4},{20000 + 13 * order[i] ** 2},{i * 1.5},{'ab'[i % 2]},{i % 2}"
        for i in range(n)
    ]
    (project / "loans.csv").write_text("\n".join(rows) + "\n")
    result = invoke(CliRunner(), "init", "--data", "loans.csv", "--target", "approved", "--json", "-", cwd=project)
    assert result.exit_code == 0, result.output
    spec_text = (project / "models/loans/model.yaml").read_text()
    spec = yaml.safe_load(spec_text)
    # customer_id: named like one, distinct per row (not consecutive); seq: unnamed but counts the rows;
    # store_id repeats (a grouping), income is distinct but not consecutive, 'id score' holds floats
    assert spec["features"] == {"numeric": ["store_id", "income", "id score"], "categorical": ["plan"]}
    notes = json.loads(result.stdout)["notes"]
    assert "left out as ids (named like an id, a distinct integer in every row): id, customer_id" in notes
    assert "left out as ids (consecutive distinct integers: a row number): seq" in notes
    assert "# left out, named like an id, a distinct integer in every row: customer_id" in spec_text
    assert "# left out, consecutive distinct integers: a row number: seq" in spec_text
    assert "left out as ids (consecutive distinct integers: a row number): seq" in result.stderr
    result = invoke(CliRunner(), "validate", cwd=project)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("name", "values", "reason"),
    [
        ("id", [(i * 37) % 40 + 7 for i in range(40)], "named like an id, a distinct integer in every row"),
        ("customerId", list(range(0, 400, 10)), "named like an id, a distinct integer in every row"),
        ("Unnamed: 0", list(range(40)), "named like an id, a distinct integer in every row"),
        ("n", list(range(40, 0, -1)), "consecutive distinct integers: a row number"),
        ("idle_time", list(range(0, 400, 10)), None),  # a measurement that merely starts with "id"
        ("order_id", list(range(20)) * 2, None),  # repeats: a grouping, not a row key
        ("income", [3 * i * i for i in range(40)], None),  # distinct, not consecutive, not named
        ("row_id", list(range(10)), None),  # too few rows to tell
    ],
)
def test_id_reason(name: str, values: list[int], reason: str | None) -> None:
    import pandas as pd

    from mlgate.data import id_reason

    found = id_reason(name, pd.Series(values))
    assert (str(found) if found else None) == reason


SCORES = PROJECT / "tests/data/predictions/adult_scores.csv"


def gate_rules(project: Path, model: str, code: int) -> list[dict[str, object]]:
    """Gate ``model`` (MLflow unreachable: a predictions gate never needs it); its rules by id."""
    out = project.parent / f"{model}-verdict.json"
    result = invoke(CliRunner(), "gate", model, "--json", str(out), cwd=project)
    assert result.exit_code == code, result.output
    return json.loads(out.read_text())["rules"]


def test_init_audits_a_predictions_file_that_gates_on_the_first_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before #23 init could only scaffold a trained model, and its base policy's drift rule was an
    error on a predictions spec without data.reference (conflicting_labels and duplicate_rows failed
    on the audit file's few columns): a predictions spec could not pass on its base policy."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    project = tmp_path / "audit"
    (project / "data").mkdir(parents=True)
    shutil.copy2(SCORES, project / "data/scores.csv")
    args = ("--data", "data/scores.csv", "--target", "income", "--score-column", "score", "--threshold", "0.4")
    result = invoke(CliRunner(), "init", "--model", "vendor", *args, "--json", "-", cwd=project)
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert "policies/predictions.yaml" in done["created"]
    assert "policies/default.yaml" not in done["created"]
    assert "params.yaml" not in done["created"], "nothing to train: no estimator params"
    spec = yaml.safe_load((project / "models/vendor/model.yaml").read_text())
    assert spec["predictions"] == {
        "path": "data/scores.csv",
        "label_column": "income",
        "score_column": "score",
        "threshold": 0.4,
    }
    assert spec["positive_label"] == ">50K"
    assert spec["policy"] == "policies/predictions.yaml"
    assert spec["features"] == {
        "numeric": ["age", "education_num", "hours_per_week"],
        "categorical": ["sex", "race"],
    }
    git("add", "-A", cwd=project)
    git("commit", "-qm", "audit", cwd=project)

    rules = gate_rules(project, "vendor", code=1)
    failed = {r["rule_id"]: r["status"] for r in rules if r["status"] != "pass"}
    # only what the user must write blocks: the model card init leaves empty on purpose
    assert failed == {
        "documentation.model_card.intended_use": "fail",
        "documentation.model_card.limitations": "fail",
    }
    assert {r["family"] for r in rules} == {"performance", "integrity", "documentation"}
    assert {r["rule_id"] for r in rules if r["family"] == "integrity"} == {"integrity.null_fraction"}

    text = (project / "models/vendor/model.yaml").read_text()
    text = text.replace('intended_use: ""', "intended_use: Audit a vendor score.")
    (project / "models/vendor/model.yaml").write_text(text.replace('limitations: ""', "limitations: One year."))
    git("commit", "-qam", "model card", cwd=project)
    rules = gate_rules(project, "vendor", code=0)
    assert all(r["status"] == "pass" for r in rules), rules
    result = invoke(CliRunner(), "check", "vendor", cwd=project)
    assert result.exit_code == 0, result.output


def test_a_predictions_spec_on_the_base_policy_has_no_error(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base policy holds only rules that apply to every spec: a hand-written audit naming it passes."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    result = invoke(CliRunner(), "init", "--data", "data/insurance.csv", "--target", "charges", cwd=project)
    assert result.exit_code == 0, result.output
    base = yaml.safe_load((project / "policies/base.yaml").read_text())
    assert set(base["gates"]) == {"documentation", "integrity"}
    default = yaml.safe_load((project / "policies/default.yaml").read_text())
    assert default["extends"] == "base.yaml"
    assert {r["metric"] for r in default["gates"]["integrity"]} == {
        "duplicate_rows",
        "conflicting_labels",
        "train_holdout_overlap",
    }
    assert [r["metric"] for r in default["gates"]["drift"]] == ["drifted_share"]
    shutil.copy2(SCORES, project / "data/scores.csv")
    dvc("add", "-q", "data/scores.csv", cwd=project)
    (project / "models/audit").mkdir()
    (project / "models/audit/model.yaml").write_text(
        "name: audit\ndescription: a vendor score\nowners: [me]\ntask: classification\n"
        "predictions: {path: data/scores.csv, label_column: income, score_column: score, threshold: 0.4}\n"
        'positive_label: ">50K"\nfeatures: {numeric: [age, hours_per_week], categorical: [sex]}\n'
        "model_card: {intended_use: audit, limitations: one year}\n"
        "monitoring: {owner: me, rollback_procedure: stop using it}\npolicy: policies/base.yaml\n"
    )
    git("add", "-A", cwd=project)
    git("commit", "-qm", "audit", cwd=project)
    rules = gate_rules(project, "audit", code=0)
    assert {r["status"] for r in rules} == {"pass"}, rules
    assert {r["family"] for r in rules} == {"performance", "integrity", "documentation"}


def test_base_branch_that_does_not_exist_names_the_branches(tmp_path: Path) -> None:
    """`--base master` where the branch is `main`: before #23 `git cannot compare master...HEAD:
    'git <command> [<revision>...] -- [<file>...]'` (check, affected, gate) or exit 3 (promote --plan)."""
    result = invoke(CliRunner(), "init", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    git("add", "-A", cwd=tmp_path)
    git("commit", "-qm", "init", cwd=tmp_path)
    git("branch", "release-2", cwd=tmp_path)
    for command in (("check",), ("affected",), ("promote", "--plan")):
        result = invoke(CliRunner(), *command, "--base", "master", cwd=tmp_path)
        assert result.exit_code == 2, (command, result.output)
        assert "--base master: no branch or commit of that name" in result.stderr, command
        assert "its branches: main, release-2" in result.stderr, command
        assert "hint: pass --base main, or fetch 'master' first" in result.stderr, command


def test_init_audits_decided_labels_with_a_prediction_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd
    from sklearn.metrics import balanced_accuracy_score

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    project = tmp_path / "audit"
    (project / "data").mkdir(parents=True)
    frame = pd.read_csv(SCORES)
    frame["decided"] = frame["score"].ge(0.4).map({True: ">50K", False: "<=50K"})
    frame.drop(columns=["score"]).to_csv(project / "data/decisions.csv", index=False)
    args = ("--data", "data/decisions.csv", "--target", "income", "--prediction-column", "decided")
    result = invoke(CliRunner(), "init", *args, "--json", "-", cwd=project)
    assert result.exit_code == 0, result.output
    spec_text = (project / "models/decisions/model.yaml").read_text()
    spec_text = spec_text.replace('intended_use: ""', "intended_use: audit")
    spec_text = spec_text.replace('limitations: ""', "limitations: x")
    (project / "models/decisions/model.yaml").write_text(spec_text)
    spec = yaml.safe_load(spec_text)
    assert spec["predictions"] == {
        "path": "data/decisions.csv",
        "label_column": "income",
        "prediction_column": "decided",
    }
    assert "decided" not in spec["features"]["categorical"]
    policy = yaml.safe_load((project / "policies/predictions.yaml").read_text())
    assert [r["metric"] for r in policy["gates"]["performance"]] == ["balanced_accuracy"]  # no scores: no ROC AUC
    git("add", "-A", cwd=project)
    git("commit", "-qm", "audit", cwd=project)
    rules = gate_rules(project, "decisions", code=0)
    accuracy = next(r for r in rules if r["rule_id"] == "performance.balanced_accuracy")
    expected = balanced_accuracy_score(frame["income"], frame["decided"])
    assert accuracy["observed"] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--score-column", "score"], "need --data"),
        (
            ["--data", "data/s.csv", "--target", "income", "--score-column", "score", "--prediction-column", "score"],
            "give one of --score-column",
        ),
        (
            ["--data", "data/s.csv", "--target", "income", "--score-column", "nope"],
            "--score-column 'nope' is not a column",
        ),
        (["--data", "data/s.csv", "--target", "income", "--prediction-column", "income"], "is also --target"),
    ],
)
def test_init_audit_rejects_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "data").mkdir()
    shutil.copy2(SCORES, tmp_path / "data/s.csv")
    result = invoke(CliRunner(), "init", *args, cwd=tmp_path)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "models").exists()
