"""A synthetic L2 book for the exchange stand-in: spot `depthUpdate` diffs and `bookTicker`s around the
synthetic market's price, so the offline demo and the tests have books to rebuild when no recording is
replayed.

Each step places a ladder of LEVELS levels a side around the current price: the best bid and ask on the
symbol's tick (one to three ticks apart), the deeper levels on a coarser grid about STEP_BPS apart, so a
small move of the price leaves most of the ladder where it was, as on a real book. A level that stays
keeps its quantity; a few change at random each step, as resting orders come and go. A step's diff
carries only what changed (the new quantity, or 0 for a level that left the ladder), numbered the way
Binance numbers spot diffs: `U` is the previous `u` + 1 and the diff spans one id per change. A step that
changes nothing sends nothing; a book ticker goes out when the best levels changed. Pure: no I/O.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

LEVELS = 50
STEP_BPS = 0.5  # the deeper levels' grid: 50 levels span about 25 bps a side, 20 of them within 10 bps
CHANGES_PER_STEP = 3  # resting orders added or cancelled at random levels each step
FIRST_UPDATE_ID = 1_000_000_000

Ladder = dict[int, str]  # price in ticks -> quantity text


def tick_size(price: float) -> Decimal:
    """A tick about a hundred-thousandth of the price (0.1 for 65,000, 0.01 for 3,500), as a power of ten."""
    return Decimal(1).scaleb(math.floor(math.log10(price)) - 5)


@dataclass
class SyntheticBook:
    """One symbol's book; `step(price, now_ms)` moves it and returns the payloads to send (maybe none)."""

    symbol: str
    rng: random.Random
    tick: Decimal | None = None
    grid: int = 0  # ticks between the deeper levels; fixed at the first step, as the tick is
    next_update_id: int = FIRST_UPDATE_ID
    bids: Ladder = field(default_factory=dict)
    asks: Ladder = field(default_factory=dict)
    _top: tuple[int, str, int, str] | None = None

    def step(self, price: float, now_ms: int) -> list[dict[str, Any]]:
        if self.tick is None:
            self.tick = tick_size(price)
            self.grid = max(1, round(price * STEP_BPS / 10_000 / float(self.tick)))
        mid = price / float(self.tick)
        spread = self.rng.randint(1, 3)
        best_bid = math.floor(mid - spread / 2)
        best_ask = best_bid + spread
        grid = self.grid
        bid_prices = [best_bid, *(((best_bid - 1) // grid - i) * grid for i in range(LEVELS - 1))]
        ask_prices = [best_ask, *((-((-best_ask - 1) // grid) + i) * grid for i in range(LEVELS - 1))]
        new_bids, new_asks = self._restock(self.bids, bid_prices), self._restock(self.asks, ask_prices)
        bid_changes, ask_changes = _changes(self.bids, new_bids), _changes(self.asks, new_asks)
        self.bids, self.asks = new_bids, new_asks
        count = len(bid_changes) + len(ask_changes)
        if count == 0:
            return []
        first, self.next_update_id = self.next_update_id, self.next_update_id + count
        payloads: list[dict[str, Any]] = [
            {
                "e": "depthUpdate",
                "E": now_ms,
                "s": self.symbol,
                "U": first,
                "u": first + count - 1,
                "b": [[self._price(ticks), quantity] for ticks, quantity in bid_changes],
                "a": [[self._price(ticks), quantity] for ticks, quantity in ask_changes],
            }
        ]
        top = (best_bid, new_bids[best_bid], best_ask, new_asks[best_ask])
        if top != self._top:
            self._top = top
            ticker = {"u": first + count - 1, "s": self.symbol, "b": self._price(best_bid), "B": top[1]}
            payloads.append({**ticker, "a": self._price(best_ask), "A": top[3]})
        return payloads

    def _restock(self, old: Ladder, prices: list[int]) -> Ladder:
        """The ladder at `prices`: the quantity of a level that stays, a fresh one for a new level, and a
        few levels changed at random."""
        ladder = {ticks: old.get(ticks) or self._quantity() for ticks in prices}
        for ticks in self.rng.sample(prices, min(CHANGES_PER_STEP, len(prices))):
            if self.rng.random() < 0.5:
                ladder[ticks] = self._quantity()
        return ladder

    def _quantity(self) -> str:
        # Never 0.0000: on the wire a zero quantity removes the level.
        return f"{max(self.rng.lognormvariate(0, 1.2), 0.001):.4f}"

    def _price(self, ticks: int) -> str:
        assert self.tick is not None
        return format(Decimal(ticks) * self.tick, "f")


def _changes(old: Ladder, new: Ladder) -> list[tuple[int, str]]:
    """What turns `old` into `new`: new or changed quantities, and 0 for each level that left."""
    changed = [(ticks, quantity) for ticks, quantity in new.items() if old.get(ticks) != quantity]
    removed = [(ticks, "0") for ticks in old if ticks not in new]
    return sorted(changed + removed)
