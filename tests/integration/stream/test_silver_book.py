"""Silver rebuilds the books in Spark's stateful streaming (real local Kafka, Spark, Delta): the real
recorded futures depth and book tickers, hostile records beside them, re-sends, several batches, a
restart, and a batch replayed after a crash between its Delta commits and its checkpoint."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from deltalake import DeltaTable

from lakehouse.book.builder import BookBuilder
from lakehouse.book.updates import DepthSnapshot, parse_book_ticker, parse_depth_update
from lakehouse.kafka.admin import ensure_book_topics
from lakehouse.schema.book import book_ticker_record, depth_snapshot_record, depth_update_record
from lakehouse.settings import Settings
from lakehouse.stream.silver import run_silver
from tests.integration.stream.conftest import produce
from tests.utils.recordings import recorded_messages

FUTURES = "binance_usdm_btcusdt_20240808.gz"
SOURCE = "binance"
FIRST_PART_DIFFS = 2_000  # of the recording's 6,551


def _recording() -> tuple[list, DepthSnapshot, list]:
    diffs, snapshot, tickers = [], None, []
    for message in recorded_messages(FUTURES):
        if "lastUpdateId" in message:
            levels = {s: tuple((Decimal(p), Decimal(q)) for p, q in message[s]) for s in ("bids", "asks")}
            snapshot = DepthSnapshot("BTCUSDT", message["lastUpdateId"], levels["bids"], levels["asks"])
        elif message["stream"].endswith("@bookTicker"):
            tickers.append(parse_book_ticker(message["data"]))
        elif "@depth" in message["stream"]:
            diffs.append(parse_depth_update(message["data"]))
    assert snapshot is not None
    return diffs, snapshot, tickers


def _table(settings: Settings, name: str, columns: list[str]) -> list[tuple]:
    table = DeltaTable(settings.table_uri("silver", name)).to_pyarrow_table(columns=columns)
    return sorted(zip(*(table[c].to_pylist() for c in columns), strict=True))


@pytest.fixture
def book_settings(stream_settings: Settings, topic: str) -> Iterator[Settings]:
    suffix = topic.rsplit("-", 1)[-1]
    configured = stream_settings.model_copy(
        update={
            "kafka_topic": topic,
            "book_streams": True,
            "pg_order_book_table": f"silver.order_book_t{suffix}",
            "pg_book_events_table": f"silver.book_events_t{suffix}",
            "silver_max_offsets_per_trigger": 1_500,
            "kafka_book_ticker_topic": f"{topic}-book-ticker",
            "kafka_depth_topic": f"{topic}-depth",
            "kafka_depth_snapshot_topic": f"{topic}-depth-snapshot",
        }
    )
    ensure_book_topics(configured)
    yield configured
    with psycopg.connect(configured.require_pg_dsn(), autocommit=True) as conn:
        for table in (configured.pg_order_book_table, configured.pg_book_events_table):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def _mirrored(settings: Settings, table: str, columns: str) -> list[tuple]:
    with psycopg.connect(settings.require_pg_dsn()) as conn:
        return sorted(conn.execute(f"SELECT {columns} FROM {table}").fetchall())


def test_the_recorded_book_is_rebuilt_exactly_once_across_batches_restarts_and_a_replay(
    spark, book_settings: Settings, topic: str
) -> None:
    settings = book_settings
    diffs, snapshot, tickers = _recording()
    first, rest = diffs[:FIRST_PART_DIFFS], diffs[FIRST_PART_DIFFS:]
    cutoff = first[-1].event_time_ms
    early_tickers = [t for t in tickers if t.event_time_ms is not None and t.event_time_ms <= cutoff][:5_000]
    bootstrap, ingest = settings.kafka_bootstrap, 1_723_161_300_000
    # Keyed by symbol (the dicts), as the producer does: one partition keeps each symbol's diffs in order.
    # The diffs arrive before the snapshot, as when the producer starts: silver must buffer them.
    produce(
        bootstrap,
        settings.kafka_depth_topic,
        [depth_update_record(d, SOURCE, ingest).model_dump(mode="json") for d in first],
    )
    produce(
        bootstrap,
        settings.kafka_depth_topic,
        [depth_update_record(d, SOURCE, ingest).model_dump(mode="json") for d in first[500:600]],
    )  # re-sent
    produce(
        bootstrap,
        settings.kafka_depth_snapshot_topic,
        [depth_snapshot_record(snapshot, SOURCE, ingest).model_dump(mode="json")],
    )
    hostile = [
        b"{not json",
        b'{"source":"binance","symbol":"BTCUSDT","update_id":-1,"bid_price":"1","bid_quantity":"1",'
        b'"ask_price":"2","ask_quantity":"1","event_time":null,"ingest_time":1}',
        b'{"source":"binance","symbol":"BTCUSDT","update_id":7,"bid_price":"3","bid_quantity":"1",'
        b'"ask_price":"2","ask_quantity":"1","event_time":null,"ingest_time":1}',
    ]
    ticker_values = [book_ticker_record(t, SOURCE, ingest).model_dump(mode="json") for t in early_tickers]
    produce(bootstrap, settings.kafka_book_ticker_topic, ticker_values + ticker_values[:50] + hostile)  # fmt: skip

    run_silver(spark, settings, once=True, topic=topic)  # several batches of 1,500 offsets
    expected = BookBuilder("BTCUSDT")
    expected_rows, _ = expected.feed(first, [snapshot])
    book_columns = ["symbol", "book_time", "last_update_id", "updates", "best_bid", "best_ask"]
    rows = _table(settings, "order_book", book_columns)
    assert len(rows) == len(expected_rows) > 100
    assert [(r[2], r[3], r[4], r[5]) for r in rows] == [
        (e.last_update_id, e.updates, e.bids[0][0], e.asks[0][0]) for e in expected_rows
    ]
    assert len({r[1] for r in rows}) == len(rows)  # one row per second
    events = _table(settings, "book_events", ["event", "update_id"])
    assert events == [("resync", snapshot.last_update_id)]
    ticker_ids = [r[0] for r in _table(settings, "book_ticker", ["update_id"])]
    assert ticker_ids == sorted({t.update_id for t in early_tickers})  # each once, re-sends dropped
    reasons = [r[0] for r in _table(settings, "book_quarantine", ["reason"])]
    assert len(reasons) == 3 and any(r.startswith("update_id:") for r in reasons)
    assert "bid_price: not below ask_price (a crossed or locked top of book)" in reasons

    # The rest of the recording, then a crash between the last batch's Delta commits and its checkpoint
    # commit (the commit file is removed): the replay must add nothing twice.
    produce(
        bootstrap,
        settings.kafka_depth_topic,
        [depth_update_record(d, SOURCE, ingest).model_dump(mode="json") for d in rest],
    )
    run_silver(spark, settings, once=True, topic=topic)
    after_restart = _table(settings, "order_book", book_columns)
    commits = Path(settings.checkpoints.removeprefix("file://")) / "silver_book" / "commits"
    last = max((path for path in commits.iterdir() if path.name.isdigit()), key=lambda path: int(path.name))
    last.unlink()
    (commits / f".{last.name}.crc").unlink(missing_ok=True)  # the local file system's checksum of it
    run_silver(spark, settings, once=True, topic=topic)
    assert _table(settings, "order_book", book_columns) == after_restart

    whole = BookBuilder("BTCUSDT")
    all_rows, _ = whole.feed(diffs, [snapshot])
    assert [r[2] for r in after_restart] == [e.last_update_id for e in all_rows]
    seconds = [r[1] for r in after_restart]
    assert all((b - a).total_seconds() == 1 for a, b in itertools.pairwise(seconds))
    assert _table(settings, "book_events", ["event", "update_id"]) == events  # no break in the real chain
    # The PostgreSQL mirror gold reads holds the same rows, each once, after the replay too.
    mirrored = _mirrored(settings, settings.pg_order_book_table, "symbol, last_update_id, updates, best_bid, best_ask")
    assert mirrored == sorted((r[0], r[2], r[3], r[4], r[5]) for r in after_restart)
    assert _mirrored(settings, settings.pg_book_events_table, "event, update_id") == events


def test_a_kill_9_between_the_book_tables_commits_loses_and_doubles_nothing(
    spark, book_settings: Settings, topic: str, tmp_path: Path
) -> None:
    """The silver job, as its real entry point, is killed (-9, driver and JVM) in its second book batch, after
    the mirror and one table are committed and before the others and the checkpoint; a restart converges."""
    import os
    import signal
    import subprocess
    import sys

    from lakehouse.local.processes import wait_until
    from lakehouse.paths import REPO_ROOT

    settings = book_settings
    diffs, snapshot, tickers = _recording()
    part, ingest = diffs[:1_200], 1_723_161_300_000
    cutoff = part[-1].event_time_ms
    values = [depth_update_record(d, SOURCE, ingest).model_dump(mode="json") for d in part]
    produce(settings.kafka_bootstrap, settings.kafka_depth_snapshot_topic,
            [depth_snapshot_record(snapshot, SOURCE, ingest).model_dump(mode="json")])  # fmt: skip
    produce(settings.kafka_bootstrap, settings.kafka_depth_topic, values)
    early = [t for t in tickers if t.event_time_ms is not None and t.event_time_ms <= cutoff][:600]
    produce(settings.kafka_bootstrap, settings.kafka_book_ticker_topic,
            [book_ticker_record(t, SOURCE, ingest).model_dump(mode="json") for t in early])  # fmt: skip
    env = {
        **os.environ,
        "LAKEHOUSE_LAKE_URI": settings.lake_uri,
        "LAKEHOUSE_PG_SILVER_TABLE": settings.pg_silver_table,
        "LAKEHOUSE_PG_PRICES_VIEW": settings.pg_prices_view,
        "LAKEHOUSE_BOOK_STREAMS": "true",
        "LAKEHOUSE_KAFKA_BOOK_TICKER_TOPIC": settings.kafka_book_ticker_topic,
        "LAKEHOUSE_KAFKA_DEPTH_TOPIC": settings.kafka_depth_topic,
        "LAKEHOUSE_KAFKA_DEPTH_SNAPSHOT_TOPIC": settings.kafka_depth_snapshot_topic,
        "LAKEHOUSE_PG_ORDER_BOOK_TABLE": settings.pg_order_book_table,
        "LAKEHOUSE_PG_BOOK_EVENTS_TABLE": settings.pg_book_events_table,
        "LAKEHOUSE_STREAM_FAULT_PAUSE_S": "20",  # every batch waits at its crash point: long enough to kill it
        "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    env.pop("LAKEHOUSE_CHECKPOINT_URI", None)
    log_path = tmp_path / "silver.log"
    args = [sys.executable, "process_silver.py", "--once", "--topic", topic, "--max-offsets-per-trigger", "500"]
    with open(log_path, "wb") as out:
        job = subprocess.Popen(
            args, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def second_batch_paused() -> bool:
        if job.poll() is not None:
            raise AssertionError(f"job exited early ({job.returncode}):\n{log_path.read_text()[-3000:]}")
        return "fault drill: book batch 1 part-committed" in log_path.read_text(errors="replace")

    try:
        wait_until(second_batch_paused, 300, "the second book batch part-committed")
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # the Python driver and its JVM: no shutdown hooks
        job.wait(30)
    book_columns = ["symbol", "book_time", "last_update_id", "updates", "best_bid", "best_ask"]
    crashed = _table(settings, "order_book", book_columns)
    assert crashed  # some rows were committed before the crash

    run_silver(spark, settings.model_copy(update={"stream_fault_pause_s": 0.0}), once=True, topic=topic)
    expected, _ = BookBuilder("BTCUSDT").feed(part, [snapshot])
    rows = _table(settings, "order_book", book_columns)
    assert [r[2] for r in rows] == [e.last_update_id for e in expected]  # every second once, none lost
    assert [r[0] for r in _table(settings, "book_ticker", ["update_id"])] == sorted({t.update_id for t in early})
    mirrored = _mirrored(settings, settings.pg_order_book_table, "symbol, last_update_id, updates, best_bid, best_ask")
    assert mirrored == sorted((r[0], r[2], r[3], r[4], r[5]) for r in rows)
    assert _table(settings, "book_events", ["event", "update_id"]) == [("resync", snapshot.last_update_id)]
