"""Fixtures of the ingestion tests: an API key, the API app on a fresh topic, a Kafka reader."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient

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
