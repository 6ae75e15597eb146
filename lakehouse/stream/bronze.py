"""Bronze: every Kafka record of `raw-trades`, value unchanged, plus its Kafka coordinates.

(topic, partition, offset) is the key of a bronze row. The ingest date (of the Kafka timestamp, so a
replayed batch lands in the same partition) partitions the table. Appends are idempotent per batch.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from pyspark.sql import functions as F
from pyspark.sql.types import (
    BinaryType,
    DateType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakehouse.stream.delta_sink import append_once, ensure_table, latest_commit, sink_app_id
from lakehouse.stream.kafka_source import read_topic
from lakehouse.stream.runner import BatchCallback, BatchReport, StepTimer, run_stream

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.settings import Settings

log = logging.getLogger(__name__)

SINK = "bronze.trades"
BRONZE_SCHEMA = StructType(
    [
        StructField("key", BinaryType()),
        StructField("value", BinaryType()),
        StructField("topic", StringType(), nullable=False),
        StructField("partition", IntegerType(), nullable=False),
        StructField("offset", LongType(), nullable=False),
        StructField("kafka_timestamp", TimestampType()),
        StructField("kafka_timestamp_type", IntegerType()),
        StructField("ingest_date", DateType()),
        StructField("bronze_written_at", TimestampType()),
    ]
)


def bronze_rows(records: DataFrame, written_at_ms: int) -> DataFrame:
    """Kafka records -> bronze rows (pure)."""
    return records.select(
        F.col("key"),
        F.col("value"),
        F.col("topic"),
        F.col("partition"),
        F.col("offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("timestampType").alias("kafka_timestamp_type"),
        F.to_date(F.col("timestamp")).alias("ingest_date"),
        F.timestamp_millis(F.lit(written_at_ms)).alias("bronze_written_at"),
    )


class BronzeWriter:
    """foreachBatch sink: one idempotent Delta append per batch."""

    def __init__(self, settings: Settings) -> None:
        self.uri = settings.table_uri("bronze", "trades")
        self.fault_pause_s = settings.stream_fault_pause_s

    def ensure_table(self, spark: SparkSession) -> None:
        ensure_table(
            spark,
            self.uri,
            BRONZE_SCHEMA,
            partition_by=("ingest_date",),
            stats_columns=("partition", "offset", "kafka_timestamp"),
        )

    def __call__(self, batch: DataFrame, batch_id: int) -> BatchReport:
        spark = batch.sparkSession
        app_id = sink_app_id(spark, SINK)
        timer = StepTimer()
        # One pass over the Kafka records, straight into Parquet; the row count comes from the commit.
        appended = append_once(bronze_rows(batch, int(time.time() * 1000)), self.uri, app_id, batch_id)
        written = latest_commit(spark, self.uri)[1] if appended else 0
        timer.lap("delta")
        if self.fault_pause_s:
            # Committed to Delta, not yet to the checkpoint: the window a crash must survive.
            log.warning("fault drill: batch %d committed to Delta, pausing %.1fs", batch_id, self.fault_pause_s)
            time.sleep(self.fault_pause_s)
        return BatchReport("bronze", batch_id, {"rows": written}, steps_s=timer.steps)


def run_bronze(
    spark: SparkSession,
    settings: Settings,
    *,
    once: bool,
    topic: str | None = None,
    stop_after_s: float | None = None,
    callbacks: tuple[BatchCallback, ...] = (),
) -> None:
    """Kafka `raw-trades` -> Delta `<lake>/bronze/trades` until done (`once`) or stopped."""
    writer = BronzeWriter(settings)
    writer.ensure_table(spark)
    run_stream(
        read_topic(spark, settings, topic, settings.bronze_max_offsets_per_trigger),
        writer,
        name="bronze-trades",
        checkpoint=f"{settings.checkpoints}/bronze_trades",
        once=once,
        trigger_s=settings.bronze_trigger_s,
        callbacks=callbacks,
        stop_after_s=stop_after_s,
    )
