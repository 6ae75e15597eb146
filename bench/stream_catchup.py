"""Catch-up: a backlog of 1,000,000 trades in Kafka, then bronze and silver (with the PostgreSQL mirror) --once.

Targets: bronze >= 50,000 trades/s, silver >= 20,000 trades/s on the 2-core machine. Rates are rows divided
by the wall time of each job's run (query start to exit; the JVM start is reported separately, since a
long-running job pays it once). Everything runs against the real local Kafka, Delta folder and
PostgreSQL, in a private topic, lake folder and mirror table that are removed afterwards.

    uv run python -m bench.stream_catchup [--trades N] [--bronze-max-offsets M] [--silver-max-offsets M]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.common import write_result
from lakehouse.logging_setup import configure_logging
from lakehouse.paths import state_dir
from lakehouse.schema.trade import TradeRecord, now_ms
from lakehouse.settings import Settings, load_settings

log = logging.getLogger("bench.stream_catchup")

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "TRXUSDT", "AVAXUSDT")
_TEMPLATE = (
    '{{"source":"binance","symbol":"{symbol}","trade_id":"{trade_id}","price":"{price}","quantity":"0.015",'
    '"side":"{side}","trade_time":{trade_time},"ingest_time":{ingest_time},"schema_version":1}}'
)


def trade_json(n: int, trade_time_ms: int, run: str = "") -> bytes:
    """A canonical trade, formatted directly (pydantic per message would make the producer the bottleneck)."""
    return _TEMPLATE.format(
        symbol=SYMBOLS[n % len(SYMBOLS)],
        trade_id=f"{run}{n}",
        price=f"{60000 + (n % 5000) / 100:.2f}",
        side="buy" if n % 2 else "sell",
        trade_time=trade_time_ms,
        ingest_time=trade_time_ms + 3,
    ).encode()


def produce_backlog(bootstrap: str, topic: str, count: int) -> float:
    """Produce `count` trades as fast as the client allows; return the seconds it took."""
    from confluent_kafka import Producer

    TradeRecord.model_validate_json(trade_json(0, now_ms()))  # the fast path still emits canonical records
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 2_000_000,
        }
    )
    started = time.monotonic()
    base = now_ms() - count
    for n in range(count):
        value = trade_json(n, base + n)
        while True:
            try:
                producer.produce(topic, value=value, key=SYMBOLS[n % len(SYMBOLS)].encode())
                break
            except BufferError:
                producer.poll(0.05)
        if n % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("the producer could not deliver the backlog")
    return time.monotonic() - started


@dataclass
class BenchEnv:
    """A private topic, lake folder and mirror table on the shared local infra."""

    settings: Settings
    topic: str
    lake_dir: Path

    @classmethod
    def create(cls, name: str, **overrides: Any) -> BenchEnv:
        from lakehouse.kafka.admin import ensure_topic

        run = uuid.uuid4().hex[:8]
        lake_dir = state_dir() / "bench" / f"{name}-{run}"
        settings = load_settings(
            lake_uri=str(lake_dir / "lake"),
            checkpoint_uri=None,
            pg_silver_table=f"silver.bench_trades_{run}",
            pg_prices_view=f"public.bench_crypto_prices_{run}",
            **overrides,
        )
        topic = f"bench-raw-trades-{run}"
        ensure_topic(settings.kafka_bootstrap, topic, partitions=settings.kafka_partitions)
        return cls(settings, topic, lake_dir)

    def env(self) -> dict[str, str]:
        """Environment for a job subprocess pointed at this private setup."""
        environment = {
            **os.environ,
            "LAKEHOUSE_LAKE_URI": self.settings.lake_uri,
            "LAKEHOUSE_PG_SILVER_TABLE": self.settings.pg_silver_table,
            "LAKEHOUSE_PG_PRICES_VIEW": self.settings.pg_prices_view,
            "LAKEHOUSE_SPARK_DRIVER_MEMORY": self.settings.spark_driver_memory,
            "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": str(self.settings.spark_shuffle_partitions),
        }
        environment.pop("LAKEHOUSE_CHECKPOINT_URI", None)
        return environment

    def mirror_count(self) -> int:
        with psycopg.connect(self.settings.require_pg_dsn()) as conn:
            row = conn.execute(f"SELECT count(*) FROM {self.settings.pg_silver_table}").fetchone()
        return int(row[0]) if row else 0

    def cleanup(self) -> None:
        from confluent_kafka.admin import AdminClient

        with psycopg.connect(self.settings.require_pg_dsn(), autocommit=True) as conn:
            conn.execute(f"DROP VIEW IF EXISTS {self.settings.pg_prices_view}")
            conn.execute(f"DROP TABLE IF EXISTS {self.settings.pg_silver_table}")
        AdminClient({"bootstrap.servers": self.settings.kafka_bootstrap}).delete_topics([self.topic])
        shutil.rmtree(self.lake_dir, ignore_errors=True)


def class_archive_in_use() -> bool:
    from lakehouse.local.jars import spark_jars
    from lakehouse.spark import class_archive

    return bool(class_archive.java_options(spark_jars()))


def delta_rows(uri: str) -> int:
    from deltalake import DeltaTable

    return int(DeltaTable(uri).to_pyarrow_dataset().count_rows())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=1_000_000)
    # Bronze: the job's default cap. Silver: twice its default, which the 3g driver below affords.
    parser.add_argument("--bronze-max-offsets", type=int, default=1_000_000)
    parser.add_argument("--silver-max-offsets", type=int, default=500_000)
    parser.add_argument("--driver-memory", default="3g")
    parser.add_argument("--shuffle-partitions", type=int, default=4)
    args = parser.parse_args(argv or [])

    from lakehouse.spark.session import build_spark
    from lakehouse.stream.bronze import run_bronze
    from lakehouse.stream.silver import run_silver

    bench = BenchEnv.create(
        "catchup",
        bronze_max_offsets_per_trigger=args.bronze_max_offsets,
        silver_max_offsets_per_trigger=args.silver_max_offsets,
        spark_driver_memory=args.driver_memory,
        spark_shuffle_partitions=args.shuffle_partitions,
    )
    settings = bench.settings
    load_before = os.getloadavg()
    try:
        produce_s = produce_backlog(settings.kafka_bootstrap, bench.topic, args.trades)
        log.info("backlog of %d trades produced in %.1fs", args.trades, produce_s)
        started = time.monotonic()
        spark = build_spark(settings, app_name="bench-stream-catchup")
        jvm_start_s = time.monotonic() - started

        started = time.monotonic()
        run_bronze(spark, settings, once=True, topic=bench.topic)
        bronze_s = time.monotonic() - started
        started = time.monotonic()
        run_silver(spark, settings, once=True, topic=bench.topic)
        silver_s = time.monotonic() - started
        load_after = os.getloadavg()

        bronze_rows = delta_rows(settings.table_uri("bronze", "trades"))
        silver_rows = delta_rows(settings.table_uri("silver", "trades"))
        mirror_rows = bench.mirror_count()
        spark.stop()
    finally:
        bench.cleanup()
    figures = {
        "trades": args.trades,
        "bronze_trades_per_s": round(args.trades / bronze_s),
        "silver_trades_per_s": round(args.trades / silver_s),
        "bronze_seconds": round(bronze_s, 1),
        "silver_seconds": round(silver_s, 1),
        "jvm_start_seconds": round(jvm_start_s, 1),
        "rows_in_bronze": bronze_rows,
        "rows_in_silver": silver_rows,
        "rows_in_postgres": mirror_rows,
        # Every layer must hold each trade exactly once: any missing or extra row counts here.
        "row_count_errors": sum(abs(rows - args.trades) for rows in (bronze_rows, silver_rows, mirror_rows)),
        "bronze_max_offsets_per_trigger": args.bronze_max_offsets,
        "silver_max_offsets_per_trigger": args.silver_max_offsets,
        "class_archive": class_archive_in_use(),
        "shuffle_partitions": args.shuffle_partitions,
        "driver_memory": args.driver_memory,
        "load_average_1m_before": round(load_before[0], 2),
        "load_average_1m_after": round(load_after[0], 2),
    }
    log.info("figures: %s", figures)
    write_result(
        "stream_catchup",
        figures,
        {
            "bronze_trades_per_s": {"op": ">=", "value": 50_000, "unit": "trades/s"},
            "silver_trades_per_s": {"op": ">=", "value": 20_000, "unit": "trades/s"},
            "row_count_errors": {"op": "<=", "value": 0, "unit": "rows"},
        },
    )
    return figures


if __name__ == "__main__":
    configure_logging()
    main(sys.argv[1:])
