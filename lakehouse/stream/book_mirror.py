"""The PostgreSQL mirror of what gold needs from the silver books: `silver.order_book` (one row per symbol
and second, the top levels as numeric arrays) and `silver.book_events` (breaks, resyncs, gaps).

A batch's rows are inserted in one transaction before its Delta commits, and a row already there is left
as it is (ON CONFLICT DO NOTHING on the natural key): a batch replayed after a crash recomputes the same
rows from the same state, so the mirror and Delta converge, and nothing is doubled. The rows are few
(one per symbol and second), so plain batched INSERTs suffice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from lakehouse.schema.silver import Column, postgres_columns
from lakehouse.schema.silver_book import BOOK_EVENTS, ORDER_BOOK
from lakehouse.stream.postgres_mirror import MirrorError, connect_writer

log = logging.getLogger(__name__)

DDL_LOCK_KEY = 0x5117E8  # one process at a time creates the tables (CREATE ... IF NOT EXISTS races)
KEYS = {
    "order_book": ("source", "symbol", "book_time"),
    "book_events": ("source", "symbol", "event", "update_id"),
}
COLUMNS: dict[str, tuple[Column, ...]] = {"order_book": ORDER_BOOK, "book_events": BOOK_EVENTS}


def _qualified(name: str) -> sql.Identifier:
    schema, _, table = name.partition(".")
    return sql.Identifier(schema, table)


class BookMirror:
    """Owns one connection to the writer role and the DDL of the two book tables."""

    def __init__(self, dsn: str, order_book_table: str, book_events_table: str) -> None:
        self.dsn = dsn
        self.tables = {"order_book": order_book_table, "book_events": book_events_table}
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect_writer(self.dsn, "book mirror")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def ensure_schema(self) -> None:
        conn = self._connection()
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
                for kind, table in self.tables.items():
                    name = table.partition(".")[2]
                    conn.execute(
                        sql.SQL("CREATE TABLE IF NOT EXISTS {table} ({columns}, PRIMARY KEY ({keys}))").format(
                            table=_qualified(table),
                            columns=sql.SQL(postgres_columns(COLUMNS[kind])),
                            keys=sql.SQL(", ").join(map(sql.Identifier, KEYS[kind])),
                        )
                    )
                    # Gold reads by processing time (incremental runs) and by symbol over time.
                    conn.execute(
                        sql.SQL("CREATE INDEX IF NOT EXISTS {index} ON {table} USING brin (processed_at)").format(
                            index=sql.Identifier(f"{name}_processed_at_brin"), table=_qualified(table)
                        )
                    )
        except psycopg.Error as error:
            raise MirrorError(f"cannot create the book mirror tables: {error}") from error

    def insert(self, kind: str, rows: Sequence[dict[str, Any]]) -> int:
        """Insert `rows` of `order_book` or `book_events` (dicts by column name); return how many were new."""
        if not rows:
            return 0
        names = [column.name for column in COLUMNS[kind]]
        statement = sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING").format(
            table=_qualified(self.tables[kind]),
            columns=sql.SQL(", ").join(map(sql.Identifier, names)),
            values=sql.SQL(", ").join(sql.Placeholder() * len(names)),
        )
        conn = self._connection()
        try:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(statement, [[row[name] for name in names] for row in rows], returning=False)
                inserted = cursor.rowcount
        except psycopg.Error as error:
            raise MirrorError(f"cannot write {self.tables[kind]}: {error}") from error
        return max(inserted, 0)
