"""From spec + params to a scikit-learn Pipeline, checked before anything is fitted.

The estimator class comes from a file a pull request can change, so only classes under
``sklearn.`` may be named: importing an arbitrary dotted path would run code from the PR.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any

from mlgate.config.schema import TEXT_TOKEN_PATTERN, ModelSpec
from mlgate.config.yamlio import Document
from mlgate.exceptions import Problem, SpecError

ALLOWED_MODULE_PREFIX = "sklearn."
NESTED_PARAMS = ("estimators", "estimator", "base_estimator", "final_estimator", "regressor", "steps")
"""Constructor arguments that take other estimators: params.yaml can only give plain values."""


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


def resolve_estimator(spec: ModelSpec, spec_doc: Document) -> type:
    """Import the spec's estimator class, checking it is a scikit-learn one fit for the task."""
    from sklearn.base import BaseEstimator, is_classifier, is_regressor

    loc = ("estimator", "class")
    dotted = spec.estimator.class_
    module_name, _, class_name = dotted.rpartition(".")
    if not module_name.startswith(ALLOWED_MODULE_PREFIX):
        message = f"'{dotted}' is not a scikit-learn class: only sklearn.* estimators may be named"
        raise SpecError([spec_doc.problem(loc, message)])
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise SpecError([spec_doc.problem(loc, f"no module '{module_name}'")]) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        message = f"no class '{class_name}' in module '{module_name}'{_suggest(class_name, module)}"
        raise SpecError([spec_doc.problem(loc, message)])
    if not isinstance(cls, type) or not issubclass(cls, BaseEstimator):
        raise SpecError([spec_doc.problem(loc, f"'{dotted}' is not a scikit-learn estimator")])
    required = _required_args(cls)
    nested = [name for name in required if name in NESTED_PARAMS]
    if nested:
        named = ", ".join(f"'{name}'" for name in nested)
        message = (
            f"'{dotted}' is a meta-estimator that needs nested estimators ({named}): "
            "meta-estimators taking 'estimators'/'estimator' params are not supported by the "
            "declarative pipeline yet"
        )
        raise SpecError([spec_doc.problem(loc, message)])
    if required:
        message = (
            f"'{dotted}' cannot be built from params.yaml: it needs arguments without a default ({', '.join(required)})"
        )
        raise SpecError([spec_doc.problem(loc, message)])
    fits = is_classifier(cls()) if spec.task == "classification" else is_regressor(cls())
    if not fits:
        kind = "classifier" if spec.task == "classification" else "regressor"
        message = f"'{dotted}' is not a {kind}, but the task is {spec.task}"
        raise SpecError([spec_doc.problem(loc, message)])
    return cls


def check_params(cls: type, params: dict[str, Any], params_doc: Document, section: str) -> None:
    """Every param is one the estimator takes, with a value it accepts."""
    allowed = sorted(cls().get_params())
    problems: list[Problem] = []
    for key in params:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"{cls.__name__} takes: {', '.join(allowed)}"
            message = f"unknown parameter of {cls.__name__} ({hint})"
            problems.append(params_doc.problem((section, key), message, key=True))
    if problems:
        raise SpecError(problems)
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        cls(**params)._validate_params()
    except InvalidParameterError as err:
        bad = next((k for k in params if f"'{k}'" in str(err)), None)
        loc = (section, bad) if bad else (section,)
        raise SpecError([params_doc.problem(loc, str(err))]) from None


def estimator_params(cls: type, params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Params from params.yaml, with the spec's seed as random_state unless one is set."""
    merged = dict(params)
    if "random_state" in cls().get_params() and "random_state" not in merged:
        merged["random_state"] = seed
    return merged


TFIDF_SETTINGS: dict[str, Any] = {
    "max_features": 20_000,  # the most frequent words and pairs: bounds memory on large corpora
    "ngram_range": (1, 2),  # word pairs carry negation ("not good") that single words lose
    "sublinear_tf": True,  # 1 + log(count): a word repeated ten times is not ten times the evidence
    "token_pattern": TEXT_TOKEN_PATTERN,  # the words text drift counts, too
}
"""How each ``features.text`` column becomes numbers: a TfidfVectorizer with these settings."""


def text_pipeline() -> Any:
    """Missing text as the empty document, then TF-IDF of one column (1-D, as the vectoriser wants)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="", missing_values=None)),
            ("flatten", FunctionTransformer(np.ravel)),
            ("tfidf", TfidfVectorizer(**TFIDF_SETTINGS)),
        ]
    )


def build_pipeline(spec: ModelSpec, cls: type, params: dict[str, Any]) -> Any:
    """Preprocessing + estimator in one Pipeline, so scoring reuses the training logic.

    With text features the features are a sparse matrix (the estimator must accept one, as
    scikit-learn's linear models, forests and GradientBoosting* do; HistGradientBoosting* do not).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    transformers = []
    if spec.features.numeric:
        numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        transformers.append(("numeric", numeric, list(spec.features.numeric)))
    if spec.features.categorical:
        categorical = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        transformers.append(("categorical", categorical, list(spec.features.categorical)))
    for column in spec.features.text:
        transformers.append((f"text:{column}", text_pipeline(), [column]))
    features = ColumnTransformer(transformers, remainder="drop")
    return Pipeline([("features", features), ("estimator", cls(**params))])


def _suggest(name: str, module: Any) -> str:
    import difflib

    public = [n for n in dir(module) if not n.startswith("_") and isinstance(getattr(module, n), type)]
    close = difflib.get_close_matches(name, public, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
