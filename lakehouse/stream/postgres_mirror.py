"""The PostgreSQL mirror of silver: bulk COPY per batch, straight in when every trade is new, else into
a staging table and one upsert on the trade identity.

A large batch is cut into slices that are copied over parallel connections (`PARALLEL_SLICES`), each in
one transaction: parsing numerics and timestamps and maintaining the indexes is PostgreSQL's CPU work,
and one backend uses one core while the other waits. A batch that fails part-way may leave some slices
committed; that is safe because every row records the streaming query and batch that wrote it: the
replayed batch finds those rows as its own and rewrites them, and Delta's idempotent commit comes only
after every slice succeeded. The same stamp makes the mirror silver's re-send index (its primary key
answers "do we hold this trade?" without reading Delta). Per staged row, against the mirrored row of the
same identity:
  - another trade_time: a conflicting duplicate; taken out and returned, to be quarantined;
  - same trade_time, written by another batch of this query: an exact re-send of a trade that batch
    already committed to Delta (batches of one query run in order); taken out and returned as a re-send;
  - same trade_time, written by this very batch: a replay after a crash; rewritten, and Delta's own
    idempotent commit decides whether it still has to be appended;
  - same trade_time, written by another query (the checkpoint was reset) or by other means: left as
    they are and returned as `unknown`, for the caller to look up in Delta. Those Delta lacks, this
    batch then `adopt`s (rewrites and stamps as its own) before its Delta commit. Leaving the others
    with their first writer's stamp is what keeps a replay exact: were they re-stamped, a crash before
    the Delta commit would make the replayed batch take them for its own rows and append them again.
"""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from lakehouse.schema.silver import IDENTITY, SILVER_TRADE, postgres_columns

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

DDL_PATH = Path(__file__).parent / "sql" / "silver_trades.sql"
STAGE = "_silver_stage"
COPY_CHUNK_BYTES = 1 << 20
# One process at a time creates the table and view (CREATE ... IF NOT EXISTS races on the catalog).
DDL_LOCK_KEY = 0x5117E7
# Parallel COPY pays off for catch-up batches; a live batch of a few thousand rows stays one statement.
PARALLEL_SLICES = 2
MIN_SLICE_ROWS = 50_000


Identity = tuple[str, str, str]


class MirrorError(RuntimeError):
    """PostgreSQL refused or could not be reached; the batch must fail and be retried."""


@dataclass(frozen=True)
class StreamMarker:
    """The streaming query and batch a mirrored row was written by."""

    query_id: str
    batch_id: int


@dataclass(frozen=True)
class UpsertOutcome:
    """Identities the upsert did not simply take as new (see the module docstring)."""

    conflicts: list[Identity] = field(default_factory=list)
    resends: list[Identity] = field(default_factory=list)
    unknown: list[Identity] = field(default_factory=list)

    @classmethod
    def merge(cls, outcomes: list[UpsertOutcome]) -> UpsertOutcome:
        return cls(
            [identity for outcome in outcomes for identity in outcome.conflicts],
            [identity for outcome in outcomes for identity in outcome.resends],
            [identity for outcome in outcomes for identity in outcome.unknown],
        )


