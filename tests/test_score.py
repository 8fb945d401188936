"""`mlgate score`: by alias, against the signature, atomic partitions, the decision block, Spark = pandas.

One credit model is trained for real (`mlgate train` against the real `mlflow server`) with a
``decision:`` block and set as ``staging`` (promotion is other tests' business); one SparkSession
serves the module. Under ``CI=true`` a missing pyspark or Java fails instead of skipping.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import copy_repo, credit_decides_at_0_6, invoke, promoted, spark_ready
from mlgate.registry import Registry
from mlgate.scoring import LINEAGE_COLUMNS

FEATURES = ["credit_amount", "duration", "age", "job", "housing", "saving_accounts", "checking_account", "purpose"]


@pytest.fixture(scope="module")
def scoring(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A repo whose credit spec has a decision block; v1 trained for real, pinned in release.yaml and set as staging."""
    base = tmp_path_factory.mktemp("score")
    repo = copy_repo(template_repo, base / "repo")
    credit_decides_at_0_6(repo)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        trained = invoke(CliRunner(), "train", "credit", "--json", "-", cwd=repo)
        assert trained.exit_code == 0, trained.output
    version = json.loads(trained.stdout)["version"]
    promoted(repo, mlflow_server, "credit", "staging", version)
    data = pd.read_csv(repo / "data" / "german_credit.csv")
    frame = data[FEATURES].copy()
    frame.insert(0, "application_id", [f"A{i:05d}" for i in range(len(frame))])
    for column in ("housing", "saving_accounts", "checking_account", "purpose"):
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    inputs = base / "inputs"
    inputs.mkdir()
    frame.to_parquet(inputs / "batch.parquet", index=False)
    frame.iloc[:400].to_parquet(inputs / "part-a.parquet", index=False)
    frame.iloc[400:].to_parquet(inputs / "part-b.parquet", index=False)
    frame.to_csv(inputs / "batch.csv", index=False)
    return {"repo": repo, "uri": mlflow_server, "version": version, "frame": frame, "inputs": inputs, "base": base}


def score(ctx: dict[str, Any], out: Path, *args: str, source: str = "batch.parquet") -> Any:
    os.environ["MLFLOW_TRACKING_URI"] = ctx["uri"]
    try:
        return invoke(
            CliRunner(),
            "score",
            "credit",
            "--stage",
            "staging",
            "--input",
            str(ctx["inputs"] / source),
            "--output",
            str(out),
            "--id-column",
            "application_id",
            "--json",
            "-",
            *args,
            cwd=ctx["repo"],
        )
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]


def partition(out: Path, day: str) -> Path:
    return out / "model=credit" / "stage=staging" / f"date={day}"


