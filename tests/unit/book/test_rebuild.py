"""Order books rebuilt by Binance's rules: hand-made cases, then the real recorded depth and book tickers."""

from __future__ import annotations

import csv
import itertools
import re
from decimal import Decimal as D

import pytest

from lakehouse.book.rebuild import Applied, BookNotSyncedError, ChainBreak, OrderBook, chain_breaks
from lakehouse.book.updates import (
    DepthUpdate,
    MalformedBookMessage,
    parse_book_ticker,
    parse_depth_update,
)
from tests.utils.recordings import recorded_messages, recording, stream_messages


def spot(first: int, final: int, bids=(), asks=()) -> DepthUpdate:
    return DepthUpdate("TRXUSDT", first, final, None, 0, tuple(bids), tuple(asks))


def futures(first: int, final: int, previous: int, bids=(), asks=()) -> DepthUpdate:
    return DepthUpdate("BTCUSDT", first, final, previous, 0, tuple(bids), tuple(asks))


def test_a_spot_book_drops_stale_diffs_then_follows_the_chain() -> None:
    book = OrderBook("TRXUSDT")
    book.load_snapshot(100, bids=[(D("1.0"), D("5")), (D("0.9"), D("7"))], asks=[(D("1.1"), D("3"))])
    assert book.apply(spot(90, 100, bids=[(D("1.0"), D("0"))])) is Applied.STALE  # in the snapshot already
    assert book.apply(spot(95, 103, bids=[(D("1.0"), D("6"))], asks=[(D("1.2"), D("1"))])) is Applied.APPLIED
    assert book.apply(spot(104, 106, bids=[(D("0.9"), D("0"))], asks=[(D("1.05"), D("2"))])) is Applied.APPLIED
    assert book.last_update_id == 106
    assert book.top(2) == ([(D("1.0"), D("6"))], [(D("1.05"), D("2")), (D("1.1"), D("3"))])


def test_a_gap_breaks_the_book_until_a_new_snapshot() -> None:
    book = OrderBook("TRXUSDT")
    book.load_snapshot(100, bids=[], asks=[])
    assert book.apply(spot(101, 105)) is Applied.APPLIED
    broken = book.apply(spot(107, 110))  # 106 never arrived
    assert isinstance(broken, ChainBreak) and not book.synced
    assert broken.describe() == "TRXUSDT: depth chain broken after update 105 (got U=107 u=110)"
    with pytest.raises(BookNotSyncedError):
        book.apply(spot(111, 112))
    book.load_snapshot(110, bids=[(D("1"), D("1"))], asks=[])
    assert book.apply(spot(111, 112)) is Applied.APPLIED and book.synced


def test_the_first_diff_after_a_snapshot_must_straddle_it() -> None:
    spot_book, futures_book = OrderBook("TRXUSDT"), OrderBook("BTCUSDT")
    spot_book.load_snapshot(100, [], [])
    assert isinstance(spot_book.apply(spot(102, 104)), ChainBreak)  # 101 is missing
    futures_book.load_snapshot(100, [], [])
    assert futures_book.apply(futures(95, 100, 94)) is Applied.APPLIED  # futures: U <= id <= u
    assert futures_book.apply(futures(101, 108, 100)) is Applied.APPLIED  # pu = previous u
    assert isinstance(futures_book.apply(futures(109, 112, 107)), ChainBreak)


def test_messages_are_read_exactly_or_refused_with_the_field() -> None:
    update = parse_depth_update(
        {"e": "depthUpdate", "E": 5, "s": "trxusdt", "U": 1, "u": 2, "b": [["0.2311", "804627.7"]], "a": []}
    )
    assert update.symbol == "TRXUSDT" and update.bids == ((D("0.2311"), D("804627.7")),)
    assert update.previous_final_id is None
    for bad, field in (({"U": 3}, "U 3 is after u 2"), ({"b": [["x", "1"]]}, "b[0] price"), ({"E": -1}, "E:")):
        message = {"e": "depthUpdate", "E": 5, "s": "X", "U": 1, "u": 2, "b": [], "a": [], **bad}
        with pytest.raises(MalformedBookMessage, match=re.escape(field)):
            parse_depth_update(message)
    with pytest.raises(MalformedBookMessage, match="b: expected a decimal string"):
        parse_book_ticker({"u": 1, "s": "X", "b": 1.5, "B": "1", "a": "2", "A": "1"})


