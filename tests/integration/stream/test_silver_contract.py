"""One silver record (lakehouse/schema/silver.py): what the job computes, what Delta declares and what
PostgreSQL stores are the same columns with the same types."""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import pytest

from lakehouse.schema.silver import IDENTITY, QUARANTINE, SILVER_TRADE
from lakehouse.stream import silver_transforms as st
from lakehouse.stream.postgres_mirror import PostgresMirror
from lakehouse.stream.scorer_hook import conform, null_scorer
from lakehouse.stream.silver import QUARANTINE_SCHEMA, SILVER_SCHEMA
from tests.utils.trades import make_trade

NOW_MS = int(time.time() * 1000)

# information_schema's names for the types of lakehouse.schema.silver
POSTGRES_TYPE_NAMES = {
    "text": "text", "decimal": "numeric", "timestamp": "timestamp with time zone", "date": "date",
    "integer": "integer", "bigint": "bigint", "double": "double precision",
}  # fmt: skip


def without_nullability(schema) -> list[tuple[str, str]]:
    return [(field.name, field.dataType.simpleString()) for field in schema.fields]


def test_the_rows_the_silver_job_computes_have_the_declared_delta_schema(kafka_frame) -> None:
    checked = st.validate(kafka_frame([json.loads(make_trade(1).to_json_bytes()), "not json"]), NOW_MS)
    silver = conform(null_scorer(st.to_silver(checked.where("reason IS NULL"), NOW_MS))).select(
        *(column.name for column in SILVER_TRADE)
    )
    assert without_nullability(silver.schema) == without_nullability(SILVER_SCHEMA)
    quarantine = st.quarantine_rows(checked.where("reason IS NOT NULL"), NOW_MS)
    assert without_nullability(quarantine.schema) == without_nullability(QUARANTINE_SCHEMA)
    assert [column.name for column in QUARANTINE] == quarantine.columns
    assert [f.name for f in SILVER_SCHEMA.fields if not f.nullable] == list(IDENTITY)


@pytest.fixture
def mirror_table(settings) -> str:
    table = f"silver.contract_{uuid.uuid4().hex[:8]}"
    mirror = PostgresMirror(settings.require_pg_dsn(), table)
    mirror.ensure_schema()
    mirror.close()
    yield table
    with psycopg.connect(settings.require_pg_dsn(), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")


def test_the_postgres_mirror_stores_the_same_columns_with_their_constraints(settings, mirror_table: str) -> None:
    schema, table = mirror_table.split(".")
    with psycopg.connect(settings.require_pg_dsn()) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, is_nullable, numeric_precision, numeric_scale "
            "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, table),
        ).fetchall()
        key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (mirror_table,),
        ).fetchall()
    expected = [(c.name, POSTGRES_TYPE_NAMES[c.kind], "NO" if c.required else "YES") for c in SILVER_TRADE]
    assert [(name, kind, nullable) for name, kind, nullable, _, _ in columns[: len(SILVER_TRADE)]] == expected
    assert {(p, s) for name, kind, _, p, s in columns if kind == "numeric"} == {(38, 18)}
    assert [name for name, *_ in columns[len(SILVER_TRADE) :]] == ["stream_query_id", "stream_batch_id"]
    assert sorted(name for (name,) in key) == sorted(IDENTITY)
