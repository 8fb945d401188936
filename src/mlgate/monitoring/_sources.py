"""What a model saw in production: the serve audit store and the Parquet output of ``mlgate score``.

The spec's ``monitoring.sources`` names them (``audit_url``, default the spec's
``serving.audit_url``; ``scores``, the folder ``mlgate score --output`` wrote). Only rows of
the model's stage alias inside the window are read, and of those only the rows of the version
the alias points at **now** are measured: the others are counted per version and reported.

- **audit** rows (``mlgate_predictions``) hold the input features and the outputs as JSON; they
  are read in chunks (:func:`mlgate.serving.audit.read_predictions`) and each chunk's JSON is
  decoded in one call of pyarrow's JSON reader, the features typed as the version's signature.
  Rows are keyed ``[request_id, row]``.
- **scores** partitions (``model=<name>/stage=<stage>/date=<d>``, ``d`` inside the window's days)
  hold ids, the decision, the class probabilities and lineage, not the features. The inputs are
  read back from the file each row names (``mlgate_input_file``) only when it still exists with
  the md5 scoring recorded (``mlgate_input_md5``); otherwise the source gives the prediction drift
  and the volume only, and its notes say so. Rows are keyed by the id columns scoring passed through.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlgate.config import ModelContext
from mlgate.data import file_md5
from mlgate.exceptions import InvalidInput
from mlgate.monitoring._window import Window
from mlgate.scoring import LINEAGE_COLUMNS

SCORE = "__score"  # positive-class probability (binary classifier) or predicted value (regressor)
PROBABILITY = "__probability:"  # + class: that class's probability, one column per class of a multiclass model
AT = "__at"  # when the prediction was made (audit ``at``; scores ``scored_at``)
SOURCE = "__source"
AUDIT_KEYS = ["request_id", "row"]
_OWN_COLUMNS = {"prediction", "needs_review", *LINEAGE_COLUMNS}
_DECODE_BLOCK = 1 << 20  # bytes of features JSON per block pyarrow parses (one thread each)
_ARROW_TYPES = {"double": "float64", "float": "float64", "long": "float64", "integer": "float64", "boolean": "bool"}
_SURROGATE = re.compile("[\ud800-\udfff]")  # text json.loads keeps but no encoder writes


@dataclass
class SourceReport:
    """One source as the verdict lists it: kind, where (no password), rows measured, notes."""

    kind: str  # "audit" | "scores"
    where: str
    rows: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The verdict's ``sources`` entry."""
        return {"kind": self.kind, "where": self.where, "rows": self.rows, "notes": list(self.notes)}


@dataclass
class Traffic:
    """The measured version's production rows, from every source.

    ``rows``: one row per prediction (the key columns of its source, :data:`SCORE`, :data:`AT`,
    :data:`SOURCE`); ``features``: the input columns of the rows whose inputs are known (None
    when no source gave any); ``other_versions``: rows of other versions in the window, counted.
    """

    rows: pd.DataFrame
    features: pd.DataFrame | None
    sources: list[SourceReport]
    other_versions: dict[int, int]


@dataclass(frozen=True)
class Served:
    """What the sources need of the measured version: its number, signature and output reading."""

    stage: str  # the alias whose rows are read
    version: int
    signature: list[tuple[str, str]]
    task: str
    positive: Any  # the positive class (binary classifier), None for a regressor
    classes: tuple[Any, ...] = ()  # a classifier's classes: a multiclass model's rows carry each one's probability

    @property
    def multiclass(self) -> bool:
        """A classifier of more than two classes: prediction drift is measured per class probability."""
        return self.task == "classification" and len(self.classes) > 2


def probability_column(label: Any) -> str:
    """The :class:`Traffic` column holding the probability of class ``label`` (a multiclass model's)."""
    return f"{PROBABILITY}{label}"


def configured(ctx: ModelContext) -> tuple[str | None, str | None]:
    """(audit URL, scores folder) the spec names; neither is exit 2 with the hint to set them."""
    spec = ctx.spec
    sources = spec.monitoring.sources
    audit = (sources.audit_url if sources else None) or (spec.serving.audit_url if spec.serving else None)
    scores = sources.scores if sources else None
    if audit is None and scores is None:
        raise InvalidInput(
            f"models/{ctx.name}/model.yaml names no production data to monitor",
            hint="set monitoring.sources: {audit_url: <mlgate serve's audit database>} and/or "
            "{scores: <the folder mlgate score writes>} (serving.audit_url counts as audit_url)",
        )
    return audit, scores