def slice_bounds(rows: int, slices: int | None = None, min_rows: int | None = None) -> list[tuple[int, int]]:
    """(offset, length) of each slice: as many as `slices`, none shorter than `min_rows` (pure)."""
    slices = PARALLEL_SLICES if slices is None else slices
    min_rows = MIN_SLICE_ROWS if min_rows is None else min_rows
    count = max(1, min(slices, rows // min_rows))
    size = -(-rows // count)
    return [(start, min(size, rows - start)) for start in range(0, rows, size)] or [(0, 0)]


def _qualified(name: str) -> sql.Identifier:
    schema, _, table = name.partition(".")
    return sql.Identifier(schema, table)


# A hung network must fail the batch (the job exits, its restart retries it), never stall silver: the
# server ends a statement after STATEMENT_TIMEOUT_MS (a 250,000-row batch takes about 10 s), and the
# client's kernel gives up on a silent peer after about a minute (keepalive probes for an idle socket,
# tcp_user_timeout for data that is never acknowledged).
STATEMENT_TIMEOUT_MS = 300_000
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}


def connect_writer(dsn: str, what: str) -> psycopg.Connection:
    """An autocommit connection for a mirror: UTC session (the staged CSV carries UTC wall-clock
    times), keepalives and a statement timeout, so a dead server fails a batch instead of hanging it."""
    try:
        return psycopg.connect(
            psycopg.conninfo.make_conninfo(dsn, **KEEPALIVE),
            connect_timeout=10,
            autocommit=True,
            options=f"-c TimeZone=UTC -c statement_timeout={STATEMENT_TIMEOUT_MS}",
        )
    except psycopg.OperationalError as error:
        raise MirrorError(f"cannot connect to PostgreSQL ({what}): {error}") from error


class PostgresMirror:
    """Owns one connection to the writer role and the DDL of `table` and `view`."""

    def __init__(self, dsn: str, table: str = "silver.trades", view: str = "public.crypto_prices") -> None:
        self.dsn = dsn
        self.table = table
        self.view = view
        # One connection per parallel slice, opened on first use and kept between batches.
        self._conns: dict[int, psycopg.Connection] = {}
        self._pool: ThreadPoolExecutor | None = None

    def _connection(self, slot: int = 0) -> psycopg.Connection:
        conn = self._conns.get(slot)
        if conn is None or conn.closed or conn.broken:
            conn = connect_writer(self.dsn, f"{self.table} mirror")
            self._conns[slot] = conn
        return conn

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def ensure_schema(self) -> None:
        """Create the table, its index and the view when missing (owned by the connecting writer role)."""
        table_name = self.table.partition(".")[2]
        ddl = sql.SQL(DDL_PATH.read_text()).format(
            table=_qualified(self.table),
            columns=sql.SQL(postgres_columns(SILVER_TRADE)),
            identity=sql.SQL(", ").join(sql.Identifier(name) for name in IDENTITY),
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

    def upsert(self, rows: pa.Table, marker: StreamMarker) -> UpsertOutcome:
        """Mirror `rows` for the batch `marker`, one transaction per slice; say which identities were not new.

        Raises MirrorError when any slice fails (the caller then fails the batch, to be replayed whole).
        """
        if rows.num_rows == 0:
            return UpsertOutcome()
        bounds = slice_bounds(rows.num_rows)
        if len(bounds) == 1:
            return self._upsert_slice(0, rows, marker)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(PARALLEL_SLICES, thread_name_prefix="pg-mirror")
        # pyarrow's CSV writer and libpq release the GIL, so the slices really run side by side.
        futures = [
            self._pool.submit(self._upsert_slice, slot, rows.slice(start, length), marker)
            for slot, (start, length) in enumerate(bounds)
        ]
        wait(futures)  # every slice has finished before a failure is raised, so none outlives the batch
        return UpsertOutcome.merge([future.result() for future in futures])

    def adopt(self, rows: pa.Table, marker: StreamMarker) -> None:
        """Rewrite `rows` (mirrored by an earlier query, absent from Delta) as the batch `marker`'s own."""
        if rows.num_rows:
            self._upsert_slice(0, rows, marker, classify=False)

    def _upsert_slice(self, slot: int, rows: pa.Table, marker: StreamMarker, classify: bool = True) -> UpsertOutcome:
        """One slice of a batch in one transaction on connection `slot` (`classify`: report what is not new)."""
        rows = rows.append_column("stream_query_id", _constant(marker.query_id, rows.num_rows, "string"))
        rows = rows.append_column("stream_batch_id", _constant(marker.batch_id, rows.num_rows, "int64"))
        payload = _csv_bytes(rows)
        names: dict[str, sql.Composable] = {
            "target": _qualified(self.table),
            "stage": sql.Identifier(STAGE),
            "columns": sql.SQL(", ").join(sql.Identifier(name) for name in rows.column_names),
        }
        conn = self._connection(slot)
        try:
            with conn.transaction(), conn.cursor() as cursor:
                if classify and _copy_if_all_new(conn, cursor, names, payload):
                    return UpsertOutcome()
                log.debug("batch %d: upserting through a stage", marker.batch_id)
                return _upsert_through_stage(cursor, names, payload, rows.column_names, marker if classify else None)
        except psycopg.Error as error:
            raise MirrorError(f"PostgreSQL upsert into {self.table} failed: {error}") from error

    def count(self) -> int:
        row = self._connection().execute(sql.SQL("SELECT count(*) FROM {}").format(_qualified(self.table))).fetchone()
        return int(row[0]) if row else 0


SAME_IDENTITY = " AND ".join(f"t.{name} = s.{name}" for name in IDENTITY)


def _classify_staged(
    cursor: psycopg.Cursor, names: dict[str, sql.Composable], params: dict[str, object], held: dict[str, list[Identity]]
) -> None:
    """Sort the staged identities the mirror already holds into `held`; take all of them out of the stage.

    One pass over the identities the mirror already holds (none, in the common case). Only this batch's
    own rows (from a crashed attempt) stay staged, to be rewritten.
    """
    cursor.execute(
        sql.SQL(
            "SELECT s.source, s.symbol, s.trade_id, CASE "
            "WHEN t.trade_time <> s.trade_time THEN 'conflict' "
            "WHEN t.stream_query_id = %(query_id)s AND t.stream_batch_id <> %(batch_id)s THEN 'resend' "
            "WHEN t.stream_query_id IS DISTINCT FROM %(query_id)s THEN 'unknown' END "
            f"FROM {{stage}} s JOIN {{target}} t ON {SAME_IDENTITY}"
        ).format(**names),
        params,
    )
    for source, symbol, trade_id, kind in cursor.fetchall():
        if kind is not None:  # None: this batch's own rows, from a crashed attempt
            held[kind].append((str(source), str(symbol), str(trade_id)))
    untouched = held["conflict"] + held["resend"] + held["unknown"]
    if untouched:
        cursor.execute(
            sql.SQL(
                "DELETE FROM {stage} WHERE (source, symbol, trade_id) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))"
            ).format(**names),
            [list(column) for column in zip(*untouched, strict=True)],
        )


def _copy_if_all_new(
    conn: psycopg.Connection, cursor: psycopg.Cursor, names: dict[str, sql.Composable], payload: bytes
) -> bool:
    """The fast path: COPY straight into the table. It fails on the primary key as soon as one identity
    is mirrored already (a replay, a re-send); the savepoint then undoes it and False says so."""
    try:
        with conn.transaction():
            _copy(cursor, sql.SQL("COPY {target} ({columns}) FROM STDIN (FORMAT csv, HEADER true)"), names, payload)
    except psycopg.errors.UniqueViolation:
        return False
    return True


def _upsert_through_stage(
    cursor: psycopg.Cursor,
    names: dict[str, sql.Composable],
    payload: bytes,
    columns: list[str],
    classify_for: StreamMarker | None,
) -> UpsertOutcome:
    """COPY into a temporary stage, sort out what the table holds already (for `classify_for`'s batch,
    when given), then INSERT ... ON CONFLICT DO UPDATE."""
    cursor.execute(sql.SQL("CREATE TEMP TABLE {stage} (LIKE {target}) ON COMMIT DROP").format(**names))
    _copy(cursor, sql.SQL("COPY {stage} ({columns}) FROM STDIN (FORMAT csv, HEADER true)"), names, payload)
    held: dict[str, list[Identity]] = {"conflict": [], "resend": [], "unknown": []}
    if classify_for is not None:
        params = {"query_id": classify_for.query_id, "batch_id": classify_for.batch_id}
        _classify_staged(cursor, names, params, held)
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name)) for name in columns if name not in IDENTITY
    )
    key = sql.SQL(", ").join(sql.Identifier(name) for name in IDENTITY)
    cursor.execute(
        sql.SQL(
            "INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT ({key}) DO UPDATE SET {updates}"
        ).format(updates=updates, key=key, **names)
    )
    return UpsertOutcome(held["conflict"], held["resend"], held["unknown"])


