"""Silver for the order books: a second query of the silver driver, stateful, over the three book topics.

Each record is keyed by its (source, symbol) and handed, with that symbol's state, to
`lakehouse.book.silver_group.process_group` (Spark's `applyInPandasWithState`): validation, the book
rebuilt by Binance's rules, tickers deduplicated. The state (each symbol's book, the diffs waiting for
a snapshot, the newest ticker id) lives in the query's checkpoint, so a restart, or a `kill -9`, resumes
exactly where the last committed batch left it. The batch's output is split into the four silver book
tables (`lakehouse.schema.silver_book`), each appended once per batch id, after the book rows and events
are inserted into the PostgreSQL mirror (`lakehouse.stream.book_mirror`) that gold reads: a batch
replayed after a crash recomputes the same rows from the same state and offsets, the mirror keeps the
rows it has, and the Delta tables that hold the batch already skip it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from lakehouse.book.silver_group import GroupState, InputRecord, process_group
from lakehouse.schema.silver import spark_schema
from lakehouse.schema.silver_book import SILVER_BOOK_TABLES
from lakehouse.stream.book_mirror import BookMirror
from lakehouse.stream.delta_sink import append_once, ensure_table, sink_app_id
from lakehouse.stream.kafka_source import read_topic
from lakehouse.stream.runner import BatchReport, StepTimer, StreamSpec

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.state import GroupState as SparkGroupState

    from lakehouse.settings import Settings

log = logging.getLogger(__name__)

DECIMAL = "decimal(38,18)"
OUTPUT_DDL = (
    "kind string, source string, symbol string, time_ms long, update_id long, count int, bids string, "
    "asks string, detail string, value binary, kafka_topic string, kafka_partition int, kafka_offset long, "
    "kafka_timestamp_ms long"
)
STATE_DDL = "builder_json string, last_ticker_id long"
PARTITIONS = {"order_book": ("book_date",), "book_ticker": ("ticker_date",)}
# The canonical book ticker (BookTickerRecord) as Spark reads its JSON.
TICKER_JSON = StructType(
    [StructField(name, StringType()) for name in ("bid_price", "bid_quantity", "ask_price", "ask_quantity")]
    + [StructField(name, LongType()) for name in ("event_time", "ingest_time")]
)
# The setting naming each book topic -> the record kind `process_group` validates it as.
TOPIC_KINDS = {
    "kafka_book_ticker_topic": "ticker",
    "kafka_depth_topic": "diff",
    "kafka_depth_snapshot_topic": "snapshot",
}
INTEGER_COLUMNS = ("time_ms", "update_id", "count", "kafka_partition", "kafka_offset", "kafka_timestamp_ms")
OUTPUT_COLUMNS = [field.split(" ")[0] for field in OUTPUT_DDL.split(", ")]


# ---------------------------------------------------------------------------------------------- transforms
def book_inputs(records: DataFrame, topic_kinds: dict[str, str]) -> DataFrame:
    """Kafka records -> (source, symbol, kind, value, coordinates): the grouping key read from the JSON."""
    kind = F.lit(None).cast("string")
    for topic, name in topic_kinds.items():
        kind = F.when(F.col("topic") == topic, F.lit(name)).otherwise(kind)
    text = F.col("value").cast("string")
    return records.select(
        F.get_json_object(text, "$.source").alias("source"),
        F.get_json_object(text, "$.symbol").alias("symbol"),
        kind.alias("kind"),
        F.col("value"),
        F.col("topic"),
        F.col("partition"),
        F.col("offset"),
        F.unix_millis(F.col("timestamp")).alias("timestamp_ms"),
    )


def rebuild_group(
    key: tuple[Any, ...], frames: Iterator[pd.DataFrame], state: SparkGroupState
) -> Iterator[pd.DataFrame]:
    """applyInPandasWithState's function: one (source, symbol)'s records of the batch -> output rows."""
    import pandas as pd

    from lakehouse.book.silver_group import output_dict

    source, symbol = key
    records = [
        InputRecord(row.kind, row.value, row.topic, int(row.partition), int(row.offset), int(row.timestamp_ms))
        for frame in frames
        for row in frame.itertuples(index=False)
    ]
    previous = GroupState(*state.get) if state.exists else None
    outputs, kept = process_group(symbol or "", records, previous)
    state.update((kept.builder_json, kept.last_ticker_id))
    rows = pd.DataFrame([output_dict(output, source, symbol) for output in outputs], columns=OUTPUT_COLUMNS)
    # Nullable integers: update ids are 64-bit, beyond what a float column holds exactly.
    yield rows.astype({name: "Int64" for name in INTEGER_COLUMNS})


def rebuilt(inputs: DataFrame) -> DataFrame:
    from pyspark.sql.streaming.state import GroupStateTimeout

    return inputs.groupBy("source", "symbol").applyInPandasWithState(
        rebuild_group, OUTPUT_DDL, STATE_DDL, "append", GroupStateTimeout.NoTimeout
    )


def _levels(column: str, index: int) -> Any:
    parsed = F.from_json(F.col(column), "array<array<string>>")
    return F.transform(parsed, lambda level: level[index].cast(DECIMAL))


def order_book_rows(out: DataFrame, processed_at_ms: int) -> DataFrame:
    book_time = F.timestamp_millis(F.col("time_ms"))
    return out.where(F.col("kind") == "book").select(
        "source",
        "symbol",
        book_time.alias("book_time"),
        F.to_date(book_time).alias("book_date"),
        F.col("update_id").alias("last_update_id"),
        F.timestamp_millis(F.get_json_object("detail", "$.last_event_ms").cast("long")).alias("last_event_time"),
        F.col("count").alias("updates"),
        F.try_element_at(_levels("bids", 0), F.lit(1)).alias("best_bid"),
        F.try_element_at(_levels("asks", 0), F.lit(1)).alias("best_ask"),
        F.get_json_object("detail", "$.bid_depth").cast(DECIMAL).alias("bid_depth_10bps"),
        F.get_json_object("detail", "$.ask_depth").cast(DECIMAL).alias("ask_depth_10bps"),
        _levels("bids", 0).alias("bid_prices"),
        _levels("bids", 1).alias("bid_quantities"),
        _levels("asks", 0).alias("ask_prices"),
        _levels("asks", 1).alias("ask_quantities"),
        F.timestamp_millis(F.lit(processed_at_ms)).alias("processed_at"),
    )


def book_ticker_rows(out: DataFrame, processed_at_ms: int) -> DataFrame:
    ticker = F.from_json(F.col("detail"), TICKER_JSON)
    ticker_time = F.timestamp_millis(F.col("time_ms"))
    return out.where(F.col("kind") == "ticker").select(
        "source",
        "symbol",
        "update_id",
        *(ticker[name].cast(DECIMAL).alias(name) for name in TICKER_JSON.fieldNames()[:4]),
        ticker_time.alias("ticker_time"),
        F.to_date(ticker_time).alias("ticker_date"),
        F.timestamp_millis(ticker["event_time"]).alias("event_time"),
        F.timestamp_millis(ticker["ingest_time"]).alias("ingest_time"),
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        F.timestamp_millis(F.lit(processed_at_ms)).alias("processed_at"),
    )


def book_event_rows(out: DataFrame, processed_at_ms: int) -> DataFrame:
    parts = F.split(F.col("detail"), ": ", 2)
    return out.where(F.col("kind") == "event").select(
        "source",
        "symbol",
        parts[0].alias("event"),
        F.timestamp_millis(F.col("time_ms")).alias("event_time"),
        "update_id",
        parts[1].alias("detail"),
        F.timestamp_millis(F.lit(processed_at_ms)).alias("processed_at"),
    )


def book_quarantine_rows(out: DataFrame, processed_at_ms: int) -> DataFrame:
    return out.where(F.col("kind") == "quarantine").select(
        "value",
        F.lit(None).cast("binary").alias("key"),
        F.col("detail").alias("reason"),
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        F.timestamp_millis(F.col("kafka_timestamp_ms")).alias("kafka_timestamp"),
        F.timestamp_millis(F.lit(processed_at_ms)).alias("quarantined_at"),
    )


TABLE_ROWS = {
    "order_book": order_book_rows,
    "book_ticker": book_ticker_rows,
    "book_events": book_event_rows,
    "book_quarantine": book_quarantine_rows,
}
MIRRORED = ("order_book", "book_events")  # what gold reads from PostgreSQL
KIND_TABLES = {"book": "order_book", "ticker": "book_ticker", "event": "book_events", "quarantine": "book_quarantine"}


# ---------------------------------------------------------------------------------------------- the sink
class SilverBookWriter:
    """foreachBatch sink: the rebuilt output of a batch into its four tables, each once per batch id, and
    the book rows and events into the PostgreSQL mirror first (a replay rewrites nothing there)."""

    def __init__(self, settings: Settings, mirror: BookMirror | None) -> None:
        self.uris = {name: settings.table_uri("silver", name) for name in SILVER_BOOK_TABLES}
        self.mirror = mirror
        self.fault_pause_s = settings.stream_fault_pause_s

    def ensure_tables(self, spark: SparkSession) -> None:
        for name, (columns, non_null) in SILVER_BOOK_TABLES.items():
            ensure_table(spark, self.uris[name], spark_schema(columns, non_null), partition_by=PARTITIONS.get(name, ()))
        if self.mirror is not None:
            self.mirror.ensure_schema()

    def _mirror(self, out: DataFrame, counts: dict[str, int], now: int) -> None:
        if self.mirror is None:
            return
        for name in MIRRORED:
            if counts.get(name):
                rows = [row.asDict() for row in TABLE_ROWS[name](out, now).collect()]
                self.mirror.insert(name, rows)

    def __call__(self, batch: DataFrame, batch_id: int) -> BatchReport:
        spark = batch.sparkSession
        timer = StepTimer()
        now = int(time.time() * 1000)
        out = batch.persist()
        try:
            # The first action computes the batch (and moves the state on) once; the rest read the cache.
            counts = {KIND_TABLES[row["kind"]]: int(row["count"]) for row in out.groupBy("kind").count().collect()}
            timer.lap("rebuild")
            if counts.get("book_events"):
                for row in out.where(F.col("kind") == "event").select("source", "detail").collect():
                    log.warning("order book (%s) %s", row["source"], row["detail"])
            self._mirror(out, counts, now)
            timer.lap("mirror")
            for index, name in enumerate(sorted(counts)):
                rows = TABLE_ROWS[name](out, now)
                if not append_once(rows, self.uris[name], sink_app_id(spark, f"silver.{name}"), batch_id):
                    counts[name] = 0
                if self.fault_pause_s and index == 0 and len(counts) > 1:
                    # Mirrored and one table committed, the others and the checkpoint not: the window a crash
                    # must survive (the state store is still at the batch before).
                    log.warning(
                        "fault drill: book batch %d part-committed, pausing %.1fs", batch_id, self.fault_pause_s
                    )
                    time.sleep(self.fault_pause_s)
            timer.lap("delta")
        finally:
            out.unpersist()
        return BatchReport("silver-book", batch_id, counts, steps_s=timer.steps)


def silver_book_spec(spark: SparkSession, settings: Settings, mirror: BookMirror | None) -> StreamSpec:
    """The book query of the silver driver: its source (the three book topics), sink and checkpoint."""
    from lakehouse.kafka.admin import ensure_book_topics

    ensure_book_topics(settings)
    writer = SilverBookWriter(settings, mirror)
    writer.ensure_tables(spark)
    topic_kinds = {getattr(settings, setting): kind for setting, kind in TOPIC_KINDS.items()}
    source = read_topic(spark, settings, ",".join(topic_kinds), settings.silver_max_offsets_per_trigger)
    return StreamSpec(
        rebuilt(book_inputs(source, topic_kinds)),
        writer,
        name="silver-book",
        checkpoint=f"{settings.checkpoints}/silver_book",
        trigger_s=settings.silver_book_trigger_s,
    )
