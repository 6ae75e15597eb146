"""ops/minio/init.sh (the compose `minio-init` job), run for real with `mc` against a local MinIO.

After it, the two buckets exist and each of the three users can do what its services need and
nothing else: the lake writer reads, writes and deletes the lake; the lake reader lists and reads it;
the MLflow user reaches the MLflow bucket only. The MinIO root credentials stay with the init job.
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


def _user(s3: S3Server, name: str, bucket: str) -> S3Server:
    return S3Server(s3.endpoint, name, secrets.token_hex(16), bucket, s3.log_file)


def _denied(action) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError, match="AccessDenied"):
        action()


def test_init_gives_each_user_only_its_own_access(mc: Path, s3_server: S3Server, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:6]
    lake, artifacts = f"lake-{suffix}", f"mlflow-{suffix}"
    writer, reader = _user(s3_server, f"w-{suffix}", lake), _user(s3_server, f"r-{suffix}", lake)
    mlflow = _user(s3_server, f"m-{suffix}", artifacts)
    env = {
        "MINIO_ROOT_USER": s3_server.access_key,
        "MINIO_ROOT_PASSWORD": s3_server.secret_key,
        "S3_WRITER_ACCESS_KEY": writer.access_key,
        "S3_WRITER_SECRET_KEY": writer.secret_key,
        "S3_READER_ACCESS_KEY": reader.access_key,
        "S3_READER_SECRET_KEY": reader.secret_key,
        "S3_MLFLOW_ACCESS_KEY": mlflow.access_key,
        "S3_MLFLOW_SECRET_KEY": mlflow.secret_key,
        "LAKE_BUCKET": lake,
        "MLFLOW_BUCKET": artifacts,
    }
    for attempt in (1, 2):  # compose re-runs it on every `up`: the second run must succeed too
        result = _run_init(mc, s3_server, env, tmp_path)
        assert result.returncode == 0, f"run {attempt}: {result.stdout}{result.stderr}"

    for user, bucket in ((writer, lake), (mlflow, artifacts)):
        client = user.client()
        client.put_object(Bucket=bucket, Key="lake/probe.txt", Body=b"ok")
        assert client.get_object(Bucket=bucket, Key="lake/probe.txt")["Body"].read() == b"ok"
        client.delete_object(Bucket=bucket, Key="lake/probe.txt")
        _denied(lambda client=client: client.create_bucket(Bucket=f"new-{suffix}"))
        _denied(lambda client=client: client.put_object(Bucket=s3_server.bucket, Key="x", Body=b"not yours"))
    writer.client().put_object(Bucket=lake, Key="lake/kept.txt", Body=b"data")
    # The reader lists and reads the lake, and can neither change nor delete it.
    read = reader.client()
    assert read.get_object(Bucket=lake, Key="lake/kept.txt")["Body"].read() == b"data"
    assert [item["Key"] for item in read.list_objects_v2(Bucket=lake)["Contents"]] == ["lake/kept.txt"]
    _denied(lambda: read.put_object(Bucket=lake, Key="lake/kept.txt", Body=b"overwritten"))
    _denied(lambda: read.delete_object(Bucket=lake, Key="lake/kept.txt"))
    _denied(lambda: read.get_object(Bucket=artifacts, Key="anything"))
    # Each bucket's user is a stranger to the other bucket.
    _denied(lambda: writer.client().list_objects_v2(Bucket=artifacts))
    _denied(lambda: mlflow.client().get_object(Bucket=lake, Key="lake/kept.txt"))
    assert writer.client().get_object(Bucket=lake, Key="lake/kept.txt")["Body"].read() == b"data"


def test_init_stops_when_a_secret_is_missing(mc: Path, s3_server: S3Server, tmp_path: Path) -> None:
    result = _run_init(mc, s3_server, {"MINIO_ROOT_USER": "x"}, tmp_path)
    assert result.returncode != 0 and "MINIO_ROOT_PASSWORD" in result.stderr
