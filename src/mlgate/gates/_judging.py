"""What judges a model, and what a pull request may change.

A spec holds two kinds of fields. *Model fields* say what the model is and are the PR author's
to change: description, owners, features, how it is trained (``estimator``, or ``train`` with the
team's own command), seed, model-card text, the training file of a ``train``/``holdout`` layout,
and ``output`` (how a non-scikit-learn model's predict output is read: the PR's model could return
anything anyway). Which estimator modules may be imported is the judged policy's ``training:``.
*Judging fields* say how the model is judged: the task and target, the positive label, the
sensitive features with their bins and labels, the policy, the monitoring plan, the split
settings and the evaluation data (``data.path`` when it is split, ``data.holdout``,
``data.reference``, ``data.current``, each with the DVC md5 git records). A predictions spec's
whole ``predictions:`` block judges too: its file holds the true labels next to the predictions,
so it is evaluation data (``predictions.path`` and its md5), and its columns and threshold decide
what is measured.

On a pull request the gates take the judging fields from the base commit (see
:func:`judged_spec_data`), and a PR that changes one is a governance change (mlgate.gates.governance):
reported at the top of its report and held red until a named approver approves it.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate.config import ModelContext, ModelSpec, PolicySource, load, load_model_context, load_model_spec, spec_path
from mlgate.config import parse_model as parse
from mlgate.data import DataAt, dvc_record
from mlgate.exceptions import GitError, InvalidInput
from mlgate.git import blobs, raw_diff, resolve_commit, tree_entries, unknown_ref, work_tree_changes, write_blobs

# Top-level spec keys that judge a model (``data`` is split below: part of it trains, part judges).
JUDGING_KEYS = ("task", "target", "positive_label", "sensitive_features", "policy", "monitoring", "predictions")
# Data roles whose content judges: the split file (its holdout), the holdout file, drift inputs.
EVALUATION_ROLES = ("path", "holdout", "reference", "current")
DEFAULT_POLICY = "policies/default.yaml"


def evaluation_paths(spec_data: dict[str, Any] | None) -> dict[str, str]:
    """Field (``data.holdout``, ``predictions.path``...) → path of every file a spec evaluates on.

    From parsed YAML (a PR's spec may be malformed: values that are not strings are left out).
    """
    spec_data = spec_data if isinstance(spec_data, dict) else {}
    data = spec_data.get("data")
    if not isinstance(data, dict):
        data = {}
    found = {f"data.{role}": data.get(role) for role in EVALUATION_ROLES}
    predictions = spec_data.get("predictions")
    found["predictions.path"] = predictions.get("path") if isinstance(predictions, dict) else None
    return {key: value for key, value in found.items() if isinstance(value, str) and value}


def _evaluation_data(data: dict[str, Any]) -> dict[str, Any]:
    """The judging part of a spec's ``data:`` block (everything but a separate training file)."""
    return {k: v for k, v in (data or {}).items() if k != "train"}


def judging_view(spec_data: dict[str, Any] | None) -> dict[str, Any]:
    """The judging fields of a spec (as parsed YAML), with defaults made explicit."""
    spec_data = spec_data or {}
    view = {key: spec_data.get(key) for key in JUDGING_KEYS}
    view["policy"] = view["policy"] or DEFAULT_POLICY
    view["data"] = _evaluation_data(spec_data.get("data") or {})
    return view


def judged_spec_data(head: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """The spec the gates judge with: the head's model fields, the base's judging fields.

    A model new in the pull request (no base spec) keeps its own judging fields; its policy
    must still live in the base commit's ``policies/`` (checked where the policy is loaded).
    """
    if base is None:
        return copy.deepcopy(head)
    merged = copy.deepcopy(head)
    for key in JUDGING_KEYS:
        if key in base:
            merged[key] = copy.deepcopy(base[key])
        else:
            merged.pop(key, None)
    data = _evaluation_data(copy.deepcopy(base.get("data") or {}))
    if "train" in (head.get("data") or {}) and "path" not in data:
        data["train"] = head["data"]["train"]  # the model's own training file, with base's holdout
    elif "train" in (base.get("data") or {}):
        data["train"] = base["data"]["train"]  # head moved to a split layout: judge like the base
    merged["data"] = data
    return merged


@dataclass(frozen=True)
class FieldChange:
    """One judging field or data pointer that differs between base and head."""

    field: str
    base: Any
    head: Any

    @property
    def diff(self) -> str:
        """A unified diff of the field's base and head values, as indented JSON."""

        def text(value: Any) -> list[str]:
            return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").splitlines(keepends=True)

        return "".join(difflib.unified_diff(text(self.base), text(self.head), "base", "head"))

    def as_dict(self) -> dict[str, Any]:
        """The change as it appears in a verdict's ``judging.changes``."""
        return {"field": self.field, "base": self.base, "head": self.head, "diff": self.diff}


def judging_changes(
    base: dict[str, Any] | None,
    head: dict[str, Any] | None,
    base_md5s: dict[str, str] | None = None,
    head_md5s: dict[str, str] | None = None,
) -> list[FieldChange]:
    """Judging fields and evaluation-data md5s that differ (``base=None``: the model is new).

    The md5s are keyed as :func:`evaluation_paths` keys the files (``data.holdout``, ``predictions.path``).
    """
    if base is None and head is None:
        return []
    if base is None:
        return [FieldChange("(new model)", None, judging_view(head))]
    if head is None:
        return [FieldChange("(model removed)", judging_view(base), None)]
    old, new = judging_view(base), judging_view(head)
    changes = [FieldChange(key, old[key], new[key]) for key in (*JUDGING_KEYS, "data") if old[key] != new[key]]
    old_md5s, new_md5s = base_md5s or {}, head_md5s or {}
    old_paths, new_paths = evaluation_paths(base), evaluation_paths(head)
    for key, rel in old_paths.items():
        if new_paths.get(key) == rel and old_md5s.get(key) != new_md5s.get(key):
            changes.append(FieldChange(f"{key} (content)", old_md5s.get(key), new_md5s.get(key)))
    return changes


def decision_change(base: dict[str, Any] | None, head: dict[str, Any] | None) -> FieldChange | None:
    """The ``decision:`` block (threshold, review band) as the PR changes it, or None.

    A model field: the PR's to change, and the gates judge the head's decisions. It is not a
    governance change, but what is deployed decides differently, so a report shows it at the top.
    None for a model new in the PR (nothing changes) or a spec that does not parse as a mapping.
    """
    if not isinstance(base, dict) or not isinstance(head, dict):
        return None
    old, new = base.get("decision"), head.get("decision")
    return None if old == new else FieldChange("decision", old, new)


# --------------------------------------------------------------------------- the base commit


@dataclass(frozen=True)
class BaseTree:
    """Governance files as of a commit (a PR's base), materialised in ``root`` without checkout.

    Holds ``policies/``, the model specs, ``params.yaml``, DVC pointers and ``dvc.lock``: what
    judging needs, and nothing that runs.
    """

    root: Path
    ref: str
    repo: Path | None = None  # the repository it came from: its DVC cache/remote hold directory listings

    def spec_data(self, name: str) -> dict[str, Any] | None:
        """The model's spec at the base as parsed YAML (None when the model is new in the PR)."""
        path = self.root / "models" / name / "model.yaml"
        if not path.is_file():
            return None
        data = load(path, f"{self.ref[:12]}:models/{name}/model.yaml").data
        return data if isinstance(data, dict) else None


def _governance_file(name: str) -> bool:
    """Files judging reads at the base: policies, specs, params, DVC pointers, dvc.lock, DVC config."""
    return (
        name.startswith(("policies/", "models/"))
        or name in ("params.yaml", "dvc.lock", ".dvc/config")
        or name.endswith(".dvc")
    )


def materialise(repo: Path, ref: str, into: Path) -> BaseTree:
    """Write the governance files of ``ref`` into ``into`` from git's objects (no checkout, nothing runs).

    Each file is its committed blob (``git ls-tree`` + ``git cat-file``), never ``git archive``:
    an archive applies the archived tree's ``.gitattributes``, so a pull request could drop a
    policy file from what is judged (``export-ignore``) or rewrite its text (``export-subst``,
    ``ident``, ``eol``, a smudge filter). A symbolic link is kept only when it points inside the tree.
    """
    try:
        commit = resolve_commit(repo, ref)
    except GitError as err:
        missing = unknown_ref(repo, ref)
        if missing is not None:
            raise missing from err
        raise InvalidInput(
            f"base ref '{ref}' is not a commit in {repo}",
            hint="fetch the base branch (actions/checkout with fetch-depth: 0)",
        ) from err
    wanted = [e for e in tree_entries(repo, commit) if e.kind == "blob" and _governance_file(e.path)]
    into.mkdir(parents=True, exist_ok=True)
    top = into.resolve()
    files: dict[str, list[Path]] = {}
    links = []
    for entry in wanted:
        target = into / entry.path
        parts = PurePosixPath(entry.path).parts
        if ".." in parts or ".git" in parts or not target.resolve().is_relative_to(top):
            raise InvalidInput(f"commit {commit[:12]} has a path that cannot be read safely: {entry.path!r}")
        if entry.mode == "120000":
            links.append((target, entry.sha, entry.path))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        files.setdefault(entry.sha, []).append(target)
    write_blobs(repo, files)
    # links last: no file above is written through a link, and each link must stay inside the tree
    link_targets = blobs(repo, [sha for _, sha, _ in links])
    for target, sha, rel in links:
        points_to = link_targets[sha].decode(errors="replace")
        resolved = Path(os.path.normpath(target.parent / points_to))
        if PurePosixPath(points_to).is_absolute() or not resolved.is_relative_to(into):
            raise InvalidInput(
                f"commit {commit[:12]} has a file that cannot be read safely: {rel} links outside the tree "
                f"({points_to})"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(points_to)
    return BaseTree(root=into, ref=commit, repo=repo)


# --------------------------------------------------------------------------- the judged model


@dataclass
class Judged:
    """A model as the gates judge it.

    Its context (judging fields from the base, if any), where its evaluation data comes from,
    and what the pull request changes in judging.
    """

    ctx: ModelContext
    at: DataAt | None  # None: the workspace
    base: str | None
    changes: list[FieldChange]
    policy_changes: list[dict[str, str]]
    decision: FieldChange | None = None  # the PR's change of the model field decision: (see decision_change)


def _md5s(files: dict[str, str], records_root: Path, objects: Path) -> dict[str, str]:

    return {role: (dvc_record(rel, records_root, objects) or ("",))[0] for role, rel in files.items() if rel}


def policy_changes(repo: Path, base: str) -> list[dict[str, str]]:
    """Policy files that differ between ``base`` and the working tree, with their diffs."""
    # the raw text: no external driver, textconv or `-diff` attribute of the working tree applies
    return [{"file": f, "diff": raw_diff(repo, base, f)} for f in work_tree_changes(repo, base, "policies")]


def judge_model(
    repo: Path,
    name: str,
    base: str | None,
    scratch: Path,
    *,
    tree: BaseTree | None = None,
    check_estimator: bool = True,
) -> Judged:
    """Load ``name`` for judging.

    As it is (``base=None``), or with ``base``'s judging fields, policies and evaluation data
    (a pull request, or a promotion checked on the branch it lands on). ``check_estimator``: as
    :func:`~mlgate.config.load_model_context` (False: the estimator's module is not imported).
    """
    from dataclasses import replace

    if base is None:
        return Judged(load_model_context(repo, name, check_estimator=check_estimator), None, None, [], [])
    tree = tree or materialise(repo, base, scratch / "base")
    path = spec_path(repo, name)
    if not path.is_file():
        # says "no spec", exit 2
        return Judged(load_model_context(repo, name, check_estimator=check_estimator), None, None, [], [])
    _, head_doc = load_model_spec(path, repo)  # parsed: a malformed head spec is refused here
    base_data = tree.spec_data(name)
    judged_doc = replace(head_doc, data=judged_spec_data(head_doc.data, base_data))
    judged: ModelSpec = parse(ModelSpec, judged_doc)
    source = PolicySource(root=tree.root, policy_file=judged.policy, ref=tree.ref)
    ctx = load_model_context(repo, name, source, spec=(judged, judged_doc), check_estimator=check_estimator)
    base_md5s = _md5s(evaluation_paths(base_data), tree.root, repo)
    head_md5s = _md5s(evaluation_paths(head_doc.data), repo, repo)
    changes = judging_changes(base_data, head_doc.data, base_md5s, head_md5s)
    at = DataAt(records_root=tree.root, ref=tree.ref, scratch=scratch / "data")
    decision = decision_change(base_data, head_doc.data)
    return Judged(ctx, at, tree.ref, changes, policy_changes(repo, tree.ref), decision)
