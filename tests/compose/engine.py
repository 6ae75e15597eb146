"""A Docker engine for the compose run: the one running, or dockerd started (and later stopped) here.

CI machines come with Debian's docker.io installed by scripts/bootstrap.sh but no service manager, so
the test session starts `dockerd` itself when root. Elsewhere (no root, no Docker) the compose tests
skip with the reason; in CI (`CI=true`) they fail instead, so the run can never silently shrink.

A dockerd started here puts every container under one CPU cgroup of its own (`--cgroup-parent`), so
the image builds can run at background priority beside the local lane of `make test` (their
containers get CPU only when the local tests leave some) and at full priority once the stack runs.
"""

from __future__ import annotations

import contextlib
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


# The CPU cgroup every container of a dockerd started here runs under, and its weights.
CGROUP_NAME = "lakehouse-compose"
BACKGROUND_SHARES = 2  # cgroup v1 cpu.shares: the least; a sibling at the default 1024 wins ~500:1
FULL_SHARES = 1024


def _cpu_cgroup() -> Path | None:
    """The cgroup's CPU weight file (v1 cpu.shares or v2 cpu.weight), created; None if none can be."""
    for root, weight in ((Path("/sys/fs/cgroup/cpu"), "cpu.shares"), (Path("/sys/fs/cgroup"), "cpu.weight")):
        if (root / weight).exists() or (root / "cgroup.controllers").exists():
            folder = root / CGROUP_NAME
            try:
                folder.mkdir(exist_ok=True)
            except OSError:
                return None
            if (folder / weight).exists():
                return folder / weight
    return None


def _v1_to_v2(shares: int) -> int:
    return max(1, min(10_000, shares * 100 // 1024))


@dataclass
class Engine:
    started: subprocess.Popen[bytes] | None  # the dockerd we started, else None
    cpu_weight: Path | None = None  # the cgroup weight of its containers, when we control it

    @property
    def can_run_in_background(self) -> bool:
        return self.cpu_weight is not None

    def set_background(self, background: bool) -> None:
        """Containers (and dockerd itself) at background or full CPU priority."""
        if self.cpu_weight is None or self.started is None:
            return
        shares = BACKGROUND_SHARES if background else FULL_SHARES
        value = shares if self.cpu_weight.name == "cpu.shares" else _v1_to_v2(shares)
        self.cpu_weight.write_text(f"{value}\n")
        # dockerd and containerd do the builds' layer work on the host: the same priority for them.
        for pid in [self.started.pid, *_children(self.started.pid)]:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, 19 if background else 0)
        log.info("compose containers at %s CPU priority", "background" if background else "full")

    def stop(self) -> None:
        if self.started is not None:
            stop_process(self.started, timeout_s=30)


def _children(pid: int) -> list[int]:
    result = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(line) for line in result.stdout.split()]


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
    cpu_weight = _cpu_cgroup()
    command = [dockerd] if cpu_weight is None else [dockerd, f"--cgroup-parent=/{CGROUP_NAME}"]
    with open(log_dir / "dockerd.log", "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineUnavailable(f"dockerd exited with {process.returncode}: see {log_dir / 'dockerd.log'}")
        if engine_answers():
            log.info("started dockerd (pid %d) for the compose run, containers in %s", process.pid, cpu_weight)
            return Engine(started=process, cpu_weight=cpu_weight)
        time.sleep(1)
    stop_process(process, timeout_s=10)
    raise EngineUnavailable(f"dockerd did not answer within {START_TIMEOUT_S}s: see {log_dir / 'dockerd.log'}")
