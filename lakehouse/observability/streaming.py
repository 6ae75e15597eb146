"""Metrics of the streaming jobs from Spark's own progress reports (a StreamingQueryListener).

Spark calls `onQueryProgress` after every micro-batch with rates, durations and, for Kafka sources,
how many offsets the query is behind the topic's end (`maxOffsetsBehindLatest`): the consumer lag,
measured by the consumer itself. The jobs' `BatchReport` counts (silver vs quarantined rows) arrive
through the runner's batch callbacks, so Grafana can chart the quarantine rate too.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pyspark.sql.streaming import StreamingQueryListener

from lakehouse.observability.server import serve

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.settings import Settings
    from lakehouse.stream.runner import BatchReport

log = logging.getLogger(__name__)

BATCH_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
LAG_METRICS = ("maxOffsetsBehindLatest", "avgOffsetsBehindLatest", "minOffsetsBehindLatest")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number  # NaN: Spark reports it before the first batch


def offsets_behind(source_metrics: list[dict[str, Any]]) -> float | None:
    """Records behind the topic's end over all Kafka sources of a progress report (None: not a Kafka query)."""
    values = [_number(metrics.get("maxOffsetsBehindLatest")) for metrics in source_metrics]
    found = [value for value in values if value is not None]
    return sum(found) if found else None


@dataclass
class StreamMetrics:
    """One registry for a job's queries; `listener` feeds it from Spark, `on_batch` from the runner."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    port: int | None = None  # where the registry is served, once it is

    def __post_init__(self) -> None:
        r, q = self.registry, ["query"]
        self.input_rows = Counter("lakehouse_stream_input_rows", "Rows read from the source", q, registry=r)
        self.input_rate = Gauge(
            "lakehouse_stream_input_rows_per_second", "Source rows per second (last batch)", q, registry=r
        )
        self.processed_rate = Gauge(
            "lakehouse_stream_processed_rows_per_second", "Rows processed per second (last batch)", q, registry=r
        )
        self.batch_duration = Histogram(
            "lakehouse_stream_batch_duration_seconds", "Wall time of a micro-batch", q, buckets=BATCH_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.lag = Gauge(
            "lakehouse_stream_kafka_offsets_behind_latest",
            "Kafka records not yet read by the query (summed over partitions' max)",
            q,
            registry=r,
        )
        self.last_batch = Gauge("lakehouse_stream_last_batch_id", "Id of the newest micro-batch", q, registry=r)
        self.last_progress = Gauge(
            "lakehouse_stream_last_progress_timestamp_seconds", "When the newest progress report came", q, registry=r
        )
        self.active = Gauge("lakehouse_stream_query_active", "1 while the query runs", q, registry=r)
        self.failures = Counter(
            "lakehouse_stream_query_failures", "Queries that terminated with an error", q, registry=r
        )
        self.batch_rows = Counter(
            "lakehouse_stream_batch_rows",
            "Rows by outcome as the job's batch writer counted them (e.g. silver, quarantined)",
            ["job", "outcome"],
            registry=r,
        )
        self.listener = _Listener(self)

    def record_progress(self, progress: Any) -> None:
        """One StreamingQueryProgress (or anything with its attributes) into the metrics."""
        name = progress.name or str(progress.id)
        self.input_rows.labels(name).inc(max(int(progress.numInputRows or 0), 0))
        for gauge, value in (
            (self.input_rate, progress.inputRowsPerSecond),
            (self.processed_rate, progress.processedRowsPerSecond),
        ):
            number = _number(value)
            if number is not None:
                gauge.labels(name).set(number)
        duration_ms = (progress.durationMs or {}).get("triggerExecution")
        if duration_ms is not None:
            self.batch_duration.labels(name).observe(float(duration_ms) / 1000)
        behind = offsets_behind([dict(source.metrics or {}) for source in progress.sources])
        if behind is not None:
            self.lag.labels(name).set(behind)
        self.last_batch.labels(name).set(progress.batchId)
        self.last_progress.labels(name).set(time.time())
        self.active.labels(name).set(1)

    def on_batch(self, report: BatchReport) -> None:
        """Runner callback: the batch writer's own counts (rows, silver, quarantined, ...)."""
        for outcome, count in report.counts.items():
            self.batch_rows.labels(report.job, outcome).inc(max(count, 0))


class _Listener(StreamingQueryListener):
    def __init__(self, metrics: StreamMetrics) -> None:
        self.metrics = metrics
        self.names: dict[str, str] = {}

    def onQueryStarted(self, event: Any) -> None:  # noqa: N802 - Spark's callback names
        name = event.name or str(event.id)
        self.names[str(event.id)] = name
        self.metrics.active.labels(name).set(1)
        log.info("stream metrics: query %s started", name)

    def onQueryProgress(self, event: Any) -> None:  # noqa: N802
        try:
            self.metrics.record_progress(event.progress)
        except Exception:  # a metrics bug must never stop the stream: log it and go on
            log.exception("stream metrics: could not record progress")

    def onQueryIdle(self, event: Any) -> None:  # noqa: N802
        pass

    def onQueryTerminated(self, event: Any) -> None:  # noqa: N802
        name = self.names.get(str(event.id), str(event.id))
        self.metrics.active.labels(name).set(0)
        if event.exception:
            self.metrics.failures.labels(name).inc()


def install_stream_metrics(spark: SparkSession, settings: Settings, port: int | None = None) -> StreamMetrics:
    """Register the listener on `spark` and serve the metrics on LAKEHOUSE_METRICS_PORT (when set).

    Pass `metrics.on_batch` in the job's `callbacks` to export its per-outcome row counts as well.
    """
    metrics = StreamMetrics()
    spark.streams.addListener(metrics.listener)
    chosen = settings.metrics_port if port is None else port
    if chosen is not None:
        metrics.port = serve(metrics.registry, chosen, "streaming")
    return metrics
