"""`mlgate init`: scaffold a governed repo in a folder, ready for `mlgate validate` and `train`.

Writes a model spec inferred from a CSV (numeric vs categorical columns from pandas dtypes, the
target left out), a baseline and a default policy with comments, the model's ``params.yaml``
section, ``.gitignore`` entries for the embedded MLflow store, copy-ready workflows that use
mlgate's actions, and a CODEOWNERS suggestion; runs ``git init``, ``dvc init`` and ``dvc add``
where they were not done. It never overwrites a file: if one exists, nothing is written.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from mlgate import git
from mlgate.config import NAME_PATTERN, TEXT_MIN_ROWS, load
from mlgate.data._dvc import dvc_add, dvc_init, read_table
from mlgate.exceptions import InvalidInput

ACTIONS = "<owner>/<repo>@v1"
TEMPLATES = ("propose", "promote", "governance", "monitor", "site")
"""The workflow templates (``resources/workflows/NAME.yml``): init writes each as ``mlgate-NAME.yml``."""
WORKFLOWS = tuple(f"mlgate-{name}.yml" for name in TEMPLATES)
PLACEHOLDER = re.compile(r"(?<!\$)\{\{(\w+)\}\}")  # {{name}}; ${{ ... }} is GitHub's own expression
GITIGNORE = ("/mlflow.db", "/mlartifacts/")
ESTIMATORS: dict[str, tuple[str, dict[str, Any]]] = {
    "classification": ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 200, "min_samples_leaf": 5}),
    "regression": (
        "sklearn.ensemble.GradientBoostingRegressor",
        {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.05},
    ),
}
PERFORMANCE = {
    "classification": """\
    - metric: roc_auc                # area under the ROC curve (one-vs-rest when multiclass)
      min: 0.70
    - id: roc-auc-vs-champion        # at most 0.02 below the version in production
      metric: roc_auc
      max_regression: 0.02
    - metric: balanced_accuracy      # the decisions themselves (ROC AUC ignores the threshold)
      min: 0.60
    # built in, listed or not: decisions that (nearly) all go one way block; tune or turn off under
    # settings: {degenerate_decisions: {max_class_share: 0.98, min_rate_ratio: 0.1, enabled: false}}""",
    "regression": """\
    - metric: r2                     # share of the target's variance explained
      min: 0.5
    - id: r2-vs-champion             # at most 0.05 below the version in production
      metric: r2
      max_regression: 0.05
    # - metric: mae                  # in the target's unit: set a bound that fits your data
    #   max: 1000""",
}
PREDICTIONS_PERFORMANCE = {
    "score": """\
    - metric: roc_auc                # area under the ROC curve of the score
      min: 0.70
    - metric: balanced_accuracy      # the decisions (score >= threshold)
      min: 0.60""",
    "classification": """\
    - metric: balanced_accuracy      # mean recall over the classes of the decided labels
      min: 0.60""",
    "regression": """\
    - metric: r2                     # share of the outcome's variance the predictions explain
      min: 0.5""",
}
"""An audit's performance rules: no ``max_regression`` (predictions made elsewhere have no champion)."""
FAIRNESS = {
    "classification": """\
  # fairness:
  #   - id: four-fifths            # every group's selection rate >= 80% of the highest (EEOC)
  #     metric: demographic_parity_ratio
  #     min: 0.8
  #   - metric: equalized_odds_difference
  #     max: 0.2""",
    "regression": """\
  # fairness:
  #   - metric: error_rate_difference  # largest gap in error between groups
  #     max: 0.1""",
}
# Column names that usually hold protected attributes: suggested as sensitive_features.
PROTECTED = re.compile(
    r"^(sex|gender|age|race|ethnicity|religion|nationality|disability|marital[_ ]?status)$", re.IGNORECASE
)
PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


