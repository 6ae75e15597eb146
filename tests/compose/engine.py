"""A Docker engine for the compose run: the one running, or dockerd started (and later stopped) here.

CI machines come with Debian's docker.io installed by scripts/bootstrap.sh but no service manager, so
the test session starts `dockerd` itself when root. Elsewhere (no root, no Docker) the compose tests
skip with the reason; in CI (`CI=true`) they fail instead, so the run can never silently shrink.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lakehouse.local.processes import stop_process

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60


class EngineUnavailable(RuntimeError):
    """No Docker engine can be had here; says why."""


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, timeout=30)
    return result.returncode == 0


@dataclass
class Engine:
    started: subprocess.Popen[bytes] | None  # the dockerd we started, else None

    def stop(self) -> None:
        if self.started is not None:
            stop_process(self.started, timeout_s=30)


def ensure_engine(log_dir: Path) -> Engine:
    """The running engine, or a dockerd started now (root only). Raises EngineUnavailable."""
    if engine_answers():
        return Engine(started=None)
    dockerd = shutil.which("dockerd")
    if dockerd is None or shutil.which("docker") is None:
        raise EngineUnavailable("no Docker here: `docker` or `dockerd` is missing (bootstrap installs them as root)")
    if os.geteuid() != 0:
        raise EngineUnavailable("no Docker engine answers and starting dockerd needs root")
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "dockerd.log", "ab") as out:
        process = subprocess.Popen([dockerd], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineUnavailable(f"dockerd exited with {process.returncode}: see {log_dir / 'dockerd.log'}")
        if engine_answers():
            log.info("started dockerd (pid %d) for the compose run", process.pid)
            return Engine(started=process)
        time.sleep(1)
    stop_process(process, timeout_s=10)
    raise EngineUnavailable(f"dockerd did not answer within {START_TIMEOUT_S}s: see {log_dir / 'dockerd.log'}")
