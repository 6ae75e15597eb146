"""Prometheus metrics of the Binance producer, one registry per producer (tests run several)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

log = logging.getLogger(__name__)


@dataclass
class ProducerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.received = Counter(
            "lakehouse_producer_messages_received", "Frames received (stream or replay)", registry=r
        )
        self.produced = Counter("lakehouse_producer_messages_produced", "Trades acknowledged by Kafka", registry=r)
        self.produce_failed = Counter("lakehouse_producer_produce_failed", "Trades Kafka did not take", registry=r)
        self.malformed = Counter("lakehouse_producer_messages_malformed", "Frames that could not be parsed", registry=r)
        self.skipped = Counter("lakehouse_producer_messages_skipped", "Frames of other streams", registry=r)
        self.duplicates = Counter("lakehouse_producer_duplicates", "Trades already seen (dropped)", registry=r)
        self.gaps = Counter("lakehouse_producer_gaps", "Jumps in a symbol's trade ids", ["symbol"], registry=r)
        self.gap_trades = Counter("lakehouse_producer_gap_trades", "Trade ids missing from the stream", registry=r)
        self.backfilled = Counter("lakehouse_producer_backfilled", "Missing trades fetched over REST", registry=r)
        self.reconnects = Counter("lakehouse_producer_reconnects", "WebSocket reconnections", registry=r)
        self.produce_latency = Histogram(
            "lakehouse_producer_produce_latency_seconds",
            "From produce() to Kafka's acknowledgement",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )

    def serve(self, port: int) -> None:
        start_http_server(port, registry=self.registry)
        log.info("producer metrics on http://0.0.0.0:%d/metrics", port)

    def value(self, name: str) -> float:
        """Current total of a counter by its attribute name (summed over labels), for logs and tests."""
        total = 0.0
        for metric in getattr(self, name).collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    total += sample.value
        return total
