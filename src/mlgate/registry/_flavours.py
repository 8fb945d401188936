"""Which MLflow model formats mlgate loads, and how: nothing a model names runs unless a policy trusts it.

A registered version's ``MLmodel`` file says how the model was serialized. It is read (YAML, no
code) before anything else and classified:

- formats that run no code on load, loaded here without MLflow's loaders: skops with mlgate's
  own type allow-list (scikit-learn; LightGBM's scikit-learn classes too), XGBoost's own json or
  ubj file (into a class from :data:`XGBOOST_CLASSES`), LightGBM's text model file;
- formats that run code on load (:data:`CODE_FORMATS`): ``pickle``, ``cloudpickle`` (scikit-learn
  or LightGBM pickles, a ``PythonModel`` object), ``pytorch`` (``torch.save``), ``code`` (Python
  files logged with the model: models from code, ``code_paths``) and ``other`` (a flavour mlgate
  does not know, or a class outside its lists: ``mlflow.pyfunc`` imports the ``loader_module`` the
  MLmodel names). These load only when the caller passes them as trusted (the judged policy's
  ``trust.formats``), through MLflow's loader for the flavour.

What ``mlflow.pyfunc`` predict returns is told from the same file (:func:`pyfunc_returns`): a logged
signature whose output says otherwise (:func:`output_problem`) is refused before it is registered,
because plain MLflow (``spark_udf``, ``mlflow models serve``) types its results by that output.

MLflow's own loaders are not used for the safe formats because they take their instructions
from the MLmodel file, which the model's author wrote: the class to instantiate (``model_class``),
the skops types to trust (``skops_trusted_types``) and code folders to put on ``sys.path``.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.exceptions import UnsafeModel

CODE_FORMATS = ("pickle", "cloudpickle", "pytorch", "code", "other")
"""Serializations that run code when loaded; a policy names those it trusts (``trust.formats``)."""
SAFE_FORMATS = ("skops", "xgboost-json", "xgboost-ubj", "lightgbm-text")
# XGBoost classes a json/ubj model file may be loaded into: (module, class), fixed here.
XGBOOST_CLASSES = {
    "xgboost.sklearn.XGBClassifier": ("xgboost", "XGBClassifier"),
    "xgboost.sklearn.XGBRegressor": ("xgboost", "XGBRegressor"),
    "xgboost.sklearn.XGBRFClassifier": ("xgboost", "XGBRFClassifier"),
    "xgboost.sklearn.XGBRFRegressor": ("xgboost", "XGBRFRegressor"),
    "xgboost.core.Booster": ("xgboost", "Booster"),
}
LIGHTGBM_BOOSTER = "lightgbm.basic.Booster"
# Exact types skops may rebuild for LightGBM's scikit-learn classes (mlflow.lightgbm writes them
# with skops): their state is LightGBM's own model text, loaded by LightGBM, not code.
LIGHTGBM_SKOPS_TYPES = frozenset(
    {
        LIGHTGBM_BOOSTER,
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "collections.OrderedDict",
    }
)
LIGHTGBM_SKLEARN_CLASSES = ("lightgbm.sklearn.LGBMClassifier", "lightgbm.sklearn.LGBMRegressor")
_PICKLES = ("pickle", "cloudpickle")


@dataclass(frozen=True)
class Serialization:
    """How one registered model is stored, read from its ``MLmodel`` file."""

    flavour: str  # the MLflow flavour mlgate loads it by (sklearn, xgboost, lightgbm, python_function, ...)
    format: str  # one of SAFE_FORMATS or CODE_FORMATS
    file: str  # the model file, relative to the model folder ('' when MLflow's loader finds it)
    model_class: str = ""
    needs: tuple[str, ...] = ()  # the CODE_FORMATS a policy must trust before it is loaded

    def describe(self) -> str:
        """``cloudpickle (flavour python_function, python_model.pkl)``, for messages."""
        where = f", {self.file}" if self.file else ""
        cls = f", class {self.model_class}" if self.model_class else ""
        return f"{self.format} (flavour {self.flavour}{cls}{where})"


def classify(mlmodel: dict[str, Any]) -> Serialization:
    """The serialization of a model from its parsed ``MLmodel`` (no file is opened, nothing imported)."""
    flavours = mlmodel.get("flavors")
    if not isinstance(flavours, dict):
        return Serialization("unknown", "other", "", needs=("other",))
    pyfunc = _conf(flavours.get("python_function"))
    if "sklearn" in flavours:
        conf = _conf(flavours["sklearn"])
        # MLflow reads a missing format as pickle (models logged before skops existed)
        fmt = str(conf.get("serialization_format") or "pickle")
        file = str(conf.get("pickled_model") or "")
        if fmt == "skops":
            return Serialization("sklearn", "skops", file)
        return _code("sklearn", fmt if fmt in _PICKLES else "other", file, conf)
    if "xgboost" in flavours:
        conf = _conf(flavours["xgboost"])
        fmt, cls, file = str(conf.get("model_format") or ""), str(conf.get("model_class") or ""), str(conf.get("data"))
        if fmt in ("json", "ubj") and cls in XGBOOST_CLASSES:
            return Serialization("xgboost", f"xgboost-{fmt}", file, cls)
        return _code("python_function", "other", "", pyfunc, cls)
    if "lightgbm" in flavours:
        conf = _conf(flavours["lightgbm"])
        cls, file = str(conf.get("model_class") or LIGHTGBM_BOOSTER), str(conf.get("data") or "")
        fmt = str(conf.get("serialization_format") or "cloudpickle")
        if cls == LIGHTGBM_BOOSTER:
            return Serialization("lightgbm", "lightgbm-text", file, cls)
        if cls in LIGHTGBM_SKLEARN_CLASSES and fmt == "skops":
            return Serialization("lightgbm", "skops", file, cls)
        return _code("lightgbm", fmt if fmt in _PICKLES else "other", file, conf, cls)
    if "pytorch" in flavours:
        return _code("pytorch", "pytorch", "", _conf(flavours["pytorch"]))
    if pyfunc.get("loader_module") == "mlflow.pyfunc.model":
        if pyfunc.get("model_code_path"):
            return _code("python_function", "code", str(pyfunc["model_code_path"]), pyfunc)
        return _code("python_function", "cloudpickle", str(pyfunc.get("python_model") or ""), pyfunc)
    return _code("python_function", "other", "", pyfunc, str(pyfunc.get("loader_module") or ""))


def _conf(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _code(flavour: str, fmt: str, file: str, conf: dict[str, Any], cls: str = "") -> Serialization:
    """A format loaded by MLflow's loader; ``code:`` folders in its conf are put on ``sys.path`` too."""
    needs = (fmt, "code") if conf.get("code") and fmt != "code" else (fmt,)
    return Serialization(flavour, fmt, file, cls, needs)


