"""One symbol's book kept across micro-batches: diffs and snapshots in, one top-of-book row per second out.

The silver book job (`lakehouse.stream.silver_book`) keeps one `BookBuilder` per (source, symbol) in
Spark's state store and feeds it each batch's records. The rules are Binance's (`lakehouse.book.rebuild`):

- Diffs wait in a buffer until a REST snapshot seeds the book; then the buffer is applied (stale diffs,
  already inside the snapshot, dropped). A snapshot older than the buffer's first diff leaves a gap: it is
  discarded (a `snapshot_gap` event) and the builder waits for a newer one.
- A diff that does not continue the chain is a break: counted, reported with its id range (a `break`
  event), and the book waits for a snapshot newer than the break (the producer fetches one when it sees
  the same break). Re-sent diffs are stale and change nothing, so replays are harmless.
- Rows: when the first diff of a later second arrives, the book as it stood at the end of the open second
  is published (and, book unchanged, for the quiet seconds between, at most FILL_LIMIT_S of them). A
  second in which the chain broke is never published; rows resume with the first second after a resync.

Pure: no Spark, no I/O; the state is a JSON string so it fits a state-store column.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from lakehouse.book.rebuild import Applied, ChainBreak, OrderBook
from lakehouse.book.updates import DepthSnapshot, DepthUpdate, Level

TOP_LEVELS = 20
DEPTH_BAND = Decimal("0.001")  # depth is summed within 10 bps of the mid, on each side, over the whole book
SECOND_MS = 1000
FILL_LIMIT_S = 60  # quiet seconds published with an unchanged book, at most, after one update
BUFFER_LIMIT = 5000  # diffs kept while waiting for a snapshot (the oldest go first: a newer snapshot covers them)

EventKind = Literal["break", "resync", "snapshot_gap"]


@dataclass(frozen=True)
class BookRow:
    """The book of one symbol at the end of one second (`second_ms` is the second's start)."""

    second_ms: int
    last_update_id: int
    last_event_ms: int  # event time of the newest diff inside the book
    updates: int  # diffs applied during this second (0 for a quiet second)
    bids: tuple[Level, ...]  # best first, at most TOP_LEVELS
    asks: tuple[Level, ...]
    bid_depth: Decimal | None = None  # quantity bid within DEPTH_BAND of the mid (None: a side is empty)
    ask_depth: Decimal | None = None


@dataclass(frozen=True)
class BookEvent:
    """Something the sequence-health table counts: a break, a resync, a snapshot that could not be used."""

    kind: EventKind
    event_ms: int | None  # event time of the diff concerned (none for a snapshot)
    update_id: int  # break: the diff's final id; resync / gap: the snapshot's lastUpdateId
    detail: str


@dataclass
class BookBuilder:
    symbol: str
    book: OrderBook = field(init=False)
    buffer: list[DepthUpdate] = field(default_factory=list)
    spare: DepthSnapshot | None = None  # the newest snapshot not used yet
    open_second: int | None = None  # start of the second the newest applied diff belongs to
    open_updates: int = 0
    tainted: bool = False  # the chain broke during the open second: it is not published
    last_event_ms: int = 0
    breaks: int = 0
    resyncs: int = 0

    def __post_init__(self) -> None:
        self.book = OrderBook(self.symbol)

    # ------------------------------------------------------------------------------------------ feeding
    def feed(
        self, diffs: Iterable[DepthUpdate], snapshots: Iterable[DepthSnapshot]
    ) -> tuple[list[BookRow], list[BookEvent]]:
        """One batch of this symbol's records, in any order: the rows and events it produces."""
        rows: list[BookRow] = []
        events: list[BookEvent] = []
        for snapshot in snapshots:
            if self.spare is None or snapshot.last_update_id > self.spare.last_update_id:
                self.spare = snapshot
        for update in sorted(diffs, key=lambda d: (d.final_id, d.first_id)):
            if self.book.synced:
                self._apply(update, rows, events)
            else:
                self._buffer(update)
            if not self.book.synced:
                self._resync(rows, events)
        if not self.book.synced:
            self._resync(rows, events)
        elif self.spare is not None and self.spare.last_update_id <= (self.book.last_update_id or 0):
            self.spare = None  # the book is past it: keep no dead snapshot in the state
        return rows, events

    def _buffer(self, update: DepthUpdate) -> None:
        if self.buffer and update.final_id <= self.buffer[-1].final_id:
            if any(held.final_id == update.final_id for held in self.buffer):
                return  # a re-sent diff
            self.buffer.append(update)
            self.buffer.sort(key=lambda d: d.final_id)
        else:
            self.buffer.append(update)
        del self.buffer[:-BUFFER_LIMIT]

    def _apply(self, update: DepthUpdate, rows: list[BookRow], events: list[BookEvent]) -> None:
        if self.book.is_stale(update):
            return  # already in the book (or re-sent): no effect on the book, nor on the seconds
        second = update.event_time_ms - update.event_time_ms % SECOND_MS
        if self.open_second is not None and second > self.open_second:
            self._close_seconds(second, rows)
        if self.open_second is None or second > self.open_second:
            self.open_second, self.open_updates = second, 0
        outcome = self.book.apply(update)
        if isinstance(outcome, ChainBreak):
            self.breaks += 1
            self.tainted = True
            self.buffer = [update]
            events.append(BookEvent("break", update.event_time_ms, update.final_id, outcome.describe()))
            return
        if outcome is Applied.APPLIED:
            self.open_updates += 1
            self.last_event_ms = max(self.last_event_ms, update.event_time_ms)

    def _close_seconds(self, next_second: int, rows: list[BookRow]) -> None:
        """Publish the open second (unless the chain broke in it) and the quiet seconds up to `next_second`."""
        assert self.open_second is not None and self.book.last_update_id is not None
        if not self.tainted:
            bids, asks = self.book.top(TOP_LEVELS)
            bid_depth, ask_depth = self._depth_within_band(bids, asks)
            quiet = min((next_second - self.open_second) // SECOND_MS - 1, FILL_LIMIT_S)
            for index in range(quiet + 1):
                rows.append(
                    BookRow(
                        second_ms=self.open_second + index * SECOND_MS,
                        last_update_id=self.book.last_update_id,
                        last_event_ms=self.last_event_ms,
                        updates=self.open_updates if index == 0 else 0,
                        bids=tuple(bids),
                        asks=tuple(asks),
                        bid_depth=bid_depth,
                        ask_depth=ask_depth,
                    )
                )
        self.tainted = False

    def _depth_within_band(self, bids: list[Level], asks: list[Level]) -> tuple[Decimal | None, Decimal | None]:
        """Quantities within DEPTH_BAND of the mid on each side, over every level of the book (the band
        reaches far past the top levels on a fine tick: 10 bps of BTC at 60,000 is 600 ticks of 0.1)."""
        if not bids or not asks:
            return None, None
        mid = (bids[0][0] + asks[0][0]) / 2
        low, high = mid * (1 - DEPTH_BAND), mid * (1 + DEPTH_BAND)
        bid_depth = sum((quantity for price, quantity in self.book.bids.items() if price >= low), Decimal(0))
        ask_depth = sum((quantity for price, quantity in self.book.asks.items() if price <= high), Decimal(0))
        return bid_depth, ask_depth

    def _resync(self, rows: list[BookRow], events: list[BookEvent]) -> None:
        """Seed the book from the spare snapshot and apply the buffer, if the two join without a gap."""
        snapshot = self.spare
        if snapshot is None:
            return
        if self.book.last_update_id is not None and snapshot.last_update_id <= self.book.last_update_id:
            self.spare = None  # older than what the book already held before it broke: no use
            return
        candidate = OrderBook(self.symbol)
        candidate.load_snapshot(snapshot.last_update_id, snapshot.bids, snapshot.asks)
        pending = [d for d in self.buffer if not _covered(d, snapshot.last_update_id)]
        if pending:
            first = candidate.apply(pending[0])
            if isinstance(first, ChainBreak):
                # The buffer starts after the snapshot: the updates between are lost to this snapshot.
                self.spare = None
                events.append(BookEvent("snapshot_gap", None, snapshot.last_update_id, first.describe()))
                return
            candidate = OrderBook(self.symbol)
            candidate.load_snapshot(snapshot.last_update_id, snapshot.bids, snapshot.asks)
        self.book = candidate
        self.spare = None
        self.buffer = []
        self.resyncs += 1
        # Rows resume with the first second of a diff applied after the seed (its time is known).
        self.open_second, self.open_updates, self.tainted = None, 0, False
        events.append(
            BookEvent(
                "resync",
                None,
                snapshot.last_update_id,
                f"{self.symbol}: seeded from snapshot {snapshot.last_update_id}, then {len(pending)} buffered diffs",
            )
        )
        for update in pending:
            if not self.book.synced:
                self._buffer(update)
            else:
                self._apply(update, rows, events)

    # ------------------------------------------------------------------------------------------ state
    def to_json(self) -> str:
        return json.dumps(
            {
                "symbol": self.symbol,
                "bids": _levels_out(self.book.bids.items()),
                "asks": _levels_out(self.book.asks.items()),
                "last_update_id": self.book.last_update_id,
                "synced": self.book.synced,
                "awaiting_first": self.book._awaiting_first,
                "buffer": [_update_out(update) for update in self.buffer],
                "spare": None if self.spare is None else _snapshot_out(self.spare),
                "open_second": self.open_second,
                "open_updates": self.open_updates,
                "tainted": self.tainted,
                "last_event_ms": self.last_event_ms,
                "breaks": self.breaks,
                "resyncs": self.resyncs,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> BookBuilder:
        data = json.loads(text)
        builder = cls(data["symbol"])
        builder.book.bids = dict(_levels_in(data["bids"]))
        builder.book.asks = dict(_levels_in(data["asks"]))
        builder.book.last_update_id = data["last_update_id"]
        builder.book.synced = data["synced"]
        builder.book._awaiting_first = data["awaiting_first"]
        builder.buffer = [_update_in(item, builder.symbol) for item in data["buffer"]]
        builder.spare = None if data["spare"] is None else _snapshot_in(data["spare"], builder.symbol)
        builder.open_second = data["open_second"]
        builder.open_updates = data["open_updates"]
        builder.tainted = data["tainted"]
        builder.last_event_ms = data["last_event_ms"]
        builder.breaks = data["breaks"]
        builder.resyncs = data["resyncs"]
        return builder


def _covered(update: DepthUpdate, last_update_id: int) -> bool:
    """Is the diff already inside a snapshot taken at `last_update_id` (Binance's drop rule)?"""
    futures = update.previous_final_id is not None
    return update.final_id < last_update_id or (update.final_id == last_update_id and not futures)


def _levels_out(levels: Iterable[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[format(price, "f"), format(quantity, "f")] for price, quantity in levels]


def _levels_in(levels: list[list[str]]) -> tuple[Level, ...]:
    return tuple((Decimal(price), Decimal(quantity)) for price, quantity in levels)


def _update_out(update: DepthUpdate) -> dict[str, Any]:
    return {
        "U": update.first_id,
        "u": update.final_id,
        "pu": update.previous_final_id,
        "E": update.event_time_ms,
        "b": _levels_out(update.bids),
        "a": _levels_out(update.asks),
    }


def _update_in(data: dict[str, Any], symbol: str) -> DepthUpdate:
    return DepthUpdate(
        symbol, data["U"], data["u"], data["pu"], data["E"], _levels_in(data["b"]), _levels_in(data["a"])
    )


def _snapshot_out(snapshot: DepthSnapshot) -> dict[str, Any]:
    return {"L": snapshot.last_update_id, "b": _levels_out(snapshot.bids), "a": _levels_out(snapshot.asks)}


def _snapshot_in(data: dict[str, Any], symbol: str) -> DepthSnapshot:
    return DepthSnapshot(symbol, data["L"], _levels_in(data["b"]), _levels_in(data["a"]))
