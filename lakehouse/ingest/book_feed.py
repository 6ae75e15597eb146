"""Book frames -> canonical records -> their Kafka topics, with REST depth snapshots when a book needs one.

The producer captures; it does not rebuild. Every `@bookTicker` and `@depth` message becomes a record
on `raw-book-ticker` / `raw-depth` (keyed by symbol, so one partition keeps a symbol's diffs in order),
and a REST snapshot goes to `raw-depth-snapshot` when a symbol's first diff arrives and after every
break in its diff chain: the silver job rebuilds each book from those, by update ids. Like trades,
nothing is dropped silently: a record Kafka did not take is produced again (`redeliver`), a malformed
message is counted and logged, a snapshot that failed is fetched again on the symbol's next diff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from confluent_kafka import KafkaError, Message

from lakehouse.book.capture import BookStream, DepthChainWatch, Verdict, WeightBudget
from lakehouse.book.capture import book_stream as classify
from lakehouse.book.updates import (
    DepthSnapshot,
    MalformedBookMessage,
    parse_book_ticker,
    parse_depth_snapshot,
    parse_depth_update,
)
from lakehouse.ingest.exchange_feed_metrics import ProducerMetrics
from lakehouse.ingest.markets import DEPTH_LIMIT, MARKETS, BinanceMarket
from lakehouse.kafka.trade_producer import TradeProducer
from lakehouse.schema.book import book_ticker_record, depth_snapshot_record, depth_update_record
from lakehouse.schema.trade import now_ms
from lakehouse.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BookTopics:
    book_ticker: str
    depth: str
    snapshot: str

    @classmethod
    def of(cls, settings: Settings) -> BookTopics:
        return cls(settings.kafka_book_ticker_topic, settings.kafka_depth_topic, settings.kafka_depth_snapshot_topic)

    def __iter__(self) -> Iterator[str]:
        return iter((self.book_ticker, self.depth, self.snapshot))


class SnapshotSource:
    """`GET /api/v3/depth?symbol=&limit=1000` (`/fapi/v1/depth` on futures) within the request-weight
    budget; None (logged) on failure."""

    def __init__(
        self,
        base_url: str,
        *,
        market: BinanceMarket = MARKETS["spot"],
        budget: WeightBudget | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.market = market
        self.budget = budget or WeightBudget()
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)

    async def fetch(self, symbol: str) -> DepthSnapshot | None:
        while (wait := self.budget.wait_for(self.market.depth_weight)) > 0:
            await asyncio.sleep(wait)
        try:
            params: dict[str, str | int] = {"symbol": symbol, "limit": DEPTH_LIMIT}
            response = await self._client.get(self.market.depth_path, params=params)
            response.raise_for_status()
            return parse_depth_snapshot(response.json(), symbol)
        except (httpx.HTTPError, ValueError, MalformedBookMessage) as error:
            log.warning(
                "depth snapshot of %s from %s failed: %s: %s", symbol, self.base_url, type(error).__name__, error
            )
            return None

    async def close(self) -> None:
        await self._client.aclose()


class BookFeed:
    """Shared by the live and the replay source, beside the trade pipeline, on the same Kafka producer."""

    def __init__(
        self,
        producer: TradeProducer,
        metrics: ProducerMetrics,
        snapshots: SnapshotSource | None,
        source: str,
        topics: BookTopics,
    ) -> None:
        self.producer = producer
        self.topics = topics
        self.metrics = metrics
        self.snapshots = snapshots
        self.source = source
        self.chains = DepthChainWatch()
        self.needs_snapshot: set[str] = set()
        self.undelivered: list[tuple[str, bytes, bytes]] = []  # (topic, key, value) Kafka did not take
        self._fetching: dict[str, asyncio.Task[None]] = {}

    def handle(self, payload: Mapping[str, Any], ingest_time: int) -> bool:
        """Capture one payload if it is a book message; False when it is not one (the caller counts it)."""
        stream = classify(payload)
        if stream is None:
            return False
        self.metrics.book_received += 1
        try:
            if stream is BookStream.BOOK_TICKER:
                ticker = book_ticker_record(parse_book_ticker(payload), self.source, ingest_time)
                self._produce(self.topics.book_ticker, ticker.kafka_key(), ticker.to_json_bytes())
                return True
            update = parse_depth_update(payload)
            diff = depth_update_record(update, self.source, ingest_time)
        except (MalformedBookMessage, ValueError) as error:  # ValueError: a record the schema refuses
            self.metrics.malformed += 1
            log.warning("skipping a malformed %s message: %s (payload starts %.120r)", stream.value, error, payload)
            return True
        self._produce(self.topics.depth, diff.kafka_key(), diff.to_json_bytes())
        verdict, gap = self.chains.observe(update)
        if gap is not None:
            self.metrics.depth_breaks += 1
            log.warning("%s; fetching a fresh snapshot", gap.describe())
        if verdict is not Verdict.CONTINUES:
            self.needs_snapshot.add(update.symbol)
        if update.symbol in self.needs_snapshot:
            self._fetch_snapshot(update.symbol)
        return True

    def _fetch_snapshot(self, symbol: str) -> None:
        if self.snapshots is None or symbol in self._fetching:
            return
        task = asyncio.get_running_loop().create_task(self._snapshot(symbol))
        self._fetching[symbol] = task
        task.add_done_callback(lambda _: self._fetching.pop(symbol, None))

    async def _snapshot(self, symbol: str) -> None:
        assert self.snapshots is not None
        snapshot = await self.snapshots.fetch(symbol)
        if snapshot is None:
            return  # still needed: fetched again on the symbol's next diff, within the weight budget
        record = depth_snapshot_record(snapshot, self.source, now_ms())
        self._produce(self.topics.snapshot, record.kafka_key(), record.to_json_bytes())
        self.needs_snapshot.discard(symbol)
        self.metrics.snapshots += 1
        log.info("depth snapshot of %s at update %d captured", symbol, snapshot.last_update_id)

    def _produce(self, topic: str, key: bytes, value: bytes) -> None:
        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is None:
                self.metrics.book_produced += 1
                return
            self.metrics.produce_failed += 1
            if not self.undelivered:
                log.error("Kafka did not take a %s record (%s); it will be produced again", topic, error.str())
            self.undelivered.append((topic, key, value))

        self.producer.produce(key, value, delivered, topic=topic)

    def redeliver(self) -> None:
        records, self.undelivered = self.undelivered, []
        if records:
            log.warning("producing again %d book record(s) Kafka did not take", len(records))
        for topic, key, value in records:
            self._produce(topic, key, value)
        self.metrics.redelivered += len(records)

    async def close(self) -> None:
        """Let snapshot fetches in flight finish (their records then go into the producer's last flush)."""
        if self._fetching:
            await asyncio.gather(*self._fetching.values(), return_exceptions=True)
        if self.snapshots is not None:
            await self.snapshots.close()
