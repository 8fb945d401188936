"""Reason codes: each input feature's contribution to one row's output, and the top-k reasons of a decision.

:func:`explainer` picks a method for a loaded model (what ``mlgate score --reasons``, ``mlgate serve
?reasons=K`` and the gate's global explanation call):

- **tree_shap** — a scikit-learn tree ensemble (random forest, extra trees, decision tree, gradient
  boosting), alone or as the last step of a Pipeline: shap's ``TreeExplainer`` (the ``shap`` extra)
  on the fitted trees, exact SHAP values of the trees' own output (a forest's and a tree's: the class
  probability; gradient boosting's: the log-odds margin);
- **xgboost_pred_contrib** / **lightgbm_pred_contrib** — XGBoost and LightGBM models (scikit-learn
  classes or Boosters): the library's own ``pred_contribs``/``pred_contrib`` (exact TreeSHAP of the
  raw margin, no shap needed);
- **baseline_substitution** — anything else (and a pipeline whose preprocessing mixes input columns):
  one feature at a time replaced by its reference value (median of a numeric column, most frequent
  value otherwise), the contribution being how much the output moves back:
  ``f(x) - f(x with feature j at its reference)``; the base value is ``f(reference row)``.

The exact methods explain the *encoded* columns the estimator sees; each is mapped back to the
**input feature** it came from (a Pipeline's ColumnTransformer: one-hot columns of ``housing`` are
summed into ``housing``; a text column's TF-IDF terms into that column). That is exact, and base value
plus contributions still add up to the model's output, because every encoded column comes from one
input column (a per-column map: imputers, scalers, encoders, ``passthrough``). A preprocessing step
whose output names cannot be traced to one input column each (PCA, polynomial features) takes the
fallback.

Contributions point **toward** one class: a binary classifier's positive class (``positive_label``)
on every row, a multiclass model's decided class of each row; a regressor's toward a higher value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlgate.exceptions import InvalidInput, MissingExtra
from mlgate.gates._adapter import OutputReader
from mlgate.registry import XGBoostBooster

SHAP_HINT = "pip install 'mlgate[shap]'"
"""How to install what reason codes of scikit-learn tree ensembles need."""
MAX_REASONS = 50
"""The most reasons a row may ask for (``score --reasons``, ``serve ?reasons=``)."""
GLOBAL_ROWS = 2000
"""Holdout rows the gate's global explanation averages over at most (seeded sample), for time."""
_SUBSTITUTION_ROWS = 200_000
"""Rows the fallback hands the model in one call at most (rows x (features + 1) copies)."""
_SKLEARN_TREES = frozenset(
    {
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
    }
)
"""scikit-learn estimators shap's TreeExplainer reads exactly."""
_XGBOOST_CLASSES = frozenset({"XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor", "Booster"})
_PROBABILITY_TREES = frozenset(
    {"RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier"}
)  # their trees' raw output is the class probability; gradient boosting's is a log-odds margin


@dataclass(frozen=True)
class Reasons:
    """Per-row, per-input-feature contributions of a model's output on some rows.

    ``base[i] + contributions[i].sum()`` is the explained output of row ``i`` (``output`` says which:
    ``probability``, ``margin`` (log-odds) or ``value``) when ``additive`` (the exact methods); the
    fallback's contributions need not add up (see the module docstring). ``toward[i]`` is the class
    row ``i``'s contributions point toward (None for a regressor).
    """

    method: str
    output: str
    features: list[str]
    base: NDArray[np.float64]
    contributions: NDArray[np.float64]
    toward: list[Any]
    additive: bool

    def top(self, frame: pd.DataFrame, k: int) -> list[list[dict[str, Any]]]:
        """Each row's ``k`` largest contributions by size: ``[{feature, value, contribution}]``, value as given."""
        k = min(k, len(self.features))
        order = np.argsort(-np.abs(self.contributions), axis=1, kind="stable")[:, :k]
        columns = {name: frame[name].tolist() for name in self.features}
        out = []
        for i, picked in enumerate(order.tolist()):
            row = self.contributions[i]
            out.append(
                [
                    {
                        "feature": self.features[j],
                        "value": _plain(columns[self.features[j]][i]),
                        "contribution": float(row[j]),
                    }
                    for j in picked
                ]
            )
        return out

    def mean_abs(self) -> list[dict[str, Any]]:
        """Mean absolute contribution of each input feature over the rows, largest first (a global explanation)."""
        means = np.abs(self.contributions).mean(axis=0) if len(self.contributions) else np.zeros(len(self.features))
        rows = [{"feature": f, "mean_abs_contribution": float(m)} for f, m in zip(self.features, means, strict=True)]
        return sorted(rows, key=lambda r: -r["mean_abs_contribution"])


