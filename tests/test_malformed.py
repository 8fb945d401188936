"""Malformed inputs: each is rejected with exit 2, one exact located message, and no registration.

Every case edits a fresh copy of a real governed repo (git + DVC, see ``conftest.py``) and runs
``mlgate train`` in-process. The expected line is the whole problem as printed:
``file:line:col: key -> path: message``, with the file relative to the repo. Bad input must be
caught before MLflow is touched, so neither ``mlflow.db`` nor ``mlartifacts/`` may appear.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import PROJECT, invoke
from mlgate.data import file_md5

SPEC = "models/credit/model.yaml"
GATE_INDENT = "\n      "  # a key of a gate rule in policies/*.yaml (a monitoring rule's is indented less)
SPEC_LINES = len((PROJECT / SPEC).read_text().splitlines())  # appended keys start after them
RELEASE = "models/credit/release.yaml"
STAGE_VALUE = 'expected a version number, or {version: N, digest: "sha256:<64 hex digits>"}'
POLICY = "policies/credit.yaml"
BASE = "policies/base.yaml"
PARAMS = "params.yaml"
CREDIT_CSV = "data/german_credit.csv"
INSURANCE_SPEC = "models/insurance/model.yaml"
INSURANCE_CSV = "data/insurance.csv"
DEFAULT_POLICY = "policies/default.yaml"

# Hostile YAML: nine levels of nine aliases (9**9 strings once expanded), and brackets nested far
# beyond Python's recursion limit.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)
DEEP = "extends: base.yaml\ndescription: " + "[" * 500_000 + "]" * 500_000 + "\n"  # < 1 MiB
DEEP_BLOCK = "".join(f"{'  ' * level}k{level}:\n" for level in range(80)) + "  " * 80 + "v: 1\n"
NO_ALIASES = (
    "governance files may not use anchors or aliases (a reviewer must see each value where it "
    "applies, and aliases can expand a few lines into millions of nodes)"
)
PLAIN_TYPES = "governance files hold only mappings, lists, strings, numbers, booleans and null"
TOO_DEEP = "more than 64 levels of nesting: governance files are refused past that depth"

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


def write(rel: str, text: str) -> Edit:
    """Replace the whole of ``repo / rel`` by ``text``."""
    return lambda repo: (repo / rel).write_text(text, encoding="utf-8")


def delete(*rels: str) -> Edit:
    def apply(repo: Path) -> None:
        for rel in rels:
            (repo / rel).unlink()

    return apply


def clear_column(text: str, index: int) -> str:
    """CSV ``text`` with every value of column ``index`` (0-based) left empty."""
    header, *rows = text.splitlines(keepends=True)
    cleared = []
    for row in rows:
        fields = row.rstrip("\n").split(",")
        fields[index] = ""
        cleared.append(",".join(fields) + "\n")
    return header + "".join(cleared)


CREDIT_PARAMS = "credit:\n  n_estimators: 200\n  max_depth: 6\n  min_samples_leaf: 5\n"
ALLOWED = "sklearn.*, xgboost.*, lightgbm.*, catboost.*"
NOT_ALLOWED = (
    f"is not under an allowed estimator module ({ALLOWED}): importing it would run its code; a policy may add "
    "your package with training: {estimator_modules: [...]}"
)


def pinned(text: str) -> str:
    """``text`` with each PIN replaced by a well-formed digest (the release.yaml lines stay readable here)."""
    return text.replace("PIN", '"sha256:' + "a" * 64 + '"')


def stacking(first_class: str = "sklearn.ensemble.RandomForestClassifier", extra: str = "") -> str:
    """A StackingClassifier's params section for credit (line 3: estimators, 4: the first one)."""
    return (
        "credit:\n"
        "  estimators:\n"
        "    - name: rf\n"
        f"      class: {first_class}\n"
        "      params: {n_estimators: 20}\n"
        f"{extra}"
        "    - name: lr\n"
        "      class: sklearn.linear_model.LogisticRegression\n"
        "  final_estimator:\n"
        "    class: sklearn.linear_model.LogisticRegression\n"
    )


STACKING = edit(SPEC, "RandomForestClassifier", "StackingClassifier")
TRAIN_SPEC = "estimator:\n  class: sklearn.ensemble.RandomForestClassifier\n"


def case(case_id: str, expected: str, *edits: Edit, model: str = "credit") -> object:
    return pytest.param(model, edits, expected, id=case_id)


