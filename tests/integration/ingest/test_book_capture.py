"""The producer captures the book beside the trades, into the real local Kafka, with a REST snapshot that seeds
an exact rebuild: real recorded Binance futures messages served by the exchange stand-in, and the stand-in's
synthetic spot book (what the offline demo captures)."""

from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal

from lakehouse.book.rebuild import Applied, OrderBook
from lakehouse.book.updates import DepthUpdate
from lakehouse.ingest.exchange_feed import ProducerOptions
from lakehouse.ingest.standin import ExchangeStandIn
from lakehouse.schema.book import BookTickerRecord, DepthSnapshotRecord, DepthUpdateRecord
from lakehouse.settings import Settings
from tests.integration.ingest.conftest import KafkaRecord, read_topic
from tests.integration.ingest.test_producer import run_against
from tests.utils.recordings import recorded_messages, recording

FUTURES = "binance_usdm_btcusdt_20240808.gz"


def _kinds() -> Counter[str]:
    return Counter(message["stream"].split("@", 1)[1] for message in recorded_messages(FUTURES) if "stream" in message)


def _diff(record: KafkaRecord) -> DepthUpdate:
    value = DepthUpdateRecord.model_validate(record.value)
    return DepthUpdate(
        symbol=value.symbol,
        first_id=value.first_update_id,
        final_id=value.final_update_id,
        previous_final_id=value.previous_final_update_id,
        event_time_ms=value.event_time,
        bids=tuple((Decimal(p), Decimal(q)) for p, q in value.bids),
        asks=tuple((Decimal(p), Decimal(q)) for p, q in value.asks),
    )


def _with_books(settings: Settings, topic: str, **update: object) -> Settings:
    """The settings with the book streams on, each book topic named after the test's trade topic."""
    return settings.model_copy(
        update={
            "book_streams": True,
            "kafka_book_ticker_topic": f"{topic}-book-ticker",
            "kafka_depth_topic": f"{topic}-depth",
            "kafka_depth_snapshot_topic": f"{topic}-depth-snapshot",
            **update,
        }
    )


def _seeded(snapshot: DepthSnapshotRecord) -> OrderBook:
    """An order book loaded with a snapshot, as Binance's procedure starts."""
    book = OrderBook(snapshot.symbol)
    book.load_snapshot(
        snapshot.last_update_id,
        [(Decimal(p), Decimal(q)) for p, q in snapshot.bids],
        [(Decimal(p), Decimal(q)) for p, q in snapshot.asks],
    )
    return book


def test_every_recorded_book_message_lands_once_and_the_snapshot_seeds_an_exact_rebuild(
    settings: Settings, topic: str
) -> None:
    kinds = _kinds()
    trades, tickers, diffs = kinds["trade"], kinds["bookTicker"], kinds["depth@0ms"]
    # A futures recording: snapshots from /fapi/v1/depth.
    live = _with_books(settings, topic, binance_market="usdm")
    with ExchangeStandIn(["BTCUSDT"], recording=recording(FUTURES), speed=0) as standin:
        metrics = run_against(
            standin,
            live,
            topic,
            # every trade and book message acknowledged, and at least the first snapshot
            until=lambda m: (
                m.produced == trades and m.snapshots >= 1 and m.book_produced == tickers + diffs + m.snapshots
            ),
            options=ProducerOptions(symbols=["BTCUSDT"]),
            timeout_s=120,
        )
        final_book = standin.books["BTCUSDT"]
        paths = dict(standin.stats.rest_paths)
    assert metrics.malformed == 0 and metrics.depth_breaks == 0  # the recorded chain is unbroken
    assert set(paths) == {"/fapi/v1/depth"} and paths["/fapi/v1/depth"] >= metrics.snapshots

    ticker_records = read_topic(live.kafka_bootstrap, live.kafka_book_ticker_topic, expected=tickers)
    diff_records = read_topic(live.kafka_bootstrap, live.kafka_depth_topic, expected=diffs)
    snapshots = read_topic(live.kafka_bootstrap, live.kafka_depth_snapshot_topic, expected=metrics.snapshots)
    assert len(ticker_records) == tickers and len(diff_records) == diffs and len(snapshots) == metrics.snapshots
    assert {record.key for record in ticker_records + diff_records + snapshots} == {b"BTCUSDT"}
    assert all(BookTickerRecord.model_validate(record.value).source == "binance" for record in ticker_records)
    # One key, one partition: the diffs keep the exchange's order, so the chain holds in Kafka too.
    ordered = [_diff(record) for record in sorted(diff_records, key=lambda record: record.offset)]
    assert all(later.previous_final_id == earlier.final_id for earlier, later in itertools.pairwise(ordered))

    # Binance's procedure on what Kafka holds: the snapshot, then the diffs after it, gives the exchange's book.
    book = _seeded(DepthSnapshotRecord.model_validate(snapshots[0].value))
    outcomes = Counter(book.apply(diff) for diff in ordered)
    assert set(outcomes) <= {Applied.APPLIED, Applied.STALE} and outcomes[Applied.APPLIED] > 0
    assert book.last_update_id == final_book.last_update_id == ordered[-1].final_id
    assert book.top(20) == final_book.top(20)
    # A snapshot holds the best 1,000 levels, so deeper ones are missing, but no level is ever wrong.
    assert all(final_book.bids.get(price) == quantity for price, quantity in book.bids.items())
    assert all(final_book.asks.get(price) == quantity for price, quantity in book.asks.items())


