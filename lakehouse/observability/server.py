"""Serve one registry over HTTP (a daemon thread), the way every job without a web server exports metrics."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger(__name__)


class MetricsPortInUseError(RuntimeError):
    """The metrics port is taken (another job on this host?): say which setting moves it."""


def serve(registry: CollectorRegistry, port: int, what: str) -> int:
    """Serve `registry` on `port` (0 = any free port); return the port bound."""
    try:
        server, _thread = start_http_server(port, registry=registry)
    except OSError as error:
        raise MetricsPortInUseError(
            f"{what} metrics: port {port} is not available ({error.strerror}); set LAKEHOUSE_METRICS_PORT"
        ) from error
    bound = int(server.server_address[1])
    log.info("%s metrics on http://0.0.0.0:%d/metrics", what, bound)
    return bound
