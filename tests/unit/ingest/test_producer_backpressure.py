"""A full local queue or a refused record never raises and never blocks the API's event loop.

Real librdkafka, pointed at a port where nothing listens: records queue up and are never delivered,
which is exactly a Kafka outage seen from the API.
"""

from __future__ import annotations

import asyncio
import time

from lakehouse.ingest.api.sink import KafkaSink
from lakehouse.kafka.trade_producer import BatchOutcome, TradeProducer

NOWHERE = "127.0.0.1:1"


def tiny_producer(queue: int = 3, timeout_ms: int = 1500) -> TradeProducer:
    return TradeProducer(
        NOWHERE,
        "raw-trades",
        message_timeout_ms=timeout_ms,
        extra_config={"queue.buffering.max.messages": queue, "message.max.bytes": 2000, "log_level": 0},
    )


def test_queue_batch_returns_what_did_not_fit_and_refuses_oversized_records() -> None:
    producer = tiny_producer(queue=3)
    items = [(b"k", b"x" * 5000), *[(b"k", f"v{i}".encode()) for i in range(5)]]
    tracker, waiting = producer.queue_batch(items)
    assert waiting == [4, 5]  # three fit; the oversized one was never queued
    assert "too large" in tracker.outcome.failed[0]
    assert producer.requeue(items, waiting, tracker) == [4, 5]  # still full: nothing delivered
    producer.close(timeout_s=0)


def test_a_full_queue_waits_off_the_event_loop_then_refuses_with_a_reason() -> None:
    producer = tiny_producer(queue=2, timeout_ms=1000)
    sink = KafkaSink(producer, ack_timeout_s=1.0)
    # Room can only appear once the first two time out (1 s), so records 2-4 are refused at 0.5 s for
    # sure; the two queued ones are then reported failed by librdkafka within the sink's margin.
    sink.room_wait_s = 0.5

    async def scenario() -> tuple[BatchOutcome, int]:
        sink.start()
        ticks = 0

        async def heartbeat() -> None:  # stands for /health and other requests on the same loop
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.05)

        beat = asyncio.create_task(heartbeat())
        started = time.monotonic()
        outcome = await sink.send([(b"k", f"t{i}".encode()) for i in range(5)])
        assert time.monotonic() - started < sink.wait_s + 1
        beat.cancel()
        await sink.stop()
        return outcome, ticks

    outcome, ticks = asyncio.run(scenario())
    assert ticks >= 10, "the event loop was blocked while the queue was full"
    assert outcome.complete and not outcome.acked
    assert set(outcome.failed) == set(range(5))
    full = {index for index, reason in outcome.failed.items() if "queue stayed full" in reason}
    assert full == {2, 3, 4}
    assert all("timed out" in outcome.failed[index] for index in (0, 1))
    assert sink.last_delivery_failure is not None
