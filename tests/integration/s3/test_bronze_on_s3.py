"""The s3a path for real: the bronze job writes its Delta table and checkpoint to an S3 server.

`python consumer_lake.py --once` runs as its own process (its own SparkSession, configured for the
s3a lake by lakehouse.spark.session as in compose: endpoint, path-style access, AWS SDK v2
credentials), against MinIO on this machine; delta-rs then reads the table straight from S3.
The first run is local mode (`local[*]`, jars through spark.jars); the second resumes from the same
S3 checkpoint on a standalone cluster started from an image-style SPARK_HOME, with the settings the
compose spark-bronze container gets (jars from Spark's own folder, a core cap, the driver host).
"""

from __future__ import annotations

import os
import subprocess
import sys

from confluent_kafka import Producer

from lakehouse.settings import Settings
from tests.integration.s3.conftest import S3Server, SparkCluster
from tests.utils.compose_model import REPO
from tests.utils.trades import make_trade

LAKE_PREFIX = "lake"


def _produce(bootstrap: str, topic: str, first: int, count: int) -> dict[tuple[int, int], bytes]:
    """Produce canonical trades; {(partition, offset): value} as Kafka acknowledged them."""
    acked: dict[tuple[int, int], bytes] = {}

    def on_delivery(error, message) -> None:
        assert error is None, error
        acked[(message.partition(), message.offset())] = message.value()

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for n in range(first, first + count):
        trade = make_trade(n, symbol=("BTCUSDT", "ETHUSDT", "SOLUSDT")[n % 3])
        producer.produce(topic, key=trade.kafka_key(), value=trade.to_json_bytes(), on_delivery=on_delivery)
    assert producer.flush(30) == 0
    assert len(acked) == count
    return acked


def _run_bronze_once(
    infra: Settings, s3: S3Server, topic: str, cluster: SparkCluster | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # Compose's settings for the lake (docker mode: secrets must be explicit), on this MinIO.
        "LAKEHOUSE_ENV": "docker",
        "LAKEHOUSE_LAKE_URI": f"s3a://{s3.bucket}/{LAKE_PREFIX}",
        "LAKEHOUSE_S3_ENDPOINT": s3.endpoint,
        "LAKEHOUSE_S3_ACCESS_KEY": s3.access_key,
        "LAKEHOUSE_S3_SECRET_KEY": s3.secret_key,
        "LAKEHOUSE_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    env.pop("LAKEHOUSE_CHECKPOINT_URI", None)  # so the checkpoint lives in the bucket too
    if cluster is not None:
        # What docker-compose.yaml gives spark-bronze (there with spark-bronze as the driver host).
        env |= {
            "SPARK_HOME": str(cluster.spark_home),
            "LAKEHOUSE_SPARK_MASTER": cluster.master_url,
            "LAKEHOUSE_SPARK_JARS_LOCAL": "0",
            "PYSPARK_SUBMIT_ARGS": "--conf spark.driver.host=127.0.0.1 --conf spark.cores.max=1 "
            "--conf spark.executor.memory=512m pyspark-shell",
        }
    return subprocess.run(
        [sys.executable, "consumer_lake.py", "--once", "--topic", topic],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _bronze(s3: S3Server):
    from deltalake import DeltaTable

    return DeltaTable(f"s3://{s3.bucket}/{LAKE_PREFIX}/bronze/trades", storage_options=s3.storage_options())


def test_bronze_job_writes_delta_to_s3_exactly_once_across_restarts(
    infra, topic, s3_server: S3Server, spark_cluster: SparkCluster
) -> None:
    first = _produce(infra.kafka_bootstrap, topic, 0, 30)
    run = _run_bronze_once(infra, s3_server, topic)
    assert run.returncode == 0, run.stderr[-4000:]

    rows = _bronze(s3_server).to_pyarrow_table().to_pylist()
    assert {(r["partition"], r["offset"]): r["value"] for r in rows} == first
    assert len(rows) == 30 and {r["topic"] for r in rows} == {topic}

    # A second run, on the cluster, resumes from the checkpoint stored in S3: only new records are added.
    second = _produce(infra.kafka_bootstrap, topic, 30, 12)
    run = _run_bronze_once(infra, s3_server, topic, spark_cluster)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "bronze-trades" in spark_cluster.applications()["completedapps"], "the job did not run on the cluster"
    table = _bronze(s3_server)
    rows = table.to_pyarrow_table().to_pylist()
    assert len(rows) == 42
    assert {(r["partition"], r["offset"]): r["value"] for r in rows} == first | second
    assert {r["key"] for r in rows} == {b"BTCUSDT", b"ETHUSDT", b"SOLUSDT"}
    assert table.metadata().partition_columns == ["ingest_date"]

    # Everything, table and streaming state, is in the bucket: nothing went to a local folder.
    keys = s3_server.keys(f"{LAKE_PREFIX}/")
    assert any(k.startswith(f"{LAKE_PREFIX}/bronze/trades/_delta_log/") and k.endswith(".json") for k in keys)
    assert any(k.startswith(f"{LAKE_PREFIX}/_checkpoints/bronze_trades/offsets/") for k in keys)
    assert any(k.endswith(".parquet") for k in keys)
