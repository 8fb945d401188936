"""Fit the featurizer on the train rows; write both feature matrices and the fitted featurizer.

The featurizer is persisted next to the matrices (``featurizer.pkl``) so that train.py can log a
model that takes raw rows (text, age, hours_per_week) and featurizes them itself.
"""

import os
import pickle
import sys
from pathlib import Path

import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.pipeline import Pipeline

COLUMNS = ["id", "label", "text", "age", "hours_per_week", "sex"]  # data.tsv has no header

params = yaml.safe_load(Path("params.yaml").read_text())["featurize"]

if len(sys.argv) != 3:
    sys.stderr.write("usage: python featurization.py data-dir-path features-dir-path\n")
    sys.exit(1)

in_path, out_path = sys.argv[1], sys.argv[2]
os.makedirs(out_path, exist_ok=True)


def read(name):
    """A header-less TSV of prepare.py."""
    return pd.read_csv(os.path.join(in_path, name), sep="\t", header=None, names=COLUMNS)


train, test = read("train.tsv"), read("test.tsv")
text = Pipeline(
    [
        ("bag", CountVectorizer(max_features=params["max_features"], ngram_range=(1, params["ngrams"]))),
        ("tfidf", TfidfTransformer(smooth_idf=False)),
    ]
)
featurizer = ColumnTransformer([("text", text, "text"), ("numbers", "passthrough", ["age", "hours_per_week"])])
featurizer.fit(train)

for name, frame in (("train", train), ("test", test)):
    with open(os.path.join(out_path, f"{name}.pkl"), "wb") as fd:
        pickle.dump((featurizer.transform(frame), frame["label"].to_numpy()), fd)
with open(os.path.join(out_path, "featurizer.pkl"), "wb") as fd:
    pickle.dump(featurizer, fd)
