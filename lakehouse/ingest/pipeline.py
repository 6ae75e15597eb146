"""Frame -> canonical record -> Kafka, with gap detection, backfill and duplicate suppression."""

from __future__ import annotations

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


class TradePipeline:
    """Shared by the live and the replay source; one instance per producer process.

    Delivery reports are served by the producer's poller thread (started here), so `produced` keeps
    counting while the stream is quiet.
    """

    def __init__(
        self, producer: TradeProducer, metrics: ProducerMetrics, backfiller: RestBackfiller | None = None
    ) -> None:
        self.producer = producer
        self.metrics = metrics
        self.backfiller = backfiller
        self.tracker = SequenceTracker()
        self.unfilled: list[Gap] = []
        producer.start_polling()

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.metrics.produced.inc()
        else:
            self.metrics.produce_failed.inc()
            log.error("Kafka did not take a trade: %s", error.str())

    async def handle(self, frame: str | bytes | dict[str, Any]) -> None:
        self.metrics.received.inc()
        ingest_time = now_ms()
        try:
            record = parse_message(frame, ingest_time)
        except MalformedMessage as error:
            self.metrics.malformed.inc()
            log.warning("skipping a malformed frame: %s (frame starts %.120r)", error, frame)
            return
        if record is None:
            self.metrics.skipped.inc()
            return
        seen, gap = self.tracker.observe(record.symbol, int(record.trade_id))
        if seen is Seen.DUPLICATE:
            self.metrics.duplicates.inc()
            return
        if gap is not None:
            await self._fill(gap, ingest_time)
        self.producer.produce_trade(record, self._delivered)

    async def _fill(self, gap: Gap, ingest_time: int) -> None:
        """Count and log the gap, then produce what REST still has, before the trade that revealed it."""
        self.metrics.gaps.labels(gap.symbol).inc()
        self.metrics.gap_trades.inc(gap.size)
        log.warning(
            "gap in %s trade ids: %d..%d (%d missing)", gap.symbol, gap.first_missing, gap.last_missing, gap.size
        )
        if self.backfiller is None:
            self.unfilled.append(gap)
            return
        records = await self.backfiller.fetch(gap, ingest_time)
        for record in records:
            self.producer.produce_trade(record, self._delivered)
        self.metrics.backfilled.inc(len(records))
        if len(records) == gap.size:
            log.info("gap in %s filled from REST: %d trade(s)", gap.symbol, len(records))
        else:
            self.unfilled.append(gap)
            log.warning("gap in %s: REST gave %d of %d missing trade(s)", gap.symbol, len(records), gap.size)