def _plain(value: Any) -> Any:
    """A frame's value as JSON holds it: numpy scalars as Python's, a missing value as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value


class Explainer:
    """Reason codes of one loaded model: built once (per served version, per scoring run), applied per batch."""

    def __init__(
        self,
        method: str,
        output: str,
        features: list[str],
        compute: Any,
        *,
        task: str,
        classes: list[Any],
        positive: Any,
        additive: bool,
    ) -> None:
        """Use :func:`explainer`."""
        self.method, self.output, self.features = method, output, features
        self.task, self.classes, self.positive, self.additive = task, classes, positive, additive
        self._compute = compute  # (frame, target class index per row or None) -> (base, contributions)

    def explain(self, frame: pd.DataFrame, decided: Any = None) -> Reasons:
        """The contributions on ``frame`` (the input features); ``decided``: a multiclass model's decided labels."""
        targets = self._targets(len(frame), decided)
        x = frame[self.features].reset_index(drop=True)
        base, contributions = self._compute(x, targets)
        toward = [None] * len(x) if targets is None else [_plain(self.classes[t]) for t in targets.tolist()]
        return Reasons(
            self.method,
            self.output,
            list(self.features),
            np.asarray(base, dtype=np.float64),
            np.asarray(contributions, dtype=np.float64),
            toward,
            self.additive,
        )

    def _targets(self, rows: int, decided: Any) -> NDArray[np.intp] | None:
        """The class index each row is explained toward: the positive class (binary), the decided one (multiclass)."""
        if self.task != "classification":
            return None
        if len(self.classes) == 2 or decided is None:
            at = self.classes.index(self.positive) if self.positive in self.classes else len(self.classes) - 1
            return np.full(rows, at, dtype=np.intp)
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index[_plain(d)] for d in np.asarray(decided).tolist()], dtype=np.intp)


def explainer(
    model: Any,
    features: list[str],
    *,
    task: str,
    classes: list[Any] | None = None,
    positive: Any = None,
    reference: pd.DataFrame | None = None,
) -> Explainer:
    """The :class:`Explainer` of ``model`` called on the input columns ``features`` (see the module docstring).

    ``model`` is what the gates read (a scikit-learn estimator or Pipeline, XGBoost's and LightGBM's
    classes, an :class:`~mlgate.gates._adapter.OutputReader` around a Booster or pyfunc). ``reference``
    (rows of the input features) gives the fallback its reference values; without it they come from
    the model's own imputers (a Pipeline's ``SimpleImputer`` statistics: the training data's medians
    and modes). Raises :class:`~mlgate.exceptions.MissingExtra` (exit 2) when a scikit-learn tree
    ensemble needs shap and it is not installed, :class:`~mlgate.exceptions.InvalidInput` when the
    fallback has no reference value for a feature.
    """
    plain_classes = [_plain(c) for c in (classes or [])]
    pos = _plain(positive)
    common = {"task": task, "classes": plain_classes, "positive": pos}
    inner = model.model if isinstance(model, OutputReader) else model
    pre, estimator = _split(inner)
    kind = _kind(estimator)
    blocks = _blocks(pre, features) if kind else None
    if kind and blocks is not None:
        encode = _encoder(pre, features)
        if kind == "xgboost":
            compute = _xgboost(estimator, encode, blocks, len(features), task)
            return Explainer("xgboost_pred_contrib", _margin(task), features, compute, additive=True, **common)
        if kind == "lightgbm":
            compute = _lightgbm(estimator, encode, blocks, len(features), task)
            return Explainer("lightgbm_pred_contrib", _margin(task), features, compute, additive=True, **common)
        compute, output = _tree_shap(estimator, encode, blocks, len(features), task)
        return Explainer("tree_shap", output, features, compute, additive=True, **common)
    values = _reference(reference, inner, features)
    compute = _substitution(model, features, values, task, plain_classes)
    output = "probability" if task == "classification" else "value"
    return Explainer("baseline_substitution", output, features, compute, additive=False, **common)


