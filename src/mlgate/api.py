"""mlgate's facade (GTO's ``api.py``): one function per command, what the CLI calls and nothing else.

Each function takes the command's :class:`~mlgate.config.Workspace` (built once per
invocation by the CLI) and its options (a frozen dataclass, one per command, built from the
command line), makes the library call and returns a result with ``as_dict()`` (what ``--json``
writes) and ``blocked`` (exit 1) / ``invalid`` (exit 2). Deciding exit codes from those is the
CLI's edge (``mlgate.cli._base``); printing is the CLI's too.

Cold start: importing this module imports nothing of mlgate's library (nor pandas, scikit-learn,
MLflow). Every library import is made inside the one function that needs it, so a command pays
only for its own: ``mlgate schema`` never loads pandas or MLflow, ``mlgate affected`` never MLflow
(tests/test_cli.py checks both). The function-level imports are listed in the comment block below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.exceptions import InvalidInput

# Function-level imports, kept inside the api functions on purpose: they keep cold start small
# (a command imports only what it uses). The import-linter contract lists the same modules.
#   validate            mlgate.data.validate
#   init                mlgate.data.scaffold
#   schema              mlgate.config.schema
#   pull                mlgate.data
#   train               mlgate.training.train
#   register            mlgate.training.register
#   score               mlgate.scoring
#   monitor             mlgate.monitoring.command
#   serve               mlgate.serving.server
#   gate                mlgate.gates.run; Gated.blocked: mlgate.gates.verdict
#   report              mlgate.report
#   affected            mlgate.config.affected
#   check               mlgate.data.validate, mlgate.config.affected, mlgate.gates.run, mlgate.report,
#                       mlgate.jsonout; Checked.blocked: mlgate.gates.verdict
#   governance          mlgate.gates.governance; Governed.blocked: mlgate.github.objects
#   propose_promotion   mlgate.promotion.proposal
#   pin                 mlgate.promotion.proposal
#   promote             mlgate.promotion
#   status              mlgate.promotion, mlgate.monitoring.command (--alert)
#   history             mlgate.promotion
#   rollback            mlgate.promotion
#   monitored           mlgate.monitoring.schedule
#   workspace           mlgate.config.workspace
#   site                mlgate.site
#   evidence            mlgate.evidence
#   verify_evidence     mlgate.evidence

if TYPE_CHECKING:
    from mlgate.config import Workspace
    from mlgate.data import ValidationReport
    from mlgate.evidence import BuildResult, Verification
    from mlgate.gates import GovernanceReview, Verdict
    from mlgate.monitoring import CompareOutcome, IssueSync, MonitorOutcome
    from mlgate.promotion import GtoView, Promotion, StatusRow
    from mlgate.report import ReportResult
    from mlgate.scoring import ScoreResult
    from mlgate.site import SiteResult
    from mlgate.training import RegisterResult, TrainResult

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    """Progress and warnings nobody asked to see."""


@dataclass(frozen=True)
class Feedback:
    """Where a library call reports progress and warnings while it runs (the CLI's stderr)."""

    progress: Progress = _quiet
    step: Callable[[int, int, str], None] = lambda _i, _n, _m: None
    warn: Progress = _quiet


def workspace(repo: str | Path | None = None, *, tracking_uri: str | None = None) -> Workspace:
    """The command's workspace: the governed repo at or above ``repo`` (default: here), found on first use."""
    from mlgate.config import Settings, Workspace

    return Workspace(start=Path(repo) if repo else None, settings=Settings.from_env(tracking_uri=tracking_uri))


# --------------------------------------------------------------------------- results the library returns as rows


@dataclass(frozen=True)
class Rows:
    """A command's rows (``--json`` writes them as a list), and whether they block (exit 1)."""

    rows: list[dict[str, Any]]
    blocked: bool = False

    def as_dict(self) -> list[dict[str, Any]]:
        """The ``--json`` document: the rows, as a list."""
        return self.rows


@dataclass(frozen=True)
class Document:
    """A command's JSON document as the library returned it (a dict)."""

    document: dict[str, Any]
    blocked: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return self.document


# --------------------------------------------------------------------------- validate / init / schema


@dataclass(frozen=True)
class ValidateOptions:
    """``mlgate validate``."""

    repo: Path | None = None
    no_data: bool = False
    json_path: str | None = None


@dataclass(frozen=True)
class Validated:
    """``mlgate validate``'s report: invalid (exit 2) when it found problems."""

    report: ValidationReport
    root: Path

    @property
    def invalid(self) -> bool:
        """Any problem makes the repo invalid."""
        return bool(self.report.problems)

    def as_dict(self) -> dict[str, object]:
        """The report's JSON."""
        return self.report.as_dict()


def validate(ws: Workspace, opts: ValidateOptions) -> Validated:
    """Validate every spec, policy and release of the repo and their cross-references."""
    from mlgate.data import validate_repo

    return Validated(validate_repo(ws.root, check_data=not opts.no_data), ws.root)


@dataclass(frozen=True)
class InitOptions:
    """``mlgate init``."""

    model: str | None = None
    data: str | None = None
    target: str | None = None
    task: str | None = None
    approvers: tuple[str, ...] = ()
    actions: str = "<owner>/<repo>@v1"
    score_column: str | None = None
    prediction_column: str | None = None
    threshold: float = 0.5
    json_path: str | None = None


def init(opts: InitOptions) -> Any:
    """Scaffold a governed repo in the current folder (an :class:`~mlgate.data._scaffold.InitResult`)."""
    from mlgate.data import Audit, init_repo

    audit = None
    if opts.score_column or opts.prediction_column:
        audit = Audit(opts.score_column, opts.prediction_column, opts.threshold)
    return init_repo(
        Path.cwd(),
        model=opts.model,
        data=opts.data,
        target=opts.target,
        task=opts.task,
        approvers=opts.approvers,
        actions=opts.actions,
        audit=audit,
    )


@dataclass(frozen=True)
class SchemaOptions:
    """``mlgate schema``."""

    kind: str = "all"
    json_path: str = "-"


def schema(opts: SchemaOptions) -> Document:
    """The JSON Schema of model specs, policies and releases (``kind``: one of them, or all)."""
    from mlgate.config import json_schemas

    schemas = json_schemas()
    return Document(schemas if opts.kind == "all" else schemas[opts.kind])


# --------------------------------------------------------------------------- pull / train / register


@dataclass(frozen=True)
class PullOptions:
    """``mlgate pull``."""

    models: tuple[str, ...] = ()
    repo: str | None = None
    json_path: str | None = None


@dataclass(frozen=True)
class Pulled:
    """Per model, what ``mlgate pull`` did with each data file."""

    files: dict[str, list[dict[str, Any]]]

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        """Per model, one entry per file (action, path, md5)."""
        return self.files


def pull(ws: Workspace, opts: PullOptions, feedback: Feedback = Feedback()) -> Pulled:
    """Fetch the data files the models need from the DVC remote."""
    from mlgate.data import pull as pull_data

    return Pulled(pull_data(ws.root, opts.models, progress=feedback.step))


@dataclass(frozen=True)
class TrainOptions:
    """``mlgate train``."""

    model: str
    repo: str | None = None
    json_path: str | None = None
    github_output: str | None = None


def train(ws: Workspace, opts: TrainOptions, feedback: Feedback = Feedback()) -> TrainResult:
    """Train the model from its spec and register a new version."""
    from mlgate.training import train as train_model

    steps = iter(range(1, 5))
    return train_model(ws, opts.model, progress=lambda msg: feedback.step(next(steps), 4, msg))


@dataclass(frozen=True)
class RegisterOptions:
    """``mlgate register``."""

    model: str
    model_uri: str
    commit: str | None = None
    data: tuple[str, ...] = ()
    repo: str | None = None
    json_path: str | None = None

    def stated_data(self) -> dict[str, str]:
        """``--data ROLE=PATH`` as a mapping (exit 2 for anything else)."""
        stated: dict[str, str] = {}
        for item in self.data:
            role, sep, path = item.partition("=")
            if not sep or not role or not path:
                raise InvalidInput(f"--data {item!r}: expected ROLE=PATH, e.g. --data train=data/train.csv")
            stated[role] = path
        return stated


def register(ws: Workspace, opts: RegisterOptions) -> RegisterResult:
    """Register a model trained elsewhere as a new version, with lineage 'external'."""
    from mlgate.training import register_external

    return register_external(ws, opts.model, opts.model_uri, commit=opts.commit, data=opts.stated_data())


# --------------------------------------------------------------------------- score / serve / monitor


@dataclass(frozen=True)
class ScoreOptions:
    """``mlgate score``."""

    model: str
    stage: str
    inputs: str
    output: str
    id_columns: tuple[str, ...] = ()
    engine: str = "pandas"
    on: str | None = None
    spark_master: str | None = None
    batch_rows: int = 100_000
    lock_timeout: float = 3600.0
    ref: str = "HEAD"
    allow_unpinned: bool = False
    reasons: int | None = None
    repo: str | None = None
    json_path: str | None = None


def score(ws: Workspace, opts: ScoreOptions, feedback: Feedback = Feedback()) -> ScoreResult:
    """Score files with the version the stage's alias points at; replace that date's partition."""
    from mlgate.scoring import score as run_score

    return run_score(
        ws,
        opts.model,
        stage=opts.stage,
        inputs=opts.inputs,
        output=Path(opts.output),
        id_columns=opts.id_columns,
        engine=opts.engine,
        on=opts.on,
        spark_master=opts.spark_master,
        batch_rows=opts.batch_rows,
        lock_timeout=opts.lock_timeout,
        progress=feedback.progress,
        ref=opts.ref,
        allow_unpinned=opts.allow_unpinned,
        warn=feedback.warn,
        reasons=opts.reasons or 0,
    )


@dataclass(frozen=True)
class ServeOptions:
    """``mlgate serve``."""

    model: str
    stage: str
    host: str = "127.0.0.1"
    port: int = 8080
    audit_url: str | None = None
    poll_seconds: float = 30.0
    max_rows: int = 1000
    max_body_bytes: int = 1 << 20
    tokens_env: str | None = None
    tokens_file: str | None = None
    audit_timeout: float = 5.0
    ref: str = "HEAD"
    allow_unpinned: bool = False
    workers: int = 1
    arm_key: str | None = None
    repo: str | None = None
    json_path: str | None = None


@dataclass(frozen=True)
class Served:
    """What ``mlgate serve`` served, once it stopped: the start record (model, version, URL, audit store)."""

    started: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The start record."""
        return self.started


def serve(ws: Workspace, opts: ServeOptions, started: Callable[[dict[str, Any]], None]) -> Served:
    """Serve decisions over HTTP until stopped; ``started`` hears what is served once everything checked out."""
    from mlgate.serving import Options
    from mlgate.serving import serve as run_serve

    facts: dict[str, Any] = {}

    def record(what: dict[str, Any]) -> None:
        facts.update(what)
        started(what)

    options = Options(
        host=opts.host,
        port=opts.port,
        audit_url=opts.audit_url,
        poll_seconds=opts.poll_seconds,
        max_rows=opts.max_rows,
        max_body_bytes=opts.max_body_bytes,
        tokens_env=opts.tokens_env,
        tokens_file=opts.tokens_file,
        audit_timeout=opts.audit_timeout,
        ref=opts.ref,
        allow_unpinned=opts.allow_unpinned,
        workers=opts.workers,
        arm_key=opts.arm_key,
    )
    run_serve(ws, opts.model, opts.stage, options, started=record)
    return Served(facts)


@dataclass(frozen=True)
class MonitorOptions:
    """``mlgate monitor``."""

    model: str
    stage: str
    since: str | None = None
    window: str | None = None
    tracking_uri: str | None = None
    ref: str = "HEAD"
    repo: str | None = None
    json_path: str | None = None
    markdown: str | None = None
    html: str | None = None
    alert: bool = False
    propose_retrain: bool = False
    from_verdict: str | None = None
    base: str = "main"
    remote: str = "origin"
    compare: bool = False
    propose: bool = False


@dataclass(frozen=True)
class Compared:
    """``mlgate monitor --compare``'s outcome: blocked (exit 1) on ``abort``, exit 3 when it could not be recorded."""

    outcome: CompareOutcome

    @property
    def blocked(self) -> bool:
        """The comparison says abort."""
        return self.outcome.exit_code == 1

    def as_dict(self) -> dict[str, Any]:
        """The comparison verdict with what followed from it."""
        return self.outcome.as_dict()


@dataclass(frozen=True)
class Monitored:
    """``mlgate monitor``'s outcome: blocked (exit 1) when a blocking monitoring rule failed."""

    outcome: MonitorOutcome

    @property
    def blocked(self) -> bool:
        """A blocking rule failed."""
        return self.outcome.exit_code == 1

    def as_dict(self) -> dict[str, Any]:
        """The monitoring verdict with what followed from it."""
        return self.outcome.as_dict()


def monitor(ws: Workspace, opts: MonitorOptions, feedback: Feedback = Feedback()) -> Monitored | Compared:
    """Measure what the stage saw in production; judge the policy's monitoring rules; act as asked.

    With ``compare``: judge the stage's canary or shadow against its stable version instead
    (:func:`mlgate.monitoring.compare_arms`); ``propose`` opens the pull request the verdict asks for.
    """
    from mlgate.monitoring import compare_arms
    from mlgate.monitoring import monitor as run_monitor

    if opts.propose and not opts.compare:
        raise InvalidInput("--propose acts on a comparison: give it with --compare")
    if opts.compare:
        if opts.propose_retrain or opts.from_verdict:
            raise InvalidInput("--compare judges the candidate arm: --propose-retrain and --from-verdict do not apply")
        return Compared(
            compare_arms(
                ws,
                opts.model,
                opts.stage,
                since=opts.since,
                window=opts.window,
                markdown=Path(opts.markdown) if opts.markdown else None,
                html=Path(opts.html) if opts.html else None,
                propose=opts.propose,
                alert=opts.alert,
                base=opts.base,
                remote=opts.remote,
                progress=feedback.progress,
                ref=opts.ref,
            )
        )
    return Monitored(
        run_monitor(
            ws,
            opts.model,
            opts.stage,
            since=opts.since,
            window=opts.window,
            markdown=Path(opts.markdown) if opts.markdown else None,
            html=Path(opts.html) if opts.html else None,
            alert=opts.alert,
            propose_retrain=opts.propose_retrain,
            base=opts.base,
            remote=opts.remote,
            progress=feedback.progress,
            from_verdict=Path(opts.from_verdict) if opts.from_verdict else None,
            ref=opts.ref,
        )
    )


@dataclass(frozen=True)
class MonitoredOptions:
    """``mlgate monitored``."""

    stage: str
    due_on: datetime | None = None
    every: bool = False
    models: tuple[str, ...] = ()
    repo: str | None = None
    json_path: str | None = None
    github_output: str | None = None


def monitored(ws: Workspace, opts: MonitoredOptions) -> Rows:
    """The models whose release.yaml sets the stage, and whether each is due for monitoring."""
    from mlgate.monitoring import monitored_models

    if opts.every and opts.due_on is not None:
        raise InvalidInput("give --due-on or --all, not both")
    due_on = opts.due_on.date() if opts.due_on else None
    return Rows(monitored_models(ws.root, opts.stage, due_on=due_on, every=opts.every, only=opts.models))


# --------------------------------------------------------------------------- gate / report / affected / check


@dataclass(frozen=True)
class GateOptions:
    """``mlgate gate``."""

    model: str
    version: int | None = None
    stage: str | None = None
    repo: str | None = None
    no_attach: bool = False
    policy_ref: str | None = None
    json_path: str | None = None
    github_output: str | None = None
    engine: str | None = None
    spark_master: str | None = None


@dataclass(frozen=True)
class Gated:
    """``mlgate gate``'s verdict: blocked (exit 1) when it failed."""

    verdict: Verdict

    @property
    def blocked(self) -> bool:
        """The verdict failed (a blocking rule)."""
        from mlgate.gates import Status

        return self.verdict.status == Status.FAIL

    def as_dict(self) -> dict[str, Any]:
        """The verdict JSON."""
        return self.verdict.as_dict()


def gate(ws: Workspace, opts: GateOptions, feedback: Feedback = Feedback()) -> Gated:
    """Evaluate every rule of the model's policy against a registered version (or its predictions file)."""
    from mlgate.gates import run_gates

    return Gated(
        run_gates(
            ws,
            opts.model,
            version=opts.version,
            stage=opts.stage,
            attach=not opts.no_attach,
            progress=feedback.progress,
            policy_ref=opts.policy_ref,
            engine=opts.engine,
            spark_master=opts.spark_master,
        )
    )


@dataclass(frozen=True)
class ReportOptions:
    """``mlgate report``."""

    model: str
    verdict_path: Path
    markdown_path: Path | None = None
    html_path: Path | None = None
    summary_path: Path | None = None
    fmt: str | None = None
    html_artifact: str = "the HTML report artifact of this run"
    no_registry: bool = False
    pr: int | None = None
    check_run_sha: str | None = None
    github_output: str | None = None
    repo: str | None = None
    json_path: str | None = None

    @property
    def shown(self) -> str | None:
        """The format printed to stdout: ``--format``, else Markdown when nothing else is written."""
        if self.fmt and self.json_path == "-":
            raise InvalidInput(
                f"--format {self.fmt} and --json - both print to stdout",
                hint="write one of them to a file (--markdown/--html/--summary PATH or --json PATH)",
            )
        files = self.markdown_path or self.html_path or self.summary_path or self.json_path == "-"
        return self.fmt or (None if files else "markdown")


def report(ws: Workspace, opts: ReportOptions) -> ReportResult:
    """Render the verdict as PR-comment Markdown, standalone HTML and a step summary; publish it."""
    from mlgate.report import report_model

    return report_model(
        ws,
        opts.model,
        opts.verdict_path,
        markdown_path=opts.markdown_path,
        html_path=opts.html_path,
        summary_path=opts.summary_path,
        text_format=opts.shown,
        html_artifact=opts.html_artifact,
        registry=not opts.no_registry,
        pr=opts.pr,
        check_run_sha=opts.check_run_sha,
    )


@dataclass(frozen=True)
class AffectedOptions:
    """``mlgate affected``."""

    base: str
    head: str = "HEAD"
    everything: tuple[str, ...] = ()
    repo: str | None = None
    json_path: str | None = None
    github_output: str | None = None


@dataclass(frozen=True)
class Affected:
    """The models a change affects (and why), and those of them with nothing to train."""

    found: dict[str, list[str]]
    gate_only: list[str]

    def as_dict(self) -> dict[str, list[str]]:
        """Per affected model, the reasons."""
        return self.found


def affected(ws: Workspace, opts: AffectedOptions) -> Affected:
    """The models a change between two commits affects."""
    from mlgate.config import EVERYTHING, affected_models, gate_only

    found = affected_models(ws.root, opts.base, opts.head, opts.everything or EVERYTHING)
    # predictions specs have nothing to train: the workflow skips its train step for them
    return Affected(found, gate_only(ws.root, found))


@dataclass(frozen=True)
class CheckOptions:
    """``mlgate check``: the pull request's journey (validate, gate, report) in one process."""

    models: tuple[str, ...] = ()
    base: str | None = None
    head: str = "HEAD"
    stage: str | None = None
    no_attach: bool = False
    no_data: bool = False
    reports: Path | None = None
    summary_path: Path | None = None
    html_artifact: str = "the HTML report artifact of this run"
    pr: int | None = None
    check_run_sha: str | None = None
    repo: str | None = None
    json_path: str | None = None
    github_output: str | None = None

    @property
    def publishes(self) -> bool:
        """Something is written or posted from each verdict (a report step, not only gating)."""
        return bool(self.reports or self.summary_path or self.pr is not None or self.check_run_sha)


@dataclass(frozen=True)
class ModelCheck:
    """One model's part of ``mlgate check``: its verdict and the reports written from it."""

    model: str
    verdict: Verdict
    reports: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The model, its verdict's status, version and counts, the report files and the verdict."""
        payload = self.verdict.as_dict()
        return {
            "model": self.model,
            "status": payload["status"],
            "version": payload["version"],
            "counts": payload["counts"],
            "reports": self.reports,
            "verdict": payload,
        }


@dataclass(frozen=True)
class Checked:
    """``mlgate check``: invalid (exit 2) when validation failed, else blocked (exit 1) when a verdict failed."""

    validation: Validated
    models: list[ModelCheck] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)  # with --base: why each model is affected

    @property
    def invalid(self) -> bool:
        """The repo did not validate (nothing was gated)."""
        return self.validation.invalid

    @property
    def blocked(self) -> bool:
        """A gated model's verdict failed."""
        from mlgate.gates import Status

        return any(m.verdict.status == Status.FAIL for m in self.models)

    def as_dict(self) -> dict[str, Any]:
        """Validation, the affected models and each one's verdict."""
        status = "invalid" if self.invalid else ("fail" if self.blocked else "pass")
        return {
            "status": status,
            "validation": self.validation.as_dict(),
            "affected": self.reasons,
            "models": [m.as_dict() for m in self.models],
        }