def read_traffic(
    ctx: ModelContext, served: Served, window: Window, progress: Callable[[str], None] = lambda _m: None
) -> Traffic:
    """Every configured source's rows of ``served`` in ``window``, concatenated."""
    audit_url, scores = configured(ctx)
    parts: list[tuple[pd.DataFrame, pd.DataFrame | None]] = []
    reports: list[SourceReport] = []
    others: dict[int, int] = {}
    if audit_url is not None:
        progress(f"reading the audit store: {ctx.name}@{served.stage} v{served.version}, {window.asked}")
        rows, features, report, counts = _audit(audit_url, ctx, served, window)
        parts.append((rows, features))
        reports.append(report)
        _add(others, counts)
    if scores is not None:
        folder = Path(scores) if Path(scores).is_absolute() else ctx.root / scores
        progress(f"reading scored partitions under {folder}")
        rows, scored, report, counts = _scores(folder, ctx, served, window)  # scored: None without features
        parts.append((rows, scored))
        reports.append(report)
        _add(others, counts)
    rows = pd.concat([r for r, _ in parts], ignore_index=True) if parts else pd.DataFrame()
    known = [f for _, f in parts if f is not None and len(f)]
    return Traffic(rows, pd.concat(known, ignore_index=True) if known else None, reports, others)


def _add(total: dict[int, int], counts: dict[int, int]) -> None:
    for version, n in counts.items():
        total[version] = total.get(version, 0) + n


# --------------------------------------------------------------------------- audit store


def read_audit(
    url: str, ctx: ModelContext, served: Served, window: Window
) -> tuple[pd.DataFrame, pd.DataFrame, SourceReport]:
    """The audit rows of ``served`` (its alias and version) in ``window``: keys, scores and times; features; report.

    What ``mlgate monitor --compare`` reads for each arm (the rows and the features in the same order).
    """
    rows, features, report, _others = _audit(url, ctx, served, window)
    return rows, features, report


def _audit(
    url: str, ctx: ModelContext, served: Served, window: Window
) -> tuple[pd.DataFrame, pd.DataFrame, SourceReport, dict[int, int]]:
    from mlgate.serving import audit

    shown = audit.shown_url(url)
    report = SourceReport("audit", shown)
    counts = audit.version_counts(url, ctx.name, served.stage, window.start, window.end)
    others = {v: n for v, n in counts.items() if v != served.version}
    row_parts, feature_parts = [], []
    if counts.get(served.version):
        for chunk in audit.read_predictions(url, ctx.name, served.stage, served.version, window.start, window.end):
            features = decode_features(chunk.features, served.signature)
            rows = pd.DataFrame({"request_id": chunk.request_id, "row": chunk.row})
            rows[SCORE] = decode_scores(chunk.outputs, served)
            if served.multiclass:
                rows = _with_probabilities(rows, decode_probabilities(chunk.outputs, served), served)
            rows[AT] = pd.to_datetime(chunk.at, utc=True)
            row_parts.append(rows)
            feature_parts.append(features)
    unfit = sum(part.attrs.get("unfit", 0) for part in feature_parts)
    rows = pd.concat(row_parts, ignore_index=True) if row_parts else _empty_rows(AUDIT_KEYS)
    rows[SOURCE] = "audit"
    features = pd.concat(feature_parts, ignore_index=True) if feature_parts else _empty_features(served.signature)
    report.rows = len(rows)
    if others:
        report.notes.append(_others_note(others, served.version))
    if unfit:
        report.notes.append(
            f"{unfit} row(s) hold features the signature cannot hold (text for a number, a number beyond float64, "
            "invalid text, not an object): those values are read as missing"
        )
    return rows, features, report, others


