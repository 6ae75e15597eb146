"""Binance trade messages map onto the canonical record (raw and combined-stream forms)."""

import json

import pytest

from lakehouse.ingest.binance import MalformedMessage, parse_message
from tests.utils.trades import binance_trade

NOW = 1_795_000_000_000


def test_raw_trade_message_maps_every_field() -> None:
    message = binance_trade(trade_id=12345, symbol="BNBBTC", maker=True)
    record = parse_message(json.dumps(message), ingest_time_ms=NOW)
    assert record is not None
    assert record.source == "binance"
    assert record.symbol == "BNBBTC"
    assert record.trade_id == "12345"
    assert record.price == "0.00100000"  # decimal strings are kept exactly, trailing zeros included
    assert record.quantity == "100.00000000"
    assert record.trade_time == message["T"]
    assert record.ingest_time == NOW
    assert record.schema_version == 1


def test_maker_flag_gives_the_taker_side() -> None:
    assert parse_message(binance_trade(maker=True), NOW).side == "sell"  # buyer was maker: taker sold
    assert parse_message(binance_trade(maker=False), NOW).side == "buy"


def test_combined_stream_envelope_is_unwrapped() -> None:
    envelope = {"stream": "btcusdt@trade", "data": binance_trade(trade_id=7)}
    record = parse_message(json.dumps(envelope).encode(), NOW)
    assert record is not None and record.trade_id == "7" and record.symbol == "BTCUSDT"


def test_old_messages_with_order_ids_and_unknown_fields_are_tolerated() -> None:
    message = binance_trade(b=88, a=50, X="MARKET", future_field={"x": 1})
    assert parse_message(message, NOW) is not None


@pytest.mark.parametrize(
    "message",
    [
        {"stream": "btcusdt@bookTicker", "data": {"u": 1, "s": "BTCUSDT", "b": "1", "B": "1", "a": "2", "A": "1"}},
        {"stream": "btcusdt@depth", "data": {"e": "depthUpdate", "s": "BTCUSDT"}},
        {"result": None, "id": 1},
    ],
)
def test_other_streams_are_skipped_not_errors(message: dict) -> None:
    assert parse_message(json.dumps(message), NOW) is None


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({k: v for k, v in binance_trade().items() if k != "p"}), "lacks"),
        (json.dumps(binance_trade(p="-5")), "invalid"),
        (json.dumps(binance_trade(m="yes")), "boolean"),
        (json.dumps(binance_trade(T=5)), "invalid"),
        (json.dumps(binance_trade(t="abc")), "invalid"),
        # 1e400 parses as infinity: int() of it raised OverflowError, which once stopped the producer.
        (json.dumps(binance_trade(t=7)).replace('"t": 7', '"t": 1e400'), "must be an integer"),
        (json.dumps(binance_trade(t=12.7)), "must be an integer"),  # never truncated to trade 12
        (json.dumps(binance_trade(T=1.7e12)), "must be an integer"),
        (json.dumps(binance_trade(t=True)), "must be an integer"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),  # deeper than Python's recursion limit
    ],
)
def test_malformed_trades_raise_with_a_reason(frame: str, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse_message(frame, NOW)
