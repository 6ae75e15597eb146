"""Idempotent Delta appends for foreachBatch sinks, and table creation with lean write settings.

Each sink commits with `txnAppId` = "<sink>:<streaming query id>" and `txnVersion` = the batch id: Delta
records the pair in the commit, and a replay of an already committed batch (a crash after the Delta
commit but before the checkpoint's commit log) becomes a no-op. The query id lives in the checkpoint,
so it is stable across restarts and changes only when the checkpoint is reset, when batch ids start
again at 0 and must not be mistaken for replays.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

QUERY_ID_PROPERTY = "sql.streaming.queryId"


class SinkError(RuntimeError):
    """A sink cannot commit safely (e.g. it runs outside a streaming query)."""


def sink_app_id(spark: SparkSession, sink: str) -> str:
    """The stable Delta transaction app id of `sink` within the running streaming query."""
    query_id = spark.sparkContext.getLocalProperty(QUERY_ID_PROPERTY)
    if not query_id:
        raise SinkError(f"{sink}: no streaming query id on this thread; call the batch writer from foreachBatch")
    return f"{sink}:{query_id}"


def ensure_table(
    spark: SparkSession,
    uri: str,
    schema: StructType,
    partition_by: Sequence[str] = (),
    stats_columns: Sequence[str] = (),
) -> None:
    """Create the Delta table at `uri` if it is missing (a no-op otherwise).

    Statistics are collected only for `stats_columns` (the ones lookups filter on): per-file min/max of
    every column costs write time on 2 cores and buys nothing for columns nobody filters by.
    """
    columns = ", ".join(
        f"`{field.name}` {field.dataType.simpleString()}{'' if field.nullable else ' NOT NULL'}"
        for field in schema.fields
    )
    properties = {
        # Appends only: no write-time shuffles or compactions on 2 cores; maintenance compacts later.
        "delta.autoOptimize.optimizeWrite": "false",
        "delta.autoOptimize.autoCompact": "false",
    }
    if stats_columns:
        properties["delta.dataSkippingStatsColumns"] = ",".join(stats_columns)
    partitioned = f" PARTITIONED BY ({', '.join(f'`{name}`' for name in partition_by)})" if partition_by else ""
    listed = ", ".join(f"'{key}' = '{value}'" for key, value in properties.items())
    # SQL on a path identifier: the DeltaTable builder rejects file:/// versus file:/ spellings of one folder.
    spark.sql(f"CREATE TABLE IF NOT EXISTS delta.`{uri}` ({columns}) USING delta{partitioned} TBLPROPERTIES ({listed})")


def append_once(frame: DataFrame, uri: str, app_id: str, batch_id: int) -> None:
    """Append `frame` to the Delta table at `uri` unless (app_id, batch_id) was already committed."""
    writer = frame.write.format("delta").mode("append")
    writer.option("txnAppId", app_id).option("txnVersion", batch_id).save(uri)


def latest_commit(spark: SparkSession, uri: str) -> tuple[int, int]:
    """(version, rows written) of the table's latest commit, read from the log (no data files)."""
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, uri).history(1).select("version", "operationMetrics").first()
    if row is None:
        return -1, 0
    metrics = row["operationMetrics"] or {}
    return int(row["version"]), int(metrics.get("numOutputRows", 0))
