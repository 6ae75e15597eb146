"""The silver trade record and the quarantine record, defined once.

The Spark schemas of the Delta tables, the column lists the jobs select, the PostgreSQL mirror's
column definitions and the test helpers are all derived from these tuples, so a column added here
reaches every layer or fails a contract test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import DataType, StructType

Kind = Literal["text", "decimal", "decimal[]", "timestamp", "date", "integer", "bigint", "double", "binary"]

# One trade, whoever sent it: the key of silver, of the mirror and of every deduplication.
IDENTITY = ("source", "symbol", "trade_id")

# Exact decimals: prices and quantities of crypto pairs need 18 fractional digits.
DECIMAL_PRECISION, DECIMAL_SCALE = 38, 18

_POSTGRES_TYPES: dict[Kind, str] = {
    "text": "text",
    "decimal": f"numeric({DECIMAL_PRECISION}, {DECIMAL_SCALE})",
    "decimal[]": f"numeric({DECIMAL_PRECISION}, {DECIMAL_SCALE})[]",
    "timestamp": "timestamptz",
    "date": "date",
    "integer": "integer",
    "bigint": "bigint",
    "double": "double precision",
    "binary": "bytea",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True  # never null once validated (NOT NULL in PostgreSQL)
    check: str = ""  # a PostgreSQL CHECK expression the value always meets

    def postgres_definition(self) -> str:
        parts = [f"{self.name:<17} {_POSTGRES_TYPES[self.kind]:<16}"]
        if self.required:
            parts.append("NOT NULL")
        if self.check:
            parts.append(f"CHECK ({self.check})")
        return " ".join(parts).rstrip()


SILVER_TRADE: tuple[Column, ...] = (
    Column("source", "text"),
    Column("symbol", "text"),
    Column("trade_id", "text"),
    Column("price", "decimal", check="price > 0"),
    Column("quantity", "decimal", check="quantity > 0"),
    Column("notional", "decimal"),
    Column("side", "text", check="side IN ('buy', 'sell')"),
    Column("trade_time", "timestamp"),
    Column("trade_date", "date"),
    Column("ingest_time", "timestamp"),
    Column("ingest_latency_ms", "bigint"),
    Column("schema_version", "integer"),
    Column("predicted_price", "double", required=False),  # null until a champion model scores the trade
    Column("model_version", "text", required=False),
    Column("kafka_topic", "text"),
    Column("kafka_partition", "integer"),
    Column("kafka_offset", "bigint"),
    Column("kafka_timestamp", "timestamp"),
    Column("processed_at", "timestamp"),
)

QUARANTINE: tuple[Column, ...] = (
    Column("value", "binary", required=False),  # the raw Kafka value, exactly as received (a tombstone is null)
    Column("key", "binary", required=False),
    Column("reason", "text"),
    Column("kafka_topic", "text"),
    Column("kafka_partition", "integer"),
    Column("kafka_offset", "bigint"),
    Column("kafka_timestamp", "timestamp"),
    Column("quarantined_at", "timestamp"),
)

SILVER_COLUMNS = tuple(column.name for column in SILVER_TRADE)
QUARANTINE_COLUMNS = tuple(column.name for column in QUARANTINE)


def _spark_type(kind: Kind) -> DataType:
    from pyspark.sql import types as T

    simple: dict[Kind, DataType] = {
        "text": T.StringType(),
        "timestamp": T.TimestampType(),
        "date": T.DateType(),
        "integer": T.IntegerType(),
        "bigint": T.LongType(),
        "double": T.DoubleType(),
        "binary": T.BinaryType(),
    }
    decimal = T.DecimalType(DECIMAL_PRECISION, DECIMAL_SCALE)
    if kind == "decimal[]":
        return T.ArrayType(decimal, containsNull=False)
    return decimal if kind == "decimal" else simple[kind]


def spark_schema(columns: tuple[Column, ...], non_null: tuple[str, ...]) -> StructType:
    """The Delta table's schema. Only `non_null` is declared NOT NULL there: the other rules are
    enforced by validation before every write, and Delta tables created so far declare just these."""
    from pyspark.sql.types import StructField, StructType

    return StructType([StructField(c.name, _spark_type(c.kind), nullable=c.name not in non_null) for c in columns])


def postgres_columns(columns: tuple[Column, ...]) -> str:
    """The column definitions of a CREATE TABLE, one per line."""
    return ",\n".join(f"    {column.postgres_definition()}" for column in columns)


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    """The record as Arrow types: what the silver job collects from Spark and hands to the mirror."""
    import pyarrow as pa

    types: dict[Kind, pa.DataType] = {
        "text": pa.string(),
        "decimal": pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
        "decimal[]": pa.list_(pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "double": pa.float64(),
        "binary": pa.binary(),
    }
    return pa.schema([pa.field(c.name, types[c.kind], nullable=not c.required) for c in columns])