def _margin(task: str) -> str:
    return "margin" if task == "classification" else "value"


# ----------------------------------------------------------------------------- the model's parts


def _split(model: Any) -> tuple[Any, Any]:
    """(preprocessing or None, final estimator) of a scikit-learn Pipeline; (None, model) otherwise."""
    steps = getattr(model, "steps", None)
    if type(model).__name__ == "Pipeline" and isinstance(steps, list) and steps:
        if len(steps) == 1:
            return None, steps[0][1]
        return model[:-1], steps[-1][1]
    return None, model


def _kind(estimator: Any) -> str:
    """``xgboost``, ``lightgbm``, ``sklearn_tree`` for the estimators with exact contributions, else ''."""
    if isinstance(estimator, XGBoostBooster):
        return "xgboost"
    module, name = type(estimator).__module__, type(estimator).__name__
    if module.startswith("xgboost."):
        return "xgboost" if name in _XGBOOST_CLASSES else ""
    if module.startswith("lightgbm."):
        return "lightgbm" if name in ("LGBMClassifier", "LGBMRegressor", "Booster") else ""
    if module.startswith("sklearn.") and name in _SKLEARN_TREES:
        return "sklearn_tree"
    return ""


def _encoder(pre: Any, features: list[str]) -> Any:
    """What turns the input frame into the estimator's matrix (the preprocessing, or the frame itself)."""
    if pre is None:
        return lambda x: x
    return lambda x: pre.transform(x)


def _blocks(pre: Any, features: list[str]) -> list[int] | None:
    """The input feature (its index) each encoded column comes from; None when that cannot be told.

    No preprocessing: the estimator sees the features themselves. A ColumnTransformer (alone or
    the one step before the estimator): each transformer's output columns are traced to its input
    columns (:func:`_traced`).
    """
    if pre is None:
        return list(range(len(features)))
    steps = getattr(pre, "steps", [])
    ct = steps[0][1] if len(steps) == 1 else pre
    if type(ct).__name__ != "ColumnTransformer" or not hasattr(ct, "output_indices_"):
        return None
    position = {name: i for i, name in enumerate(features)}
    width = max((s.stop for s in ct.output_indices_.values()), default=0)
    owner: list[int | None] = [None] * width
    for name, transformer, columns in ct.transformers_:
        part = ct.output_indices_.get(name)
        if transformer == "drop" or part is None or part.stop == part.start:
            continue
        names = _column_names(columns, features)
        if names is None or any(n not in position for n in names):
            return None
        traced = _traced(transformer, names, part.stop - part.start)
        if traced is None:
            return None
        for offset, at in enumerate(traced):
            owner[part.start + offset] = position[names[at]]
    if any(o is None for o in owner):
        return None
    return [int(o) for o in owner if o is not None]


def _column_names(columns: Any, features: list[str]) -> list[str] | None:
    """A ColumnTransformer entry's columns as names (it may hold names, positions or a mask)."""
    values = list(columns) if not isinstance(columns, str) else [columns]
    if all(isinstance(c, str) for c in values):
        return [str(c) for c in values]
    if all(isinstance(c, (bool, np.bool_)) for c in values):
        return [features[i] for i, keep in enumerate(values) if keep]
    if all(isinstance(c, (int, np.integer)) for c in values):
        return [features[int(i)] for i in values]
    return None


def _traced(transformer: Any, names: list[str], width: int) -> list[int] | None:
    """For each of ``width`` output columns of ``transformer`` (fitted on ``names``), the input it comes from.

    One input: all of them. ``passthrough`` or output names equal to the inputs: one to one. Else
    the output names (``get_feature_names_out``) as a one-hot encoder writes them, ``<input>_<value>``
    in input order; a name that fits none, or fits two inputs, cannot be traced (None).
    """
    if len(names) == 1:
        return [0] * width
    if transformer == "passthrough":
        return list(range(len(names))) if width == len(names) else None
    try:
        out = [str(n) for n in transformer.get_feature_names_out(names)]
    except (AttributeError, ValueError, TypeError):
        return None
    if len(out) != width:
        return None
    if out == names:
        return list(range(width))
    traced = []
    at = 0
    for name in out:
        fits = [i for i in range(at, len(names)) if name == names[i] or name.startswith(names[i] + "_")]
        if len(fits) != 1:
            return None
        at = fits[0]
        traced.append(at)
    return traced


