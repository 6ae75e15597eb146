"""Command lines of the two streaming jobs (`consumer_lake.py`, `process_silver.py`)."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from typing import Literal

from lakehouse.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)

Job = Literal["bronze", "silver"]

DESCRIPTIONS: dict[Job, str] = {
    "bronze": (
        "Stream Kafka raw-trades into the Delta table <lake>/bronze/trades: every record once, value unchanged, "
        "with its Kafka coordinates, partitioned by ingest date. Restarts resume from the checkpoint."
    ),
    "silver": (
        "Stream Kafka raw-trades into Delta <lake>/silver/trades (validated, deduplicated, typed, with prediction "
        "columns), bad records into <lake>/silver/trades_quarantine, and mirror silver into PostgreSQL "
        "silver.trades (view public.crypto_prices). Restarts resume from the checkpoint."
    ),
}


def parser(job: Job) -> argparse.ArgumentParser:
    interval = "LAKEHOUSE_BRONZE_TRIGGER_S" if job == "bronze" else "LAKEHOUSE_SILVER_TRIGGER_S"
    parse = argparse.ArgumentParser(
        description=DESCRIPTIONS[job],
        epilog="Connection settings come from LAKEHOUSE_* variables and .lakehouse/env (`lakehouse infra up`).",
    )
    parse.add_argument(
        "--once", action="store_true", help="process what is in Kafka now (AvailableNow trigger), then exit"
    )
    parse.add_argument("--topic", help="Kafka topic (default: LAKEHOUSE_KAFKA_TOPIC, raw-trades)")
    parse.add_argument(
        "--trigger-seconds", type=float, help=f"micro-batch interval for continuous runs (default: {interval})"
    )
    parse.add_argument(
        "--max-offsets-per-trigger",
        type=int,
        help=f"records per micro-batch at most (default: LAKEHOUSE_{job.upper()}_MAX_OFFSETS_PER_TRIGGER)",
    )
    parse.add_argument("--run-seconds", type=float, help="stop after this many seconds (continuous runs)")
    return parse


def job_settings(job: Job, args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if args.trigger_seconds is not None:
        overrides[f"{job}_trigger_s"] = args.trigger_seconds
    if args.max_offsets_per_trigger is not None:
        overrides[f"{job}_max_offsets_per_trigger"] = args.max_offsets_per_trigger
    return load_settings(**overrides)


def main(job: Job, argv: Sequence[str] | None = None) -> int:
    """Parse arguments, build Spark and run the job; 0 on success, 1 on a failed batch or bad config."""
    from lakehouse.logging_setup import configure_logging

    args = parser(job).parse_args(argv)
    configure_logging()
    try:
        settings = job_settings(job, args)
    except SettingsError as error:
        log.error("%s", error)
        return 1

    from lakehouse.spark.session import build_spark
    from lakehouse.stream.postgres_mirror import MirrorError
    from lakehouse.stream.runner import StreamFailedError

    started = time.monotonic()
    spark = build_spark(settings, app_name=f"{job}-trades")
    try:
        # Observability: Spark progress and batch counts -> Prometheus on LAKEHOUSE_METRICS_PORT (when set).
        from lakehouse.observability.server import MetricsPortInUseError
        from lakehouse.observability.streaming import install_stream_metrics

        metrics = (install_stream_metrics(spark, settings).on_batch,)
        if job == "bronze":
            from lakehouse.stream.bronze import run_bronze

            run_bronze(
                spark, settings, once=args.once, topic=args.topic, stop_after_s=args.run_seconds, callbacks=metrics
            )
        else:
            from lakehouse.stream.silver import run_silver

            run_silver(
                spark, settings, once=args.once, topic=args.topic, stop_after_s=args.run_seconds, callbacks=metrics
            )
    except (StreamFailedError, MirrorError, SettingsError, MetricsPortInUseError) as error:
        log.error("%s job failed; a restart retries the failed batch: %s", job, error)
        return 1
    finally:
        spark.stop()
    log.info("%s job finished in %.1fs", job, time.monotonic() - started)
    return 0
