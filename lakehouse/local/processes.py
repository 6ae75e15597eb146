"""Start, find and stop the detached local server processes, tracked by pid files."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from lakehouse.local.errors import InfraError

log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def pid_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class PidFile:
    """A pid file whose process must also carry `marker` on its command line (guards against pid reuse)."""

    def __init__(self, path: Path, marker: str) -> None:
        self.path = path
        self.marker = marker

    def read(self) -> int | None:
        try:
            # First line: the pid (PostgreSQL's postmaster.pid has more lines after it).
            return int(self.path.read_text().split("\n", 1)[0].strip())
        except (OSError, ValueError):
            return None

    def running_pid(self) -> int | None:
        pid = self.read()
        if pid is not None and pid_alive(pid) and self.marker in pid_cmdline(pid):
            return pid
        return None

    def clean_if_stale(self) -> bool:
        """Remove a pid file left by a crash; True when one was removed."""
        if self.path.exists() and self.running_pid() is None:
            log.warning("removing stale pid file %s (process %s is gone)", self.path, self.read())
            self.path.unlink(missing_ok=True)
            return True
        return False

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid}\n")


def spawn(args: Sequence[str], log_file: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start a detached process (own session, output to log_file) and return its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        process = subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )
    return process.pid


def terminate(pid: int, timeout_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after timeout_s."""
    if not pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.2)
    log.warning("process %s ignored SIGTERM for %.0fs; killing it", pid, timeout_s)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, log_file: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tail = ""
    if log_file is not None and log_file.exists():
        tail = (
            "\n--- last lines of "
            + str(log_file)
            + " ---\n"
            + "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        )
    raise InfraError(f"{what} did not become healthy within {timeout_s:.0f}s{tail}")


def pids_with_marker(marker: str) -> list[int]:
    """Processes whose command line contains marker (finds servers whose pid file was lost)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if marker in pid_cmdline(pid) and pid_alive(pid):
                found.append(pid)
    return found


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """Terminate a child we started, kill it if it ignores that, and always reap it."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    """True when GET url answers 200 (a health or readiness endpoint)."""
    import httpx

    try:
        return httpx.get(url, timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def serving(
    command: Sequence[str],
    health_url: str,
    what: str,
    log_file: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    startup_s: float = 60.0,
    stop_timeout_s: float = 20.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server for the length of a `with` block: start it (output to log_file), wait until
    health_url answers 200, stop it afterwards (SIGTERM, then SIGKILL). A server that exits while
    starting fails at once with the end of its log, instead of after the whole timeout."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "wb") as out:
        process = subprocess.Popen(
            list(command), env=dict(env) if env is not None else None, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def ready() -> bool:
            if process.poll() is not None:
                tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
                raise InfraError(f"{what} exited with {process.returncode} while starting:\n{tail}")
            return http_ok(health_url)

        wait_until(ready, startup_s, what, log_file)
        yield process
    finally:
        stop_process(process, stop_timeout_s)
