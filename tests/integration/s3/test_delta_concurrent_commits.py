"""Several Spark drivers commit to one s3a Delta table safely (io.lakehouse.delta.S3ConditionalPutLogStore).

In compose, spark-bronze, spark-silver and the lake_maintenance DAG are three drivers committing to the
same tables on MinIO. Delta's S3SingleDriverLogStore only excludes writers inside one JVM, so two
drivers can both write `_delta_log/N.json` and one commit is silently lost. Our log store commits with
a conditional PUT (If-None-Match: *), checked by MinIO under its object lock: these tests run it
against the real MinIO server of the s3 fixtures, each driver its own process (local[1], 512 MB).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.integration.s3.conftest import S3Server
from tests.utils.compose_model import REPO

log = logging.getLogger(__name__)

LOG_STORE = "io.lakehouse.delta.S3ConditionalPutLogStore"
COMMITS_PER_WRITER = 12


def _env(s3: S3Server) -> dict[str, str]:
    return {
        **os.environ,
        "LAKEHOUSE_ENV": "docker",
        "LAKEHOUSE_LAKE_URI": f"s3a://{s3.bucket}/lake",
        "LAKEHOUSE_S3_ENDPOINT": s3.endpoint,
        "LAKEHOUSE_S3_ACCESS_KEY": s3.access_key,
        "LAKEHOUSE_S3_SECRET_KEY": s3.secret_key,
        "LAKEHOUSE_SPARK_MASTER": "local[1]",
        "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "1",
        "LAKEHOUSE_SPARK_DRIVER_MEMORY": "512m",
    }


def _writer(s3: S3Server, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.s3.delta_writer", *args],
        cwd=REPO, env=_env(s3), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _result(process: subprocess.Popen[str], timeout: float = 600) -> dict:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"driver failed:\n{out[-2000:]}\n{err[-4000:]}"
    (line,) = [line for line in out.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def test_log_store_refuses_a_second_commit_of_the_same_version(s3_server: S3Server) -> None:
    table = f"s3a://{s3_server.bucket}/probe-{uuid.uuid4().hex[:8]}"
    facts = _result(_writer(s3_server, "probe", table))
    log.info("log store probe: %s", facts)
    assert facts["store"] == LOG_STORE  # what Delta resolves for s3a:// tables
    assert facts["second_write"] == "java.nio.file.FileAlreadyExistsException"
    assert facts["content_after"] == ['{"commitInfo":{"writer":"first"}}']  # the first commit stands
    assert facts["same_bytes_rewrite"] == "succeeded"
    assert facts["overwrite_content"] == ['{"v":2}']
    assert facts["partial_write_visible"] is False
    # Two writers interleaved as two drivers can be (both pass every existence check, then both PUT):
    # with the conditional create the store refuses the second (412), the first commit stands.
    conditional = facts["interleaved"]["conditional"]
    assert conditional["second_close"] == "org.apache.hadoop.fs.s3a.RemoteFileChangedException"
    assert conditional["content"] == "first\n"


def test_two_drivers_appending_concurrently_lose_no_commit(s3_server: S3Server, tmp_path: Path) -> None:
    from deltalake import DeltaTable

    prefix = f"race-{uuid.uuid4().hex[:8]}"
    table = f"s3a://{s3_server.bucket}/{prefix}"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    common = ["--commits", str(COMMITS_PER_WRITER), "--barrier", str(barrier), "--parties", "2"]
    writers = [
        _writer(s3_server, "append", table, "--writer", "a", "--create", *common),
        _writer(s3_server, "append", table, "--writer", "b", *common),
    ]
    try:
        results = [_result(process) for process in writers]
    finally:
        for process in writers:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    assert sum(result["commits"] for result in results) == 2 * COMMITS_PER_WRITER

    commits = sorted(
        key.rsplit("/", 1)[1]
        for key in s3_server.keys(f"{prefix}/_delta_log/")
        if key.endswith(".json") and "/_delta_log/" in key and key.rsplit("/", 1)[1][:20].isdigit()
    )
    expected_versions = list(range(2 * COMMITS_PER_WRITER + 1))  # the CREATE, then one per append
    assert [int(name.removesuffix(".json")) for name in commits] == expected_versions
    # A commit whose transaction read an older snapshot than the version before it lost a race for a
    # version number (refused by the store) and was retried by Delta: how often the writers collided.
    client = s3_server.client()
    retried = 0
    for version in expected_versions[1:]:
        body = client.get_object(Bucket=s3_server.bucket, Key=f"{prefix}/_delta_log/{version:020d}.json")["Body"]
        info = next(json.loads(line)["commitInfo"] for line in body.read().splitlines() if b'"commitInfo"' in line)
        retried += int(info.get("readVersion", version - 1) < version - 1)
    log.info("%d of %d commits were retried after another driver took their version", retried, 2 * COMMITS_PER_WRITER)

    delta = DeltaTable(f"s3://{s3_server.bucket}/{prefix}", storage_options=s3_server.storage_options())
    assert delta.version() == 2 * COMMITS_PER_WRITER
    rows = delta.to_pyarrow_table().to_pylist()
    seen = sorted((row["writer"], row["seq"]) for row in rows)
    assert seen == sorted((writer, seq) for writer in "ab" for seq in range(COMMITS_PER_WRITER))
