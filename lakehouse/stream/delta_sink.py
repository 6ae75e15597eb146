"""Idempotent Delta appends for foreachBatch sinks, and table creation with lean write settings.

Each sink's commit carries "<sink>:<streaming query id>@<batch id>" as its `userMetadata`. Before
appending, the sink reads the newest commits (commit info only, no table state) for its own marker: a
replay of an already committed batch (a crash after the Delta commit but before the checkpoint's commit
log) finds it and becomes a no-op. Batches of one query commit in order, so the sink's newest marker
answers for every earlier batch too. The query id lives in the checkpoint, so it is stable across
restarts and changes only when the checkpoint is reset, when batch ids start again at 0 and must not be
mistaken for replays.

When none of the newest RECENT_COMMITS is the sink's own (other writers, OPTIMIZE and VACUUM commit
too, and a stream may stay down while they run), the whole history is read for the marker: slower, but
exact, and rare (once per new query, or a replay behind many foreign commits). Only when no marker of
the sink is found at all (a new query, or one whose commits are older than the log retention, 30 days
by default) does Delta's own `txnAppId`/`txnVersion` decide. Why not those ids on every batch: checking
them reconstructs the table state (about 0.6 s on 2 cores, more than the append itself).
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


def streaming_query_id(spark: SparkSession) -> str:
    """The id of the streaming query running this foreachBatch call (stable across restarts)."""
    query_id = spark.sparkContext.getLocalProperty(QUERY_ID_PROPERTY)
    if not query_id:
        raise SinkError("no streaming query id on this thread; call the batch writer from foreachBatch")
    return query_id


def sink_app_id(spark: SparkSession, sink: str) -> str:
    """The stable Delta transaction app id of `sink` within the running streaming query."""
    return f"{sink}:{streaming_query_id(spark)}"


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
        # A checkpoint costs a 1-3 s pause of the writing stream; every 100 commits keeps those rare.
        "delta.checkpointInterval": "100",
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


RECENT_COMMITS = 50
MARKER_SEPARATOR = "@"


def commit_marker(app_id: str, batch_id: int) -> str:
    return f"{app_id}{MARKER_SEPARATOR}{batch_id}"


def parse_marker(user_metadata: str | None, app_id: str) -> int | None:
    """The batch id in a commit's marker if `app_id` wrote it, else None (pure)."""
    if not user_metadata:
        return None
    app, separator, batch = user_metadata.rpartition(MARKER_SEPARATOR)
    if not separator or app != app_id or not batch.isdigit():
        return None
    return int(batch)


def newest_marker(markers: Sequence[str | None], app_id: str) -> int | None:
    """The batch id of `app_id`'s newest marker in `markers` (newest commit first), else None (pure)."""
    for user_metadata in markers:
        batch = parse_marker(user_metadata, app_id)
        if batch is not None:
            return batch
    return None


def last_committed_batch(spark: SparkSession, uri: str, app_id: str) -> tuple[int, int | None]:
    """(the table's version, the newest batch id `app_id` committed), from the newest commits first."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    table = DeltaTable.forPath(spark, uri)
    commits = table.history(RECENT_COMMITS).select("version", "userMetadata").collect()
    version = int(commits[0]["version"]) if commits else -1
    batch = newest_marker([row["userMetadata"] for row in commits], app_id)
    if batch is None and len(commits) == RECENT_COMMITS:
        # Ours may be further back, behind foreign commits: read every commit's info (rare; see above).
        everything = table.history().select("version", "userMetadata").orderBy(F.desc("version")).collect()
        batch = newest_marker([row["userMetadata"] for row in everything], app_id)
        log.info(
            "%s: no marker in the newest %d commits of %s; the whole log says %s", app_id, RECENT_COMMITS, uri, batch
        )
    return version, batch


def append_once(frame: DataFrame, uri: str, app_id: str, batch_id: int) -> bool:
    """Append `frame` to the Delta table at `uri` unless batch `batch_id` of `app_id` is committed.

    Returns whether a commit was made now (False: a replay of a batch Delta already holds).
    """
    spark = frame.sparkSession
    version, last = last_committed_batch(spark, uri, app_id)
    if last is not None and last >= batch_id:
        log.info("%s batch %d is already committed to %s: skipped", app_id, batch_id, uri)
        return False
    writer = frame.write.format("delta").mode("append").option("userMetadata", commit_marker(app_id, batch_id))
    if last is not None:
        writer.save(uri)
        return True
    # No commit of ours in the log: let Delta's transaction ids decide (exact, slower).
    writer.option("txnAppId", app_id).option("txnVersion", batch_id).save(uri)
    return latest_commit(spark, uri)[0] != version


def latest_commit(spark: SparkSession, uri: str) -> tuple[int, int]:
    """(version, rows written) of the table's latest commit, read from the log (no data files)."""
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, uri).history(1).select("version", "operationMetrics").first()
    if row is None:
        return -1, 0
    metrics = row["operationMetrics"] or {}
    return int(row["version"]), int(metrics.get("numOutputRows", 0))
