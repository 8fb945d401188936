"""Malformed inputs: each is rejected with exit 2, one exact located message, and no registration.

Every case edits a fresh copy of a real governed repo (git + DVC, see ``conftest.py``) and runs
``mlgate train`` in-process. The expected line is the whole problem as printed:
``file:line:col: key -> path: message``, with the file relative to the repo. Bad input must be
caught before MLflow is touched, so neither ``mlflow.db`` nor ``mlartifacts/`` may appear.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import invoke
from mlgate.lineage import file_md5

SPEC = "models/credit/model.yaml"
RELEASE = "models/credit/release.yaml"
POLICY = "policies/credit.yaml"
BASE = "policies/base.yaml"
PARAMS = "params.yaml"
CREDIT_CSV = "data/german_credit.csv"
INSURANCE_SPEC = "models/insurance/model.yaml"
INSURANCE_CSV = "data/insurance.csv"

Edit = Callable[[Path], None]


def replace(repo: Path, rel: str, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``repo / rel`` by ``new``."""
    path = repo / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def edit(rel: str, old: str, new: str) -> Edit:
    return lambda repo: replace(repo, rel, old, new)


def recorded(rel: str, transform: Callable[[str], str]) -> Edit:
    """Change a data file and record the change in its .dvc file, as `dvc add` would."""

    def apply(repo: Path) -> None:
        path = repo / rel
        old_md5, old_size = file_md5(path), path.stat().st_size
        path.write_text(transform(path.read_text(encoding="utf-8")), encoding="utf-8")
        pointer = f"{rel}.dvc"
        replace(repo, pointer, f"md5: {old_md5}", f"md5: {file_md5(path)}")
        replace(repo, pointer, f"size: {old_size}", f"size: {path.stat().st_size}")

    return apply


def delete(*rels: str) -> Edit:
    def apply(repo: Path) -> None:
        for rel in rels:
            (repo / rel).unlink()

    return apply


def case(case_id: str, expected: str, *edits: Edit, model: str = "credit") -> object:
    return pytest.param(model, edits, expected, id=case_id)


