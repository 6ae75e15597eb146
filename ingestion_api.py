"""Ingestion API: POST /v1/trades (one trade or a batch) into Kafka `raw-trades`; docs at /docs."""

from __future__ import annotations

import argparse

from lakehouse.ingest.api.server import serve
from lakehouse.logging_setup import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1: this machine only; the container passes 0.0.0.0)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default LAKEHOUSE_API_WORKERS)")
    parser.add_argument("--access-log", action="store_true", help="log every request (costs throughput)")
    args = parser.parse_args()
    configure_logging()
    serve(args.host, args.port, args.workers, args.access_log)


if __name__ == "__main__":
    main()
