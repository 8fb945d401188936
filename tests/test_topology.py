"""A team's set-up end to end: MLflow on PostgreSQL with S3 artifacts behind basic auth, DVC on S3.

Every part is a real server process (mlgate_devkit.topology): PostgreSQL (MLflow's store, its
user store and the serving audit store), moto's S3 API with IAM keys enforced (MLflow's artifacts
and the DVC remote, one bucket) and ``mlflow server --app-name basic-auth`` with proxied
artifacts. Every mlgate command runs as a separate process with only environment credentials
(``AWS_*``, ``MLFLOW_TRACKING_USERNAME/PASSWORD``), as a CI job would: the whole loop — data
from the S3 remote, train (mlgate's estimator and the team's own script), gate, report, promote,
score, serve, monitor — and then the facts: where the bytes are, what the database holds, that the
served bytes are the gated ones, that no output shows a secret, and that a wrong credential is
exit 3 naming the variable to check.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from conftest import copy_repo, dvc, git
from mlgate.registry import Registry
from mlgate_devkit.postgres import Cluster
from mlgate_devkit.s3 import S3Server, start_s3_server
from mlgate_devkit.serve_process import start_serve
from mlgate_devkit.topology import Topology, create_database, start_topology

pytestmark = [pytest.mark.server, pytest.mark.slow]

MLGATE = str(Path(sys.executable).with_name("mlgate"))
FEATURES = ["credit_amount", "duration", "age", "job", "housing", "saving_accounts", "checking_account", "purpose"]
TOKEN = "topology-caller-7d2e9a41c5b3f806"
ROLLBACK = "  rollback_procedure: revert the promotion PR; mlgate moves the production alias back\n"
ESTIMATOR = "estimator:\n  class: sklearn.ensemble.RandomForestClassifier\n"
OWN_SCRIPT = '''"""The team's own training script: reads what mlgate passes, logs one model into mlgate's run."""
import json, os

import mlflow
import pandas as pd
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

features = json.loads(os.environ["MLGATE_FEATURES"])
train = pd.read_csv(os.environ["MLGATE_DATA_TRAIN"])
for column in features["categorical"]:
    train[column] = train[column].astype(str)
cols = features["numeric"] + features["categorical"]
prep = ColumnTransformer(
    [("num", StandardScaler(), features["numeric"]),
     ("cat", OneHotEncoder(handle_unknown="ignore"), features["categorical"])]
)
model = Pipeline([("prep", prep), ("lr", LogisticRegression(max_iter=500))])
model.fit(train[cols], train[os.environ["MLGATE_TARGET"]])
with mlflow.start_run():
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    mlflow.sklearn.log_model(
        model, name="model", serialization_format="skops", skops_trusted_types=trusted,
        input_example=train[cols].head(3),
    )
'''


def have_tools() -> None:
    """The S3 server and clients are the `test` and `s3` extras: skip without them, fail under CI=true."""
    missing = [m for m in ("moto", "boto3", "dvc_s3", "flask_wtf") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"the team topology needs {', '.join(missing)} (pip install -e '.[test]' -c constraints.txt)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Team:
    """The running set-up, the repos, and everything mlgate printed or wrote (for the secrets check)."""

    topo: Topology
    s3: S3Server
    postgres: Cluster
    origin: Path
    work: Path
    base: Path
    audit_url: str
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    timings: list[tuple[str, float]] = field(default_factory=list)

    def mlgate(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``mlgate ARGS`` as its own process in the work repo, credentials from the environment only."""
        started = time.monotonic()
        done = subprocess.run(
            [MLGATE, *args],
            cwd=cwd or self.work,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        self.outputs += [done.stdout, done.stderr]
        self.timings.append((args[0], round(time.monotonic() - started, 1)))
        return done

    def ok(self, *args: str) -> dict[str, Any]:
        """``mlgate ARGS --json -`` that must exit 0 (1 allowed for a gate that blocks); its JSON."""
        done = self.mlgate(*args, "--json", "-")
        assert done.returncode == 0, f"mlgate {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout)


def secrets_of(team: Team) -> dict[str, str]:
    return {"MLflow password": team.topo.admin_password, "AWS secret": team.s3.credentials.secret_access_key}


def add_own_model(repo: Path) -> None:
    """credit-own: credit's spec trained by the team's own script (train: {command: ...})."""
    spec = (repo / "models" / "credit" / "model.yaml").read_text().replace("name: credit\n", "name: credit-own\n")
    spec = spec.replace(ESTIMATOR, f"train:\n  command: {sys.executable} train_own.py\n  timeout_minutes: 5\n")
    (repo / "models" / "credit-own").mkdir()
    (repo / "models" / "credit-own" / "model.yaml").write_text(spec)
    (repo / "train_own.py").write_text(OWN_SCRIPT)


@pytest.fixture(scope="module")
def team(template_repo: Path, postgres: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """The servers, and a governed repo whose DVC remote is the bucket; a clone of it to work in."""
    have_tools()
    base = tmp_path_factory.mktemp("topology")
    s3 = start_s3_server(base / "s3")
    topo = None
    try:
        topo = start_topology(base / "mlflow", postgres, s3)
        audit_db = create_database(postgres, "audit").replace("postgresql+psycopg://", "postgresql://")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_TRACKING_"))}
        env |= topo.client_env()
        origin = copy_repo(template_repo, base / "origin")
        # the team's remote: the bucket, its endpoint in the committed config, the key from the environment
        dvc("remote", "add", "-d", "-f", "team", topo.dvc_remote, cwd=origin)
        dvc("remote", "modify", "team", "endpointurl", s3.url, cwd=origin)
        add_own_model(origin)
        spec = origin / "models" / "credit" / "model.yaml"
        spec.write_text(spec.read_text().replace(ROLLBACK, ROLLBACK + f"  sources:\n    audit_url: {audit_db}\n"))
        git("add", "-A", cwd=origin)
        git("commit", "-qm", "the team's servers: DVC on S3, an audited service, credit-own", cwd=origin)
        command = [sys.executable, "-m", "dvc", "push", "-q"]
        pushed = subprocess.run(command, cwd=origin, env=env, capture_output=True, text=True, check=False)
        assert pushed.returncode == 0, pushed.stderr
        work = base / "work"
        git("clone", "-q", str(origin), str(work), cwd=base)
        with pytest.MonkeyPatch.context() as mp:  # this process's own reads (Registry in the assertions)
            for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
                mp.setenv(key, env[key])
            yield Team(topo, s3, postgres, origin, work, base, audit_db, env)
    finally:
        if topo is not None:
            topo.stop()
        s3.stop()


@pytest.fixture(scope="module")
def loop(team: Team) -> Team:
    """The whole loop, each step a separate `mlgate` process against the team's servers."""
    work, facts = team.work, team.facts
    assert not (work / "data" / "german_credit.csv").exists()  # a fresh clone: the data is in S3 only
    facts["pull"] = team.ok("pull", "credit", "credit-own")
    facts["trained"] = {name: team.ok("train", name) for name in ("credit", "credit-own")}
    facts["gated"] = {}
    for name in ("credit", "credit-own"):
        verdict = team.base / f"verdict-{name}.json"
        done = team.mlgate("gate", name, "--json", str(verdict))
        assert done.returncode in (0, 1), done.stderr
        facts["gated"][name] = json.loads(verdict.read_text())
        report = team.base / f"report-{name}.md"
        shown = team.mlgate("report", name, "--verdict", str(verdict), "--markdown", str(report))
        assert shown.returncode == 0, shown.stderr
        team.outputs += [verdict.read_text(), report.read_text()]
    version = facts["trained"]["credit"]["version"]
    facts["proposed"] = team.ok("propose-promotion", "credit", "--version", str(version), "--stage", "staging")
    git("commit", "-qam", f"promote credit v{version} to staging", cwd=work)
    facts["applied"] = team.ok("promote", "--apply", "--no-github")
    batch = team.base / "batch.csv"
    pd.read_csv(work / "data" / "german_credit.csv")[FEATURES].iloc[:40].to_csv(batch, index=False)
    facts["scored"] = team.ok(
        "score", "credit", "--stage", "staging", "--input", str(batch), "--output", str(team.base / "scores")
    )
    log = team.base / "serve.log"
    served = start_serve(
        work,
        "credit",
        "staging",
        log,
        "--audit-url",
        team.audit_url,
        "--json",
        str(team.base / "serve.json"),
        env=team.env | {"MLGATE_SERVE_TOKENS": f"alice {TOKEN}"},
    )
    try:
        rows = json.loads(pd.read_csv(work / "data" / "german_credit.csv")[FEATURES].to_json(orient="records"))
        answers = []
        for start in range(0, 200, 50):
            got = httpx.post(
                served.url + "/invocations",
                json={"dataframe_records": rows[start : start + 50]},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            )
            assert got.status_code == 200, got.text
            answers.append(got.json())
        facts["answers"] = answers
    finally:
        served.stop()
    team.outputs += [log.read_text(), (team.base / "serve.json").read_text()]
    facts["served"] = json.loads((team.base / "serve.json").read_text())
    done = team.mlgate("monitor", "credit", "--stage", "staging", "--since", "1h", "--json", "-")
    assert done.returncode in (0, 1), done.stderr
    facts["monitored"] = json.loads(done.stdout)
    print("seconds per mlgate process:", team.timings)
    return team


def s3_digest(team: Team, model_id: str) -> str:
    """The manifest digest (mlgate.registry.folder_digest's format) of a logged model's files, read from S3 itself."""
    client = team.s3.client()
    keys = [k for k in team.s3.keys("mlflow/") if f"/models/{model_id}/artifacts/" in k]
    assert keys, f"no artifact of {model_id} in the bucket"
    files = {}
    for key in keys:
        body = client.get_object(Bucket=team.s3.bucket, Key=key)["Body"].read()
        files[key.split("/artifacts/", 1)[1]] = hashlib.sha256(body).hexdigest()
    manifest = "".join(f"{sha}  {rel}\n" for rel, sha in sorted(files.items()))
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def test_the_data_comes_from_the_s3_remote(loop: Team) -> None:
    md5 = yaml.safe_load((loop.work / "data" / "german_credit.csv.dvc").read_text())["outs"][0]["md5"]
    assert f"dvc/files/md5/{md5[:2]}/{md5[2:]}" in loop.s3.keys("dvc/")
    assert hashlib.md5((loop.work / "data" / "german_credit.csv").read_bytes()).hexdigest() == md5
    [pulled] = loop.facts["pull"]["credit"]
    assert pulled["action"] == "pulled"


def test_both_ways_of_training_register_into_postgresql_with_artifacts_in_s3(loop: Team) -> None:
    import psycopg

    trained = loop.facts["trained"]
    registry = Registry(loop.work, loop.topo.url)
    for name, lineage in (("credit", "mlgate"), ("credit-own", "command")):
        mv = registry.version(name, trained[name]["version"])
        assert mv.tags["mlgate.lineage"] == lineage
        assert mv.tags["mlgate.train.complete"]
        model_id = mv.source.removeprefix("models:/")
        # the bytes in the bucket are the ones registration recorded
        assert s3_digest(loop, model_id) == mv.tags["mlgate.artifact.digest"]
    url = loop.topo.backend.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT name, version FROM model_versions ORDER BY name, version").fetchall()
        aliases = conn.execute("SELECT name, alias, version FROM registered_model_aliases").fetchall()
    assert rows == [("credit", trained["credit"]["version"]), ("credit-own", trained["credit-own"]["version"])]
    assert ("credit", "staging", trained["credit"]["version"]) in aliases
    # nothing fell back to the embedded store or a local artifact folder
    for repo in (loop.work, loop.origin):
        assert not (repo / "mlflow.db").exists()
        assert not (repo / "mlartifacts").exists()


def test_the_gated_promoted_scored_and_served_bytes_are_the_same(loop: Team) -> None:
    version = loop.facts["trained"]["credit"]["version"]
    verdict = loop.facts["gated"]["credit"]
    assert verdict["version"] == version
    pinned = yaml.safe_load((loop.work / "models" / "credit" / "release.yaml").read_text())["stages"]["staging"]
    assert pinned == {"version": version, "digest": verdict["artifact"]["digest"]}
    [change] = loop.facts["applied"]["changes"]
    assert (change["stage"], change["desired"], change["outcome"]) == ("staging", version, "applied")
    model_id = Registry(loop.work, loop.topo.url).version("credit", version).source.removeprefix("models:/")
    assert s3_digest(loop, model_id) == pinned["digest"]
    assert loop.facts["served"]["version"] == version
    assert {a["version"] for a in loop.facts["answers"]} == {version}
    assert loop.facts["scored"]["version"] == version
    # the verdict itself is an artifact in the bucket, on the version's run
    assert any("/mlgate/verdicts/" in k for k in loop.s3.keys("mlflow/"))


def test_monitor_reads_the_postgresql_audit_store_the_service_wrote(loop: Team) -> None:
    import psycopg

    monitored = loop.facts["monitored"]
    assert monitored["rows"] == 200
    with psycopg.connect(loop.audit_url) as conn:
        [(requests, rows)] = conn.execute("SELECT count(DISTINCT request_id), count(*) FROM mlgate_predictions")
    assert (requests, rows) == (4, 200)
    runs = Registry(loop.work, loop.topo.url).monitoring_history("credit", "staging")
    assert len(runs) == 1


def test_no_output_shows_a_secret(loop: Team) -> None:
    assert len(loop.outputs) > 20
    for what, secret in secrets_of(loop).items():
        leaked = [i for i, text in enumerate(loop.outputs) if secret in text]
        assert leaked == [], f"the {what} appears in outputs {leaked}"
        for path in loop.base.rglob("*"):
            if path.is_file() and path.suffix in (".json", ".md", ".html", ".log", ".txt", ".yaml"):
                if "mlflow" in path.relative_to(loop.base).parts[0:1] or path.name == "moto.log":
                    continue  # the servers' own folders: not mlgate's output
                assert secret not in path.read_text(errors="replace"), f"the {what} is in {path}"


# --- credentials: from the environment, never shown, a wrong one is exit 3 naming the variable ---------------


WRONG = "wrong-secret-0e7c91d4b2a86f35"


def without_credentials(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}


def with_userinfo(url: str, user: str, password: str) -> str:
    return url.replace("http://", f"http://{user}:{password}@", 1)


@pytest.mark.parametrize(
    ("case", "named"),
    [
        ("password", "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"),
        ("userinfo", "the user:password in MLFLOW_TRACKING_URI"),
        ("none", "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"),
    ],
)
def test_a_wrong_mlflow_credential_is_exit_3_naming_the_variable(team: Team, case: str, named: str) -> None:
    env = without_credentials(team.env)
    if case == "password":
        env |= {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": WRONG}
    elif case == "userinfo":
        env["MLFLOW_TRACKING_URI"] = with_userinfo(team.topo.url, "admin", WRONG)
    done = team.mlgate("status", "--json", "-", env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "refused the credentials (HTTP 401 UNAUTHENTICATED)" in said
    assert named in said
    assert WRONG not in said
    assert team.topo.admin_password not in said
    assert "bug in mlgate" not in said


def test_a_tracking_uri_with_the_password_in_it_works_and_is_never_shown(loop: Team) -> None:
    env = without_credentials(loop.env) | {
        "MLFLOW_TRACKING_URI": with_userinfo(loop.topo.url, "admin", loop.topo.admin_password)
    }
    done = loop.mlgate("status", "--json", "-", env=env)
    assert done.returncode == 0, done.stderr
    [row] = [r for r in json.loads(done.stdout) if r["model"] == "credit" and r["stage"] == "staging"]
    assert row["status"] == "Synced"
    assert loop.topo.admin_password not in done.stdout + done.stderr


def test_a_wrong_aws_secret_for_the_dvc_remote_is_exit_3_naming_the_variables(team: Team) -> None:
    clone = team.base / "clone-wrong-key"
    git("clone", "-q", str(team.origin), str(clone), cwd=team.base)
    done = team.mlgate("pull", "credit", env=team.env | {"AWS_SECRET_ACCESS_KEY": WRONG}, cwd=clone)
    said = done.stdout + done.stderr
    assert done.returncode == 3, said
    assert "S3 refused the AWS credentials" in said
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in said
    assert WRONG not in said
    assert team.s3.credentials.secret_access_key not in said
    assert not (clone / "data" / "german_credit.csv").exists()


# --- a server that hands out s3:// artifact locations: clients write S3 themselves -----------------------------


@pytest.fixture(scope="module")
def direct(team: Team) -> Iterator[dict[str, Any]]:
    """A second MLflow server on the same PostgreSQL and bucket, with ``--default-artifact-root s3://``."""
    # the same admin password as the proxied server's: this process's own Registry reads both
    topo = start_topology(
        team.base / "mlflow-direct", team.postgres, team.s3, proxied=False, password=team.topo.admin_password
    )
    try:
        env = team.env | topo.client_env()
        repo = copy_repo(team.work, team.base / "direct")
        done = team.mlgate("train", "credit", "--json", "-", env=env, cwd=repo)
        assert done.returncode == 0, done.stderr
        yield {"topo": topo, "env": env, "repo": repo, "version": json.loads(done.stdout)["version"]}
    finally:
        topo.stop()


def test_clients_of_a_server_without_proxied_artifacts_write_s3_themselves(team: Team, direct: dict[str, Any]) -> None:
    mv = Registry(direct["repo"], direct["topo"].url).version("credit", direct["version"])
    model_id = mv.source.removeprefix("models:/")
    keys = team.s3.keys("mlflow_direct/")
    assert any(f"/models/{model_id}/artifacts/model.skops" in k for k in keys), keys
    # the server never saw an artifact: no proxied artifact request in its log
    assert "/mlflow-artifacts/" not in (team.base / "mlflow-direct" / "server.log").read_text()


def test_a_wrong_aws_secret_for_mlflows_artifacts_is_exit_3_naming_the_variables(
    team: Team, direct: dict[str, Any]
) -> None:
    env = direct["env"] | {"AWS_SECRET_ACCESS_KEY": WRONG}
    done = team.mlgate("gate", "credit", "--json", "-", env=env, cwd=direct["repo"])
    said = done.stdout + done.stderr
    assert done.returncode == 3, said
    assert "S3 refused the AWS credentials (SignatureDoesNotMatch)" in said
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in said
    assert WRONG not in said


def test_without_boto3_a_client_of_s3_artifacts_is_told_the_extra(team: Team, direct: dict[str, Any]) -> None:
    from test_extras import BLOCKER

    site = team.base / "no-boto3"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = direct["env"] | {"MLGATE_TEST_UNINSTALLED": "boto3", "PYTHONPATH": str(site)}
    done = team.mlgate("gate", "credit", "--json", "-", env=env, cwd=direct["repo"])
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "pip install 'mlgate[s3]'" in said
    assert "'boto3'" in said


def test_a_read_only_mlflow_user_writing_is_exit_3_saying_the_permission(loop: Team) -> None:
    from mlflow.server import get_app_client

    reader = "reader-4c1f0b9e2d7a"
    get_app_client("basic-auth", tracking_uri=loop.topo.url).create_user(username="serve-job", password=reader)
    env = loop.env | {"MLFLOW_TRACKING_USERNAME": "serve-job", "MLFLOW_TRACKING_PASSWORD": reader}
    done = loop.mlgate("gate", "credit", "--json", "-", env=env)
    said = done.stdout + done.stderr
    assert done.returncode == 3, said
    assert "HTTP 403 PERMISSION_DENIED" in said
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD is valid but lacks this permission" in said
    assert reader not in said
