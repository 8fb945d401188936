"""A team's set-up on one machine: MLflow on PostgreSQL with S3 artifacts, behind basic auth, and an S3 bucket.

Every part is a real server process on 127.0.0.1:

- PostgreSQL (:mod:`mlgate_devkit.postgres`) holds MLflow's tracking and registry store (database
  ``mlflow``) and the basic-auth user store (database ``mlflow_auth``);
- an S3 API (:mod:`mlgate_devkit.s3`, moto's server, IAM keys enforced) holds MLflow's artifacts
  under ``s3://<bucket>/mlflow`` and the DVC remote under ``s3://<bucket>/dvc``;
- ``mlflow server --app-name basic-auth`` in front of both. With ``proxied`` (the default, what
  most teams run) the server reads and writes S3 itself (``--artifacts-destination``): clients
  hold only an MLflow credential. Without it (``--default-artifact-root``) clients get
  ``s3://`` artifact locations and write S3 with their own ``AWS_*`` key and boto3.

Used by tests/test_topology.py; docs/deploy.md describes the same set-up for a real team.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlgate_devkit.mlflow_server import start_mlflow_server, stop_mlflow_server
from mlgate_devkit.postgres import Cluster
from mlgate_devkit.s3 import S3Server

ADMIN = "admin"


def create_database(cluster: Cluster, name: str) -> str:
    """``CREATE DATABASE name`` on ``cluster``; its SQLAlchemy URL with the psycopg 3 driver."""
    import psycopg

    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/{name}"


@dataclass
class Topology:
    """The running set-up: the MLflow URL, its admin's password, the S3 server and the server process."""

    url: str
    admin_password: str
    s3: S3Server
    backend: str
    proc: subprocess.Popen[bytes]
    proxied: bool

    @property
    def artifact_root(self) -> str:
        """Where MLflow keeps artifacts in the bucket."""
        return f"s3://{self.s3.bucket}/mlflow"

    @property
    def dvc_remote(self) -> str:
        """The DVC remote's URL in the same bucket."""
        return f"s3://{self.s3.bucket}/dvc"

    def client_env(self, password: str | None = None) -> dict[str, str]:
        """What an mlgate job's environment holds: the tracking URI, its credential, the S3 key and endpoint.

        A proxied server needs no S3 key to reach MLflow's artifacts; the key is still there for the
        DVC remote (and for clients of a non-proxied server).
        """
        return self.s3.env() | {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": ADMIN,
            "MLFLOW_TRACKING_PASSWORD": self.admin_password if password is None else password,
        }

    def stop(self) -> None:
        """Stop the MLflow server (the S3 server and the cluster belong to the caller)."""
        stop_mlflow_server(self.proc)


def start_topology(
    base: Path, cluster: Cluster, s3: S3Server, *, proxied: bool = True, password: str | None = None
) -> Topology:
    """Databases on ``cluster``, then ``mlflow server --app-name basic-auth`` over them and ``s3``'s bucket.

    The admin's password is ``password``, else random (MLflow ships none; ``MLFLOW_AUTH_ADMIN_PASSWORD``
    sets it when the user store is created).
    """
    base.mkdir(parents=True, exist_ok=True)
    suffix = "" if proxied else "_direct"
    backend = create_database(cluster, f"mlflow{suffix}")
    auth_db = create_database(cluster, f"mlflow_auth{suffix}")
    password = password or secrets.token_hex(12)
    ini = base / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {auth_db}\n"
        f"admin_username = {ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # each request's password is checked with PBKDF2 (about a second on a busy 2-core runner);
        # a verified credential is cached for a minute, as docs/deploy.md recommends
        "auth_cache_ttl_seconds = 60\n"
    )
    root = f"s3://{s3.bucket}/mlflow{suffix}"
    env = s3.env() | {
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
        # the auth app's CSRF key for its UI forms (the same on every server of one deployment)
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    url, proc = start_mlflow_server(
        base, backend=backend, artifacts=root, proxied=proxied, env=env, app_name="basic-auth"
    )
    return Topology(url, password, s3, backend, proc, proxied)
