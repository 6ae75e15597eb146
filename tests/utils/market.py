"""Synthetic silver-like trade history with a learnable signal (order-flow regimes drive the drift)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pyspark.sql.types import DecimalType, StringType, StructField, StructType, TimestampType

# The silver columns training reads, in the order synthetic_trades() produces them.
SILVER_SUBSET_SCHEMA = StructType(
    [
        StructField("symbol", StringType()),
        StructField("trade_id", StringType()),
        StructField("trade_time", TimestampType()),
        StructField("price", DecimalType(38, 18)),
        StructField("quantity", DecimalType(38, 18)),
        StructField("side", StringType()),
    ]
)


def synthetic_trades(
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"),
    minutes: int = 20,
    trades_per_s: float = 4.0,
    seed: int = 11,
    start: datetime | None = None,
) -> list[dict[str, Any]]:
    """Rows with symbol, trade_id, trade_time (datetime), price, quantity (Decimal), side."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for index, symbol in enumerate(symbols):
        price = 100.0 * (index + 1)
        t = 0.0
        trade_id = 1
        buy_pressure = 0.5
        while t < minutes * 60:
            t += rng.expovariate(trades_per_s)
            if rng.random() < 0.004:  # a new order-flow regime now and then
                buy_pressure = rng.choice((0.2, 0.5, 0.8))
            side = "buy" if rng.random() < buy_pressure else "sell"
            drift = (buy_pressure - 0.5) * 4e-4
            price *= math.exp(drift + rng.gauss(0, 1e-4))
            rows.append(
                {
                    "symbol": symbol,
                    "trade_id": str(trade_id),
                    "trade_time": start + timedelta(seconds=t),
                    "price": Decimal(f"{price:.8f}"),
                    "quantity": Decimal(f"{rng.uniform(0.01, 2):.6f}"),
                    "side": side,
                }
            )
            trade_id += 1
    return rows
