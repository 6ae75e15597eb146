"""Frame -> canonical record -> Kafka, with gap detection, backfill and duplicate suppression.

Nothing the producer saw is dropped silently: a trade Kafka did not take (its delivery failed, e.g.
after a Kafka outage longer than the message timeout) is produced again, and a gap REST could not
fill is fetched again, both by `retry_pending` with exponential backoff; what is still pending shows
in the `lakehouse_producer_undelivered` and `..._unfilled_trades` gauges and in log lines naming the ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from confluent_kafka import KafkaError, Message

from lakehouse.ingest.backfill import RestBackfiller
from lakehouse.ingest.binance import MalformedMessage, decode_payload, is_trade_payload, to_trade_record
from lakehouse.ingest.book_feed import BookFeed
from lakehouse.ingest.exchange_feed_metrics import ProducerMetrics
from lakehouse.ingest.sequence import Gap, Seen, SequenceTracker, remaining_gaps
from lakehouse.kafka.trade_producer import TradeProducer
from lakehouse.schema.trade import now_ms

log = logging.getLogger(__name__)

POLL_EVERY = 200
IDLE_POLL_S = 0.02
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0


class TradePipeline:
    """Shared by the live and the replay source; one instance per producer process.

    Delivery reports are served on the event loop: by handle() every POLL_EVERY records, and by
    serve_reports() while the stream is quiet. (A poller thread would cost a GIL hand-off per report.)
    """

    def __init__(
        self,
        producer: TradeProducer,
        metrics: ProducerMetrics,
        backfiller: RestBackfiller | None = None,
        book: BookFeed | None = None,
    ) -> None:
        self.producer = producer
        self.metrics = metrics
        self.backfiller = backfiller
        self.book = book  # captures book ticker and depth messages; without it they are skipped
        self.tracker = SequenceTracker()
        self.unfilled: list[Gap] = []  # missing trade ids REST has not given yet: fetched again
        self.undelivered: list[tuple[bytes, bytes]] = []  # (key, value) Kafka did not take: produced again
        self._since_poll = 0

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.metrics.produced += 1
            latency = message.latency()
            if latency is not None:
                self.metrics.observe_latency(latency)
            return
        self.metrics.produce_failed += 1
        value = message.value()
        if value is None:
            log.error("Kafka did not take a record without a value: %s", error.str())
            return
        if not self.undelivered:  # one line per episode; retry_pending names the ids
            log.error("Kafka did not take a trade (%s); it will be produced again", error.str())
        self.undelivered.append((message.key() or b"", value))
        self.metrics.undelivered = len(self.undelivered)

    async def handle(self, frame: str | bytes | dict[str, Any]) -> None:
        self.metrics.received += 1
        ingest_time = now_ms()
        try:
            payload = decode_payload(frame)
            record = to_trade_record(payload, ingest_time) if is_trade_payload(payload) else None
        except MalformedMessage as error:
            self.metrics.malformed += 1
            log.warning("skipping a malformed frame: %s (frame starts %.120r)", error, frame)
            return
        if record is None:
            if self.book is None or not self.book.handle(payload, ingest_time):
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
            self._count_unfilled()
            return
        left = await self._backfill(gap, ingest_time)
        if not left:
            log.info("gap in %s filled from REST: %d trade(s)", gap.symbol, gap.size)
        else:
            log.warning("gap in %s: REST did not give %s; fetching again later", gap.symbol, describe_gaps(left))

    async def _backfill(self, gap: Gap, ingest_time: int) -> list[Gap]:
        """Produce what REST has of the gap; keep (and return) the ids it did not give."""
        assert self.backfiller is not None
        records = await self.backfiller.fetch(gap, ingest_time)
        for record in records:
            self.producer.produce_trade(record, self._delivered)
        self.metrics.backfilled += len(records)
        left = remaining_gaps(gap, {int(record.trade_id) for record in records})
        self.unfilled.extend(left)
        self._count_unfilled()
        return left

    def _count_unfilled(self) -> None:
        self.metrics.unfilled_trades = sum(gap.size for gap in self.unfilled)

    async def retry_pending(self, stop: asyncio.Event) -> None:
        """Until stop: produce again what Kafka did not take, and fetch again the gaps REST did not fill.

        Backoff doubles (from RETRY_FIRST_S up to RETRY_MAX_S) while something stays pending, so an
        exchange or broker that is down is not hammered; it resets once nothing is.
        """
        delay = RETRY_FIRST_S
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
            if not self.undelivered and not self._refetchable() and not (self.book and self.book.undelivered):
                delay = RETRY_FIRST_S
                continue
            self.redeliver()
            await self.refetch_gaps()
            pending = self.undelivered or self._refetchable() or (self.book and self.book.undelivered)
            delay = min(delay * 2, RETRY_MAX_S) if pending else RETRY_FIRST_S

    def _refetchable(self) -> list[Gap]:
        """Unfilled gaps REST may still give: not those over the backfiller's limit (they stay listed)."""
        if self.backfiller is None:
            return []
        limit = self.backfiller.max_trades
        return [gap for gap in self.unfilled if gap.size <= limit]

    def redeliver(self) -> None:
        if self.book is not None:
            self.book.redeliver()
        records, self.undelivered = self.undelivered, []
        self.metrics.undelivered = 0
        if not records:
            return
        log.warning("producing again %d trade(s) Kafka did not take: %s", len(records), describe_records(records))
        for key, value in records:
            self.producer.produce(key, value, self._delivered)
        self.metrics.redelivered += len(records)

    async def refetch_gaps(self) -> None:
        gaps = self._refetchable()
        if not gaps:
            return
        self.unfilled = [gap for gap in self.unfilled if gap not in gaps]
        ingest_time = now_ms()
        for gap in gaps:
            left = await self._backfill(gap, ingest_time)
            if left:
                log.warning("gap in %s still unfilled: %s", gap.symbol, describe_gaps(left))
            else:
                log.info("gap in %s %d..%d filled on a retry", gap.symbol, gap.first_missing, gap.last_missing)
        self._count_unfilled()

    def pending_report(self) -> str | None:
        """What is still not in Kafka (for the last log line), or None when nothing is."""
        parts = []
        if self.unfilled:
            parts.append(f"unfilled gaps {describe_gaps(self.unfilled)}")
        if self.undelivered:
            parts.append(f"undelivered {describe_records(self.undelivered)}")
        if self.book is not None and self.book.undelivered:
            parts.append(f"{len(self.book.undelivered)} undelivered book record(s)")
        return "; ".join(parts) or None


def describe_gaps(gaps: list[Gap]) -> str:
    return ", ".join(f"{gap.symbol} {gap.first_missing}..{gap.last_missing}" for gap in gaps)


def describe_records(records: list[tuple[bytes, bytes]]) -> str:
    """`BTCUSDT 12 trade(s) ids 100..140, ...` from canonical record values (ids may be non-numeric)."""
    by_symbol: dict[str, list[str]] = {}
    for _, value in records:
        try:
            record = json.loads(value)
            by_symbol.setdefault(str(record["symbol"]), []).append(str(record["trade_id"]))
        except (ValueError, KeyError, TypeError):
            by_symbol.setdefault("?", []).append("?")
    return ", ".join(
        f"{symbol} {len(ids)} trade(s) ids {min(ids, key=_id_order)}..{max(ids, key=_id_order)}"
        for symbol, ids in sorted(by_symbol.items())
    )


def _id_order(trade_id: str) -> tuple[int, str]:
    return (int(trade_id), "") if trade_id.isdigit() else (0, trade_id)
