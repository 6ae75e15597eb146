"""Prometheus metrics of the ingestion API (multi-process aware: uvicorn runs several workers)."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

REQUESTS = Counter("lakehouse_api_requests_total", "POST /v1/trades requests by HTTP status", ["status"])
TRADES_ACCEPTED = Counter("lakehouse_api_trades_accepted_total", "Trades acknowledged by Kafka", ["client"])
TRADES_REJECTED = Counter("lakehouse_api_trades_rejected_total", "Trades not accepted, by reason", ["reason"])
KAFKA_ACK_SECONDS = Histogram(
    "lakehouse_api_kafka_ack_seconds",
    "Time from producing a request's records to Kafka acknowledging all of them",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def render() -> tuple[bytes, str]:
    """The exposition text: merged over all workers when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
