"""Await Kafka's acknowledgement of one request's records without flushing anybody else's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from lakehouse.kafka.trade_producer import BatchOutcome, TradeProducer

# How often the event loop serves delivery reports when none were waiting (bounds the added latency).
IDLE_POLL_S = 0.001
# How often a request whose records found the local queue full tries again.
QUEUE_FULL_RETRY_S = 0.01


class KafkaSink:
    """Produces a request's records and resolves when every one is acknowledged or has failed.

    Delivery reports are served on the event loop itself (a task calling poll(0)), not on a thread:
    the callbacks then resolve futures directly and no GIL hand-offs between threads are paid per record.
    """

    def __init__(self, producer: TradeProducer, ack_timeout_s: float) -> None:
        self.producer = producer
        # How long a request waits for room in a full local queue before refusing what did not fit: room
        # appears only as queued records are acknowledged or time out, so longer than this is an outage.
        self.room_wait_s = ack_timeout_s
        # librdkafka fails a record after message.timeout.ms (checked about once a second, later on a
        # loaded machine); the margin covers that and the report's way back.
        self.wait_s = ack_timeout_s + 5.0
        self._poller: asyncio.Task[None] | None = None
        # The newest request outcome: a broker can answer metadata while deliveries still fail. A failure
        # counts for one delivery window; after it a reachable broker is healthy again, or /health would
        # stay red until a client dared to send (and a load balancer would never let one).
        self.last_delivery_failure: str | None = None
        self._failed_at = 0.0

    def start(self) -> None:
        self._poller = asyncio.get_running_loop().create_task(self._serve_reports())

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def _serve_reports(self) -> None:
        poll = self.producer.poll
        while True:
            served = poll(0)
            await asyncio.sleep(0 if served else IDLE_POLL_S)

    async def send(self, items: Sequence[tuple[bytes, bytes]]) -> BatchOutcome:
        future: asyncio.Future[BatchOutcome] = asyncio.get_running_loop().create_future()

        def on_complete(outcome: BatchOutcome) -> None:  # runs on the loop, inside poll(0)
            if not future.done():
                future.set_result(outcome)

        loop = asyncio.get_running_loop()
        tracker, waiting = self.producer.queue_batch(items, on_complete=on_complete)
        last_queued = loop.time()
        give_up = last_queued + self.room_wait_s
        while waiting:
            # The local queue is full: wait for room without blocking the loop, which keeps serving
            # delivery reports (they make the room), other requests and /health meanwhile.
            if loop.time() >= give_up:
                for index in waiting:
                    tracker.refuse(index, "Local: the producer's queue stayed full (Kafka too slow or away)")
                break
            await asyncio.sleep(QUEUE_FULL_RETRY_S)
            still = self.producer.requeue(items, waiting, tracker)
            if len(still) < len(waiting):
                last_queued = loop.time()
            waiting = still
        try:
            # Every queued record is reported within message.timeout.ms of its queueing.
            outcome = await asyncio.wait_for(asyncio.shield(future), max(last_queued + self.wait_s - loop.time(), 0.1))
        except TimeoutError:
            # Should not happen (librdkafka always reports), but never hang a client: report what we know.
            outcome = tracker.outcome
        if outcome.failed:
            self.last_delivery_failure = next(iter(outcome.failed.values()))
            self._failed_at = loop.time()
        elif outcome.acked:
            self.last_delivery_failure = None
        return outcome

    async def problem(self) -> str | None:
        """Why this API cannot deliver to Kafka now (None when it can): what /health reports."""
        if self.producer.fatal_error is not None:
            return f"the Kafka producer failed for good: {self.producer.fatal_error}"
        if not await asyncio.to_thread(self.producer.broker_reachable):
            return "Kafka unreachable"
        recent = asyncio.get_running_loop().time() - self._failed_at < self.wait_s
        if self.last_delivery_failure is not None and recent:
            return f"the last records sent were not delivered: {self.last_delivery_failure}"
        return None
