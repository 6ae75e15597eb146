"""ops/minio/init.sh (the compose `minio-init` job), run for real with `mc` against a local MinIO.

After it, the two buckets exist and the application user (the credentials every service gets) can
read and write them and nothing else; the MinIO root credentials stay with the init job.
"""

from __future__ import annotations

import secrets
import subprocess
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from lakehouse.airgap.go_tools import MINIO_CLIENT, GoToolUnavailable, ensure_go_tool
from tests.integration.s3.conftest import S3Server
from tests.utils.compose_model import REPO

SCRIPT = REPO / "ops" / "minio" / "init.sh"


@pytest.fixture(scope="module")
def mc() -> Path:
    try:
        return ensure_go_tool(MINIO_CLIENT)
    except GoToolUnavailable as error:
        pytest.skip(f"the MinIO client cannot be built here: {error}")


def _run_init(mc: Path, s3: S3Server, env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(SCRIPT)],
        env={"PATH": f"{mc.parent}:/usr/bin:/bin", "HOME": str(home), "MINIO_URL": s3.endpoint, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_init_creates_buckets_and_a_user_limited_to_them(mc: Path, s3_server: S3Server, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:6]
    app = S3Server(s3_server.endpoint, f"app-{suffix}", secrets.token_hex(16), f"lake-{suffix}", s3_server.log_file)
    env = {
        "MINIO_ROOT_USER": s3_server.access_key,
        "MINIO_ROOT_PASSWORD": s3_server.secret_key,
        "S3_ACCESS_KEY": app.access_key,
        "S3_SECRET_KEY": app.secret_key,
        "LAKE_BUCKET": app.bucket,
        "MLFLOW_BUCKET": f"mlflow-{suffix}",
    }
    for attempt in (1, 2):  # compose re-runs it on every `up`: the second run must succeed too
        result = _run_init(mc, s3_server, env, tmp_path)
        assert result.returncode == 0, f"run {attempt}: {result.stdout}{result.stderr}"

    client = app.client()
    for bucket in (app.bucket, f"mlflow-{suffix}"):
        client.put_object(Bucket=bucket, Key="lake/probe.txt", Body=b"ok")
        assert client.get_object(Bucket=bucket, Key="lake/probe.txt")["Body"].read() == b"ok"
        client.delete_object(Bucket=bucket, Key="lake/probe.txt")
    with pytest.raises(ClientError, match="AccessDenied"):
        client.put_object(Bucket=s3_server.bucket, Key="x", Body=b"not yours")
    with pytest.raises(ClientError, match="AccessDenied"):
        client.create_bucket(Bucket=f"new-{suffix}")


def test_init_stops_when_a_secret_is_missing(mc: Path, s3_server: S3Server, tmp_path: Path) -> None:
    result = _run_init(mc, s3_server, {"MINIO_ROOT_USER": "x"}, tmp_path)
    assert result.returncode != 0 and "MINIO_ROOT_PASSWORD" in result.stderr
