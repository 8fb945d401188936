"""Which estimator a spec names and which params it takes, checked before anything is fitted.

The estimator class comes from a file a pull request can change, and importing a module runs
its code: so a class may only be named under an allowed module prefix — scikit-learn,
xgboost, lightgbm, catboost (:data:`DEFAULT_ESTIMATOR_MODULES`) and whatever the judged policy
adds (``training: {estimator_modules: [...]}``) — and the prefix is checked *before* the import.
Meta-estimators get their nested estimators from params.yaml as ``{class, params}`` mappings
(``estimators``: a list of ``{name, class, params}``), each checked the same way.

This is the config layer's part (``mlgate validate`` and the model context check a spec's estimator
without training); :mod:`mlgate.training._estimator` builds the Pipeline from what passed here.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from pathlib import Path
from typing import Any

from mlgate.config._schema import ModelSpec, Policy
from mlgate.config._yamlio import Document, KeyPath
from mlgate.exceptions import Problem, SpecError

DEFAULT_ESTIMATOR_MODULES = ("sklearn.", "xgboost.", "lightgbm.", "catboost.")
"""Packages of estimators with the scikit-learn API that any spec may name."""
NESTED_ONE = ("estimator", "final_estimator", "base_estimator", "regressor", "classifier")
"""Constructor arguments that take one estimator: ``{class: ..., params: {...}}`` in params.yaml."""
NESTED_MANY = "estimators"
"""The constructor argument that takes a list of named estimators (Stacking, Voting)."""
UNSUPPORTED_NESTED = ("steps", "transformer_list", "transformers")
"""Arguments that take pipelines or transformers: not buildable from params.yaml."""
NESTED_KEYS = ("class", "params")
NAMED_KEYS = ("name", "class", "params")


def estimator_modules(policy: Policy | None) -> tuple[str, ...]:
    """The module prefixes estimator classes may come from: mlgate's defaults and the policy's additions."""
    added = tuple(policy.training.estimator_modules) if policy is not None else ()
    return DEFAULT_ESTIMATOR_MODULES + tuple(m for m in added if m not in DEFAULT_ESTIMATOR_MODULES)


def _required_args(cls: type) -> list[str]:
    """Constructor arguments without a default: params.yaml would have to supply them."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [
        name
        for name, param in signature.parameters.items()
        if param.default is inspect.Parameter.empty and param.kind not in kinds
    ]


def _takes_kwargs(cls: type) -> bool:
    try:
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return False


def param_names(cls: type) -> list[str]:
    """The params an estimator class takes (``get_params`` of a default instance, else its signature)."""
    try:
        return sorted(cls().get_params(deep=False))
    except TypeError:  # a meta-estimator without its nested estimators cannot be built bare
        kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return sorted(n for n, p in inspect.signature(cls).parameters.items() if p.kind not in kinds)


def _allowed_text(modules: tuple[str, ...]) -> str:
    return ", ".join(f"{m}*" for m in modules)


def resolve_class(dotted: Any, modules: tuple[str, ...], doc: Document, loc: KeyPath) -> type:
    """Import the class ``dotted`` names, only under ``modules``; it must have the scikit-learn API."""
    if not isinstance(dotted, str) or "." not in dotted:
        message = f"expected a dotted class name such as 'sklearn.tree.DecisionTreeClassifier', got {dotted!r}"
        raise SpecError([doc.problem(loc, message)])
    module_name, _, class_name = dotted.rpartition(".")
    if not dotted.startswith(modules):
        message = (
            f"'{dotted}' is not under an allowed estimator module ({_allowed_text(modules)}): importing it would run "
            "its code; a policy may add your package with training: {estimator_modules: [...]}"
        )
        raise SpecError([doc.problem(loc, message)])
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError):
        raise SpecError([doc.problem(loc, f"no module '{module_name}'")]) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        message = f"no class '{class_name}' in module '{module_name}'{_suggest(class_name, module)}"
        raise SpecError([doc.problem(loc, message)])
    # a re-exported class from elsewhere (an import inside an allowed module) is not allowed by its name
    home = f"{getattr(cls, '__module__', '')}."
    api = all(callable(getattr(cls, method, None)) for method in ("fit", "predict", "get_params", "set_params"))
    if not isinstance(cls, type) or not api or not home.startswith(modules):
        message = f"'{dotted}' is not an estimator with the scikit-learn API (fit, predict, get_params, set_params)"
        raise SpecError([doc.problem(loc, message)])
    return cls


