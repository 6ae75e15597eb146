"""Run long-lived child processes, watch them, and stop every one of them (and their children) on exit."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.local import processes

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    name: str
    args: list[str]
    log_file: Path
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    # Restart when it exits (a crash) instead of reporting it as stopped.
    restart: bool = True


@dataclass
class Managed:
    spec: ServiceSpec
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Starts services in their own process groups, so stopping one stops everything it spawned."""

    def __init__(self, base_env: dict[str, str], cwd: Path, max_restarts: int = 5) -> None:
        self.base_env = base_env
        self.cwd = cwd
        self.max_restarts = max_restarts
        self.services: dict[str, Managed] = {}

    def start(self, spec: ServiceSpec) -> Managed:
        managed = self.services.get(spec.name) or Managed(spec)
        spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log_file, "ab") as out:
            out.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {spec.name}\n".encode())
            out.flush()
            managed.process = subprocess.Popen(
                spec.args,
                cwd=self.cwd,
                env={**self.base_env, **spec.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        managed.started_at = time.monotonic()
        self.services[spec.name] = managed
        log.info("started %s (pid %d), log %s", spec.name, managed.process.pid, spec.log_file)
        return managed

    def check(self) -> list[str]:
        """Restart crashed services (bounded); return the names of those that gave up."""
        failed = []
        for name, managed in self.services.items():
            if managed.running or managed.process is None:
                continue
            code = managed.process.returncode
            if not managed.spec.restart:
                continue
            if managed.restarts >= self.max_restarts:
                failed.append(name)
                continue
            managed.restarts += 1
            log.warning("%s exited with %s; restarting (%d/%d), see %s", name, code, managed.restarts,
                        self.max_restarts, managed.spec.log_file)  # fmt: skip
            self.start(managed.spec)
        return failed

    def stop_all(self, timeout_s: float = 30.0) -> None:
        """SIGTERM each service's main process (reverse start order), then SIGKILL its whole group.

        The main process alone gets SIGTERM: a streaming job then stops its query between batches and
        takes its JVM down with it, whereas a JVM signalled directly would die in the middle of a batch.
        """
        for managed in reversed(list(self.services.values())):
            if managed.running and managed.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(managed.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for managed in self.services.values():
            if managed.process is None:
                continue
            remaining = max(0.1, deadline - time.monotonic())
            try:
                managed.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing it", managed.spec.name, timeout_s)
            # Children that outlived their parent are still in its process group.
            _signal_group(managed.process.pid, signal.SIGKILL)
            managed.process.wait()
        log.info("all demo services stopped")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def wait_for_port(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if processes.port_in_use(port):
            return True
        time.sleep(0.5)
    return False
