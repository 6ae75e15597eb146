"""The committed docker-compose.yaml, driven the way its users drive it: compose, `docker exec`, ports.

`ComposeStack` wraps the compose binary (v2, built from its Go module) with the project's two files:
docker-compose.yaml and, since nothing can be pulled here, docker-compose.airgap.yaml, which swaps
the third-party images for stand-ins built from registry packages (lakehouse.airgap).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
AIRGAP_FILE = REPO / "docker-compose.airgap.yaml"
T = TypeVar("T")


class StackError(AssertionError):
    """A compose or docker command failed; carries its output."""


@dataclass
class ComposeStack:
    binary: Path
    env_file: Path
    files: tuple[Path, ...] = (COMPOSE_FILE, AIRGAP_FILE)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for line in self.env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value
        return values

    def _process_env(self) -> dict[str, str]:
        # The classic builder: BuildKit would pull its Dockerfile frontend (`# syntax=`), which cannot
        # be pulled here; compose then builds through the engine's own API.
        return {**os.environ, "DOCKER_BUILDKIT": "0", "COMPOSE_BAKE": "false", "COMPOSE_DOCKER_CLI_BUILD": "0"}

    def compose(self, *args: str, timeout_s: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        files = [part for path in self.files for part in ("--file", str(path))]
        command = [str(self.binary), *files, "--env-file", str(self.env_file), "--project-directory", str(REPO), *args]
        log.info("$ docker compose %s", " ".join(args))
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=self._process_env(), cwd=REPO
        )
        if check and result.returncode != 0:
            raise StackError(f"docker compose {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}")  # fmt: skip
        return result

    def timed(self, name: str, action: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            return action()
        finally:
            self.timings[name] = round(time.monotonic() - started, 1)
            log.info("%s took %.1fs", name, self.timings[name])

    def up(self, *services: str, wait_timeout_s: int = 900) -> None:
        self.compose("up", "-d", "--wait", "--wait-timeout", str(wait_timeout_s), *services,
                     timeout_s=wait_timeout_s + 120)  # fmt: skip

    def down(self, volumes: bool = False) -> None:
        self.compose("down", "--remove-orphans", *(["--volumes"] if volumes else []), timeout_s=300)

    def services(self) -> list[dict[str, Any]]:
        """`docker compose ps --all` as dicts (Name, Service, State, Health, ExitCode, ...)."""
        out = self.compose("ps", "--all", "--format", "json").stdout.strip()
        if not out:
            return []
        if out.startswith("["):
            return list(json.loads(out))
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def docker(self, *args: str, timeout_s: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout_s)
        if check and result.returncode != 0:
            raise StackError(f"docker {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}")  # fmt: skip
        return result

    def exec(self, container: str, *command: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
        """`docker exec CONTAINER COMMAND...`, as the README tells users to type it."""
        log.info("$ docker exec %s %s", container, " ".join(command))
        return self.docker("exec", container, *command, timeout_s=timeout_s)

    def psql(self, sql: str) -> list[list[str]]:
        """Rows of `docker exec postgres psql -U admin -d market_db` (unaligned, tab-separated)."""
        out = self.exec("postgres", "psql", "-U", "admin", "-d", "market_db", "-v", "ON_ERROR_STOP=1",
                        "-tAF", "\t", "-c", sql).stdout  # fmt: skip
        return [line.split("\t") for line in out.splitlines() if line]

    def save_logs(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "compose.log"
        result = self.compose("logs", "--no-color", "--timestamps", timeout_s=300, check=False)
        target.write_text(result.stdout + result.stderr)
        return target


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float, interval_s: float = 5.0) -> T:
    """Poll probe until it returns something truthy; fail with `what` and the last error otherwise."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as error:  # a probe of a starting service fails in many ways
            last_error = error
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what} (last error: {last_error!r})")
        time.sleep(interval_s)