CASES = [
    # --------------------------------------------------------------- YAML syntax
    case(
        "yaml-unclosed-bracket",
        f"{SPEC}:7:5: expected ',' or ']', but got ':' (in the list opened at line 6, column 9: is its ']' missing?)",
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
        "target, positive_label, features, sensitive_features, estimator, train, predictions, seed, model_card, "
        "monitoring, policy, serving, output, decision)",
        edit(SPEC, "policy: policies/credit.yaml\n", "policy: policies/credit.yaml\ncolour: blue\n"),
    ),
    case(
        "unknown-key-policy-rule",
        f"{POLICY}:22:7: gates -> fairness -> 0 -> mni: unknown key (did you mean 'min'?)",
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
        f"{POLICY}:25:12: gates -> fairness -> 1 -> max: expected a number, got boolean true",
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
        f"{RELEASE}:4:12: stages -> staging: {STAGE_VALUE}, got number 1.5",
        edit(RELEASE, "staging: null", "staging: 1.5"),
    ),
    case(
        "type-release-version-string",
        f"{RELEASE}:4:12: stages -> staging: {STAGE_VALUE}, got string '3'",
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
        f"{POLICY}:6:7: gates -> performance -> 0: give exactly one comparison (min, max, max_regression), got 2",
        edit(POLICY, "      min: 0.70\n", "      min: 0.70\n      max: 0.99\n"),
    ),
    case(
        "rule-no-comparison",
        f"{POLICY}:6:7: gates -> performance -> 0: give exactly one comparison (min, max, max_regression), got 0",
        edit(POLICY, "      min: 0.70\n", ""),
    ),
    case(
        "invalid-severity",
        f"{POLICY}:13:17: gates -> performance -> 2 -> severity: expected 'block' or 'warn', got string 'fatal'",
        edit(POLICY, GATE_INDENT + "severity: warn", GATE_INDENT + "severity: fatal"),
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
        "'brier', 'r2', 'rmse', 'mae' or 'mape', got string 'roc_aux' (did you mean 'roc_auc'?)",
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
        f"{BASE}:2:10: extends: extends cycle: policies/credit.yaml -> policies/base.yaml -> policies/credit.yaml",
        edit(BASE, "description: Baseline", "extends: credit.yaml\ndescription: Baseline"),
    ),
    case(
        "policy-absolute-path",
        f"{SPEC}:48:9: policy: must be a file under policies/ in this repository, got '/tmp/lax.yaml'",
        edit(SPEC, "policy: policies/credit.yaml", "policy: /tmp/lax.yaml"),
    ),
    case(
        "policy-parent-path",
        f"{SPEC}:48:9: policy: must be a file under policies/ in this repository, got '../lax/policy.yaml'",
        edit(SPEC, "policy: policies/credit.yaml", "policy: ../lax/policy.yaml"),
    ),
    case(
        "policy-outside-policies",
        f"{SPEC}:48:9: policy: must be a file under policies/ in this repository, got 'models/credit/policy.yaml'",
        edit(SPEC, "policy: policies/credit.yaml", "policy: models/credit/policy.yaml"),
    ),
    case(
        "policy-windows-path",
        f"{SPEC}:48:9: policy: must be a file under policies/ in this repository, got 'policies\\\\credit.yaml'",
        edit(SPEC, "policy: policies/credit.yaml", "policy: policies\\credit.yaml"),
    ),
    case(
        "policy-not-yaml",
        f"{SPEC}:48:9: policy: must be a .yaml or .yml file under policies/, got 'policies/credit.json'",
        edit(SPEC, "policy: policies/credit.yaml", "policy: policies/credit.json"),
    ),
    case(
        "policy-extends-absolute",
        f"{POLICY}:2:10: extends: must name a file under policies/ in this repository, got '/tmp/lax.yaml'",
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
        f"{POLICY}:26:28: gates -> fairness -> 1 -> sensitive_features -> 0: 'gender' is not a "
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
    # --------------------------------------------------------------- canary and shadow (release.yaml)
    case(
        "canary-beside-empty-stage",
        f"{RELEASE}:7:3: canary -> production: a canary needs a version in stages -> production to run beside",
        edit(
            RELEASE,
            "production: null",
            pinned("production: null\ncanary:\n  production: {version: 2, digest: PIN, traffic: 0.1}"),
        ),
    ),
    case(
        "canary-same-version",
        f"{RELEASE}:7:25: canary -> production -> version: v2 already holds production: a canary is another version",
        edit(
            RELEASE,
            "production: null",
            pinned(
                "production: {version: 2, digest: PIN}\ncanary:\n  production: {version: 2, digest: PIN, traffic: 0.1}"
            ),
        ),
    ),
    case(
        "canary-and-shadow",
        f"{RELEASE}:9:3: shadow -> production: production has both a canary and a shadow: "
        "at most one candidate per stage",
        edit(
            RELEASE,
            "production: null",
            pinned(
                "production: {version: 1, digest: PIN}\ncanary:\n  production: {version: 2, digest: PIN, traffic: 0.1}"
                "\nshadow:\n  production: {version: 3, digest: PIN}"
            ),
        ),
    ),
    case(
        "canary-not-allowed-by-policy",  # policies/base.yaml allows one beside production, not staging
        f"{RELEASE}:7:3: shadow -> staging: policies/credit.yaml allows no canary or shadow beside staging: "
        "add promotion.stages.staging.canary there (a governance change) to allow one",
        edit(RELEASE, "staging: null", pinned("staging: {version: 1, digest: PIN}")),
        edit(RELEASE, "production: null", pinned("production: null\nshadow:\n  staging: {version: 2, digest: PIN}")),
    ),
    case(
        "canary-traffic-above-policy",
        f"{RELEASE}:7:120: canary -> production -> traffic: traffic 0.3 is more than policies/credit.yaml allows "
        "beside production (promotion.stages.production.canary.max_traffic: 0.2)",  # policies/base.yaml's
        edit(
            RELEASE,
            "production: null",
            pinned(
                "production: {version: 1, digest: PIN}\ncanary:\n  production: {version: 2, digest: PIN, traffic: 0.3}"
            ),
        ),
    ),
    case(
        "canary-traffic-not-a-share",
        f"{RELEASE}:7:120: canary -> production -> traffic: input should be less than 1",
        edit(
            RELEASE,
            "production: null",
            pinned(
                "production: {version: 1, digest: PIN}\ncanary:\n  production: {version: 2, digest: PIN, traffic: 10}"
            ),
        ),
    ),
    case(
        "shadow-unpinned",
        f"{RELEASE}:7:15: shadow -> production -> digest: required key is missing",
        edit(
            RELEASE,
            "production: null",
            pinned("production: {version: 1, digest: PIN}\nshadow:\n  production: {version: 2}"),
        ),
    ),
    case(
        "stage-named-like-an-arm",
        f"{BASE}:33:5: promotion -> stages -> staging-canary: stage name 'staging-canary' is reserved: a name "
        "ending in -canary or -shadow is the alias of a stage's candidate (release.yaml canary:/shadow:)",
        edit(BASE, "    staging:\n      require_gates", "    staging-canary: {}\n    staging:\n      require_gates"),
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
        f"{SPEC}:25:10: estimator -> class: 'os.system' {NOT_ALLOWED}",
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
        f"{PARAMS}:4:3: credit -> max_dept: unknown parameter of RandomForestClassifier (did you mean 'max_depth'?)",
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
        f"{SPEC}:9:9: data -> path: must be a relative path to a file in this repository, got '/etc/passwd'",
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
        f"{SPEC}:9:9: data -> path: must be a relative path to a file in this repository, got ''",
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
        f"{CREDIT_CSV}:9: credit_amount: non-numeric value 'lots' in a numeric column (1 row like this)",
        recorded(CREDIT_CSV, lambda text: text.replace(",6948,36,car,35", ",lots,36,car,35")),
    ),
    case(
        "data-non-numeric-target-regression",
        f"{INSURANCE_CSV}:3: charges: non-numeric value 'unknown' in a numeric column (1 row like this)",
        recorded(INSURANCE_CSV, lambda text: text.replace(",southeast,1725.5523", ",southeast,unknown")),
        model="insurance",
    ),
    case(
        "data-target-one-class",
        f"{SPEC}:14:9: target: the target 'risk' has one class (1) in data/german_credit.csv: "
        "a classifier needs at least two",
        recorded(CREDIT_CSV, lambda text: re.sub(r"^0,", "1,", text, flags=re.MULTILINE)),
    ),
    # --------------------------------------------------------------- hostile YAML
    case(
        "yaml-alias-bomb",
        f"{POLICY}:1:4: a: YAML anchor '&a' refused: {NO_ALIASES}",
        write(POLICY, BOMB),
    ),
    case(
        "yaml-anchor-spec",
        f"{SPEC}:6:9: owners: YAML anchor '&team' refused: {NO_ALIASES}",
        edit(SPEC, "owners: [credit-risk-team", "owners: &team [credit-risk-team"),
    ),
    case(
        "yaml-anchor-params-section",
        f"{PARAMS}:2:9: credit: YAML anchor '&forest' refused: {NO_ALIASES}",
        edit(PARAMS, "credit:\n", "credit: &forest\n"),
    ),
    case(
        "yaml-alias-params",
        f"{PARAMS}:3:17: credit -> n_estimators: YAML alias '*trees' refused: {NO_ALIASES}",
        edit(PARAMS, "n_estimators: 200", "n_estimators: *trees"),
    ),
    case(
        "yaml-merge-key",
        f"{POLICY}:6:7: gates -> performance -> 0 -> <<: merge keys ('<<') refused: "
        "write the keys out where they apply",
        edit(POLICY, "    - metric: roc_auc\n      min", "    - <<: {metric: roc_auc}\n      min"),
    ),
    case(
        "yaml-deep-flow-nesting",
        f"{POLICY}:2:78: {TOO_DEEP}",
        write(POLICY, DEEP),
    ),
    case(
        "yaml-deep-block-nesting",
        f"{SPEC}:{SPEC_LINES + 65}:129: k0: {TOO_DEEP}",
        lambda repo: (repo / SPEC).write_text((repo / SPEC).read_text() + DEEP_BLOCK),
    ),
    case(
        "yaml-python-object-tag",
        f"{POLICY}:7:12: gates -> performance -> 0 -> min: YAML tag '!!python/object:os.system' refused: {PLAIN_TYPES}",
        edit(POLICY, GATE_INDENT + "min: 0.70", GATE_INDENT + "min: !!python/object:os.system 0.70"),
    ),
    case(
        "yaml-python-apply-tag-on-mapping",
        f"{POLICY}:4:8: gates: YAML tag '!!python/object/apply:os.system' refused: {PLAIN_TYPES}",
        edit(POLICY, "gates:\n", "gates: !!python/object/apply:os.system\n"),
    ),
    case(
        "yaml-local-tag",
        f"{SPEC}:7:7: task: YAML tag '!env' refused: {PLAIN_TYPES}",
        edit(SPEC, "task: classification", "task: !env TASK"),
    ),
    case(
        "yaml-complex-key",
        f"{RELEASE}:3:3: a key must be a plain string, not a list",
        edit(RELEASE, "stages:", "? [staging, production]\n: 1\nstages:"),
    ),
    case(
        "yaml-file-too-large",
        f"{SPEC}:1:1: file is 1048579 bytes: governance files may hold at most 1048576 (1 MiB)",
        write(SPEC, "# " + "x" * (1 << 20) + "\n"),
    ),
    # --------------------------------------------------------------- out of range
    case(
        "range-holdout-fraction-tiny",
        f"{SPEC}:11:23: data -> split -> holdout_fraction: holdout_fraction 1e-300 of the 1000 "
        f"rows of {CREDIT_CSV} leaves 999 to train on and 1 to hold out: each side needs at least "
        "one row of each of the 2 classes of 'risk' (stratify: true)",
        edit(SPEC, "holdout_fraction: 0.25", "holdout_fraction: 1.0e-300"),
    ),
    case(
        "range-holdout-fraction-empty-train",
        f"{SPEC}:11:23: data -> split -> holdout_fraction: holdout_fraction 0.999999 of the 1000 "
        f"rows of {CREDIT_CSV} leaves 0 to train on and 1000 to hold out: each side needs at "
        "least one row",
        edit(SPEC, "holdout_fraction: 0.25", "holdout_fraction: 0.999999"),
        edit(SPEC, "stratify: true", "stratify: false"),
    ),
    case(
        "range-holdout-fraction-nan",
        f"{SPEC}:11:23: data -> split -> holdout_fraction: expected a finite number, got number nan",
        edit(SPEC, "holdout_fraction: 0.25", "holdout_fraction: .nan"),
    ),
    case(
        "range-split-seed-negative",
        f"{SPEC}:12:11: data -> split -> seed: input should be greater than or equal to 0",
        edit(SPEC, "    seed: 42", "    seed: -1"),
    ),
    case(
        "range-split-seed-2-to-the-40",
        f"{SPEC}:12:11: data -> split -> seed: input should be less than or equal to 4294967295",
        edit(SPEC, "    seed: 42", "    seed: 1099511627776"),
    ),
    case(
        "range-estimator-seed-2-to-the-40",
        f"{SPEC}:26:7: seed: input should be less than or equal to 4294967295",
        edit(SPEC, "\nseed: 42", "\nseed: 1099511627776"),
    ),
    case(
        "range-estimator-seed-negative",
        f"{SPEC}:26:7: seed: input should be greater than or equal to 0",
        edit(SPEC, "\nseed: 42", "\nseed: -7"),
    ),
    case(
        "range-release-version-10-to-the-30",
        f"{RELEASE}:4:12: stages -> staging: expected a version from 1 to 2147483647, got number "
        "1000000000000000000000000000000",
        edit(RELEASE, "staging: null", "staging: 1000000000000000000000000000000"),
    ),
    case(
        "range-psi-bins-huge",
        f"{BASE}:29:15: settings -> drift -> psi_bins: input should be less than or equal to 1000",
        edit(BASE, "psi_bins: 10", "psi_bins: 1000000000"),
    ),
    case(
        "data-inf-in-numeric-feature",
        f"{CREDIT_CSV}:9: credit_amount: infinite value 'inf' in a numeric column (1 row like this)",
        recorded(CREDIT_CSV, lambda text: text.replace(",6948,36,car,35", ",inf,36,car,35")),
    ),
    case(
        "data-minus-inf-in-regression-target",
        f"{INSURANCE_CSV}:3: charges: infinite value '-inf' in a numeric column (1 row like this)",
        recorded(INSURANCE_CSV, lambda text: text.replace(",southeast,1725.5523", ",southeast,-inf")),
        model="insurance",
    ),
    case(
        "data-class-with-one-row-cannot-be-stratified",
        f"{SPEC}:11:5: data -> split: cannot split {CREDIT_CSV} into train and holdout: class(es) 2 of "
        "'risk' have a single row, and stratify: true needs each class on both sides "
        "(add rows of that class, or set stratify: false)",
        recorded(CREDIT_CSV, lambda text: text.replace("\n1,male,2,own,not_known,", "\n2,male,2,own,not_known,", 1)),
    ),
    # --------------------------------------------------------------- trust: and output: (gates on any MLflow model)
    case(
        "trust-unknown-format",
        f"{POLICY}:28:21: trust -> formats -> 1: expected 'pickle', 'cloudpickle', 'pytorch', 'code' or 'other', "
        "got string 'yaml'",
        edit(POLICY, "sensitive_features: [sex]\n", "sensitive_features: [sex]\ntrust:\n  formats: [pickle, yaml]\n"),
    ),
    case(
        "trust-format-twice",
        f"{POLICY}:28:21: trust -> formats -> 1: 'pickle' is listed twice",
        edit(POLICY, "sensitive_features: [sex]\n", "sensitive_features: [sex]\ntrust:\n  formats: [pickle, pickle]\n"),
    ),
    case(
        "trust-formats-not-a-list",
        f"{POLICY}:28:12: trust -> formats: expected a list, got string 'cloudpickle'",
        edit(POLICY, "sensitive_features: [sex]\n", "sensitive_features: [sex]\ntrust:\n  formats: cloudpickle\n"),
    ),
    case(
        "output-two-readings",
        f"{SPEC}:50:17: output -> score_column: give only one of probabilities, label_column, score_column, "
        "value_column, not both label_column and score_column",
        edit(
            SPEC,
            "policy: policies/credit.yaml\n",
            "policy: policies/credit.yaml\noutput:\n  score_column: s\n  label_column: l\n",
        ),
    ),
    case(
        "output-threshold-without-score",
        f"{SPEC}:51:14: output -> threshold: 'threshold' decides a 'score_column' and applies only there",
        edit(
            SPEC,
            "policy: policies/credit.yaml\n",
            "policy: policies/credit.yaml\noutput:\n  label_column: l\n  threshold: 0.3\n",
        ),
    ),
    case(
        "output-threshold-above-1",
        f"{SPEC}:51:14: output -> threshold: input should be less than or equal to 1",
        edit(
            SPEC,
            "policy: policies/credit.yaml\n",
            "policy: policies/credit.yaml\noutput:\n  score_column: s\n  threshold: 1.5\n",
        ),
    ),
    case(
        "output-value-column-on-a-classifier",
        f"{SPEC}:50:17: output -> value_column: 'value_column' does not apply to a classification model",
        edit(SPEC, "policy: policies/credit.yaml\n", "policy: policies/credit.yaml\noutput:\n  value_column: v\n"),
    ),
    case(
        "output-unknown-key",
        f"{SPEC}:50:3: output -> score: unknown key (allowed: probabilities, label_column, score_column, threshold, "
        "value_column)",
        edit(SPEC, "policy: policies/credit.yaml\n", "policy: policies/credit.yaml\noutput:\n  score: s\n"),
    ),
    # --------------------------------------------------------------- meaningless thresholds
    case(
        "threshold-nan",
        f"{POLICY}:7:12: gates -> performance -> 0 -> min: expected a finite number, got number nan",
        edit(POLICY, GATE_INDENT + "min: 0.70", GATE_INDENT + "min: .nan"),
    ),
    case(
        "threshold-max-inf",
        f"{POLICY}:25:12: gates -> fairness -> 1 -> max: expected a finite number, got number inf",
        edit(POLICY, GATE_INDENT + "max: 0.2", GATE_INDENT + "max: .inf"),
    ),
    case(
        "threshold-min-minus-inf",
        f"{POLICY}:7:12: gates -> performance -> 0 -> min: expected a finite number, got number -inf",
        edit(POLICY, GATE_INDENT + "min: 0.70", GATE_INDENT + "min: -.inf"),
    ),
    case(
        "threshold-max-regression-nan",
        f"{POLICY}:10:23: gates -> performance -> 1 -> max_regression: expected a finite number, got number nan",
        edit(POLICY, "max_regression: 0.02", "max_regression: .nan"),
    ),
    case(
        "ratio-min-negative",
        f"{POLICY}:22:12: gates -> fairness -> 0 -> min: 'demographic_parity_ratio' is always "
        "between 0 and 1, so min -1 is always met: give a value from 0 to 1",
        edit(POLICY, "min: 0.8", "min: -1"),
    ),
    case(
        "ratio-min-above-one",
        f"{POLICY}:22:12: gates -> fairness -> 0 -> min: 'demographic_parity_ratio' is always "
        "between 0 and 1, so min 1.25 is never met: give a value from 0 to 1 (a ratio against a reference_group "
        "has no upper bound: a group favoured over it gives above 1)",
        edit(POLICY, "min: 0.8", "min: 1.25"),
    ),
    case(
        "difference-max-above-one",
        f"{POLICY}:25:12: gates -> fairness -> 1 -> max: 'equalized_odds_difference' is always "
        "between 0 and 1, so max 2 is always met: give a value from 0 to 1",
        edit(POLICY, GATE_INDENT + "max: 0.2", GATE_INDENT + "max: 2"),
    ),
    case(
        "score-min-in-percent",
        f"{POLICY}:7:12: gates -> performance -> 0 -> min: 'roc_auc' is always between 0 and 1, "
        "so min 70 is never met: give a value from 0 to 1",
        edit(POLICY, GATE_INDENT + "min: 0.70", GATE_INDENT + "min: 70"),
    ),
    case(
        "error-metric-max-negative",
        f"{DEFAULT_POLICY}:9:12: gates -> performance -> 1 -> max: 'mae' is always at least 0, "
        "so max -1 is never met: give a value of at least 0",
        edit(DEFAULT_POLICY, "max: 3500", "max: -1"),
        model="insurance",
    ),
    case(
        "r2-min-above-one",
        f"{DEFAULT_POLICY}:7:12: gates -> performance -> 0 -> min: 'r2' is always at most 1, "
        "so min 1.5 is never met: give a value of at most 1",
        edit(DEFAULT_POLICY, "min: 0.75", "min: 1.5"),
        model="insurance",
    ),
    case(
        "psi-epsilon-inf",
        f"{BASE}:30:18: settings -> drift -> psi_epsilon: expected a finite number, got number inf",
        edit(BASE, "psi_bins: 10\n", "psi_bins: 10\n    psi_epsilon: .inf\n"),
    ),
    case(
        "p-value-nan",
        f"{BASE}:30:14: settings -> drift -> p_value: expected a finite number, got number nan",
        edit(BASE, "psi_bins: 10\n", "psi_bins: 10\n    p_value: .nan\n"),
    ),
    # --------------------------------------------------------------- meaningless groups and data
    case(
        "bin-edge-nan",
        f"{SPEC}:22:15: sensitive_features -> 1 -> bins -> 1: expected a finite number, got number nan",
        edit(SPEC, "bins: [0, 25, 120]", "bins: [0, .nan, 120]"),
    ),
    case(
        "bin-edge-inf",
        f"{SPEC}:22:19: sensitive_features -> 1 -> bins -> 2: expected a finite number, got number inf",
        edit(SPEC, "bins: [0, 25, 120]", "bins: [0, 25, .inf]"),
    ),
    case(
        "bin-labels-collide",
        f"{SPEC}:23:23: sensitive_features -> 1 -> labels -> 1: 'young' already labels bin 1: "
        "two bins with one label would be merged into one group; give each bin its own label",
        edit(SPEC, '["under 25", "25 and over"]', '["young", "young"]'),
    ),
    case(
        "bin-label-reserved",
        f"{SPEC}:23:26: sensitive_features -> 1 -> labels -> 1: '(missing)' is reserved for rows "
        "without a value: give the bin another label",
        edit(SPEC, '["under 25", "25 and over"]', '["under 25", "(missing)"]'),
    ),
    case(
        "data-row-with-fewer-fields",
        f"{CREDIT_CSV}:9: row has 9 fields but the header has 10: give every column a value, "
        "empty if unknown (1 row like this)",
        recorded(CREDIT_CSV, lambda text: text.replace(",6948,36,car,35", ",6948,36,car")),
    ),
    case(
        "data-row-with-more-fields",
        f"{CREDIT_CSV}:9: row has 11 fields but the header has 10: quote values that contain a comma (1 row like this)",
        recorded(CREDIT_CSV, lambda text: text.replace(",6948,36,car,35", ",6948,36,car,35,x")),
    ),
    case(
        "data-empty-numeric-column",
        f"{CREDIT_CSV}:1: credit_amount: the column is empty: no row has a value, so it cannot be a feature",
        recorded(CREDIT_CSV, lambda text: clear_column(text, 6)),
    ),
    case(
        "data-empty-categorical-column",
        f"{CREDIT_CSV}:1: housing: the column is empty: no row has a value, so it cannot be a feature",
        recorded(CREDIT_CSV, lambda text: clear_column(text, 3)),
    ),
    case(
        "estimator-stacking-without-estimators",
        f"{PARAMS}:3:3: credit: StackingClassifier needs 'estimators': give it as a list of {{name, class, params}}",
        STACKING,
    ),
    case(
        "estimator-voting-regressor-without-estimators",
        f"{PARAMS}:7:3: insurance: VotingRegressor needs 'estimators': give it as a list of {{name, class, params}}",
        edit(INSURANCE_SPEC, "GradientBoostingRegressor", "VotingRegressor"),
        model="insurance",
    ),
    case(
        "estimator-one-vs-rest-without-estimator",
        f"{PARAMS}:3:3: credit: OneVsRestClassifier needs 'estimator': give it as {{class: ..., params: {{...}}}}",
        edit(SPEC, "sklearn.ensemble.RandomForestClassifier", "sklearn.multiclass.OneVsRestClassifier"),
    ),
    # --------------------------------------------------------------- nested estimators (params.yaml)
    case(
        "nested-class-refused",
        f"{PARAMS}:5:14: credit -> estimators -> 0 -> class: 'builtins.eval' {NOT_ALLOWED}",
        STACKING,
        edit(PARAMS, CREDIT_PARAMS, stacking("builtins.eval")),
    ),
    case(
        "nested-unknown-key",
        f"{PARAMS}:7:7: credit -> estimators -> 0 -> weight: unknown key of a nested estimator "
        "(allowed: name, class, params)",
        STACKING,
        edit(PARAMS, CREDIT_PARAMS, stacking(extra="      weight: 2\n")),
    ),
    case(
        "nested-unknown-param",
        f"{PARAMS}:6:16: credit -> estimators -> 0 -> params -> n_estimator: unknown parameter of "
        "RandomForestClassifier (did you mean 'n_estimators'?)",
        STACKING,
        edit(PARAMS, CREDIT_PARAMS, stacking().replace("{n_estimators: 20}", "{n_estimator: 20}")),
    ),
    case(
        "nested-duplicate-name",
        f"{PARAMS}:7:13: credit -> estimators -> 1 -> name: 'rf' names another estimator of this list",
        STACKING,
        edit(PARAMS, CREDIT_PARAMS, stacking().replace("name: lr", "name: rf")),
    ),
    case(
        "nested-estimators-not-a-list",
        f"{PARAMS}:3:15: credit -> estimators: expected a non-empty list of {{name, class, params}}",
        STACKING,
        edit(PARAMS, CREDIT_PARAMS, "credit:\n  estimators: sklearn.ensemble.RandomForestClassifier\n"),
    ),
    case(
        "nested-estimator-not-a-mapping",
        f"{PARAMS}:9:20: credit -> final_estimator: expected a mapping with class, params (a nested estimator), "
        "got str",
        STACKING,
        edit(
            PARAMS,
            CREDIT_PARAMS,
            stacking().replace(
                "  final_estimator:\n    class: sklearn.linear_model.LogisticRegression\n",
                "  final_estimator: sklearn.linear_model.LogisticRegression\n",
            ),
        ),
    ),
    # --------------------------------------------------------------- one way in: estimator or train
    case(
        "spec-estimator-and-train",
        f"{SPEC}:28:3: train: say how the model comes to be with exactly one of 'estimator' (mlgate fits a "
        "scikit-learn pipeline), 'train: {command: ...}' (your own command) or 'predictions' (made elsewhere), "
        "got both 'estimator' and 'train'",
        edit(SPEC, "seed: 42\nmodel_card", "seed: 42\ntrain:\n  command: python train.py\nmodel_card"),
    ),
    case(
        "spec-neither-estimator-nor-train",
        f"{SPEC}:1:1: say how the model comes to be with exactly one of 'estimator' (mlgate fits a "
        "scikit-learn pipeline), 'train: {command: ...}' (your own command) or 'predictions' (made elsewhere), "
        "got neither",
        edit(SPEC, TRAIN_SPEC, ""),
    ),
    case(
        "train-command-empty",
        f"{SPEC}:25:12: train -> command: string should have at least 1 character",
        edit(SPEC, TRAIN_SPEC, 'train:\n  command: ""\n'),
    ),
    case(
        "train-command-unbalanced-quote",
        f'{SPEC}:25:12: train -> command: cannot split "python \'train.py" into arguments: No closing quotation',
        edit(SPEC, TRAIN_SPEC, 'train:\n  command: "python \'train.py"\n'),
    ),
    case(
        "train-command-not-a-string",
        f"{SPEC}:25:12: train -> command: expected a string, got a list",
        edit(SPEC, TRAIN_SPEC, "train:\n  command: [python, train.py]\n"),
    ),
    case(
        "train-unknown-key",
        f"{SPEC}:25:3: train -> comand: unknown key (did you mean 'command'?)",
        edit(SPEC, TRAIN_SPEC, "train:\n  comand: python train.py\n"),
    ),
    case(
        "train-timeout-zero",
        f"{SPEC}:26:20: train -> timeout_minutes: input should be greater than or equal to 1",
        edit(SPEC, TRAIN_SPEC, "train:\n  command: python train.py\n  timeout_minutes: 0\n"),
    ),
    # --------------------------------------------------------------- policy: training and allow_external
    case(
        "policy-estimator-module-no-dot",
        f"{POLICY}:3:32: training -> estimator_modules -> 0: 'mycompany' is not a module prefix: give dotted "
        "module names ending in '.', e.g. 'mycompany.'",
        edit(POLICY, "extends: base.yaml\n", "extends: base.yaml\ntraining: {estimator_modules: [mycompany]}\n"),
    ),
    case(
        "policy-estimator-module-stdlib",
        f"{POLICY}:3:32: training -> estimator_modules -> 0: 'subprocess.' is in Python's standard library, which "
        "holds no estimators and much that runs commands: name the package of your estimators",
        edit(POLICY, "extends: base.yaml\n", "extends: base.yaml\ntraining: {estimator_modules: [subprocess.]}\n"),
    ),
    case(
        "policy-training-unknown-key",
        f"{POLICY}:3:12: training -> modules: unknown key (allowed: estimator_modules, skops_trusted_types)",
        edit(POLICY, "extends: base.yaml\n", "extends: base.yaml\ntraining: {modules: [mycompany.]}\n"),
    ),
    case(
        "policy-allow-external-not-a-boolean",
        f"{BASE}:34:23: promotion -> stages -> staging -> allow_external: expected true or false, got string 'yes'",
        edit(BASE, "    staging:\n", '    staging:\n      allow_external: "yes"\n'),
    ),
    # --------------------------------------------------------------- stages: MLflow aliases, an order, approvers
    *(
        case(
            f"stage-reserved-{name}",
            f"{BASE}:35:5: promotion -> stages -> {name}: stage name '{name}' is reserved: {why}",
            edit(BASE, "    production:\n      require_gates", f"    {name}:\n      require_gates"),
        )
        for name, why in (
            ("latest", "MLflow reserves 'latest' and 'v<digits>' as alias names (they address versions)"),
            ("v2", "MLflow reserves 'latest' and 'v<digits>' as alias names (they address versions)"),
            ("champion", "mlgate's 'champion' alias follows the last stage of promotion.order"),
        )
    ),
    case(
        "stage-name-too-long",
        f"{BASE}:35:5: promotion -> stages -> {'p' * 101}: stage names are at most 100 characters, got 101",
        edit(BASE, "    production:\n      require_gates", f"    {'p' * 101}:\n      require_gates"),
    ),
    case(
        "stage-order-twice",
        f"{BASE}:31:20: promotion -> order -> 1: 'staging' is listed twice: each stage comes once in the order",
        edit(BASE, "order: [staging, production]", "order: [staging, staging]"),
    ),
    case(
        "approver-empty-login",
        f"{BASE}:39:31: promotion -> stages -> production -> approvers -> users -> 1: '' is not a GitHub login "
        "(letters, digits and single hyphens)",
        edit(BASE, "        users: [risk-officer]", '        users: [risk-officer, ""]'),
    ),
    case(
        "approver-empty-team",
        f"{BASE}:40:17: promotion -> stages -> production -> approvers -> teams -> 0: '' is not a team: "
        "write it as <org>/<team-slug>",
        edit(BASE, "teams: [acme/model-risk]", 'teams: ["", acme/model-risk]'),
    ),
    # --------------------------------------------------------------- enum values, suggested
    case(
        "enum-metric-auc",
        f"{POLICY}:6:15: gates -> performance -> 0 -> metric: expected 'accuracy', "
        "'balanced_accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'pr_auc', 'log_loss', "
        "'brier', 'r2', 'rmse', 'mae' or 'mape', got string 'auc' (did you mean 'roc_auc'?)",
        edit(POLICY, "    - metric: roc_auc\n      min", "    - metric: auc\n      min"),
    ),
    case(
        "enum-fairness-metric",
        f"{POLICY}:21:15: gates -> fairness -> 0 -> metric: expected "
        "'demographic_parity_difference', 'demographic_parity_ratio', 'equalized_odds_difference', "
        "'equalized_odds_ratio', 'equal_opportunity_difference', 'equal_opportunity_ratio', "
        "'selection_rate_difference', 'false_positive_rate_difference' or 'error_rate_difference', "
        "got string 'demographic_parity' (did you mean 'demographic_parity_ratio'?)",
        edit(POLICY, "metric: demographic_parity_ratio", "metric: demographic_parity"),
    ),
    case(
        "enum-severity",
        f"{POLICY}:13:17: gates -> performance -> 2 -> severity: expected 'block' or 'warn', "
        "got string 'blocking' (did you mean 'block'?)",
        edit(POLICY, GATE_INDENT + "severity: warn", GATE_INDENT + "severity: blocking"),
    ),
    case(
        "enum-task",
        f"{SPEC}:7:7: task: expected 'classification' or 'regression', got string "
        "'clasification' (did you mean 'classification'?)",
        edit(SPEC, "task: classification", "task: clasification"),
    ),
    case(
        "enum-required-gate",
        f"{BASE}:34:36: promotion -> stages -> staging -> require_gates -> 1: expected "
        "'performance', 'fairness', 'drift', 'integrity' or 'documentation', got string "
        "'integrty' (did you mean 'integrity'?)",
        edit(BASE, "[performance, integrity", "[performance, integrty"),
    ),
    case(
        "enum-documented-field",
        f"{BASE}:6:14: gates -> documentation -> 1 -> field: expected 'description', 'owners', "
        "'model_card.intended_use', 'model_card.out_of_scope_uses', 'model_card.limitations', "
        "'model_card.ethical_considerations', 'model_card.caveats_and_recommendations', "
        "'model_card.license', 'monitoring.owner', 'monitoring.frequency', "
        "'monitoring.retraining_trigger' or 'monitoring.rollback_procedure', got string "
        "'model_card.limitation' (did you mean 'model_card.limitations'?)",
        edit(BASE, "field: model_card.limitations", "field: model_card.limitation"),
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


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("rel", "text", "expected"),
    [
        pytest.param(POLICY, BOMB, f"{POLICY}:1:4: a: YAML anchor '&a' refused: {NO_ALIASES}", id="alias-bomb"),
        pytest.param(POLICY, DEEP, f"{POLICY}:2:78: {TOO_DEEP}", id="deep-flow-nesting"),
        pytest.param(PARAMS, DEEP_BLOCK, f"{PARAMS}:65:129: k0: {TOO_DEEP}", id="deep-block-nesting"),
    ],
)
def test_hostile_yaml_is_refused_fast(governed_repo: Path, cli: CliRunner, rel: str, text: str, expected: str) -> None:
    """Files that used to take 25 s and 3 GB, hang, or blow the stack: exit 2 at once, nothing registered."""
    write(rel, text)(governed_repo)
    start = time.perf_counter()
    result = invoke(cli, "train", "credit", cwd=governed_repo)
    elapsed = time.perf_counter() - start
    print(f"{rel} ({len(text.encode())} bytes) refused in {elapsed:.3f} s")
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


MNI = f"{POLICY}:22:7: gates -> fairness -> 0 -> mni: unknown key (did you mean 'min'?)"


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
                    "got string 'regresion' (did you mean 'regression'?)"
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