def check_trust(found: Serialization, trusted: Collection[str], label: str, policy: str) -> None:
    """Refuse (:class:`UnsafeModel`, exit 2) a format that runs code unless ``trusted`` names it."""
    missing = [fmt for fmt in found.needs if fmt not in trusted]
    if not missing:
        return
    listed = ", ".join(missing)
    raise UnsafeModel(
        f"{label} is stored as {found.describe()}: loading it runs code from the model artifact, "
        f"and {policy} does not trust {listed} (trust.formats: [{', '.join(sorted(trusted))}])",
        hint=(
            f"after review, add `trust: {{formats: [{listed}]}}` to {policy} on the base branch, or log the "
            "model in a format that runs no code on load (skops, XGBoost json/ubj, LightGBM text)"
        ),
    )


def inside(folder: Path, rel: str, label: str) -> Path:
    """``folder / rel`` if it is a file inside ``folder`` (the MLmodel names it: it may point anywhere)."""
    path = (folder / rel).resolve()
    if not rel or not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise UnsafeModel(f"{label}: the MLmodel names a model file {rel!r} that is not a file inside the model")
    return path


def load_native(folder: Path, found: Serialization, label: str, load_skops: Any) -> Any:
    """Load a model of a :data:`SAFE_FORMATS` format from ``folder`` without MLflow's loaders."""
    path = inside(folder, found.file, label)
    if found.format == "skops":
        extra = LIGHTGBM_SKOPS_TYPES if found.flavour == "lightgbm" else frozenset()
        return load_skops(path, extra)
    if found.format.startswith("xgboost-"):
        module, name = XGBOOST_CLASSES[found.model_class]
        cls = getattr(importlib.import_module(module), name)
        if name == "Booster":
            return XGBoostBooster(cls(model_file=str(path)))
        model = cls()
        model.load_model(str(path))
        return model
    if found.format == "lightgbm-text":
        import lightgbm

        return lightgbm.Booster(model_file=str(path))
    raise AssertionError(f"not a safe format: {found.format}")


def load_trusted(folder: Path, found: Serialization, holder: tempfile.TemporaryDirectory[str]) -> Any:
    """Load a code-executing format (already trusted) with MLflow's loader for its flavour.

    scikit-learn and LightGBM pickles load as their estimators (``predict_proba``, ``classes_``);
    everything else as a ``mlflow.pyfunc`` model whose ``predict`` output the gates map, which
    keeps ``holder`` (the downloaded folder) alive.
    """
    import mlflow.lightgbm
    import mlflow.pyfunc
    import mlflow.sklearn

    if found.flavour == "sklearn":
        return mlflow.sklearn.load_model(str(folder))
    if found.flavour == "lightgbm":
        return mlflow.lightgbm.load_model(str(folder))
    return PythonFunction(mlflow.pyfunc.load_model(str(folder)), holder)


class XGBoostBooster:
    """An XGBoost ``Booster`` that takes a DataFrame, as the gates call models."""

    def __init__(self, booster: Any) -> None:
        """Wrap ``booster``."""
        self.booster = booster

    def predict(self, frame: Any) -> Any:
        """The booster's output on ``frame`` (a DMatrix is built from it)."""
        import xgboost

        return self.booster.predict(xgboost.DMatrix(frame, enable_categorical=True))


