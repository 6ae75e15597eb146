"""`lakehouse infra up|down|status`: the local Kafka broker and PostgreSQL server, and `.lakehouse/env`.

State kept under `.lakehouse/`:
  infra.json    ports chosen at the first start (reused while free)
  secrets.json  generated PostgreSQL passwords (mode 600, never committed)
  env           `export LAKEHOUSE_...` lines every service and script reads
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lakehouse.local import processes
from lakehouse.local.errors import InfraError
from lakehouse.local.jars import ensure_jars
from lakehouse.local.kafka_broker import KafkaPorts, LocalKafka, broker_healthy
from lakehouse.local.postgres_server import (
    ADMIN_ROLE,
    READER_ROLE,
    WRITER_ROLE,
    LocalPostgres,
    PgPasswords,
    bootstrap_database,
    dsn,
    install_server_packages,
    server_healthy,
)
from lakehouse.paths import env_file, logs_dir, state_dir

log = logging.getLogger(__name__)

KAFKA_PORT_VAR = "LAKEHOUSE_INFRA_KAFKA_PORT"
PG_PORT_VAR = "LAKEHOUSE_INFRA_PG_PORT"
CONTROLLER_PORT_VAR = "LAKEHOUSE_INFRA_KAFKA_CONTROLLER_PORT"


@dataclass
class InfraPorts:
    kafka: int = 0
    kafka_controller: int = 0
    postgres: int = 0


@dataclass
class ComponentStatus:
    name: str
    running: bool
    healthy: bool
    pid: int | None = None
    endpoint: str = ""
    detail: str = ""


@dataclass
class InfraStatus:
    components: list[ComponentStatus] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(component.healthy for component in self.components)


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def load_passwords() -> PgPasswords:
    path = state_dir() / "secrets.json"
    stored = _load_json(path)
    if not all(stored.get(key) for key in ("admin", "writer", "reader")):
        stored = {key: secrets.token_urlsafe(24) for key in ("admin", "writer", "reader")}
        _write_private(path, json.dumps(stored, indent=2))
    return PgPasswords(**{key: stored[key] for key in ("admin", "writer", "reader")})


def _choose_port(current: int, explicit: int | None, variable: str, running: bool) -> int:
    """An explicit port must be free; otherwise reuse the previous port while it is free."""
    if explicit:
        port = explicit
        if not running and processes.port_in_use(port):
            raise InfraError(f"port {port} ({variable}) is in use by another process: free it, or unset {variable}")
        return port
    if running or (current and not processes.port_in_use(current)):
        return current
    return processes.free_port()


class LocalInfra:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or state_dir()
        self.kafka = LocalKafka(self.root / "kafka")
        self.postgres = LocalPostgres(self.root / "postgres")
        self.ports_file = self.root / "infra.json"

    def ports(self) -> InfraPorts:
        return InfraPorts(**_load_json(self.ports_file))

    def up(self, partitions: int | None = None) -> InfraStatus:
        """Start whatever is not running; safe to call again."""
        from lakehouse.settings import load_settings

        started = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        logs_dir().mkdir(parents=True, exist_ok=True)
        settings = load_settings()
        partitions = partitions or settings.kafka_partitions
        ensure_jars()
        bin_dir = install_server_packages()
        passwords = load_passwords()
        ports = self.ports()

        self.kafka.clean_stale()
        self.postgres.clean_stale()
        kafka_running = self.kafka.pid_file.running_pid() is not None
        pg_running = self.postgres.pid_file.running_pid() is not None
        ports.kafka = _choose_port(ports.kafka, settings.infra_kafka_port, KAFKA_PORT_VAR, kafka_running)
        ports.kafka_controller = _choose_port(
            ports.kafka_controller, settings.infra_kafka_controller_port, CONTROLLER_PORT_VAR, kafka_running
        )
        ports.postgres = _choose_port(ports.postgres, settings.infra_pg_port, PG_PORT_VAR, pg_running)
        self.ports_file.write_text(json.dumps(asdict(ports), indent=2))
        bootstrap = f"127.0.0.1:{ports.kafka}"

        started_here: list[LocalKafka | LocalPostgres] = []
        try:
            if not kafka_running:
                self.kafka.write_config(KafkaPorts(ports.kafka, ports.kafka_controller), partitions)
                self.kafka.format_storage()
                log.info("starting Kafka on %s", bootstrap)
                started_here.append(self.kafka)
                self.kafka.start()
            if not pg_running:
                self.postgres.init_cluster(bin_dir, passwords.admin)
                log.info("starting PostgreSQL on 127.0.0.1:%d", ports.postgres)
                started_here.append(self.postgres)
                self.postgres.start(bin_dir, ports.postgres)
            self._wait_healthy(ports, passwords, settings.kafka_topic, partitions)
        except BaseException:
            # A failed start leaves nothing of its own running (what was already up stays up).
            for component in reversed(started_here):
                component.stop()
            raise
        self.write_env(ports, passwords)
        log.info("local infra healthy in %.1fs; settings in %s", time.monotonic() - started, env_file())
        return self.status()

    def _wait_healthy(self, ports: InfraPorts, passwords: PgPasswords, topic: str, partitions: int) -> None:
        from lakehouse.kafka.admin import ensure_topic

        bootstrap = f"127.0.0.1:{ports.kafka}"
        processes.wait_until(
            lambda: server_healthy(ports.postgres, passwords.admin), 60, "PostgreSQL", self.postgres.log_file
        )
        bootstrap_database(ports.postgres, passwords)
        processes.wait_until(self._kafka_alive_and(bootstrap), 90, "Kafka", self.kafka.log_file)
        ensure_topic(bootstrap, topic, partitions)

    def _kafka_alive_and(self, bootstrap: str) -> Callable[[], bool]:
        def check() -> bool:
            if self.kafka.pid_file.running_pid() is None:
                raise InfraError(f"the Kafka broker exited at start; see {self.kafka.log_file}")
            return broker_healthy(bootstrap)

        return check

    def write_env(self, ports: InfraPorts, passwords: PgPasswords) -> Path:
        # The state folder's own lake, not a per-process override: .lakehouse/env is shared by every
        # service of this checkout, and a test's temporary lake must never leak into it.
        lake_uri = (state_dir() / "lake").as_uri()
        values = {
            "LAKEHOUSE_ENV": "local",
            "LAKEHOUSE_KAFKA_BOOTSTRAP": f"127.0.0.1:{ports.kafka}",
            "LAKEHOUSE_PG_DSN": dsn(WRITER_ROLE, passwords.writer, ports.postgres),
            "LAKEHOUSE_PG_READONLY_DSN": dsn(READER_ROLE, passwords.reader, ports.postgres),
            "LAKEHOUSE_PG_ADMIN_DSN": dsn(ADMIN_ROLE, passwords.admin, ports.postgres),
            "LAKEHOUSE_LAKE_URI": lake_uri,
        }
        lines = ["# Written by `lakehouse infra up`; regenerated on every start. Source it: . .lakehouse/env"]
        lines += [f"export {key}={shlex.quote(value)}" for key, value in values.items()]
        _write_private(env_file(), "\n".join(lines) + "\n")
        return env_file()

    def down(self) -> None:
        self.kafka.stop()
        self.postgres.stop()
        log.info("local infra stopped")

    def status(self) -> InfraStatus:
        ports = self.ports()
        passwords = load_passwords() if (self.root / "secrets.json").exists() else None
        kafka_pid = self.kafka.pid_file.running_pid()
        bootstrap = f"127.0.0.1:{ports.kafka}"
        kafka_ok = kafka_pid is not None and ports.kafka > 0 and broker_healthy(bootstrap)
        pg_pid = self.postgres.pid_file.running_pid()
        pg_ok = pg_pid is not None and passwords is not None and server_healthy(ports.postgres, passwords.admin)
        return InfraStatus(
            [
                ComponentStatus(
                    "kafka", kafka_pid is not None, kafka_ok, kafka_pid, bootstrap, str(self.kafka.log_file)
                ),
                ComponentStatus(
                    "postgres",
                    pg_pid is not None,
                    pg_ok,
                    pg_pid,
                    f"127.0.0.1:{ports.postgres}",
                    str(self.postgres.log_file),
                ),
            ]
        )