def test_the_synthetic_book_is_captured_as_a_spot_chain_that_rebuilds_the_stand_ins_book(
    settings: Settings, topic: str
) -> None:
    live = _with_books(settings, topic)
    symbols = ["BTCUSDT", "ETHUSDT"]
    # 600 trades at 200/s: three seconds of synthetic market, about 30 book steps a symbol.
    with ExchangeStandIn(symbols, rate_per_s=200, total=600) as standin:
        metrics = run_against(
            standin,
            live,
            topic,
            until=lambda m: (
                standin.finished.is_set()
                and m.produced == 600
                and m.snapshots >= len(symbols)
                and m.book_produced == standin.stats.book_sent + m.snapshots
            ),
            options=ProducerOptions(symbols=symbols),
            timeout_s=60,
        )
        books = {symbol: standin.books[symbol] for symbol in symbols}
        paths = dict(standin.stats.rest_paths)
    assert metrics.malformed == 0 and metrics.depth_breaks == 0
    assert set(paths) == {"/api/v3/depth"}  # spot, the default market

    # Every record was acknowledged before the producer stopped: each topic is read to its end.
    diffs = read_topic(live.kafka_bootstrap, live.kafka_depth_topic, expected=1, settle_s=2)
    tickers = read_topic(live.kafka_bootstrap, live.kafka_book_ticker_topic, expected=1, settle_s=2)
    snapshots = read_topic(live.kafka_bootstrap, live.kafka_depth_snapshot_topic, expected=metrics.snapshots)
    assert len(diffs) + len(tickers) + len(snapshots) == metrics.book_produced  # each once
    for symbol in symbols:
        ordered = [_diff(record) for record in sorted(records_of(diffs, symbol), key=lambda record: record.offset)]
        assert len(ordered) >= 10
        assert all(later.first_id == earlier.final_id + 1 for earlier, later in itertools.pairwise(ordered))
        book = _seeded(DepthSnapshotRecord.model_validate(records_of(snapshots, symbol)[0].value))
        outcomes = Counter(book.apply(diff) for diff in ordered)
        assert set(outcomes) <= {Applied.APPLIED, Applied.STALE} and outcomes[Applied.APPLIED] > 0
        # The whole book (50 levels a side, all inside the 1,000-level snapshot), level for level.
        final = books[symbol]
        assert (book.bids, book.asks, book.last_update_id) == (final.bids, final.asks, final.last_update_id)
        # A ticker follows every diff that moved the best levels, so the newest one is the book's top.
        newest = max(records_of(tickers, symbol), key=lambda record: record.offset)
        ticker = BookTickerRecord.model_validate(newest.value)
        bids, asks = book.top(1)
        sent = (ticker.bid_price, ticker.bid_quantity, ticker.ask_price, ticker.ask_quantity)
        assert tuple(Decimal(value) for value in sent) == (*bids[0], *asks[0])


def records_of(records: list[KafkaRecord], symbol: str) -> list[KafkaRecord]:
    return [record for record in records if record.key == symbol.encode()]
