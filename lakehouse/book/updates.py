"""Binance's book messages as typed values: `@depth` diffs and `@bookTicker` updates (pure parsing).

Spot and futures differ in one field that matters: a futures diff carries `pu`, the final update id of
the diff before it, so its chain is checked by `pu == previous u`; a spot diff has none, and its chain is
`U == previous u + 1`. Prices and quantities stay exact decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

Level = tuple[Decimal, Decimal]  # (price, quantity); quantity 0 removes the price level


class MalformedBookMessage(ValueError):  # noqa: N818 (named like binance.MalformedMessage)
    """A book message that cannot be read as Binance documents it (the reason says which field)."""


@dataclass(frozen=True)
class DepthUpdate:
    symbol: str
    first_id: int  # U
    final_id: int  # u
    previous_final_id: int | None  # pu (futures only)
    event_time_ms: int  # E
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True)
class DepthSnapshot:
    """A REST depth snapshot (`GET /api/v3/depth`, futures `/fapi/v1/depth`): the book as of `last_update_id`."""

    symbol: str
    last_update_id: int  # lastUpdateId
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True)
class BookTicker:
    symbol: str
    update_id: int  # u
    bid_price: Decimal
    bid_quantity: Decimal
    ask_price: Decimal
    ask_quantity: Decimal
    event_time_ms: int | None  # E (futures; spot book tickers carry no time)


def _decimal(value: Any, field: str) -> Decimal:
    if not isinstance(value, str):
        raise MalformedBookMessage(f"{field}: expected a decimal string, got {type(value).__name__}")
    try:
        number = Decimal(value)
    except InvalidOperation as error:
        raise MalformedBookMessage(f"{field}: not a decimal: {value!r}") from error
    if not number.is_finite() or number < 0:
        raise MalformedBookMessage(f"{field}: must be a finite, non-negative decimal: {value!r}")
    return number


def _integer(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedBookMessage(f"{key}: expected a non-negative integer, got {value!r}")
    return value


def _levels(data: Mapping[str, Any], key: str) -> tuple[Level, ...]:
    raw = data.get(key)
    if not isinstance(raw, list):
        raise MalformedBookMessage(f"{key}: expected a list of [price, quantity]")
    levels = []
    for index, level in enumerate(raw):
        if not isinstance(level, list) or len(level) != 2:
            raise MalformedBookMessage(f"{key}[{index}]: expected [price, quantity]")
        levels.append((_decimal(level[0], f"{key}[{index}] price"), _decimal(level[1], f"{key}[{index}] quantity")))
    return tuple(levels)


def _symbol(data: Mapping[str, Any]) -> str:
    symbol = data.get("s")
    if not isinstance(symbol, str) or not symbol:
        raise MalformedBookMessage(f"s: expected a symbol, got {symbol!r}")
    return symbol.upper()


def parse_depth_update(data: Mapping[str, Any]) -> DepthUpdate:
    """The `data` of a `<symbol>@depth...` message (spot or futures)."""
    if data.get("e") != "depthUpdate":
        raise MalformedBookMessage(f"e: expected depthUpdate, got {data.get('e')!r}")
    first, final = _integer(data, "U"), _integer(data, "u")
    if first > final:
        raise MalformedBookMessage(f"U {first} is after u {final}")
    return DepthUpdate(
        symbol=_symbol(data),
        first_id=first,
        final_id=final,
        previous_final_id=_integer(data, "pu") if "pu" in data else None,
        event_time_ms=_integer(data, "E"),
        bids=_levels(data, "b"),
        asks=_levels(data, "a"),
    )


def parse_book_ticker(data: Mapping[str, Any]) -> BookTicker:
    """The `data` of a `<symbol>@bookTicker` message (spot or futures)."""
    return BookTicker(
        symbol=_symbol(data),
        update_id=_integer(data, "u"),
        bid_price=_decimal(data.get("b"), "b"),
        bid_quantity=_decimal(data.get("B"), "B"),
        ask_price=_decimal(data.get("a"), "a"),
        ask_quantity=_decimal(data.get("A"), "A"),
        event_time_ms=_integer(data, "E") if "E" in data else None,
    )


def parse_depth_snapshot(data: Mapping[str, Any], symbol: str) -> DepthSnapshot:
    """The body of a REST depth snapshot of `symbol` (it does not name its symbol itself)."""
    return DepthSnapshot(
        symbol=symbol.upper(),
        last_update_id=_integer(data, "lastUpdateId"),
        bids=_levels(data, "bids"),
        asks=_levels(data, "asks"),
    )