def read(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder).sort_values("application_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def pandas_run(scoring: dict[str, Any]) -> dict[str, Any]:
    out = scoring["base"] / "out-pandas"
    done = score(scoring, out, "--date", "2025-01-31", "--batch-rows", "300")
    assert done.exit_code == 0, done.output
    return {"out": out, "json": json.loads(done.stdout), "frame": read(partition(out, "2025-01-31"))}


def test_pandas_scoring_equals_the_versions_own_predict_proba(scoring: dict[str, Any], pandas_run: dict) -> None:
    model = Registry(scoring["repo"], scoring["uri"]).load_model("credit", scoring["version"])
    expected = model.predict_proba(scoring["frame"].sort_values("application_id")[FEATURES])
    got = pandas_run["frame"]
    assert len(got) == len(scoring["frame"]) == 1000
    np.testing.assert_allclose(got[["probability_0", "probability_1"]].to_numpy(), expected, rtol=0, atol=1e-12)


def test_decisions_and_review_flags_follow_the_decision_block(pandas_run: dict) -> None:
    got = pandas_run["frame"]
    p = got["probability_1"]
    assert (got["prediction"] == np.where(p >= 0.6, 1, 0)).all()
    in_band = (p >= 0.45) & (p <= 0.75)
    assert 0 < in_band.sum() < len(got)  # the band catches some rows, not all: the check can fail
    assert (got["needs_review"] == in_band).all()
    assert pandas_run["json"]["needs_review"] == int(in_band.sum())
    assert pandas_run["json"]["decided"] == {"0": int((p < 0.6).sum()), "1": int((p >= 0.6).sum())}
    # a threshold other than argmax changes decisions: rows with 0.5 <= p < 0.6 are decided 0
    assert ((p >= 0.5) & (p < 0.6) & (got["prediction"] == 0)).any()


def test_lineage_columns_name_the_version_alias_commit_and_input(scoring: dict[str, Any], pandas_run: dict) -> None:
    got = pandas_run["frame"]
    assert list(got.columns[-len(LINEAGE_COLUMNS) :]) == list(LINEAGE_COLUMNS)
    mv = Registry(scoring["repo"], scoring["uri"]).version("credit", scoring["version"])
    assert set(got["mlgate_version"]) == {scoring["version"]}
    assert set(got["mlgate_alias"]) == {"staging"}
    assert set(got["mlgate_run_id"]) == {mv.run_id}
    assert set(got["mlgate_commit"]) == {mv.tags["mlgate.git.commit"]}
    import hashlib

    md5 = hashlib.md5((scoring["inputs"] / "batch.parquet").read_bytes()).hexdigest()
    assert set(got["mlgate_input_md5"]) == {md5}
    assert got["scored_at"].nunique() == 1
    assert pandas_run["json"]["model_uri"] == f"models:/credit/{scoring['version']}"
    assert pandas_run["json"]["files"] == [{"path": str(scoring["inputs"] / "batch.parquet"), "md5": md5, "rows": 1000}]


def test_a_glob_records_each_files_md5_and_csv_scores_like_parquet(scoring: dict[str, Any], pandas_run: dict) -> None:
    out = scoring["base"] / "out-glob"
    done = score(scoring, out, "--date", "2025-01-31", source="part-*.parquet")
    assert done.exit_code == 0, done.output
    got = read(partition(out, "2025-01-31"))
    assert got.groupby("mlgate_input_file").size().to_dict() == {
        str(scoring["inputs"] / "part-a.parquet"): 400,
        str(scoring["inputs"] / "part-b.parquet"): 600,
    }
    assert got["mlgate_input_md5"].nunique() == 2
    from_csv = score(scoring, scoring["base"] / "out-csv", "--date", "2025-01-31", source="batch.csv")
    assert from_csv.exit_code == 0, from_csv.output
    csv_rows = read(partition(scoring["base"] / "out-csv", "2025-01-31"))
    same = ["application_id", "prediction", "probability_0", "probability_1", "needs_review"]
    pd.testing.assert_frame_equal(csv_rows[same], pandas_run["frame"][same], check_exact=True)


def test_same_date_replaces_the_partition_another_date_adds_one(scoring: dict[str, Any], pandas_run: dict) -> None:
    out = scoring["base"] / "out-rerun"
    for _ in range(2):
        done = score(scoring, out, "--date", "2025-02-01")
        assert done.exit_code == 0, done.output
    again = read(partition(out, "2025-02-01"))
    assert len(again) == 1000
    assert again["application_id"].is_unique
    assert score(scoring, out, "--date", "2025-02-02").exit_code == 0
    days = sorted(p.name for p in (out / "model=credit" / "stage=staging").iterdir())
    # nothing hidden left behind either, but each partition's lock file (kept: see partition_lock)
    assert days == [".date=2025-02-01.lock", ".date=2025-02-02.lock", "date=2025-02-01", "date=2025-02-02"]
    import pyarrow.dataset as ds

    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 2000
    assert set(table.column("date").to_pylist()) == {"2025-02-01", "2025-02-02"}


def test_a_crash_mid_write_leaves_the_previous_partition_byte_identical(
    scoring: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = scoring["base"] / "out-crash"
    assert score(scoring, out, "--date", "2025-03-01").exit_code == 0
    before = {p.name: p.read_bytes() for p in partition(out, "2025-03-01").iterdir()}
    import pyarrow.parquet as pq

    real = pq.ParquetWriter.write_table
    written = []

    def crash_after_first_batch(self: Any, table: Any, *args: Any, **kwargs: Any) -> None:
        if written:
            raise OSError("disk gone")
        written.append(table.num_rows)
        real(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", crash_after_first_batch)
    monkeypatch.setenv("MLGATE_TRACEBACK", "0")
    done = score(scoring, out, "--date", "2025-03-01", "--batch-rows", "100")
    assert done.exit_code == 70
    assert written == [100]
    after = {p.name: p.read_bytes() for p in partition(out, "2025-03-01").iterdir()}
    assert after == before
    left = sorted(p.name for p in (out / "model=credit" / "stage=staging").iterdir())
    assert left == [".date=2025-03-01.lock", "date=2025-03-01"]  # the half-written folder is gone


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "missing column(s) age"),
        ("extra", "extra column(s) surprise"),
        ("type", "column 'duration' is string, the signature wants long"),
    ],
)
def test_input_that_does_not_fit_the_signature_exits_2_and_writes_nothing(
    scoring: dict[str, Any], change: str, message: str
) -> None:
    frame = scoring["frame"].copy()
    if change == "missing":
        frame = frame.drop(columns="age")
    elif change == "extra":
        frame["surprise"] = 1
    else:
        frame["duration"] = frame["duration"].astype(str)
    bad = scoring["base"] / f"bad-{change}.parquet"
    frame.to_parquet(bad, index=False)
    out = scoring["base"] / f"out-bad-{change}"
    done = score(scoring, out, "--date", "2025-01-31", source=str(bad))
    assert done.exit_code == 2, done.output
    assert message in done.stderr
    assert str(bad) in done.stderr
    assert json.loads(done.stdout)["exit_code"] == 2
    assert not out.exists()


