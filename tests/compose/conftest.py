"""The compose run: build every image here, start the committed docker-compose.yaml, tear it down.

Part of `make test` (and so of CI), first; `make test-compose` (pytest -m compose) runs it alone and
`pytest -m "not compose"` leaves it out. It needs root or a running Docker engine; elsewhere it skips
with the reason, and under CI (`CI=true`) it fails rather than skips. The stack runs once
per scenario module (test order is the scenario order); its logs and the build and run times
are written to .lakehouse/compose-run/ whatever the outcome. LAKEHOUSE_KEEP_COMPOSE=1 leaves the
stack running afterwards; LAKEHOUSE_COMPOSE_REUSE=1 drives the one already running instead.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.airgap.go_tools import DOCKER_COMPOSE, GoToolUnavailable, ensure_go_tool
from lakehouse.paths import state_dir
from tests.compose.engine import Engine, EngineUnavailable, ensure_engine
from tests.compose.stack import ComposeStack
from tests.utils.compose_fixtures import run_make_env
from tests.utils.recordings import RECORDINGS

log = logging.getLogger(__name__)

SHARED_DATA = RECORDINGS
# Real Binance trades (BTCUSDT, USD-M futures, 21,313 trades in 6 minutes) that the producer's
# stand-in replays in real time: ../shared/data/README.md.
RECORDING = "binance_usdm_btcusdt_20240808.gz"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/compose/" in str(item.path):
            item.add_marker(pytest.mark.timeout(3600))


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the compose run must not skip in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def run_dir() -> Path:
    folder = state_dir() / "compose-run"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def engine(run_dir: Path) -> Iterator[Engine]:
    try:
        running = ensure_engine(run_dir)
    except EngineUnavailable as error:
        _unavailable(str(error))
    try:
        yield running
    finally:
        running.stop()


def _stack_env(run_dir: Path) -> Path:
    """What `make up` writes to .env, plus the replay of a real recording when the data is here."""
    values = run_make_env()
    if (SHARED_DATA / RECORDING).exists():
        values.update({"REPLAY_DIR": str(SHARED_DATA), "STANDIN_RECORDING": f"/data/replay/{RECORDING}"})
    else:
        log.warning("%s is missing: the producer's stand-in generates trades instead of replaying real ones",
                    SHARED_DATA / RECORDING)  # fmt: skip
    path = run_dir / "compose.env"
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def stack(engine: Engine, run_dir: Path) -> Iterator[ComposeStack]:
    """The whole platform, built and healthy (`up -d --wait`); torn down with its volumes after the
    scenario module, so it never runs beside the local-mode tests that follow."""
    from lakehouse.airgap.bases import PYTHON
    from lakehouse.airgap.extra_ca import write_extra_ca
    from lakehouse.airgap.standins import build_all

    try:
        compose_binary = ensure_go_tool(DOCKER_COMPOSE)
    except GoToolUnavailable as error:
        _unavailable(f"docker compose cannot be built here: {error}")
    if os.environ.get("LAKEHOUSE_COMPOSE_REUSE") == "1":
        # Iterating on the scenario: drive the stack that is already up with this env file, keep it after.
        yield ComposeStack(binary=compose_binary, env_file=run_dir / "compose.env")
        return
    stack = ComposeStack(binary=compose_binary, env_file=_stack_env(run_dir))
    stack.down(volumes=True)  # a stack left by an interrupted run
    try:
        # What `lakehouse images build` does (docs/docker.md, "Building without Docker Hub").
        stack.timed("build base and stand-in images", build_all)
        stack.timed("find extra CAs", lambda: write_extra_ca(PYTHON.tag))
        # The spark image first: the classic builder builds every stage of Dockerfile.spark, the airflow
        # image's dependencies included, so that image then comes from cache (two builds at once would
        # each build those stages).
        stack.timed("build the spark image", lambda: stack.compose("build", "spark-master", timeout_s=3000))
        stack.timed("build our other images", lambda: stack.compose("build", timeout_s=3000))
        stack.timed("up --wait (first start)", lambda: stack.up())
        yield stack
    finally:
        logs = stack.save_logs(run_dir)
        (run_dir / "timings.json").write_text(json.dumps(stack.timings, indent=2) + "\n")
        log.info("compose logs: %s; timings: %s", logs, stack.timings)
        if os.environ.get("LAKEHOUSE_KEEP_COMPOSE") != "1":
            stack.down(volumes=True)