CASES = [
    # --------------------------------------------------------------- YAML syntax
    case(
        "yaml-unclosed-bracket",
        f"{SPEC}:7:5: expected ',' or ']', but got ':' "
        "(in the list opened at line 6, column 9: is its ']' missing?)",
        edit(SPEC, "owners: [credit-risk-team, ana.lima]", "owners: [credit-risk-team, ana.lima"),
    ),
    case(
        "yaml-bad-indentation-spec",
        f"{SPEC}:12:4: bad indentation: a key here must line up with a key above it "
        "(while parsing the mapping at line 9, column 3)",
        edit(SPEC, "    seed: 42\n", "   seed: 42\n"),
    ),
    case(
        "yaml-bad-indentation-policy",
        f"{POLICY}:7:12: mapping values are not allowed here: check this line's indentation, "
        "or quote a value that contains ': '",
        edit(POLICY, "      min: 0.70\n", "        min: 0.70\n"),
    ),
    case(
        "yaml-tab-indentation-spec",
        f"{SPEC}:9:1: tab character used for indentation: YAML indents with spaces only",
        edit(SPEC, "  path: data/german_credit.csv", "\tpath: data/german_credit.csv"),
    ),
    case(
        "yaml-tab-indentation-policy",
        f"{BASE}:13:1: tab character used for indentation: YAML indents with spaces only",
        edit(BASE, "      max: 0.05\n", "\t  max: 0.05\n"),
    ),
    case(
        "yaml-empty-spec",
        f"{SPEC}:1:1: file is empty: expected a mapping of keys",
        lambda repo: (repo / SPEC).write_text("# nothing yet\n"),
    ),
    # --------------------------------------------------------------- duplicate keys
    case(
        "duplicate-key-spec",
        f'{SPEC}:8:1: found duplicate key "task" with value "regression" (original value: '
        '"classification"): each key may appear only once in a governance file',
        edit(SPEC, "task: classification\n", "task: classification\ntask: regression\n"),
    ),
    case(
        "duplicate-key-policy",
        f'{POLICY}:8:7: found duplicate key "min" with value "0.75" (original value: '
        '"0.7"): each key may appear only once in a governance file',
        edit(POLICY, "      min: 0.70\n", "      min: 0.70\n      min: 0.75\n"),
    ),
    case(
        "duplicate-key-params",
        f'{PARAMS}:5:3: found duplicate key "max_depth" with value "8" (original value: '
        '"6"): each key may appear only once in a governance file',
        edit(PARAMS, "  max_depth: 6\n", "  max_depth: 6\n  max_depth: 8\n"),
    ),
    # --------------------------------------------------------------- unknown keys
    case(
        "unknown-key-spec-suggested",
        f"{SPEC}:26:1: sed: unknown key (did you mean 'seed'?)",
        edit(SPEC, "seed: 42\nmodel_card", "sed: 42\nmodel_card"),
    ),
    case(
        "unknown-key-spec-no-suggestion",
        f"{SPEC}:49:1: colour: unknown key (allowed: name, description, owners, task, data, "
        "target, positive_label, features, sensitive_features, estimator, seed, model_card, "
        "monitoring, policy)",
        edit(
            SPEC, "policy: policies/credit.yaml\n", "policy: policies/credit.yaml\ncolour: blue\n"
        ),
    ),
    case(
        "unknown-key-policy-rule",
        f"{POLICY}:17:7: gates -> fairness -> 0 -> mni: unknown key (did you mean 'min'?)",
        edit(POLICY, "      min: 0.8\n", "      mni: 0.8\n"),
    ),
    case(
        "unknown-key-policy-settings",
        f"{BASE}:29:5: settings -> drift -> bins: unknown key (did you mean 'psi_bins'?)",
        edit(BASE, "    psi_bins: 10\n", "    bins: 10\n"),
    ),
    case(
        "unknown-key-release",
        f"{RELEASE}:3:1: stagse: unknown key (did you mean 'stages'?)",
        edit(RELEASE, "stages:", "stagse:"),
    ),
    # --------------------------------------------------------------- wrong types
    case(
        "type-string-for-threshold",
        f"{POLICY}:7:12: gates -> performance -> 0 -> min: expected a number, got string '0.70'",
        edit(POLICY, "      min: 0.70\n", '      min: "0.70"\n'),
    ),
    case(
        "type-bool-for-threshold",
        f"{POLICY}:20:12: gates -> fairness -> 1 -> max: expected a number, got boolean true",
        edit(POLICY, "      max: 0.2\n", "      max: true\n"),
    ),
    case(
        "type-list-for-mapping",
        f"{SPEC}:10:10: data -> split: expected a mapping, got a list",
        edit(
            SPEC,
            "  split:\n    holdout_fraction: 0.25\n    seed: 42\n    stratify: true\n",
            "  split: [0.25, 42, true]\n",
        ),
    ),
    case(
        "type-string-for-list",
        f"{SPEC}:6:9: owners: expected a list, got string 'credit-risk-team'",
        edit(SPEC, "owners: [credit-risk-team, ana.lima]", "owners: credit-risk-team"),
    ),
    case(
        "type-release-version-float",
        f"{RELEASE}:4:12: stages -> staging: expected an integer, got number 1.5",
        edit(RELEASE, "staging: null", "staging: 1.5"),
    ),
    case(
        "type-release-version-string",
        f"{RELEASE}:4:12: stages -> staging: expected an integer, got string '3'",
        edit(RELEASE, "staging: null", 'staging: "3"'),
    ),
    case(
        "type-param-string-for-int",
        f"{PARAMS}:3:17: credit -> n_estimators: The 'n_estimators' parameter of "
        "RandomForestClassifier must be an int in the range [1, inf). Got '200' instead.",
        edit(PARAMS, "n_estimators: 200", 'n_estimators: "200"'),
    ),
    case(
        "range-holdout-fraction",
        f"{SPEC}:11:23: data -> split -> holdout_fraction: input should be less than 1",
        edit(SPEC, "holdout_fraction: 0.25", "holdout_fraction: 1.5"),
    ),
    # --------------------------------------------------------------- missing / invalid values
    case(
        "missing-required-spec-key",
        f"{SPEC}:1:1: task: required key is missing",
        edit(SPEC, "task: classification\n", ""),
    ),
    case(
        "missing-required-rule-metric",
        f"{POLICY}:6:7: gates -> performance -> 0 -> metric: required key is missing",
        edit(POLICY, "    - metric: roc_auc\n      min: 0.70\n", "    - min: 0.70\n"),
    ),
    case(
        "rule-min-and-max",
        f"{POLICY}:6:7: gates -> performance -> 0: give exactly one comparison "
        "(min, max, max_regression), got 2",
        edit(POLICY, "      min: 0.70\n", "      min: 0.70\n      max: 0.99\n"),
    ),
    case(
        "rule-no-comparison",
        f"{POLICY}:6:7: gates -> performance -> 0: give exactly one comparison "
        "(min, max, max_regression), got 0",
        edit(POLICY, "      min: 0.70\n", ""),
    ),
    case(
        "invalid-severity",
        f"{POLICY}:13:17: gates -> performance -> 2 -> severity: expected 'block' or 'warn', "
        "got string 'fatal'",
        edit(POLICY, "severity: warn", "severity: fatal"),
    ),
    case(
        "invalid-task",
        f"{SPEC}:7:7: task: expected 'classification' or 'regression', got string 'clustering'",
        edit(SPEC, "task: classification", "task: clustering"),
    ),
    case(
        "invalid-metric",
        f"{POLICY}:6:15: gates -> performance -> 0 -> metric: expected 'accuracy', "
        "'balanced_accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'pr_auc', 'log_loss', "
        "'brier', 'r2', 'rmse', 'mae' or 'mape', got string 'roc_aux'",
        edit(POLICY, "    - metric: roc_auc\n      min", "    - metric: roc_aux\n      min"),
    ),
    case(
        "metric-wrong-task",
        f"{POLICY}:6:15: gates -> performance -> 0 -> metric: metric 'r2' does not apply to "
        "classification model 'credit'",
        edit(POLICY, "    - metric: roc_auc\n      min", "    - metric: r2\n      min"),
    ),
    # --------------------------------------------------------------- policy files
    case(
        "policy-file-missing",
        f"{SPEC}:48:9: policy: policy file not found: policies/nosuch.yaml",
        edit(SPEC, "policy: policies/credit.yaml", "policy: policies/nosuch.yaml"),
    ),
    case(
        "policy-extends-missing",
        f"{POLICY}:2:10: extends: policy file not found: policies/nosuch.yaml",
        edit(POLICY, "extends: base.yaml", "extends: nosuch.yaml"),
    ),
    case(
        "policy-extends-cycle",
        f"{BASE}:2:10: extends: extends cycle: policies/credit.yaml -> policies/base.yaml -> "
        "policies/credit.yaml",
        edit(BASE, "description: Baseline", "extends: credit.yaml\ndescription: Baseline"),
    ),
    case(
        "policy-absolute-path",
        f"{SPEC}:48:9: policy: must be a file under policies/ in this repository, "
        "got '/tmp/lax.yaml'",
        edit(SPEC, "policy: policies/credit.yaml", "policy: /tmp/lax.yaml"),
    ),
    case(
        "policy-parent-path",
        f"{SPEC}:48:9: policy: must be a file under policies/ in this repository, "
        "got '../lax/policy.yaml'",
        edit(SPEC, "policy: policies/credit.yaml", "policy: ../lax/policy.yaml"),
    ),
    case(
        "policy-outside-policies",
        f"{SPEC}:48:9: policy: must be a file under policies/ in this repository, "
        "got 'models/credit/policy.yaml'",
        edit(SPEC, "policy: policies/credit.yaml", "policy: models/credit/policy.yaml"),
    ),
    case(
        "policy-windows-path",
        f"{SPEC}:48:9: policy: must be a file under policies/ in this repository, "
        "got 'policies\\\\credit.yaml'",
        edit(SPEC, "policy: policies/credit.yaml", "policy: policies\\credit.yaml"),
    ),
    case(
        "policy-not-yaml",
        f"{SPEC}:48:9: policy: must be a .yaml or .yml file under policies/, "
        "got 'policies/credit.json'",
        edit(SPEC, "policy: policies/credit.yaml", "policy: policies/credit.json"),
    ),
    case(
        "policy-extends-absolute",
        f"{POLICY}:2:10: extends: must name a file under policies/ in this repository, "
        "got '/tmp/lax.yaml'",
        edit(POLICY, "extends: base.yaml", "extends: /tmp/lax.yaml"),
    ),
    case(
        "policy-extends-leaves-policies",
        f"{POLICY}:2:10: extends: must name a file under policies/ in this repository, "
        "got '../models/credit/model.yaml'",
        edit(POLICY, "extends: base.yaml", "extends: ../models/credit/model.yaml"),
    ),
    case(
        "policy-unknown-sensitive-feature",
        f"{POLICY}:21:28: gates -> fairness -> 1 -> sensitive_features -> 0: 'gender' is not a "
        "sensitive feature of model 'credit'",
        edit(POLICY, "sensitive_features: [sex]", "sensitive_features: [gender]"),
    ),
    # --------------------------------------------------------------- release cross-checks
    case(
        "release-other-model",
        f"{RELEASE}:2:8: model: names model 'insurance' but sits in models/credit/",
        edit(RELEASE, "model: credit", "model: insurance"),
    ),
    case(
        "release-undefined-stage",
        f"{RELEASE}:4:3: stages -> canary: stage 'canary' is not defined in policies/credit.yaml "
        "(stages: staging, production)",
        edit(RELEASE, "staging: null", "canary: null"),
    ),
    # --------------------------------------------------------------- estimator and params
    case(
        "estimator-unknown-class",
        f"{SPEC}:25:10: estimator -> class: no class 'RandomForestClassifer' in module "
        "'sklearn.ensemble' (did you mean 'RandomForestClassifier'?)",
        edit(SPEC, "RandomForestClassifier", "RandomForestClassifer"),
    ),
    case(
        "estimator-unknown-module",
        f"{SPEC}:25:10: estimator -> class: no module 'sklearn.ensembles'",
        edit(SPEC, "sklearn.ensemble.", "sklearn.ensembles."),
    ),
    case(
        "estimator-not-sklearn",
        f"{SPEC}:25:10: estimator -> class: 'os.system' is not a scikit-learn class: "
        "only sklearn.* estimators may be named",
        edit(SPEC, "sklearn.ensemble.RandomForestClassifier", "os.system"),
    ),
    case(
        "estimator-wrong-task",
        f"{SPEC}:25:10: estimator -> class: 'sklearn.ensemble.RandomForestRegressor' is not a "
        "classifier, but the task is classification",
        edit(SPEC, "RandomForestClassifier", "RandomForestRegressor"),
    ),
    case(
        "param-unknown",
        f"{PARAMS}:4:3: credit -> max_dept: unknown parameter of RandomForestClassifier "
        "(did you mean 'max_depth'?)",
        edit(PARAMS, "max_depth: 6", "max_dept: 6"),
    ),
    case(
        "params-section-missing",
        f"{PARAMS}:1:1: no 'credit:' section in params.yaml: add one with the estimator params",
        edit(PARAMS, "credit:\n  n_estimators: 200\n  max_depth: 6\n  min_samples_leaf: 5\n", ""),
    ),
    # --------------------------------------------------------------- spec identity
    case(
        "spec-name-differs-from-dir",
        f"{SPEC}:2:7: name: the spec in models/credit/ must be named 'credit', not 'scoring'",
        edit(SPEC, "name: credit", "name: scoring"),
    ),
    case(
        "model-does-not-exist",
        "no spec for model 'nosuch': models/nosuch/model.yaml does not exist",
        model="nosuch",
    ),
    # --------------------------------------------------------------- data vs spec
    case(
        "feature-not-in-data",
        f"{SPEC}:17:43: features -> numeric -> 3: column 'jobs' not found in "
        "data/german_credit.csv (did you mean 'job'?)",
        edit(SPEC, "age, job]", "age, jobs]"),
    ),
    case(
        "sensitive-feature-not-in-data",
        f"{INSURANCE_SPEC}:17:11: sensitive_features -> 0 -> name: column 'gender' not found in "
        "data/insurance.csv (columns: age, sex, bmi, children, smoker, region, charges)",
        edit(INSURANCE_SPEC, "  - name: sex", "  - name: gender"),
        model="insurance",
    ),
    case(
        "sensitive-column-dropped-from-data",
        f"{SPEC}:20:11: sensitive_features -> 0 -> name: column 'sex' not found in "
        "data/german_credit.csv (columns: risk, gender, job, housing, saving_accounts, "
        "checking_account, credit_amount, duration, purpose, age)",
        recorded(CREDIT_CSV, lambda text: text.replace("risk,sex,", "risk,gender,", 1)),
    ),
    case(
        "target-not-in-data",
        f"{SPEC}:14:9: target: column 'outcome' not found in data/german_credit.csv "
        "(columns: risk, sex, job, housing, saving_accounts, checking_account, credit_amount, "
        "duration, purpose, age)",
        edit(SPEC, "target: risk", "target: outcome"),
    ),
    case(
        "data-path-not-found",
        f"{SPEC}:9:9: data -> path: data file data/nosuch.csv does not exist: "
        "track it with `dvc add data/nosuch.csv` and commit the .dvc file",
        edit(SPEC, "path: data/german_credit.csv", "path: data/nosuch.csv"),
    ),
    case(
        "data-path-absolute",
        f"{SPEC}:9:9: data -> path: must be a relative path to a file in this repository, "
        "got '/etc/passwd'",
        edit(SPEC, "path: data/german_credit.csv", "path: /etc/passwd"),
    ),
    case(
        "data-path-parent",
        f"{SPEC}:9:9: data -> path: must be a relative path to a file in this repository, "
        "got '../data/german_credit.csv'",
        edit(SPEC, "path: data/german_credit.csv", "path: ../data/german_credit.csv"),
    ),
    case(
        "data-path-empty",
        f"{SPEC}:9:9: data -> path: must be a relative path to a file in this repository, "
        "got ''",
        edit(SPEC, "path: data/german_credit.csv", 'path: ""'),
    ),
    case(
        "data-path-windows-drive",
        f"{SPEC}:9:9: data -> path: must be a relative path to a file in this repository, "
        "got 'C:\\\\data\\\\german_credit.csv'",
        edit(SPEC, "path: data/german_credit.csv", "path: 'C:\\data\\german_credit.csv'"),
    ),
    case(
        "data-path-symlink-out-of-repo",
        f"{SPEC}:9:9: data -> path: data file data/linked.csv is a link to a file outside this "
        "repository: track the file itself",
        lambda repo: (repo / "data/linked.csv").symlink_to(repo.parent / "outside.csv"),
        edit(SPEC, "path: data/german_credit.csv", "path: data/linked.csv"),
    ),
    case(
        "data-file-deleted-with-dvc-pointer",
        f"{SPEC}:9:9: data -> path: data file {CREDIT_CSV} does not exist: "
        f"track it with `dvc add {CREDIT_CSV}` and commit the .dvc file",
        delete(CREDIT_CSV, f"{CREDIT_CSV}.dvc"),
    ),
    case(
        "data-md5-mismatch",
        f"{SPEC}:9:9: data -> path: data/german_credit.csv differs from what "
        "data/german_credit.csv.dvc records (md5 dca89388468c3f44301df308726da0e0 vs "
        "53347560ad00a8e0f695411d0517f8f0): run "
        "`dvc add data/german_credit.csv` and commit to record the change, or "
        "`dvc checkout data/german_credit.csv` to restore",
        edit(CREDIT_CSV, "1,male,2,own,not_known,little,1169,6,radio/TV,67\n", ""),
    ),
    case(
        "data-header-only",
        f"{CREDIT_CSV}:2: no data rows below the header",
        recorded(CREDIT_CSV, lambda text: text.splitlines(keepends=True)[0]),
    ),
    case(
        "data-non-numeric-feature",
        f"{CREDIT_CSV}:9: credit_amount: non-numeric value 'lots' in a numeric column "
        "(1 row like this)",
        recorded(CREDIT_CSV, lambda text: text.replace(",6948,36,car,35", ",lots,36,car,35")),
    ),
    case(
        "data-non-numeric-target-regression",
        f"{INSURANCE_CSV}:3: charges: non-numeric value 'unknown' in a numeric column "
        "(1 row like this)",
        recorded(
            INSURANCE_CSV, lambda text: text.replace(",southeast,1725.5523", ",southeast,unknown")
        ),
        model="insurance",
    ),
    case(
        "data-target-one-class",
        f"{SPEC}:14:9: target: the target 'risk' has one class (1) in data/german_credit.csv: "
        "a classifier needs at least two",
        recorded(CREDIT_CSV, lambda text: re.sub(r"^0,", "1,", text, flags=re.MULTILINE)),
    ),
]


