"""Retraining as a pull request (``mlgate monitor --propose-retrain``).

When a monitoring verdict says the model should be retrained, the spec's ``monitoring.retrain``
says how the training data is refreshed, and the refresh becomes an ordinary pull request from
the branch ``mlgate/retrain-<model>``: ``propose.yml`` trains and gates it like any other change,
and a release.yaml pull request promotes the new version. mlgate never trains or promotes on its
own authority here; it writes the change a person would write.

Recipes:

- ``command`` (e.g. ``dvc repro prepare``): run from the repo root without a shell, in its own
  process group, with a timeout (:func:`mlgate.training.run_command`); what it changes
  in git — modified tracked files and new DVC pointers (``*.dvc``, ``dvc.lock``, ``.gitignore``)
  — is committed, the data it wrote (gitignored by DVC) is pushed to the DVC remote so the pull
  request's job can pull it, never committed;
- ``snapshots`` (a glob): the newest matching DVC-tracked file by name becomes the spec's
  ``data.path``, edited in the YAML text in place (comments and style kept).

Rules: one open retraining pull request per model (an open one from the branch: ``exists``,
nothing pushed); a recipe that changes nothing opens nothing (``no_change``); the pull request is
created with the lost-response rule (looked up by its head before a retry: never two).

The recipe runs in a scratch checkout of the base branch (:func:`mlgate.git.scratch_worktree`,
sharing the workspace's DVC cache and remotes), where the commit is made and pushed from: the
user's checkout — branch, HEAD, index, work tree and data, uncommitted files included — is never
switched, reset or touched, whatever fails; the scratch checkout is removed afterwards.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate import git
from mlgate.config import Document, ModelSpec, load_model_spec, replace_scalar, spec_path
from mlgate.config import parse_yaml as parse
from mlgate.data import dvc_checkout_all, dvc_push, share_workspace
from mlgate.exceptions import InvalidInput, SpecError
from mlgate.github import GitHub
from mlgate.training import child_env, echo_masked, run_command

Progress = Callable[[str], None]

BRANCH_PREFIX = "mlgate/retrain-"
MARKER = "<!-- mlgate:retrain:{model} -->"
POINTER_NAMES = (".gitignore", "dvc.lock", "dvc.yaml")
"""New untracked files a refresh may add besides ``*.dvc`` pointers (DVC writes them)."""


def branch_name(model: str) -> str:
    """The branch a model's retraining pull request comes from."""
    return f"{BRANCH_PREFIX}{model}"


class RetrainAction(StrEnum):
    """What ``mlgate retrain`` did (the result's ``action``)."""

    NOT_TRIGGERED = "not_triggered"  # the verdict does not ask for retraining
    NO_RECIPE = "no_recipe"  # retraining is due but the spec says not how (its ``hint`` says what to add)
    EXISTS = "exists"  # a retraining pull request is already open: nothing pushed
    NO_CHANGE = "no_change"  # the recipe changed nothing: no pull request
    OPENED = "opened"


@dataclass(frozen=True)
class RetrainResult:
    """What :func:`propose` did: the action, the branch, and the pull request (opened or already open).

    ``commit``, ``changed`` and ``title`` are set when a pull request was opened, ``hint`` when the
    spec says not how to retrain.
    """

    action: RetrainAction
    branch: str
    number: int | None = None
    url: str | None = None
    commit: str | None = None
    changed: list[str] | None = None
    title: str | None = None
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """``{"action", "number", "url", "branch"}`` and whichever of the optional fields are set."""
        out: dict[str, Any] = {"action": self.action, "number": self.number, "url": self.url, "branch": self.branch}
        extra = {"commit": self.commit, "changed": self.changed, "title": self.title, "hint": self.hint}
        return out | {k: v for k, v in extra.items() if v is not None}


