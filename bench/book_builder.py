"""The order-book builder: depth messages per second, and freshness from exchange time to a published book.

1. Throughput, pure: the real futures recording (6,551 diffs and its REST snapshot) copied to 10 symbols,
   as canonical Kafka values, through `process_group` (validation, Binance's rebuild, one row per second)
   in batches of 1,000 records a symbol with the state through JSON between batches, as Spark's state
   store hands it over. One Python worker, so one core.
2. Throughput through Spark: the same 65,510 diffs and 10 snapshots on Kafka, read by the silver book
   query (`process_silver.py --once`: applyInPandasWithState, Delta commits, PostgreSQL mirror) as a
   backlog; messages / wall time from the job's start (the JVM start included).
3. Freshness: 10 symbols at 100 ms (100 diffs/s, as Binance's `@depth@100ms`) produced live with their
   event time, the silver job running as its real entry point; a second's book is published when the first
   diff of a later second arrives, so freshness is `processed_at - end of the second` in the mirror.

    uv run python -m bench.book_builder [--seconds 90]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import threading
import time
from decimal import Decimal
from typing import Any

import psycopg

from bench.common import write_result
from bench.silver_freshness import start_job, stop_job, wait_for_log
from bench.stream_catchup import BenchEnv
from lakehouse.book.silver_group import GroupState, InputRecord, process_group
from lakehouse.book.updates import DepthSnapshot, DepthUpdate, parse_depth_update
from lakehouse.logging_setup import configure_logging
from lakehouse.paths import REPO_ROOT
from lakehouse.schema.book import depth_snapshot_record, depth_update_record

log = logging.getLogger("bench.book_builder")
RECORDING = REPO_ROOT.parent / "shared" / "data" / "binance_usdm_btcusdt_20240808.gz"
SYMBOLS = [f"SYM{index}USDT" for index in range(10)]
BATCH = 1_000


def recorded_book() -> tuple[list[DepthUpdate], DepthSnapshot]:
    import gzip

    diffs, snapshot = [], None
    with gzip.open(RECORDING, "rt") as lines:
        for line in lines:
            message = json.loads(line.partition(" ")[2])
            if "lastUpdateId" in message:
                levels = {s: tuple((Decimal(p), Decimal(q)) for p, q in message[s]) for s in ("bids", "asks")}
                snapshot = DepthSnapshot("BTCUSDT", message["lastUpdateId"], levels["bids"], levels["asks"])
            elif "@depth" in message.get("stream", ""):
                diffs.append(parse_depth_update(message["data"]))
    assert snapshot is not None
    return diffs, snapshot


def as_symbol(update: DepthUpdate, symbol: str) -> DepthUpdate:
    return DepthUpdate(symbol, update.first_id, update.final_id, update.previous_final_id, update.event_time_ms,
                       update.bids, update.asks)  # fmt: skip


def values_for(symbol: str, diffs: list[DepthUpdate], snapshot: DepthSnapshot) -> tuple[bytes, list[bytes]]:
    seed = DepthSnapshot(symbol, snapshot.last_update_id, snapshot.bids, snapshot.asks)
    return (
        depth_snapshot_record(seed, "binance", 1).to_json_bytes(),
        [depth_update_record(as_symbol(d, symbol), "binance", 1).to_json_bytes() for d in diffs],
    )


def pure_throughput(diffs: list[DepthUpdate], snapshot: DepthSnapshot) -> dict[str, Any]:
    total, rows, elapsed = 0, 0, 0.0
    for symbol in SYMBOLS:
        seed, values = values_for(symbol, diffs, snapshot)
        records = [InputRecord("snapshot", seed, "snap", 0, 0, 0)]
        records += [InputRecord("diff", value, "depth", 0, offset, 0) for offset, value in enumerate(values)]
        state: GroupState | None = None
        started = time.perf_counter()
        for start in range(0, len(records), BATCH):
            outputs, state = process_group(symbol, records[start : start + BATCH], state)
            state = GroupState(state.builder_json, state.last_ticker_id)  # as the state store hands it back
            rows += sum(output.kind == "book" for output in outputs)
        elapsed += time.perf_counter() - started
        total += len(records)
    return {"pure_messages": total, "pure_seconds": round(elapsed, 2), "pure_messages_per_s": round(total / elapsed),
            "pure_book_rows": rows}  # fmt: skip


# Only these: the environment also carries the trades topic (LAKEHOUSE_KAFKA_TOPIC), never to be dropped.
BOOK_TOPICS = (
    "LAKEHOUSE_KAFKA_BOOK_TICKER_TOPIC",
    "LAKEHOUSE_KAFKA_DEPTH_TOPIC",
    "LAKEHOUSE_KAFKA_DEPTH_SNAPSHOT_TOPIC",
)
CREATED: list[dict[str, str]] = []  # each run's book topics and mirror tables, dropped at the end


def book_env(bench: BenchEnv, run: str) -> dict[str, str]:
    """The settings of one run's book streams, on topics and mirror tables of its own (created here,
    dropped by drop_book_runs)."""
    from lakehouse.kafka.admin import ensure_topic

    env = {
        **bench.env(),
        "LAKEHOUSE_BOOK_STREAMS": "true",
        "LAKEHOUSE_KAFKA_BOOK_TICKER_TOPIC": f"bench-book-ticker-{run}",
        "LAKEHOUSE_KAFKA_DEPTH_TOPIC": f"bench-depth-{run}",
        "LAKEHOUSE_KAFKA_DEPTH_SNAPSHOT_TOPIC": f"bench-depth-snapshot-{run}",
        "LAKEHOUSE_PG_ORDER_BOOK_TABLE": f"silver.bench_order_book_{run}",
        "LAKEHOUSE_PG_BOOK_EVENTS_TABLE": f"silver.bench_book_events_{run}",
    }
    CREATED.append(env)
    for name in BOOK_TOPICS:
        ensure_topic(bench.settings.kafka_bootstrap, env[name], bench.settings.kafka_partitions)
    return env


def drop_book_runs(bench: BenchEnv) -> None:
    from confluent_kafka.admin import AdminClient

    for env in CREATED:
        with psycopg.connect(bench.settings.require_pg_dsn(), autocommit=True) as conn:
            for name in ("LAKEHOUSE_PG_ORDER_BOOK_TABLE", "LAKEHOUSE_PG_BOOK_EVENTS_TABLE"):
                conn.execute(f"DROP TABLE IF EXISTS {env[name]}")
        topics = [env[name] for name in BOOK_TOPICS]
        AdminClient({"bootstrap.servers": bench.settings.kafka_bootstrap}).delete_topics(topics)


def produce(bootstrap: str, topic: str, keyed: list[tuple[bytes, bytes]]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    for key, value in keyed:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)


def spark_catchup(bench: BenchEnv, diffs: list[DepthUpdate], snapshot: DepthSnapshot) -> dict[str, Any]:
    import subprocess
    import sys

    run = "catchup" + bench.lake_dir.name.rsplit("-", 1)[-1]
    env = book_env(bench, run)
    snapshots, updates = [], []
    for symbol in SYMBOLS:
        seed, values = values_for(symbol, diffs, snapshot)
        snapshots.append((symbol.encode(), seed))
        updates += [(symbol.encode(), value) for value in values]
    produce(bench.settings.kafka_bootstrap, env["LAKEHOUSE_KAFKA_DEPTH_SNAPSHOT_TOPIC"], snapshots)
    produce(bench.settings.kafka_bootstrap, env["LAKEHOUSE_KAFKA_DEPTH_TOPIC"], updates)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "process_silver.py", "--once", "--topic", bench.topic], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=1800)  # fmt: skip
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    with psycopg.connect(bench.settings.require_pg_dsn()) as conn:
        rows = conn.execute(f"SELECT count(*) FROM {env['LAKEHOUSE_PG_ORDER_BOOK_TABLE']}").fetchone()
    messages = len(updates) + len(snapshots)
    return {
        "spark_messages": messages,
        "spark_seconds": round(seconds, 1),
        "spark_messages_per_s": round(messages / seconds),
        "spark_book_rows": int(rows[0]) if rows else 0,
    }


def live_diffs(bootstrap: str, topic: str, snapshot_topic: str, seconds: float, stop: threading.Event) -> int:
    """10 symbols, one diff each every 100 ms with its event time now; a snapshot seeds each book first."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    ids = dict.fromkeys(SYMBOLS, 1_000)
    for symbol in SYMBOLS:
        seed = DepthSnapshot(symbol, 1_000, ((Decimal("100"), Decimal("1")),), ((Decimal("101"), Decimal("1")),))
        producer.produce(
            snapshot_topic, key=symbol.encode(), value=depth_snapshot_record(seed, "binance", 1).to_json_bytes()
        )
    sent, tick, deadline = 0, time.monotonic(), time.monotonic() + seconds
    while time.monotonic() < deadline and not stop.is_set():
        now_ms = int(time.time() * 1000)
        for symbol in SYMBOLS:
            first = ids[symbol] + 1
            ids[symbol] = first
            price = Decimal("100") - Decimal(sent % 7) / 100
            update = DepthUpdate(symbol, first, first, None, now_ms, ((price, Decimal(sent % 5 + 1)),), ())
            producer.produce(
                topic, key=symbol.encode(), value=depth_update_record(update, "binance", now_ms).to_json_bytes()
            )
            sent += 1
        producer.poll(0)
        tick += 0.1
        time.sleep(max(0.0, tick - time.monotonic()))
    producer.flush(30)
    return sent


