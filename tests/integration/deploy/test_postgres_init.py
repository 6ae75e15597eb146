"""ops/postgres/initdb/10-lakehouse.sh, run for real against a private PostgreSQL server.

The compose PostgreSQL runs this script once on an empty volume, as the superuser, connected to
market_db. Here the same script runs with psql against a throw-away server of the Debian packages
(the image's entrypoint does no more than that), then each role is checked from the outside.
The script, local mode and the test fixtures all run one file, ops/postgres/initdb/lakehouse/roles.sql.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lakehouse.local.postgres_server import ROLES_SQL, LocalPostgres, apply_roles_sql, find_bin_dir, server_healthy
from lakehouse.local.processes import free_port, wait_until
from lakehouse.paths import state_dir
from tests.utils.compose_model import REPO

SCRIPT = REPO / "ops" / "postgres" / "initdb" / "10-lakehouse.sh"
ROLE_PASSWORDS = {
    "PG_WRITER_PASSWORD": "lakehouse_writer",
    "PG_READER_PASSWORD": "lakehouse_reader",
    "MLFLOW_DB_PASSWORD": "mlflow",
    "AIRFLOW_DB_PASSWORD": "airflow",
    "METABASE_DB_PASSWORD": "metabase",
}


@dataclass
class InitialisedServer:
    port: int
    passwords: dict[str, str]  # role -> password
    env: dict[str, str]

    def dsn(self, role: str, database: str) -> str:
        return f"postgresql://{role}:{self.passwords[role]}@127.0.0.1:{self.port}/{database}"


def _run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def server() -> Iterator[InitialisedServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries are missing (scripts/bootstrap.sh installs them)")
    # Under .lakehouse/: the `postgres` user must be able to enter every parent folder.
    root = state_dir() / "test-homes" / f"pginit-{uuid.uuid4().hex[:8]}" / "postgres"
    local = LocalPostgres(root)
    admin_password = secrets.token_hex(16)
    local.init_cluster(bin_dir, admin_password)
    port = free_port()
    local.start(bin_dir, port)
    try:
        wait_until(lambda: server_healthy(port, admin_password), 60, "private PostgreSQL start")
        with psycopg.connect(f"postgresql://admin:{admin_password}@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE market_db")  # what the image does for POSTGRES_DB
        passwords = {role: secrets.token_hex(16) for role in ROLE_PASSWORDS.values()}
        passwords["admin"] = admin_password
        env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "POSTGRES_USER": "admin",
            "POSTGRES_DB": "market_db",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGPASSWORD": admin_password,
            **{variable: passwords[role] for variable, role in ROLE_PASSWORDS.items()},
        }
        result = _run_script(env)
        assert result.returncode == 0, result.stdout + result.stderr
        yield InitialisedServer(port, passwords, env)
    finally:
        local.stop()
        shutil.rmtree(root.parent, ignore_errors=True)


def test_writer_owns_silver_and_gold_and_reader_only_reads(server: InitialisedServer) -> None:
    with psycopg.connect(server.dsn("lakehouse_writer", "market_db")) as writer:
        for schema in ("silver", "gold"):
            writer.execute(f"CREATE TABLE {schema}.t (id int PRIMARY KEY)")
            writer.execute(f"INSERT INTO {schema}.t VALUES (1)")
        writer.execute("CREATE VIEW public.crypto_prices AS SELECT id FROM silver.t")
    with psycopg.connect(server.dsn("lakehouse_reader", "market_db")) as reader:
        assert reader.execute("SELECT id FROM gold.t").fetchall() == [(1,)]
        assert reader.execute("SELECT id FROM crypto_prices").fetchall() == [(1,)]
    with (
        psycopg.connect(server.dsn("lakehouse_reader", "market_db")) as reader,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        reader.execute("DELETE FROM silver.t")
    with psycopg.connect(server.dsn("lakehouse_reader", "market_db"), autocommit=True) as reader:
        reader.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("INSERT INTO silver.t VALUES (2)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("CREATE TABLE public.sneaky (id int)")


@pytest.mark.parametrize("tool", ["mlflow", "airflow", "metabase"])
def test_each_tool_owns_its_database_and_nothing_else(server: InitialisedServer, tool: str) -> None:
    with psycopg.connect(server.dsn(tool, tool)) as conn:
        conn.execute("CREATE TABLE tool_state (k text PRIMARY KEY, v text)")
        conn.execute("INSERT INTO tool_state VALUES ('a', 'b')")
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (tool, tool)
    for database in {"market_db", "mlflow", "airflow", "metabase"} - {tool}:
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(server.dsn(tool, database), connect_timeout=5)


def test_lake_roles_cannot_enter_the_tool_databases(server: InitialisedServer) -> None:
    for role in ("lakehouse_writer", "lakehouse_reader"):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(server.dsn(role, "airflow"), connect_timeout=5)


def test_wrong_password_is_refused(server: InitialisedServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"postgresql://lakehouse_writer:wrong@127.0.0.1:{server.port}/market_db", connect_timeout=5)


def test_missing_password_stops_the_script_before_any_sql(server: InitialisedServer, tmp_path: Path) -> None:
    env = {key: value for key, value in server.env.items() if key != "METABASE_DB_PASSWORD"}
    result = _run_script(env)
    assert result.returncode == 1
    assert "METABASE_DB_PASSWORD is not set" in result.stderr


def test_writer_may_create_temp_tables_and_the_reader_may_not(server: InitialisedServer) -> None:
    # The silver mirror's staged upsert and dbt's incremental models stage rows in temp tables.
    with psycopg.connect(server.dsn("lakehouse_writer", "market_db")) as writer:
        writer.execute("CREATE TEMP TABLE staged (id int) ON COMMIT DROP")
        writer.execute("INSERT INTO staged VALUES (1), (2)")
        assert writer.execute("SELECT count(*) FROM staged").fetchone() == (2,)
    with psycopg.connect(server.dsn("lakehouse_reader", "market_db"), autocommit=True) as reader:
        reader.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="temporary tables"):
            reader.execute("CREATE TEMP TABLE sneaky (id int)")


def test_public_holds_no_privilege_on_market_db(server: InitialisedServer) -> None:
    with psycopg.connect(server.dsn("admin", "market_db")) as admin:
        rows = admin.execute(
            "SELECT privilege_type FROM pg_database, aclexplode(datacl) AS acl "
            "WHERE datname = 'market_db' AND acl.grantee = 0"  # grantee 0 = PUBLIC
        ).fetchall()
        writer_privileges = admin.execute(
            "SELECT has_database_privilege('lakehouse_writer', 'market_db', 'TEMPORARY'), "
            "has_database_privilege('lakehouse_reader', 'market_db', 'TEMPORARY')"
        ).fetchone()
    assert rows == []
    assert writer_privileges == (True, False)


def test_local_mode_rerunning_the_roles_file_is_idempotent(server: InitialisedServer) -> None:
    # Local mode runs the same file on every start, here on a database the compose script set up.
    admin_dsn = server.dsn("admin", "market_db")
    variables = {
        "writer_password": server.passwords["lakehouse_writer"],
        "reader_password": server.passwords["lakehouse_reader"],
    }
    apply_roles_sql(admin_dsn, variables)
    apply_roles_sql(admin_dsn, variables)
    with psycopg.connect(server.dsn("lakehouse_writer", "market_db")) as writer:
        writer.execute("CREATE TEMP TABLE staged (id int) ON COMMIT DROP")
    with psycopg.connect(server.dsn("mlflow", "mlflow")) as conn:  # untouched: no tool password given
        assert conn.execute("SELECT current_user").fetchone() == ("mlflow",)


def test_compose_script_local_mode_and_tests_run_the_same_roles_file(compose_raw: dict[str, Any]) -> None:
    # Compose: the script runs lakehouse/roles.sql beside itself, and initdb/ is mounted whole (read-only).
    assert '"$(dirname "${BASH_SOURCE[0]}")/lakehouse/roles.sql"' in SCRIPT.read_text()
    assert SCRIPT.parent / "lakehouse" / "roles.sql" == ROLES_SQL
    assert ROLES_SQL.is_file()
    mounts = compose_raw["services"]["postgres"]["volumes"]
    assert f"./{SCRIPT.parent.relative_to(REPO).as_posix()}:/docker-entrypoint-initdb.d:ro" in mounts
    # Local mode runs it in bootstrap_database; the gold tests' scratch databases through the same helper.
    assert "apply_roles_sql(" in (REPO / "lakehouse" / "local" / "postgres_server.py").read_text()
    assert "apply_roles_sql(" in (REPO / "tests" / "utils" / "silver_pg.py").read_text()
    # Nothing else grants privileges or creates roles: a second definition would drift again.
    definers = [
        path.relative_to(REPO).as_posix()
        for folder in ("lakehouse", "tests", "ops", "scripts", "dags", "bench")
        for path in (REPO / folder).rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".sh", ".sql"}
        and path != ROLES_SQL
        and path.resolve() != Path(__file__).resolve()
        and any(word in path.read_text(errors="replace") for word in ("CREATE ROLE", "GRANT CREATE", "GRANT USAGE"))
    ]
    assert definers == []
