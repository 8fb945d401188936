"""A governed repo on disk: its specs, policies, params and releases, and their cross-references.

Cross-references checked: a spec names a policy that exists, the policy's rules name features the spec
has, the release names stages the policy defines, the params fit the estimator.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from mlgate.config._catalog import CLASSIFICATION_METRICS, REGRESSION_METRICS
from mlgate.config._estimators import DEFAULT_ESTIMATOR_MODULES, check_params, estimator_modules, resolve_estimator
from mlgate.config._policies import ResolvedPolicy, load_policy, rule_id
from mlgate.config._schema import ModelSpec, Release, display_path, load_model_spec, load_release, policy_path_error
from mlgate.config._yamlio import Document, load
from mlgate.exceptions import InvalidInput, Problem, SpecError

if TYPE_CHECKING:
    from mlgate.github import GitHub
    from mlgate.registry import Registry

T = TypeVar("T")

MODELS_DIR = "models"
POLICIES_DIR = "policies"
PARAMS_FILE = "params.yaml"
SPEC_FILE = "model.yaml"
RELEASE_FILE = "release.yaml"


def find_root(start: Path | None = None) -> Path:
    """The governed repo containing ``start``: the nearest folder with ``models/``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MODELS_DIR).is_dir():
            return folder
    raise InvalidInput(
        f"no governed repo at {here}: no '{MODELS_DIR}/' folder here or above",
        hint="run inside a repo with models/<name>/model.yaml, or pass --repo",
    )


def model_names(root: Path) -> list[str]:
    """The names of the models in the repo: folders of ``models/`` that hold a ``model.yaml``."""
    return sorted(p.parent.name for p in (root / MODELS_DIR).glob(f"*/{SPEC_FILE}"))


@dataclass
class ModelContext:
    """Everything about one model that lives in git, loaded and cross-checked."""

    root: Path
    spec: ModelSpec
    spec_doc: Document
    policy: ResolvedPolicy
    params: dict[str, Any]
    # None: trained by the spec's own `train.command`, a predictions spec, or loaded with check_estimator=False
    estimator_cls: type | None
    release: Release | None
    # module prefixes estimator classes may come from, and skops may load types of (judged policy)
    estimator_modules: tuple[str, ...] = DEFAULT_ESTIMATOR_MODULES
    # exact type names skops may load besides those (judged policy's training.skops_trusted_types)
    skops_types: tuple[str, ...] = ()

    @property
    def skops_trusted(self) -> tuple[str, ...]:
        """What mlgate's skops loader trusts for this model beyond its allow-list: module prefixes, exact names."""
        return self.estimator_modules + self.skops_types

    @property
    def name(self) -> str:
        """The model's name, as its spec gives it."""
        return self.spec.name


def spec_path(root: Path, name: str) -> Path:
    """``models/<name>/model.yaml`` under ``root``."""
    return root / MODELS_DIR / name / SPEC_FILE


def load_params(
    root: Path, section: str, spec_doc: Document, *, required: bool = True
) -> tuple[dict[str, Any], Document | None]:
    """The model's section of params.yaml (estimator params, shown by `dvc params diff`).

    ``required=False`` (a model trained by its own command): no file or no section is ``{}``.
    """
    path = root / PARAMS_FILE
    if not required and not path.is_file():
        return {}, None
    if not path.is_file():
        message = f"{PARAMS_FILE} not found: add a '{section}:' section with the estimator params"
        raise SpecError([spec_doc.problem(("estimator",), message)])
    doc = load(path, PARAMS_FILE, section=section)  # the other models' sections are not copied
    params = doc.data.get(section)
    if params is None and not required:
        return {}, doc
    if params is None:
        message = f"no '{section}:' section in {PARAMS_FILE}: add one with the estimator params"
        raise SpecError([doc.problem((), message)])
    if not isinstance(params, dict):
        raise SpecError([doc.problem((section,), "expected a mapping of estimator params")])
    return params, doc


def _effective_rules(policy: ResolvedPolicy, root: Path) -> dict[str, list[tuple[Document, int, dict[str, Any]]]]:
    """Per family, the raw rules in effect, each with the file (document) and index defining it.

    Every file of the ``extends`` chain is read, base first; a rule whose id a later file
    defines again is replaced, as when the chain is merged (mlgate.config.policies).
    """
    found: dict[str, dict[str, tuple[Document, int, dict[str, Any]]]] = {}
    for rel in policy.files:  # base first, the spec's file last
        doc = load(root / rel, rel)
        raw_gates = (doc.data or {}).get("gates") or {}
        for family, rules in raw_gates.items():
            for index, raw in enumerate(rules or []):
                if not isinstance(raw, dict):
                    continue
                subject = type("Raw", (), {k: raw.get(k) for k in ("id", "metric", "field")})
                found.setdefault(family, {})[rule_id(family, subject)] = (doc, index, raw)
    return {family: list(rules.values()) for family, rules in found.items()}


