"""Train the classifier on the features; log featurizer + classifier as one MLflow model.

Run by ``dvc repro``; under ``mlgate train`` the environment holds MLFLOW_TRACKING_URI and
MLFLOW_RUN_ID, and ``mlflow.start_run()`` resumes the run mlgate opened.
"""

import os
import pickle
import sys
from pathlib import Path

import mlflow
import skops.io
import yaml
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

params = yaml.safe_load(Path("params.yaml").read_text())["train"]

if len(sys.argv) != 3:
    sys.stderr.write("usage: python train.py features model\n")
    sys.exit(1)

features, output = sys.argv[1], sys.argv[2]

with open(os.path.join(features, "train.pkl"), "rb") as fd:
    matrix, labels = pickle.load(fd)
with open(os.path.join(features, "featurizer.pkl"), "rb") as fd:
    featurizer = pickle.load(fd)

clf = RandomForestClassifier(
    n_estimators=params["n_est"], min_samples_split=params["min_split"], n_jobs=1, random_state=params["seed"]
)
clf.fit(matrix, labels)

with open(output, "wb") as fd:
    pickle.dump(clf, fd)

# raw rows in, prediction out: the featurizer travels inside the logged model
model = Pipeline([("featurize", featurizer), ("classify", clf)])
with mlflow.start_run():
    mlflow.log_params({f"train.{key}": value for key, value in params.items()})
    mlflow.sklearn.log_model(
        model,
        name="model",
        serialization_format="skops",
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
    )
