"""Retraining as a pull request (``mlgate monitor --propose-retrain``).

When a monitoring verdict says the model should be retrained, the spec's ``monitoring.retrain``
says how the training data is refreshed, and the refresh becomes an ordinary pull request from
the branch ``mlgate/retrain-<model>``: ``propose.yml`` trains and gates it like any other change,
and a release.yaml pull request promotes the new version. mlgate never trains or promotes on its
own authority here; it writes the change a person would write.

Recipes:

- ``command`` (e.g. ``dvc repro prepare``): run from the repo root without a shell, in its own
  process group, with a timeout (:func:`mlgate.training.command.run_command`); what it changes
  in git — modified tracked files and new DVC pointers (``*.dvc``, ``dvc.lock``, ``.gitignore``)
  — is committed, the data it wrote (gitignored by DVC) is pushed to the DVC remote so the pull
  request's job can pull it, never committed;
- ``snapshots`` (a glob): the newest matching DVC-tracked file by name becomes the spec's
  ``data.path``, edited in the YAML text in place (comments and style kept).

Rules: one open retraining pull request per model (an open one from the branch: ``exists``,
nothing pushed); a tree with uncommitted changes is refused (exit 2); a recipe that changes
nothing opens nothing (``no_change``); the pull request is created with the lost-response rule
(looked up by its head before a retry: never two). Whatever happens, the base is checked out
again, the local branch deleted and the workspace's data restored to what the base records.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from mlgate.config.schema import ModelSpec, load_model_spec
from mlgate.config.workspace import spec_path
from mlgate.config.yamlio import Document, replace_scalar
from mlgate.data import dvc_checkout, dvc_push, file_md5
from mlgate.exceptions import DvcError, GitError, InvalidInput, SpecError
from mlgate.git import config_value, git_state, run_git, show
from mlgate.github import GitHub
from mlgate.training.command import _echo, child_env, run_command

Progress = Callable[[str], None]

BRANCH_PREFIX = "mlgate/retrain-"
MARKER = "<!-- mlgate:retrain:{model} -->"
POINTER_NAMES = (".gitignore", "dvc.lock", "dvc.yaml")
"""New untracked files a refresh may add besides ``*.dvc`` pointers (DVC writes them)."""
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
"""The commit author when git has no identity configured (an Actions runner)."""


def branch_name(model: str) -> str:
    """The branch a model's retraining pull request comes from."""
    return f"{BRANCH_PREFIX}{model}"


