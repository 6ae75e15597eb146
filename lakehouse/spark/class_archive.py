"""A class-data-sharing (AppCDS) archive of the classes a Spark job loads, so every JVM starts warm.

A Spark driver with Delta and Kafka loads and verifies tens of thousands of classes before its first
batch is done: on 2 cores that is seconds of every job start and of every first micro-batch. `lakehouse jars`
runs a small training job once with `-XX:ArchiveClassesAtExit`, which makes the JVM write the classes
it loaded, already parsed and verified, to `.lakehouse/jars/spark-classes-<fingerprint>.jsa`. Later
sessions map that file (`-XX:SharedArchiveFile`) instead of loading those classes again.

The archive is only valid for the JVM build and the class path it was made with; both go into the
fingerprint in its name, so a new JDK or jar set simply has no archive until the next `lakehouse jars`
(and a stale file is ignored by the JVM, never an error). `LAKEHOUSE_SPARK_CLASS_ARCHIVE=0` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lakehouse.paths import jars_dir

log = logging.getLogger(__name__)

# The JVM reports every class it could not archive; those notes are not errors.
QUIET_CDS_LOGGING = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off", "-Xlog:class+path=off")
ENABLED_VARIABLE = "LAKEHOUSE_SPARK_CLASS_ARCHIVE"  # Settings.spark_class_archive
# Not a setting: how ensure_archive() tells the training JVM it starts where to dump the classes.
DUMP_VARIABLE = "LAKEHOUSE_SPARK_CLASS_ARCHIVE_DUMP"


def _java_binary() -> Path | None:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    found = str(candidate) if candidate and candidate.exists() else shutil.which("java")
    return Path(found).resolve() if found else None


def fingerprint(jars: list[Path]) -> str | None:
    """What the archive depends on: the JVM build (its binary and libjvm), pyspark and the added jars."""
    import pyspark

    java = _java_binary()
    if java is None:
        return None
    digest = hashlib.sha256(f"{java}\n{pyspark.__version__}\n".encode())
    for libjvm in sorted(java.parent.parent.glob("lib/server/libjvm.so")):
        stat = libjvm.stat()
        digest.update(f"{libjvm}:{stat.st_size}:{int(stat.st_mtime)}\n".encode())
    for jar in jars:
        digest.update(f"{jar.name}\n".encode())
    return digest.hexdigest()[:16]


def archive_path(jars: list[Path]) -> Path | None:
    key = fingerprint(jars)
    return None if key is None else jars_dir() / f"spark-classes-{key}.jsa"


def enabled() -> bool:
    from lakehouse.settings import SettingsError, load_settings

    try:
        return load_settings().spark_class_archive
    except SettingsError:
        return True  # the archive only speeds up a start; the caller reports bad settings itself


def java_options(jars: list[Path]) -> list[str]:
    """JVM options that map the archive, or none when there is no archive for this JVM and jar set."""
    path = archive_path(jars) if enabled() else None
    if path is None or not path.exists():
        return []
    return [f"-XX:SharedArchiveFile={path}", *QUIET_CDS_LOGGING]


def ensure_archive(timeout_s: float = 600) -> Path | None:
    """Build the archive for the current JVM and jars when it is missing; returns its path (None: disabled)."""
    from lakehouse.local.jars import spark_jars

    jars = spark_jars()
    path = archive_path(jars)
    if path is None or not enabled():
        return None
    if path.exists():
        return path
    for stale in path.parent.glob("spark-classes-*.jsa"):
        stale.unlink(missing_ok=True)
    started = time.monotonic()
    log.info("building the Spark class archive %s (once per JVM and jar set)", path.name)
    # Written under a temporary name: a job starting meanwhile never maps a half-written archive.
    partial = path.with_suffix(f".{os.getpid()}.partial")
    environment = {**os.environ, DUMP_VARIABLE: str(partial)}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "lakehouse.spark.class_archive"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        problem = None if result.returncode == 0 else f"exit {result.returncode}: {result.stderr[-2000:]}"
    except (OSError, subprocess.TimeoutExpired) as error:
        problem = str(error)
    if problem is not None or not partial.exists():
        partial.unlink(missing_ok=True)
        # Only start-up time is lost without the archive, so this is a warning, not a failure.
        log.warning("no Spark class archive (the training job failed): %s", problem or "it wrote no archive")
        return None
    partial.replace(path)
    log.info("Spark class archive ready in %.0fs (%d MiB)", time.monotonic() - started, path.stat().st_size >> 20)
    return path


def dump_options() -> list[str]:
    """Options of the training job's JVM (set through LAKEHOUSE_SPARK_CLASS_ARCHIVE_DUMP by ensure_archive)."""
    target = os.environ.get(DUMP_VARIABLE)
    return [f"-XX:ArchiveClassesAtExit={target}", *QUIET_CDS_LOGGING] if target else []


