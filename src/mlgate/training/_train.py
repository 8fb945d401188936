"""`mlgate train`: fit a model from its spec, log it to MLflow and register a new version.

Order matters for "nothing is lost": every input (spec, policy, params, estimator, data and
its DVC hashes) is loaded and checked before MLflow is touched, so bad input never leaves a
half-registered version behind. Then: the run is logged and FINISHED, the version is registered
with its lineage tags (one request), and ``mlgate.train.complete`` is written last. A version
without that tag was interrupted (an outage mid-way) and ``mlgate gate`` refuses it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from mlgate.config import ModelContext, Workspace, load_model_context, recorded_params, refuse_predictions
from mlgate.data import ModelData, frame_columns, load_model_data, model_input
from mlgate.gates import evaluate
from mlgate.git import git_state
from mlgate.registry import RegisteredVersion, Registry, trusted_types
from mlgate.training._command import reproduce_upstream, train_with_command
from mlgate.training._estimator import build_pipeline
from mlgate.training._record import TrainResult, lineage, register_complete, run_params, version_tags

Progress = Callable[[str], None]

# What the logged model needs at load time, pinned to what trained it: passing these
# explicitly skips MLflow's pip inference (about 7 s per model).
RUNTIME_PACKAGES = ("scikit-learn", "skops", "numpy", "pandas", "scipy")


def pip_requirements(pipeline: Any = None) -> list[str]:
    """The runtime packages pinned at their installed versions, logged with the model.

    The packages of the pipeline's estimators (xgboost, lightgbm, ...) are added, under the
    name they were installed by (xgboost may come as ``xgboost-cpu``).
    """
    names = list(RUNTIME_PACKAGES)
    if pipeline is not None:
        dists = metadata.packages_distributions()
        for value in [pipeline, *pipeline.get_params(deep=True).values()]:
            top = type(value).__module__.split(".")[0]
            for dist in dists.get(top, []) if top not in ("sklearn", "builtins", "numpy") else []:
                if dist not in names:
                    names.append(dist)
    return [f"{name}=={metadata.version(name)}" for name in names]


def input_columns(ctx: ModelContext, data: ModelData) -> list[tuple[str, str]]:
    """``(feature, MLflow type)`` of the training rows: what the pipeline fits on and its signature says.

    Categorical and text features are strings; numeric ones keep the type the file gave them
    (int64 → ``long``, see :func:`mlgate.data.prepare_columns`).
    """
    spec = ctx.spec
    return frame_columns(data.train, spec.inputs.all, [*spec.inputs.categorical, *spec.inputs.text])


def _inputs(ctx: ModelContext, data: ModelData, frame: Any) -> Any:
    """``frame``'s features as the pipeline is called with them (:func:`mlgate.data.model_input`).

    Missing categories are NaN, as pandas reads a blank, so the pipeline's imputers fill them; the
    gates, ``mlgate score``, ``mlgate serve`` and ``mlgate monitor`` call the version with the same frame.
    """
    return model_input(frame, input_columns(ctx, data))


def _fit(ctx: ModelContext, data: ModelData, params: dict[str, Any]) -> tuple[Any, dict[str, float]]:
    assert ctx.estimator_cls is not None  # a declarative spec (train() dispatches the others)
    pipeline = build_pipeline(ctx.spec, ctx.estimator_cls, params, ctx.estimator_modules)
    spec = ctx.spec
    pipeline.fit(_inputs(ctx, data, data.train), data.train[spec.target_column])
    holdout = _inputs(ctx, data, data.holdout).assign(
        **{spec.target_column: data.holdout[spec.target_column].to_numpy()}
    )
    metrics = evaluate(pipeline, holdout, spec.inputs.all, spec.target_column, spec.task, spec.positive_label)
    return pipeline, metrics


def _skops_types(pipeline: Any, data: ModelData, ctx: ModelContext) -> list[str]:
    """Types skops must be told to trust, checked against mlgate's allow-list.

    The types depend on the pipeline's structure, not on the data or the ensemble size, so
    they are read from a clone with at most two ensemble members fitted on a small sample:
    dumping the real forest just for this check costs as much as MLflow's own dump (about
    2 s for 200 trees). The test suite loads every trained model with the resulting list.
    """
    import skops.io
    from sklearn.base import clone

    sample = _small_sample(data.train, ctx)
    probe = clone(pipeline)
    size = probe.get_params().get("estimator__n_estimators")
    if isinstance(size, int):
        probe.set_params(estimator__n_estimators=min(size, 2))
    probe.fit(_inputs(ctx, data, sample), sample[ctx.spec.target])
    return trusted_types(skops.io.get_untrusted_types(data=skops.io.dumps(probe)), ctx.skops_trusted)


def _small_sample(frame: Any, ctx: ModelContext, per_class: int = 10) -> Any:
    if ctx.spec.task == "classification":
        return frame.groupby(ctx.spec.target).head(per_class)
    return frame.head(4 * per_class)


def _log(
    registry: Registry,
    ctx: ModelContext,
    data: ModelData,
    fitted: tuple[Any, dict[str, float]],
    info: dict[str, Any],
    params: dict[str, Any],
) -> RegisteredVersion:
    pipeline, metrics = fitted
    example = _inputs(ctx, data, data.train.head(5))
    # what mlflow.pyfunc predict returns (labels, or values), not predict_proba: plain MLflow types its
    # output by the signature (spark_udf, mlflow models serve); mlgate reads probabilities from the estimator
    output = pipeline.predict(example)
    tags = version_tags(info) | {"mlflow.source.git.commit": info["git_commit"]}
    with registry.run(f"mlgate/{ctx.name}", f"train-{ctx.name}", tags):
        registry.log_run_data(run_params(ctx, params), {f"holdout_{k}": v for k, v in metrics.items()})
        registry.log_artifacts(
            {
                "model.yaml": ctx.spec_doc.path.read_bytes(),
                "policy.json": json.dumps(ctx.policy.policy.model_dump(mode="json", by_alias=True), indent=2),
                "lineage.json": json.dumps(info, indent=2),
            }
        )
        logged = registry.log_sklearn_model(
            pipeline,
            name=ctx.name,
            signature_data=(_inputs(ctx, data, data.train.head(200)), output),
            input_example=example,
            pip_requirements=pip_requirements(pipeline),
            skops_types=_skops_types(pipeline, data, ctx),
        )
    # The run is FINISHED here; the version is born with every lineage tag.
    return register_complete(registry, ctx, logged, tags)


def train(
    root: Path | Workspace,
    name: str,
    progress: Progress = lambda _msg: None,
    tracking_uri: str | None = None,
    output: Progress | None = None,
) -> TrainResult:
    """Train ``name`` from its spec and register a new version (in ``tracking_uri`` if given).

    A spec with ``estimator:`` is fitted here; one with ``train: {command: ...}`` is trained by
    its own command (mlgate.training.command), whose output lines go to ``output`` (default: stderr).
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    ws = Workspace.of(root, tracking_uri)
    root = ws.root
    progress(f"checking models/{name}/model.yaml, its policy and params")
    ctx = load_model_context(root, name)
    refuse_predictions(ctx, "be trained")
    upstream: tuple[str, ...] = ()
    if ctx.spec.train is not None and ctx.spec.train.dvc_stage is not None:
        # one step of four, as for the other ways: the spec's data may be outputs of these stages
        upstream = reproduce_upstream(ctx, progress, output)
    else:
        progress("loading DVC-tracked data")
    data = load_model_data(ctx.spec, ctx.spec_doc, root)
    params = recorded_params(ctx.spec, ctx.spec_doc, ctx.params, ctx.estimator_modules)
    info = lineage(ctx, data, git_state(root), params)
    timings["load"] = time.perf_counter() - start
    if ctx.spec.train is not None:
        return train_with_command(ctx, data, info, params, progress, ws.registry, output, timings, start, upstream)
    assert ctx.spec.estimator is not None
    progress(f"fitting {ctx.spec.estimator.class_} on {len(data.train)} rows")
    fitted = _fit(ctx, data, params)
    timings["fit"] = time.perf_counter() - start - timings["load"]
    progress("logging to MLflow and registering a new version")
    registry = ws.registry
    registered = _log(registry, ctx, data, fitted, info, params)
    timings["log"] = time.perf_counter() - start - timings["load"] - timings["fit"]
    timings["total"] = time.perf_counter() - start
    return TrainResult(
        model=name,
        version=registered.version,
        run_id=registered.run_id,
        model_uri=registered.model_uri,
        tracking_uri=registered.tracking_uri,
        metrics=fitted[1],
        lineage=info,
        seconds={k: round(v, 3) for k, v in timings.items()},
    )
