"""Start a foreachBatch streaming query with its checkpoint and trigger, log every batch, stop cleanly.

Every batch writer returns a `BatchReport`; the runner logs it in one line (batch id, rows, duration)
and hands it to any registered callbacks, the place a metrics exporter or a StreamingQueryListener
bridge attaches to without touching the jobs.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING

from pyspark.errors import StreamingQueryException

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """What one micro-batch did; `counts` are rows per outcome (e.g. rows, silver, quarantined)."""

    job: str
    batch_id: int
    counts: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    steps_s: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        counts = " ".join(f"{name}={value}" for name, value in self.counts.items())
        steps = " ".join(f"{name}={seconds:.2f}" for name, seconds in self.steps_s.items())
        return f"{self.job} batch {self.batch_id}: {counts} in {self.duration_s:.2f}s" + (
            f" ({steps})" if steps else ""
        )


class StepTimer:
    """Wall time per named step of a batch (where a slow batch spends its time)."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, step: str) -> None:
        now = time.monotonic()
        self.steps[step] = self.steps.get(step, 0.0) + now - self._last
        self._last = now


BatchWriter = Callable[["DataFrame", int], BatchReport]
BatchCallback = Callable[[BatchReport], None]


class StreamFailedError(RuntimeError):
    """The streaming query stopped with an error (the batch will be retried on restart)."""


@dataclass(frozen=True)
class StreamSpec:
    """One foreachBatch query: its source, its batch writer, its name, checkpoint and trigger interval."""

    source: DataFrame
    write_batch: BatchWriter
    name: str
    checkpoint: str
    trigger_s: float


def run_stream(
    source: DataFrame,
    write_batch: BatchWriter,
    *,
    name: str,
    checkpoint: str,
    once: bool,
    trigger_s: float,
    callbacks: tuple[BatchCallback, ...] = (),
    stop_after_s: float | None = None,
) -> None:
    """Run `write_batch` on every micro-batch of `source` until done (`once`), stopped, or failed.

    `once` uses the AvailableNow trigger: everything present at start, in batches of at most
    maxOffsetsPerTrigger, then the query ends. SIGTERM/SIGINT stop the query between batches.
    """
    run_streams(
        (StreamSpec(source, write_batch, name, checkpoint, trigger_s),),
        once=once,
        callbacks=callbacks,
        stop_after_s=stop_after_s,
    )


def _start(spec: StreamSpec, once: bool, callbacks: tuple[BatchCallback, ...]) -> StreamingQuery:
    def on_batch(batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        report = spec.write_batch(batch, batch_id)
        report.duration_s = time.monotonic() - started
        log.info(report.line())
        for callback in callbacks:
            callback(report)

    writer = (
        spec.source.writeStream.queryName(spec.name)
        .option("checkpointLocation", spec.checkpoint)
        .foreachBatch(on_batch)
    )
    writer = writer.trigger(availableNow=True) if once else writer.trigger(processingTime=f"{spec.trigger_s} seconds")
    query = writer.start()
    log.info(
        "%s started (query id %s, checkpoint %s, trigger %s)",
        spec.name, query.id, spec.checkpoint, "available-now" if once else f"{spec.trigger_s}s",
    )  # fmt: skip
    return query


def _start_all(specs: tuple[StreamSpec, ...], once: bool, callbacks: tuple[BatchCallback, ...]) -> list[StreamingQuery]:
    """Start every query; when one fails to start, stop those already running, so none is left behind."""
    queries: list[StreamingQuery] = []
    try:
        for spec in specs:
            queries.append(_start(spec, once, callbacks))
    except Exception:
        for query in queries:
            query.stop()
        raise
    return queries


def run_streams(
    specs: tuple[StreamSpec, ...],
    *,
    once: bool,
    callbacks: tuple[BatchCallback, ...] = (),
    stop_after_s: float | None = None,
) -> None:
    """Several queries in one driver (one JVM for all, each with its own checkpoint), run as one job:
    until every one is done (`once`), a signal or `stop_after_s` stops them all, or one fails, which
    stops the others too, so a supervisor restarts the job whole and each resumes from its checkpoint."""
    queries = _start_all(specs, once, callbacks)
    names = ", ".join(spec.name for spec in specs)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: signal %d, stopping after the current batch", names, signum)
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, request_stop)
    deadline = None if stop_after_s is None else time.monotonic() + stop_after_s
    try:
        while not stop.is_set() and any(query.isActive for query in queries):
            if deadline is not None and time.monotonic() >= deadline:
                break
            if any(not query.isActive and query.exception() is not None for query in queries):
                break
            try:
                next(query for query in queries if query.isActive).awaitTermination(1)
            except StreamingQueryException:
                break
        for query in queries:
            if query.isActive:
                query.stop()
        for spec, query in zip(specs, queries, strict=True):
            error = query.exception()
            if error is not None:
                raise StreamFailedError(f"{spec.name} failed: {error}") from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    log.info("%s stopped", names)
