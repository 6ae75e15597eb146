"""A real S3-compatible server for the s3a lake, and a Spark standalone cluster shaped like compose's.

MinIO is built from its Go module on first use and cached under `.lakehouse/tools/`
(lakehouse/airgap/go_tools.py), so only the first run on a machine pays the build (about 5 minutes
cold). Tests skip, saying why, only when it cannot be built.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakehouse.airgap.go_tools import MINIO, GoToolUnavailable, ensure_go_tool
from lakehouse.local.processes import free_port, http_ok, serving, wait_until
from tests.utils.compose_model import REPO


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
    command = [str(binary), "server", str(root / "data"), "--address", f"127.0.0.1:{port}",
               "--console-address", f"127.0.0.1:{console}"]  # fmt: skip
    env = {"MINIO_ROOT_USER": access_key, "MINIO_ROOT_PASSWORD": secret_key, "HOME": str(root),
           "PATH": "/usr/bin:/bin", "MINIO_BROWSER": "off", "MINIO_UPDATE": "off"}  # fmt: skip
    with serving(command, f"{endpoint}/minio/health/ready", "MinIO", log_file, env=env):
        server = S3Server(endpoint, access_key, secret_key, f"lake-{uuid.uuid4().hex[:8]}", log_file)
        server.client().create_bucket(Bucket=server.bucket)
        yield server


@dataclass(frozen=True)
class SparkCluster:
    """A Spark standalone master + worker run from an image-style SPARK_HOME (see `spark_home`)."""

    master_url: str
    master_ui: str
    spark_home: Path

    def applications(self) -> dict[str, list[str]]:
        """Names of the running and completed applications, from the master's JSON status."""
        with urllib.request.urlopen(f"{self.master_ui}/json/", timeout=5) as response:
            status = json.load(response)
        return {kind: [app["name"] for app in status.get(kind, [])] for kind in ("activeapps", "completedapps")}

    def alive_workers(self) -> int:
        with urllib.request.urlopen(f"{self.master_ui}/json/", timeout=5) as response:
            return int(json.load(response).get("aliveworkers", 0))


@pytest.fixture(scope="module")
def spark_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What Dockerfile.spark builds: pyspark's Spark, plus the pinned jars filtered by install_jars.py.

    Spark's own files are linked, not copied; the added jars are copied by the image's own script.
    """
    import pyspark

    from lakehouse.local.jars import ensure_jars

    pyspark_dir = Path(pyspark.__file__).parent
    home = tmp_path_factory.mktemp("spark-home")
    (home / "bin").symlink_to(pyspark_dir / "bin")
    jars = home / "jars"
    jars.mkdir()
    for jar in (pyspark_dir / "jars").glob("*.jar"):
        (jars / jar.name).symlink_to(jar)
    result = subprocess.run(
        [sys.executable, str(REPO / "ops" / "spark" / "install_jars.py"), str(ensure_jars() / "spark"), str(jars)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return home


@pytest.fixture(scope="module")
def spark_cluster(spark_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCluster]:
    """The compose topology in miniature: `spark-class` Master and Worker, as the containers run them."""
    root = tmp_path_factory.mktemp("spark-cluster")
    port, master_ui_port, worker_ui_port = free_port(), free_port(), free_port()
    cluster = SparkCluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{master_ui_port}", spark_home)
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "SPARK_MASTER_OPTS": "-Dspark.deploy.defaultCores=1",
        "SPARK_WORKER_CORES": "2",
        "SPARK_WORKER_MEMORY": "1g",
        "SPARK_WORKER_DIR": str(root / "work"),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    spark_class = str(spark_home / "bin" / "spark-class")
    commands = {
        "master": [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                   "--webui-port", str(master_ui_port)],
        "worker": [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                   "--webui-port", str(worker_ui_port), cluster.master_url],
    }  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, command in commands.items():
            with open(root / f"{name}.log", "wb") as out:
                # Own session, so teardown stops the JVM that spark-class execs into.
                processes.append(
                    subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                )
            if name == "master":
                wait_until(lambda: http_ok(f"{cluster.master_ui}/json/"), 90, "Spark master", root / "master.log")
        wait_until(lambda: cluster.alive_workers() >= 1, 90, "Spark worker registration", root / "worker.log")
        yield cluster
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
