"""Silver: validated, deduplicated, typed trades in Delta, mirrored to PostgreSQL, bad rows in quarantine.

Per micro-batch, in this order (the order is what makes crashes harmless):
  1. validate every record; rank copies of each identity in Kafka order (first copy wins);
  2. drop identities silver already holds: an anti-join against silver pruned to the batch's trade
     dates (partition pruning) and trade_time range (file skipping on trade_time statistics), since a
     replayed trade carries its original trade_time;
  3. score the new rows (null predictions until a model is plugged in);
  4. upsert them into PostgreSQL in one transaction; identities PostgreSQL already holds with another
     trade_time (outside the pruned lookup) come back as conflicts and go to quarantine instead;
  5. append to Delta silver, then quarantine, each idempotent on (sink app id, batch id).
A crash after 4 leaves PostgreSQL ahead of Delta; the restarted query replays the batch with the same
offsets, the upsert rewrites the same rows and the Delta commits happen: the two converge. PostgreSQL
down fails the batch before anything is committed.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BinaryType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakehouse.stream import silver_transforms as st
from lakehouse.stream.delta_sink import append_once, ensure_table, sink_app_id
from lakehouse.stream.kafka_source import read_topic
from lakehouse.stream.postgres_mirror import PostgresMirror
from lakehouse.stream.runner import BatchCallback, BatchReport, StepTimer, run_stream
from lakehouse.stream.scoring import Scorer, conform, load_scorer, null_scorer

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.settings import Settings

log = logging.getLogger(__name__)

SILVER_SINK = "silver.trades"
QUARANTINE_SINK = "silver.trades_quarantine"
_DECIMAL = DecimalType(38, 18)

SILVER_SCHEMA = StructType(
    [
        StructField("source", StringType(), nullable=False),
        StructField("symbol", StringType(), nullable=False),
        StructField("trade_id", StringType(), nullable=False),
        StructField("price", _DECIMAL),
        StructField("quantity", _DECIMAL),
        StructField("notional", _DECIMAL),
        StructField("side", StringType()),
        StructField("trade_time", TimestampType()),
        StructField("trade_date", DateType()),
        StructField("ingest_time", TimestampType()),
        StructField("ingest_latency_ms", LongType()),
        StructField("schema_version", IntegerType()),
        StructField("predicted_price", DoubleType()),
        StructField("model_version", StringType()),
        StructField("kafka_topic", StringType()),
        StructField("kafka_partition", IntegerType()),
        StructField("kafka_offset", LongType()),
        StructField("kafka_timestamp", TimestampType()),
        StructField("processed_at", TimestampType()),
    ]
)
QUARANTINE_SCHEMA = StructType(
    [
        StructField("value", BinaryType()),
        StructField("key", BinaryType()),
        StructField("reason", StringType(), nullable=False),
        StructField("kafka_topic", StringType()),
        StructField("kafka_partition", IntegerType()),
        StructField("kafka_offset", LongType()),
        StructField("kafka_timestamp", TimestampType()),
        StructField("quarantined_at", TimestampType()),
    ]
)


class SilverWriter:
    """foreachBatch sink for silver, quarantine and the PostgreSQL mirror."""

    def __init__(self, settings: Settings, mirror: PostgresMirror, scorer: Scorer = null_scorer) -> None:
        self.silver_uri = settings.table_uri("silver", "trades")
        self.quarantine_uri = settings.table_uri("silver", "trades_quarantine")
        self.mirror = mirror
        self.scorer = scorer
        self.fault_pause_s = settings.stream_fault_pause_s

    def ensure_tables(self, spark: SparkSession) -> None:
        ensure_table(
            spark,
            self.silver_uri,
            SILVER_SCHEMA,
            partition_by=("trade_date",),
            stats_columns=("trade_time", "symbol", "source"),
        )
        ensure_table(spark, self.quarantine_uri, QUARANTINE_SCHEMA, stats_columns=("kafka_partition", "kafka_offset"))
        self.mirror.ensure_schema()

    def _existing_identities(self, spark: SparkSession, candidates: DataFrame) -> DataFrame | None:
        """Silver rows that could hold a candidate's identity, read through partition and file pruning."""
        bounds = candidates.agg(
            F.collect_set("trade_date").alias("dates"),
            F.min("trade_time").alias("low"),
            F.max("trade_time").alias("high"),
        ).first()
        if bounds is None or not bounds["dates"]:
            return None
        return (
            spark.read.format("delta")
            .load(self.silver_uri)
            .where(F.col("trade_date").isin(bounds["dates"]))
            .where(F.col("trade_time").between(bounds["low"], bounds["high"]))
            .select(*st.IDENTITY, "trade_time")
        )

    def _score(self, rows: DataFrame) -> DataFrame:
        """Apply the scorer and materialise; a failing scorer costs this batch its predictions, nothing else.

        localCheckpoint cuts the lineage back to the silver lookup: after our own Delta commit, Spark
        would otherwise re-run the anti-join against the new version and find nothing new.
        """
        try:
            return conform(self.scorer(rows)).localCheckpoint(eager=True)
        except Exception:
            log.exception("scorer failed on this batch; writing null predictions")
            return null_scorer(rows).localCheckpoint(eager=True)

    def _quarantine(
        self, checked: DataFrame, ranked: DataFrame, scored: DataFrame, conflicts: list[tuple[str, str, str]], now: int
    ) -> DataFrame:
        """Invalid records, conflicting copies within the batch, and conflicts the mirror refused."""
        quarantine = st.quarantine_rows(checked.where(F.col("reason").isNotNull()), now).unionByName(
            st.quarantine_rows(st.conflicting_duplicates(ranked), now)
        )
        if conflicts:
            refused = scored.join(_identities(scored.sparkSession, conflicts), list(st.IDENTITY), "left_semi")
            quarantine = quarantine.unionByName(
                st.quarantine_rows(refused.withColumn("reason", F.lit(st.CONFLICT_REASON)), now)
            )
        return quarantine

    def _new_rows(self, batch: DataFrame, now: int, keep: list[DataFrame]) -> tuple[DataFrame, DataFrame, DataFrame]:
        """(checked, ranked, new scored rows) of a batch; the cached frames are added to `keep`."""
        spark = batch.sparkSession
        checked = st.validate(batch, now).persist(StorageLevel.MEMORY_AND_DISK)
        keep.append(checked)
        valid = checked.where(F.col("reason").isNull())
        ranked = st.rank_duplicates(valid, _small(spark, st.repeated_identities(valid)))
        ranked = ranked.persist(StorageLevel.MEMORY_AND_DISK)
        keep.append(ranked)
        candidates = st.to_silver(ranked.where(F.col("dup_rank") == 1), now)
        existing = self._existing_identities(spark, candidates)
        if existing is not None:
            candidates = st.not_yet_in(candidates, _small(spark, st.exact_resends(candidates, existing)))
        scored = self._score(candidates)
        keep.append(scored)
        return checked, ranked, scored

    def __call__(self, batch: DataFrame, batch_id: int) -> BatchReport:
        spark = batch.sparkSession
        silver_app = sink_app_id(spark, SILVER_SINK)
        quarantine_app = sink_app_id(spark, QUARANTINE_SINK)
        now = int(time.time() * 1000)
        cached: list[DataFrame] = []
        timer = StepTimer()
        try:
            checked, ranked, scored = self._new_rows(batch, now, cached)
            rows, invalid, later_copies, resent_in_batch = _totals(checked, ranked)
            timer.lap("prepare")
            mirrored = scored.select(*st.SILVER_COLUMNS).toArrow()
            timer.lap("collect")
            conflicts = self.mirror.upsert(mirrored)
            timer.lap("postgres")
            if self.fault_pause_s:
                # PostgreSQL committed, Delta not yet: the window a crash must survive.
                log.warning("fault drill: batch %d mirrored, pausing %.1fs", batch_id, self.fault_pause_s)
                time.sleep(self.fault_pause_s)
            silver_rows = scored
            if conflicts:
                log.warning("batch %d: %d conflicting duplicates go to quarantine", batch_id, len(conflicts))
                silver_rows = scored.join(_identities(spark, conflicts), list(st.IDENTITY), "left_anti")
            quarantine = self._quarantine(checked, ranked, scored, conflicts, now).persist(StorageLevel.MEMORY_AND_DISK)
            cached.append(quarantine)
            quarantined = quarantine.count()
            # Empty appends are skipped: they would only add empty commits to the log.
            if mirrored.num_rows > len(conflicts):
                append_once(silver_rows.select(*st.SILVER_COLUMNS), self.silver_uri, silver_app, batch_id)
            if quarantined:
                append_once(quarantine, self.quarantine_uri, quarantine_app, batch_id)
            timer.lap("delta")
        finally:
            for frame in cached:
                frame.unpersist()
        counts = {
            "rows": rows,
            "invalid": invalid,
            "silver": mirrored.num_rows - len(conflicts),
            # Exact re-sends: later copies within the batch plus first copies silver already held.
            "duplicates": resent_in_batch + (rows - invalid - later_copies - mirrored.num_rows),
            "quarantined": quarantined,
        }
        return BatchReport("silver", batch_id, counts, steps_s=timer.steps)


