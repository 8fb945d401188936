"""From spec + params to a scikit-learn Pipeline: preprocessing and the estimator in one.

The estimator class and its params were checked by :mod:`mlgate.config._estimators` (the
allow-list of module prefixes, the params it takes); this module only builds.
"""

from __future__ import annotations

from typing import Any

from mlgate.config import DEFAULT_ESTIMATOR_MODULES, TEXT_TOKEN_PATTERN, ModelSpec, make_estimator

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
            # a missing text is NaN in the model input (mlgate.data.model_input), as pandas reads a blank
            ("impute", SimpleImputer(strategy="constant", fill_value="", missing_values=np.nan)),
            ("flatten", FunctionTransformer(np.ravel)),
            ("tfidf", TfidfVectorizer(**TFIDF_SETTINGS)),
        ]
    )


def build_pipeline(
    spec: ModelSpec, cls: type, params: dict[str, Any], modules: tuple[str, ...] = DEFAULT_ESTIMATOR_MODULES
) -> Any:
    """Preprocessing + estimator in one Pipeline, so scoring reuses the training logic.

    With text features the features are a sparse matrix (the estimator must accept one, as
    scikit-learn's linear models, forests and GradientBoosting* do; HistGradientBoosting* do not).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    transformers = []
    if spec.inputs.numeric:
        numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        transformers.append(("numeric", numeric, list(spec.inputs.numeric)))
    if spec.inputs.categorical:
        categorical = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        transformers.append(("categorical", categorical, list(spec.inputs.categorical)))
    for column in spec.inputs.text:
        transformers.append((f"text:{column}", text_pipeline(), [column]))
    features = ColumnTransformer(transformers, remainder="drop")
    return Pipeline([("features", features), ("estimator", make_estimator(cls, params, modules, seed=spec.seed))])