def decode_features(texts: list[str], signature: list[tuple[str, str]]) -> pd.DataFrame:
    """The features JSON of many rows as typed columns, decoded in one pyarrow call.

    Numbers become float64 (a ``long`` that was sent as 3 and one sent as 3.0 decode alike;
    a missing value is NaN), strings stay strings (a missing category None). A chunk pyarrow
    cannot read as the signature's types (a string where a number belongs, a number beyond
    float64, a lone surrogate, a row that is not an object) is decoded row by row instead
    (:func:`_decode_rows`): whatever a writer stored, the monitor reads it. The frame's
    ``attrs["unfit"]`` counts the rows holding a value the signature cannot hold (read as missing).
    """
    import pyarrow as pa
    from pyarrow import json as pa_json

    if not texts:
        return _empty_features(signature)
    if not all(isinstance(text, str) and text.startswith("{") for text in texts):
        return _decode_rows(texts, signature)  # pyarrow crashes (SIGSEGV) on a lone `null` line: never given one
    payload = "\n".join(texts).encode("utf-8")
    fields = [
        pa.field(c, pa.from_numpy_dtype(np.dtype(_ARROW_TYPES[t])) if t in _ARROW_TYPES else pa.string())
        for c, t in signature
    ]
    options = pa_json.ParseOptions(explicit_schema=pa.schema(fields), unexpected_field_behavior="infer")
    # blocks of 1 MB (or the longest row) are parsed in parallel: 2.4x faster than one block on 2 cores
    block = max(_DECODE_BLOCK, max(map(len, texts)) * 4 + 1)
    try:
        table = pa_json.read_json(
            io.BytesIO(payload), read_options=pa_json.ReadOptions(block_size=block), parse_options=options
        )
        frame = table.to_pandas()
    except (pa.ArrowException, ValueError, UnicodeError):
        return _decode_rows(texts, signature)
    frame.attrs["unfit"] = 0
    return frame


def _decode_rows(texts: list[Any], signature: list[tuple[str, str]]) -> pd.DataFrame:
    """Row by row, each signature column typed as :func:`decode_features` types it; what does not fit is missing."""
    columns: dict[str, list[Any]] = {c: [] for c, _ in signature}
    unfit = 0
    mask = []
    for text in texts:
        try:
            row = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            row = None
        bad = not isinstance(row, dict)
        row = row if isinstance(row, dict) else {}
        for column, kind in signature:
            value, fits = _typed(row.get(column), kind)
            columns[column].append(value)
            bad = bad or not fits
        unfit += bad
        mask.append(bad)
    frame = pd.DataFrame(
        {c: pd.Series(columns[c], dtype=_ARROW_TYPES.get(t, object)) for c, t in signature},
        index=pd.RangeIndex(len(texts)),
    )
    frame.attrs["unfit"] = unfit
    frame.attrs["unfit_rows"] = mask
    return frame


def _typed(value: Any, kind: str) -> tuple[Any, bool]:
    """(value as the column holds it, whether it fit): a number a float, a boolean, text without lone surrogates."""
    if value is None:
        return (np.nan if kind in _ARROW_TYPES and kind != "boolean" else None), True
    if kind in _ARROW_TYPES and kind != "boolean":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an integer beyond float64
                return np.nan, False
            return (number, True) if np.isfinite(number) else (np.nan, False)
        return np.nan, False
    if kind == "boolean":
        return (value, True) if isinstance(value, bool) else (None, False)
    if isinstance(value, str) and not _SURROGATE.search(value):
        return value, True
    return None, False


def decode_scores(texts: list[str], served: Served) -> np.ndarray:
    """Each row's positive-class probability (classifier) or predicted value (regressor) from the outputs JSON.

    Outputs that are not as ``mlgate serve`` writes them (no probabilities, text, null) score NaN.
    """
    import pyarrow as pa
    from pyarrow import json as pa_json

    if not texts:
        return np.empty(0)
    slow = not all(isinstance(text, str) and text.startswith("{") for text in texts)
    try:
        if slow:
            raise ValueError("a row that is not an object")  # pyarrow would crash on a lone `null` line
        payload = "\n".join(texts).encode("utf-8")
        table = pa_json.read_json(io.BytesIO(payload), read_options=pa_json.ReadOptions(block_size=len(payload) + 1))
        if served.task != "classification":
            column = table.column("prediction") if "prediction" in table.column_names else None
            if column is None:
                return np.full(len(texts), np.nan)
            return column.to_numpy(zero_copy_only=False).astype(float)
        if "probabilities" not in table.column_names:
            return np.full(len(texts), np.nan)
        probabilities = table.column("probabilities").combine_chunks()
        key = str(served.positive)
        if not pa.types.is_struct(probabilities.type) or key not in [f.name for f in probabilities.type]:
            return np.full(len(texts), np.nan)
        return probabilities.field(key).to_numpy(zero_copy_only=False).astype(float)
    except (pa.ArrowException, ValueError, TypeError, UnicodeError, OverflowError):
        return np.array([_score_of(text, served) for text in texts], dtype=float)