@dataclass
class InitResult:
    """What ``mlgate init`` did: files created or appended to, commands run, notes for the user."""

    root: Path
    model: str | None = None
    task: str | None = None
    created: list[str] = field(default_factory=list)
    appended: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The result as ``mlgate init --json`` prints it."""
        return {
            "root": str(self.root),
            "model": self.model,
            "task": self.task,
            "created": self.created,
            "appended": self.appended,
            "ran": self.ran,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class WorkflowParams:
    """What differs between the workflows ``mlgate init`` writes and the ones this repository runs.

    One set of templates renders both (``resources/workflows/``): a template's ``{{name}}`` is the
    field of that name; a line holding only a placeholder is left out when its value is empty.
    """

    actions: str  # where the actions live, up to the action's folder: "<owner>/<repo>/action/", "./action/"
    at: str  # the ref after the action's folder: "@v1"; "" for actions in the same repository
    name: str  # the prefix of each workflow's name: "mlgate " beside the user's own workflows
    group: str  # the prefix of each concurrency group
    everything: tuple[str, ...] = ()  # `mlgate affected --everything PATH`: a change there re-gates every model
    everything_why: str = ""  # the comment above it

    @classmethod
    def scaffold(cls, repo: str = "<owner>/<repo>", ref: str = "v1") -> WorkflowParams:
        """The workflows ``mlgate init`` writes: mlgate's actions from ``repo`` at ``ref``."""
        return cls(actions=f"{repo}/action/", at=f"@{ref}", name="mlgate ", group="mlgate-")


THIS_REPO = WorkflowParams(
    actions="./action/",
    at="",
    name="",
    group="",
    everything=("src/", "action/", "pyproject.toml", "constraints.txt"),
    everything_why="# this repo is mlgate itself: a change to its code, actions or pins re-gates every model",
)
"""The parameters of this repository's own ``.github/workflows/`` (scripts/render-workflows writes them)."""


def render_workflow(template: str, params: WorkflowParams) -> str:
    """The workflow ``template`` (one of :data:`TEMPLATES`) with ``params`` filled in."""
    values = {
        "actions": params.actions,
        "at": params.at,
        "name": params.name,
        "group": params.group,
        "everything": " ".join(f"--everything {path}" for path in params.everything),
        "everything_why": params.everything_why,
    }
    text = resources.files("mlgate").joinpath("resources", "workflows", f"{template}.yml").read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines(keepends=True):
        alone = PLACEHOLDER.fullmatch(line.strip())
        if alone and not values[alone.group(1)]:
            continue
        lines.append(PLACEHOLDER.sub(lambda found: values[found.group(1)], line))
    return "".join(lines)


def _template(name: str) -> str:
    return resources.files("mlgate").joinpath("resources", "init", *name.split("/")).read_text(encoding="utf-8")


def _scalar(value: str) -> str:
    """A YAML scalar for a column name: plain when safe, else double-quoted."""
    import json

    if PLAIN.match(value) and value.lower() not in YAML_WORDS:
        return value
    return json.dumps(value)


def default_name(data: Path) -> str:
    """A model name from a data file's stem: ``Insurance Data.csv`` → ``insurance-data``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", data.stem.lower()).strip("-_")
    return name or "model"


def infer_task(column: Any) -> str:
    """Classification for text, booleans and integers with few values; regression otherwise."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return "classification"
    if pd.api.types.is_integer_dtype(column) and column.nunique(dropna=True) <= 10:
        return "classification"
    return "regression"


TEXT_MIN_WORDS = 3.0
"""A column of distinct values averaging more words than this is free text; fewer: an id."""
ID_NAME = re.compile(
    r"^(id|_id|uuid|guid|key|idx|index|row|rownum|row_?num(ber)?|row_?id|record_?id|unnamed: ?\d+|)$"
    r"|(^|[_ .-])(id|uuid|guid|idx|key)$|[a-z0-9]Id$|(^|[_ .-])no$",
    re.IGNORECASE,
)
"""Names that say "identifier": ``id``, ``customer_id``, ``customerId``, ``uuid``, ``index``, ``row_number``,
pandas' ``Unnamed: 0`` (a saved index). ``id score`` or ``idle_time`` do not match."""


class IdReason(StrEnum):
    """Why a column is left out of the features as an identifier."""

    DISTINCT_TEXT = "a distinct short value in every row"
    NAMED_ID = "named like an id, a distinct integer in every row"
    ROW_NUMBER = "consecutive distinct integers: a row number"


