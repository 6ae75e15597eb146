"""The work behind each DAG task. Each function reads Settings itself, so a task needs no arguments."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lakehouse.lake import LAKE_TABLES
from lakehouse.schema.book import BOOK_BRONZE_TABLES
from lakehouse.schema.silver_book import SILVER_BOOK_TABLES
from lakehouse.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Files a running stream or a reader might still need are kept a week (Delta's safe default).
VACUUM_RETENTION_HOURS = 168
MAINTAINED_TABLES = (
    *((layer, name) for layer, name, _ in LAKE_TABLES.values()),
    *(("bronze", name) for name in BOOK_BRONZE_TABLES.values()),
    *(("silver", name) for name in SILVER_BOOK_TABLES),
)


def dbt_build(settings: Settings | None = None) -> dict[str, Any]:
    """`dbt build` of the gold layer (models, data tests, unit tests)."""
    from lakehouse.gold.dbt import build_gold

    result = build_gold(settings or load_settings())
    return {"seconds": round(result.seconds, 1)}


def silver_freshness(settings: Settings | None = None) -> dict[str, Any]:
    """`dbt source freshness` of silver: fails (and so alerts) when silver stopped receiving trades."""
    from lakehouse.gold.dbt import check_source_freshness

    return {item.source: item.status for item in check_source_freshness(settings or load_settings())}


@contextmanager
def _spark_for_task(settings: Settings, app_name: str, spark: SparkSession | None) -> Iterator[SparkSession]:
    """A task's own session, stopped afterwards (a worker process must not keep a JVM); or the caller's."""
    if spark is not None:
        yield spark
        return
    from lakehouse.spark.session import build_spark

    own = build_spark(settings, app_name=app_name)
    try:
        yield own
    finally:
        own.stop()


def retrain(settings: Settings | None = None, spark: SparkSession | None = None) -> dict[str, Any]:
    """Train, evaluate against the baseline and the champion, promote only through the gate."""
    from lakehouse.ml.train import train
    from lakehouse.observability.trainer import training_metrics

    settings = settings or load_settings()
    with _spark_for_task(settings, "retrain_model", spark) as session, training_metrics(settings) as metrics:
        result = train(session, settings, progress=metrics.wrap(log.info))
        metrics.record(result)
    return {
        "version": result.version,
        "promoted": result.decision.promote,
        "reason": result.decision.reason,
        "rmse_bps": result.metrics["rmse_bps"],
        "baseline_rmse_bps": result.baseline["rmse_bps"],
    }


def maintain_lake(
    settings: Settings | None = None,
    retention_hours: int = VACUUM_RETENTION_HOURS,
    spark: SparkSession | None = None,
) -> dict[str, Any]:
    """OPTIMIZE (compact the small files streaming leaves) and VACUUM every Delta table that exists."""
    from delta.tables import DeltaTable

    settings = settings or load_settings()
    if retention_hours < VACUUM_RETENTION_HOURS:
        raise ValueError(f"VACUUM retention below {VACUUM_RETENTION_HOURS} h can break running streams and readers")
    report: dict[str, Any] = {}
    with _spark_for_task(settings, "lake_maintenance", spark) as session:
        for layer, name in MAINTAINED_TABLES:
            uri = settings.table_uri(layer, name)
            if not DeltaTable.isDeltaTable(session, uri):
                log.info("skipping %s: not a Delta table yet", uri)
                continue
            table = DeltaTable.forPath(session, uri)
            metrics = table.optimize().executeCompaction().select("metrics.numFilesAdded", "metrics.numFilesRemoved")
            added, removed = metrics.first() or (0, 0)
            mode = _vacuum(session, uri, retention_hours)
            report[f"{layer}.{name}"] = {"files_added": added, "files_removed": removed, "vacuum": mode}
            log.info(
                "maintained %s: compacted %s files into %s; vacuumed (%s, %d h)",
                uri,
                removed,
                added,
                mode,
                retention_hours,
            )
    return report


def _vacuum(session: SparkSession, uri: str, retention_hours: int) -> str:
    """VACUUM LITE takes the files to delete from the transaction log instead of listing the table's
    folder: on MinIO that is seconds instead of most of a minute a table. It refuses when the log no
    longer accounts for every eligible file (files written beside it, or log entries expired since the
    last vacuum); the full VACUUM, which lists the folder, runs then. Returns the mode that ran."""
    from delta.tables import DeltaTable

    try:
        session.sql(f"VACUUM delta.`{uri}` LITE RETAIN {retention_hours} HOURS").collect()
        return "lite"
    except Exception as error:
        if "DELTA_CANNOT_VACUUM_LITE" not in str(error):
            raise
        log.info("%s: VACUUM LITE refused (%s); running the full VACUUM", uri, error)
    DeltaTable.forPath(session, uri).vacuum(retention_hours)
    return "full"
