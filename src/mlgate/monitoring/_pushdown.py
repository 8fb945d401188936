"""Monitoring pushed down into the audit store: the window is aggregated in SQL, never read row by row.

``mlgate serve`` writes each prediction's inputs as typed columns (:mod:`mlgate.serving._inputs`);
here every metric the row-reading path (:mod:`mlgate.monitoring._measure` on the decoded window)
computes is computed from aggregates the store returns:

- input drift: per numeric feature, counts of the window's values in the cells of the sorted
  reference values and PSI cut points (``width_bucket`` on PostgreSQL), from which PSI and the
  exact KS statistic follow (:func:`mlgate.gates.drift.numeric_drift_from_cells`); per
  categorical feature, rows per value for PSI and chi² — all features and the score in one scan
  (:meth:`mlgate.serving.TypedWindow.counts`), then one more for the refined cells;
- data quality: null counts, ``min``/``max`` (constant columns), duplicate groups (``GROUP BY`` every feature
  ``HAVING count > 1``), rows holding an unseen category, non-whole values of integer columns;
- prediction drift: the score's cells against the reference scores; a multiclass model's class
  probabilities are not in the typed table (it holds one score), so they are read from the window's
  outputs JSON a chunk at a time (one float per class and row kept) and measured as the row-reading
  path measures them; CBPE: sums and the expected ROC curve by window functions; volume: a count;
- outcomes: the window's keys and scores are streamed in chunks and joined to the outcomes
  (:func:`mlgate.monitoring._labels.join_label_chunks`).

What leaves the store is bounded by the reference (its distinct values) and the categories, not
by the window: memory stays flat as the window grows. When the window and the reference both
hold at most 10,000 values, the KS test is scipy's exact one on the values themselves (at most
10,000 are read). Text features (word-level statistics) and the Parquet ``scores`` source are
measured by the row-reading path; a spec with either is monitored that way (said in the notes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from mlgate.config import DriftSettings
from mlgate.exceptions import excerpt
from mlgate.gates import FeatureDrift, Measurement, Skip, drift
from mlgate.monitoring._estimate import Estimate
from mlgate.monitoring._labels import Labelled
from mlgate.monitoring._measure import Measurements, Subject
from mlgate.monitoring._sources import (
    AT,
    AUDIT_KEYS,
    SCORE,
    Served,
    SourceReport,
    Traffic,
    decode_features,
    decode_probabilities,
    decode_scores,
)
from mlgate.monitoring._window import Window
from mlgate.outcome import Failed

KS_EXACT_MAX = 10_000
"""scipy's exact KS distribution applies up to this many values per sample (as in the gates)."""
STREAM_ROWS = 200_000
"""Keys and scores streamed per chunk for the outcome join."""
_NUMBERS = frozenset({"double", "float", "long", "integer"})
Column = int | str
"""A signature column by position, or ``"score"`` (as :class:`mlgate.serving.TypedWindow` names them)."""
_INTEGERS = frozenset({"long", "integer"})


