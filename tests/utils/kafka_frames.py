"""Tiny Kafka-shaped Spark DataFrames for the stream transforms (the `kafka_frame` fixture)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

KAFKA_DDL = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, timestampType int"
KafkaFrame = Callable[..., Any]


def as_bytes(value: object) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


@pytest.fixture
def kafka_frame(spark) -> KafkaFrame:
    """kafka_frame([value, ...]) or kafka_frame([(value, partition, offset), ...]) -> a Kafka-shaped DataFrame."""

    def build(records: Sequence[Any], topic: str = "raw-trades") -> Any:
        rows = []
        for index, record in enumerate(records):
            value, partition, offset = record if isinstance(record, tuple) else (record, 0, index)
            rows.append(
                (b"BTCUSDT", as_bytes(value), topic, partition, offset, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), 0)
            )
        return spark.createDataFrame(rows, KAFKA_DDL)

    return build
