"""Metrics of a training run, served while it runs (a batch job: Prometheus scrapes it during the run).

Usage (the one place that wires it is the trainer's entry point):

    with training_metrics(settings) as metrics:
        result = train(spark, settings, progress=metrics.wrap(progress))
        metrics.record(result)

Outcomes: `promoted`, `rejected` (registered, gate said no), `failed` (an exception left the block).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge

from lakehouse.observability.server import MetricsPortInUseError, serve

if TYPE_CHECKING:
    from lakehouse.ml.train import TrainingResult
    from lakehouse.settings import Settings

log = logging.getLogger(__name__)

METRICS = ("rmse_bps", "mae_bps", "rmse", "mae", "mape", "directional_accuracy")


class TrainerMetrics:
    def __init__(self) -> None:
        self.port: int | None = None  # where the registry is served, once it is
        r = self.registry = CollectorRegistry()
        self.runs = Counter("lakehouse_trainer_runs", "Training runs by outcome", ["outcome"], registry=r)
        self.running = Gauge("lakehouse_trainer_running", "1 while a training run is in progress", registry=r)
        self.stage = Gauge(
            "lakehouse_trainer_stage_started_timestamp_seconds", "When the current stage began", ["stage"], registry=r
        )
        self.duration = Gauge("lakehouse_trainer_last_run_seconds", "Wall time of the last run", registry=r)
        self.score = Gauge(
            "lakehouse_trainer_validation_score",
            "Validation metric of the last run per model (candidate, baseline, champion)",
            ["model", "metric"],
            registry=r,
        )
        self.rows = Gauge("lakehouse_trainer_rows", "Rows used by the last run per split", ["split"], registry=r)
        self.version = Gauge("lakehouse_trainer_last_version", "Registered version of the last run", registry=r)
        self.last_success = Gauge(
            "lakehouse_trainer_last_success_timestamp_seconds", "When a run last finished", registry=r
        )
        for outcome in ("promoted", "rejected", "failed"):
            self.runs.labels(outcome)  # every outcome visible at 0, so rate() works from the first run

    def wrap(self, progress: Callable[[str], None]) -> Callable[[str], None]:
        """A progress callback that also marks the stage (its first word: reading, fitting, ...)."""

        def marked(message: str) -> None:
            self.stage.labels(message.split(" ", 1)[0]).set(time.time())
            progress(message)

        return marked

    def record(self, result: TrainingResult) -> None:
        for model, values in (("candidate", result.metrics), ("baseline", result.baseline)):
            for metric in METRICS:
                if metric in values:
                    self.score.labels(model, metric).set(values[metric])
        for metric in METRICS:
            if result.champion and metric in result.champion:
                self.score.labels("champion", metric).set(result.champion[metric])
        for split, count in result.rows.items():
            self.rows.labels(split).set(count)
        if result.version.isdigit():
            self.version.set(int(result.version))
        self.runs.labels("promoted" if result.decision.promote else "rejected").inc()
        self.last_success.set(time.time())


def _serve_beside_a_service(registry: CollectorRegistry, port: int) -> int:
    """Serve on `port`, or on a free port with a warning when `port` is taken.

    A one-off run often starts inside a service's container (`docker exec spark-silver python
    train_model.py`), where the service already holds LAKEHOUSE_METRICS_PORT. The run's metrics are
    a convenience (its scores go to MLflow too), so an operator expects the run to go on rather than
    die for them; the long-running services, which Prometheus scrapes on that fixed port, still
    fail loudly when it is taken (lakehouse/observability/server.py).
    """
    try:
        return serve(registry, port, "trainer")
    except MetricsPortInUseError as error:
        bound = serve(registry, 0, "trainer")
        log.warning("%s; serving this run's metrics on port %d instead (Prometheus will not scrape it)", error, bound)
        return bound


@contextmanager
def training_metrics(settings: Settings, port: int | None = None) -> Iterator[TrainerMetrics]:
    """Metrics of one run, served on LAKEHOUSE_METRICS_PORT (or `port`) while the block runs."""
    metrics = TrainerMetrics()
    chosen = settings.metrics_port if port is None else port
    if chosen is not None:
        metrics.port = _serve_beside_a_service(metrics.registry, chosen)
    started = time.monotonic()
    metrics.running.set(1)
    try:
        yield metrics
    except BaseException:
        metrics.runs.labels("failed").inc()
        raise
    finally:
        metrics.running.set(0)
        metrics.duration.set(time.monotonic() - started)