def check(ws: Workspace, opts: CheckOptions, feedback: Feedback = Feedback()) -> Checked:
    """Validate the repo, then gate and report each model: those named, else those ``--base..--head`` affects.

    The same library calls ``mlgate validate``, ``affected``, ``gate`` and ``report`` make, in one
    process: the specs, policies and imports are loaded once for every model. Gating stops at nothing:
    every affected model gets its verdict (a failing one makes the result blocked).
    """
    from mlgate.data import validate_repo

    validation = Validated(validate_repo(ws.root, check_data=not opts.no_data), ws.root)
    if validation.invalid:
        return Checked(validation)
    names, reasons = list(opts.models), {}
    if not names:
        if opts.base is None:
            raise InvalidInput("name the models to check, or give --base (the models the change affects)")
        from mlgate.config import EVERYTHING, affected_models

        reasons = affected_models(ws.root, opts.base, opts.head, EVERYTHING)
        names = sorted(reasons)
    from mlgate.gates import run_gates

    checked = []
    for name in names:
        feedback.progress(f"gating {name}")
        verdict = run_gates(
            ws, name, stage=opts.stage, attach=not opts.no_attach, progress=feedback.progress, policy_ref=opts.base
        )
        written: dict[str, Any] = {}
        if opts.publishes:
            written = _report_checked(ws, opts, name, verdict)
        checked.append(ModelCheck(name, verdict, written))
    return Checked(validation, checked, reasons)


