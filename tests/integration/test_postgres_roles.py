"""PostgreSQL round trip: the writer role writes, the read-only role reads and is refused writes."""

import uuid

import psycopg
import pytest


def test_writer_writes_and_reader_reads_but_cannot_write(infra) -> None:
    table = f"silver.roundtrip_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(infra.pg_dsn) as writer:
        writer.execute(f"CREATE TABLE {table} (trade_id text PRIMARY KEY, price numeric(38, 18) NOT NULL)")
        writer.execute(f"INSERT INTO {table} VALUES ('1', 65000.123456789012345678), ('2', 0.000000000000000001)")
    try:
        with psycopg.connect(infra.pg_readonly_dsn) as reader:
            rows = reader.execute(f"SELECT trade_id, price::text FROM {table} ORDER BY trade_id").fetchall()
            assert rows == [("1", "65000.123456789012345678"), ("2", "0.000000000000000001")]
        # Even after switching its read-only default off, the role lacks the privilege to write.
        with (
            psycopg.connect(infra.pg_readonly_dsn, autocommit=True) as reader,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            reader.execute("SET default_transaction_read_only = off")
            reader.execute(f"INSERT INTO {table} VALUES ('3', 1)")
        with psycopg.connect(infra.pg_readonly_dsn) as reader, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.execute(f"DELETE FROM {table}")
    finally:
        with psycopg.connect(infra.pg_dsn) as writer:
            writer.execute(f"DROP TABLE {table}")


def test_database_and_schemas_exist_and_passwords_are_not_defaults(infra) -> None:
    with psycopg.connect(infra.pg_admin_dsn) as admin:
        assert admin.execute("SELECT current_database()").fetchone() == ("market_db",)
        schemas = {r[0] for r in admin.execute("SELECT schema_name FROM information_schema.schemata")}
        assert {"silver", "gold"} <= schemas
    for dsn in (infra.pg_dsn, infra.pg_readonly_dsn, infra.pg_admin_dsn):
        password = dsn.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        assert len(password) >= 24 and password not in {"admin", "postgres", "password"}
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(infra.pg_dsn.replace(infra.pg_dsn.split(":")[2].split("@")[0], "wrong"), connect_timeout=3)


def test_writer_stages_rows_in_temp_tables_and_reader_may_not(infra) -> None:
    # Local start ran ops/postgres/initdb/lakehouse/roles.sql: PUBLIC lost TEMPORARY, the writer has it.
    with psycopg.connect(infra.pg_dsn) as writer:
        writer.execute("CREATE TEMP TABLE staged (trade_id text) ON COMMIT DROP")
        writer.execute("INSERT INTO staged VALUES ('1')")
        assert writer.execute("SELECT count(*) FROM staged").fetchone() == (1,)
    with psycopg.connect(infra.pg_readonly_dsn, autocommit=True) as reader:
        reader.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="temporary tables"):
            reader.execute("CREATE TEMP TABLE sneaky (id int)")
