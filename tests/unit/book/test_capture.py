"""What the producer decides about book messages: their stream, when a book needs a snapshot, the weight budget."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from lakehouse.book.capture import BookStream, DepthChainWatch, Verdict, WeightBudget, book_stream
from lakehouse.book.updates import parse_depth_snapshot, parse_depth_update
from lakehouse.ingest.sources import stream_url
from lakehouse.ingest.standin import subscribed_symbols, subscriptions
from lakehouse.schema.book import DepthSnapshotRecord, depth_snapshot_record
from tests.utils.recordings import recorded_messages, stream_messages
from tests.utils.trades import binance_trade

FUTURES = "binance_usdm_btcusdt_20240808.gz"
SPOT_TICKER = {"u": 400900217, "s": "BNBUSDT", "b": "25.35190000", "B": "31.21", "a": "25.36520000", "A": "40.66"}


def test_every_recorded_message_is_told_apart_by_its_payload_alone() -> None:
    kinds: dict[str, set[BookStream | None]] = {}
    for message in itertools.islice(recorded_messages(FUTURES), 20_000):
        if "stream" in message:
            kinds.setdefault(message["stream"].split("@", 1)[1], set()).add(book_stream(message["data"]))
    assert kinds == {"trade": {None}, "bookTicker": {BookStream.BOOK_TICKER}, "depth@0ms": {BookStream.DEPTH}}
    assert book_stream(SPOT_TICKER) is BookStream.BOOK_TICKER  # spot tickers carry no event type
    assert book_stream(binance_trade()) is None
    assert book_stream({"u": 1, "s": "BTCUSDT", "b": "1"}) is None  # half a ticker is not one


def test_a_book_needs_a_snapshot_at_its_first_diff_and_after_a_break_never_in_between() -> None:
    diffs = [parse_depth_update(data) for data in itertools.islice(stream_messages(FUTURES, "@depth@0ms"), 500)]
    watch = DepthChainWatch()
    verdicts = [watch.observe(diff)[0] for diff in diffs]
    assert verdicts[0] is Verdict.FIRST and set(verdicts[1:]) == {Verdict.CONTINUES}

    lost = DepthChainWatch()
    observed = [lost.observe(diff) for index, diff in enumerate(diffs) if index != 200]
    breaks = [gap for verdict, gap in observed if verdict is Verdict.BREAK]
    assert len(breaks) == 1 and breaks[0] is not None
    assert breaks[0].expected_after == diffs[199].final_id and breaks[0].final_id == diffs[201].final_id
    assert f"broken after update {diffs[199].final_id}" in breaks[0].describe()


def test_a_spot_chain_breaks_when_U_skips_past_the_previous_u_plus_one() -> None:
    first = parse_depth_update({"e": "depthUpdate", "E": 1, "s": "TRXUSDT", "U": 10, "u": 12, "b": [], "a": []})
    watch = DepthChainWatch()
    assert watch.observe(first)[0] is Verdict.FIRST
    assert watch.observe(replace(first, first_id=13, final_id=15))[0] is Verdict.CONTINUES
    verdict, gap = watch.observe(replace(first, first_id=17, final_id=18))
    assert verdict is Verdict.BREAK and gap is not None and gap.expected_after == 15
    assert watch.observe(replace(first, symbol="BTCUSDT"))[0] is Verdict.FIRST  # each symbol its own chain


def test_the_weight_budget_spends_a_minutes_share_then_makes_snapshots_wait() -> None:
    now = [0.0]
    budget = WeightBudget(per_minute=1200, clock=lambda: now[0])
    assert [budget.wait_for(50) for _ in range(24)] == [0.0] * 24  # 24 snapshots of 1,000 levels a minute
    assert budget.wait_for(50) == pytest.approx(2.5)  # 50 weight refill at 20 a second
    now[0] += 2.5
    assert budget.wait_for(50) == 0.0
    with pytest.raises(ValueError, match="exceeds the budget"):
        budget.wait_for(5000)


def test_one_connection_subscribes_trades_and_book_streams_of_every_symbol() -> None:
    url = stream_url("wss://stream.binance.com:9443", ["BTCUSDT", "ETHUSDT"], book=True)
    assert url == (
        "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/btcusdt@bookTicker/btcusdt@depth@100ms/"
        "ethusdt@trade/ethusdt@bookTicker/ethusdt@depth@100ms"
    )
    path = url.removeprefix("wss://stream.binance.com:9443")
    every = {"trade", "bookTicker", "depth"}
    assert subscriptions(path) == {"BTCUSDT": every, "ETHUSDT": every}
    assert subscribed_symbols(path) == {"BTCUSDT", "ETHUSDT"}
    assert stream_url("ws://x", ["BTCUSDT"]) == "ws://x/stream?streams=btcusdt@trade"


def test_a_rest_snapshot_becomes_a_record_digit_for_digit_or_is_refused_with_the_field() -> None:
    body = {"lastUpdateId": 1027024, "bids": [["4.00000000", "431.00000000"]], "asks": [["4.00000200", "12.0"]]}
    record = depth_snapshot_record(parse_depth_snapshot(body, "bnbbtc"), "binance", ingest_time=1_700_000_000_000)
    assert record.symbol == "BNBBTC" and record.last_update_id == 1027024
    assert record.bids == [["4.00000000", "431.00000000"]] and record.asks == [["4.00000200", "12.0"]]
    assert DepthSnapshotRecord.model_validate_json(record.to_json_bytes()) == record
    with pytest.raises(ValueError, match="lastUpdateId"):
        parse_depth_snapshot({"bids": [], "asks": []}, "BNBBTC")
    with pytest.raises(ValueError, match=r"bids\[0\]"):
        parse_depth_snapshot({"lastUpdateId": 1, "bids": [["x", "1"]], "asks": []}, "BNBBTC")