def _report_checked(ws: Workspace, opts: CheckOptions, name: str, verdict: Verdict) -> dict[str, Any]:
    """Write and post one checked model's reports, as ``mlgate report`` does from a verdict file.

    The verdict goes to ``--reports`` when given, else to a temporary folder: the report reads the
    verdict file it would read in a separate step, so both paths render the same comment.
    """
    import tempfile

    from mlgate import jsonout
    from mlgate.report import report_model

    with tempfile.TemporaryDirectory(prefix="mlgate-check-") as scratch:
        folder = opts.reports or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        verdict_path = folder / f"{name}.verdict.json"
        jsonout.write(verdict_path, verdict.as_dict())
        done = report_model(
            ws,
            name,
            verdict_path,
            markdown_path=folder / f"{name}.md" if opts.reports else None,
            html_path=folder / f"{name}.html" if opts.reports else None,
            summary_path=opts.summary_path,
            html_artifact=f"{name}.html" if opts.reports and not opts.pr else opts.html_artifact,
            pr=opts.pr,
            check_run_sha=opts.check_run_sha,
        )
        written: dict[str, Any] = {k: str(v) for k, v in done.written.items()}
        if done.posted is not None:  # the comment and check run, as `mlgate report --json` shows them
            written |= done.posted.as_dict()
        return ({"verdict": str(verdict_path)} if opts.reports else {}) | written


