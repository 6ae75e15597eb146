"""Pipeline health probes outside PostgreSQL: Kafka consumer lag of the streaming jobs, quarantine volume.

Lag is the topic's end offsets minus the offsets in the streaming job's newest committed checkpoint
batch (Spark keeps its Kafka positions there, not in a consumer group). Both probes read the lake
as the jobs do: a local folder (file://) or MinIO/S3 (s3a://, through boto3 and delta-rs).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from lakehouse.settings import Settings

log = logging.getLogger(__name__)

STREAM_JOBS = {"bronze": "bronze_trades", "silver": "silver_trades"}


class HealthProbeError(RuntimeError):
    """A probe could not read what it needs (say which and why)."""


@dataclass(frozen=True)
class ConsumerLag:
    job: str
    batch_id: int | None  # newest committed micro-batch; None before the first one
    lag: int  # records in the topic the job has not processed yet
    partitions: int


def parse_offsets_file(text: str, topic: str) -> dict[int, int]:
    """Kafka positions of `topic` in a Spark checkpoint `offsets/<batch>` file.

    The file is "v1", a metadata JSON line, then one JSON line per source: {"topic": {"partition": offset}}.
    """
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith("v"):
        raise HealthProbeError("not a Spark checkpoint offsets file (no version line)")
    for line in lines[2:]:
        try:
            source = json.loads(line)
        except json.JSONDecodeError:
            continue  # another source kind (e.g. a file source's log)
        if isinstance(source, dict) and topic in source:
            return {int(partition): int(offset) for partition, offset in source[topic].items()}
    return {}


def lag_of(end_offsets: dict[int, int], positions: dict[int, int]) -> int:
    """Records behind: a partition missing from the checkpoint counts from its start (offset 0)."""
    return sum(max(end - positions.get(partition, 0), 0) for partition, end in end_offsets.items())


class _Folder:
    """List and read files under a checkpoint or table URI (file:// or s3a://)."""

    def __init__(self, settings: Settings, uri: str) -> None:
        self.settings, self.uri = settings, uri.rstrip("/")
        parts = urlsplit(self.uri)
        self.s3 = parts.scheme == "s3a"
        self.bucket, self.prefix = parts.netloc, parts.path.lstrip("/")
        self.path = Path(parts.path) if parts.scheme == "file" else None

    def _client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.settings.s3_endpoint,
            aws_access_key_id=self.settings.s3_access_key,
            aws_secret_access_key=self.settings.s3_secret_key,
            region_name="us-east-1",
        )

    def names(self, sub: str) -> list[str]:
        if self.path is not None:
            folder = self.path / sub
            return [p.name for p in folder.iterdir()] if folder.is_dir() else []
        if self.s3:
            prefix = f"{self.prefix}/{sub}/"
            pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return [item["Key"][len(prefix) :] for page in pages for item in page.get("Contents", [])]
        raise HealthProbeError(f"unsupported location {self.uri!r}")

    def read(self, sub: str) -> str:
        if self.path is not None:
            return (self.path / sub).read_text()
        body = self._client().get_object(Bucket=self.bucket, Key=f"{self.prefix}/{sub}")["Body"]
        return str(body.read().decode())


def newest_committed_batch(names: list[str]) -> int | None:
    batches = [int(name) for name in names if name.isdigit()]
    return max(batches) if batches else None


def checkpoint_positions(settings: Settings, job: str, topic: str) -> tuple[int | None, dict[int, int]]:
    """(newest committed batch id, its Kafka end positions) of a streaming job's checkpoint."""
    folder = _Folder(settings, f"{settings.checkpoints}/{STREAM_JOBS[job]}")
    batch = newest_committed_batch(folder.names("commits"))
    if batch is None:
        return None, {}
    return batch, parse_offsets_file(folder.read(f"offsets/{batch}"), topic)


def topic_end_offsets(bootstrap: str, topic: str, timeout_s: float = 5.0) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        # log_level 0: an unreachable broker is reported by the exception below, not by librdkafka's stderr.
        {
            "bootstrap.servers": bootstrap,
            "group.id": "lakehouse-dashboard-lag",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise HealthProbeError(f"Kafka topic {topic!r} not found at {bootstrap}")
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1]
            for p in sorted(metadata.partitions)
        }
    finally:
        consumer.close()


def consumer_lag(settings: Settings, job: str) -> ConsumerLag:
    topic = settings.kafka_topic
    end = topic_end_offsets(settings.kafka_bootstrap, topic)
    batch, positions = checkpoint_positions(settings, job, topic)
    return ConsumerLag(job=job, batch_id=batch, lag=lag_of(end, positions), partitions=len(end))


def quarantined_since(settings: Settings, since: datetime) -> int:
    """Records the silver job quarantined at or after `since` (0 when the table does not exist yet)."""
    import pyarrow.dataset as ds

    from lakehouse.lake import open_table

    table = open_table(settings, "silver", "trades_quarantine")
    if table is None:
        return 0
    dataset = table.to_pyarrow_dataset()
    return int(dataset.count_rows(filter=ds.field("quarantined_at") >= since))
