"""Container healthcheck: exit 0 when every target is healthy, 1 (with the reasons) when one is not.

The slim images have no curl; the standard library is enough. Targets:
    http(s)://host:port/path     answers 2xx
    tcp://host:port              accepts a connection
    spark-app://host:port/NAME   the Spark master at host:port (its web UI) lists NAME as a running
                                 application: the streaming job's driver is alive and on the cluster
Usage:
    python /app/ops/docker/healthcheck.py http://localhost:8000/health [TARGET ...]
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT_S = 5.0


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 (http(s) only, see check)
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def check_spark_app(master: str, name: str) -> str | None:
    url = f"http://{master}/json/"
    try:
        status, body = _get(url)
        if status != 200:
            return f"{url}: HTTP {status}"
        apps = json.loads(body).get("activeapps", [])
    except (urllib.error.URLError, OSError, ValueError) as error:
        return f"{url}: {error}"
    if any(app.get("name") == name and app.get("state") == "RUNNING" for app in apps):
        return None
    running = sorted(str(app.get("name")) for app in apps)
    return f"no running Spark application {name!r} on {master} (running: {running or 'none'})"


def check(target: str) -> str | None:
    """None when `target` is healthy, else the reason it is not."""
    parts = urlsplit(target)
    if parts.scheme == "tcp":
        try:
            with socket.create_connection((parts.hostname or "localhost", parts.port or 0), timeout=TIMEOUT_S):
                return None
        except OSError as error:
            return f"{target}: {error}"
    if parts.scheme == "spark-app":
        name = parts.path.strip("/")
        if not name or not parts.netloc:
            return f"{target}: expected spark-app://MASTER_HOST:UI_PORT/APP_NAME"
        return check_spark_app(parts.netloc, name)
    if parts.scheme not in ("http", "https"):
        return f"{target}: expected an http(s)://, tcp:// or spark-app:// target"
    try:
        status, _ = _get(target)
    except (urllib.error.URLError, OSError) as error:
        return f"{target}: {error}"
    return None if 200 <= status < 300 else f"{target}: HTTP {status}"


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: healthcheck.py TARGET [TARGET ...]\n")
        return 2
    failures = [reason for reason in map(check, argv) if reason]
    for reason in failures:
        sys.stderr.write(reason + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