# --------------------------------------------------------------------------- governance


@dataclass(frozen=True)
class GovernanceOptions:
    """``mlgate governance``."""

    base: str
    head: str
    pr: int
    no_post: bool = False
    repo: str | None = None
    json_path: str | None = None
    github_output: str | None = None


@dataclass(frozen=True)
class Governed:
    """The governance check: blocked (exit 1) until a governance change is approved."""

    review: GovernanceReview

    @property
    def blocked(self) -> bool:
        """The check's conclusion is not success."""
        from mlgate.github import Conclusion

        return self.review.conclusion != Conclusion.SUCCESS

    def as_dict(self) -> dict[str, Any]:
        """The review's JSON."""
        return self.review.as_dict()


def governance(ws: Workspace, opts: GovernanceOptions) -> Governed:
    """Judge the PR's governance changes from its reviews; post the check run unless ``no_post``."""
    from mlgate.gates import review_governance

    review = review_governance(
        ws.root, opts.base, opts.head, opts.pr, post=not opts.no_post, github=ws.github, teams=ws.teams
    )
    return Governed(review)


# --------------------------------------------------------------------------- promotion


@dataclass(frozen=True)
class ProposeOptions:
    """``mlgate propose-promotion``."""

    model: str
    version: int
    stage: str
    open_pr: bool = False
    base_branch: str = "main"
    canary: float | None = None  # a canary beside the stage at this share of the callers
    shadow: bool = False  # a shadow beside the stage
    repo: str | None = None
    json_path: str | None = None


