"""Binance trade ids are sequential per symbol: a jump is a gap, an old id is a duplicate."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Seen(Enum):
    FIRST = "first"
    NEXT = "next"
    GAP = "gap"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Gap:
    symbol: str
    first_missing: int
    last_missing: int

    @property
    def size(self) -> int:
        return self.last_missing - self.first_missing + 1


class SequenceTracker:
    """Remembers the last trade id per symbol and classifies each new one.

    A duplicate (an id at or below the last one) happens when a reconnect overlaps the old connection
    or a recording overlaps another; it is dropped so nothing reaches Kafka twice from our side.
    """

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def observe(self, symbol: str, trade_id: int) -> tuple[Seen, Gap | None]:
        last = self.last.get(symbol)
        if last is None:
            self.last[symbol] = trade_id
            return Seen.FIRST, None
        if trade_id <= last:
            return Seen.DUPLICATE, None
        self.last[symbol] = trade_id
        if trade_id == last + 1:
            return Seen.NEXT, None
        return Seen.GAP, Gap(symbol, last + 1, trade_id - 1)


def remaining_gaps(gap: Gap, fetched_ids: set[int]) -> list[Gap]:
    """The parts of `gap` that `fetched_ids` did not cover, as contiguous gaps in id order.

    Walks the fetched ids, not the gap: a gap after a long outage can span millions of ids."""
    remaining: list[Gap] = []
    next_missing = gap.first_missing
    for trade_id in sorted(i for i in fetched_ids if gap.first_missing <= i <= gap.last_missing):
        if trade_id > next_missing:
            remaining.append(Gap(gap.symbol, next_missing, trade_id - 1))
        next_missing = trade_id + 1
    if next_missing <= gap.last_missing:
        remaining.append(Gap(gap.symbol, next_missing, gap.last_missing))
    return remaining
