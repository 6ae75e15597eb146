"""Await Kafka's acknowledgement of one request's records without flushing anybody else's."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence

from lakehouse.kafka.producer import BatchOutcome, TradeProducer


class KafkaSink:
    """Produces a request's records and resolves when every one is acknowledged or has failed.

    Delivery reports are served by the producer's background poller thread; each batch's completion is
    handed back to the event loop with call_soon_threadsafe.
    """

    def __init__(self, producer: TradeProducer, ack_timeout_s: float) -> None:
        self.producer = producer
        # librdkafka fails a record after message.timeout.ms; the margin covers the report's way back.
        self.wait_s = ack_timeout_s + 5.0
        producer.start_polling()

    async def send(self, items: Sequence[tuple[bytes, bytes]]) -> BatchOutcome:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BatchOutcome] = loop.create_future()

        def resolve(outcome: BatchOutcome) -> None:
            if not future.done():
                future.set_result(outcome)

        def on_complete(outcome: BatchOutcome) -> None:
            loop.call_soon_threadsafe(resolve, outcome)

        tracker = self.producer.produce_batch(items, on_complete=on_complete)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.wait_s)
        except TimeoutError:
            # Should not happen (librdkafka always reports), but never hang a client: report what we know.
            return copy.deepcopy(tracker.outcome)

    async def reachable(self) -> bool:
        return await asyncio.to_thread(self.producer.broker_reachable)