def _copy(cursor: psycopg.Cursor, statement: sql.SQL, names: dict[str, sql.Composable], payload: bytes) -> None:
    with cursor.copy(statement.format(**names)) as copy:
        view = memoryview(payload)
        for start in range(0, len(view), COPY_CHUNK_BYTES):
            copy.write(view[start : start + COPY_CHUNK_BYTES])


def _constant(value: object, length: int, type_name: str) -> pa.Array:
    import pyarrow as pa

    return pa.repeat(pa.scalar(value, type=getattr(pa, type_name)()), length)


def _csv_bytes(rows: pa.Table) -> bytes:
    """CSV for COPY: strings quoted (so '' stays an empty string), nulls as unquoted empty fields.

    Zoned timestamps are written as UTC wall-clock times for the UTC session: formatting them with
    their zone costs pyarrow a zone lookup per value (about 1 s per 200,000 rows), the cast is free.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    for index, column_type in enumerate(rows.schema.types):
        if pa.types.is_timestamp(column_type) and column_type.tz is not None:
            rows = rows.set_column(
                index, rows.schema.names[index], rows.column(index).cast(pa.timestamp(column_type.unit))
            )
    buffer = io.BytesIO()
    pa_csv.write_csv(rows, buffer, pa_csv.WriteOptions(include_header=True))
    return buffer.getvalue()