def _policy_problems(spec: ModelSpec, policy: ResolvedPolicy, root: Path) -> list[Problem]:
    """Rules that cannot apply to this spec, located in the policy file that defines them.

    Rules inherited through ``extends`` are checked too, at their line in the base file.
    """
    problems = []
    wrong = REGRESSION_METRICS if spec.task == "classification" else CLASSIFICATION_METRICS
    sensitive = {s.name for s in spec.sensitive_features}
    features = set(spec.inputs.all)
    rules = _effective_rules(policy, root)
    for doc, index, rule in rules.get("performance", []):
        if rule.get("metric") in wrong:
            message = f"metric '{rule['metric']}' does not apply to {spec.task} model '{spec.name}'"
            problems.append(doc.problem(("gates", "performance", index, "metric"), message))
    for doc, index, rule in rules.get("fairness", []):
        names = rule.get("sensitive_features") or []
        for i, name in enumerate(names):
            if name not in sensitive:
                message = f"'{name}' is not a sensitive feature of model '{spec.name}'"
                loc = ("gates", "fairness", index, "sensitive_features", i)
                problems.append(doc.problem(loc, message))
        if not sensitive:
            message = f"model '{spec.name}' declares no sensitive_features to check fairness on"
            problems.append(doc.problem(("gates", "fairness", index), message))
    for doc, index, rule in rules.get("drift", []):
        for i, name in enumerate(rule.get("features") or []):
            if name not in features:
                message = f"'{name}' is not a feature of model '{spec.name}'"
                problems.append(doc.problem(("gates", "drift", index, "features", i), message))
    return problems


def _release_problems(release: Release, doc: Document, spec: ModelSpec, policy: ResolvedPolicy) -> list[Problem]:
    problems = []
    if release.model != spec.name:
        message = f"names model '{release.model}' but sits in models/{spec.name}/"
        problems.append(doc.problem(("model",), message))
    defined = policy.policy.promotion.stages
    for stage in release.stages:
        if stage not in defined:
            known = ", ".join(defined) or "none"
            message = f"stage '{stage}' is not defined in {policy.file} (stages: {known})"
            problems.append(doc.problem(("stages", stage), message, key=True))
    for candidate in release.candidates():
        requirement = defined.get(candidate.stage)
        where = (candidate.kind.value, candidate.stage)
        if requirement is None:
            continue  # the stage itself is reported above
        settings = requirement.canary
        if settings is None:
            message = (
                f"{policy.file} allows no canary or shadow beside {candidate.stage}: "
                f"add promotion.stages.{candidate.stage}.canary there (a governance change) to allow one"
            )
            problems.append(doc.problem(where, message, key=True))
        elif candidate.traffic > settings.max_traffic:
            message = (
                f"traffic {candidate.traffic:g} is more than {policy.file} allows beside {candidate.stage} "
                f"(promotion.stages.{candidate.stage}.canary.max_traffic: {settings.max_traffic:g})"
            )
            problems.append(doc.problem((*where, "traffic"), message))
    return problems


def _collect(problems: list[Problem], load: Callable[[], T]) -> T | None:
    """Run one check; record its problems instead of stopping at the first file."""
    try:
        return load()
    except SpecError as err:
        problems.extend(err.problems)
        return None


@dataclass(frozen=True)
class PolicySource:
    """Policies from a commit instead of the working tree.

    On a pull request: the base commit's ``policies/`` (materialised in ``root``) and the base
    spec's ``policy:`` value, so a PR can neither loosen a rule nor point its model at a looser
    file and be judged by that.
    """

    root: Path
    policy_file: str | None
    ref: str


def _load_spec_policy(
    spec: ModelSpec, spec_doc: Document, root: Path, source: PolicySource | None = None
) -> ResolvedPolicy:
    home = source.root if source else root
    name = (source.policy_file if source else None) or spec.policy
    where = f" at {source.ref}" if source else ""
    # spec.policy was checked when the spec was parsed; the base spec's value is checked here
    error = policy_path_error(name) if isinstance(name, str) else f"expected a string, got {name!r}"
    if error:
        raise SpecError([spec_doc.problem(("policy",), f"{error}{where}")])
    if not (home / name).is_file():
        raise SpecError([spec_doc.problem(("policy",), f"policy file not found{where}: {name}")])
    if not (home / name).resolve().is_relative_to(home.resolve() / POLICIES_DIR):
        message = f"policy file {name}{where} resolves to a file outside {POLICIES_DIR}/"
        raise SpecError([spec_doc.problem(("policy",), message)])
    return load_policy(home / name, home)