class PushedAudit:
    """The measured version's window in the audit store, with its one-scan profile."""

    def __init__(self, url: str, ctx_name: str, served: Served, window: Window) -> None:
        """Open (and migrate) the window; count rows, unfit rows and non-null values per column."""
        from mlgate.serving import audit, inputs_of

        self.served = served
        self.url, self.model, self.span = url, ctx_name, window
        self.signature = list(served.signature)
        self.index = {name: i for i, (name, _kind) in enumerate(self.signature)}
        self.inputs = inputs_of(self.signature, served.task, served.positive)
        self.report = SourceReport("audit", audit.shown_url(url))
        counts = audit.version_counts(url, ctx_name, served.stage, window.start, window.end)
        self.others = {v: n for v, n in counts.items() if v != served.version}
        self.window, self.migrated = audit.typed_window(
            url,
            ctx_name,
            served.stage,
            served.version,
            window.start,
            window.end,
            self.inputs,
            self._decode,
            expected=counts.get(served.version, 0),
        )
        self.rows, self.unfit, self.nonnull = self.window.profile(len(self.signature))
        self.report.rows = self.rows
        if self.others:
            listed = ", ".join(f"v{v}: {n}" for v, n in sorted(self.others.items()))
            self.report.notes.append(
                f"rows of other versions in the window, not measured (only v{served.version}, which the alias "
                f"holds now): {listed}"
            )
        if self.migrated:
            self.report.notes.append(
                f"{self.migrated} row(s) stored as JSON only (an older mlgate serve) were copied into the typed "
                "input table"
            )
        if self.unfit:
            self.report.notes.append(
                f"{self.unfit} row(s) hold features the signature cannot hold (text for a number, a number beyond "
                "float64, invalid text, not an object): those values are read as missing"
            )

    def close(self) -> None:
        """Close the store's connections."""
        self.window.close()

    def _decode(self, features: list[str], outputs: list[str]) -> list[dict[str, Any]]:
        """Type a chunk of JSON rows as the typed table holds them (the migration of rows written as JSON only)."""
        frame = decode_features(features, self.signature)
        scores = decode_scores(outputs, self.served)
        mask = frame.attrs.get("unfit_rows") or [False] * len(frame)
        columns = []
        for name, _kind in self.signature:
            values = frame[name].astype(object).to_numpy()
            columns.append([None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values])
        out = []
        for i in range(len(frame)):
            row: dict[str, Any] = {f"f{k}": columns[k][i] for k in range(len(columns))}
            score = float(scores[i])
            row["score"] = None if np.isnan(score) else score
            row["unfit"] = bool(mask[i])
            out.append(row)
        return out

    def key_chunks(self) -> Iterator[pd.DataFrame]:
        """The window's keys, scores and times, a chunk at a time (for the outcome join)."""
        for part in self.window.stream(["request_id", "row", "score", "at"], STREAM_ROWS):
            request_ids, rows, scores, ats = zip(*part, strict=True) if part else ([], [], [], [])
            frame = pd.DataFrame({"request_id": list(request_ids), "row": [int(r) for r in rows]})
            frame[SCORE] = np.array([np.nan if s is None else s for s in scores], dtype=float)
            frame[AT] = pd.to_datetime(list(ats), utc=True)
            yield frame

    def class_probabilities(self) -> np.ndarray:
        """A multiclass model's probability of each class per row of the window (rows × classes), from the outputs."""
        from mlgate.serving import audit

        served, span = self.served, self.span
        parts = [
            decode_probabilities(chunk.outputs, served)
            for chunk in audit.read_predictions(
                self.url, self.model, served.stage, served.version, span.start, span.end, chunk_rows=STREAM_ROWS
            )
        ]
        return np.concatenate(parts) if parts else np.empty((0, len(served.classes)))

    def traffic(self) -> Traffic:
        """A :class:`Traffic` without rows (they stay in the store), naming the source."""
        empty = pd.DataFrame({key: pd.Series(dtype=object) for key in AUDIT_KEYS})
        return Traffic(empty, None, [self.report], dict(self.others))


