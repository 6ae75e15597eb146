"""A real S3-compatible server for the s3a lake: MinIO, built from its Go module on first use.

The binary is cached under `.lakehouse/tools/` (tests/static/go_tools.py), so only the first run on a
machine pays the build (about 5 minutes cold). Tests skip, saying why, only when it cannot be built.
"""

from __future__ import annotations

import secrets
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakehouse.local.processes import free_port, wait_until
from tests.static.go_tools import MINIO, GoToolUnavailable, ensure_go_tool


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    log_file: Path

    def storage_options(self) -> dict[str, str]:
        """delta-rs (`deltalake`) options for this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def client(self):  # boto3 S3 client
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def keys(self, prefix: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/minio/health/ready", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    try:
        binary = ensure_go_tool(MINIO)
    except GoToolUnavailable as error:
        pytest.skip(f"no S3-compatible server on this machine: {error}")
    root = tmp_path_factory.mktemp("minio")
    port, console = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{port}"
    access_key, secret_key = "lakehouse-test", secrets.token_hex(20)
    log_file = root / "minio.log"
    with open(log_file, "wb") as out:
        process = subprocess.Popen(
            [str(binary), "server", str(root / "data"), "--address", f"127.0.0.1:{port}",
             "--console-address", f"127.0.0.1:{console}"],
            env={"MINIO_ROOT_USER": access_key, "MINIO_ROOT_PASSWORD": secret_key, "HOME": str(root),
                 "PATH": "/usr/bin:/bin", "MINIO_BROWSER": "off", "MINIO_UPDATE": "off"},
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: process.poll() is None and _ready(endpoint), 60, "MinIO start", log_file)
        server = S3Server(endpoint, access_key, secret_key, f"lake-{uuid.uuid4().hex[:8]}", log_file)
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
