"""The stand-in's synthetic book: its diffs are a valid spot chain that rebuilds exactly the book it holds."""

from __future__ import annotations

import itertools
import math
import random
from decimal import Decimal
from typing import Any

from lakehouse.book.capture import BookStream, book_stream
from lakehouse.book.rebuild import Applied, OrderBook
from lakehouse.book.updates import parse_book_ticker, parse_depth_update
from lakehouse.ingest.synthetic_book import LEVELS, SyntheticBook, tick_size


def _walk(steps: int, start: float = 65_000.0, seed: int = 3) -> tuple[SyntheticBook, list[list[dict[str, Any]]]]:
    """A book moved along a random walk of the price (about 1 bp a step), and every step's payloads."""
    prices = random.Random(seed)
    book = SyntheticBook("BTCUSDT", random.Random(seed))
    price, out = start, []
    for step in range(steps):
        price *= math.exp(prices.gauss(0, 1e-4))
        out.append(book.step(price, 1_700_000_000_000 + 100 * step))
    return book, out


def _as_decimal(ladder: dict[int, str], tick: Decimal) -> dict[Decimal, Decimal]:
    return {Decimal(ticks) * tick: Decimal(quantity) for ticks, quantity in ladder.items()}


def test_tick_is_about_a_hundred_thousandth_of_the_price() -> None:
    assert tick_size(65_000) == Decimal("0.1")
    assert tick_size(3_500) == Decimal("0.01")
    assert tick_size(0.6) == Decimal("0.000001")


def test_the_diffs_chain_like_spot_and_rebuild_exactly_the_book_it_holds() -> None:
    book, steps = _walk(400)
    diffs = [parse_depth_update(p) for payloads in steps for p in payloads if book_stream(p) is BookStream.DEPTH]
    assert len(diffs) == 400  # every step changes something (a few random quantities at least)
    assert all(later.first_id == earlier.final_id + 1 for earlier, later in itertools.pairwise(diffs))
    assert all(diff.previous_final_id is None for diff in diffs)  # spot: no `pu`
    # Binance's procedure from an empty book before the first diff (the stand-in's own seeding).
    rebuilt = OrderBook("BTCUSDT")
    rebuilt.load_snapshot(diffs[0].first_id - 1, (), ())
    assert all(rebuilt.apply(diff) is Applied.APPLIED for diff in diffs)
    assert book.tick is not None
    assert rebuilt.bids == _as_decimal(book.bids, book.tick) and rebuilt.asks == _as_decimal(book.asks, book.tick)
    # A quantity printed as 0 would have removed its level from the rebuild: the counts catch it.
    assert len(rebuilt.bids) == len(rebuilt.asks) == LEVELS


def test_the_book_is_never_crossed_and_its_ticker_is_its_best_levels() -> None:
    _, steps = _walk(300, start=3_500.0)
    rebuilt = OrderBook("ETHUSDT")
    tickers = 0
    for payloads in steps:
        for payload in payloads:
            if book_stream(payload) is BookStream.DEPTH:
                update = parse_depth_update(payload)
                if not rebuilt.synced:
                    rebuilt.load_snapshot(update.first_id - 1, (), ())
                rebuilt.apply(update)
                continue
            tickers += 1
            ticker = parse_book_ticker(payload)
            bids, asks = rebuilt.top(1)
            (best_bid, bid_quantity), (best_ask, ask_quantity) = bids[0], asks[0]
            assert (ticker.bid_price, ticker.bid_quantity) == (best_bid, bid_quantity)
            assert (ticker.ask_price, ticker.ask_quantity) == (best_ask, ask_quantity)
            assert ticker.update_id == rebuilt.last_update_id
        assert max(rebuilt.bids) < min(rebuilt.asks)
    assert 0 < tickers <= 300


def test_a_small_move_leaves_most_of_the_ladder_in_place() -> None:
    book = SyntheticBook("BTCUSDT", random.Random(1))
    first = book.step(65_000.0, 0)[0]
    assert len(first["b"]) == len(first["a"]) == LEVELS  # the first diff carries the whole ladder
    moved = book.step(65_000.0 * (1 + 0.5e-4), 100)[0]  # half a basis point
    assert len(moved["b"]) + len(moved["a"]) < LEVELS // 2
    mid = 65_000.0 * (1 + 0.5e-4)
    assert book.tick is not None
    deepest = min(book.bids) * float(book.tick)
    assert 20 <= (mid - deepest) / mid * 10_000 <= 30  # 50 levels about 0.5 bp apart
