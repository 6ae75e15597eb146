"""A private PostgreSQL server from the Debian packages, its data directory under `.lakehouse/`.

PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres` system user
that the Debian package creates. That user must be able to enter every parent folder of the cluster,
which it cannot in a clone under root's private home (mode 700): there the cluster lives in the
`postgres` user's own home instead, and `.lakehouse/postgres` is a link to it. Only TCP on 127.0.0.1
is used (no Unix socket path length limits).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lakehouse.local import processes
from lakehouse.local.errors import InfraError
from lakehouse.paths import REPO_ROOT

log = logging.getLogger(__name__)

DATABASE = "market_db"
ADMIN_ROLE = "admin"
WRITER_ROLE = "lakehouse_writer"
READER_ROLE = "lakehouse_reader"
# The one definition of roles, schemas and grants, shared with compose's init script and the tests.
ROLES_SQL = REPO_ROOT / "ops" / "postgres" / "initdb" / "lakehouse" / "roles.sql"
# Where clusters the `postgres` user could not reach in their state folder live (its Debian home).
SERVER_USER_HOME = Path("/var/lib/postgresql/lakehouse")


@dataclass(frozen=True)
class PgPasswords:
    admin: str
    writer: str
    reader: str


def dsn(role: str, password: str, port: int, database: str = DATABASE) -> str:
    return f"postgresql://{role}:{password}@127.0.0.1:{port}/{database}"


def find_bin_dir() -> Path | None:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name), reverse=True
    )
    if candidates:
        return candidates[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def install_server_packages() -> Path:
    """Install PostgreSQL from Debian's packages when it is missing (needs root)."""
    found = find_bin_dir()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise InfraError("PostgreSQL server binaries are missing: sudo apt-get install -y postgresql")
    log.info("installing PostgreSQL from Debian packages (first run only)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise InfraError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    found = find_bin_dir()
    if found is None:
        raise InfraError("apt-get installed postgresql but no initdb was found under /usr/lib/postgresql")
    return found


class LocalPostgres:
    """Owns `<state>/postgres/`: the cluster directory and its log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log_file = root.parent / "logs" / "postgres.log"

    @property
    def home(self) -> Path:
        """The cluster's real folder: `root`, or where its link points (see the module's docstring)."""
        return self.root.resolve()

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def pid_file(self) -> processes.PidFile:
        return processes.PidFile(self.data_dir / "postmaster.pid", marker=str(self.data_dir))

    @staticmethod
    def _as_server_user(command: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return command
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError as error:
            raise InfraError("running as root needs the `postgres` system user: apt-get install postgresql") from error
        return ["runuser", "-u", "postgres", "--", *command]

    def _chown_to_server_user(self, *paths: Path) -> None:
        if os.geteuid() != 0:
            return
        import pwd

        entry = pwd.getpwnam("postgres")
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _server_user_can_enter(self, folder: Path) -> bool:
        command = self._as_server_user(["test", "-x", str(folder)])
        return subprocess.run(command, capture_output=True, check=False).returncode == 0

    def _place(self) -> None:
        """Create the cluster's folder where the server's user can reach it (as root: maybe outside)."""
        if self.root.is_symlink() and not self.root.exists():
            self.root.unlink()  # its target was deleted
        if os.geteuid() != 0 or self.root.is_symlink() or self._server_user_can_enter(self.root.parent):
            self.root.mkdir(parents=True, exist_ok=True)
            self.home.mkdir(parents=True, exist_ok=True)
            self._chown_to_server_user(self.home)
            return
        shutil.rmtree(self.root, ignore_errors=True)  # what an earlier, failed initdb left here
        # One folder per state folder, named by its path; a leftover there belonged to a state folder
        # that was deleted (its link with it), so its cluster and passwords are gone for good.
        outside = SERVER_USER_HOME / hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        for pid in processes.pids_with_marker(str(outside / "data")):
            processes.terminate(pid)
        shutil.rmtree(outside, ignore_errors=True)
        outside.mkdir(parents=True, mode=0o700)
        self._chown_to_server_user(outside.parent, outside)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self.root.symlink_to(outside, target_is_directory=True)
        log.info("the postgres user cannot enter %s: the cluster lives in %s", self.root.parent, outside)

    def remove(self) -> None:
        """Delete the cluster (the server must be stopped), wherever it lives."""
        shutil.rmtree(self.home, ignore_errors=True)
        if self.root.is_symlink():
            self.root.unlink()

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init_cluster(self, bin_dir: Path, admin_password: str) -> None:
        if self.initialised:
            return
        self._place()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        pwfile = self.home / ".initdb-pw"
        pwfile.write_text(admin_password + "\n")
        pwfile.chmod(0o600)
        self._chown_to_server_user(pwfile)
        try:
            command = [
                str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", ADMIN_ROLE, f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale",
            ]  # fmt: skip
            result = subprocess.run(self._as_server_user(command), capture_output=True, text=True, check=False)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            hint = ""
            if "Permission denied" in result.stderr:
                hint = f"\nthe `postgres` user must be able to enter every parent folder of {self.home}"
            raise InfraError(f"initdb failed:\n{result.stderr[-2000:]}{hint}")
        log.info("initialised PostgreSQL cluster in %s", self.data_dir)

    def clean_stale(self) -> None:
        # postmaster.pid of a killed server names a dead pid; PostgreSQL then starts fine, but an orphan
        # postmaster on this data dir (pid file lost) must be stopped first.
        if self.pid_file.running_pid() is None:
            for pid in processes.pids_with_marker(str(self.data_dir)):
                log.warning("stopping orphaned PostgreSQL pid %s", pid)
                processes.terminate(pid)

    def start(self, bin_dir: Path, port: int) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        options = " ".join(
            [
                f"-p {port}",
                "-c listen_addresses=127.0.0.1",
                "-c unix_socket_directories=''",
                "-c shared_buffers=256MB",
                "-c max_connections=200",
                "-c synchronous_commit=on",
                # Catch-up batches COPY hundreds of MB: WAL buffers the backends do not queue on, and
                # checkpoints spaced by time rather than forced every GB of WAL mid-batch.
                "-c wal_buffers=64MB",
                "-c max_wal_size=4GB",
            ]
        )
        # The server writes to its own log; we hand it a file it can write as the postgres user.
        server_log = self.home / "server.log"
        command = [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(server_log),
            "-o",
            options,
            "-W",
            "start",
        ]
        result = subprocess.run(self._as_server_user(command), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise InfraError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}")
        if not self.log_file.exists():
            self.log_file.symlink_to(server_log)
        pid = self.pid_file.read()
        return pid or 0

    def stop(self) -> None:
        pid = self.pid_file.running_pid()
        if pid is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions and stop cleanly.
            import signal

            os.kill(pid, signal.SIGINT)
            processes.wait_until(lambda: not processes.pid_alive(pid), 60, "PostgreSQL shutdown")


def _psql_literal(value: str) -> str:
    """A value as a single-quoted argument of a psql backslash command (`\\set name 'value'`)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def apply_roles_sql(admin_dsn: str, variables: Mapping[str, str]) -> None:
    """Run ROLES_SQL with psql as the superuser of `admin_dsn`, in the database that DSN names.

    `variables` become psql variables (`writer_password`, `reader_password`, ...). They, and the
    admin password, reach psql on stdin and in its environment, never as arguments, so no password
    shows in the process list.
    """
    from psycopg.conninfo import conninfo_to_dict

    bin_dir = find_bin_dir()
    psql = bin_dir / "psql" if bin_dir is not None and (bin_dir / "psql").exists() else shutil.which("psql")
    if psql is None:
        raise InfraError("psql is missing: sudo apt-get install -y postgresql-client")
    params = conninfo_to_dict(admin_dsn)
    script = "".join(f"\\set {name} {_psql_literal(value)}\n" for name, value in variables.items())
    script += f"\\i {_psql_literal(str(ROLES_SQL))}\n"
    command = [
        str(psql), "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", f"--host={params.get('host', '127.0.0.1')}",
        f"--port={params.get('port', 5432)}", f"--username={params['user']}", f"--dbname={params['dbname']}",
    ]  # fmt: skip
    env = {**os.environ, "PGPASSWORD": str(params.get("password", "")), "PGCONNECT_TIMEOUT": "10"}
    result = subprocess.run(command, input=script, capture_output=True, text=True, env=env, check=False, timeout=120)
    if result.returncode != 0:
        raise InfraError(f"{ROLES_SQL} failed on database {params['dbname']}:\n{result.stderr[-2000:]}")


def bootstrap_database(port: int, passwords: PgPasswords) -> None:
    """Create market_db when missing, then its roles, schemas and privileges (idempotent)."""
    import psycopg

    admin_dsn = dsn(ADMIN_ROLE, passwords.admin, port, database="postgres")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {DATABASE}")
    apply_roles_sql(
        dsn(ADMIN_ROLE, passwords.admin, port),
        {"writer_password": passwords.writer, "reader_password": passwords.reader},
    )


def server_healthy(port: int, password: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn(ADMIN_ROLE, password, port, database="postgres"), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True