def _dense(matrix: Any) -> NDArray[Any]:
    return np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix)


def _to_inputs(encoded: NDArray[Any], blocks: list[int], n_features: int) -> NDArray[np.float64]:
    """Contributions of the encoded columns summed into the input feature each came from."""
    out = np.zeros((encoded.shape[0], n_features))
    owner = np.asarray(blocks)
    for j in range(n_features):
        out[:, j] = encoded[:, owner == j].sum(axis=1)
    return out


def _pick(per_class: NDArray[Any], base: NDArray[Any], targets: NDArray[np.intp] | None) -> tuple[Any, Any]:
    """Row i's contributions (rows x encoded x classes) and base (classes) of class ``targets[i]``."""
    rows = np.arange(per_class.shape[0])
    if targets is None:
        return base[np.zeros(len(rows), dtype=np.intp)], per_class[:, :, 0]
    return base[targets], per_class[rows, :, targets]


def _binary_margin(
    contributions: NDArray[Any], base: NDArray[Any], targets: NDArray[np.intp] | None
) -> tuple[Any, Any]:
    """A binary model's one margin (of class 1) toward each row's target: negated toward class 0."""
    if targets is None:
        return base, contributions
    sign = np.where(targets == 1, 1.0, -1.0)
    return base * sign, contributions * sign[:, None]


# ----------------------------------------------------------------------------- exact methods


def _forget_import_frames(shap: Any) -> None:
    """Drop the tracebacks of the ImportErrors shap records at its import (optional extensions absent).

    shap keeps them (``shap.utils._general.import_errors``), and a traceback holds the frames of
    whoever first imported shap: in ``mlgate serve``, a request and the model version it served,
    kept for the process's life (after a swap, that version's model and downloaded folder).
    """
    recorded = getattr(getattr(shap, "utils", None), "_general", None)
    for entry in getattr(recorded, "import_errors", {}).values():
        error = entry[1] if isinstance(entry, tuple) and len(entry) == 2 else None
        if isinstance(error, BaseException):
            error.with_traceback(None)


def _tree_shap(estimator: Any, encode: Any, blocks: list[int], n_features: int, task: str) -> tuple[Any, str]:
    try:
        import shap
    except ModuleNotFoundError as err:
        raise MissingExtra(err.name or "shap", "shap", "reason codes of a scikit-learn tree ensemble") from None
    _forget_import_frames(shap)
    tree = shap.TreeExplainer(estimator)
    name = type(estimator).__name__
    output = "probability" if name in _PROBABILITY_TREES else _margin(task)

    def compute(x: pd.DataFrame, targets: NDArray[np.intp] | None) -> tuple[Any, Any]:
        # scikit-learn's trees compare float32 values: the same values shap's trees are walked with
        encoded = _dense(encode(x)).astype(np.float32)
        values = np.asarray(tree.shap_values(encoded, check_additivity=False), dtype=np.float64)
        expected = np.atleast_1d(np.asarray(tree.expected_value, dtype=np.float64))
        if values.ndim == 3:  # rows x encoded x classes (a forest's probabilities, multiclass boosting)
            base, picked = _pick(values, expected, targets)
        else:  # one output: a regressor, or binary gradient boosting's margin of class 1
            base, picked = _binary_margin(values, np.full(len(values), expected[0]), targets)
        return base, _to_inputs(picked, blocks, n_features)

    return compute, output


