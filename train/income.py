"""Train the income model: the team's own script, run by `mlgate train income` (train.command).

mlgate has already created the MLflow run (with the lineage tags) and checked the data against
DVC; this script reads what mlgate hands it through the environment, fits an XGBoost pipeline,
and logs exactly one model into that run. mlgate then registers it and the gates judge it on
rows this script never saw (MLGATE_DATA_TRAIN holds the training rows only).

Run by hand:  mlgate train income   (never `python train/income.py` alone: there is no run to log to)
"""

from __future__ import annotations

import json
import os
from importlib import metadata

import mlflow
import pandas as pd
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from xgboost import XGBClassifier

features = json.loads(os.environ["MLGATE_FEATURES"])  # {"numeric": [...], "categorical": [...]}
params = json.loads(os.environ["MLGATE_PARAMS"])  # this model's section of params.yaml
seed = int(os.environ["MLGATE_SEED"])
target = os.environ["MLGATE_TARGET"]
train = pd.read_csv(os.environ["MLGATE_DATA_TRAIN"])
columns = features["numeric"] + features["categorical"]

model = Pipeline(
    [
        (
            "features",
            ColumnTransformer(
                [
                    ("numeric", "passthrough", features["numeric"]),
                    ("categorical", OneHotEncoder(handle_unknown="ignore"), features["categorical"]),
                ]
            ),
        ),
        ("xgboost", XGBClassifier(**params, random_state=seed, n_jobs=2)),
    ]
)
# early-stopping-free validation on a slice of the training rows: the holdout stays mlgate's
fit_rows, check_rows = train_test_split(train, test_size=0.2, random_state=seed, stratify=train[target])
model.fit(fit_rows[columns], fit_rows[target])
validation_auc = roc_auc_score(check_rows[target], model.predict_proba(check_rows[columns])[:, 1])
model.fit(train[columns], train[target])

with mlflow.start_run() as run:  # resumes the run mlgate created (MLFLOW_RUN_ID)
    mlflow.log_params({f"xgboost.{k}": v for k, v in params.items()} | {"train_rows": len(train)})
    mlflow.log_metric("validation_roc_auc", validation_auc)
    example = train[columns].head(5)
    mlflow.sklearn.log_model(
        model,
        name="model",
        serialization_format="skops",  # no pickle: mlgate's gates load skops without running code
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
        # the output is what mlflow.pyfunc predict returns (labels, one column): plain spark_udf and
        # `mlflow models serve` type their results by it; mlgate reads probabilities from the model itself
        signature=mlflow.models.infer_signature(example, pd.Series(model.predict(example))),
        input_example=example,
        # pinned to what trained it; skips MLflow's slow requirement inference
        pip_requirements=[f"{name}=={metadata.version(name)}" for name in ("scikit-learn", "xgboost-cpu", "skops")],
    )
print(f"income: validation ROC AUC {validation_auc:.3f} on {len(check_rows)} rows; logged to run {run.info.run_id}")