def propose_promotion(ws: Workspace, opts: ProposeOptions) -> Document:
    """Write ``stage: version`` (or a canary/shadow beside the stage) into release.yaml; the PR's title and body."""
    from mlgate.promotion import propose

    return Document(
        propose(
            ws,
            opts.model,
            opts.version,
            opts.stage,
            open_pr=opts.open_pr,
            base_branch=opts.base_branch,
            canary=opts.canary,
            shadow=opts.shadow,
        )
    )


@dataclass(frozen=True)
class PinOptions:
    """``mlgate pin``."""

    model: str
    stage: str | None = None
    repo: str | None = None
    json_path: str | None = None


def pin(ws: Workspace, opts: PinOptions) -> Rows:
    """Add the digest of each version the model's release.yaml names without one."""
    from mlgate.promotion import pin as pin_release

    return Rows(pin_release(ws, opts.model, opts.stage))


@dataclass(frozen=True)
class PromoteOptions:
    """``mlgate promote``."""

    mode: str | None = None
    base: str | None = None
    pr: int | None = None
    post: bool = False
    no_github: bool = False
    actor: str | None = None
    dispatch: bool = False
    gto_tags: bool = False
    markdown_path: Path | None = None
    repo: str | None = None
    json_path: str | None = None
    github_output: str | None = None

    def checked(self) -> str:
        """The mode, once the flags agree with each other (exit 2 otherwise)."""
        if self.mode is None:
            raise InvalidInput("say --plan (on a pull request) or --apply (after the merge)")
        if self.post and self.no_github:
            raise InvalidInput("--post publishes to GitHub: drop --no-github, or drop --post")
        if (self.dispatch or self.gto_tags) and self.mode != "apply":
            raise InvalidInput("--dispatch and --gto-tags run after the registry moved: they go with --apply")
        return self.mode