class PushedMeasurements(Measurements):
    """:class:`Measurements` whose production side is aggregated in the audit store."""

    def __init__(
        self,
        subject: Subject,
        reference: pd.DataFrame,
        reference_scores: np.ndarray,
        pushed: PushedAudit,
        labelled: Labelled | None,
        settings: DriftSettings,
        reference_proba: np.ndarray | None = None,
    ) -> None:
        """Nothing is queried yet: each metric when first asked for, then cached."""
        super().__init__(subject, reference, reference_scores, pushed.traffic(), labelled, settings, reference_proba)
        self.pushed = pushed
        self._class_probabilities: np.ndarray | None = None
        self._quality: dict[tuple[str, tuple[str, ...] | None], Measurement] = {}
        self._score_sums: tuple[int, float, float] | None = None
        self._cells: dict[Column, tuple[np.ndarray, np.ndarray] | ValueError] | None = None
        self._values: dict[Column, list[tuple[Any, int]]] = {}

    # -- what production gave
    @property
    def current(self) -> pd.DataFrame | None:
        """No frame: the rows stay in the store."""
        return None

    @property
    def rows(self) -> int:
        """Rows of the measured version in the window."""
        return self.pushed.rows

    def _sums(self) -> tuple[int, float, float]:
        if self._score_sums is None:
            self._score_sums = self.pushed.window.score_sums(self.subject.threshold)
        return self._score_sums

    def score_mean(self) -> float:
        """Mean production score (NaN without scores)."""
        n, total, _right = self._sums()
        return total / n if n else float("nan")

    # -- input drift
    def feature_table(self) -> list[FeatureDrift] | Failed:
        """Per-feature drift from the window's cell and value counts."""
        if self._drift is None:
            if not self.pushed.rows:
                self._drift = Failed("no production input features in the window (see the sources' notes)")
            else:
                try:
                    self._drift = self._feature_table()
                except ValueError as err:
                    self._drift = Failed(f"drift could not be computed: {err}")
        return self._drift

    def _position(self, name: str) -> int:
        if name not in self.reference.columns:
            raise ValueError(f"drift: feature '{name}' is not a column of the reference data")
        if name not in self.pushed.index:
            raise ValueError(f"drift: feature '{name}' is not a column of the current data")
        return self.pushed.index[name]

    def _what(self) -> str:
        return "positive-class probability" if self.subject.task == "classification" else "predicted value"

    def _drift_counts(self) -> dict[Column, tuple[np.ndarray, np.ndarray] | ValueError]:
        """Every numeric feature's and the score's (thresholds, cell counts), or why they could not be had.

        Two scans for them all, whatever the number of features: the first counts each numeric
        column against its ~2,048 coarse thresholds and each categorical column per value (kept
        for :meth:`_value_counts`); the second counts, against the refined thresholds, only the
        columns whose thresholds grew (the reference values where KS's maximum can lie).
        """
        if self._cells is None:
            references: dict[Column, tuple[str, pd.Series]] = {
                self.pushed.index[name]: (name, self.reference[name])
                for name in self.subject.features.numeric
                if name in self.reference.columns and name in self.pushed.index
            }
            references["score"] = (self._what(), pd.Series(self.reference_scores))
            out: dict[Column, tuple[np.ndarray, np.ndarray] | ValueError] = {}
            coarse: dict[Column, np.ndarray] = {}
            for which, (name, reference) in references.items():
                try:
                    coarse[which] = drift.coarse_thresholds(reference, name, self.settings)
                except ValueError as err:  # raised again when that feature (or the score) is measured
                    out[which] = err
            categorical = [
                self.pushed.index[name] for name in self.subject.features.categorical if name in self.pushed.index
            ]
            window = self.pushed.window
            first, self._values = window.counts({k: t.tolist() for k, t in coarse.items()}, categorical)
            refined: dict[Column, np.ndarray] = {}
            for which, thresholds in coarse.items():
                name, reference = references[which]
                try:
                    refined[which] = drift.refined_thresholds(reference, name, thresholds, np.asarray(first[which]))
                except ValueError as err:
                    out[which] = err
            grown = {k: t.tolist() for k, t in refined.items() if t.size > coarse[k].size}
            second = window.counts(grown, [])[0] if grown else {}
            for which, thresholds in refined.items():
                out[which] = (thresholds, np.asarray(second.get(which, first[which])))
            self._cells = out
        return self._cells

    def _value_counts(self, i: int) -> list[tuple[Any, int]]:
        """(value, rows) of column ``i``: from the drift counts' scan when it counted that column."""
        self._drift_counts()
        found = self._values.get(i)
        return found if found is not None else self.pushed.window.value_counts(i)

    def _numeric(self, name: str, which: Column, reference: pd.Series, present: int) -> FeatureDrift:
        # the cells come from the shared scans (_drift_counts): against ~2,048 thresholds, then refined
        found = self._drift_counts()[which]
        if isinstance(found, ValueError):
            raise found
        thresholds, cells = found
        values = None
        if reference.notna().sum() <= KS_EXACT_MAX and present <= KS_EXACT_MAX:
            values = self.pushed.window.values(which, KS_EXACT_MAX)
        rows = self.pushed.rows
        return drift.numeric_drift_from_cells(
            name,
            reference,
            thresholds,
            cells,
            rows,
            self.settings,
            None if values is None else np.asarray(values, dtype=float),
        )

    def _feature_table(self) -> list[FeatureDrift]:
        f = self.subject.features
        table = []
        for name in f.numeric:
            i = self._position(name)
            table.append(self._numeric(name, i, self.reference[name], self.pushed.nonnull[i]))
        for name in f.categorical:
            i = self._position(name)
            found = self._value_counts(i)
            values, counts = [v for v, _ in found], [n for _, n in found]
            table.append(
                drift.categorical_drift_from_counts(
                    name, self.reference[name], values, counts, self.pushed.rows, self.settings
                )
            )
        return table

    # -- data quality
    def quality(self, metric: str, features: list[str] | None) -> Measurement:
        """A native integrity metric of the production rows, from aggregates."""
        key = (metric, tuple(features) if features is not None else None)
        if key not in self._quality:
            self._quality[key] = self._measure_quality(metric, features)
        return self._quality[key]

    def _measure_quality(self, metric: str, features: list[str] | None) -> Measurement:
        if not self.pushed.rows:
            return Measurement.failed("no production input features in the window (see the sources' notes)")
        unknown = [n for n in features or [] if n not in self.subject.features.all]
        if unknown:
            known = ", ".join(self.subject.features.all)
            return Measurement.failed(f"rule names feature(s) the model does not have: {', '.join(unknown)} ({known})")
        f = self._columns(features)
        names = [*f.numeric, *f.categorical, *f.text]
        absent = [n for n in names if n not in self.pushed.index]
        if absent and metric != "schema_mismatch":
            return Measurement.failed(f"column {', '.join(repr(c) for c in absent)} missing from the holdout data")
        rows = self.pushed.rows
        if metric == "null_fraction":
            return self._nulls(names, rows)
        if metric == "duplicate_rows":
            return self._duplicates(names, rows)
        if metric == "constant_columns":
            return self._constant(names)
        if metric == "unseen_categories":
            return self._unseen(f.categorical, rows)
        if metric == "schema_mismatch":
            return self._schema(names)
        return Measurement.failed(f"unknown integrity metric '{metric}'")

    def _nulls(self, names: list[str], rows: int) -> Measurement:
        table: list[dict[str, Any]] = []
        for name in names:
            nulls = rows - self.pushed.nonnull[self.pushed.index[name]]
            table.append(
                {"column": name, "fraction": nulls / rows, "nulls": nulls, "train_nulls": 0, "holdout_nulls": nulls}
            )
        table.sort(key=lambda row: (-float(row["fraction"]), str(row["column"])))
        worst = max((float(row["fraction"]) for row in table), default=0.0)
        if not table or worst == 0:
            explanation = f"no missing values in {len(table) + 1} columns ({rows} rows, production)"
        else:
            top = table[0]
            explanation = (
                f"largest null fraction {100 * worst:.3g}% in '{top['column']}' "
                f"({top['nulls']} of {rows} rows, production)"
            )
            others = sum(1 for row in table[1:] if row["nulls"])
            if others:
                explanation += f"; {others} other column(s) have nulls"
        return Measurement(value=worst, explanation=explanation, details={"columns": table})

    def _duplicates(self, names: list[str], rows: int) -> Measurement:
        window = self.pushed.window
        positions = [self.pushed.index[n] for n in names]
        count, groups, largest = window.duplicates(positions)
        details = {
            "rows": rows,
            "duplicate_rows": count,
            "in_train": 0,
            "in_holdout": count,
            "repeated_rows": groups,
            "definition": "rows equal to an earlier row (features + target): deepchecks DataDuplicates",
        }
        if count == 0:
            explanation = f"no duplicate rows among {rows} (features + target, production)"
        else:
            explanation = (
                f"{count} of {rows} rows ({100 * count / rows:.3g}%) repeat an earlier row (features + target, "
                f"production); the most copied row x{largest}"
            )
        return Measurement(value=count / rows, explanation=explanation, details=details)

    def _constant(self, names: list[str]) -> Measurement:
        found = self.pushed.window.distinct(len(self.pushed.signature))
        constant = []
        for name in names:
            distinct, value = found[self.pushed.index[name]]
            if distinct <= 1:
                constant.append({"column": name, "value": None if value is None else str(value)})
        checked = len(names)
        if not constant:
            explanation = f"no feature column is constant in train ({checked} checked)"
        else:
            shown = ", ".join(
                f"'{row['column']}' ({'all null' if row['value'] is None else 'always ' + excerpt(row['value'])})"
                for row in constant[:3]
            )
            explanation = f"{len(constant)} of {checked} feature columns are constant in train: {shown}"
        details = {"constant": constant, "columns": [row["column"] for row in constant], "checked": checked}
        return Measurement(value=float(len(constant)), explanation=explanation, details=details)

    def _unseen(self, categorical: list[str], rows: int) -> Measurement:
        if not categorical:
            return Measurement(value=0.0, explanation="no categorical features to check")
        allowed: dict[int, list[Any]] = {}
        table: list[dict[str, Any]] = []
        for name in categorical:
            i = self.pushed.index[name]
            kind = self.pushed.signature[i][1]
            seen = pd.unique(self.reference[name].to_numpy())
            known = [_as_column(v, kind) for v in seen if not pd.isna(v)]
            allowed[i] = [v for v in known if v is not None]
            known_set = set(known)
            counts = [(v, n) for v, n in self._value_counts(i) if v not in known_set]
            if counts:
                counts.sort(key=lambda pair: (-pair[1], str(pair[0])))
                table.append(
                    {
                        "column": name,
                        "rows": sum(n for _, n in counts),
                        "new_values": len(counts),
                        "values": [str(v) for v, _ in counts[:10]],
                    }
                )
        table.sort(key=lambda row: (-int(row["rows"]), str(row["column"])))
        count = self.pushed.window.rows_outside(allowed)
        if count == 0:
            explanation = f"every category in the holdout was seen in train ({len(categorical)} columns)"
        else:
            top = table[0]
            explanation = (
                f"{count} of {rows} holdout rows ({100 * count / rows:.3g}%) have a category unseen in train; "
                f"most in '{top['column']}': {top['rows']} rows, {top['new_values']} new value(s)"
            )
        details = {"columns": table, "holdout_rows": rows, "rows_with_unseen": count}
        return Measurement(value=count / rows, explanation=explanation, details=details)

    def _schema(self, names: list[str]) -> Measurement:
        table: list[dict[str, Any]] = []
        integers = [i for i, (_name, kind) in enumerate(self.pushed.signature) if kind in _INTEGERS]
        odd = self.pushed.window.fractional_all(integers)  # one scan for every integer column
        for i, (name, kind) in enumerate(self.pushed.signature):
            if kind in _INTEGERS:
                n, example = odd[i]
                if n:
                    table.append(
                        {
                            "column": name,
                            "expected": kind,
                            "found": "float64",
                            "problem": f"holds non-integer values such as {example:g} ({n} row{'s' if n != 1 else ''})",
                        }
                    )
        in_signature = set(self.pushed.index)
        for name in names:
            if name not in in_signature:
                table.append(
                    {
                        "column": name,
                        "expected": "absent",
                        "found": "missing",
                        "problem": "is a model feature the signature does not list",
                    }
                )
        checked = len(self.pushed.signature)
        lead = "holdout compared with the model signature"
        if not table:
            explanation = f"{lead}: all {checked} columns fit"
        else:
            shown = "; ".join(f"'{row['column']}' ({row['expected']}) {row['problem']}" for row in table[:3])
            explanation = f"{lead}: {len(table)} column(s) do not fit: {shown}"
        details = {"source": "model signature", "checked": checked, "mismatches": table, "unchecked": []}
        return Measurement(value=float(len(table)), explanation=explanation, details=details)

    # -- prediction drift
    def class_probabilities(self) -> np.ndarray:
        """Production's probability of each class, read from the store's outputs once (see the module docstring)."""
        if self._class_probabilities is None:
            self._class_probabilities = self.pushed.class_probabilities()
        return self._class_probabilities

    def prediction(self) -> FeatureDrift | Failed:
        """PSI and KS of the model's score, the window's scores counted in the store (multiclass: as the rows do)."""
        if self.subject.multiclass:
            return super().prediction()
        if self._prediction is None:
            n = self._sums()[0]
            if not n:
                self._prediction = Failed("no production scores in the window")
            else:
                try:
                    self._prediction = self._numeric(self._what(), "score", pd.Series(self.reference_scores), n)
                except ValueError as err:
                    self._prediction = Failed(f"prediction drift could not be computed: {err}")
        return self._prediction

    # -- estimated performance
    def estimated(self) -> Estimate | Skip | None:
        """CBPE from sums in the store: expected accuracy and the expected ROC curve's area."""
        if not self._estimated:
            if not self.subject.binary:
                self._estimate = Skip("confidence-based estimation needs a binary classifier's probabilities")
            else:
                calibrated = self.subject.calibration
                knots = (calibrated.knots, calibrated.values) if calibrated.applied else None
                n, _total, right = self.pushed.window.score_sums(self.subject.threshold, knots)
                if not n:
                    self._estimate = None
                else:
                    area, positives, negatives = self.pushed.window.expected_roc_parts(knots)
                    auc = area / (2.0 * positives * negatives) if positives > 0 and negatives > 0 else float("nan")
                    self._estimate = Estimate(right / n, auc, n, calibrated)
            self._estimated = True
        return self._estimate


def _as_column(value: Any, kind: str) -> Any:
    """A reference category as the typed column holds it (None: it cannot equal any stored value)."""
    if kind in _NUMBERS:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            return float(value)
        return None
    if kind == "boolean":
        return bool(value) if isinstance(value, (bool, np.bool_)) else None
    return value if isinstance(value, str) else None
