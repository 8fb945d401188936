"""A real S3 API server (moto's) as a process on 127.0.0.1, with IAM credentials it enforces.

``moto.server`` answers the S3 REST API over HTTP like any S3-compatible store (MinIO, Ceph, R2).
By default moto accepts any key; :func:`start_s3_server` makes it check them for real: while
moto still lets anonymous calls through, it creates an IAM user allowed ``s3:*``, an access key
for it and the bucket, then switches authentication on (moto's ``/moto-api/reset-auth`` sets its
``INITIAL_NO_AUTH_ACTION_COUNT`` to 0). From then on a request signed with another key or a wrong
secret gets S3's ``InvalidAccessKeyId`` / ``SignatureDoesNotMatch`` (HTTP 403), as on AWS.

Used by the team-topology test (tests/test_topology.py) with :mod:`mlgate_devkit.topology`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate_devkit.mlflow_server import log_size, wait_reported_url

REGION = "us-east-1"
WERKZEUG_STARTED = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")
"""The line moto's werkzeug server logs once it listens, with the port it bound (it is asked for port 0)."""
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


@dataclass(frozen=True)
class S3Credentials:
    """An access key of the S3 server's IAM user (what ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` hold)."""

    access_key_id: str
    secret_access_key: str

    def env(self) -> dict[str, str]:
        """The environment a client (boto3, MLflow, DVC) reads these from."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


@dataclass
class S3Server:
    """A running moto server: its endpoint URL, the bucket, the key it accepts, its process and log."""

    url: str
    bucket: str
    credentials: S3Credentials
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, credentials: S3Credentials | None = None) -> Any:
        """A boto3 S3 client of this endpoint (default: the accepted key)."""
        return _client(self.url, "s3", credentials or self.credentials)

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under ``prefix`` (all pages)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def env(self) -> dict[str, str]:
        """What MLflow and DVC clients read: the key, the region and the endpoint (``MLFLOW_S3_ENDPOINT_URL``)."""
        return self.credentials.env() | {"AWS_DEFAULT_REGION": REGION, "MLFLOW_S3_ENDPOINT_URL": self.url}

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL after 20 seconds."""
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _client(url: str, service: str, credentials: S3Credentials) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        # path-style addressing: the bucket in the path, as S3-compatible servers on one host expect
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def start_s3_server(base: Path, bucket: str = "mlgate") -> S3Server:
    """Start ``python -m moto.server`` on port 0 under ``base``; an IAM key, ``bucket``, then auth enforced.

    The anonymous set-up key (``setup``/``setup``) stops working as soon as auth is on: only the
    returned server's ``credentials`` sign requests moto accepts.
    """
    base.mkdir(parents=True, exist_ok=True)
    log = base / "moto.log"
    offset = log_size(log)
    # a clean AWS environment: the server must not pick up keys or profiles of the machine
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"AWS_DEFAULT_REGION": REGION}
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = S3Server("", bucket, S3Credentials("", ""), proc, log)
    try:
        server.url = wait_reported_url(log, offset, proc, WERKZEUG_STARTED, "moto server")
        setup = S3Credentials("setup", "setup")
        iam = _client(server.url, "iam", setup)
        iam.create_user(UserName="mlgate")
        iam.put_user_policy(UserName="mlgate", PolicyName="s3", PolicyDocument=json.dumps(POLICY))
        key = iam.create_access_key(UserName="mlgate")["AccessKey"]
        server.credentials = S3Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        _client(server.url, "s3", setup).create_bucket(Bucket=bucket)
        request = urllib.request.Request(
            f"{server.url}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 200, resp.read()
    except BaseException:
        server.stop()
        raise
    return server