def _train() -> None:
    """Load what the streaming jobs load: Delta create/append/history/read, canonical records (the
    fast path) and a malformed one (the variant path), decimals, windows, joins, Arrow collection and
    the Kafka source. Then exit the JVM, which writes
    the archive, and wait for it."""
    from pyspark import SparkContext
    from pyspark.sql import functions as F

    from lakehouse.schema.trade import SCHEMA_VERSION, TradeRecord
    from lakehouse.settings import load_settings
    from lakehouse.spark.session import build_spark
    from lakehouse.stream import silver_transforms as st
    from lakehouse.stream.bronze import BRONZE_SCHEMA, bronze_rows
    from lakehouse.stream.delta_sink import ensure_table, latest_commit

    with tempfile.TemporaryDirectory(prefix="lakehouse-cds-") as folder:
        settings = load_settings(lake_uri=folder, spark_shuffle_partitions=2, silver_scorer="")
        spark = build_spark(settings, app_name="class-archive")
        uri = f"{settings.lake_uri}/bronze"
        ensure_table(spark, uri, BRONZE_SCHEMA, partition_by=("ingest_date",), stats_columns=("offset",))
        now = int(time.time() * 1000)
        trades = [
            TradeRecord(
                source="binance", symbol="BTCUSDT", trade_id=str(n), price="1.5", quantity="2", side="buy",
                trade_time=now, ingest_time=now, schema_version=SCHEMA_VERSION,
            )
            for n in range(100)
        ]  # fmt: skip
        kafka_shape = "key binary, value binary, topic string, partition int, offset long, timestampType int"
        rows = [(trade.kafka_key(), trade.to_json_bytes(), "t", 0, n, 0) for n, trade in enumerate(trades)]
        records = spark.createDataFrame([*rows, (None, b"{not json", "t", 0, 100, 0)], kafka_shape).withColumn(
            "timestamp", F.current_timestamp()
        )
        bronze_rows(records, now).write.format("delta").mode("append").option("userMetadata", "cds@0").save(uri)
        latest_commit(spark, uri)
        spark.read.format("delta").load(uri).count()
        checked = st.validate(records, now).cache()
        st.repeated_hashes(checked.select(st.identity_hash()).toArrow().column(0))
        valid = checked.where(F.col("reason").isNull())
        ranked = st.rank_duplicates(valid, F.broadcast(st.repeated_identities(valid.union(valid))))
        silver = st.to_silver(ranked.where(F.col("dup_rank") == 1), now)
        silver.withColumn("predicted_price", F.lit(None).cast("double")).toArrow()
        st.quarantine_rows(checked.where(F.col("reason").isNotNull()), now).write.format("delta").save(
            f"{settings.lake_uri}/quarantine"
        )
        # Defining the Kafka source loads its provider without needing a broker.
        spark.readStream.format("kafka").option("kafka.bootstrap.servers", "127.0.0.1:9").option(
            "subscribe", "t"
        ).load().select("value")
        gateway, jvm = SparkContext._gateway, SparkContext._jvm
        assert gateway is not None and jvm is not None, "a running SparkContext has a gateway"
        process = gateway.proc
        spark.stop()
        with contextlib.suppress(Exception):  # the gateway goes away with the JVM, as intended
            jvm.System.exit(0)
        process.wait(timeout=300)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    _train()
