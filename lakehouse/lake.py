"""The lake's Delta tables seen from plain Python (delta-rs, no Spark): location, size, freshness and SQL.

For the tools around the pipeline (`lakehouse sql`, `lakehouse status`, the dashboard's health probes):
they read the tables the streaming jobs write, from a local folder (file://) or MinIO/S3 (s3a://).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lakehouse.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

# SQL name -> (layer, table) under the lake URI, and the column that says how fresh the table is.
LAKE_TABLES: dict[str, tuple[str, str, str]] = {
    "bronze_trades": ("bronze", "trades", "kafka_timestamp"),
    "silver_trades": ("silver", "trades", "trade_time"),
    "silver_quarantine": ("silver", "trades_quarantine", "quarantined_at"),
}


class LakeError(RuntimeError):
    """The lake cannot be read as asked (say which location or table, and why)."""


@dataclass(frozen=True)
class TableSummary:
    name: str
    rows: int
    newest: datetime | None  # the newest value of the table's time column (None when empty)


def delta_location(settings: Settings, uri: str) -> tuple[str, dict[str, str]]:
    """The delta-rs path and storage options of a Spark table URI (file:// or s3a://)."""
    if uri.startswith("file://"):
        return urlsplit(uri).path, {}
    if uri.startswith("s3a://"):
        options = {
            "AWS_ENDPOINT_URL": settings.s3_endpoint or "",
            "AWS_ACCESS_KEY_ID": settings.s3_access_key or "",
            "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key or "",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",  # MinIO in compose and tests speaks plain HTTP
        }
        return "s3://" + uri.removeprefix("s3a://"), {k: v for k, v in options.items() if v}
    raise LakeError(f"unsupported lake location {uri!r} (expected file:// or s3a://)")


def open_table(settings: Settings, layer: str, name: str) -> DeltaTable | None:
    """The Delta table, or None when no job has created it yet."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    location, options = delta_location(settings, settings.table_uri(layer, name))
    try:
        return DeltaTable(location, storage_options=options or None)
    except TableNotFoundError:
        return None


def summarise(name: str, table: DeltaTable, time_column: str) -> TableSummary:
    """Row count and newest time from the Delta log's per-file statistics: no data file is read.

    Spark records row counts and min/max of the first 32 columns for every file it adds; a file
    without them (another writer) is counted by reading its footers instead.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    actions = pa.table(table.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return TableSummary(name, 0, None)
    counts = actions.column("num_records")
    newest_column = f"max.{time_column}"
    if counts.null_count or newest_column not in actions.column_names:
        dataset = table.to_pyarrow_dataset()
        rows = dataset.count_rows()
        newest = pc.max(dataset.to_table(columns=[time_column]).column(time_column)).as_py()
        return TableSummary(name, rows, newest)
    return TableSummary(name, int(pc.sum(counts).as_py()), pc.max(actions.column(newest_column)).as_py())


def summaries(settings: Settings) -> list[TableSummary | None]:
    """Every lake table's summary, in LAKE_TABLES order (None for a table not created yet)."""
    found: list[TableSummary | None] = []
    for name, (layer, table_name, time_column) in LAKE_TABLES.items():
        table = open_table(settings, layer, table_name)
        found.append(None if table is None else summarise(name, table, time_column))
    return found


def sql(settings: Settings, statement: str) -> pa.Table:
    """Run one SQL query (Apache DataFusion, through delta-rs) over the lake's tables, by LAKE_TABLES name."""
    import pyarrow as pa
    from deltalake import QueryBuilder

    builder = QueryBuilder()
    registered = []
    for name, (layer, table_name, _) in LAKE_TABLES.items():
        table = open_table(settings, layer, table_name)
        if table is not None:
            builder.register(name, table)
            registered.append(name)
    if not registered:
        raise LakeError(f"no Delta table in {settings.lake_uri} yet: start the streams (or `make demo`) first")
    try:
        return pa.table(builder.execute(statement).read_all())
    except Exception as error:  # DataFusion raises its own exception types for plan and SQL errors
        raise LakeError(f"{error} (tables: {', '.join(registered)})") from error
