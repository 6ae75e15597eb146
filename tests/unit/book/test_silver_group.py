"""One symbol's batch in the silver book job: validation to quarantine, tickers once each in order, the
book's rows and events, and the state handed to the next batch."""

from __future__ import annotations

import json

from lakehouse.book.silver_group import GroupState, InputRecord, process_group


def ticker(update_id: int, bid: str = "100", ask: str = "101", event_time: int | None = 5_000) -> bytes:
    return json.dumps({"source": "binance", "symbol": "BTCUSDT", "update_id": update_id, "bid_price": bid,
                       "bid_quantity": "1", "ask_price": ask, "ask_quantity": "2", "event_time": event_time,
                       "ingest_time": 6_000}).encode()  # fmt: skip


def diff(first: int, final: int, at_ms: int, bids: list[list[str]]) -> bytes:
    return json.dumps({"source": "binance", "symbol": "BTCUSDT", "first_update_id": first, "final_update_id": final,
                       "previous_final_update_id": None, "event_time": at_ms, "bids": bids, "asks": [["101", "1"]],
                       "ingest_time": at_ms}).encode()  # fmt: skip


def snapshot(last_update_id: int) -> bytes:
    return json.dumps({"source": "binance", "symbol": "BTCUSDT", "last_update_id": last_update_id,
                       "bids": [["99", "1"]], "asks": [["102", "1"]], "ingest_time": 1}).encode()  # fmt: skip


def record(kind: str, value: bytes | None, offset: int) -> InputRecord:
    return InputRecord(kind, value, f"t-{kind}", 0, offset, 1_000)  # type: ignore[arg-type]


def test_bad_records_go_to_quarantine_with_the_field_and_good_ones_are_not_held_back() -> None:
    records = [
        record("ticker", b"{not json", 0),
        record("ticker", None, 1),
        record("ticker", ticker(5, bid="101", ask="101"), 2),
        record("diff", diff(10, 9, 1_000, []), 3),  # U after u
        record("snapshot", b'{"source":"binance","symbol":"BTCUSDT"}', 4),
        record("ticker", ticker(6), 5),
    ]
    outputs, _ = process_group("BTCUSDT", records, None)
    quarantined = {o.record.offset: o.detail for o in outputs if o.kind == "quarantine" and o.record}
    assert set(quarantined) == {0, 1, 2, 3, 4}
    assert quarantined[3] == "first_update_id: after final_update_id"
    assert quarantined[1] == "value: a tombstone (no value)"
    assert quarantined[2] == "bid_price: not below ask_price (a crossed or locked top of book)"
    assert quarantined[4].startswith("last_update_id: Field required")
    assert [o.update_id for o in outputs if o.kind == "ticker"] == [6]


def test_tickers_are_published_once_in_update_id_order_across_batches() -> None:
    outputs, state = process_group("BTCUSDT", [record("ticker", ticker(i), i) for i in (3, 1, 2, 2)], None)
    assert [o.update_id for o in outputs if o.kind == "ticker"] == [1, 2, 3]
    outputs, state = process_group("BTCUSDT", [record("ticker", ticker(i), 10 + i) for i in (2, 3, 4)], state)
    assert [o.update_id for o in outputs if o.kind == "ticker"] == [4] and state.last_ticker_id == 4
    spot = [o for o in process_group("BTCUSDT", [record("ticker", ticker(9, event_time=None), 0)], None)[0]]
    assert spot[0].time_ms == 6_000  # spot tickers carry no event time: the ingest time stands in


def test_the_book_state_carries_over_and_rows_come_out_as_json_levels() -> None:
    first = [record("diff", diff(101, 101, 1_000, [["100", "1"]]), 0), record("snapshot", snapshot(100), 0)]
    outputs, state = process_group("BTCUSDT", first, None)
    assert [(o.kind, o.update_id) for o in outputs] == [("event", 100)]
    assert outputs[0].detail.startswith("resync: BTCUSDT: seeded from snapshot 100")
    assert isinstance(state, GroupState) and state.builder_json
    outputs, _ = process_group("BTCUSDT", [record("diff", diff(102, 102, 2_000, [["99", "0"]]), 1)], state)
    (book,) = outputs
    assert (book.kind, book.time_ms, book.update_id, book.count) == ("book", 1_000, 101, 1)
    assert json.loads(book.bids or "") == [["100", "1"], ["99", "1"]]
    assert json.loads(book.asks or "") == [["101", "1"], ["102", "1"]]
