"""What the producer decides about book messages, without I/O: which stream a payload belongs to, when a
symbol's book needs a REST snapshot, and whether Binance's request-weight limit lets one be fetched now.

Binance's documented procedure for a local book: open the `@depth` stream, buffer the diffs, fetch a
snapshot, apply the diffs after it. The producer does the capture half (every diff and snapshot goes to
Kafka unchanged; the silver job rebuilds), so it needs a snapshot when a symbol's first diff arrives and
again after every break in the diff chain, when nothing before the break can be trusted any more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from lakehouse.book.rebuild import ChainBreak, continues
from lakehouse.book.updates import DepthUpdate

_SPOT_BOOK_TICKER_KEYS = frozenset({"u", "s", "b", "B", "a", "A"})


class BookStream(Enum):
    DEPTH = "depth"
    BOOK_TICKER = "bookTicker"


def book_stream(payload: Mapping[str, Any]) -> BookStream | None:
    """The book stream a payload comes from, or None (a trade, or something else).

    Depth diffs say `"e": "depthUpdate"`; futures book tickers say `"e": "bookTicker"`, spot ones carry
    no event type at all and are known by their fields.
    """
    event = payload.get("e")
    if event == "depthUpdate":
        return BookStream.DEPTH
    if event == "bookTicker" or (event is None and payload.keys() >= _SPOT_BOOK_TICKER_KEYS):
        return BookStream.BOOK_TICKER
    return None


class Verdict(Enum):
    CONTINUES = "continues"
    FIRST = "first"  # the symbol's first diff: its book needs a snapshot
    BREAK = "break"  # a diff is missing: the book needs a fresh snapshot


@dataclass
class DepthChainWatch:
    """Follows each symbol's diff chain (spot `U` = previous `u` + 1, futures `pu` = previous `u`)."""

    last_final_id: dict[str, int] = field(default_factory=dict)

    def observe(self, update: DepthUpdate) -> tuple[Verdict, ChainBreak | None]:
        previous = self.last_final_id.get(update.symbol)
        self.last_final_id[update.symbol] = update.final_id
        if previous is None:
            return Verdict.FIRST, None
        if continues(previous, update):
            return Verdict.CONTINUES, None
        return Verdict.BREAK, ChainBreak(
            update.symbol, previous, update.first_id, update.final_id, update.previous_final_id
        )


@dataclass
class WeightBudget:
    """A token bucket over Binance's per-minute request weight, so snapshots never get the IP banned.

    Binance allows 6,000 weight a minute per IP on spot (2,400 on USD-M futures); the producer keeps to a
    share of it (the default 1,200 is 24 spot snapshots of 1,000 levels a minute, 60 on futures), leaving
    the rest to backfills and to anything else on the same address.
    """

    per_minute: float = 1200.0
    clock: Callable[[], float] = time.monotonic
    _tokens: float = -1.0
    _at: float = 0.0

    def wait_for(self, weight: float) -> float:
        """Seconds until `weight` may be spent (0: spent now). Asking more than a minute's budget is refused."""
        if weight > self.per_minute:
            raise ValueError(f"weight {weight} exceeds the budget of {self.per_minute} a minute")
        now = self.clock()
        if self._tokens < 0:
            self._tokens, self._at = self.per_minute, now
        self._tokens = min(self.per_minute, self._tokens + (now - self._at) * self.per_minute / 60)
        self._at = now
        if self._tokens >= weight:
            self._tokens -= weight
            return 0.0
        return (weight - self._tokens) * 60 / self.per_minute
