"""The book kept across micro-batches: buffering, seeding, one row per second, breaks and resyncs, state
that survives a JSON round trip at any batch boundary; then the real futures recording."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal as D

from lakehouse.book.builder import FILL_LIMIT_S, BookBuilder, BookEvent, BookRow
from lakehouse.book.updates import DepthSnapshot, DepthUpdate, parse_book_ticker, parse_depth_update
from tests.utils.recordings import recorded_messages

SYMBOL = "TRXUSDT"


def diff(first: int, final: int, at_ms: int, bids=(), asks=()) -> DepthUpdate:
    """A spot diff (chain: U = previous u + 1)."""
    return DepthUpdate(SYMBOL, first, final, None, at_ms, tuple(bids), tuple(asks))


def snapshot(last_update_id: int, bids=(), asks=()) -> DepthSnapshot:
    return DepthSnapshot(SYMBOL, last_update_id, tuple(bids), tuple(asks))


def level(price: str, quantity: str) -> tuple[D, D]:
    return D(price), D(quantity)


def test_diffs_wait_for_a_snapshot_then_each_closed_second_is_published_once() -> None:
    builder = BookBuilder(SYMBOL)
    early = [diff(95, 100, 1_000), diff(101, 103, 1_100, bids=[level("1.0", "6")])]
    assert builder.feed(early, []) == ([], [])  # no snapshot yet: nothing can be published
    rows, events = builder.feed([], [snapshot(100, bids=[level("1.0", "5")], asks=[level("1.1", "3")])])
    assert [e.kind for e in events] == ["resync"] and rows == []  # 95-100 stale, 101-103 applied
    rows, events = builder.feed(
        [diff(104, 104, 1_900, asks=[level("1.05", "2")]), diff(105, 106, 2_050, bids=[level("1.0", "0")])], []
    )
    assert events == []
    assert rows == [
        BookRow(1_000, 104, 1_900, 2, (level("1.0", "6"),), (level("1.05", "2"), level("1.1", "3")), D(0), D(0)),
    ]
    # The open second (2,000) is published when a diff of a later second arrives; quiet ones in between too.
    rows, _ = builder.feed([diff(107, 107, 5_200, asks=[level("1.05", "0")])], [])
    assert [(r.second_ms, r.updates, r.last_update_id) for r in rows] == [
        (2_000, 1, 106),
        (3_000, 0, 106),
        (4_000, 0, 106),
    ]
    assert rows[0].bids == () and rows[0].asks == (level("1.05", "2"), level("1.1", "3"))


def test_a_break_is_reported_its_second_never_published_and_a_newer_snapshot_repairs_it() -> None:
    builder = BookBuilder(SYMBOL)
    builder.feed([diff(101, 101, 1_000)], [snapshot(100)])
    rows, events = builder.feed([diff(102, 102, 2_000), diff(104, 104, 2_500)], [])  # 103 was lost
    assert [r.second_ms for r in rows] == [1_000]
    assert [(e.kind, e.update_id) for e in events] == [("break", 104)]
    assert events[0].detail == "TRXUSDT: depth chain broken after update 102 (got U=104 u=104)"
    # Diffs keep coming while the book waits; an old snapshot (before the break) is of no use.
    rows, events = builder.feed([diff(105, 105, 3_000)], [snapshot(101)])
    assert (rows, events) == ([], [])
    rows, events = builder.feed([diff(106, 106, 3_400), diff(107, 107, 4_100)], [snapshot(105, bids=[level("2", "1")])])
    assert [e.kind for e in events] == ["resync"]
    # Second 2,000 (the break) is never published; rows resume with 3,000, the first second after the seed.
    assert [(r.second_ms, r.last_update_id) for r in rows] == [(3_000, 106)]
    assert (builder.breaks, builder.resyncs) == (1, 2)


def test_a_snapshot_that_leaves_a_gap_before_the_buffer_is_discarded() -> None:
    builder = BookBuilder(SYMBOL)
    rows, events = builder.feed([diff(110, 112, 1_000)], [snapshot(100)])  # 101-109 are in neither
    assert rows == [] and [e.kind for e in events] == ["snapshot_gap"]
    assert not builder.book.synced and builder.spare is None
    _, events = builder.feed([diff(113, 113, 1_200)], [snapshot(111)])
    assert [e.kind for e in events] == ["resync"] and builder.book.last_update_id == 113


def test_re_sent_diffs_and_snapshots_change_nothing() -> None:
    updates = [diff(101 + i, 101 + i, 1_000 + 300 * i, bids=[level(f"1.{i}", "1")]) for i in range(12)]
    once, twice = BookBuilder(SYMBOL), BookBuilder(SYMBOL)
    rows_once, _ = once.feed(updates, [snapshot(100)])
    rows_twice, _ = twice.feed(updates[:8], [snapshot(100)])
    more, events = twice.feed(updates, [snapshot(100)])  # everything again, plus the rest
    assert rows_twice + more == rows_once and all(e.kind != "break" for e in events)


def test_depth_within_10_bps_of_the_mid_counts_every_level_of_the_book_not_only_the_top() -> None:
    builder = BookBuilder(SYMBOL)
    bids = [level(f"{100 - i * 0.001:.3f}", "1") for i in range(200)]  # 100.000 down to 99.801
    asks = [level(f"{100.002 + i * 0.001:.3f}", "2") for i in range(200)]  # 100.002 up to 100.201
    builder.feed([diff(101, 101, 0)], [snapshot(100, bids=bids, asks=asks)])
    (row,), _ = builder.feed([diff(102, 102, 1_000)], [])
    # mid 100.001: the band is [99.900999, 100.101001]: bids 100.000..99.901 (100 levels), asks
    # 100.002..100.101 (100 levels), though only 20 levels a side are published.
    assert len(row.bids) == 20 and (row.bid_depth, row.ask_depth) == (D(100), D(200))


def test_quiet_seconds_are_filled_up_to_the_limit() -> None:
    builder = BookBuilder(SYMBOL)
    builder.feed([diff(101, 101, 0)], [snapshot(100)])
    rows, _ = builder.feed([diff(102, 102, 3_600_000)], [])  # an hour later
    assert len(rows) == FILL_LIMIT_S + 1 and rows[-1].second_ms == FILL_LIMIT_S * 1000


# ---------------------------------------------------------------------------------------- the recording
def _futures_recording() -> tuple[list[DepthUpdate], list[DepthSnapshot], dict[int, object]]:
    diffs, snapshots, tickers = [], [], {}
    for message in recorded_messages("binance_usdm_btcusdt_20240808.gz"):
        if "lastUpdateId" in message:
            levels = {s: tuple((D(p), D(q)) for p, q in message[s]) for s in ("bids", "asks")}
            snapshots.append(DepthSnapshot("BTCUSDT", message["lastUpdateId"], levels["bids"], levels["asks"]))
        elif message["stream"].endswith("@bookTicker"):
            ticker = parse_book_ticker(message["data"])
            tickers[ticker.update_id] = ticker
        elif "@depth" in message["stream"]:
            diffs.append(parse_depth_update(message["data"]))
    return diffs, snapshots, tickers


def _feed_in_batches(diffs: list[DepthUpdate], snapshots: list[DepthSnapshot], seed: int) -> tuple[list, list]:
    """Feed in random batches, the state going through JSON between each, as through Spark's state store."""
    rng = random.Random(seed)
    state = BookBuilder("BTCUSDT").to_json()
    rows: list[BookRow] = []
    events: list[BookEvent] = []
    start = 0
    while start < len(diffs):
        end = min(len(diffs), start + rng.randint(1, 400))
        builder = BookBuilder.from_json(state)
        batch_rows, batch_events = builder.feed(diffs[start:end], snapshots if start == 0 else [])
        rows += batch_rows
        events += batch_events
        state = builder.to_json()
        start = end
    return rows, events