def _xgboost(estimator: Any, encode: Any, blocks: list[int], n_features: int, task: str) -> Any:
    import xgboost

    if isinstance(estimator, XGBoostBooster):
        booster = estimator.booster
    elif isinstance(estimator, xgboost.Booster):
        booster = estimator
    else:
        booster = estimator.get_booster()

    def compute(x: pd.DataFrame, targets: NDArray[np.intp] | None) -> tuple[Any, Any]:
        encoded = encode(x)
        matrix = xgboost.DMatrix(encoded, enable_categorical=True, feature_names=_xgb_names(booster, encoded))
        raw = np.asarray(booster.predict(matrix, pred_contribs=True), dtype=np.float64)
        if raw.ndim == 3:  # multiclass: rows x classes x (encoded + bias)
            per_class = np.transpose(raw, (0, 2, 1))
            rows = np.arange(len(raw))
            chosen = targets if targets is not None else np.zeros(len(raw), dtype=np.intp)
            return per_class[rows, -1, chosen], _to_inputs(per_class[rows, :-1, chosen], blocks, n_features)
        base, picked = _binary_margin(raw[:, :-1], raw[:, -1], targets if task == "classification" else None)
        return base, _to_inputs(picked, blocks, n_features)

    return compute


def _xgb_names(booster: Any, encoded: Any) -> Any:
    """The booster's feature names for a DataFrame it was fitted on; None for a matrix (positions)."""
    if isinstance(encoded, pd.DataFrame):
        return None  # the DMatrix takes the frame's own column names
    return booster.feature_names


def _lightgbm(estimator: Any, encode: Any, blocks: list[int], n_features: int, task: str) -> Any:
    def compute(x: pd.DataFrame, targets: NDArray[np.intp] | None) -> tuple[Any, Any]:
        encoded = encode(x)
        raw = estimator.predict(encoded, pred_contrib=True)
        raw = np.asarray(_dense(raw) if not isinstance(raw, list) else np.hstack([_dense(r) for r in raw]))
        width = len(blocks) + 1
        if raw.shape[1] > width:  # multiclass: (encoded + bias) per class, side by side
            per_class = raw.astype(np.float64).reshape(len(raw), -1, width).transpose(0, 2, 1)
            rows = np.arange(len(raw))
            chosen = targets if targets is not None else np.zeros(len(raw), dtype=np.intp)
            return per_class[rows, -1, chosen], _to_inputs(per_class[rows, :-1, chosen], blocks, n_features)
        raw = raw.astype(np.float64)
        base, picked = _binary_margin(raw[:, :-1], raw[:, -1], targets if task == "classification" else None)
        return base, _to_inputs(picked, blocks, n_features)

    return compute


# ----------------------------------------------------------------------------- the fallback


def _reference(reference: pd.DataFrame | None, model: Any, features: list[str]) -> dict[str, Any]:
    """Each feature's reference value: from ``reference`` rows (median / most frequent), else the model's imputers."""
    if reference is not None and len(reference):
        return {name: _typical(reference[name]) for name in features}
    found = _imputed(model)
    missing = [name for name in features if name not in found]
    if missing:
        raise InvalidInput(
            f"reason codes of this model are computed against a reference value per feature, and none is "
            f"known for {', '.join(missing[:10])} (the model has no imputer statistics for them)",
            hint="reason codes need a scikit-learn Pipeline with imputers, a tree ensemble, XGBoost or LightGBM",
        )
    return {name: found[name] for name in features}


def _typical(values: pd.Series) -> Any:
    """The median of a numeric column (a whole number for an integer column), else its most frequent value."""
    present = values.dropna()
    if present.empty:
        return None
    if pd.api.types.is_bool_dtype(present):
        return bool(present.mode().iloc[0])
    if pd.api.types.is_numeric_dtype(present):
        middle = float(present.median())
        return round(middle) if pd.api.types.is_integer_dtype(present) else middle
    counts = present.astype(str).value_counts(sort=False)
    top = counts.max()
    winner = min(str(k) for k, n in counts.items() if n == top)  # ties: the first in text order
    return next(v for v in present if str(v) == winner)


def _imputed(model: Any) -> dict[str, Any]:
    """``{input column: value}`` a Pipeline's ColumnTransformer imputes (SimpleImputer ``statistics_``)."""
    found: dict[str, Any] = {}
    ct = None
    for _, step in getattr(model, "steps", []):
        if type(step).__name__ == "ColumnTransformer":
            ct = step
            break
    for _, transformer, _columns in getattr(ct, "transformers_", []):
        first = transformer.steps[0][1] if hasattr(transformer, "steps") else transformer
        stats = getattr(first, "statistics_", None)
        names = list(getattr(first, "feature_names_in_", []))
        if type(first).__name__ != "SimpleImputer" or stats is None or len(names) != len(stats):
            continue
        for name, value in zip(names, stats, strict=True):
            found[str(name)] = _plain(value)
    return found


