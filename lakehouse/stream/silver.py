"""Silver: validated, deduplicated, typed trades in Delta, mirrored to PostgreSQL, bad rows in quarantine.

Per micro-batch, in this order (the order is what makes crashes harmless):
  1. validate every record, in one pass that also brings back a 64-bit hash of each valid identity
     (repeated hashes are the only candidates for duplicates, so a batch without repeats needs no
     shuffle); rank copies of each repeated identity in Kafka order (first copy wins);
  2. score the first copies (null predictions until a model is plugged in);
  3. upsert them into PostgreSQL (large batches in parallel slices, a transaction each), stamped with
     (query id, batch id). The mirror's
     primary key is the re-send index: it reports identities it holds with another trade_time
     (conflicts, to quarantine) and exact re-sends an earlier batch of this query wrote (already in
     Delta); rows an earlier query wrote (a reset checkpoint) are looked up in Delta, usually none, and
     those Delta lacks are adopted (re-stamped) by this batch, the others keep their first stamp;
  4. append the rest to Delta silver, then quarantine, each idempotent on (sink app id, batch id).
A crash after 3 leaves PostgreSQL ahead of Delta; the restarted query replays the batch with the same
offsets and batch id, the upsert rewrites the same rows (its own, so not re-sends) and the Delta commits
happen: the two converge. PostgreSQL down fails the batch before anything is committed to Delta.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark import StorageLevel
from pyspark.sql import functions as F

from lakehouse.schema.silver import IDENTITY, QUARANTINE, SILVER_COLUMNS, SILVER_TRADE, spark_schema
from lakehouse.stream import silver_transforms as st
from lakehouse.stream.book_mirror import BookMirror
from lakehouse.stream.delta_sink import append_once, ensure_table, sink_app_id, streaming_query_id
from lakehouse.stream.kafka_source import read_topic
from lakehouse.stream.postgres_mirror import Identity, PostgresMirror, StreamMarker, UpsertOutcome
from lakehouse.stream.runner import BatchCallback, BatchReport, StepTimer, StreamSpec, run_streams
from lakehouse.stream.scorer_hook import Scorer, conform, load_scorer, null_scorer
from lakehouse.stream.silver_book import silver_book_spec

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.settings import Settings

log = logging.getLogger(__name__)

SILVER_SINK = "silver.trades"
QUARANTINE_SINK = "silver.trades_quarantine"
SILVER_SCHEMA = spark_schema(SILVER_TRADE, non_null=IDENTITY)
QUARANTINE_SCHEMA = spark_schema(QUARANTINE, non_null=("reason",))


class SilverWriter:
    """foreachBatch sink for silver, quarantine and the PostgreSQL mirror."""

    def __init__(self, settings: Settings, mirror: PostgresMirror, scorer: Scorer = null_scorer) -> None:
        self.silver_uri = settings.table_uri("silver", "trades")
        self.quarantine_uri = settings.table_uri("silver", "trades_quarantine")
        self.mirror = mirror
        self.scorer = scorer
        self.fault_pause_s = settings.stream_fault_pause_s
        # The newest Kafka offset per (topic, partition) in quarantine when this process started (None:
        # not read yet; emptied once the query is past them). See _drop_already_quarantined.
        self._quarantined_upto: dict[tuple[str, int], int] | None = None

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

    def _held_in_delta(self, spark: SparkSession, mirrored: pa.Table, unknown: list[Identity]) -> list[Identity]:
        """Of `unknown` (mirrored by an earlier query), the trades silver's Delta table already holds.

        Read through partition pruning (their trade dates) and file skipping (their trade_time range).
        """
        if not unknown:
            return []
        import pyarrow as pa

        keys = pa.table({name: [identity[i] for identity in unknown] for i, name in enumerate(IDENTITY)})
        rows = mirrored.select([*IDENTITY, "trade_time", "trade_date"]).join(keys, list(IDENTITY), join_type="inner")
        dates = sorted(set(rows.column("trade_date").to_pylist()))
        times = rows.column("trade_time").to_pylist()
        existing = (
            spark.read.format("delta")
            .load(self.silver_uri)
            .where(F.col("trade_date").isin(dates))
            .where(F.col("trade_time").between(F.lit(min(times)), F.lit(max(times))))
            .select(*IDENTITY, "trade_time")
        )
        candidates = spark.createDataFrame(rows.select([*IDENTITY, "trade_time"]))
        return [tuple(row)[:3] for row in st.exact_resends(candidates, existing).collect()]

    def _collect_scored(self, new_rows: DataFrame, keep: list[DataFrame]) -> tuple[DataFrame, pa.Table]:
        """Score, cache and collect the new rows; a failing scorer costs this batch its predictions, nothing else."""
        try:
            return self._score_with(self.scorer, new_rows, keep)
        except Exception:
            if self.scorer is null_scorer:
                raise
            log.exception("scorer failed on this batch; writing null predictions")
            return self._score_with(null_scorer, new_rows, keep)

    @staticmethod
    def _score_with(scorer: Scorer, new_rows: DataFrame, keep: list[DataFrame]) -> tuple[DataFrame, pa.Table]:
        scored = conform(scorer(new_rows)).persist(StorageLevel.MEMORY_AND_DISK)
        keep.append(scored)
        return scored, scored.select(*SILVER_COLUMNS).toArrow()

    def _dedup(self, spark: SparkSession, checked: DataFrame, repeat_hashes: list[int], now: int) -> Dedup:
        """The first copy of each identity in the batch, and the later copies that conflict with it.

        `repeat_hashes` are the identity hashes seen more than once; only their rows are grouped by identity.
        """
        valid = checked.where(F.col("reason").isNull())
        if not repeat_hashes:
            repeated = []
        elif len(repeat_hashes) <= SUSPECT_HASHES_INLINE:
            repeated = st.repeated_identities(valid.where(st.identity_hash().isin(repeat_hashes))).collect()
        else:
            # A storm of re-sends: thousands of literals would cost more to plan than grouping the batch.
            repeated = st.repeated_identities(valid).collect()
        if repeated:
            identities = spark.createDataFrame([tuple(r)[:3] for r in repeated], IDENTITY_DDL)
            ranked = st.rank_duplicates(valid, F.broadcast(identities))
        else:
            ranked = st.first_copies(valid)
        conflicting = st.conflicting_duplicates(ranked)
        conflict_count = conflicting.count() if repeated else 0
        candidates = st.to_silver(ranked.where(F.col("dup_rank") == 1), now)
        later_copies = sum(int(r["copies"]) - 1 for r in repeated)
        return Dedup(candidates, conflicting, conflict_count, later_copies)

    def _drop_already_quarantined(self, spark: SparkSession, checked: DataFrame, quarantine: DataFrame) -> DataFrame:
        """`quarantine` without the records an earlier query quarantined already (after a checkpoint reset).

        The quarantine's idempotent commit holds per query; a reset query reads the old offsets again.
        Only batches that start at or before the newest offset quarantined when the process started can
        overlap, so the check costs one small aggregate per process (the first batch is past them) and a
        lookup, pruned to the batch's offsets, only while a reset query re-reads old offsets.
        """
        if self._quarantined_upto is None:
            self._quarantined_upto = {
                (row["kafka_topic"], row["kafka_partition"]): row["upto"]
                for row in spark.read.format("delta")
                .load(self.quarantine_uri)
                .groupBy("kafka_topic", "kafka_partition")
                .agg(F.max("kafka_offset").alias("upto"))
                .collect()
            }
        if not self._quarantined_upto:
            return quarantine
        ranges = checked.groupBy("topic", "partition").agg(
            F.min("offset").alias("first"), F.max("offset").alias("last")
        )
        overlapping = [
            row
            for row in ranges.collect()
            if row["first"] <= self._quarantined_upto.get((row["topic"], row["partition"]), -1)
        ]
        if not overlapping:
            self._quarantined_upto = {}  # offsets only grow within a query: no later batch can overlap
            return quarantine
        coordinates = ["kafka_topic", "kafka_partition", "kafka_offset"]
        within = [
            (F.col("kafka_topic") == row["topic"])
            & (F.col("kafka_partition") == row["partition"])
            & F.col("kafka_offset").between(row["first"], row["last"])
            for row in overlapping
        ]
        condition = within[0]
        for clause in within[1:]:
            condition = condition | clause
        held = spark.read.format("delta").load(self.quarantine_uri).where(condition).select(*coordinates)
        return quarantine.join(held.distinct(), coordinates, "left_anti")

    def _write_quarantine(
        self, checked: DataFrame, rows: DataFrame, count: int, target: tuple[str, int], cached: list[DataFrame]
    ) -> int:
        """Append the batch's `count` quarantine rows once (`target`: app id, batch id); return how many were new."""
        unseen = self._drop_already_quarantined(checked.sparkSession, checked, rows)
        if unseen is not rows:
            rows = unseen.persist(StorageLevel.MEMORY_AND_DISK)
            cached.append(rows)
            count = rows.count()
        if count:
            append_once(rows, self.quarantine_uri, *target)
        return count

    def __call__(self, batch: DataFrame, batch_id: int) -> BatchReport:
        """One micro-batch, in the order that makes a replay after a crash exact (docs/architecture.md):
        validate, deduplicate, score, upsert into PostgreSQL, then append to Delta silver and quarantine."""
        spark = batch.sparkSession
        marker = StreamMarker(streaming_query_id(spark), batch_id)
        now = int(time.time() * 1000)
        cached: list[DataFrame] = []
        timer = StepTimer()
        try:
            checked, totals, repeats = self._validate(batch, now, cached)
            timer.lap("validate")
            dedup = self._dedup(spark, checked, repeats, now)
            timer.lap("repeats")
            scored, mirrored = self._collect_scored(dedup.new_rows, cached)
            timer.lap("collect")
            outcome = self.mirror.upsert(mirrored, marker)
            timer.lap("postgres")
            held = self._adopt_unknown(spark, mirrored, outcome, marker)
            if outcome.unknown:
                timer.lap("lookup")
            self._fault_drill_pause(batch_id)
            refused = [*outcome.conflicts, *outcome.resends, *held]
            appended = self._append_silver(spark, scored, refused, mirrored.num_rows - len(refused), batch_id)
            quarantine = self._quarantine_rows(checked, dedup, scored, outcome.conflicts, now)
            quarantined = totals.invalid + dedup.conflict_count + len(outcome.conflicts)
            if quarantined:
                target = (sink_app_id(spark, QUARANTINE_SINK), batch_id)
                quarantined = self._write_quarantine(checked, quarantine, quarantined, target, cached)
            timer.lap("delta")
        finally:
            for frame in cached:
                frame.unpersist()
        counts = {
            "rows": totals.rows,
            "invalid": totals.invalid,
            "silver": appended,
            # Exact re-sends: later copies within the batch plus trades silver already held.
            "duplicates": dedup.later_copies - dedup.conflict_count + len(outcome.resends) + len(held),
            "quarantined": quarantined,
        }
        return BatchReport("silver", batch_id, counts, steps_s=timer.steps)

    @staticmethod
    def _validate(batch: DataFrame, now: int, cached: list[DataFrame]) -> tuple[DataFrame, BatchTotals, list[int]]:
        """Validate and cache the batch; bring back only a hash per row (the repeats, and the counts)."""
        checked = st.validate(batch, now).persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(checked)
        hashes = checked.select(st.identity_hash().alias("identity_hash")).toArrow().column(0)
        return checked, BatchTotals(rows=len(hashes), invalid=hashes.null_count), st.repeated_hashes(hashes)

    def _adopt_unknown(
        self, spark: SparkSession, mirrored: pa.Table, outcome: UpsertOutcome, marker: StreamMarker
    ) -> list[Identity]:
        """Rows an earlier query mirrored: those Delta already holds (returned, not appended again), and
        the others, which this batch adopts (rewrites and stamps) in PostgreSQL."""
        held = self._held_in_delta(spark, mirrored, outcome.unknown)
        if outcome.unknown:
            self.mirror.adopt(_rows_of(mirrored, set(outcome.unknown) - set(held)), marker)
        return held

    def _fault_drill_pause(self, batch_id: int) -> None:
        if self.fault_pause_s:
            # PostgreSQL committed, Delta not yet: the window a crash must survive.
            log.warning("fault drill: batch %d mirrored, pausing %.1fs", batch_id, self.fault_pause_s)
            time.sleep(self.fault_pause_s)

    def _append_silver(
        self, spark: SparkSession, scored: DataFrame, refused: list[Identity], appended: int, batch_id: int
    ) -> int:
        """Append the scored rows but the refused identities to Delta silver, once; return how many."""
        rows = scored
        if refused:
            rows = scored.join(F.broadcast(spark.createDataFrame(refused, IDENTITY_DDL)), list(IDENTITY), "left_anti")
        if appended:  # an empty append would only add an empty commit to the log
            append_once(rows.select(*SILVER_COLUMNS), self.silver_uri, sink_app_id(spark, SILVER_SINK), batch_id)
        return appended

    @staticmethod
    def _quarantine_rows(
        checked: DataFrame, dedup: Dedup, scored: DataFrame, conflicts: list[Identity], now: int
    ) -> DataFrame:
        """Invalid records, duplicates that conflict within the batch, and trades PostgreSQL already holds
        with another trade_time."""
        quarantine = st.quarantine_rows(checked.where(F.col("reason").isNotNull()), now).unionByName(
            st.quarantine_rows(dedup.conflicting, now)
        )
        if not conflicts:
            return quarantine
        log.warning("%d conflicting duplicates go to quarantine", len(conflicts))
        keys = F.broadcast(checked.sparkSession.createDataFrame(conflicts, IDENTITY_DDL))
        refused_rows = scored.join(keys, list(IDENTITY), "left_semi")
        return quarantine.unionByName(
            st.quarantine_rows(refused_rows.withColumn("reason", F.lit(st.CONFLICT_REASON)), now)
        )