def test_a_bad_csv_value_is_named_by_its_line(scoring: dict[str, Any]) -> None:
    lines = (scoring["inputs"] / "batch.csv").read_text().splitlines()
    cells = lines[700].split(",")
    cells[3] = "forty"  # age (application_id, credit_amount, duration, age, ...)
    lines[700] = ",".join(cells)
    bad = scoring["base"] / "bad-value.csv"
    bad.write_text("\n".join(lines) + "\n")
    out = scoring["base"] / "out-bad-value"
    done = score(scoring, out, "--date", "2025-01-31", "--batch-rows", "250", source=str(bad))
    assert done.exit_code == 2, done.output
    assert f"{bad}:701: column 'age' has 'forty', the signature wants long" in done.stderr
    assert not any(out.rglob("*.parquet"))


def test_an_alias_that_points_nowhere_and_an_unknown_stage_exit_2(
    scoring: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = copy_repo(scoring["repo"], tmp_path / "repo")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", scoring["uri"])
    args = ["--input", str(scoring["inputs"] / "batch.parquet"), "--output", str(tmp_path / "out")]
    nowhere = invoke(CliRunner(), "score", "credit", "--stage", "production", *args, cwd=repo)
    assert nowhere.exit_code == 2
    assert "models:/credit@production points at no version" in nowhere.stderr
    assert "promote a version to production" in nowhere.stderr
    unknown = invoke(CliRunner(), "score", "credit", "--stage", "canary", *args, cwd=repo)
    assert unknown.exit_code == 2
    assert "'canary' is not a stage of policies/credit.yaml" in unknown.stderr
    bad_date = invoke(CliRunner(), "score", "credit", "--stage", "staging", "--date", "2025-13-01", *args, cwd=repo)
    assert bad_date.exit_code == 2
    assert "--date '2025-13-01'" in bad_date.stderr
    assert not (tmp_path / "out").exists()


def test_score_help_names_every_option() -> None:
    done = invoke(CliRunner(), "score", "--help")
    assert done.exit_code == 0
    for option in ("--stage", "--input", "--output", "--id-column", "--engine", "--date", "--spark-master", "--json"):
        assert option in done.output


def test_spark_engine_equals_the_pandas_engine_row_for_row(scoring: dict[str, Any], pandas_run: dict) -> None:
    spark_ready()
    out = scoring["base"] / "out-spark"
    done = score(scoring, out, "--date", "2025-01-31", "--engine", "spark")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["engine"] == "spark"
    assert json.loads(done.stdout)["rows"] == 1000
    spark_rows = read(partition(out, "2025-01-31"))
    pandas_rows = pandas_run["frame"]
    exact = ["application_id", "prediction", "needs_review", *LINEAGE_COLUMNS[:-1]]
    pd.testing.assert_frame_equal(spark_rows[exact], pandas_rows[exact], check_exact=True)
    proba = ["probability_0", "probability_1"]
    pd.testing.assert_frame_equal(spark_rows[proba], pandas_rows[proba], check_exact=False, rtol=0, atol=1e-12)
    assert spark_rows.dtypes.drop("scored_at").equals(pandas_rows.dtypes.drop("scored_at"))
    assert all(p.name.startswith("part-") for p in partition(out, "2025-01-31").iterdir())


# --- issue #23: scoring input parsed alike on both engines, one partition at a time, bounded error excerpts ---

BOTH = ["pandas", "spark"]


def csv_variant(ctx: dict[str, Any], name: str, edit: Any) -> Path:
    """batch.csv with ``edit(frame)`` applied (the frame's values as text), written as ``name``."""
    frame = pd.read_csv(ctx["inputs"] / "batch.csv", dtype=str, keep_default_na=False)
    edit(frame)
    path = ctx["base"] / name
    frame.to_csv(path, index=False)
    return path


def on_engine(engine: str) -> tuple[str, ...]:
    if engine == "spark":
        spark_ready()
        return ("--engine", "spark")
    return ()


@pytest.mark.parametrize("engine", BOTH)
def test_an_integral_float_in_an_integer_column_scores_as_the_integer(
    scoring: dict[str, Any], pandas_run: dict, engine: str
) -> None:
    def as_floats(frame: pd.DataFrame) -> None:
        frame["credit_amount"] = frame["credit_amount"] + ".0"  # 1597 written as 1597.0

    path = csv_variant(scoring, f"floats-{engine}.csv", as_floats)
    out = scoring["base"] / f"out-floats-{engine}"
    done = score(scoring, out, "--date", "2025-01-31", *on_engine(engine), source=str(path))
    assert done.exit_code == 0, done.output
    got = read(partition(out, "2025-01-31"))
    proba = ["probability_0", "probability_1"]
    np.testing.assert_allclose(got[proba].to_numpy(), pandas_run["frame"][proba].to_numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("engine", BOTH)
@pytest.mark.parametrize(("value", "shown"), [("1597.5", "'1597.5'"), ("", "a missing value"), ("1e400", "'1e400'")])
def test_a_fractional_or_blank_integer_exits_2_naming_file_line_and_column(
    scoring: dict[str, Any], engine: str, value: str, shown: str
) -> None:
    def spoil(frame: pd.DataFrame) -> None:
        frame.loc[699, "credit_amount"] = value  # file line 701 (the header is line 1)

    path = csv_variant(scoring, f"spoilt-{engine}-{len(value)}.csv", spoil)
    out = scoring["base"] / f"out-spoilt-{engine}-{len(value)}"
    done = score(scoring, out, "--date", "2025-01-31", *on_engine(engine), source=str(path))
    assert done.exit_code == 2, done.output
    assert f"{path}:701: column 'credit_amount' has {shown}, the signature wants long" in done.stderr
    assert not any(out.rglob("*.parquet"))


@pytest.mark.parametrize("engine", BOTH)
def test_an_integral_float_parquet_column_for_an_integer_feature_scores_and_a_fraction_exits_2(
    scoring: dict[str, Any], pandas_run: dict, engine: str
) -> None:
    frame = scoring["frame"].copy()
    frame["credit_amount"] = frame["credit_amount"].astype("float64")  # what pandas writes after a blank
    whole = scoring["base"] / f"float-ints-{engine}.parquet"
    frame.to_parquet(whole, index=False)
    out = scoring["base"] / f"out-float-ints-{engine}"
    done = score(scoring, out, "--date", "2025-01-31", *on_engine(engine), source=str(whole))
    assert done.exit_code == 0, done.output
    proba = ["probability_0", "probability_1"]
    got = read(partition(out, "2025-01-31"))
    np.testing.assert_allclose(got[proba].to_numpy(), pandas_run["frame"][proba].to_numpy(), rtol=0, atol=1e-12)
    frame.loc[41, "credit_amount"] = 1597.5
    half = scoring["base"] / f"float-half-{engine}.parquet"
    frame.to_parquet(half, index=False)
    done = score(scoring, scoring["base"] / f"out-float-half-{engine}", *on_engine(engine), source=str(half))
    assert done.exit_code == 2, done.output
    assert f"{half} (row 42): column 'credit_amount' has 1597.5, the signature wants long" in done.stderr


@pytest.mark.parametrize("engine", BOTH)
def test_quoted_multi_line_fields_are_read_and_lines_still_located(scoring: dict[str, Any], engine: str) -> None:
    def multi_line(frame: pd.DataFrame) -> None:
        frame.loc[9, "purpose"] = 'radio\n"TV", or\nboth'  # two line breaks and a quoted quote, in row 10

    path = csv_variant(scoring, f"multi-{engine}.csv", multi_line)
    assert path.read_text().count("\n") == 1000 + 1 + 2
    out = scoring["base"] / f"out-multi-{engine}"
    done = score(scoring, out, "--date", "2025-01-31", *on_engine(engine), source=str(path))
    assert done.exit_code == 0, done.output
    got = read(partition(out, "2025-01-31"))
    assert len(got) == 1000
    model = Registry(scoring["repo"], scoring["uri"]).load_model("credit", scoring["version"])
    frame = scoring["frame"].copy()
    frame.loc[9, "purpose"] = 'radio\n"TV", or\nboth'
    expected = model.predict_proba(frame.sort_values("application_id")[FEATURES])
    np.testing.assert_allclose(got[["probability_0", "probability_1"]].to_numpy(), expected, rtol=0, atol=1e-12)

    def and_a_bad_age(frame: pd.DataFrame) -> None:
        multi_line(frame)
        frame.loc[699, "age"] = "forty"  # row 700: line 701 + the two line breaks above it

    bad = csv_variant(scoring, f"multi-bad-{engine}.csv", and_a_bad_age)
    done = score(scoring, out, "--date", "2025-01-31", "--batch-rows", "250", *on_engine(engine), source=str(bad))
    assert done.exit_code == 2, done.output
    assert f"{bad}:703: column 'age' has 'forty', the signature wants long" in done.stderr
    assert bad.read_text().splitlines()[702].split(",")[3] == "forty"  # line 703 is where it is


@pytest.mark.parametrize("engine", BOTH)
def test_integer_ids_are_int64_from_csv_and_parquet_and_other_ids_keep_their_text(
    scoring: dict[str, Any], engine: str
) -> None:
    frame = scoring["frame"].copy()
    frame["application_id"] = np.arange(len(frame), dtype="int64") * 7 + 9_007_199_254_740_993  # beyond 2**53
    frame.to_parquet(scoring["base"] / f"int-ids-{engine}.parquet", index=False)
    frame.to_csv(scoring["base"] / f"int-ids-{engine}.csv", index=False)
    zeros = frame.copy()
    zeros["application_id"] = [f"{i:05d}" for i in range(len(frame))]  # leading zeros: text, kept as written
    zeros.to_csv(scoring["base"] / f"zero-ids-{engine}.csv", index=False)
    got = {}
    for source in (f"int-ids-{engine}.parquet", f"int-ids-{engine}.csv", f"zero-ids-{engine}.csv"):
        out = scoring["base"] / f"out-{source}"
        done = score(scoring, out, "--date", "2025-01-31", *on_engine(engine), source=str(scoring["base"] / source))
        assert done.exit_code == 0, done.output
        got[source] = read(partition(out, "2025-01-31"))
    for source in (f"int-ids-{engine}.parquet", f"int-ids-{engine}.csv"):
        assert str(got[source]["application_id"].dtype) == "int64"
        assert got[source]["application_id"].tolist() == sorted(frame["application_id"].tolist())
    assert got[f"zero-ids-{engine}.csv"]["application_id"].tolist() == sorted(zeros["application_id"])


def test_a_partition_key_as_id_column_exits_2_instead_of_corrupting_the_output(scoring: dict[str, Any]) -> None:
    frame = scoring["frame"].copy()
    frame["date"] = "2024-12-01"  # the event's date: the output's date=2025-01-31 folder would replace it
    path = scoring["base"] / "dated.parquet"
    frame.to_parquet(path, index=False)
    out = scoring["base"] / "out-dated"
    os.environ["MLFLOW_TRACKING_URI"] = scoring["uri"]
    try:
        args = ["--stage", "staging", "--input", str(path), "--output", str(out), "--date", "2025-01-31"]
        done = invoke(CliRunner(), "score", "credit", *args, "--id-column", "date", cwd=scoring["repo"])
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert done.exit_code == 2, done.output
    assert "--id-column 'date' has the name of a partition key of the output" in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("engine", BOTH)
def test_a_30_mb_value_makes_a_short_error_that_still_locates_it(scoring: dict[str, Any], engine: str) -> None:
    def huge(frame: pd.DataFrame) -> None:
        frame.loc[499, "duration"] = "9" * 30_000_000 + "x"  # row 500: line 501

    path = csv_variant(scoring, f"huge-{engine}.csv", huge)
    done = score(scoring, scoring["base"] / f"out-huge-{engine}", *on_engine(engine), source=str(path))
    assert done.exit_code == 2, done.output[:2000]
    assert len(done.stderr) < 2000
    assert f"{path}:501: column 'duration' has '{'9' * 80}'… (30000001 bytes), the signature wants long" in done.stderr


def mlgate_score(ctx: dict[str, Any], out: Path, source: Path, *args: str) -> Any:
    """A real ``mlgate score`` process (started, not waited for)."""
    import subprocess
    import sys

    command = [str(Path(sys.executable).parent / "mlgate"), "score", "credit", "--stage", "staging"]
    command += ["--input", str(source), "--output", str(out), "--id-column", "application_id", *args]
    env = {**os.environ, "MLFLOW_TRACKING_URI": ctx["uri"]}
    return subprocess.Popen(
        command, cwd=ctx["repo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_three_concurrent_runs_of_one_partition_take_turns_and_all_succeed(scoring: dict[str, Any]) -> None:
    big = pd.concat([scoring["frame"]] * 100, ignore_index=True)
    big["application_id"] = [f"A{i:07d}" for i in range(len(big))]
    source = scoring["base"] / "big.parquet"
    big.to_parquet(source, index=False)
    out = scoring["base"] / "out-concurrent"
    runs = [mlgate_score(scoring, out, source, "--date", "2025-04-01") for _ in range(3)]
    done = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    assert [code for code, _, _ in done] == [0, 0, 0], [err[-2000:] for _, _, err in done]
    # they did overlap: at least one run waited for another's lock (else this test proves nothing)
    assert any("waiting for mlgate score pid" in err for _, _, err in done)
    got = pd.read_parquet(partition(out, "2025-04-01"))
    assert len(got) == len(big)
    assert got["application_id"].is_unique
    left = sorted(p.name for p in (out / "model=credit" / "stage=staging").iterdir())
    assert left == [".date=2025-04-01.lock", "date=2025-04-01"]  # no half-written or aside folder left


def test_a_held_lock_makes_a_run_exit_3_naming_the_holder(scoring: dict[str, Any]) -> None:
    import fcntl

    out = scoring["base"] / "out-locked"
    folder = out / "model=credit" / "stage=staging"
    folder.mkdir(parents=True)
    with (folder / ".date=2025-04-02.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write("mlgate score pid 4242 on elsewhere since 2025-04-02T00:00:00")
        lock.flush()
        done = score(scoring, out, "--date", "2025-04-02", "--lock-timeout", "1")
    assert done.exit_code == 3, done.output
    assert "is being written by mlgate score pid 4242 on elsewhere" in done.stderr
    assert "gave up after waiting 1s" in done.stderr
    assert not partition(out, "2025-04-02").exists()
    assert score(scoring, out, "--date", "2025-04-02", "--lock-timeout", "1").exit_code == 0  # released: it runs


def test_recovery_removes_only_half_written_folders_whose_owner_is_gone(scoring: dict[str, Any]) -> None:
    import socket
    import subprocess
    import sys

    out = scoring["base"] / "out-recover"
    folder = out / "model=credit" / "stage=staging"
    folder.mkdir(parents=True)
    host = socket.gethostname()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        names = {
            "dead": f".date=2025-04-03.writing-{dead_pid}@{host}-{'a' * 12}",
            "live": f".date=2025-04-03.writing-{live.pid}@{host}-{'b' * 12}",
            "other host": f".date=2025-04-03.writing-{dead_pid}@not-{host}-{'c' * 12}",
            "no owner": f".date=2025-04-03.writing-{'d' * 12}",
        }
        for name in names.values():
            (folder / name).mkdir()
            (folder / name / "part-00000.parquet").write_bytes(b"half")
        done = score(scoring, out, "--date", "2025-04-03")
        assert done.exit_code == 0, done.output
        left = {p.name for p in folder.iterdir()}
        assert names["dead"] not in left
        assert {names["live"], names["other host"], names["no owner"]} <= left
        assert (folder / names["live"] / "part-00000.parquet").read_bytes() == b"half"
    finally:
        live.kill()
        live.wait()


# --- issue #24: reason codes (`--reasons K`) ---


def _by_input(values: np.ndarray, names: list[str]) -> np.ndarray:
    """TreeExplainer's per-encoded-column values summed into the input column each came from (by the names)."""
    out = np.zeros((values.shape[0], len(FEATURES)))
    for at, name in enumerate(names):
        source = name.split("__", 1)[1]
        owner = max((f for f in FEATURES if source == f or source.startswith(f + "_")), key=len)
        out[:, FEATURES.index(owner)] += values[:, at]
    return out


def test_reasons_of_the_credit_forest_equal_tree_explainer_and_add_up_to_the_probability(
    scoring: dict[str, Any], pandas_run: dict
) -> None:
    import shap

    out = scoring["base"] / "out-reasons"
    done = score(scoring, out, "--date", "2025-01-31", "--reasons", "3", "--batch-rows", "400")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["reasons"] == {"per_row": 3, "method": "tree_shap", "output": "probability"}
    got = read(partition(out, "2025-01-31"))
    # the version mlgate train registered: preprocessing + RandomForestClassifier, as the demo trains it
    model = Registry(scoring["repo"], scoring["uri"]).load_model("credit", scoring["version"])
    frame = scoring["frame"].sort_values("application_id").reset_index(drop=True)
    x = frame[FEATURES].copy()
    for column in ("housing", "saving_accounts", "checking_account", "purpose"):
        x[column] = x[column].where(x[column].notna(), np.nan)
    tree = shap.TreeExplainer(model[-1])
    encoded = np.asarray(model[:-1].transform(x), dtype=np.float32)
    expected = _by_input(tree.shap_values(encoded)[:, :, 1], list(model[:-1].get_feature_names_out()))
    np.testing.assert_allclose(got["reason_base_value"], tree.expected_value[1], rtol=0, atol=1e-12)
    # each row's three largest input contributions, in order, each equal to TreeExplainer's to 1e-9
    order = np.argsort(-np.abs(expected), axis=1, kind="stable")[:, :3]
    for rank in range(3):
        features = [FEATURES[j] for j in order[:, rank]]
        assert got[f"reason_{rank + 1}_feature"].tolist() == features
        want = expected[np.arange(len(x)), order[:, rank]]
        np.testing.assert_allclose(got[f"reason_{rank + 1}_contribution"], want, rtol=0, atol=1e-9)
        values = [None if pd.isna(v) else str(v) for v in (x.at[i, f] for i, f in enumerate(features))]
        assert got[f"reason_{rank + 1}_value"].tolist() == values
    # base value + every input's contribution = the probability of the positive class, to 1e-9
    np.testing.assert_allclose(tree.expected_value[1] + expected.sum(axis=1), got["probability_1"], rtol=0, atol=1e-9)
    # the rest of the output is what scoring without reasons writes
    plain = pandas_run["frame"]
    pd.testing.assert_frame_equal(got[plain.columns[:-1]], plain[plain.columns[:-1]], check_exact=True)


def test_reasons_on_the_spark_engine_and_out_of_range_are_exit_2(scoring: dict[str, Any]) -> None:
    out = scoring["base"] / "out-reasons-spark"
    done = score(scoring, out, "--engine", "spark", "--reasons", "2")
    assert done.exit_code == 2, done.output
    assert "--reasons is not available on the Spark engine" in done.stderr
    assert not out.exists()
    done = score(scoring, out, "--reasons", "0")
    assert done.exit_code == 2
    assert "--reasons" in done.stderr


def test_reasons_without_shap_exit_2_naming_the_extra_and_write_nothing(
    scoring: dict[str, Any], tmp_path: Path
) -> None:
    import subprocess
    import sys

    from test_extras import BLOCKER

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "MLGATE_TEST_UNINSTALLED": "shap", "MLFLOW_TRACKING_URI": scoring["uri"]}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH", "")]))
    out = tmp_path / "out"
    command = [str(Path(sys.executable).with_name("mlgate")), "score", "credit", "--stage", "staging"]
    command += ["--input", str(scoring["inputs"] / "batch.parquet"), "--output", str(out), "--id-column"]
    command += ["application_id", "--reasons", "3"]
    done = subprocess.run(
        command, cwd=scoring["repo"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "'shap'" in done.stderr
    assert "pip install 'mlgate[shap]'" in done.stderr
    assert "bug in mlgate" not in done.stderr
    assert not (out / "model=credit").exists() or not any((out / "model=credit").rglob("*.parquet"))