def _is(kind: str, cls: type) -> bool:
    from sklearn.base import ClassifierMixin, RegressorMixin

    mixin = ClassifierMixin if kind == "classifier" else RegressorMixin
    return issubclass(cls, mixin) or getattr(cls, "_estimator_type", None) == kind


def resolve_estimator(
    spec: ModelSpec, spec_doc: Document, modules: tuple[str, ...] = DEFAULT_ESTIMATOR_MODULES
) -> type:
    """Import the spec's estimator class (under ``modules`` only), checking it fits the task."""
    loc = ("estimator", "class")
    if spec.estimator is None:
        raise SpecError([spec_doc.problem(("train",), "this model is trained by its own command: no estimator")])
    dotted = spec.estimator.class_
    cls = resolve_class(dotted, modules, spec_doc, loc)
    kind = "classifier" if spec.task == "classification" else "regressor"
    if not _is(kind, cls):
        message = f"'{dotted}' is not a {kind}, but the task is {spec.task}"
        raise SpecError([spec_doc.problem(loc, message)])
    return cls


def check_params(
    cls: type,
    params: dict[str, Any],
    params_doc: Document,
    section: str,
    modules: tuple[str, ...] = DEFAULT_ESTIMATOR_MODULES,
) -> None:
    """Every param is one the estimator takes, with a value it accepts; nested estimators likewise."""
    problems = _param_problems(cls, params, params_doc, (section,), modules)
    if problems:
        raise SpecError(problems)
    try:
        estimator = make_estimator(cls, params, modules, seed=0, doc=params_doc, loc=(section,))
    except SpecError:
        raise
    except (TypeError, ValueError) as err:
        raise SpecError([params_doc.problem((section,), f"{cls.__name__} refuses these params: {err}")]) from None
    _validate_values(estimator, params, params_doc, (section,))


def _param_problems(
    cls: type, params: dict[str, Any], doc: Document, loc: KeyPath, modules: tuple[str, ...]
) -> list[Problem]:
    allowed = param_names(cls)
    passes_on = _takes_kwargs(cls)
    problems: list[Problem] = []
    for key, value in params.items():
        # lightgbm and xgboost pass extra keyword params to their booster (verbose, min_data_in_leaf):
        # an unlisted key is let through there unless it looks like a typo of a listed one
        if key not in allowed and passes_on and not difflib.get_close_matches(key, allowed, n=1, cutoff=0.8):
            continue
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"{cls.__name__} takes: {', '.join(allowed)}"
            problems.append(doc.problem((*loc, key), f"unknown parameter of {cls.__name__} ({hint})", key=True))
        elif key in UNSUPPORTED_NESTED:
            message = f"'{key}' takes pipelines or transformers, which params.yaml cannot build"
            problems.append(doc.problem((*loc, key), message))
        elif key in NESTED_ONE and value is not None:  # None: the meta-estimator's own default
            problems += _nested_problems(value, doc, (*loc, key), modules, NESTED_KEYS)
        elif key == NESTED_MANY:
            problems += _many_problems(value, doc, (*loc, key), modules)
    missing = [arg for arg in _required_args(cls) if arg not in params]
    for arg in missing:
        shape = (
            "a list of {name, class, params}"
            if arg == NESTED_MANY
            else "{class: ..., params: {...}}"
            if arg in NESTED_ONE
            else "a value"
        )
        problems.append(doc.problem(loc, f"{cls.__name__} needs '{arg}': give it as {shape}"))
    return problems


