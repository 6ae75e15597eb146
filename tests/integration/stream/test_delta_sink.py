"""The idempotent Delta append, with foreign commits between a batch and its replay (real Spark + Delta)."""

from __future__ import annotations

import pyarrow as pa
from deltalake import write_deltalake
from pyspark.sql.types import LongType, StringType, StructField, StructType

from lakehouse.stream.delta_sink import RECENT_COMMITS, append_once, ensure_table, last_committed_batch

SCHEMA = StructType([StructField("writer", StringType()), StructField("n", LongType())])


def test_a_replay_behind_more_foreign_commits_than_the_fast_path_reads_is_still_skipped(spark, settings) -> None:
    uri = settings.table_uri("silver", "sink_under_test")
    ensure_table(spark, uri, SCHEMA)

    def batch(batch_id: int, first: int = 0):
        return spark.createDataFrame([("stream", first + batch_id * 10 + i) for i in range(10)], SCHEMA)

    for batch_id in range(3):  # the stream's batches 0-2: the first via Delta's txn ids, then markers only
        assert append_once(batch(batch_id), uri, "silver.trades:query-a", batch_id)
    # Other writers (a backfill, OPTIMIZE, VACUUM) commit while the stream is down: more than the fast
    # path's window, so the stream's newest marker is no longer among the newest commits.
    foreign = pa.table({"writer": ["other"], "n": pa.array([-1], pa.int64())})
    for _ in range(RECENT_COMMITS + 10):
        write_deltalake(uri, foreign, mode="append")

    assert last_committed_batch(spark, uri, "silver.trades:query-a")[1] == 2
    # The stream restarts and replays batch 2 (it crashed before its checkpoint's commit): a no-op.
    assert not append_once(batch(2), uri, "silver.trades:query-a", 2)
    # Its next batch, and a new query's first batch, are appended.
    assert append_once(batch(3), uri, "silver.trades:query-a", 3)
    assert append_once(batch(0, first=40), uri, "silver.trades:query-b", 0)

    rows = spark.read.format("delta").load(uri).where("writer = 'stream'").groupBy("n").count().collect()
    assert len(rows) == 50 and {row["count"] for row in rows} == {1}  # 5 batches of 10, none twice
