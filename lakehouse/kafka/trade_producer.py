"""The one Kafka producer every writer of `raw-trades` uses: acks=all, idempotent, with delivery reports.

confluent-kafka was picked over kafka-python by measurement (bench/producer_throughput.py and
bench/api_throughput.py print both clients' direct rates: confluent-kafka was 10-20x faster). Delivery
reports arrive on whichever thread calls `poll()`: the caller (`poll`, `flush`, `produce_and_wait`; the
API and the Binance producer poll from their event loops) or the optional poller thread (`start_polling`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from lakehouse.schema.trade import TradeRecord

log = logging.getLogger(__name__)

# close() waits this long for the delivery-report poller thread before its final flush.
POLLER_JOIN_TIMEOUT_S = 5.0

DeliveryCallback = Callable[[KafkaError | None, Message], None]


class ProducerClosedError(RuntimeError):
    """produce() after close()."""


@dataclass
class BatchOutcome:
    """Which records of a batch Kafka acknowledged, by their index in the batch."""

    total: int
    acked: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.acked) + len(self.failed) == self.total

    @property
    def all_acked(self) -> bool:
        return len(self.acked) == self.total


class BatchTracker:
    """Collects delivery reports of one batch; `on_complete` runs once, on the reporting thread.

    One bound method serves every record (no closure per record: this runs for every trade the API
    takes). A failed record is mapped back to its index through its value, only when one fails.
    """

    def __init__(
        self, items: Sequence[tuple[bytes, bytes]], on_complete: Callable[[BatchOutcome], None] | None = None
    ) -> None:
        self._items = items
        self._acked = 0
        self._failed: list[tuple[bytes | None, str]] = []
        self._refused: dict[int, str] = {}  # refused before librdkafka took them, by index
        self._on_complete = on_complete
        self._lock = threading.Lock()
        self.done = threading.Event()
        if not items:
            self._finish()

    def report(self, error: KafkaError | None, message: Message) -> None:
        with self._lock:
            if error is None:
                self._acked += 1
            else:
                self._failed.append((message.value(), error.str()))
            finished = self._reported() == len(self._items)
        if finished:
            self._finish()

    def refuse(self, index: int, reason: str) -> None:
        """Record that item `index` never reached librdkafka (it will get no delivery report)."""
        with self._lock:
            if index in self._refused:
                return
            self._refused[index] = reason
            finished = self._reported() == len(self._items)
        if finished:
            self._finish()

    def _reported(self) -> int:
        return self._acked + len(self._failed) + len(self._refused)

    @property
    def outcome(self) -> BatchOutcome:
        """Which indices were acknowledged / failed so far (records not reported yet are in neither)."""
        with self._lock:
            acked, failed, refused = self._acked, list(self._failed), dict(self._refused)
        outcome = BatchOutcome(len(self._items), failed=refused)
        complete = acked + len(failed) + len(refused) == len(self._items)
        if not failed and not refused:
            # Acknowledgements are counted, not named: indices are only known once every report is in.
            outcome.acked = list(range(acked)) if complete else []
            return outcome
        unclaimed: dict[bytes, list[int]] = {}
        for index, (_key, value) in enumerate(self._items):
            if index not in refused:
                unclaimed.setdefault(value, []).append(index)
        for failed_value, reason in failed:
            indices = unclaimed.get(failed_value or b"")
            if indices:
                outcome.failed[indices.pop()] = reason
        if complete:
            outcome.acked = sorted(set(range(len(self._items))) - set(outcome.failed))
        return outcome

    def _finish(self) -> None:
        self.done.set()
        if self._on_complete is not None:
            self._on_complete(self.outcome)


def producer_config(bootstrap: str, *, client_id: str, message_timeout_ms: int, linger_ms: int) -> dict[str, Any]:
    """The settings every trade writer shares; acks=all + idempotence give exactly-once per partition."""
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": linger_ms,
        "compression.type": "lz4",
        "batch.num.messages": 10_000,
        "queue.buffering.max.messages": 500_000,
        # Bounded: a caller that waits for acknowledgements must learn about an unreachable broker.
        "message.timeout.ms": message_timeout_ms,
        # A missing broker is reported through delivery reports; keep librdkafka's own log quiet about it.
        "log.connection.close": False,
    }


class TradeProducer:
    """Produces trades keyed by symbol to one topic; thread-safe (librdkafka is)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        client_id: str = "lakehouse",
        message_timeout_ms: int = 30_000,
        linger_ms: int = 5,
        on_latency: Callable[[float], None] | None = None,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.bootstrap = bootstrap
        self._on_latency = on_latency
        config = producer_config(
            bootstrap, client_id=client_id, message_timeout_ms=message_timeout_ms, linger_ms=linger_ms
        )
        config.update(extra_config or {})
        config["error_cb"] = self._on_error
        self._producer = Producer(config)
        self._closed = False
        self._poller: threading.Thread | None = None
        self._stop_polling = threading.Event()
        self.last_error: str | None = None
        self.fatal_error: str | None = None  # set once librdkafka says the producer can never send again

    def _on_error(self, error: KafkaError) -> None:
        self.last_error = error.str()
        # Broker-down errors repeat every few seconds while Kafka is away: one line each is enough.
        log.warning("kafka client error: %s", error.str())
        if error.fatal():
            self.fatal_error = error.str()
            log.error("fatal Kafka producer error: %s", error.str())

    def _with_latency(self, callback: DeliveryCallback | None) -> DeliveryCallback | None:
        if self._on_latency is None:
            return callback
        observe = self._on_latency

        def report(error: KafkaError | None, message: Message) -> None:
            latency = message.latency()
            if error is None and latency is not None:
                observe(latency)
            if callback is not None:
                callback(error, message)

        return report

    def produce(
        self, key: bytes, value: bytes, on_delivery: DeliveryCallback | None = None, *, topic: str | None = None
    ) -> None:
        """Queue one record (on `topic`, else the producer's own); waits (serving delivery reports) while
        the local queue is full. One client serves several topics: the book topics ride with the trades."""
        if self._closed:
            raise ProducerClosedError("the producer is closed")
        self._produce_waiting(topic or self.topic, key, value, self._with_latency(on_delivery))

    def _produce_waiting(self, topic: str, key: bytes, value: bytes, callback: DeliveryCallback | None) -> None:
        while True:
            try:
                if callback is None:
                    self._producer.produce(topic, value=value, key=key)
                else:
                    self._producer.produce(topic, value=value, key=key, on_delivery=callback)
                return
            except BufferError:
                # Back-pressure: the local queue is full until the broker acknowledges some records.
                self._producer.poll(0.05)

    def produce_trade(self, record: TradeRecord, on_delivery: DeliveryCallback | None = None) -> None:
        self.produce(record.kafka_key(), record.to_json_bytes(), on_delivery)

    def produce_batch(
        self, items: Sequence[tuple[bytes, bytes]], on_complete: Callable[[BatchOutcome], None] | None = None
    ) -> BatchTracker:
        """Queue (key, value) pairs; the tracker reports which ones Kafka acknowledged."""
        if self._closed:
            raise ProducerClosedError("the producer is closed")
        tracker, waiting = self.queue_batch(items, on_complete)
        while waiting:
            # Back-pressure: the local queue is full until the broker acknowledges some records.
            self._producer.poll(0.05)
            waiting = self.requeue(items, waiting, tracker)
        return tracker

    def queue_batch(
        self, items: Sequence[tuple[bytes, bytes]], on_complete: Callable[[BatchOutcome], None] | None = None
    ) -> tuple[BatchTracker, list[int]]:
        """Queue what fits now, never waiting: the tracker, and the indices a full local queue left out.

        For callers that must not block (the API's event loop): they wait for room their own way and
        call requeue(). A record librdkafka refuses for any other reason (too large, a fatal producer
        error) is marked failed on the tracker with that reason at once; nothing here raises for it.
        """
        if self._closed:
            raise ProducerClosedError("the producer is closed")
        tracker = BatchTracker(items, on_complete)
        report = self._with_latency(tracker.report)
        messages: list[dict[str, Any]] = [{"key": key, "value": value} for key, value in items]
        # One C call for the whole batch (about 40% cheaper per record than produce() in a loop); keys still
        # choose the partition, as with produce(). Records it could not queue carry an `_error`.
        with contextlib.suppress(BufferError):
            self._producer.produce_batch(self.topic, messages, on_delivery=report)
        waiting = []
        for index, message in enumerate(messages):
            error = message.get("_error")
            if error is None:
                continue
            if error.code() == KafkaError._QUEUE_FULL:
                waiting.append(index)
            else:
                tracker.refuse(index, error.str())
        return tracker, waiting

    def requeue(self, items: Sequence[tuple[bytes, bytes]], waiting: list[int], tracker: BatchTracker) -> list[int]:
        """Try the `waiting` indices of queue_batch() again; return those the queue still has no room for."""
        report = self._with_latency(tracker.report)
        for position, index in enumerate(waiting):
            key, value = items[index]
            try:
                self._producer.produce(self.topic, value=value, key=key, on_delivery=report)
            except BufferError:
                return waiting[position:]
            except KafkaException as error:
                tracker.refuse(index, error.args[0].str() if error.args else str(error))
        return []

    def produce_and_wait(self, items: Sequence[tuple[bytes, bytes]], timeout_s: float) -> BatchOutcome:
        """Produce and block until every record is acknowledged or failed (or timeout_s passes)."""
        tracker = self.produce_batch(items)
        deadline = time.monotonic() + timeout_s
        while not tracker.done.is_set() and time.monotonic() < deadline:
            if self._poller is None:
                self._producer.poll(0.05)
            else:
                tracker.done.wait(0.05)
        return tracker.outcome

    def poll(self, timeout_s: float = 0.0) -> int:
        return self._producer.poll(timeout_s)

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding records; returns how many are still not delivered."""
        remaining: int = self._producer.flush(timeout_s)
        if remaining:
            log.error("%d record(s) still undelivered after %.0fs flush", remaining, timeout_s)
        return remaining

    def pending(self) -> int:
        return len(self._producer)

    def start_polling(self, interval_s: float = 0.05) -> None:
        """Serve delivery reports on a background thread (for callers that must not block)."""
        if self._poller is not None:
            return

        def loop() -> None:
            while not self._stop_polling.is_set():
                self._producer.poll(interval_s)

        self._poller = threading.Thread(target=loop, name=f"kafka-poll-{self.topic}", daemon=True)
        self._poller.start()

    def broker_reachable(self, timeout_s: float = 2.0) -> bool:
        """True when a broker answers a metadata request for our topic."""
        try:
            metadata = self._producer.list_topics(self.topic, timeout=timeout_s)
        except Exception:  # KafkaException on timeout; any failure means "not reachable now"
            return False
        topic = metadata.topics.get(self.topic)
        return bool(metadata.brokers) and topic is not None and topic.error is None

    def close(self, timeout_s: float = 30.0) -> int:
        """Flush and stop the poller; returns the number of records left undelivered."""
        if self._closed:
            return 0
        self._closed = True
        self._stop_polling.set()
        if self._poller is not None:
            self._poller.join(timeout=POLLER_JOIN_TIMEOUT_S)
            self._poller = None
        return self.flush(timeout_s)