def test_the_recorded_futures_book_matches_the_exchanges_top_of_book_in_any_batching() -> None:
    diffs, snapshots, tickers = _futures_recording()
    whole = BookBuilder("BTCUSDT")
    rows, events = whole.feed(diffs, snapshots)
    assert [e.kind for e in events] == ["resync"] and whole.breaks == 0
    assert len(rows) >= 300  # about 6 minutes, one row per second
    seconds = [r.second_ms for r in rows]
    assert seconds == sorted(set(seconds)) and all(b - a == 1000 for a, b in itertools.pairwise(seconds))
    compared = 0
    for row in rows:
        ticker = tickers.get(row.last_update_id)
        if ticker is not None:
            compared += 1
            assert row.bids[0] == (ticker.bid_price, ticker.bid_quantity), row.last_update_id
            assert row.asks[0] == (ticker.ask_price, ticker.ask_quantity), row.last_update_id
        assert len(row.bids) == len(row.asks) == 20 and row.bids[0][0] < row.asks[0][0]
    assert compared >= 30  # 40 of the 345 seconds end on an update id the exchange also sent a ticker for
    for seed in (1, 2):
        assert _feed_in_batches(diffs, snapshots, seed) == (rows, events)


def test_a_lost_diff_in_the_recording_is_found_and_repaired_by_the_next_snapshot() -> None:
    diffs, snapshots, _ = _futures_recording()
    builder = BookBuilder("BTCUSDT")
    builder.feed(diffs[:3000], snapshots)
    rows, events = builder.feed(diffs[3001:3500], [])
    assert [e.kind for e in events] == ["break"] and not builder.book.synced
    assert all(r.last_update_id < diffs[3001].final_id for r in rows)
    # A snapshot rebuilt the independent way (every diff applied) just after the gap repairs the book.
    reference = BookBuilder("BTCUSDT")
    reference.feed(diffs[:3600], snapshots)
    bids, asks = reference.book.top(1000)
    repair = DepthSnapshot("BTCUSDT", reference.book.last_update_id or 0, tuple(bids), tuple(asks))
    rows, events = builder.feed(diffs[3500:], [repair])
    assert [e.kind for e in events] == ["resync"] and builder.book.synced
    expected = reference.feed(diffs[3600:], [])[0][-1]
    assert (rows[-1].second_ms, rows[-1].last_update_id) == (expected.second_ms, expected.last_update_id)
    assert (rows[-1].bids, rows[-1].asks) == (expected.bids, expected.asks)
