"""One Spark driver of the concurrent-commit test (tests/integration/s3/test_delta_concurrent_commits.py).

Run as its own process (`python -m tests.integration.s3.delta_writer ...`), configured for the s3a lake
by lakehouse.spark.session from the LAKEHOUSE_* environment, exactly as spark-bronze / spark-silver /
the maintenance DAG are. Modes:

- `probe TABLE`: calls the Delta log store Delta resolves for TABLE through py4j and prints JSON facts.
- `append TABLE --writer W --commits N --barrier DIR --parties P [--create]`: waits until every party
  has its session up (files in DIR), then appends N one-row commits (W, 0..N-1). `--create` makes the
  table first (version 0); the others wait for it. Prints JSON {"writer", "commits"} at the end.

`--log-store CLASS` replaces the s3a log store (to show what S3SingleDriverLogStore does).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _session(log_store: str | None):
    from lakehouse.settings import load_settings
    from lakehouse.spark import session as spark_session

    if log_store:
        spark_session.S3_LOG_STORE = log_store
    return spark_session.build_spark(load_settings(), app_name="delta-concurrent-writer")


def _lines(jvm, *lines: str):
    items = jvm.java.util.ArrayList()
    for line in lines:
        items.add(line)
    return items.iterator()


def probe(spark, table: str) -> dict[str, object]:
    from py4j.protocol import Py4JJavaError

    jvm = spark.sparkContext._jvm
    conf = spark._jsparkSession.sessionState().newHadoopConf()
    path = jvm.org.apache.hadoop.fs.Path(f"{table}/_delta_log/00000000000000000000.json")
    delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, table)
    store = delta_log.store().getDelegate(path).logStoreImpl()
    facts: dict[str, object] = {"store": store.getClass().getName()}
    first = '{"commitInfo":{"writer":"first"}}'
    store.write(path, _lines(jvm, first), False, conf)
    try:
        store.write(path, _lines(jvm, '{"commitInfo":{"writer":"second"}}'), False, conf)
        facts["second_write"] = "succeeded"
    except Py4JJavaError as error:
        facts["second_write"] = error.java_exception.getClass().getName()
    facts["content_after"] = list(store.read(path, conf))
    # A retried PUT of the very same commit (its answer lost) is that commit, not a conflict.
    store.write(path, _lines(jvm, first), False, conf)
    facts["same_bytes_rewrite"] = "succeeded"
    last = jvm.org.apache.hadoop.fs.Path(f"{table}/_delta_log/_last_checkpoint")
    store.write(last, _lines(jvm, '{"v":1}'), True, conf)
    store.write(last, _lines(jvm, '{"v":2}'), True, conf)
    facts["overwrite_content"] = list(store.read(last, conf))
    facts["partial_write_visible"] = bool(store.isPartialWriteVisible(path, conf))
    facts["interleaved"] = {
        "conditional": _interleaved(spark, f"{table}/interleaved/conditional.json", conditional=True),
        "plain_create": _interleaved(spark, f"{table}/interleaved/plain.json", conditional=False),
    }
    return facts


def _interleaved(spark, uri: str, conditional: bool) -> dict[str, object]:
    """Two writers of one new file, interleaved as two drivers can be: both open (every existence check
    passes), then both close (the PUTs). Plain `create(path, overwrite=false)` is what
    S3SingleDriverLogStore calls after its own check, so with it the second PUT silently wins."""
    from py4j.protocol import Py4JJavaError

    jvm = spark.sparkContext._jvm
    conf = spark._jsparkSession.sessionState().newHadoopConf()
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(conf)

    def open_stream():
        if not conditional:
            return fs.create(path, False)
        builder = fs.createFile(path).overwrite(False).must("fs.option.create.conditional.overwrite", True)
        return builder.build()

    first, second = open_stream(), open_stream()
    first.write(bytearray(b"first\n"))
    second.write(bytearray(b"second\n"))
    first.close()
    outcome: dict[str, object] = {}
    try:
        second.close()
        outcome["second_close"] = "succeeded"
    except Py4JJavaError as error:
        outcome["second_close"] = error.java_exception.getClass().getName()
    outcome["content"] = _text(fs, path)
    return outcome


def _text(fs, path) -> str:
    stream = fs.open(path)
    try:
        data = bytearray()
        while (byte := stream.read()) != -1:
            data.append(byte)
        return data.decode()
    finally:
        stream.close()


def append(spark, table: str, writer: str, commits: int, barrier: Path, parties: int, create: bool) -> dict:
    if create:
        spark.sql(f"CREATE TABLE delta.`{table}` (writer STRING, seq INT) USING delta")
    else:
        # Look at the storage, not DeltaTable.isDeltaTable: that caches the "no table" it saw first.
        jvm = spark.sparkContext._jvm
        first_commit = jvm.org.apache.hadoop.fs.Path(f"{table}/_delta_log/00000000000000000000.json")
        fs = first_commit.getFileSystem(spark._jsparkSession.sessionState().newHadoopConf())
        deadline = time.monotonic() + 300
        while not fs.exists(first_commit):
            if time.monotonic() > deadline:
                raise SystemExit(f"{table} was never created")
            time.sleep(0.2)
    # Warm up the write path (first job, class loading) before the race starts, then line up.
    spark.range(1).count()
    (barrier / writer).touch()
    while len(list(barrier.iterdir())) < parties:
        time.sleep(0.05)
    for seq in range(commits):
        spark.createDataFrame([(writer, seq)], "writer STRING, seq INT").write.format("delta").mode("append").save(
            table
        )
    return {"writer": writer, "commits": commits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["probe", "append"])
    parser.add_argument("table")
    parser.add_argument("--writer", default="w")
    parser.add_argument("--commits", type=int, default=10)
    parser.add_argument("--barrier", type=Path)
    parser.add_argument("--parties", type=int, default=2)
    parser.add_argument("--create", action="store_true")
    parser.add_argument("--log-store")
    args = parser.parse_args()
    spark = _session(args.log_store)
    try:
        if args.mode == "probe":
            result = probe(spark, args.table)
        else:
            result = append(spark, args.table, args.writer, args.commits, args.barrier, args.parties, args.create)
    finally:
        spark.stop()
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
