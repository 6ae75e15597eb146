"""Prometheus metrics of the Binance producer, one registry per producer (tests run several).

The counters are plain integers read by a custom collector at scrape time: a prometheus_client Counter
takes a lock on every inc(), and these are bumped several times per message at tens of thousands of
messages per second. Each counter has a single writer (the event loop, or the Kafka delivery thread for
`produced`, `produce_failed` and the latency histogram), so plain `+=` under the GIL is safe.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

PREFIX = "lakehouse_producer_"
COUNTERS = {
    "received": ("messages_received", "Frames received (stream or replay)"),
    "produced": ("messages_produced", "Trades acknowledged by Kafka"),
    "produce_failed": ("produce_failed", "Trades Kafka did not take"),
    "malformed": ("messages_malformed", "Frames that could not be parsed"),
    "skipped": ("messages_skipped", "Frames of other streams"),
    "duplicates": ("duplicates", "Trades already seen (dropped)"),
    "gap_trades": ("gap_trades", "Trade ids missing from the stream"),
    "backfilled": ("backfilled", "Missing trades fetched over REST"),
    "reconnects": ("reconnects", "WebSocket reconnections"),
    "redelivered": ("redelivered", "Records produced again after Kafka did not take them"),
    "book_received": ("book_messages_received", "Book ticker and depth messages received"),
    "book_produced": ("book_records_produced", "Book records (ticker, depth, snapshot) acknowledged by Kafka"),
    "depth_breaks": ("depth_chain_breaks", "Breaks in a symbol's depth diff chain (a snapshot follows)"),
    "snapshots": ("depth_snapshots", "REST depth snapshots captured"),
}
GAUGES = {
    "undelivered": ("undelivered", "Trades Kafka did not take, waiting to be produced again"),
    "unfilled_trades": ("unfilled_trades", "Missing trade ids REST has not given yet (fetched again with backoff)"),
}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ProducerMetrics:
    def __init__(self) -> None:
        self.received = self.produced = self.produce_failed = self.malformed = self.skipped = 0
        self.duplicates = self.gap_trades = self.backfilled = self.reconnects = self.redelivered = 0
        self.undelivered = self.unfilled_trades = 0
        self.book_received = self.book_produced = self.depth_breaks = self.snapshots = 0
        self.gaps_by_symbol: dict[str, int] = {}
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.registry = CollectorRegistry()
        self.registry.register(_Collector(self))

    def gap(self, symbol: str) -> None:
        self.gaps_by_symbol[symbol] = self.gaps_by_symbol.get(symbol, 0) + 1

    def observe_latency(self, seconds: float) -> None:
        self.latency_counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def value(self, name: str) -> float:
        """Current total of a counter by name (`gaps` sums every symbol), for logs and tests."""
        if name == "gaps":
            return float(sum(self.gaps_by_symbol.values()))
        return float(getattr(self, name))

    def serve(self, port: int) -> None:
        start_http_server(port, registry=self.registry)
        log.info("producer metrics on http://0.0.0.0:%d/metrics", port)


class _Collector(Collector):
    def __init__(self, metrics: ProducerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        for attribute, (name, documentation) in COUNTERS.items():
            yield CounterMetricFamily(PREFIX + name, documentation, value=getattr(m, attribute))
        for attribute, (name, documentation) in GAUGES.items():
            yield GaugeMetricFamily(PREFIX + name, documentation, value=getattr(m, attribute))
        gaps = CounterMetricFamily(PREFIX + "gaps", "Jumps in a symbol's trade ids", labels=["symbol"])
        for symbol, count in sorted(m.gaps_by_symbol.items()):
            gaps.add_metric([symbol], count)
        yield gaps
        cumulative, buckets = 0, []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), m.latency_counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        yield HistogramMetricFamily(
            PREFIX + "produce_latency_seconds",
            "From produce() to Kafka's acknowledgement",
            buckets=buckets,
            sum_value=m.latency_sum,
        )
