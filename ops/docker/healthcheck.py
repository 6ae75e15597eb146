"""Container healthcheck: exit 0 when every given URL answers 2xx (or every host:port accepts a connection).

The slim images have no curl; the standard library is enough. Usage:
    python /app/ops/docker/healthcheck.py http://localhost:8000/health [tcp://host:port ...]
"""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT_S = 5.0


def check(target: str) -> str | None:
    """None when `target` is healthy, else the reason it is not."""
    parts = urlsplit(target)
    if parts.scheme == "tcp":
        try:
            with socket.create_connection((parts.hostname or "localhost", parts.port or 0), timeout=TIMEOUT_S):
                return None
        except OSError as error:
            return f"{target}: {error}"
    if parts.scheme not in ("http", "https"):
        return f"{target}: expected an http(s):// or tcp:// target"
    try:
        with urllib.request.urlopen(target, timeout=TIMEOUT_S) as response:  # noqa: S310 (scheme checked above)
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        return f"{target}: {error}"
    return None if 200 <= status < 300 else f"{target}: HTTP {status}"


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: healthcheck.py URL [URL ...]\n")
        return 2
    failures = [reason for reason in map(check, argv) if reason]
    for reason in failures:
        sys.stderr.write(reason + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