def id_reason(name: str, values: Any) -> IdReason | None:
    """Why a numeric column is an identifier rather than a feature, else None.

    An identifier is an integer column with a distinct value in every row (of at least
    TEXT_MIN_ROWS) that is either named like one (:data:`ID_NAME`) or counts the rows
    (consecutive integers, in any order: ``max - min + 1 == rows``). A real measurement that is
    distinct per row (an income in cents, a timestamp) is not consecutive, and an integer named
    ``*_id`` that repeats (a store, a product) is a grouping, not a row key: both are kept.
    Floats are kept: a float column is a measurement even when each row's value differs.
    """
    import pandas as pd

    if not pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    present = values.dropna()
    if len(present) < TEXT_MIN_ROWS or len(present) != len(values) or present.nunique() != len(present):
        return None
    if ID_NAME.search(name.strip()):
        return IdReason.NAMED_ID
    if int(present.max()) - int(present.min()) + 1 == len(present):
        return IdReason.ROW_NUMBER
    return None


@dataclass
class Columns:
    """The columns of a data file other than the target, by the feature kind they get."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    ids: dict[str, IdReason] = field(default_factory=dict)  # identifiers, left out, and why


def split_features(frame: Any, target: str) -> Columns:
    """Numeric, categorical, text and id columns other than the target, from pandas dtypes and values.

    A non-numeric column with a distinct value in every row (of at least TEXT_MIN_ROWS) is never
    a category (validation refuses that): it is text when its values average more than
    :data:`TEXT_MIN_WORDS` words, else an id, left out of the features. A numeric column is an id
    when :func:`id_reason` says so.
    """
    import pandas as pd

    found = Columns()
    for column in frame.columns:
        if column == target:
            continue
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            reason = id_reason(str(column), values)
            if reason is None:
                found.numeric.append(str(column))
            else:
                found.ids[str(column)] = reason
            continue
        present = values.dropna().astype(str)
        if len(present) >= TEXT_MIN_ROWS and present.nunique() == len(present):
            words = present.str.split().str.len().mean()
            if words > TEXT_MIN_WORDS:
                found.text.append(str(column))
            else:
                found.ids[str(column)] = IdReason.DISTINCT_TEXT
        else:
            found.categorical.append(str(column))
    return found


def _git_owner(root: Path) -> str:
    return git.config_value(root, "user.name") or getpass.getuser()


def _dvc_root(root: Path) -> Path | None:
    for folder in (root, *root.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


@dataclass
class _Plan:
    """What init will write: files to create, and text to append to existing files."""

    create: dict[str, str] = field(default_factory=dict)
    append: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)  # what is in the way besides existing files


def _policies(task: str, approvers: tuple[str, ...], audit: str | None = None) -> dict[str, str]:
    """base.yaml, and default.yaml (trained models) or, for an audit, predictions.yaml.

    ``audit`` says what the predictions are: ``"score"`` (a probability and a threshold),
    else the task of decided labels or values.
    """
    if approvers:
        users = ", ".join(_scalar(a.removeprefix("@")) for a in approvers)
        production = (
            "      approvals: 1                   # reviews on the promotion PR, never by its author\n"
            "      approvers:\n"
            f"        users: [{users}]"
        )
        governance = (
            "# Who approves a governance change (policies, judging fields of a spec, evaluation data,\n"
            "# workflows, mlgate's pins): the `mlgate / governance` check reads this from the base branch.\n"
            "governance:\n"
            "  approvals: 1\n"
            "  approvers:\n"
            f"    users: [{users}]"
        )
    else:
        production = (
            "      # approvals: 1                 # reviews on the promotion PR from these logins\n"
            "      # approvers:                   # (`mlgate init --approver LOGIN` writes this)\n"
            "      #   users: [your-github-login]\n"
            "      #   teams: [your-org/model-risk]"
        )
        governance = (
            "# Who approves a governance change (policies, judging fields, evaluation data, workflows):\n"
            "# without this section, any collaborator with write access other than the PR's author.\n"
            "# governance:\n"
            "#   approvals: 1\n"
            "#   approvers:\n"
            "#     users: [your-github-login]"
        )
    base = Template(_template("base.yaml.tmpl")).substitute(production_approvals=production, governance=governance)
    if audit:
        predictions = Template(_template("predictions.yaml.tmpl")).substitute(
            task=task, performance=PREDICTIONS_PERFORMANCE[audit], fairness=FAIRNESS[task]
        )
        return {"policies/base.yaml": base, "policies/predictions.yaml": predictions}
    default = Template(_template("default.yaml.tmpl")).substitute(
        task=task,
        performance=PERFORMANCE[task],
        fairness=FAIRNESS[task],
    )
    return {"policies/base.yaml": base, "policies/default.yaml": default}


def _workflows(actions: str) -> dict[str, str]:
    repo, _, ref = actions.partition("@")
    if not re.fullmatch(r"(<owner>/<repo>|[\w.-]+/[\w.-]+)", repo) or not ref:
        raise InvalidInput(f"--actions must be OWNER/REPO@REF (where mlgate's actions live), got {actions!r}")
    params = WorkflowParams.scaffold(repo, ref)
    return {f".github/workflows/mlgate-{name}.yml": render_workflow(name, params) for name in TEMPLATES}


def _codeowners(approvers: tuple[str, ...]) -> str:
    paths = (
        "/policies/",
        "/models/*/model.yaml",
        "/.github/",
        "/action/",
        "/constraints.txt",
        "/pyproject.toml",
        "*.dvc",
        "dvc.lock",
    )
    head = (
        "# Suggested by `mlgate init`: the governance files are reviewed by the people the policy\n"
        '# names. Turn on "Require review from Code Owners" in the branch protection of main.\n'
    )
    if approvers:
        owners = " ".join(f"@{a.removeprefix('@')}" for a in approvers)
        return head + "".join(f"{p:<26}{owners}\n" for p in paths)
    return (
        head
        + "# Name your model-risk reviewers (a team or logins) and uncomment:\n"
        + "".join(f"# {p:<26}@your-org/model-risk\n" for p in paths)
    )


def _model_files(
    root: Path,
    name: str,
    data: str,
    target: str,
    task: str | None,
    plan: _Plan,
) -> tuple[str, list[str]]:
    """Add the spec and the params section to ``plan``; return the task and notes."""
    frame = read_table(root / data, data)
    if target not in frame.columns:
        raise InvalidInput(
            f"--target {target!r} is not a column of {data}",
            hint=f"columns: {', '.join(map(str, frame.columns))}",
        )
    task = task or infer_task(frame[target])
    columns = split_features(frame, target)
    numeric, categorical = columns.numeric, columns.categorical
    if not numeric and not categorical and not columns.text:
        raise InvalidInput(f"{data} has no column besides the target {target!r}: nothing to learn from")
    protected = [c for c in numeric + categorical + columns.text if PROTECTED.match(c)]
    hint = f"\n# Columns here that look like one: {', '.join(protected)}." if protected else ""
    estimator, params = ESTIMATORS[task]
    owner = _scalar(_git_owner(root))
    plan.create[f"models/{name}/model.yaml"] = Template(_template("model.yaml.tmpl")).substitute(
        name=name,
        data=_scalar(data),
        target=_scalar(target),
        task=task,
        owner=owner,
        estimator=estimator,
        description=_scalar(f"Predicts {target} from {data} (say what it is for and who uses it)."),
        stratify="true" if task == "classification" else "false",
        numeric=", ".join(map(_scalar, numeric)),
        categorical=", ".join(map(_scalar, categorical)),
        text=f"\n  text: [{', '.join(map(_scalar, columns.text))}]" if columns.text else "",
        sensitive_hint=hint,
        left_out="".join(f"\n# left out, {why}: {_scalar(column)}" for column, why in columns.ids.items()),
    )
    section = f"{name}:\n" + "".join(f"  {k}: {v}\n" for k, v in params.items())
    comment = "# Estimator params per model (shown by `dvc params diff`); the spec names the class.\n"
    params_path = root / "params.yaml"
    if params_path.is_file():
        existing = load(params_path, "params.yaml", allow_empty=True).data
        if name in existing:
            plan.conflicts.append(f"params.yaml (its section '{name}:')")
        plan.append["params.yaml"] = section
    else:
        plan.create["params.yaml"] = comment + section
    kinds = f"{len(numeric)} numeric, {len(categorical)} categorical and {len(columns.text)} text feature(s)"
    notes = [f"{name}: {task} of {target!r}, {kinds}"]
    notes += _left_out_notes(columns)
    if protected:
        notes.append(f"columns that look protected ({', '.join(protected)}): consider sensitive_features in the spec")
    return task, notes


@dataclass(frozen=True)
class Audit:
    """``mlgate init --score-column`` / ``--prediction-column``: the data file holds predictions made elsewhere."""

    score_column: str | None = None
    prediction_column: str | None = None
    threshold: float = 0.5

    @property
    def column(self) -> str:
        """The column holding the predictions."""
        return self.score_column or self.prediction_column or ""

    def kind(self, task: str) -> str:
        """The key of :data:`PREDICTIONS_PERFORMANCE`: ``score``, else the task."""
        return "score" if self.score_column else task


def _predictions_files(
    root: Path, name: str, data: str, target: str, task: str | None, audit: Audit, plan: _Plan
) -> tuple[str, list[str]]:
    """Add a predictions spec (an audit of ``data``) to ``plan``; return the task and notes."""
    import pandas as pd

    frame = read_table(root / data, data)
    for option, column in (
        ("--target", target),
        ("--score-column", audit.score_column),
        ("--prediction-column", audit.prediction_column),
    ):
        if column is not None and column not in frame.columns:
            raise InvalidInput(
                f"{option} {column!r} is not a column of {data}", hint=f"columns: {', '.join(map(str, frame.columns))}"
            )
    if audit.column == target:
        raise InvalidInput(f"the predictions column {target!r} is also --target: name the true outcome's column")
    if audit.score_column:
        if task == "regression":
            raise InvalidInput("--score-column is a class probability: audit a regression with --prediction-column")
        task = "classification"
    task = task or infer_task(frame[target])
    columns = split_features(frame.drop(columns=[audit.column]), target)
    protected = [c for c in columns.numeric + columns.categorical + columns.text if PROTECTED.match(c)]
    if audit.score_column:
        decision = f"  score_column: {_scalar(audit.score_column)}\n  # a score at or above it decides positive_label\n"
        decision += f"  threshold: {audit.threshold}"
    else:
        decision = f"  prediction_column: {_scalar(audit.prediction_column or '')}"
    labels = sorted(frame[target].dropna().unique().tolist()) if task == "classification" else []
    positive = ""
    if len(labels) == 2:  # the larger label is mlgate's default too: written out, so it can be checked
        value = labels[-1]
        shown = str(value) if pd.api.types.is_number(value) else _scalar(str(value))
        positive = "# the favourable outcome binary metrics are about (the larger label: check it)\n"
        positive += f"positive_label: {shown}\n"
    owner = _scalar(_git_owner(root))
    plan.create[f"models/{name}/model.yaml"] = Template(_template("predictions-model.yaml.tmpl")).substitute(
        name=name,
        data=_scalar(data),
        target=_scalar(target),
        task=task,
        owner=owner,
        description=_scalar(f"Audit of the predictions of {target} in {data} (say whose, and what they decide)."),
        decision=decision,
        positive_label=positive,
        numeric=", ".join(map(_scalar, columns.numeric)),
        categorical=", ".join(map(_scalar, columns.categorical)),
        text=f"\n  text: [{', '.join(map(_scalar, columns.text))}]" if columns.text else "",
        sensitive_hint=f"\n# Columns here that look like one: {', '.join(protected)}." if protected else "",
        left_out="".join(f"\n# left out, {why}: {_scalar(column)}" for column, why in columns.ids.items()),
    )
    notes = [f"{name}: audit of {task} predictions ({audit.column}) of {target!r}, policy policies/predictions.yaml"]
    notes += _left_out_notes(columns)
    if protected:
        notes.append(f"columns that look protected ({', '.join(protected)}): consider sensitive_features in the spec")
    return task, notes


def _left_out_notes(columns: Columns) -> list[str]:
    """One note per reason a column was left out as an id, naming the columns."""
    notes = []
    for reason in IdReason:
        named = [column for column, why in columns.ids.items() if why is reason]
        if named:
            notes.append(f"left out as ids ({reason}): {', '.join(named)}")
    return notes


def init_repo(
    root: Path,
    *,
    model: str | None = None,
    data: str | None = None,
    target: str | None = None,
    task: str | None = None,
    approvers: tuple[str, ...] = (),
    actions: str = ACTIONS,
    audit: Audit | None = None,
) -> InitResult:
    """Scaffold a governed repo in ``root``; raise InvalidInput (nothing written) on a conflict.

    With ``audit`` the data file holds predictions made elsewhere: the spec is a predictions spec
    judged by ``policies/predictions.yaml`` instead of a model trained by ``policies/default.yaml``.
    """
    root = root.resolve()
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a folder")
    if (model or target) and not data:
        raise InvalidInput("--model and --target need --data (the CSV the model learns from)")
    if data and not target:
        raise InvalidInput("--data needs --target (the column to predict)")
    if audit and not data:
        raise InvalidInput("--score-column and --prediction-column need --data (the predictions file)")
    if audit and audit.score_column and audit.prediction_column:
        raise InvalidInput("give one of --score-column (a probability) and --prediction-column (a decided label)")
    result = InitResult(root=root)
    plan = _Plan()
    rel_data = None
    if data:
        path = Path(data)
        path = (path if path.is_absolute() else Path.cwd() / path).resolve()
        if not path.is_file():
            raise InvalidInput(f"data file not found: {data}")
        if not path.is_relative_to(root):
            raise InvalidInput(
                f"{data} is outside {root}", hint="copy the data into the repo first (e.g. data/), then run init"
            )
        rel_data = path.relative_to(root).as_posix()
        name = model or default_name(path)
        if not re.match(NAME_PATTERN, name):
            raise InvalidInput(f"model name {name!r} must match {NAME_PATTERN} (lower case, digits, - and _)")
        assert target is not None
        result.model = name
        if audit:
            result.task, result.notes = _predictions_files(root, name, rel_data, target, task, audit, plan)
        else:
            result.task, result.notes = _model_files(root, name, rel_data, target, task, plan)
    else:
        plan.create["models/.gitkeep"] = ""
    final_task = result.task or task or "classification"
    plan.create |= _policies(final_task, approvers, audit.kind(final_task) if audit else None)
    plan.create |= _workflows(actions)
    plan.create[".github/CODEOWNERS"] = _codeowners(approvers)
    gitignore = root / ".gitignore"
    present = set(gitignore.read_text(encoding="utf-8").splitlines()) if gitignore.is_file() else set()
    missing = [line for line in GITIGNORE if line not in present and line.lstrip("/") not in present]
    if missing:
        block = (
            "# the embedded MLflow registry (mlgate's default without MLFLOW_TRACKING_URI)\n"
            + "\n".join(missing)
            + "\n"
        )
        plan.append[".gitignore"] = block

    existing = sorted(rel for rel in plan.create if (root / rel).exists()) + plan.conflicts
    if existing:
        raise InvalidInput(
            f"mlgate init never overwrites: {', '.join(existing)} already exist(s)",
            hint="move them away (or init in another folder); nothing was written",
        )

    # git and DVC first: if `dvc add` refuses the file, none of mlgate's files is written yet
    if git.toplevel(root) is None:
        git.init(root)
        result.ran.append("git init")
    if rel_data:
        if _dvc_root(root) is None:
            subdir = git.toplevel(root) != root
            dvc_init(root, subdir=subdir)
            result.ran.append("dvc init" + (" --subdir" if subdir else ""))
        if not (root / f"{rel_data}.dvc").is_file():
            dvc_add(root, rel_data, hint=f"if git tracks it already: `git rm --cached {rel_data}`, then run init again")
            result.ran.append(f"dvc add {rel_data}")
    for rel, text in plan.create.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        result.created.append(rel)
    for rel, text in plan.append.items():
        path = root / rel
        before = path.read_text(encoding="utf-8") if path.is_file() else ""  # `dvc add` may have written it
        (result.appended if path.exists() else result.created).append(rel)
        with path.open("a", encoding="utf-8") as out:  # creates it when missing
            out.write(("\n" if before and not before.endswith("\n") else "") + text)
    return result