def stderr_lines(result: Result) -> list[str]:
    return [line.removeprefix("error: ") for line in result.stderr.splitlines()]


def assert_not_registered(repo: Path) -> None:
    assert not (repo / "mlflow.db").exists()
    assert not (repo / "mlartifacts").exists()


@pytest.mark.parametrize(("model", "edits", "expected"), CASES)
def test_malformed_input_is_rejected(
    governed_repo: Path, cli: CliRunner, model: str, edits: tuple[Edit, ...], expected: str
) -> None:
    for apply in edits:
        apply(governed_repo)
    result = invoke(cli, "train", model, cwd=governed_repo)
    assert result.exit_code == 2, result.output
    assert expected in stderr_lines(result), result.stderr
    assert_not_registered(governed_repo)


def test_unrecoverable_data_is_a_remote_failure(
    governed_repo: Path, template_repo: Path, cli: CliRunner, tmp_path: Path
) -> None:
    """Data DVC tracks but neither the workspace, the cache nor the remote holds: exit 3."""
    empty = tmp_path / "empty-remote"
    empty.mkdir()
    delete(CREDIT_CSV)(governed_repo)
    shutil.rmtree(governed_repo / ".dvc" / "cache")
    replace(governed_repo, ".dvc/config", str(template_repo.parent / "dvc-remote"), str(empty))
    result = invoke(cli, "train", "credit", cwd=governed_repo)
    assert result.exit_code == 3, result.output
    expected = f"dvc pull {CREDIT_CSV} failed: Checkout failed for following targets:"
    assert expected in stderr_lines(result), result.stderr
    assert_not_registered(governed_repo)


