"""A symbol's order book rebuilt from a REST snapshot and the `@depth` diffs, by Binance's documented rules.

Spot: drop diffs with `u` <= the snapshot's `lastUpdateId`; the first diff applied must straddle it
(`U` <= lastUpdateId + 1 <= `u`); every later diff continues the chain (`U` = previous `u` + 1).
Futures: drop diffs with `u` < lastUpdateId; the first applied must have `U` <= lastUpdateId <= `u`;
every later diff names its predecessor (`pu` = previous `u`).

Anything else is a break: the book stops being valid (`synced` turns False) and must be re-seeded from a
fresh snapshot; nothing built across a break is published. Pure: no I/O, exact decimals.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from lakehouse.book.updates import DepthUpdate, Level


class Applied(Enum):
    APPLIED = "applied"
    STALE = "stale"  # older than the book: already in the snapshot or in an applied diff


@dataclass(frozen=True)
class ChainBreak:
    """The diff that does not continue the book: what the book expected, and the ids it got."""

    symbol: str
    expected_after: int  # the book's last update id: the next diff had to continue from it
    first_id: int
    final_id: int
    previous_final_id: int | None

    def describe(self) -> str:
        got = f"U={self.first_id} u={self.final_id}"
        if self.previous_final_id is not None:
            got += f" pu={self.previous_final_id}"
        return f"{self.symbol}: depth chain broken after update {self.expected_after} (got {got})"


class BookNotSyncedError(RuntimeError):
    """A diff reached a book that has no valid snapshot (never seeded, or broken since)."""


def continues(previous_final_id: int, update: DepthUpdate) -> bool:
    """Does `update` follow the diff whose final id was `previous_final_id`, with no diff missing between?"""
    if update.previous_final_id is not None:  # futures: the diff names its predecessor
        return update.previous_final_id == previous_final_id
    return update.first_id == previous_final_id + 1


def chain_breaks(updates: Iterable[DepthUpdate]) -> list[ChainBreak]:
    """Every place a sequence of one symbol's diffs skips ids (no snapshot needed): the gaps to report."""
    breaks = []
    previous: DepthUpdate | None = None
    for update in updates:
        if previous is not None and not continues(previous.final_id, update):
            breaks.append(
                ChainBreak(update.symbol, previous.final_id, update.first_id, update.final_id, update.previous_final_id)
            )
        previous = update
    return breaks


class OrderBook:
    """One symbol's book: price -> quantity per side, and the id of the last update it holds."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last_update_id: int | None = None
        self.synced = False
        self._awaiting_first = False

    def load_snapshot(self, last_update_id: int, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Seed (or re-seed after a break) from a REST depth snapshot."""
        self.bids = {price: quantity for price, quantity in bids if quantity > 0}
        self.asks = {price: quantity for price, quantity in asks if quantity > 0}
        self.last_update_id = last_update_id
        self.synced = True
        self._awaiting_first = True

    def is_stale(self, update: DepthUpdate) -> bool:
        """Is the diff already inside the book? Only the first diff after a futures snapshot may end at
        the snapshot's own id (futures: U <= lastUpdateId <= u); later, a diff ending at the book's id is a
        re-send of the one applied last."""
        last = self.last_update_id
        if last is None:
            return False
        straddles_futures_snapshot = self._awaiting_first and update.previous_final_id is not None
        return update.final_id < last or (update.final_id == last and not straddles_futures_snapshot)

    def apply(self, update: DepthUpdate) -> Applied | ChainBreak:
        """Apply one diff, drop it as stale, or report the break (the book is then no longer synced)."""
        if not self.synced or self.last_update_id is None:
            raise BookNotSyncedError(f"{self.symbol}: no valid snapshot; load one before applying diffs")
        last = self.last_update_id
        futures = update.previous_final_id is not None
        if self.is_stale(update):
            return Applied.STALE
        if self._awaiting_first:  # the first diff after the snapshot must straddle it (u > last, checked above)
            ok = update.first_id <= last if futures else update.first_id <= last + 1
        else:
            ok = continues(last, update)
        if not ok:
            self.synced = False
            return ChainBreak(self.symbol, last, update.first_id, update.final_id, update.previous_final_id)
        self._set_levels(self.bids, update.bids)
        self._set_levels(self.asks, update.asks)
        self.last_update_id = update.final_id
        self._awaiting_first = False
        return Applied.APPLIED

    @staticmethod
    def _set_levels(side: dict[Decimal, Decimal], levels: Iterable[Level]) -> None:
        for price, quantity in levels:  # absolute quantities: 0 removes the level
            if quantity == 0:
                side.pop(price, None)
            else:
                side[price] = quantity

    def top(self, depth: int = 20) -> tuple[list[Level], list[Level]]:
        """The best `depth` levels: bids from the highest price down, asks from the lowest up."""
        # A partial selection, not a sort: the book holds thousands of levels and this runs every second.
        bids = heapq.nlargest(depth, self.bids.items(), key=lambda level: level[0])
        asks = heapq.nsmallest(depth, self.asks.items(), key=lambda level: level[0])
        return bids, asks