class PythonFunction:
    """A model loaded by ``mlflow.pyfunc``: ``predict`` returns what its author made it return.

    Holds the downloaded model folder for as long as the model lives: a ``PythonModel`` may read
    its artifacts when it predicts, not only when it is loaded.
    """

    def __init__(self, model: Any, folder: tempfile.TemporaryDirectory[str]) -> None:
        """Wrap ``model``, keeping ``folder`` alive with it."""
        self._model = model
        self._folder = folder

    def predict(self, frame: Any) -> Any:
        """The model's raw output on ``frame`` (a DataFrame, Series, array or list)."""
        return self._model.predict(frame)


OUTPUT_HINT = (
    "log signature=mlflow.models.infer_signature(X, pandas.Series(model.predict(X))): what pyfunc predict "
    "returns, a classifier's labels (mlgate reads the probabilities from the model itself)"
)
"""How to log a signature plain MLflow can use (the hint of a refused one)."""
ONE_PER_ROW = "one value per row"
"""What ``mlflow.pyfunc`` ``predict`` returns for a single-target scikit-learn-API model: labels or values."""
_PER_CLASS_FNS = ("predict_proba", "predict_log_proba", "predict_joint_log_proba")
# pyfunc calls the estimator's own `predict` for these (mlflow.xgboost / mlflow.lightgbm wrappers): labels
# for a classifier, values for a regressor. Boosters are left out: a multiclass Booster returns a row of scores.
_SKLEARN_API_CLASSES = (*(c for c in XGBOOST_CLASSES if not c.endswith("Booster")), *LIGHTGBM_SKLEARN_CLASSES)


def pyfunc_returns(mlmodel: dict[str, Any]) -> tuple[str, str]:
    """``(method, shape)``: what ``mlflow.pyfunc`` ``predict`` calls for this model and returns, from its MLmodel.

    ``shape`` is :data:`ONE_PER_ROW` or ``"one row of values per row"`` (``predict_proba``: a column
    per class); ``("", "")`` when it cannot be told without loading the model (a ``PythonModel``,
    a Booster, a flavour mlgate does not know). Reads YAML only: nothing is loaded.
    """
    flavours = mlmodel.get("flavors")
    if not isinstance(flavours, dict):
        return "", ""
    pyfunc = _conf(flavours.get("python_function"))
    if "sklearn" in flavours and pyfunc.get("loader_module") == "mlflow.sklearn":
        method = str(pyfunc.get("predict_fn") or "predict")
        if method == "predict":
            return method, ONE_PER_ROW
        return (method, "one row of values per row") if method in _PER_CLASS_FNS else ("", "")
    for flavour in ("xgboost", "lightgbm"):
        if flavour in flavours and str(_conf(flavours[flavour]).get("model_class") or "") in _SKLEARN_API_CLASSES:
            return "predict", ONE_PER_ROW
    return "", ""


def output_problem(mlmodel: dict[str, Any]) -> str:
    """Why the MLmodel's signature output is not what ``mlflow.pyfunc`` ``predict`` returns ('' when it is).

    Plain MLflow trusts that output schema: ``spark_udf`` types its column from it (a ``predict_proba``
    tensor on a model whose pyfunc returns labels fails with "iteration over a 0-d array") and
    ``mlflow models serve`` documents it. A model without a signature, or whose pyfunc output
    cannot be told from the MLmodel (:func:`pyfunc_returns`), has no problem here.
    """
    method, shape = pyfunc_returns(mlmodel)
    signature = mlmodel.get("signature")
    outputs = signature.get("outputs") if isinstance(signature, dict) else None
    if not method or not outputs:
        return ""
    try:
        specs = json.loads(outputs) if isinstance(outputs, str) else outputs
    except ValueError:
        return "its signature's output schema is not JSON"
    if not isinstance(specs, list) or not specs:
        return ""
    width = _values_per_row(specs)
    if (shape == ONE_PER_ROW) == (width == 1):
        return ""
    return (
        f"its signature's output ({_describe(specs)}) is not what mlflow.pyfunc predict returns: "
        f"it calls the model's {method}, {shape}"
    )


def _values_per_row(specs: list[Any]) -> int:
    """How many values per row an output schema describes (0 when a tensor's width is variable)."""
    if len(specs) > 1:
        return len(specs)
    spec = specs[0] if isinstance(specs[0], dict) else {}
    if spec.get("type") != "tensor":
        return 1
    shape = _conf(spec.get("tensor-spec")).get("shape")
    sizes = shape[1:] if isinstance(shape, list) else []
    width = 1
    for size in sizes:  # the MLmodel is the author's: anything but a positive int is a variable size
        width = width * size if isinstance(size, int) and size > 0 else 0
    return width


def _describe(specs: list[Any]) -> str:
    """``tensor float64 [-1, 2]`` / ``long`` / ``3 columns``, for messages."""
    if len(specs) > 1:
        return f"{len(specs)} columns"
    spec = specs[0] if isinstance(specs[0], dict) else {}
    if spec.get("type") == "tensor":
        tensor = _conf(spec.get("tensor-spec"))
        return f"tensor {tensor.get('dtype')} {tensor.get('shape')}"
    return str(spec.get("type"))
