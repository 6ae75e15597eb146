"""Factories for canonical trades and Binance-shaped messages."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from lakehouse.schema.trade import TradeRecord


def make_trade(n: int = 0, symbol: str = "BTCUSDT", source: str = "binance", **overrides: Any) -> TradeRecord:
    now = int(time.time() * 1000)
    fields: dict[str, Any] = {
        "source": source,
        "symbol": symbol,
        "trade_id": str(1_000_000 + n),
        "price": str(Decimal("65000.10") + Decimal(n) / 100),
        "quantity": "0.00150000",
        "side": "buy" if n % 2 == 0 else "sell",
        "trade_time": now - 1000 + n,
        "ingest_time": now,
    }
    fields.update(overrides)
    return TradeRecord(**fields)


def binance_trade(trade_id: int = 12345, symbol: str = "BTCUSDT", maker: bool = True, **extra: Any) -> dict[str, Any]:
    """Shaped exactly like Binance's <symbol>@trade payload."""
    now = int(time.time() * 1000)
    message: dict[str, Any] = {
        "e": "trade",
        "E": now,
        "s": symbol,
        "t": trade_id,
        "p": "0.00100000",
        "q": "100.00000000",
        "T": now - 5,
        "m": maker,
        "M": True,
    }
    message.update(extra)
    return message
