"""Scratch databases with the silver mirror, and silver rows to fill them (dbt writes fixed schemas)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from lakehouse.local.postgres_server import apply_roles_sql
from lakehouse.schema.silver import SILVER_COLUMNS
from lakehouse.stream.postgres_mirror import PostgresMirror

COLUMNS = SILVER_COLUMNS
_Q18 = Decimal("1e-18")


def _swap_database(dsn: str, database: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + database


def _password(dsn: str) -> str:
    return str(conninfo_to_dict(dsn)["password"])


@pytest.fixture
def gold_db(infra) -> Iterator[dict[str, str]]:
    """A fresh database with the silver/gold schemas and silver.trades as the silver job creates it."""
    name = f"gold_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_swap_database(infra.pg_admin_dsn, "postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    # The same roles, schemas and grants as market_db, from the one file that defines them.
    apply_roles_sql(
        _swap_database(infra.pg_admin_dsn, name),
        {"writer_password": _password(infra.pg_dsn), "reader_password": _password(infra.pg_readonly_dsn)},
    )
    writer_dsn = _swap_database(infra.pg_dsn, name)
    mirror = PostgresMirror(writer_dsn)
    mirror.ensure_schema()
    mirror.close()
    try:
        yield {"name": name, "dsn": writer_dsn, "reader_dsn": _swap_database(infra.pg_readonly_dsn, name)}
    finally:
        with psycopg.connect(_swap_database(infra.pg_admin_dsn, "postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def silver_rows(trades: list[dict[str, Any]], processed_at, source: str = "binance") -> list[tuple]:
    """Silver-mirror rows for synthetic trades (as process_silver.py would write them)."""
    rows = []
    for offset, trade in enumerate(trades):
        price, quantity = trade["price"], trade["quantity"]
        rows.append(
            (
                source, trade["symbol"], trade["trade_id"], price, quantity, (price * quantity).quantize(_Q18),
                trade["side"], trade["trade_time"], trade["trade_time"].date(),
                trade["trade_time"] + timedelta(milliseconds=50), 50, 1, trade.get("predicted_price"),
                trade.get("model_version"), "raw-trades", 0, offset, trade["trade_time"], processed_at,
            )
        )  # fmt: skip
    return rows


def load_silver(dsn: str, rows: list[tuple]) -> None:
    """COPY rows into silver.trades (the bulk path the mirror uses)."""
    with (
        psycopg.connect(dsn) as conn,
        conn.cursor() as cursor,
        cursor.copy(f"COPY silver.trades ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
