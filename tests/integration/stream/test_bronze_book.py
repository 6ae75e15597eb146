"""Bronze keeps every record of the book topics unchanged, with its Kafka coordinates, exactly once, beside
the trades and without touching them (the real local Kafka, Spark and Delta)."""

from __future__ import annotations

import uuid

from deltalake import DeltaTable

from lakehouse.kafka.admin import ensure_topic
from lakehouse.settings import Settings
from lakehouse.stream.bronze import run_bronze
from tests.integration.stream.conftest import produce
from tests.utils.trades import make_trade


def _book_values(kind: str, start: int, count: int) -> list[bytes]:
    # Bronze keeps bytes; their shape is the silver job's business. Distinct values make equality exact.
    return [f'{{"kind":"{kind}","symbol":"BTCUSDT","n":{n}}}'.encode() for n in range(start, start + count)]


def _table(settings: Settings, name: str) -> list[tuple[int, int, bytes]]:
    table = DeltaTable(settings.table_uri("bronze", name)).to_pyarrow_table(columns=["partition", "offset", "value"])
    return sorted(
        zip(table["partition"].to_pylist(), table["offset"].to_pylist(), table["value"].to_pylist(), strict=True)
    )


def test_each_book_topic_lands_in_its_own_bronze_table_once_and_the_trades_are_untouched(
    spark, stream_settings: Settings, topic: str
) -> None:
    suffix = uuid.uuid4().hex[:8]
    settings = stream_settings.model_copy(
        update={
            "kafka_topic": topic,
            "book_streams": True,
            "bronze_max_offsets_per_trigger": 100,
            "kafka_book_ticker_topic": f"test-book-ticker-{suffix}",
            "kafka_depth_topic": f"test-depth-{suffix}",
            "kafka_depth_snapshot_topic": f"test-depth-snapshot-{suffix}",
        }
    )
    sent = {
        "book_ticker": _book_values("ticker", 0, 150),
        "depth": _book_values("depth", 0, 60),
        "depth_snapshot": _book_values("snapshot", 0, 2),
    }
    topics = {
        "book_ticker": settings.kafka_book_ticker_topic,
        "depth": settings.kafka_depth_topic,
        "depth_snapshot": settings.kafka_depth_snapshot_topic,
    }
    for name, values in sent.items():
        ensure_topic(settings.kafka_bootstrap, topics[name], partitions=3)
        produce(settings.kafka_bootstrap, topics[name], values)
    produce(settings.kafka_bootstrap, topic, [make_trade(n).to_json_bytes() for n in range(30)])

    run_bronze(spark, settings, once=True)  # in several batches: 100 offsets a trigger
    first = {name: _table(settings, name) for name in sent}
    for name, values in sent.items():
        rows = first[name]
        assert sorted(value for _, _, value in rows) == sorted(values), name  # every record, unchanged
        assert len({(partition, offset) for partition, offset, _ in rows}) == len(rows), name  # each once
    assert len(_table(settings, "trades")) == 30  # the trades' table holds trades only

    # More records, and a restart: each table grows by exactly what was added, nothing is read twice.
    produce(settings.kafka_bootstrap, topics["depth"], _book_values("depth", 60, 25))
    run_bronze(spark, settings, once=True)
    assert len(_table(settings, "depth")) == 85
    assert _table(settings, "book_ticker") == first["book_ticker"]
    assert _table(settings, "depth_snapshot") == first["depth_snapshot"]