@dataclass(frozen=True)
class Promoted:
    """``mlgate promote``: blocked (exit 1) when the plan is not allowed."""

    promotion: Promotion

    @property
    def blocked(self) -> bool:
        """Something the plan needs is missing (the registry was not changed)."""
        return bool(self.promotion.plan.changes) and not self.promotion.plan.ok

    def as_dict(self) -> dict[str, Any]:
        """The plan (and, on apply, the audit records and hooks) JSON."""
        return self.promotion.payload


def promote(ws: Workspace, opts: PromoteOptions, feedback: Feedback = Feedback()) -> Promoted:
    """Plan or apply promotions: move MLflow aliases to what release.yaml asks for."""
    from mlgate import promotion

    mode = opts.checked()
    return Promoted(
        promotion.promote(
            ws,
            mode=mode,
            base=opts.base,
            pr=opts.pr,
            post=opts.post,
            read_github=not opts.no_github,
            actor=opts.actor,
            hooks=promotion.Hooks(dispatch=opts.dispatch, gto_tags=opts.gto_tags),
            markdown_path=opts.markdown_path,
            progress=feedback.progress,
            warn=feedback.warn,
        )
    )


@dataclass(frozen=True)
class StatusOptions:
    """``mlgate status``."""

    check: bool = False
    alert: bool = False
    repo: str | None = None
    json_path: str | None = None


