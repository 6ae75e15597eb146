"""`lakehouse infra`: idempotent, recovers from a crash, and explains a busy port."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakehouse.local.errors import InfraError
from lakehouse.local.infra import LocalInfra
from lakehouse.local.postgres_server import LocalPostgres
from lakehouse.paths import REPO_ROOT, jars_dir


@pytest.fixture
def private_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A second, throw-away infra in its own state folder (sharing the resolved jars).

    pytest's tmp folders are private (mode 700): as root, PostgreSQL's own user cannot enter them,
    so this also runs the path where the cluster has to live elsewhere.
    """
    home = tmp_path / "home"
    monkeypatch.setenv("LAKEHOUSE_JARS_DIR", str(jars_dir()))
    monkeypatch.setenv("LAKEHOUSE_HOME", str(home))
    for key in ("LAKEHOUSE_KAFKA_BOOTSTRAP", "LAKEHOUSE_PG_DSN", "LAKEHOUSE_LAKE_URI"):
        monkeypatch.delenv(key, raising=False)
    local = LocalInfra()
    yield local
    local.down()
    local.postgres.remove()


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


def test_a_failed_start_stops_what_it_started(private_home: LocalInfra, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> int:
        raise InfraError("pg_ctl start failed: (made to fail by the test)")

    monkeypatch.setattr(LocalPostgres, "start", refuse)
    with pytest.raises(InfraError, match="made to fail"):
        private_home.up(partitions=1)
    assert private_home.kafka.pid_file.path.exists() is False
    assert not [c for c in private_home.status().components if c.running], "the broker outlived the failed start"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_clone_in_a_private_folder_starts_and_stops_the_infra(tmp_path: Path) -> None:
    """As root, a clone in /root/<project> (mode 700, as on most machines) once failed at initdb."""
    private = tmp_path / "private-home"
    private.mkdir(mode=0o700)
    clone = private / "lakehouse"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True, timeout=120)
    env = {key: value for key, value in os.environ.items() if not key.startswith("LAKEHOUSE_")}
    env |= {"LAKEHOUSE_JARS_DIR": str(jars_dir()), "PYTHONPATH": str(clone)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "lakehouse.cli", "infra", *args]
        return subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=300)

    try:
        up = cli("up", "--partitions", "1")
        assert up.returncode == 0, up.stdout + up.stderr
        status = cli("status")
        assert status.returncode == 0 and "postgres" in status.stdout, status.stdout + status.stderr
        env_text = (clone / ".lakehouse" / "env").read_text()
        assert "LAKEHOUSE_PG_DSN=" in env_text
        cluster = clone / ".lakehouse" / "postgres"
        if os.geteuid() == 0:  # the server's user cannot enter the clone: the cluster lives in its home
            assert cluster.is_symlink() and (cluster.resolve() / "data" / "PG_VERSION").exists()
    finally:
        cli("down")
        LocalPostgres(clone / ".lakehouse" / "postgres").remove()
    assert cli("status").returncode == 1