def load_model_context(
    root: Path,
    name: str,
    policy_source: PolicySource | None = None,
    spec: tuple[ModelSpec, Document] | None = None,
    *,
    check_estimator: bool = True,
) -> ModelContext:
    """Load and cross-check one model's spec, policy, params and release (no data read).

    ``spec`` replaces the spec on disk: on a pull request, the one the gates judge with (the
    head's model fields, the base's judging fields; see mlgate.gates.judging).
    ``check_estimator=False`` neither imports the estimator class (its module: scikit-learn, ...)
    nor checks its params: for the commands that read only the spec, policy and release
    (``affected``, ``status``, ``promote --plan``), which stay light; ``estimator_cls`` is then None.
    """
    path = spec_path(root, name)
    if not path.is_file():
        known = ", ".join(model_names(root)) or "none"
        raise InvalidInput(
            f"no spec for model '{name}': {display_path(path, root)} does not exist",
            hint=f"models in this repo: {known}",
        )
    model, spec_doc = spec or load_model_spec(path, root)
    # Past the spec itself, each file is checked even when another failed, so one run of
    # `mlgate validate` lists everything a pull request has to fix.
    if model.name != name:  # params and release are found by name: nothing else can be checked
        message = f"the spec in models/{name}/ must be named '{name}', not '{model.name}'"
        raise SpecError([spec_doc.problem(("name",), message)])
    problems: list[Problem] = []
    policy = _collect(problems, lambda: _load_spec_policy(model, spec_doc, root, policy_source))
    if policy is not None:
        problems += _policy_problems(model, policy, policy_source.root if policy_source else root)
    # the judged policy (on a PR: the base's) decides which packages a spec may import estimators from
    modules = estimator_modules(policy.policy if policy is not None else None)
    declarative = model.estimator is not None
    resolve = declarative and check_estimator
    estimator_cls = _collect(problems, lambda: resolve_estimator(model, spec_doc, modules)) if resolve else None
    params: dict[str, Any] = {}
    if not model.is_predictions:  # predictions made elsewhere: no estimator, no params to check
        loaded = _collect(problems, lambda: load_params(root, model.name, spec_doc, required=declarative))
        params = loaded[0] if loaded else {}
        params_doc = loaded[1] if loaded else None
        if params_doc is not None and estimator_cls is not None:
            _collect(problems, lambda: check_params(estimator_cls, params, params_doc, model.name, modules))
    release = None
    release_path = path.with_name(RELEASE_FILE)
    if release_path.is_file():
        parsed = _collect(problems, lambda: load_release(release_path, root))
        if parsed is not None and policy is not None:
            release = parsed[0]
            problems += _release_problems(release, parsed[1], model, policy)
    if problems:
        raise SpecError(problems)
    assert policy is not None
    assert estimator_cls is not None or not resolve
    types = tuple(policy.policy.training.skops_trusted_types) if policy is not None else ()
    return ModelContext(root, model, spec_doc, policy, params, estimator_cls, release, modules, types)


def refuse_predictions(ctx: ModelContext, doing: str) -> None:
    """Stop ``train``/``promote`` on a predictions spec: no model of ours exists to train or promote."""
    if ctx.spec.is_predictions:
        raise InvalidInput(
            f"models/{ctx.name}/{SPEC_FILE} is a predictions spec (it audits predictions made elsewhere): "
            f"a predictions spec has nothing to train or promote, so it cannot {doing}",
            hint=f"gate it with: mlgate gate {ctx.name}",
        )


# --------------------------------------------------------------------------- the context of one invocation

# Settings read from the environment, once per Workspace (GitHub Actions and MLflow's own names).
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
GITHUB_TOKEN_ENV = "GITHUB_TOKEN"
GITHUB_REPOSITORY_ENV = "GITHUB_REPOSITORY"
GITHUB_API_URL_ENV = "GITHUB_API_URL"
GITHUB_SERVER_URL_ENV = "GITHUB_SERVER_URL"  # https://github.com, or a GitHub Enterprise Server's address
DEFAULT_GITHUB_SERVER_URL = "https://github.com"
ORG_TOKEN_ENV = "MLGATE_ORG_TOKEN"


