"""A single-node Apache Kafka broker (KRaft, combined broker + controller) run from the pinned jars."""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from lakehouse.local import processes
from lakehouse.local.errors import InfraError
from lakehouse.local.jars import kafka_classpath

log = logging.getLogger(__name__)

_HEAP = ["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
"""


@dataclass(frozen=True)
class KafkaPorts:
    broker: int
    controller: int


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise InfraError("Java 17+ is required to run Kafka: apt-get install openjdk-17-jre-headless")
    return java


def _cluster_id() -> str:
    """Kafka's cluster id format: a UUID, base64url without padding.

    Never starting with "-" (as Kafka's own Uuid.randomUuid() ensures): the storage tool's argument parser
    would take such an id for an option, and one format in 64 would fail.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalKafka:
    """Owns `<state>/kafka/`: config, formatted log directory, pid file and log file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.config_file = root / "server.properties"
        self.log_file = root.parent / "logs" / "kafka.log"
        # The data dir on the command line tells our broker apart from any other java process.
        self.pid_file = processes.PidFile(root / "kafka.pid", marker=str(self.config_file))

    def write_config(self, ports: KafkaPorts, default_partitions: int) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "log4j2.properties").write_text(_LOG4J2)
        self.config_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{ports.controller}",
                    f"listeners=PLAINTEXT://127.0.0.1:{ports.broker},CONTROLLER://127.0.0.1:{ports.controller}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{ports.broker}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.data_dir}",
                    f"num.partitions={default_partitions}",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "log.retention.hours=168",
                    "log.segment.bytes=268435456",
                    "num.network.threads=2",
                    "num.io.threads=4",
                    "",
                ]
            )
        )

    def _java_command(self, main_class: str, *args: str) -> list[str]:
        return [
            _java(),
            *_HEAP,
            f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
            "-Djava.awt.headless=true",
            "-cp",
            kafka_classpath(),
            main_class,
            *args,
        ]

    def format_storage(self) -> None:
        """Format the log directory once (KRaft refuses to start on an unformatted one)."""
        if (self.data_dir / "meta.properties").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = self._java_command(
            "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(self.config_file), "--ignore-formatted"
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise InfraError(f"formatting the Kafka log directory failed:\n{result.stdout}\n{result.stderr}")
        log.info("formatted Kafka log directory %s", self.data_dir)

    def clean_stale(self) -> None:
        self.pid_file.clean_if_stale()
        if self.pid_file.running_pid() is None:
            for pid in processes.pids_with_marker(str(self.config_file)):
                log.warning("stopping orphaned Kafka broker pid %s (its pid file was lost)", pid)
                processes.terminate(pid)

    def start(self) -> int:
        pid = processes.spawn(self._java_command("kafka.Kafka", str(self.config_file)), self.log_file)
        self.pid_file.write(pid)
        return pid

    def stop(self) -> None:
        pid = self.pid_file.running_pid()
        if pid is not None:
            processes.terminate(pid, timeout_s=30)
        self.pid_file.path.unlink(missing_ok=True)


def broker_healthy(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when the broker answers a metadata request."""
    from confluent_kafka.admin import AdminClient

    try:
        admin = AdminClient(
            # log_level 0: a broker that is still starting is expected here, not worth an error line.
            {"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout_s * 1000), "log_level": 0}
        )
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception:
        return False
    return bool(metadata.brokers)