def propose(
    root: Path,
    name: str,
    verdict: dict[str, Any],
    client: GitHub,
    *,
    remote: str = "origin",
    base: str = "main",
    progress: Progress = lambda _m: None,
    timeout_minutes: float | None = None,
) -> RetrainResult:
    """Open the retraining pull request ``verdict`` asks for, as ``monitoring.retrain`` says.

    ``client`` is a :class:`mlgate.github.GitHub` for the repository. Returns a :class:`RetrainResult`:
    the :class:`RetrainAction`, the branch and the pull request, plus what was changed and committed
    when a pull request was opened.
    """
    branch = branch_name(name)
    if verdict.get("model") not in (None, name):
        raise InvalidInput(f"the monitoring verdict is about '{verdict.get('model')}', not '{name}'")
    retrain = verdict.get("retrain") or {}
    if not retrain.get("triggered"):
        progress(f"{name}: the verdict does not ask for retraining; nothing to propose")
        return RetrainResult(RetrainAction.NOT_TRIGGERED, branch)
    spec, _spec_doc = load_model_spec(spec_path(root, name), root)
    recipe = spec.monitoring.retrain
    if recipe is None:
        progress(f"{name}: retraining is due ({retrain.get('reason', '')}) but the spec says not how")
        return RetrainResult(
            RetrainAction.NO_RECIPE,
            branch,
            hint=(
                f"add monitoring.retrain to models/{name}/model.yaml: `command:` (e.g. `dvc repro prepare`) "
                "or `snapshots:` (a glob of DVC-tracked data files; the newest becomes data.path)"
            ),
        )
    existing = client.open_pull_requests(branch)
    if existing:
        pull = existing[0]
        progress(f"{name}: retraining pull request #{pull.number} is already open; nothing pushed")
        return RetrainResult(RetrainAction.EXISTS, branch, number=pull.number, url=pull.html_url or None)
    start = _start_point(root, remote, base)
    with git.scratch_worktree(root, start) as work:
        progress(f"{name}: refreshing the data in a scratch checkout of {base} ({start[:12]})")
        # the base's spec and recipe: the pull request changes what the base holds
        spec, spec_doc = load_model_spec(spec_path(work, name), work)
        recipe = spec.monitoring.retrain
        if recipe is None:
            raise InvalidInput(f"models/{name}/model.yaml on {base} has no monitoring.retrain: commit it first")
        if recipe.command:
            share_workspace(root, work)
            missing = dvc_checkout_all(work)
            if missing:
                progress(f"not all of the base's data is in the DVC cache ({missing}); the command may fetch it")
            untracked_before = git.untracked_files(work)
            limit = timeout_minutes if timeout_minutes is not None else recipe.timeout_minutes
            changes = _run_recipe_command(work, name, recipe.command, untracked_before, limit, progress)
        else:
            assert recipe.snapshots is not None
            changes = _point_at_newest_snapshot(work, name, spec, spec_doc, recipe.snapshots, progress)
        staged = git.staged_files(work)
        if not staged:
            progress(f"{name}: the recipe changed nothing; no pull request")
            return RetrainResult(RetrainAction.NO_CHANGE, branch)
        _refuse_tracked_data(work, staged)
        if recipe.command:
            targets = _pushed_data(work, start, staged)
            progress(f"pushing the refreshed data to the DVC remote: {', '.join(targets) or 'nothing new'}")
            dvc_push(work, targets)
        title, body, message = _texts(name, verdict, recipe.command, changes, staged)
        commit = git.commit(work, message)
        progress(f"pushing {branch} to {remote}")
        # the branch is mlgate's own and no pull request is open from it: a leftover (a pull
        # request closed unmerged, an earlier attempt that opened none) is replaced
        git.push_head(work, remote, branch, replace=True)
    pull = client.create_pull_request(title=title, body=body, head=branch, base=base)
    progress(f"{name}: opened retraining pull request #{pull.number}")
    return RetrainResult(
        RetrainAction.OPENED,
        branch,
        number=pull.number,
        url=pull.html_url or None,
        commit=commit,
        changed=staged,
        title=title,
    )


# --------------------------------------------------------------------------- git state


def _start_point(root: Path, remote: str, base: str) -> str:
    """The commit the retraining branch starts from: the base branch (local, else as last fetched)."""
    found = git.branch_commit(root, remote, base)
    if found is None:
        raise InvalidInput(
            f"the base branch '{base}' is neither a local branch nor {remote}/{base} in {root}",
            hint=f"git fetch {remote} {base} (or pass the base branch the pull request targets)",
        )
    return found


# --------------------------------------------------------------------------- DVC pointers


def _lock_outputs(text: str | None, folder: str = "", shown: str = "dvc.lock") -> dict[str, str]:
    """``{path: md5}`` of the file outputs a ``dvc.lock`` (text) records, paths from the repo root."""
    data = parse(text or "", shown, allow_empty=True).data
    found: dict[str, str] = {}
    for stage in (data.get("stages") or {}).values():
        for out in (stage or {}).get("outs") or []:
            if isinstance(out, dict) and out.get("path") and out.get("md5"):
                found[str(PurePosixPath(folder, out["path"]))] = str(out["md5"])
    return found


def _pointer_outputs(text: str | None, folder: str, shown: str) -> dict[str, str]:
    """``{path: md5}`` of the outputs a ``.dvc`` file (text) records."""
    data = parse(text or "", shown, allow_empty=True).data
    return {
        str(PurePosixPath(folder, out["path"])): str(out["md5"])
        for out in data.get("outs") or []
        if isinstance(out, dict) and out.get("path") and out.get("md5")
    }