def _rows_of(rows: pa.Table, identities: set[Identity]) -> pa.Table:
    """The rows of `rows` whose identity is in `identities` (pure)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    separator = "\x1f"  # the unit separator: refused in every identity field, so keys cannot collide
    keys = pc.binary_join_element_wise(*(rows.column(name) for name in IDENTITY), separator)
    wanted = pa.array([separator.join(identity) for identity in identities], pa.string())
    return rows.filter(pc.is_in(keys, value_set=wanted))


IDENTITY_DDL = ", ".join(f"{name} string" for name in IDENTITY)
# Up to this many repeated identity hashes are filtered by value; more are grouped by identity directly.
SUSPECT_HASHES_INLINE = 1_000


@dataclass(frozen=True)
class Dedup:
    new_rows: DataFrame
    conflicting: DataFrame
    conflict_count: int
    later_copies: int


@dataclass(frozen=True)
class BatchTotals:
    """How many rows the batch has, and how many of them are invalid."""

    rows: int
    invalid: int


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
    """Kafka `raw-trades` -> Delta silver + quarantine + PostgreSQL mirror (and, with the book streams on,
    the book topics -> the silver book tables, a second query), until done (`once`) or stopped."""
    # Each batch is cached for the seconds it takes to write it out: compressing that cache costs more
    # CPU (about 1 s per 500,000 rows on 2 cores) than the memory it saves is worth. Set before the
    # query starts, whose session is a clone of this one.
    spark.conf.set("spark.sql.inMemoryColumnarStorage.compressed", "false")
    mirror = PostgresMirror(settings.require_pg_dsn(), settings.pg_silver_table, settings.pg_prices_view)
    writer = SilverWriter(settings, mirror, scorer or load_scorer(spark, settings))
    book_mirror: BookMirror | None = None
    try:
        writer.ensure_tables(spark)
        specs = [
            StreamSpec(
                read_topic(spark, settings, topic, settings.silver_max_offsets_per_trigger),
                writer,
                name="silver-trades",
                checkpoint=f"{settings.checkpoints}/silver_trades",
                trigger_s=settings.silver_trigger_s,
            )
        ]
        if settings.book_streams:
            book_mirror = BookMirror(
                settings.require_pg_dsn(), settings.pg_order_book_table, settings.pg_book_events_table
            )
            specs.append(silver_book_spec(spark, settings, book_mirror))
        run_streams(tuple(specs), once=once, callbacks=callbacks, stop_after_s=stop_after_s)
    finally:
        mirror.close()
        if book_mirror is not None:
            book_mirror.close()
