"""The newest trade id per symbol, read from the tail of raw-trades, for a restarted producer."""

from __future__ import annotations

import json

from lakehouse.ingest.resume import newest_ids


def value(symbol: str, trade_id: str, source: str = "binance") -> bytes:
    return json.dumps({"source": source, "symbol": symbol, "trade_id": trade_id}).encode()


def test_the_largest_id_per_symbol_of_our_source_wins_and_junk_is_skipped() -> None:
    values = [
        value("BTCUSDT", "10"),
        value("BTCUSDT", "9"),  # older, later in the log (a backfill): the max counts, not the last
        value("ETHUSDT", "7"),
        value("ETHUSDT", "99", source="api:acme"),  # another source's ids mean nothing here
        value("XRPUSDT", "5"),  # not a symbol we stream
        value("BTCUSDT", "abc"),
        b"not json",
        b"[1, 2]",
        None,
        b"[" * 5000,
    ]
    assert newest_ids(values, "binance", {"BTCUSDT", "ETHUSDT"}) == {"BTCUSDT": 10, "ETHUSDT": 7}
