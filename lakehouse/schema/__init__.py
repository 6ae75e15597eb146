"""The canonical trade record and everything derived from it."""

from lakehouse.schema.trade import SCHEMA_VERSION, TradeRecord, json_schema, spark_schema

__all__ = ["SCHEMA_VERSION", "TradeRecord", "json_schema", "spark_schema"]
