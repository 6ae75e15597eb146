"""The PostgreSQL mirror against the real local server: parallel slices, replays, re-sends and conflicts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from lakehouse.settings import Settings
from lakehouse.stream import postgres_mirror
from lakehouse.stream.postgres_mirror import PostgresMirror, StreamMarker, UpsertOutcome
from lakehouse.stream.silver import SILVER_SCHEMA

_T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_TS = pa.timestamp("us", tz="UTC")
_DEC = pa.decimal128(38, 18)


def mirror_rows(count: int, shift_ms: int = 0) -> pa.Table:
    """`count` silver rows as the silver job collects them (its Arrow schema, one row per trade)."""
    times = [_T0 + timedelta(milliseconds=n + shift_ms) for n in range(count)]
    price = Decimal("65000.5")
    columns = {
        "source": pa.array(["binance"] * count),
        "symbol": pa.array(["BTCUSDT" if n % 2 else "ETHUSDT" for n in range(count)]),
        "trade_id": pa.array([str(n) for n in range(count)]),
        "price": pa.array([price] * count, _DEC),
        "quantity": pa.array([Decimal("0.5")] * count, _DEC),
        "notional": pa.array([price / 2] * count, _DEC),
        "side": pa.array(["buy"] * count),
        "trade_time": pa.array(times, _TS),
        "trade_date": pa.array([date(2026, 11, 30)] * count, pa.date32()),
        "ingest_time": pa.array(times, _TS),
        "ingest_latency_ms": pa.array([0] * count, pa.int64()),
        "schema_version": pa.array([1] * count, pa.int32()),
        "predicted_price": pa.array([None] * count, pa.float64()),
        "model_version": pa.array([None] * count, pa.string()),
        "kafka_topic": pa.array(["raw-trades"] * count),
        "kafka_partition": pa.array([0] * count, pa.int32()),
        "kafka_offset": pa.array(range(count), pa.int64()),
        "kafka_timestamp": pa.array(times, _TS),
        "processed_at": pa.array([_T0] * count, _TS),
    }
    assert list(columns) == SILVER_SCHEMA.fieldNames()
    return pa.table(columns)


@pytest.fixture
def mirror(stream_settings: Settings, monkeypatch: pytest.MonkeyPatch):
    # Small slices, so a 40-row batch takes the parallel path that catch-up batches take.
    monkeypatch.setattr(postgres_mirror, "MIN_SLICE_ROWS", 10)
    mirror = PostgresMirror(
        stream_settings.require_pg_dsn(), stream_settings.pg_silver_table, stream_settings.pg_prices_view
    )
    mirror.ensure_schema()
    yield mirror
    mirror.close()


def stamps(mirror: PostgresMirror) -> dict[str, tuple[str, int]]:
    rows = mirror._connection().execute(f"SELECT trade_id, stream_query_id, stream_batch_id FROM {mirror.table}")
    return {trade_id: (query, batch) for trade_id, query, batch in rows.fetchall()}


def test_parallel_slices_mirror_every_row_once_and_a_replay_changes_nothing(mirror: PostgresMirror) -> None:
    rows = mirror_rows(40)
    assert postgres_mirror.slice_bounds(rows.num_rows) == [(0, 20), (20, 20)]
    marker = StreamMarker("query-a", 0)
    assert mirror.upsert(rows, marker) == UpsertOutcome()
    assert len(mirror._conns) == 2  # both slices had a connection of their own
    assert stamps(mirror) == {str(n): ("query-a", 0) for n in range(40)}
    # The same batch again (a crash before the Delta commit): its own rows, rewritten, nothing refused.
    assert mirror.upsert(rows, marker) == UpsertOutcome()
    assert mirror.count() == 40


def test_a_batch_that_failed_after_one_slice_converges_on_replay(mirror: PostgresMirror) -> None:
    rows = mirror_rows(40)
    marker = StreamMarker("query-a", 3)
    # What a failure part-way leaves behind: the first slice committed, the second not.
    mirror._upsert_slice(0, rows.slice(0, 20), marker)
    assert mirror.count() == 20
    assert mirror.upsert(rows, marker) == UpsertOutcome()
    assert stamps(mirror) == {str(n): ("query-a", 3) for n in range(40)}


def test_resends_conflicts_and_unknown_rows_are_reported_from_every_slice(mirror: PostgresMirror) -> None:
    rows = mirror_rows(40)
    mirror.upsert(rows, StreamMarker("query-a", 0))
    resent = mirror.upsert(rows, StreamMarker("query-a", 1))  # a later batch of the same query
    assert sorted(resent.resends) == sorted(("binance", r["symbol"], r["trade_id"]) for r in rows.to_pylist())
    assert resent.conflicts == [] and resent.unknown == []
    moved = mirror.upsert(mirror_rows(40, shift_ms=5), StreamMarker("query-a", 2))  # same ids, other times
    assert len(moved.conflicts) == 40 and moved.resends == []
    reset = mirror.upsert(rows, StreamMarker("query-b", 0))  # a reset checkpoint: a new query id
    assert len(reset.unknown) == 40
    assert mirror.count() == 40
    # Unknown rows keep their first writer's stamp (a replay of query-b's batch must find them unknown
    # again, not as its own) until the caller adopts those Delta lacks.
    assert set(stamps(mirror).values()) == {("query-a", 0)}
    assert len(mirror.upsert(rows, StreamMarker("query-b", 0)).unknown) == 40
    mirror.adopt(rows.slice(0, 10), StreamMarker("query-b", 0))
    assert Counter(stamps(mirror).values()) == {("query-a", 0): 30, ("query-b", 0): 10}
    assert len(mirror.upsert(rows, StreamMarker("query-b", 0)).unknown) == 30  # its own 10 are rewritten


def test_postgres_refusing_a_slice_fails_the_whole_upsert(mirror: PostgresMirror) -> None:
    rows = mirror_rows(40)
    broken = rows.set_column(
        rows.schema.get_field_index("side"), "side", pa.array(["buy"] * 39 + ["hold"])
    )  # the CHECK constraint refuses the last row, in the second slice
    with pytest.raises(postgres_mirror.MirrorError, match="upsert"):
        mirror.upsert(broken, StreamMarker("query-a", 0))
    assert mirror.upsert(rows, StreamMarker("query-a", 0)) == UpsertOutcome()  # the retry converges
    assert mirror.count() == 40


def test_a_hung_network_fails_the_batch_instead_of_stalling_it(mirror: PostgresMirror) -> None:
    # The server ends a statement that hangs; the client's kernel gives up on a peer that went silent.
    conn = mirror._connection()
    assert conn.execute("SHOW statement_timeout").fetchone() == ("5min",)
    parameters = conn.info.get_parameters()
    assert parameters["keepalives"] == "1" and parameters["keepalives_idle"] == "30"
    assert parameters["tcp_user_timeout"] == "60000"