def _substitution(model: Any, features: list[str], values: dict[str, Any], task: str, classes: list[Any]) -> Any:
    """The fallback: ``f(x) - f(x with feature j at its reference)`` per feature, in one model call per chunk."""

    def output(frame: pd.DataFrame) -> NDArray[np.float64]:
        if task == "classification":
            return np.asarray(model.predict_proba(frame), dtype=np.float64)
        return np.asarray(model.predict(frame), dtype=np.float64).reshape(-1, 1)

    def compute(x: pd.DataFrame, targets: NDArray[np.intp] | None) -> tuple[Any, Any]:
        n, d = len(x), len(features)
        chosen = targets if targets is not None else np.zeros(n, dtype=np.intp)
        reference_row = x.iloc[:1].copy()
        for name in features:  # a column takes its reference as pandas assigns it (a median may make ints floats)
            reference_row[name] = values[name]
        base = output(reference_row)[0][chosen]
        contributions = np.empty((n, d))
        step = max(1, _SUBSTITUTION_ROWS // (d + 1))
        for start in range(0, n, step):
            part = x.iloc[start : start + step].reset_index(drop=True)
            copies = [part]
            for name in features:
                changed = part.copy()
                changed[name] = values[name]
                copies.append(changed)
            out = output(pd.concat(copies, ignore_index=True))
            m = len(part)
            rows = np.arange(m)
            mine = chosen[start : start + m]
            own = out[:m][rows, mine]
            for j in range(d):
                contributions[start : start + m, j] = own - out[(j + 1) * m : (j + 2) * m][rows, mine]
        return base, contributions

    return compute


# ----------------------------------------------------------------------------- the global explanation


def global_explanation(
    model: Any,
    x: pd.DataFrame,
    *,
    task: str,
    classes: list[Any] | None,
    positive: Any,
    seed: int,
) -> dict[str, Any]:
    """The model card's global explanation: mean |contribution| per input feature over at most :data:`GLOBAL_ROWS` rows.

    ``x`` holds the evaluation (holdout) rows' input features, which are also the fallback's
    reference. A multiclass model is explained toward each row's most probable class. When the
    model's method cannot run here (shap not installed, no reference, a model whose output the
    method cannot read), the block says why (``skipped``) instead: it is evidence for a reviewer,
    never a reason to fail a gate.
    """
    rows = len(x)
    if rows > GLOBAL_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(rows, GLOBAL_ROWS, replace=False))
        x = x.iloc[keep]
    x = x.reset_index(drop=True)
    features = [str(c) for c in x.columns]
    try:
        explain = explainer(model, features, task=task, classes=classes, positive=positive, reference=x)
        decided = None
        if task == "classification" and classes and len(classes) > 2:
            decided = np.asarray(classes)[np.asarray(model.predict_proba(x)).argmax(axis=1)]
        reasons = explain.explain(x, decided)
    except MissingExtra as err:
        return {"skipped": f"{err.message} ({SHAP_HINT})", "rows": len(x)}
    except InvalidInput as err:
        return {"skipped": err.message, "rows": len(x)}
    except Exception as err:  # noqa: BLE001 — evidence: whatever the model does, the gate's verdict stands
        why = f"the contributions could not be computed: {type(err).__name__}: {err}"
        return {"skipped": why[:500], "rows": len(x)}
    return {
        "method": reasons.method,
        "output": reasons.output,
        "toward": reasons.toward[0] if reasons.toward and len(set(map(str, reasons.toward))) == 1 else "decided class",
        "rows": len(x),
        "of_rows": rows,
        "base_value": float(np.mean(reasons.base)) if len(reasons.base) else None,
        "additive": reasons.additive,
        "features": [
            {"feature": r["feature"], "mean_abs_contribution": round(r["mean_abs_contribution"], 6)}
            for r in reasons.mean_abs()
        ],
    }