def _result(action: str, branch: str, **extra: Any) -> dict[str, Any]:
    return {"action": action, "number": None, "url": None, "branch": branch} | extra


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
) -> dict[str, Any]:
    """Open the retraining pull request ``verdict`` asks for, as ``monitoring.retrain`` says.

    ``client`` is a :class:`mlgate.github.GitHub` for the repository. Returns ``action``
    (``opened``, ``exists``, ``not_triggered``, ``no_recipe``, ``no_change``), ``number``,
    ``url`` and ``branch``, plus what was changed and committed when a pull request was opened.
    """
    branch = branch_name(name)
    if verdict.get("model") not in (None, name):
        raise InvalidInput(f"the monitoring verdict is about '{verdict.get('model')}', not '{name}'")
    retrain = verdict.get("retrain") or {}
    if not retrain.get("triggered"):
        progress(f"{name}: the verdict does not ask for retraining; nothing to propose")
        return _result("not_triggered", branch)
    spec, spec_doc = load_model_spec(spec_path(root, name), root)
    recipe = spec.monitoring.retrain
    if recipe is None:
        progress(f"{name}: retraining is due ({retrain.get('reason', '')}) but the spec says not how")
        return _result(
            "no_recipe",
            branch,
            hint=(
                f"add monitoring.retrain to models/{name}/model.yaml: `command:` (e.g. `dvc repro prepare`) "
                "or `snapshots:` (a glob of DVC-tracked data files; the newest becomes data.path)"
            ),
        )
    existing = client.open_pull_requests(branch)
    if existing:
        pull = existing[0]
        progress(f"{name}: retraining pull request #{pull['number']} is already open; nothing pushed")
        return _result("exists", branch, number=pull["number"], url=pull.get("html_url"))
    start, back = _start_point(root, base)
    untracked_before = _untracked(root)
    in_sync = _in_sync_outputs(root) if recipe.command else {}
    switched = False
    try:
        run_git(root, "switch", "-q", "-C", branch)
        switched = True
        if recipe.command:
            limit = timeout_minutes if timeout_minutes is not None else recipe.timeout_minutes
            changes = _run_recipe_command(root, name, recipe.command, untracked_before, limit, progress)
        else:
            assert recipe.snapshots is not None
            changes = _point_at_newest_snapshot(root, name, spec, spec_doc, recipe.snapshots, progress)
        staged = [line for line in run_git(root, "diff", "--cached", "--name-only").splitlines() if line]
        if not staged:
            progress(f"{name}: the recipe changed nothing; no pull request")
            return _result("no_change", branch)
        _refuse_tracked_data(root, staged)
        if recipe.command:
            targets = _pushed_data(root, start, staged)
            progress(f"pushing the refreshed data to the DVC remote: {', '.join(targets) or 'nothing new'}")
            dvc_push(root, targets)
        title, body, message = _texts(name, verdict, recipe.command, changes, staged)
        _commit(root, message)
        commit = run_git(root, "rev-parse", "HEAD")
        progress(f"pushing {branch} to {remote}")
        # the branch is mlgate's own and no pull request is open from it: a leftover is replaced
        run_git(root, "push", "-q", "--force", remote, f"HEAD:refs/heads/{branch}")
        pull = client.create_pull_request(title=title, body=body, head=branch, base=base)
        progress(f"{name}: opened retraining pull request #{pull['number']}")
        return _result(
            "opened",
            branch,
            number=pull["number"],
            url=pull.get("html_url"),
            commit=commit,
            changed=staged,
            title=title,
        )
    finally:
        if switched:
            _restore(root, back, branch, in_sync, progress)


# --------------------------------------------------------------------------- git state


def _start_point(root: Path, base: str) -> tuple[str, list[str]]:
    """The commit the branch starts from, and the ``git switch`` arguments that return to it."""
    state = git_state(root)
    if state.commit == "unknown":
        raise InvalidInput(f"{root} is not a git repository with a commit")
    if state.dirty:
        changed = run_git(root, "status", "--porcelain", "--untracked-files=no")
        raise InvalidInput(
            f"the working tree has uncommitted changes; a retraining pull request starts from a clean {base}:\n"
            + changed,
            hint="commit or stash them first",
        )
    if state.branch == base:
        return state.commit, [base]
    try:
        at = run_git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    except GitError:  # no such branch here
        at = ""
    if state.branch == "HEAD" and at == state.commit:  # a detached checkout of the base
        return state.commit, ["--detach", state.commit]
    raise InvalidInput(
        f"the checked-out branch is '{state.branch}', not the base '{base}': retraining starts from the base",
        hint=f"git switch {base} (or pass the base branch that is checked out)",
    )


def _untracked(root: Path) -> set[str]:
    return {p for p in run_git(root, "ls-files", "--others", "--exclude-standard", "-z").split("\0") if p}


def _commit(root: Path, message: str) -> None:
    identity: list[str] = []
    if not config_value(root, "user.email"):
        identity = ["-c", f"user.name={BOT_NAME}", "-c", f"user.email={BOT_EMAIL}"]
    run_git(root, *identity, "commit", "-q", "--no-verify", "-m", message)


def _restore(root: Path, back: list[str], branch: str, in_sync: dict[str, str], progress: Progress) -> None:
    """Back to the base: the branch's uncommitted leftovers dropped, the branch deleted, the data restored."""
    run_git(root, "reset", "-q", "--hard")  # only the recipe's changes: the tree was clean when it started
    run_git(root, "switch", "-q", *back)
    run_git(root, "branch", "-q", "-D", branch)
    drifted = [path for path, md5 in in_sync.items() if not (root / path).is_file() or file_md5(root / path) != md5]
    if drifted:
        try:
            dvc_checkout(root, drifted)
        except DvcError as err:  # the commit and the pull request stand; say what is left to do
            progress(f"could not restore the base's data ({err.message}): run `dvc checkout` yourself")