def freshness(bench: BenchEnv, seconds: float, warmup_s: float) -> dict[str, Any]:
    run = "live" + bench.lake_dir.name.rsplit("-", 1)[-1]
    env = book_env(bench, run)
    logs = bench.lake_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    saved = dict(os.environ)
    os.environ.update(env)  # start_job passes bench.env(); the book settings ride along from here
    try:
        job = start_job("process_silver.py", bench, bench.settings.silver_trigger_s, logs / "silver.log")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    stop = threading.Event()
    try:
        wait_for_log(logs / "silver.log", "silver-book started", job)
        started = time.time()
        sent = live_diffs(bench.settings.kafka_bootstrap, env["LAKEHOUSE_KAFKA_DEPTH_TOPIC"],
                          env["LAKEHOUSE_KAFKA_DEPTH_SNAPSHOT_TOPIC"], warmup_s + seconds, stop)  # fmt: skip
        time.sleep(bench.settings.silver_book_trigger_s + 5)  # the last batch publishes the last seconds
    finally:
        stop.set()
        stop_job(job)
    measured_from = started + warmup_s
    with psycopg.connect(bench.settings.require_pg_dsn()) as conn:
        lags = [
            float(row[0])
            for row in conn.execute(
                f"SELECT extract(epoch FROM processed_at - (book_time + interval '1 second')) "
                f"FROM {env['LAKEHOUSE_PG_ORDER_BOOK_TABLE']} WHERE book_time >= to_timestamp(%s)",
                (measured_from,),
            ).fetchall()
        ]
    lags.sort()
    if not lags:
        log.warning("no book row measured; the job's log ends: %s", (logs / "silver.log").read_text()[-4000:])
    return {
        "book_trigger_s": bench.settings.silver_book_trigger_s,  # the default, LAKEHOUSE_SILVER_BOOK_TRIGGER_S
        "live_symbols": len(SYMBOLS),
        "live_diffs_per_s": round(sent / (warmup_s + seconds)),
        "live_rows_measured": len(lags),
        "freshness_p50_s": round(statistics.median(lags), 2) if lags else None,
        "freshness_p95_s": round(lags[int(0.95 * (len(lags) - 1))], 2) if lags else None,
        "freshness_max_s": round(lags[-1], 2) if lags else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=90, help="measured seconds of the live run")
    parser.add_argument("--warmup-seconds", type=float, default=30)
    args = parser.parse_args(argv or [])
    if not RECORDING.exists():
        log.warning("the real recording is not here (%s): nothing measured", RECORDING)
        return {}
    diffs, snapshot = recorded_book()
    figures: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    figures.update(pure_throughput(diffs, snapshot))
    # Two private setups: each run's query needs a checkpoint of its own (its offsets name its topics).
    catchup, live = BenchEnv.create("book-catchup", spark_shuffle_partitions=2), BenchEnv.create("book-live")
    try:
        figures.update(spark_catchup(catchup, diffs, snapshot))
        figures.update(freshness(live, args.seconds, args.warmup_seconds))
    finally:
        drop_book_runs(catchup)
        catchup.cleanup()
        live.cleanup()
    figures["load_after"] = os.getloadavg()[0]
    targets = {
        "pure_messages_per_s": {"op": ">=", "value": 1_000, "unit": "messages/s"},  # 10x 10 symbols at 100 ms
        "freshness_p95_s": {"op": "<=", "value": 3.0, "unit": "s"},
    }
    write_result("book_builder", figures, targets)
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    configure_logging()
    main()