def _identities(spark: SparkSession, identities: list[tuple[str, str, str]]) -> DataFrame:
    return F.broadcast(spark.createDataFrame(identities, ", ".join(f"{c} string" for c in st.IDENTITY)))


def _small(spark: SparkSession, frame: DataFrame) -> DataFrame:
    """Collect a small (usually empty) key set and hand it back as a broadcast: no shuffle of batch rows."""
    return F.broadcast(spark.createDataFrame(frame.collect(), frame.schema))


def _totals(checked: DataFrame, ranked: DataFrame) -> tuple[int, int, int, int]:
    """(records, invalid, later copies of an identity, exact re-sends among them) of one batch."""
    rows, invalid = checked.agg(F.count(F.lit(1)), F.count("reason")).first() or (0, 0)
    resent = (F.col("dup_rank") > 1) & (F.col("_t.trade_time") == F.col("_first_trade_time"))
    later, exact = ranked.agg(F.count_if(F.col("dup_rank") > 1), F.count_if(resent)).first() or (0, 0)
    return int(rows), int(invalid), int(later), int(exact)


def run_silver(
    spark: SparkSession,
    settings: Settings,
    *,
    once: bool,
    topic: str | None = None,
    stop_after_s: float | None = None,
    scorer: Scorer | None = None,
    callbacks: tuple[BatchCallback, ...] = (),
) -> None:
    """Kafka `raw-trades` -> Delta silver + quarantine + PostgreSQL mirror, until done (`once`) or stopped."""
    mirror = PostgresMirror(settings.require_pg_dsn(), settings.pg_silver_table, settings.pg_prices_view)
    writer = SilverWriter(settings, mirror, scorer or load_scorer(spark, settings))
    try:
        writer.ensure_tables(spark)
        run_stream(
            read_topic(spark, settings, topic),
            writer,
            name="silver-trades",
            checkpoint=f"{settings.checkpoints}/silver_trades",
            once=once,
            trigger_s=settings.silver_trigger_s,
            callbacks=callbacks,
            stop_after_s=stop_after_s,
        )
    finally:
        mirror.close()