def decode_probabilities(texts: list[str], served: Served) -> np.ndarray:
    """Each row's probability of every class of ``served.classes`` (rows × classes) from the outputs JSON.

    As :func:`decode_scores` reads one class's: a class an output does not hold (or holds as no number) is NaN.
    """
    import pyarrow as pa
    from pyarrow import json as pa_json

    out = np.full((len(texts), len(served.classes)), np.nan)
    if not texts:
        return out
    try:
        if not all(isinstance(text, str) and text.startswith("{") for text in texts):
            raise ValueError("a row that is not an object")  # pyarrow would crash on a lone `null` line
        payload = "\n".join(texts).encode("utf-8")
        table = pa_json.read_json(io.BytesIO(payload), read_options=pa_json.ReadOptions(block_size=len(payload) + 1))
        if "probabilities" not in table.column_names:
            return out
        probabilities = table.column("probabilities").combine_chunks()
        if not pa.types.is_struct(probabilities.type):
            return out
        names = [f.name for f in probabilities.type]
        for at, label in enumerate(served.classes):
            if str(label) in names:
                out[:, at] = probabilities.field(str(label)).to_numpy(zero_copy_only=False).astype(float)
        return out
    except (pa.ArrowException, ValueError, TypeError, UnicodeError, OverflowError):
        for i, text in enumerate(texts):
            out[i] = [_score_of(text, Served(served.stage, served.version, [], served.task, c)) for c in served.classes]
        return out


def _with_probabilities(rows: pd.DataFrame, probabilities: np.ndarray, served: Served) -> pd.DataFrame:
    """``rows`` with one :func:`probability_column` per class of ``served`` (``probabilities``: rows × classes)."""
    columns = {probability_column(c): probabilities[:, at] for at, c in enumerate(served.classes)}
    return rows.assign(**columns)


def _score_of(text: Any, served: Served) -> float:
    try:
        outputs = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return np.nan
    if not isinstance(outputs, dict):
        return np.nan
    if served.task != "classification":
        value = outputs.get("prediction")
    else:
        probabilities = outputs.get("probabilities")
        value = probabilities.get(str(served.positive)) if isinstance(probabilities, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return np.nan
    try:
        return float(value)
    except OverflowError:
        return np.nan


def _empty_rows(keys: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({key: pd.Series(dtype=object) for key in keys})
    frame[SCORE] = pd.Series(dtype=float)
    frame[AT] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


def _empty_features(signature: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_ARROW_TYPES.get(t, object)) for c, t in signature})


def _others_note(others: dict[int, int], version: int) -> str:
    listed = ", ".join(f"v{v}: {n}" for v, n in sorted(others.items()))
    return f"rows of other versions in the window, not measured (only v{version}, which the alias holds now): {listed}"


# --------------------------------------------------------------------------- scored partitions


def _partitions(folder: Path, name: str, stage: str, window: Window) -> list[Path]:
    """The ``date=`` partitions of ``model=name/stage=stage`` whose day lies in the window."""
    base = folder / f"model={name}" / f"stage={stage}"
    first, last = window.start.date(), (window.end - pd.Timedelta(microseconds=1)).date()
    found = []
    for path in sorted(base.glob("date=*")) if base.is_dir() else []:
        try:
            day = date.fromisoformat(path.name.removeprefix("date="))
        except ValueError:
            continue
        if first <= day <= last and path.is_dir():
            found.append(path)
    return found


