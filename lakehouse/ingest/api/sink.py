"""Await Kafka's acknowledgement of one request's records without flushing anybody else's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from lakehouse.kafka.producer import BatchOutcome, TradeProducer

# How often the event loop serves delivery reports when none were waiting (bounds the added latency).
IDLE_POLL_S = 0.001


class KafkaSink:
    """Produces a request's records and resolves when every one is acknowledged or has failed.

    Delivery reports are served on the event loop itself (a task calling poll(0)), not on a thread:
    the callbacks then resolve futures directly and no GIL hand-offs between threads are paid per record.
    """

    def __init__(self, producer: TradeProducer, ack_timeout_s: float) -> None:
        self.producer = producer
        # librdkafka fails a record after message.timeout.ms; the margin covers the report's way back.
        self.wait_s = ack_timeout_s + 5.0
        self._poller: asyncio.Task[None] | None = None

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

        tracker = self.producer.produce_batch(items, on_complete=on_complete)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.wait_s)
        except TimeoutError:
            # Should not happen (librdkafka always reports), but never hang a client: report what we know.
            return tracker.outcome

    async def reachable(self) -> bool:
        return await asyncio.to_thread(self.producer.broker_reachable)
