"""Fixtures of the ingestion tests: an API key, the API app on a fresh topic, a Kafka reader."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient

from lakehouse.local.processes import free_port, serving
from lakehouse.paths import REPO_ROOT
from lakehouse.settings import Settings

API_KEY = "test-key-" + uuid.uuid4().hex
CLIENT = "acme-desk"


@dataclass(frozen=True)
class KafkaRecord:
    key: bytes | None
    value: dict[str, Any]
    partition: int
    offset: int


def read_topic(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0, settle_s: float = 1.0
) -> list[KafkaRecord]:
    """Every record of `topic` from the start: waits for `expected`, then `settle_s` more to catch extras."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # Only committed records: what a read_committed downstream reader would see.
            "isolation.level": "read_committed",
        }
    )
    metadata = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions])
    records: list[KafkaRecord] = []
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    try:
        while time.monotonic() < (settle_until or deadline):
            for message in consumer.consume(num_messages=5000, timeout=0.2):
                if message.error():
                    continue
                records.append(
                    KafkaRecord(message.key(), json.loads(message.value()), message.partition(), message.offset())
                )
            if settle_until is None and len(records) >= expected:
                settle_until = time.monotonic() + settle_s
    finally:
        consumer.close()
    return records


@pytest.fixture
def api_settings(infra: Settings, topic: str) -> Settings:
    digest = hashlib.sha256(API_KEY.encode()).hexdigest()
    return infra.model_copy(
        update={
            "kafka_topic": topic,
            "api_keys": {CLIENT: digest, "other-client": hashlib.sha256(b"other").hexdigest()},
            "api_max_batch": 100,
            "api_max_body_bytes": 64 * 1024,
            "api_rate_limit_per_s": 1000,
        }
    )


@pytest.fixture
def api(api_settings: Settings) -> Iterator[TestClient]:
    """The real app (real Kafka producer) in-process; lifespan runs on enter/exit."""
    from lakehouse.ingest.api.app import create_app

    with TestClient(create_app(api_settings), headers={"X-API-Key": API_KEY}) as client:
        yield client


@dataclass(frozen=True)
class RunningApi:
    url: str
    topic: str
    bootstrap: str


@contextlib.contextmanager
def api_process(infra: Settings, topic: str, **env: str) -> Iterator[RunningApi]:
    """`ingestion_api.py` as a real uvicorn server (one worker) on a free port; stopped on exit."""
    port = free_port()
    environment = {
        **os.environ,
        "LAKEHOUSE_KAFKA_TOPIC": topic,
        "LAKEHOUSE_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "LAKEHOUSE_API_KEYS": f"{CLIENT}:{hashlib.sha256(API_KEY.encode()).hexdigest()}",
        "LAKEHOUSE_API_RATE_LIMIT_PER_S": "10000",
        **env,
    }
    command = [sys.executable, str(REPO_ROOT / "ingestion_api.py"), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1"]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    # SIGTERM first (serving's stop): the API flushes what Kafka has not acknowledged yet.
    with (
        tempfile.TemporaryDirectory(prefix="api-") as folder,
        serving(command, f"{url}/health", "ingestion_api.py", Path(folder) / "api.log", env=environment),
    ):
        yield RunningApi(url, topic, infra.kafka_bootstrap)
