"""A scikit-learn view of any loaded model: what the gates read (``predict``, ``predict_proba``, ``classes_``).

A model with the scikit-learn API (mlgate's own pipelines, XGBClassifier, LGBMClassifier, a
pickled estimator) is used as it is. Anything else (a ``mlflow.pyfunc`` model, a LightGBM or
XGBoost ``Booster``) only has ``predict``, and what it returns is mapped by the spec's
``output:`` (:class:`mlgate.config.schema.Output`):

======================================  =================================================
``predict`` returns                      read as
======================================  =================================================
``probabilities: [c0, c1, ...]``        those DataFrame columns: one per class, in the order
                                        of the sorted class labels
``label_column: c``                      the decided labels (no probabilities: ROC AUC, log
                                        loss, Brier, PR AUC are not computed)
``score_column: c`` (+ ``threshold``)    the positive class's score s in [0, 1]: probabilities
                                        [1 - s, s], decision ``s >= threshold`` (default 0.5)
``value_column: c``                      a regressor's values
nothing, 1-D floats in [0, 1], 2 classes the positive class's score, threshold 0.5
nothing, other 1-D output                labels (classifier) or values (regressor)
nothing, 2-D output                      class probabilities in the order of the sorted labels
nothing, a one-column DataFrame          read as 1-D; several columns need ``output:``
======================================  =================================================

Classes come from the model (``classes_``) when it has them, else from the evaluation data's
target values (sorted); the positive class is the spec's ``positive_label`` (else the larger).
Output that does not fit raises :class:`~mlgate.exceptions.SpecError` located at ``output``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlgate.config import Decision, ModelContext, Output
from mlgate.exceptions import InvalidInput, SpecError
from mlgate.gates._metrics import positive_label
from mlgate.registry import XGBoostBooster


def has_sklearn_api(model: Any, task: str) -> bool:
    """Whether the gates use ``model`` as it is: a scikit-learn estimator (``fit``, ``predict``...).

    A classifier also needs ``predict_proba`` and ``classes_``. A ``mlflow.pyfunc`` model or a
    ``Booster`` has no ``fit``: its output is mapped.
    """
    if not (hasattr(model, "fit") and hasattr(model, "predict")):
        return False
    return task == "regression" or (hasattr(model, "predict_proba") and hasattr(model, "classes_"))


def own_columns(model: Any) -> list[str] | None:
    """The input columns ``model`` recorded when it was fitted, or None when it names none.

    What the gates select when the version was logged without a signature: a script may train on
    some of the spec's features only (``mlflow.xgboost.log_model`` records no signature unless
    given an input example). scikit-learn estimators (and XGBoost's and LightGBM's scikit-learn
    classes) fitted on a DataFrame keep ``feature_names_in_``; an XGBoost ``Booster`` its
    ``feature_names``; a LightGBM ``Booster`` ``feature_name()`` (``Column_0``... when fitted on
    an array: those are no column names, and the caller ignores names the data does not have).
    """
    if isinstance(model, XGBoostBooster):
        names = model.booster.feature_names
    elif hasattr(model, "feature_names_in_"):
        names = model.feature_names_in_
    elif callable(getattr(model, "feature_name", None)) and not hasattr(model, "fit"):  # lightgbm.Booster
        names = model.feature_name()
    else:
        return None
    return [str(n) for n in names] if names is not None and len(names) else None


def adapt(model: Any, ctx: ModelContext, target_values: Any, label: str) -> Any:
    """``model`` itself when it has the scikit-learn API, else an :class:`OutputReader` around it.

    ``target_values`` are the evaluation data's target values (the classes of a model that has
    none); ``label`` names the version in messages (``credit v3``).
    """
    spec = ctx.spec
    if has_sklearn_api(model, spec.task):
        return model  # its own predict_proba and classes_: ``output:`` does not apply
    classes: list[Any] = []
    if spec.task == "classification":
        own = getattr(model, "classes_", None)
        classes = list(own) if own is not None else sorted(pd.unique(pd.Series(target_values).dropna()).tolist())
    labels_only = spec.task == "regression" or bool(spec.output and spec.output.label_column)
    return (OutputReader if labels_only else ProbabilityReader)(model, ctx, classes, label)


def decide(
    model: Any, frame: pd.DataFrame, ctx: ModelContext | None = None
) -> tuple[NDArray[Any], NDArray[Any] | None]:
    """(decided labels, class probabilities or None) of a classifier on ``frame``, one model call.

    With the spec's ``decision:`` (``ctx``), :func:`apply_decision` decides from the probabilities,
    so the gates judge the decisions ``mlgate score`` writes. Otherwise a scikit-learn classifier
    decides the most probable class (as mlgate always has); an :class:`OutputReader` decides by its
    ``output:`` mapping (a score's threshold).
    """
    if isinstance(model, OutputReader):
        predicted, proba = model.decide(frame)
    else:
        proba = np.asarray(model.predict_proba(frame))
        predicted = np.asarray(list(model.classes_))[proba.argmax(axis=1)]
    if ctx is None or ctx.spec.decision is None:
        return predicted, proba
    classes = list(model.classes_) if getattr(model, "classes_", None) is not None else []
    return apply_decision(proba, classes, ctx.spec.positive_label, ctx.spec.decision, ctx.spec_doc)[0], proba


def apply_decision(
    proba: NDArray[Any] | None,
    classes: list[Any],
    positive: Any,
    decision: Decision,
    doc: Any = None,
) -> tuple[NDArray[Any], NDArray[Any]]:
    """(decided labels, needs_review flags) from class probabilities and the spec's ``decision:``.

    The one place a threshold and a review band turn probabilities into decisions: the gates
    (:func:`decide`) and ``mlgate score`` (both engines) call it, so what is gated is what is
    deployed. The positive class (``positive_label``, else the larger label) is decided when its
    probability is at or above ``threshold``; a row is flagged when that probability lies in
    ``review_band`` (both ends included). ``doc`` (the spec's YAML document) locates a problem.
    """
    problem = ""
    if proba is None:
        problem = "the model gives decided labels only: a threshold needs probabilities"
    elif len(classes) != 2 or proba.ndim != 2 or proba.shape[1] != 2:
        problem = f"a threshold decides between two classes; the model has {classes}"
    pos = positive_label(classes, positive) if classes else positive
    if not problem and pos not in classes:
        problem = f"positive_label {pos!r} is not one of the classes {classes}"
    if problem:
        if doc is None:
            raise InvalidInput(f"decision: {problem}")
        raise SpecError([doc.problem(("decision",), problem)])
    assert proba is not None
    at = classes.index(pos)
    score = proba[:, at]
    decided = np.asarray(classes)[np.where(score >= decision.threshold, at, 1 - at)]
    band = decision.review_band
    review = (score >= band[0]) & (score <= band[1]) if band else np.zeros(len(score), dtype=bool)
    return decided, review


class OutputReader:
    """A model whose ``predict`` output is mapped by the spec's ``output:``: ``predict``, ``classes_``.

    :class:`ProbabilityReader` adds ``predict_proba`` where the output may carry probabilities
    (deepchecks looks for the attribute to tell a model with probabilities from one without).
    """

    def __init__(self, model: Any, ctx: ModelContext, classes: list[Any], label: str) -> None:
        """Read ``model``'s output for the spec of ``ctx``; ``classes`` in label order (classifiers)."""
        self.model, self.ctx, self.label = model, ctx, label
        self.output = ctx.spec.output or Output()
        self.task = ctx.spec.task
        self.classes_ = np.asarray(classes) if classes else None

    # -- the scikit-learn surface
    def predict(self, frame: pd.DataFrame) -> NDArray[Any]:
        """Decided labels (classifier) or values (regressor)."""
        if self.task == "regression":
            return self.values(frame)
        return self.decide(frame)[0]

    # -- mapping
    def values(self, frame: pd.DataFrame) -> NDArray[Any]:
        """A regressor's predicted values."""
        raw = self.model.predict(frame)
        key = "value_column"
        column = self._column(raw, self.output.value_column, key) if self.output.value_column else None
        values = column if column is not None else self._one_d(raw, key)
        try:
            out = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise self._problem(key, f"predict returned {_describe(raw)}: values must be numbers") from None
        self._rows(out, frame, raw, key)
        if not np.isfinite(out).all():
            raise self._problem(key, f"predict returned {_describe(raw)} with missing or infinite values")
        return out

    def decide(self, frame: pd.DataFrame) -> tuple[NDArray[Any], NDArray[Any] | None]:
        """(decided labels, probabilities or None) for ``frame``, from one call of the model."""
        return self._decide(self.model.predict(frame), frame)

    def _decide(self, raw: Any, frame: pd.DataFrame) -> tuple[NDArray[Any], NDArray[Any] | None]:
        out = self.output
        classes = list(self.classes_) if self.classes_ is not None else []
        if out.probabilities:
            table = pd.DataFrame({c: self._column(raw, c, "probabilities") for c in out.probabilities})
            return self._from_proba(np.asarray(table, dtype=float), raw, frame, "probabilities", classes)
        if out.label_column:
            return self._labels(self._column(raw, out.label_column, "label_column"), raw, frame, classes), None
        if out.score_column:
            return self._from_score(self._column(raw, out.score_column, "score_column"), raw, frame, classes)
        array = self._plain(raw)
        if array.ndim == 2 and array.shape[1] > 1:
            return self._from_proba(array.astype(float), raw, frame, "probabilities", classes)
        flat = array.reshape(len(array)) if array.ndim == 2 else array
        if flat.dtype.kind == "f" and len(classes) == 2 and _in_unit(flat):
            return self._from_score(flat, raw, frame, classes)
        return self._labels(flat, raw, frame, classes), None

    def _from_proba(
        self, proba: NDArray[Any], raw: Any, frame: pd.DataFrame, key: str, classes: list[Any]
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        self._rows(proba, frame, raw, key)
        if proba.shape[1] != len(classes):
            raise self._problem(
                key,
                f"predict returned {_describe(raw)}: {proba.shape[1]} probability columns for "
                f"{len(classes)} classes {classes}",
            )
        if not _in_unit(proba):
            raise self._problem(key, f"predict returned {_describe(raw)}: probabilities must lie in [0, 1]")
        return np.asarray(classes)[proba.argmax(axis=1)], proba

    def _from_score(
        self, score: Any, raw: Any, frame: pd.DataFrame, classes: list[Any]
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        key = "score_column"
        try:
            s = np.asarray(score, dtype=float)
        except (TypeError, ValueError):
            raise self._problem(key, f"predict returned {_describe(raw)}: a score must be a number") from None
        self._rows(s, frame, raw, key)
        if len(classes) != 2:
            raise self._problem(key, f"a score decides between two classes; the evaluation data has {classes}")
        if not _in_unit(s):
            raise self._problem(key, f"predict returned {_describe(raw)}: scores must lie in [0, 1]")
        pos = positive_label(classes, self.ctx.spec.positive_label)
        if pos not in classes:
            raise self._problem(key, f"positive_label {pos!r} is not one of the classes {classes}")
        at, other = classes.index(pos), 1 - classes.index(pos)
        proba = np.empty((len(s), 2))
        proba[:, at], proba[:, other] = s, 1 - s
        decided = np.where(s >= self.output.decision_threshold, classes[at], classes[other])
        return decided, proba

    def _labels(self, labels: Any, raw: Any, frame: pd.DataFrame, classes: list[Any]) -> NDArray[Any]:
        key = "label_column"
        out = np.asarray(labels)
        if out.ndim != 1:
            raise self._problem(key, f"predict returned {_describe(raw)}: labels must be one per row")
        self._rows(out, frame, raw, key)
        unknown = sorted({str(v) for v in pd.unique(pd.Series(out)) if v not in classes})
        if unknown:
            raise self._problem(
                key, f"predict returned {_describe(raw)} with labels {unknown[:5]} that are not classes {classes}"
            )
        return out

    # -- reading raw output
    def _column(self, raw: Any, name: str, key: str) -> NDArray[Any]:
        frame = raw if isinstance(raw, pd.DataFrame) else pd.DataFrame(raw) if isinstance(raw, dict) else None
        if frame is None or name not in frame.columns:
            raise self._problem(key, f"column {name!r} not in what predict returned: {_describe(raw)}")
        return frame[name].to_numpy()

    def _plain(self, raw: Any) -> NDArray[Any]:
        if isinstance(raw, pd.DataFrame):
            if raw.shape[1] != 1:
                raise self._problem(
                    "",
                    f"predict returned {_describe(raw)}: say which column(s) to read with "
                    "output: probabilities, label_column or score_column",
                )
            return raw.iloc[:, 0].to_numpy()
        if isinstance(raw, pd.Series):
            return raw.to_numpy()
        if isinstance(raw, np.ndarray | list | tuple):
            array = np.asarray(raw)
            if array.ndim in (1, 2):
                return array
        raise self._problem("", f"predict returned {_describe(raw)}, not a DataFrame, Series or 1-D/2-D array")

    def _one_d(self, raw: Any, key: str) -> NDArray[Any]:
        if isinstance(raw, pd.DataFrame) and raw.shape[1] != 1:
            raise self._problem(key, f"predict returned {_describe(raw)}: name the value column with {key}")
        array = self._plain(raw)
        if array.ndim == 2 and array.shape[1] == 1:
            return array.reshape(len(array))
        if array.ndim != 1:
            raise self._problem(key, f"predict returned {_describe(raw)}: one value per row expected")
        return array

    def _rows(self, out: NDArray[Any], frame: pd.DataFrame, raw: Any, key: str) -> None:
        if len(out) != len(frame):
            raise self._problem(key, f"predict returned {_describe(raw)} for {len(frame)} rows")

    def _problem(self, key: str, message: str) -> SpecError:
        loc = ("output", key) if key and self.ctx.spec.output is not None else ("output",)
        doc = self.ctx.spec_doc
        return SpecError(
            [doc.problem(loc, f"{self.label}: {message}")],
            hint="the output: key of the spec says how predict's output is read (see docs/design.md)",
        )


class ProbabilityReader(OutputReader):
    """An :class:`OutputReader` whose output carries class probabilities (or a score)."""

    def predict_proba(self, frame: pd.DataFrame) -> NDArray[Any]:
        """Class probabilities (rows x ``classes_``); an error when the output holds labels only."""
        proba = self.decide(frame)[1]
        if proba is None:
            raise self._problem("", "predict returned labels only: no class probabilities to read")
        return proba


def _in_unit(values: NDArray[Any]) -> bool:
    return bool(np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all())


def _describe(raw: Any) -> str:
    """What predict returned, briefly: type, shape, columns or dtype."""
    if isinstance(raw, pd.DataFrame):
        return f"a DataFrame of {raw.shape[0]} rows with columns {list(raw.columns)[:10]}"
    if isinstance(raw, pd.Series):
        return f"a Series of {len(raw)} {raw.dtype} values"
    if isinstance(raw, np.ndarray):
        return f"an array of shape {raw.shape} ({raw.dtype})"
    if isinstance(raw, list | tuple):
        return f"a {type(raw).__name__} of {len(raw)} items"
    return f"a {type(raw).__name__}"
