"""`lakehouse infra`: idempotent, recovers from a crash, and explains a busy port."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from lakehouse.local.infra import LocalInfra
from lakehouse.paths import jars_dir, state_dir

pytestmark = pytest.mark.integration


@pytest.fixture
def private_home(monkeypatch: pytest.MonkeyPatch):
    """A second, throw-away infra in its own state folder (sharing the resolved jars).

    It lives under .lakehouse/ rather than pytest's tmp dir: the `postgres` user must be able to
    enter every parent folder, and pytest's are private to root.
    """
    home = state_dir() / "test-homes" / uuid.uuid4().hex[:8]
    monkeypatch.setenv("LAKEHOUSE_JARS_DIR", str(jars_dir()))
    monkeypatch.setenv("LAKEHOUSE_HOME", str(home))
    for key in ("LAKEHOUSE_KAFKA_BOOTSTRAP", "LAKEHOUSE_PG_DSN", "LAKEHOUSE_LAKE_URI"):
        monkeypatch.delenv(key, raising=False)
    local = LocalInfra()
    yield local
    local.down()
    shutil.rmtree(home, ignore_errors=True)


def test_up_twice_keeps_the_same_processes_and_survives_kill_9(private_home: LocalInfra) -> None:
    first = private_home.up(partitions=2)
    assert first.healthy
    pids = {c.name: c.pid for c in first.components}
    second = private_home.up()
    assert {c.name: c.pid for c in second.components} == pids  # idempotent: nothing restarted

    env_text = (private_home.root / "env").read_text()
    assert "export LAKEHOUSE_KAFKA_BOOTSTRAP=" in env_text and "export LAKEHOUSE_PG_DSN=" in env_text
    assert oct((private_home.root / "env").stat().st_mode & 0o777) == "0o600"

    os.kill(pids["kafka"], signal.SIGKILL)  # a crash leaves a stale pid file behind
    time.sleep(1)
    assert not private_home.status().healthy
    third = private_home.up()
    assert third.healthy
    assert {c.name: c.pid for c in third.components}["kafka"] != pids["kafka"]


def test_busy_explicit_port_says_what_to_do(private_home: LocalInfra, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setenv("LAKEHOUSE_INFRA_KAFKA_PORT", str(port))
        result = subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", "infra", "up"], capture_output=True, text=True, env=os.environ
        )
    assert result.returncode == 1
    output = " ".join((result.stdout + result.stderr).split())
    assert f"port {port}" in output and "LAKEHOUSE_INFRA_KAFKA_PORT" in output and "free it" in output


def test_status_reports_each_component(infra) -> None:
    result = subprocess.run([sys.executable, "-m", "lakehouse.cli", "infra", "status"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kafka" in result.stdout and "postgres" in result.stdout