# --------------------------------------------------------------------------- DVC pointers


def _lock_outputs(text: str | None, folder: str = "") -> dict[str, str]:
    """``{path: md5}`` of the file outputs a ``dvc.lock`` (text) records, paths from the repo root."""
    data = yaml.safe_load(text or "") or {}
    found: dict[str, str] = {}
    for stage in (data.get("stages") or {}).values():
        for out in (stage or {}).get("outs") or []:
            if isinstance(out, dict) and out.get("path") and out.get("md5"):
                found[str(PurePosixPath(folder, out["path"]))] = str(out["md5"])
    return found


def _pointer_outputs(text: str | None, folder: str) -> dict[str, str]:
    """``{path: md5}`` of the outputs a ``.dvc`` file (text) records."""
    data = yaml.safe_load(text or "") or {}
    return {
        str(PurePosixPath(folder, out["path"])): str(out["md5"])
        for out in data.get("outs") or []
        if isinstance(out, dict) and out.get("path") and out.get("md5")
    }


def _recorded_outputs(root: Path) -> dict[str, str]:
    """Every file output the workspace's ``dvc.lock`` files and ``.dvc`` pointers record."""
    found: dict[str, str] = {}
    for rel in run_git(root, "ls-files", "-z", "--", "*.dvc", "*dvc.lock").split("\0"):
        if not rel:
            continue
        folder = str(PurePosixPath(rel).parent)
        text = (root / rel).read_text(encoding="utf-8") if (root / rel).is_file() else None
        found |= _lock_outputs(text, folder) if rel.endswith("dvc.lock") else _pointer_outputs(text, folder)
    return {path.removeprefix("./"): md5 for path, md5 in found.items() if not md5.endswith(".dir")}


def _in_sync_outputs(root: Path) -> dict[str, str]:
    """The recorded data files the workspace holds as recorded: what a restore puts back."""
    return {
        path: md5
        for path, md5 in _recorded_outputs(root).items()
        if (root / path).is_file() and file_md5(root / path) == md5
    }


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
            before = _lock_outputs(show(root, start, rel), folder)
            now = _lock_outputs((root / rel).read_text(encoding="utf-8"), folder)
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
        code, tail = run_command(argv, root, env, timeout_minutes * 60, _echo)
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
    run_git(root, "add", "-u")
    new = sorted(_untracked(root) - untracked_before)
    pointers = [p for p in new if p.endswith(".dvc") or PurePosixPath(p).name in POINTER_NAMES]
    if pointers:
        run_git(root, "add", "--", *pointers)
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
    if not spec.data.path:
        message = "the snapshots recipe sets data.path, and this spec has none (it trains on data.train)"
        raise SpecError([spec_doc.problem(where, message)])
    candidates = _snapshot_candidates(root, pattern)
    if not candidates:
        raise SpecError([spec_doc.problem(where, f"no file matches {pattern!r}")])
    newest = max(candidates, key=lambda rel: (PurePosixPath(rel).name, rel))
    if not candidates[newest]:
        message = f"the newest snapshot {newest} is not DVC-tracked (no {newest}.dvc beside it)"
        raise SpecError([spec_doc.problem(where, message)])
    if newest == spec.data.path:
        progress(f"{name}: data.path is already the newest snapshot, {newest}")
        return {"data.path": [newest, newest]}
    rel = spec_path(root, name).relative_to(root).as_posix()
    replace_scalar(spec_path(root, name), ("data", "path"), newest, rel)
    run_git(root, "add", "--", rel)
    progress(f"{rel}: data.path {spec.data.path} → {newest}")
    return {"data.path": [spec.data.path, newest]}


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
