"""The PostgreSQL mirror of silver: bulk COPY into a staging table, then one upsert on the trade identity.

Each batch is one transaction: PostgreSQL holds all of a batch or none of it. The upsert rewrites a row
that a crashed attempt of the same batch already wrote (same identity and trade_time), so a replay
converges on exactly the rows Delta commits next. A row whose identity is already mirrored with a
different trade_time is a conflicting duplicate: it is taken out of the upsert and returned, so the
caller can quarantine it instead of letting Delta and PostgreSQL disagree.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

DDL_PATH = Path(__file__).parent / "sql" / "silver_trades.sql"
IDENTITY = ("source", "symbol", "trade_id")
STAGE = "_silver_stage"
COPY_CHUNK_BYTES = 1 << 20
# One process at a time creates the table and view (CREATE ... IF NOT EXISTS races on the catalog).
DDL_LOCK_KEY = 0x5117E7


class MirrorError(RuntimeError):
    """PostgreSQL refused or could not be reached; the batch must fail and be retried."""


def _qualified(name: str) -> sql.Identifier:
    schema, _, table = name.partition(".")
    return sql.Identifier(schema, table)


class PostgresMirror:
    """Owns one connection to the writer role and the DDL of `table` and `view`."""

    def __init__(self, dsn: str, table: str = "silver.trades", view: str = "public.crypto_prices") -> None:
        self.dsn = dsn
        self.table = table
        self.view = view
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.dsn, connect_timeout=10, autocommit=True)
            except psycopg.OperationalError as error:
                raise MirrorError(f"cannot connect to PostgreSQL ({self.table} mirror): {error}") from error
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def ensure_schema(self) -> None:
        """Create the table, its index and the view when missing (owned by the connecting writer role)."""
        table_name = self.table.partition(".")[2]
        ddl = sql.SQL(DDL_PATH.read_text()).format(
            table=_qualified(self.table),
            time_index=sql.Identifier(f"{table_name}_symbol_time_idx"),
            processed_index=sql.Identifier(f"{table_name}_processed_at_brin"),
            predicted_index=sql.Identifier(f"{table_name}_predicted_idx"),
            view=_qualified(self.view),
        )
        conn = self._connection()
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK_KEY,))
                conn.execute(ddl)
        except psycopg.Error as error:
            raise MirrorError(f"cannot create {self.table} / {self.view}: {error}") from error
        log.info("PostgreSQL mirror ready: %s, view %s", self.table, self.view)

    def upsert(self, rows: pa.Table) -> list[tuple[str, str, str]]:
        """Mirror `rows` in one transaction; return the identities refused as conflicting duplicates."""
        if rows.num_rows == 0:
            return []
        columns = rows.column_names
        payload = _csv_bytes(rows)
        column_list = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name)) for name in columns if name not in IDENTITY
        )
        target = _qualified(self.table)
        stage = sql.Identifier(STAGE)
        conn = self._connection()
        try:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(
                    sql.SQL("CREATE TEMP TABLE {stage} (LIKE {target}) ON COMMIT DROP").format(
                        stage=stage, target=target
                    )
                )
                copy_sql = sql.SQL("COPY {stage} ({columns}) FROM STDIN (FORMAT csv, HEADER true)").format(
                    stage=stage, columns=column_list
                )
                with cursor.copy(copy_sql) as copy:
                    view = memoryview(payload)
                    for start in range(0, len(view), COPY_CHUNK_BYTES):
                        copy.write(view[start : start + COPY_CHUNK_BYTES])
                cursor.execute(
                    sql.SQL(
                        "DELETE FROM {stage} s USING {target} t "
                        "WHERE t.source = s.source AND t.symbol = s.symbol AND t.trade_id = s.trade_id "
                        "AND t.trade_time <> s.trade_time RETURNING s.source, s.symbol, s.trade_id"
                    ).format(stage=stage, target=target)
                )
                conflicts = [(str(a), str(b), str(c)) for a, b, c in cursor.fetchall()]
                cursor.execute(
                    sql.SQL(
                        "INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage} "
                        "ON CONFLICT (source, symbol, trade_id) DO UPDATE SET {updates}"
                    ).format(target=target, columns=column_list, stage=stage, updates=updates)
                )
        except psycopg.Error as error:
            raise MirrorError(f"PostgreSQL upsert into {self.table} failed: {error}") from error
        return conflicts

    def count(self) -> int:
        row = self._connection().execute(sql.SQL("SELECT count(*) FROM {}").format(_qualified(self.table))).fetchone()
        return int(row[0]) if row else 0


def _csv_bytes(rows: pa.Table) -> bytes:
    """CSV for COPY: strings quoted (so '' stays an empty string), nulls as unquoted empty fields."""
    import pyarrow.csv as pa_csv

    buffer = io.BytesIO()
    pa_csv.write_csv(rows, buffer, pa_csv.WriteOptions(include_header=True))
    return buffer.getvalue()