def test_the_recorded_futures_depth_chain_is_unbroken_and_a_lost_diff_is_found() -> None:
    updates = [parse_depth_update(data) for data in stream_messages("binance_usdm_btcusdt_20240808.gz", "@depth@0ms")]
    assert len(updates) == 6_551  # ../shared/data/README.md
    assert chain_breaks(updates) == []
    lost = updates[3000]
    (found,) = chain_breaks(updates[:3000] + updates[3001:])
    assert (found.expected_after, found.previous_final_id) == (updates[2999].final_id, lost.final_id)


def spot_diff(first: int, final: int, levels: list[dict[str, str]]) -> DepthUpdate:
    """One diff of the spot CSV recording (one row per price level) as the WebSocket message it was."""
    sides: dict[str, list[list[str]]] = {"0": [], "1": []}
    for level in levels:
        sides[level["IsAsk"]].append([level["Price"], level["Quantity"]])
    message = {"e": "depthUpdate", "E": int(levels[0]["EventTime"]) // 1000, "s": levels[0]["Symbol"], "U": first,
               "u": final, "b": sides["0"], "a": sides["1"]}  # fmt: skip
    return parse_depth_update(message)


def test_the_recorded_spot_depth_chain_is_unbroken_and_rebuilds_a_book() -> None:
    rows = list(csv.DictReader(recording("binance_spot_trxusdt_depth_20250304.csv").open()))
    by_diff = itertools.groupby(rows, key=lambda r: (int(r["FirstUpdateId"]), int(r["FinalUpdateId"])))
    updates = [spot_diff(first, final, list(levels)) for (first, final), levels in by_diff]
    assert len(updates) > 1_000 and chain_breaks(updates) == []
    book = OrderBook("TRXUSDT")
    book.load_snapshot(updates[0].first_id - 1, bids=[], asks=[])  # as if a snapshot just before the first diff
    assert all(book.apply(update) is Applied.APPLIED for update in updates)
    (best_bid, _), (best_ask, _) = book.top(1)[0][0], book.top(1)[1][0]
    assert D("0.2") < best_bid < best_ask < D("0.3")  # TRX traded near 0.23 that day


def test_every_recorded_book_ticker_parses_and_is_never_crossed() -> None:
    tickers = [parse_book_ticker(data) for data in stream_messages("binance_usdm_btcusdt_20240808.gz", "@bookTicker")]
    assert len(tickers) == 66_089
    assert all(t.bid_price < t.ask_price for t in tickers)
    assert all(b.update_id >= a.update_id for a, b in itertools.pairwise(tickers))


def test_a_book_rebuilt_from_the_recorded_snapshot_matches_the_exchanges_book_ticker() -> None:
    """The recording holds the REST snapshot the recorder fetched, buffered diffs around it and the
    exchange's own top of book: wherever a ticker's update id is a diff's final id, they must agree."""
    snapshot, diffs, tickers = None, [], {}
    for message in recorded_messages("binance_usdm_btcusdt_20240808.gz"):
        if "lastUpdateId" in message:
            snapshot = message
        elif message["stream"].endswith("@bookTicker"):
            ticker = parse_book_ticker(message["data"])
            tickers[ticker.update_id] = ticker
        elif "@depth" in message["stream"]:
            diffs.append(parse_depth_update(message["data"]))
    assert snapshot is not None
    book = OrderBook("BTCUSDT")
    levels = {side: [(D(price), D(quantity)) for price, quantity in snapshot[side]] for side in ("bids", "asks")}
    book.load_snapshot(snapshot["lastUpdateId"], levels["bids"], levels["asks"])
    outcomes = [book.apply(diff) for diff in diffs]
    assert outcomes.count(Applied.STALE) == 4 and outcomes.count(Applied.APPLIED) == len(diffs) - 4
    compared = 0
    book.load_snapshot(snapshot["lastUpdateId"], levels["bids"], levels["asks"])
    for diff in diffs:
        if book.apply(diff) is Applied.APPLIED and diff.final_id in tickers:
            ticker = tickers[diff.final_id]
            (best_bid,), (best_ask,) = book.top(1)
            assert best_bid == (ticker.bid_price, ticker.bid_quantity), diff.final_id
            assert best_ask == (ticker.ask_price, ticker.ask_quantity), diff.final_id
            compared += 1
    assert compared > 500