@dataclass(frozen=True)
class Settings:
    """What a command takes from the environment: the MLflow store and the GitHub repository and tokens.

    Read once (:meth:`from_env`) when the workspace is built, so every part of one command sees the same
    values; tokens are left out of ``repr`` (they never reach output).
    """

    tracking_uri: str | None = None
    github_token: str = field(default="", repr=False)
    github_repository: str = ""
    github_api_url: str | None = None
    org_token: str = field(default="", repr=False)
    github_server_url: str = DEFAULT_GITHUB_SERVER_URL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, tracking_uri: str | None = None) -> Settings:
        """The settings in ``environ`` (default ``os.environ``); an explicit ``tracking_uri`` wins."""
        env = os.environ if environ is None else environ
        return cls(
            tracking_uri=tracking_uri or env.get(TRACKING_URI_ENV) or None,
            github_token=env.get(GITHUB_TOKEN_ENV, ""),
            github_repository=env.get(GITHUB_REPOSITORY_ENV, ""),
            github_api_url=env.get(GITHUB_API_URL_ENV) or None,
            org_token=env.get(ORG_TOKEN_ENV, ""),
            github_server_url=_server_url(env.get(GITHUB_SERVER_URL_ENV, "")),
        )


def _server_url(value: str) -> str:
    """``GITHUB_SERVER_URL`` as pull-request links use it: an http(s) address without credentials, else github.com."""
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc or parts.query:
        return DEFAULT_GITHUB_SERVER_URL
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


class Workspace:
    """One command's context: the governed repo, its MLflow registry and its GitHub client.

    The CLI builds one per invocation and passes it down (DVC's ``CmdBase.repo``); library functions
    take it where they used to take the repo folder. This is the one place mlgate constructs a
    :class:`~mlgate.registry.Registry` or a :class:`~mlgate.github.GitHub` client, each on first use:
    a command that never reads the registry never connects to MLflow, one that never posts never needs
    a token. Library functions also accept a bare repo folder (scripts, tests, the demo):
    :meth:`of` wraps it in a workspace with the environment's settings.
    """

    def __init__(self, root: Path | None = None, settings: Settings | None = None, *, start: Path | None = None):
        """The repo ``root`` (else the nearest governed repo from ``start``, found on first use)."""
        self._root = root
        self._start = start
        self.settings = settings if settings is not None else Settings.from_env()
        self._registry: Registry | None = None
        self._github: GitHub | None = None
        self._teams: GitHub | None = None

    @classmethod
    def of(cls, where: Path | Workspace, tracking_uri: str | None = None) -> Workspace:
        """``where`` if it is a workspace, else one for the repo folder ``where`` (settings from the environment).

        An explicit ``tracking_uri`` that differs from the workspace's opens that store instead (one
        GitHub client still serves both).
        """
        if not isinstance(where, Workspace):
            return cls(Path(where), Settings.from_env(tracking_uri=tracking_uri))
        if tracking_uri is None or tracking_uri == where.settings.tracking_uri:
            return where
        other = cls(where.root, replace(where.settings, tracking_uri=tracking_uri))
        other._github, other._teams = where._github, where._teams
        return other

    @classmethod
    def sharing(cls, root: Path, registry: Registry) -> Workspace:
        """A workspace over ``root`` that uses ``registry`` (already connected) and needs no GitHub client."""
        ws = cls(root, Settings(tracking_uri=registry.uri))
        ws._registry = registry
        return ws

    def __repr__(self) -> str:
        """The repo and settings (no token)."""
        return f"Workspace(root={self._root!r}, settings={self.settings!r})"

    @property
    def root(self) -> Path:
        """The governed repo's folder (raises InvalidInput, exit 2, outside one)."""
        if self._root is None:
            self._root = find_root(self._start)
        return self._root

    @property
    def registry(self) -> Registry:
        """The MLflow registry (the settings' store, else the repo's embedded one), connected on first use."""
        if self._registry is None:
            from mlgate.registry import Registry

            self._registry = Registry(self.root, self.settings.tracking_uri)
        return self._registry

    @property
    def github(self) -> GitHub:
        """The GitHub client of ``$GITHUB_REPOSITORY`` as ``$GITHUB_TOKEN`` (InvalidInput without a token)."""
        if self._github is None:
            from mlgate.github import GitHub

            self._github = GitHub(
                token=self.settings.github_token,
                api_url=self.settings.github_api_url,
                repo=self.settings.github_repository,
            )
        return self._github

    @property
    def teams(self) -> GitHub:
        """The client that reads team memberships: as ``$MLGATE_ORG_TOKEN`` when set, else :attr:`github`."""
        if not self.settings.org_token:
            return self.github
        if self._teams is None:
            from mlgate.github import GitHub

            self._teams = GitHub(
                token=self.settings.org_token,
                api_url=self.settings.github_api_url,
                repo=self.settings.github_repository,
            )
        return self._teams

    def close(self) -> None:
        """Close the GitHub clients this workspace opened (the registry holds no connection to close)."""
        for client in {id(c): c for c in (self._github, self._teams) if c is not None}.values():
            client.close()
        self._github = self._teams = None

    def __enter__(self) -> Self:
        """The workspace; its clients are closed when the block ends."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the clients."""
        self.close()