def _scores(
    folder: Path, ctx: ModelContext, served: Served, window: Window
) -> tuple[pd.DataFrame, pd.DataFrame | None, SourceReport, dict[int, int]]:
    import pyarrow.parquet as pq

    report = SourceReport("scores", str(folder))
    if not folder.is_dir():
        raise InvalidInput(
            f"monitoring.sources.scores: {folder} is not a folder",
            hint="name the folder mlgate score --output writes to (relative to the repo root)",
        )
    frames = []
    for partition in _partitions(folder, ctx.name, served.stage, window):
        for part in sorted(partition.glob("part-*.parquet")):
            names = pq.read_schema(part).names
            ids = names[: names.index("prediction")] if "prediction" in names else []
            wanted = [*ids, "prediction", "mlgate_version", "mlgate_input_file", "mlgate_input_md5", "scored_at"]
            probability = f"probability_{served.positive}"
            if served.task == "classification" and probability in names:
                wanted.append(probability)
            per_class = [f"probability_{c}" for c in served.classes] if served.multiclass else []
            wanted += [c for c in per_class if c not in wanted]
            frame = pq.read_table(part, columns=[c for c in wanted if c in names]).to_pandas()
            frame[SCORE] = (
                frame[probability] if served.task == "classification" and probability in frame else frame["prediction"]
            )
            for label, column in zip(served.classes if per_class else (), per_class, strict=True):
                frame[probability_column(label)] = frame[column].astype(float) if column in frame else np.nan
            frames.append(frame.drop(columns=[probability, *per_class], errors="ignore"))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["mlgate_version"])
    versions = table["mlgate_version"].value_counts()
    counts = {int(v): int(n) for v, n in zip(versions.index.to_numpy(), versions.to_numpy(), strict=True)}
    others = {v: n for v, n in counts.items() if v != served.version}
    mine = table[table["mlgate_version"] == served.version].reset_index(drop=True)
    keys = [
        c
        for c in mine.columns
        if c not in _OWN_COLUMNS and c != SCORE and not c.startswith(("probability_", PROBABILITY))
    ]
    rows = mine[keys].copy() if keys else pd.DataFrame(index=mine.index)
    rows[SCORE] = mine[SCORE].astype(float) if len(mine) else pd.Series(dtype=float)
    for label in served.classes if served.multiclass else ():
        column = probability_column(label)
        rows[column] = mine[column].astype(float) if column in mine else pd.Series(np.nan, index=mine.index)
    rows[AT] = pd.to_datetime(mine["scored_at"], utc=True) if len(mine) else pd.Series(dtype="datetime64[ns, UTC]")
    rows[SOURCE] = "scores"
    report.rows = len(rows)
    if others:
        report.notes.append(_others_note(others, served.version))
    if not keys and len(rows):
        report.notes.append("no id columns were scored (--id-column): these rows cannot be joined to labels")
    features = _scored_inputs(mine, ctx, served, report) if len(mine) else None
    return rows, features, report, others


def _scored_inputs(mine: pd.DataFrame, ctx: ModelContext, served: Served, report: SourceReport) -> pd.DataFrame | None:
    """The input files the scored rows name, read back when present with the md5 scoring recorded."""
    pairs = mine[["mlgate_input_file", "mlgate_input_md5"]].drop_duplicates().itertuples(index=False)
    frames = []
    for shown, md5 in pairs:
        path = Path(shown) if Path(shown).is_absolute() else ctx.root / shown
        if not path.is_file():
            report.notes.append(f"input {shown} is gone: its rows give prediction drift and volume only")
            continue
        if file_md5(path) != md5:
            report.notes.append(
                f"input {shown} changed since it was scored (md5 differs from {md5[:8]}): "
                "its rows give prediction drift and volume only"
            )
            continue
        frames.append(_read_input(path, served.signature))
    return pd.concat(frames, ignore_index=True) if frames else None


def _read_input(path: Path, signature: list[tuple[str, str]]) -> pd.DataFrame:
    """A scored input file's signature columns, typed as :func:`decode_features` types audit rows."""
    columns = [c for c, _ in signature]
    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path, columns=columns)
    else:
        frame = pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False, na_values=[""])
    for column, kind in signature:
        if kind in _ARROW_TYPES and kind != "boolean":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        elif kind == "string":
            # pandas-stubs has no overload for where(..., None); pandas puts None where the mask is False
            frame[column] = frame[column].astype("object").where(frame[column].notna(), None)  # type: ignore[call-overload]
    return frame
