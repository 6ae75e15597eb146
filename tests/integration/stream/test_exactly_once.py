"""Valid, malformed and duplicate trades through the real Kafka, Spark, Delta and PostgreSQL, in two runs."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import psycopg
from deltalake import DeltaTable

from lakehouse.schema.trade import now_ms
from lakehouse.stream.bronze import run_bronze
from lakehouse.stream.runner import BatchReport
from lakehouse.stream.silver import run_silver
from lakehouse.stream.silver_transforms import CONFLICT_REASON
from tests.integration.stream.conftest import mirror_key, produce, read_state, silver_key
from tests.utils.trades import make_trade

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
T0 = now_ms() - 3_600_000


def trade(n: int) -> dict:
    """Trade n, identical on every call (so a re-send is an exact duplicate)."""
    record = make_trade(n, symbol=SYMBOLS[n % 3], trade_time=T0 + n, ingest_time=T0 + n + 150)
    return json.loads(record.to_json_bytes())


MALFORMED = [
    ("not json at all", "value: not valid JSON"),
    ({**trade(900), "price": "0"}, "price: must be positive"),
    ({**trade(901), "side": "hold"}, "side: must be one of"),
    ({**trade(902), "symbol": "btc/usdt"}, "symbol: must match"),
    ({**trade(903), "trade_time": 1}, "trade_time: before 2000"),
    ({**trade(904), "extra": True}, "unexpected fields: extra"),
]


def test_every_record_once_in_bronze_distinct_trades_in_silver_and_postgres(spark, stream_settings, topic: str) -> None:
    settings = stream_settings
    first_wave = [trade(n) for n in range(60)]
    duplicates = [trade(n) for n in range(0, 60, 4)]  # 15 exact re-sends, some in the same batch
    sent = produce(settings.kafka_bootstrap, topic, first_wave + duplicates + [m for m, _ in MALFORMED])

    reports: list[BatchReport] = []
    run_bronze(spark, settings, once=True, topic=topic, callbacks=(reports.append,))
    run_silver(spark, settings, once=True, topic=topic, callbacks=(reports.append,))
    state = read_state(spark, settings)
    assert len(state.silver) == 60

    # A restart later: more new trades, re-sends of trades committed in earlier batches, one conflict.
    moved = {**trade(5), "trade_time": trade(5)["trade_time"] - 60_000}
    second_wave = [trade(n) for n in range(60, 80)] + [trade(n) for n in range(0, 60, 6)] + [moved]
    sent += produce(settings.kafka_bootstrap, topic, second_wave)
    run_bronze(spark, settings, once=True, topic=topic, callbacks=(reports.append,))
    run_silver(spark, settings, once=True, topic=topic, callbacks=(reports.append,))
    state = read_state(spark, settings)

    # Every batch was reported, and the reports add up.
    silver_reports = [r for r in reports if r.job == "silver"]
    assert sum(r.counts["rows"] for r in reports if r.job == "bronze") == sent
    assert sum(r.counts["rows"] for r in silver_reports) == sent
    assert sum(r.counts["silver"] for r in silver_reports) == 80
    assert sum(r.counts["invalid"] for r in silver_reports) == len(MALFORMED)
    assert sum(r.counts["duplicates"] for r in silver_reports) == len(duplicates) + 10  # every exact re-send
    # Bronze: every Kafka record exactly once, bytes unchanged.
    coordinates = Counter((r.topic, r.partition, r.offset) for r in state.bronze)
    assert len(state.bronze) == sent and max(coordinates.values()) == 1
    produced_values = Counter(
        v.encode() if isinstance(v, str) else json.dumps(v).encode()
        for v in first_wave + duplicates + [m for m, _ in MALFORMED] + second_wave
    )
    assert Counter(bytes(r.value) for r in state.bronze) == produced_values

    # Silver: the 80 distinct valid trades, once each, typed.
    identities = Counter((r.source, r.symbol, r.trade_id) for r in state.silver)
    assert len(identities) == 80 and max(identities.values()) == 1
    assert {t["trade_id"] for t in first_wave + second_wave[:20]} == {r.trade_id for r in state.silver}
    by_id = {r.trade_id: r for r in state.silver}
    original = trade(5)
    assert f"{by_id[original['trade_id']].price:f}".rstrip("0") == original["price"].rstrip("0")
    assert all(r.predicted_price is None and r.model_version is None for r in state.silver)

    # Quarantine: each malformed record with its reason and coordinates, plus the conflicting duplicate.
    reasons = [r.reason for r in state.quarantine]
    assert len(state.quarantine) == len(MALFORMED) + 1
    for _, expected in MALFORMED:
        assert sum(expected in reason for reason in reasons) == 1, expected
    assert reasons.count(CONFLICT_REASON) == 1
    bronze_at = {(r.topic, r.partition, r.offset): bytes(r.value) for r in state.bronze}
    for row in state.quarantine:
        assert bronze_at[(row.kafka_topic, row.kafka_partition, row.kafka_offset)] == bytes(row.value)

    # PostgreSQL mirrors silver row for row; the view and the read-only role see it.
    assert sorted(map(mirror_key, state.mirror)) == sorted(map(silver_key, state.silver))
    with psycopg.connect(settings.pg_readonly_dsn) as reader:
        assert reader.execute(f"SELECT count(*) FROM {settings.pg_prices_view}").fetchone() == (80,)

    # delta-rs, an independent reader, agrees on all three tables.
    for layer, name, rows in (
        ("bronze", "trades", state.bronze),
        ("silver", "trades", state.silver),
        ("silver", "trades_quarantine", state.quarantine),
    ):
        assert DeltaTable(settings.table_uri(layer, name)).to_pyarrow_table().num_rows == len(rows)
    assert DeltaTable(settings.table_uri("silver", "trades")).metadata().partition_columns == ["trade_date"]

    # A reset checkpoint: silver starts over from the earliest offset under a new query id. The trades
    # an earlier query mirrored are looked up in Delta, so silver and the mirror still hold each once.
    shutil.rmtree(Path(settings.checkpoints.removeprefix("file://")) / "silver_trades")
    reports.clear()
    run_silver(spark, settings, once=True, topic=topic, callbacks=(reports.append,))
    again = read_state(spark, settings)
    assert sum(r.counts["rows"] for r in reports) == sent
    assert sum(r.counts["silver"] for r in reports) == 0
    assert Counter((r.source, r.symbol, r.trade_id) for r in again.silver) == identities
    # The records the earlier query quarantined (malformed, and the conflict) are not quarantined twice.
    assert sorted((r.kafka_partition, r.kafka_offset) for r in again.quarantine) == sorted(
        (r.kafka_partition, r.kafka_offset) for r in state.quarantine
    )
    assert sorted(map(mirror_key, again.mirror)) == sorted(map(silver_key, again.silver))