def _nested_problems(
    value: Any, doc: Document, loc: KeyPath, modules: tuple[str, ...], keys: tuple[str, ...]
) -> list[Problem]:
    if not isinstance(value, dict):
        shape = ", ".join(keys)
        return [doc.problem(loc, f"expected a mapping with {shape} (a nested estimator), got {type(value).__name__}")]
    problems = [
        doc.problem((*loc, key), f"unknown key of a nested estimator (allowed: {', '.join(keys)})", key=True)
        for key in value
        if key not in keys
    ]
    if "class" not in value:
        problems.append(doc.problem(loc, "a nested estimator needs 'class'"))
    if "name" in keys and not (isinstance(value.get("name"), str) and value.get("name")):
        problems.append(doc.problem((*loc, "name") if "name" in value else loc, "a listed estimator needs a 'name'"))
    inner = value.get("params", {})
    if inner is None:
        inner = {}
    if not isinstance(inner, dict):
        problems.append(doc.problem((*loc, "params"), "expected a mapping of the nested estimator's params"))
    if problems:
        return problems
    try:
        cls = resolve_class(value["class"], modules, doc, (*loc, "class"))
    except SpecError as err:
        return list(err.problems)
    return _param_problems(cls, inner, doc, (*loc, "params"), modules)


def _many_problems(value: Any, doc: Document, loc: KeyPath, modules: tuple[str, ...]) -> list[Problem]:
    if not isinstance(value, list) or not value:
        return [doc.problem(loc, "expected a non-empty list of {name, class, params}")]
    problems = [p for i, item in enumerate(value) for p in _nested_problems(item, doc, (*loc, i), modules, NAMED_KEYS)]
    names = [item.get("name") for item in value if isinstance(item, dict)]
    for index, name in enumerate(names):
        if name is not None and names.index(name) < index:
            problems.append(doc.problem((*loc, index, "name"), f"'{name}' names another estimator of this list"))
    return problems


def _validate_values(estimator: Any, params: dict[str, Any], doc: Document, loc: KeyPath) -> None:
    """scikit-learn's own check of param values (estimators that declare constraints only)."""
    if not hasattr(type(estimator), "_parameter_constraints"):
        return  # xgboost and lightgbm check their values when fitting
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        estimator._validate_params()
    except InvalidParameterError as err:
        bad = next((k for k in params if f"'{k}'" in str(err)), None)
        raise SpecError([doc.problem((*loc, bad) if bad else loc, str(err))]) from None


def estimator_params(cls: type, params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Params from params.yaml, with the spec's seed as random_state unless one is set."""
    merged = dict(params)
    if "random_state" in param_names(cls) and "random_state" not in merged:
        merged["random_state"] = seed
    return merged


def make_estimator(
    cls: type,
    params: dict[str, Any],
    modules: tuple[str, ...] = DEFAULT_ESTIMATOR_MODULES,
    *,
    seed: int = 42,
    doc: Document | None = None,
    loc: KeyPath = (),
) -> Any:
    """``cls(**params)`` with nested ``{class, params}`` built too (each nested one seeded like the spec)."""
    built = dict(params)
    for key, value in params.items():
        if key in NESTED_ONE and isinstance(value, dict):
            built[key] = _make_nested(value, modules, seed, doc, (*loc, key))
        elif key == NESTED_MANY and isinstance(value, list):
            built[key] = [
                (item["name"], _make_nested(item, modules, seed, doc, (*loc, key, i))) for i, item in enumerate(value)
            ]
    return cls(**built)


def _make_nested(value: dict[str, Any], modules: tuple[str, ...], seed: int, doc: Document | None, loc: KeyPath) -> Any:
    # built again at fit time: the allow-list is re-checked (params.yaml was checked with its lines before)
    doc = doc or Document(Path("params.yaml"), {}, "params.yaml")
    cls = resolve_class(value["class"], modules, doc, (*loc, "class"))
    return make_estimator(cls, estimator_params(cls, value.get("params") or {}, seed), modules, seed=seed)


def _suggest(name: str, module: Any) -> str:
    public = [n for n in dir(module) if not n.startswith("_") and isinstance(getattr(module, n), type)]
    close = difflib.get_close_matches(name, public, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def recorded_params(
    spec: ModelSpec, spec_doc: Document, params: dict[str, Any], modules: tuple[str, ...]
) -> dict[str, Any]:
    """The params a version's lineage hashes (``mlgate.params.sha256``): what trained it.

    A declarative pipeline: params.yaml's section with the spec's seed as ``random_state``; a
    model trained by its own command: the section as it is (the command was given it).
    """
    if spec.estimator is None:
        return dict(params)
    return estimator_params(resolve_estimator(spec, spec_doc, modules), params, spec.seed)
