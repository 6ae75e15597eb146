"""A/B: does each mechanism added for speed pay its way? Same run, alternating, median of 3 runs each way.

- `copy_slices`: the PostgreSQL mirror copies a large batch as two slices over two connections
  (`PARALLEL_SLICES`) against one slice on one connection.
- `validation_fast_path`: silver's validation reads canonical records through one regular expression
  and a typed parse, against every record through the variant path (CANONICAL_MAX_CHARS = -1).
- `class_archive`: a Spark driver that maps the class-data archive against one that loads and verifies
  its classes (LAKEHOUSE_SPARK_CLASS_ARCHIVE=0), from process start to the first job's result.

Needs the local infra (`lakehouse infra up`; started here if it is down). Run: uv run python -m bench.ab_speedups
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.common import write_result
from lakehouse.logging_setup import configure_logging

log = logging.getLogger("bench.ab_speedups")

RUNS = 3
MIRROR_ROWS = 200_000
VALIDATION_ROWS = 400_000
# One canonical record (what every producer here writes), with the trade id and times left open.
RECORD = (
    '{{"source":"binance","symbol":"BTCUSDT","trade_id":"{n}","price":"65000.12","quantity":"0.015",'
    '"side":"buy","trade_time":{t},"ingest_time":{t},"schema_version":1}}'
)


def alternate(
    run_a: Callable[[], float], run_b: Callable[[], float], runs: int = RUNS
) -> tuple[list[float], list[float]]:
    """A, B, A, B, ...: both ways see the same machine state (caches, load) as evenly as possible."""
    a, b = [], []
    for _ in range(runs):
        a.append(run_a())
        b.append(run_b())
    return a, b


def summary(name: str, a: list[float], b: list[float], a_label: str, b_label: str) -> dict[str, Any]:
    median_a, median_b = statistics.median(a), statistics.median(b)
    log.info("%s: %s %.3f s vs %s %.3f s (medians of %d)", name, a_label, median_a, b_label, median_b, len(a))
    return {
        f"{name}_{a_label}_s": round(median_a, 3),
        f"{name}_{b_label}_s": round(median_b, 3),
        f"{name}_speedup": round(median_b / median_a, 3),
        f"{name}_runs_s": {a_label: [round(x, 3) for x in a], b_label: [round(x, 3) for x in b]},
    }


def mirror_rows(count: int) -> Any:
    """A silver batch as the silver job hands it to the mirror (Arrow, the silver record's types)."""
    import pyarrow as pa

    from lakehouse.schema.silver import SILVER_TRADE, arrow_schema

    start = datetime.now(UTC) - timedelta(hours=1)
    times = [start + timedelta(milliseconds=n) for n in range(count)]
    price, quantity = Decimal("65000.12"), Decimal("0.015")
    columns: dict[str, list[Any]] = {
        "source": ["binance"] * count,
        "symbol": [("BTCUSDT", "ETHUSDT", "SOLUSDT")[n % 3] for n in range(count)],
        "trade_id": [str(n) for n in range(count)],
        "price": [price] * count,
        "quantity": [quantity] * count,
        "notional": [price * quantity] * count,
        "side": [("buy", "sell")[n % 2] for n in range(count)],
        "trade_time": times,
        "trade_date": [t.date() for t in times],
        "ingest_time": times,
        "ingest_latency_ms": [0] * count,
        "schema_version": [1] * count,
        "predicted_price": [None] * count,
        "model_version": [None] * count,
        "kafka_topic": ["raw-trades"] * count,
        "kafka_partition": [n % 3 for n in range(count)],
        "kafka_offset": list(range(count)),
        "kafka_timestamp": times,
        "processed_at": [datetime.now(UTC)] * count,
    }
    return pa.table(columns, schema=arrow_schema(SILVER_TRADE))


def copy_slices(dsn: str) -> dict[str, Any]:
    """Mirror the same batch into a fresh table with two slices, then with one."""
    import psycopg

    from lakehouse.stream import postgres_mirror
    from lakehouse.stream.postgres_mirror import PostgresMirror, StreamMarker

    rows = mirror_rows(MIRROR_ROWS)

    def upsert(slices: int) -> Callable[[], float]:
        def run() -> float:
            table = f"silver.ab_{uuid.uuid4().hex[:8]}"
            mirror = PostgresMirror(dsn, table, view=f"public.ab_view_{uuid.uuid4().hex[:8]}")
            mirror.ensure_schema()
            postgres_mirror.PARALLEL_SLICES = slices
            try:
                started = time.perf_counter()
                mirror.upsert(rows, StreamMarker("ab", 0))
                return time.perf_counter() - started
            finally:
                postgres_mirror.PARALLEL_SLICES = default
                mirror.close()
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")

        return run

    default = postgres_mirror.PARALLEL_SLICES
    a, b = alternate(upsert(default), upsert(1))
    return summary("copy_slices", a, b, "two_slices", "one_slice")


def validation_fast_path(settings: Any) -> dict[str, Any]:
    """Validate the same canonical records with and without the regular-expression fast path."""
    from pyspark.sql import functions as F

    from lakehouse.spark.session import build_spark
    from lakehouse.stream import silver_transforms as st

    spark = build_spark(settings, app_name="ab-validation")
    now = int(time.time() * 1000)
    template = RECORD.replace("{n}", "%1$d").replace("{t}", "%2$d").replace("{{", "{").replace("}}", "}")
    raw = (
        spark.range(VALIDATION_ROWS)
        .select(
            F.lit(b"BTCUSDT").alias("key"),
            F.format_string(template, F.col("id"), F.lit(now - 60_000) + F.col("id")).cast("binary").alias("value"),
            F.lit("raw-trades").alias("topic"),
            (F.col("id") % 3).cast("int").alias("partition"),
            F.col("id").alias("offset"),
            F.current_timestamp().alias("timestamp"),
            F.lit(0).alias("timestampType"),
        )
        .cache()
    )
    raw.count()
    default = st.CANONICAL_MAX_CHARS

    def validate(max_chars: int) -> Callable[[], float]:
        def run() -> float:
            st.CANONICAL_MAX_CHARS = max_chars
            try:
                started = time.perf_counter()
                checked = st.validate(raw, now)
                row = checked.agg(F.count("reason").alias("invalid"), F.sum("_price").alias("total")).first()
                assert row is not None and row["invalid"] == 0, "every record must be valid on both paths"
                return time.perf_counter() - started
            finally:
                st.CANONICAL_MAX_CHARS = default

        return run

    try:
        a, b = alternate(validate(default), validate(-1))
    finally:
        raw.unpersist()
        spark.stop()
    return summary("validation", a, b, "fast_path", "variant_path")


_FIRST_JOB = (
    "import time; t0 = time.perf_counter()\n"
    "from lakehouse.settings import load_settings; from lakehouse.spark.session import build_spark\n"
    "spark = build_spark(load_settings(), app_name='ab-start'); spark.range(1000).count()\n"
    "print('SECONDS', time.perf_counter() - t0); spark.stop()\n"
)


def class_archive() -> dict[str, Any]:
    """A new driver process to its first job's result, with the archive and without."""
    from lakehouse.spark.class_archive import ENABLED_VARIABLE, ensure_archive

    archive = ensure_archive()
    if archive is None:
        raise RuntimeError("no class archive could be built for this JVM and jar set")

    def start(enabled: str) -> Callable[[], float]:
        def run() -> float:
            env = {**os.environ, ENABLED_VARIABLE: enabled}
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", _FIRST_JOB], env=env, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(result.stderr[-2000:])
            return time.perf_counter() - started

        return run

    a, b = alternate(start("1"), start("0"))
    figures = summary("driver_start", a, b, "with_archive", "without_archive")
    figures["class_archive_mib"] = round(archive.stat().st_size / 2**20)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["copy_slices", "validation", "class_archive"], action="append")
    args = parser.parse_args(argv)
    configure_logging()
    from lakehouse.local.infra import LocalInfra
    from lakehouse.settings import load_settings

    LocalInfra().up()
    settings = load_settings()
    chosen = set(args.only or ["copy_slices", "validation", "class_archive"])
    figures: dict[str, Any] = {"runs_each_way": RUNS, "mirror_rows": MIRROR_ROWS, "validation_rows": VALIDATION_ROWS}
    figures["load_average_1m_before"] = round(os.getloadavg()[0], 2)
    if "copy_slices" in chosen:
        figures |= copy_slices(settings.require_pg_dsn())
    if "validation" in chosen:
        figures |= validation_fast_path(settings)
    if "class_archive" in chosen:
        figures |= class_archive()
    figures["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    log.info("figures: %s", json.dumps({k: v for k, v in figures.items() if not isinstance(v, dict)}))
    # A mechanism stays only while it is faster than doing without it.
    targets = {
        f"{name}_speedup": {"op": ">=", "value": 1.0, "unit": "x"}
        for name in ("copy_slices", "validation", "driver_start")
        if f"{name}_speedup" in figures
    }
    write_result("ab_speedups", figures, targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
