"""The silver record's definition renders the PostgreSQL columns and Spark types it always had."""

from __future__ import annotations

from lakehouse.schema.silver import QUARANTINE, SILVER_COLUMNS, SILVER_TRADE, postgres_columns, spark_schema


def test_postgres_columns_carry_types_not_null_and_checks() -> None:
    lines = [" ".join(line.split()) for line in postgres_columns(SILVER_TRADE).splitlines()]
    assert lines[0] == "source text NOT NULL,"
    assert "price numeric(38, 18) NOT NULL CHECK (price > 0)," in lines
    assert "side text NOT NULL CHECK (side IN ('buy', 'sell'))," in lines
    assert "predicted_price double precision," in lines
    assert lines[-1] == "processed_at timestamptz NOT NULL"


def test_spark_schema_declares_only_the_given_columns_not_null() -> None:
    schema = spark_schema(SILVER_TRADE, non_null=("source", "symbol", "trade_id"))
    assert tuple(schema.fieldNames()) == SILVER_COLUMNS
    assert schema["price"].dataType.simpleString() == "decimal(38,18)"
    assert schema["trade_time"].dataType.simpleString() == "timestamp"
    assert [f.name for f in schema.fields if not f.nullable] == ["source", "symbol", "trade_id"]
    assert spark_schema(QUARANTINE, non_null=())["value"].dataType.simpleString() == "binary"
