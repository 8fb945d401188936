"""The Spark adapter: the only module that imports pyspark (``mlgate[spark]``).

`mlgate score --engine spark` runs the job of :mod:`mlgate.scoring._batch` on Spark when the
input outgrows one runner: in ``mapInPandas``, each executor loads the model with
``mlflow.pyfunc.load_model`` (once per Python worker) and the same function as the pandas engine's
builds the model input (:func:`mlgate.data.model_input`: a Spark null is NaN, as training saw it;
``spark_udf`` would hand the model None) and finishes the rows (decisions, review flags,
lineage). Local ``local[*]`` by default; a cluster through ``master`` (``--spark-master``) or
Spark Connect through ``SPARK_REMOTE``. mlgate must be installed on the executors.

What the executors load: the model is loaded with MLflow's own loader on the executors, which
takes its instructions from the MLmodel file (the skops types to trust, the class to call). So
it is handed **the folder mlgate downloaded and verified** (:meth:`Registry.verified_folder`,
the version resolved from the alias once), never a ``models:/`` URI that could be read again,
and only for the ``sklearn`` flavour, whose formats mlgate checked (skops with mlgate's
allow-list, or pickles the judged policy trusts). In a copy of that folder the MLmodel names
exactly the skops types mlgate's own allow-list accepted (not what the file's author listed),
and a classifier's pyfunc calls ``predict_proba`` (probabilities, as the gates read them).
MLflow refuses every such load unless ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` is true: it is set
for the executors only, because mlgate has done the check that flag stands for.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlgate.exceptions import InvalidInput, MissingExtra
from mlgate.registry._mlflow import trusted_types

SPARK_TYPES = {"double": "double", "float": "double", "long": "bigint", "integer": "bigint", "string": "string"}
"""MLflow signature types → the Spark SQL type a column is given (as the pandas engine types it)."""
_ALLOW_LOAD = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"


def require() -> None:
    """Refuse early, before any download or scoring, when pyspark (``mlgate[spark]``) is not installed."""
    try:
        import pyspark  # noqa: F401
    except ModuleNotFoundError as err:
        raise MissingExtra(err.name or "pyspark", "spark", "the Spark engine (--engine spark)") from err


def session(master: str | None = None) -> Any:
    """The Spark session (one per process: ``getOrCreate``), in UTC, writing microsecond timestamps.

    ``SPARK_REMOTE`` (Spark Connect) wins over ``master``; without either, ``local[*]``.
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("mlgate-score")
    if os.environ.get("SPARK_REMOTE"):
        builder = builder.remote(os.environ["SPARK_REMOTE"])
    else:
        builder = builder.master(master or "local[*]")
        if (master or "local").startswith("local"):
            # local workers run this interpreter (mlgate and its pins are here), not the first python3 on PATH;
            # pyspark reads the variable when the context starts
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            # ...and import this mlgate (a source checkout may shadow an installed one): rows are finished there
            here = str(Path(__file__).resolve().parents[2])
            path = os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
            builder = builder.config("spark.executorEnv.PYTHONPATH", path)
        builder = builder.config(f"spark.executorEnv.{_ALLOW_LOAD}", "true")
        builder = builder.config("spark.ui.enabled", "false")
    return (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def score_files(
    *,
    master: str | None,
    model_folder: Path,
    classifier: bool,
    flavour: str,
    trusted_modules: tuple[str, ...],
    files: list[str],
    file_format: str,
    features: list[tuple[str, str]],
    id_columns: list[str],
    feature_prefix: str,
    finish: Callable[[Any, Any], Any],
    schema: Any,
    into: Path,
    scratch: Path,
) -> None:
    """Score ``files`` on Spark into the folder ``into`` (Parquet ``part-*`` files, Spark's names).

    Spark (Hadoop's committer) drops output under a path with a hidden component (``.``/``_``), and
    ``into`` is hidden until it is renamed into place; so Spark writes into ``scratch`` (outside
    the output folder, not hidden, removed at the end) and the part files are moved into ``into``.

    ``finish(batch, predict)`` turns a pandas batch of id columns, ``__file`` (the input's URI) and
    the signature columns (``feature_prefix`` + their position) into output rows of the pyarrow
    ``schema``, calling ``predict`` (the loaded pyfunc's) on the model input it builds.
    """
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    check_model(flavour, features)
    spark = session(master)
    try:
        if file_format == "parquet":
            frame = spark.read.parquet(*[Path(f).resolve().as_uri() for f in files])
        else:
            # every column as text, as the pandas engine reads a CSV: the executors convert it as the pandas
            # engine does (model_input: "1597.0" is the integer 1597), after the driver checked every value;
            # RFC 4180 quoting as pandas reads it (a quoted field may span lines, "" is a quote inside one)
            ddl = ", ".join(f"`{c}` string" for c in _header(files[0]))
            frame = spark.read.csv(
                [Path(f).resolve().as_uri() for f in files],
                header=True,
                schema=ddl,
                mode="FAILFAST",
                encoding="UTF-8",
                multiLine=True,
                quote='"',
                escape='"',
            )
        keep = [F.col(c) for c in id_columns] + [F.input_file_name().alias("__file")]
        out = model_frame(
            frame.select(*keep, *feature_columns(features, feature_prefix, cast=file_format == "parquet")),
            model_folder=model_folder,
            classifier=classifier,
            trusted_modules=trusted_modules,
            finish=finish,
            schema=schema,
            scratch=scratch / "model",
        )
        out.write.mode("overwrite").parquet((scratch / "out").resolve().as_uri())
        for part in sorted((scratch / "out").glob("part-*.parquet")):
            shutil.move(part, into / part.name)  # a rename on the same file system
    except PySparkException as err:
        if "MALFORMED" in str(err).upper() or "CAST" in str(err).upper():
            raise InvalidInput(f"--input: a row does not fit the model's signature ({_first_line(err)})") from None
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_model(flavour: str, features: list[tuple[str, str]]) -> None:
    """Refuse (exit 2) a model the executors cannot load the verified way, or columns Spark cannot type."""
    if flavour != "sklearn":
        raise InvalidInput(
            f"--engine spark scores scikit-learn flavour models (this one is {flavour}): use --engine pandas",
            hint="the executors load with MLflow's own loader; mlgate hands it only formats it verified (see docs)",
        )
    unknown = [f"{c} ({k})" for c, k in features if k not in SPARK_TYPES]
    if unknown:
        raise InvalidInput(f"--engine spark: signature column types it cannot read: {', '.join(unknown)}")


def feature_columns(features: list[tuple[str, str]], prefix: str, *, cast: bool = True) -> list[Any]:
    """The signature's columns, the n-th named ``prefix<n>`` (a feature may be an id too), cast to their Spark types.

    ``cast=False`` leaves them as read (a CSV's text, converted on the executors as the pandas engine converts it).
    """
    from pyspark.sql import functions as F

    return [
        (F.col(c).cast(SPARK_TYPES[k]) if cast else F.col(c)).alias(f"{prefix}{at}")
        for at, (c, k) in enumerate(features)
    ]


def model_frame(
    rows: Any,
    *,
    model_folder: Path,
    classifier: bool,
    trusted_modules: tuple[str, ...],
    finish: Callable[[Any, Any], Any],
    schema: Any,
    scratch: Path,
) -> Any:
    """``rows`` (a Spark DataFrame) through the model on the executors: a lazy DataFrame of ``schema``.

    ``finish(batch, predict)`` turns each pandas batch into output rows, calling ``predict`` (the
    pyfunc loaded once per Python worker from a checked copy of ``model_folder``, made in ``scratch``,
    which must outlive every action on the result). ``mlgate score`` writes the result;
    ``mlgate gate --engine spark`` aggregates it.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    folder = str(_prepared(model_folder, scratch, classifier, trusted_modules))

    def batches(parts: Iterator[Any]) -> Iterator[Any]:
        predict = _pyfunc(folder).predict
        for part in parts:
            yield finish(part, predict)

    return rows.mapInPandas(batches, schema=from_arrow_schema(schema))


_LOADED: dict[str, Any] = {}
"""Models loaded by this Python worker, by folder: Spark reuses workers across tasks, the model is loaded once."""


def _pyfunc(folder: str) -> Any:
    """The pyfunc model in ``folder`` (on an executor), loaded once per worker process."""
    if folder not in _LOADED:
        import mlflow.pyfunc

        _LOADED.clear()  # one job's model at a time
        _LOADED[folder] = mlflow.pyfunc.load_model(folder)
    return _LOADED[folder]


def _prepared(folder: Path, scratch: Path, classifier: bool, modules: tuple[str, ...]) -> Path:
    """A copy of the verified model folder whose MLmodel says what mlgate checked (see the module doc)."""
    import yaml

    scratch.parent.mkdir(parents=True, exist_ok=True)
    copy = scratch
    shutil.copytree(folder, copy)
    mlmodel = copy / "MLmodel"
    meta = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    flavours = meta["flavors"]
    sk = flavours["sklearn"]
    if sk.get("serialization_format") == "skops":
        import skops.io

        file = copy / str(sk.get("pickled_model") or "model.skops")
        sk["skops_trusted_types"] = trusted_types(skops.io.get_untrusted_types(file=str(file)), modules)
    if classifier:
        flavours["python_function"]["predict_fn"] = "predict_proba"
    mlmodel.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    return copy


def _header(path: str) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
