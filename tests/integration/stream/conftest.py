"""Fixtures for the streaming jobs: private lake + PostgreSQL table names per test, a producer, readers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from lakehouse.settings import Settings
from tests.utils.kafka_frames import kafka_frame  # noqa: F401  (a fixture)


@pytest.fixture
def stream_settings(settings: Settings) -> Iterator[Settings]:
    """The per-test lake plus PostgreSQL mirror names of its own (dropped afterwards); small batches."""
    suffix = uuid.uuid4().hex[:8]
    configured = settings.model_copy(
        update={
            "pg_silver_table": f"silver.trades_t{suffix}",
            "pg_prices_view": f"public.crypto_prices_t{suffix}",
            "bronze_max_offsets_per_trigger": 40,
            "silver_max_offsets_per_trigger": 40,
        }
    )
    yield configured
    drop_mirror(configured)


def drop_mirror(settings: Settings) -> None:
    try:
        with psycopg.connect(settings.require_pg_dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP VIEW IF EXISTS {settings.pg_prices_view}")
            conn.execute(f"DROP TABLE IF EXISTS {settings.pg_silver_table}")
    except psycopg.OperationalError:
        pass  # a private server that is already gone


def produce(bootstrap: str, topic: str, values: Iterable[bytes | dict[str, Any] | str]) -> int:
    """Produce each value (a dict is JSON-encoded) keyed by its symbol; return how many were sent."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    sent = 0
    for value in values:
        if isinstance(value, dict):
            key = str(value.get("symbol", "")).encode()
            payload = json.dumps(value).encode()
        else:
            key = b""
            payload = value.encode() if isinstance(value, str) else value
        producer.produce(topic, key=key, value=payload)
        sent += 1
    assert producer.flush(30) == 0
    return sent


@dataclass(frozen=True)
class LakeState:
    bronze: list[Any]
    silver: list[Any]
    quarantine: list[Any]
    mirror: list[tuple[Any, ...]]


def read_state(spark, settings: Settings) -> LakeState:
    """Everything the jobs wrote, read back fresh (Delta through Spark, the mirror through psycopg)."""

    def delta(layer: str, name: str) -> list[Any]:
        uri = settings.table_uri(layer, name)
        try:
            return spark.read.format("delta").load(uri).collect()
        except Exception as error:
            if any(m in str(error) for m in ("DELTA_MISSING_DELTA_TABLE", "is not a Delta table", "PATH_NOT_FOUND")):
                return []
            raise

    with psycopg.connect(settings.require_pg_dsn(), connect_timeout=5) as conn:
        mirror = conn.execute(
            f"SELECT source, symbol, trade_id, price::text, quantity::text, trade_time, kafka_partition, "
            f"kafka_offset FROM {settings.pg_silver_table}"
        ).fetchall()
    return LakeState(delta("bronze", "trades"), delta("silver", "trades"), delta("silver", "trades_quarantine"), mirror)


def silver_key(row: Any) -> tuple[Any, ...]:
    """Comparable with a mirror row: identity, exact decimals as text, event time, Kafka coordinates."""
    return (
        row.source,
        row.symbol,
        row.trade_id,
        f"{row.price:.18f}",
        f"{row.quantity:.18f}",
        round(row.trade_time.timestamp() * 1000),
        row.kafka_partition,
        row.kafka_offset,
    )


def mirror_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    source, symbol, trade_id, price, quantity, trade_time, partition, offset = row
    return (source, symbol, trade_id, price, quantity, round(trade_time.timestamp() * 1000), partition, offset)
