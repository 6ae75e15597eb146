"""Frame -> canonical record -> Kafka, with gap detection, backfill and duplicate suppression."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from confluent_kafka import KafkaError, Message

from lakehouse.ingest.backfill import RestBackfiller
from lakehouse.ingest.binance import MalformedMessage, parse_message
from lakehouse.ingest.producer_metrics import ProducerMetrics
from lakehouse.ingest.sequence import Gap, Seen, SequenceTracker
from lakehouse.kafka.producer import TradeProducer
from lakehouse.schema.trade import now_ms

log = logging.getLogger(__name__)

POLL_EVERY = 200
IDLE_POLL_S = 0.02


class TradePipeline:
    """Shared by the live and the replay source; one instance per producer process.

    Delivery reports are served on the event loop: by handle() every POLL_EVERY records, and by
    serve_reports() while the stream is quiet. (A poller thread would cost a GIL hand-off per report.)
    """

    def __init__(
        self, producer: TradeProducer, metrics: ProducerMetrics, backfiller: RestBackfiller | None = None
    ) -> None:
        self.producer = producer
        self.metrics = metrics
        self.backfiller = backfiller
        self.tracker = SequenceTracker()
        self.unfilled: list[Gap] = []
        self._since_poll = 0

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.metrics.produced += 1
            latency = message.latency()
            if latency is not None:
                self.metrics.observe_latency(latency)
        else:
            self.metrics.produce_failed += 1
            log.error("Kafka did not take a trade: %s", error.str())

    async def handle(self, frame: str | bytes | dict[str, Any]) -> None:
        self.metrics.received += 1
        ingest_time = now_ms()
        try:
            record = parse_message(frame, ingest_time)
        except MalformedMessage as error:
            self.metrics.malformed += 1
            log.warning("skipping a malformed frame: %s (frame starts %.120r)", error, frame)
            return
        if record is None:
            self.metrics.skipped += 1
            return
        seen, gap = self.tracker.observe(record.symbol, int(record.trade_id))
        if seen is Seen.DUPLICATE:
            self.metrics.duplicates += 1
            return
        if gap is not None:
            await self._fill(gap, ingest_time)
        self.producer.produce_trade(record, self._delivered)
        self._since_poll += 1
        if self._since_poll >= POLL_EVERY:
            self._since_poll = 0
            self.producer.poll(0)

    async def serve_reports(self, stop: asyncio.Event) -> None:
        """Serve delivery reports while the stream is quiet (handle() serves them while it is busy)."""
        while not stop.is_set():
            self.producer.poll(0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), IDLE_POLL_S)

    async def _fill(self, gap: Gap, ingest_time: int) -> None:
        """Count and log the gap, then produce what REST still has, before the trade that revealed it."""
        self.metrics.gap(gap.symbol)
        self.metrics.gap_trades += gap.size
        log.warning(
            "gap in %s trade ids: %d..%d (%d missing)", gap.symbol, gap.first_missing, gap.last_missing, gap.size
        )
        if self.backfiller is None:
            self.unfilled.append(gap)
            return
        records = await self.backfiller.fetch(gap, ingest_time)
        for record in records:
            self.producer.produce_trade(record, self._delivered)
        self.metrics.backfilled += len(records)
        if len(records) == gap.size:
            log.info("gap in %s filled from REST: %d trade(s)", gap.symbol, len(records))
        else:
            self.unfilled.append(gap)
            log.warning("gap in %s: REST gave %d of %d missing trade(s)", gap.symbol, len(records), gap.size)
