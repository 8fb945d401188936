"""Score the test features with the trained classifier; write eval/metrics.json (DVC metrics)."""

import json
import os
import pickle
import sys

from sklearn import metrics

if len(sys.argv) != 3:
    sys.stderr.write("usage: python evaluate.py model features\n")
    sys.exit(1)

model_file, features = sys.argv[1], sys.argv[2]
with open(model_file, "rb") as fd:
    model = pickle.load(fd)
with open(os.path.join(features, "test.pkl"), "rb") as fd:
    matrix, labels = pickle.load(fd)

scores = model.predict_proba(matrix)[:, 1]
os.makedirs("eval", exist_ok=True)
with open(os.path.join("eval", "metrics.json"), "w") as fd:
    json.dump(
        {
            "avg_prec": metrics.average_precision_score(labels, scores),
            "roc_auc": metrics.roc_auc_score(labels, scores),
            "accuracy": metrics.accuracy_score(labels, model.predict(matrix)),
        },
        fd,
        indent=4,
    )