def _recorded_outputs(root: Path) -> dict[str, str]:
    """Every file output the workspace's ``dvc.lock`` files and ``.dvc`` pointers record."""
    found: dict[str, str] = {}
    for rel in git.tracked_files(root, "*.dvc", "*dvc.lock"):
        folder = str(PurePosixPath(rel).parent)
        text = (root / rel).read_text(encoding="utf-8") if (root / rel).is_file() else None
        found |= _lock_outputs(text, folder, rel) if rel.endswith("dvc.lock") else _pointer_outputs(text, folder, rel)
    return {path.removeprefix("./"): md5 for path, md5 in found.items() if not md5.endswith(".dir")}


def _pushed_data(root: Path, start: str, staged: list[str]) -> list[str]:
    """``dvc push`` targets: the staged ``.dvc`` pointers, and the ``dvc.lock`` outputs whose md5 moved."""
    targets: list[str] = []
    for rel in staged:
        if not (root / rel).is_file():
            continue
        folder = str(PurePosixPath(rel).parent)
        if rel.endswith(".dvc"):
            targets.append(rel)
        elif PurePosixPath(rel).name == "dvc.lock":
            before = _lock_outputs(git.show(root, start, rel), folder, f"{rel} (at {start[:12]})")
            now = _lock_outputs((root / rel).read_text(encoding="utf-8"), folder, rel)
            targets += sorted(path.removeprefix("./") for path, md5 in now.items() if before.get(path) != md5)
    return targets


def _refuse_tracked_data(root: Path, staged: list[str]) -> None:
    """Never commit a file DVC tracks (DVC gitignores its outputs; a forced add would defeat that)."""
    recorded = set(_recorded_outputs(root))
    tracked = [rel for rel in staged if rel in recorded or (root / f"{rel}.dvc").is_file()]
    if tracked:
        raise InvalidInput(
            f"the retraining commit would hold data DVC tracks: {', '.join(tracked)}",
            hint="DVC-tracked data goes to the DVC remote, not to git: check the .gitignore entries DVC writes",
        )


# --------------------------------------------------------------------------- recipes


def _run_recipe_command(
    root: Path, name: str, command: str, untracked_before: set[str], timeout_minutes: float, progress: Progress
) -> dict[str, Any]:
    """Run ``monitoring.retrain.command``; stage what it changed in git. Its output goes to stderr."""
    argv = shlex.split(command)  # checked when the spec was parsed
    progress(f"running `{command}` in {root}")
    env = child_env({"MLGATE_MODEL": name, "MLGATE_REPO": str(root.resolve())})
    try:
        code, tail = run_command(argv, root, env, timeout_minutes * 60, echo_masked)
    except InvalidInput as err:  # it could not start
        raise InvalidInput(f"monitoring.retrain.command: {err.message}") from None
    quoted = "\n".join(f"  | {line}" for line in tail)
    if code is None:
        raise InvalidInput(
            f"monitoring.retrain.command `{command}` ran past {timeout_minutes:g} minutes and was stopped; "
            f"its last lines:\n{quoted}"
        )
    if code != 0:
        raise InvalidInput(
            f"monitoring.retrain.command `{command}` failed with exit code {code}; its last lines:\n{quoted}"
        )
    git.stage_tracked(root)
    new = sorted(git.untracked_files(root) - untracked_before)
    pointers = [p for p in new if p.endswith(".dvc") or PurePosixPath(p).name in POINTER_NAMES]
    git.stage(root, pointers)
    left = [p for p in new if p not in pointers]
    if left:
        progress(f"left out of the commit (not a DVC pointer, lock or .gitignore): {', '.join(left)}")
    return {"command": command}


def _snapshot_candidates(root: Path, pattern: str) -> dict[str, bool]:
    """``{path: tracked}`` for the files the glob matches, present or only recorded by a ``.dvc`` pointer."""
    found: dict[str, bool] = {}
    for match in root.glob(pattern):
        if match.is_file() and match.suffix != ".dvc":
            rel = match.relative_to(root).as_posix()
            found[rel] = (root / f"{rel}.dvc").is_file()
    for pointer in root.glob(f"{pattern}.dvc"):  # a snapshot recorded but not pulled
        found[pointer.relative_to(root).as_posix().removesuffix(".dvc")] = True
    return found