MNI = f"{POLICY}:17:7: gates -> fairness -> 0 -> mni: unknown key (did you mean 'min'?)"


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        pytest.param(
            (
                edit(POLICY, "      min: 0.8\n", "      mni: 0.8\n"),
                edit(INSURANCE_SPEC, "task: regression", "task: regresion"),
            ),
            (
                MNI,
                (
                    f"{INSURANCE_SPEC}:5:7: task: expected 'classification' or 'regression', "
                    "got string 'regresion'"
                ),
            ),
            id="two-models",
        ),
        pytest.param(
            (
                edit(POLICY, "      min: 0.8\n", "      mni: 0.8\n"),
                edit(PARAMS, "max_depth: 6", "max_dept: 6"),
            ),
            (
                MNI,
                (
                    f"{PARAMS}:4:3: credit -> max_dept: unknown parameter of "
                    "RandomForestClassifier (did you mean 'max_depth'?)"
                ),
            ),
            id="one-model-policy-and-params",
        ),
    ],
)
def test_validate_reports_every_problem(
    governed_repo: Path, cli: CliRunner, edits: tuple[Edit, ...], expected: tuple[str, ...]
) -> None:
    for apply in edits:
        apply(governed_repo)
    result = invoke(cli, "validate", cwd=governed_repo)
    assert result.exit_code == 2, result.output
    lines = stderr_lines(result)
    missing = [line for line in expected if line not in lines]
    assert not missing, result.stderr
    assert any(line.startswith(f"{len(expected)} problem(s) in ") for line in lines), result.stderr
    assert_not_registered(governed_repo)