@dataclass(frozen=True)
class Status:
    """Desired vs actual per model and stage; blocked (exit 1) with ``--check`` when one is not Synced."""

    rows: list[StatusRow]
    check: bool = False
    alerted: IssueSync | None = None  # --alert: what was done with the custody issue

    @property
    def drift(self) -> list[StatusRow]:
        """The rows not Synced."""
        from mlgate.promotion import SyncState

        return [r for r in self.rows if r.status != SyncState.SYNCED]

    @property
    def blocked(self) -> bool:
        """``--check`` and a stage out of sync."""
        return self.check and bool(self.drift)

    def as_dict(self) -> list[dict[str, Any]]:
        """The rows, as a list."""
        return [r.as_dict() for r in self.rows]


def status(ws: Workspace, opts: StatusOptions) -> Status:
    """Desired (git) vs actual (registry) per model and stage; with ``alert``, the custody issue follows."""
    from mlgate import promotion

    rows = promotion.status(ws)
    alerted = None
    if opts.alert:
        from mlgate.monitoring import custody_alert

        alerted = custody_alert([r.as_dict() for r in rows], ws.github)
    return Status(rows, opts.check, alerted)


@dataclass(frozen=True)
class GtoOptions:
    """``mlgate gto``: GTO's registry view of mlgate's promotion tags and ``dvc.yaml`` artifacts."""

    name: str | None = None
    repo: str | None = None
    json_path: str | None = None