def _point_at_newest_snapshot(
    root: Path, name: str, spec: ModelSpec, spec_doc: Document, pattern: str, progress: Progress
) -> dict[str, Any]:
    """Set ``data.path`` to the newest snapshot by name (edited in place); stage the spec."""
    where = ("monitoring", "retrain", "snapshots")
    if not spec.dataset.path:
        message = "the snapshots recipe sets data.path, and this spec has none (it trains on data.train)"
        raise SpecError([spec_doc.problem(where, message)])
    candidates = _snapshot_candidates(root, pattern)
    if not candidates:
        raise SpecError([spec_doc.problem(where, f"no file matches {pattern!r}")])
    newest = max(candidates, key=lambda rel: (PurePosixPath(rel).name, rel))
    if not candidates[newest]:
        message = f"the newest snapshot {newest} is not DVC-tracked (no {newest}.dvc beside it)"
        raise SpecError([spec_doc.problem(where, message)])
    if newest == spec.dataset.path:
        progress(f"{name}: data.path is already the newest snapshot, {newest}")
        return {"data.path": [newest, newest]}
    rel = spec_path(root, name).relative_to(root).as_posix()
    replace_scalar(spec_path(root, name), ("data", "path"), newest, rel)
    git.stage(root, [rel])
    progress(f"{rel}: data.path {spec.dataset.path} → {newest}")
    return {"data.path": [spec.dataset.path, newest]}


# --------------------------------------------------------------------------- texts


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _texts(
    name: str, verdict: dict[str, Any], command: str | None, changes: dict[str, Any], staged: list[str]
) -> tuple[str, str, str]:
    """The pull request's title and body, and the commit message."""
    retrain = verdict.get("retrain") or {}
    reason = str(retrain.get("reason") or "the monitoring verdict asks for retraining")
    stage = verdict.get("stage") or "production"
    run_id = verdict.get("monitoring_run_id") or "unknown"
    title = f"Retrain {name}: {reason}"
    message = f"{name}: retrain — {reason} in {stage} (monitoring run {run_id})"
    version = verdict.get("version")
    lines = [
        f"`mlgate monitor` found that **{name}** in **{stage}**"
        + (f" (v{version})" if version is not None else "")
        + " should be retrained:",
        "",
        f"> {reason}",
        "",
    ]
    when = retrain.get("when")
    if isinstance(when, dict) and when.get("metric"):
        metric = str(when["metric"])
        bound = " and ".join(f"{k} {_figure(when[k])}" for k in ("min", "max") if when.get(k) is not None)
        observed = (verdict.get("metrics") or {}).get(metric) if isinstance(verdict.get("metrics"), dict) else None
        lines += [
            "| trigger (`monitoring.retrain_when`) | bound | observed |",
            "|---|---|---|",
            f"| `{metric}` | {bound or '—'} | {_figure(observed) if observed is not None else '—'} |",
            "",
        ]
    metrics = verdict.get("metrics")
    if isinstance(metrics, dict) and metrics:
        shown = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float, str)) or v is None][:20]
        if shown:
            lines += ["| metric | value |", "|---|---|", *(f"| `{k}` | {_figure(v)} |" for k, v in shown), ""]
    run = f"`{run_id}`"
    if verdict.get("monitoring_run_url"):
        run = f"[{run_id}]({verdict['monitoring_run_url']})"
    evaluated = f", evaluated at {verdict['evaluated_at']}" if verdict.get("evaluated_at") else ""
    lines.append(f"Monitoring run: {run}{evaluated}.")
    server, repo, action_run = (os.environ.get(f"GITHUB_{k}", "") for k in ("SERVER_URL", "REPOSITORY", "RUN_ID"))
    if server and repo and action_run:
        lines.append(f"Found by workflow run {server}/{repo}/actions/runs/{action_run}.")
    lines += ["", "## The change", ""]
    if command:
        lines.append(f"`monitoring.retrain.command` ran: `{command}`. The refreshed data is on the DVC remote.")
    else:
        old, new = changes["data.path"]
        lines.append(f"`monitoring.retrain.snapshots`: `data.path` `{old}` → `{new}` (the newest snapshot).")
        lines.append(
            "`data.path` is split into training and evaluation rows, so the evaluation data changes too: "
            "a judging change, which the governance check asks an approver to review."
        )
    lines += ["", "Files:", *(f"- `{path}`" for path in staged), ""]
    lines += [
        "## What happens next",
        "",
        "This pull request goes through the usual gates: the propose workflow trains the model on the",
        "refreshed data, gates the new version against the base branch's policy and posts its report",
        "here. Merging it moves no stage: promote the new version with a release.yaml pull request",
        f"(`mlgate propose-promotion {name} --version N --stage {stage}`), planned and approved as usual.",
        "",
        "mlgate keeps one open retraining pull request per model: while this one is open, later",
        "monitoring runs leave it as it is.",
        "",
        MARKER.format(model=name),
    ]
    return title, "\n".join(lines), message