def gto(ws: Workspace, opts: GtoOptions) -> GtoView:
    """``gto show`` from git alone: per artifact its latest version and the version each stage holds."""
    from mlgate.promotion import GtoView, gto_view

    view = gto_view(ws.root)
    if opts.name is None:
        return view
    rows = [a for a in view.artifacts if opts.name in (a.name, a.model)]
    if not rows:
        known = ", ".join(a.name for a in view.artifacts) or "none"
        raise InvalidInput(f"no artifact or model named {opts.name!r} (known: {known})")
    return GtoView(rows, sorted({s for a in rows for s in a.stages}), view.ignored)


@dataclass(frozen=True)
class HistoryOptions:
    """``mlgate history``."""

    model: str
    stage: str | None = None
    repo: str | None = None
    json_path: str | None = None


@dataclass(frozen=True)
class History:
    """The model's promotions, oldest first (audit records)."""

    records: list[Any]

    def as_dict(self) -> list[dict[str, Any]]:
        """The records, as a list."""
        return [r.as_dict() for r in self.records]


def history(ws: Workspace, opts: HistoryOptions) -> History:
    """Who promoted which version to which stage, when, by which PR and commit, approved by whom."""
    from mlgate import promotion

    return History(promotion.history(ws, opts.model, opts.stage))


@dataclass(frozen=True)
class RollbackOptions:
    """``mlgate rollback``."""

    model: str
    stage: str
    repo: str | None = None
    json_path: str | None = None


def rollback(ws: Workspace, opts: RollbackOptions) -> Document:
    """Write the version the stage held before into release.yaml, for a rollback pull request."""
    from mlgate import promotion

    return Document(promotion.rollback(ws, opts.model, opts.stage))


# --------------------------------------------------------------------------- the governance site (issue #25)


@dataclass(frozen=True)
class SiteOptions:
    """``mlgate site``: the static governance site."""

    output: str
    repo: str | None = None
    full: bool = False
    json_path: str | None = None


def site(ws: Workspace, opts: SiteOptions, feedback: Feedback = Feedback()) -> SiteResult:
    """Build or update the governance site in ``opts.output``: only models whose inputs changed re-render."""
    from mlgate.site import build

    return build(ws, Path(opts.output), full=opts.full, progress=feedback.progress, warn=feedback.warn)


# --------------------------------------------------------------------------- evidence / evidence verify


@dataclass(frozen=True)
class EvidenceOptions:
    """``mlgate evidence [build]``."""

    model: str
    version: int
    output: str
    repo: str | None = None
    json_path: str | None = None


def evidence(ws: Workspace, opts: EvidenceOptions, feedback: Feedback = Feedback()) -> BuildResult:
    """Write one version's evidence bundle (signed when ``$MLGATE_EVIDENCE_KEY`` holds an ed25519 key)."""
    from mlgate.evidence import build_bundle

    return build_bundle(ws, opts.model, opts.version, Path(opts.output), progress=feedback.progress, warn=feedback.warn)


@dataclass(frozen=True)
class VerifyEvidenceOptions:
    """``mlgate evidence verify``."""

    bundle: str
    repo: str | None = None
    offline: bool = False
    public_key: str | None = None
    json_path: str | None = None


def verify_evidence(ws: Workspace, opts: VerifyEvidenceOptions) -> Verification:
    """Check an evidence bundle's digests and signature, and (online) that the registry and repo still match it."""
    from mlgate.evidence import verify_bundle

    key = Path(opts.public_key) if opts.public_key else None
    return verify_bundle(ws, Path(opts.bundle), offline=opts.offline, public_key=key)
