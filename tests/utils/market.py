"""Synthetic silver-like trade history with a learnable signal: the exchange stand-in's market."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pyspark.sql.types import DecimalType, StringType, StructField, StructType, TimestampType

from lakehouse.ingest.standin import SyntheticMarket

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
    """Rows with symbol, trade_id, trade_time (datetime), price, quantity (Decimal), side.

    Prices come from the exchange stand-in's market (`SyntheticMarket`: a transient mispricing that
    informed taker flow trades away), so tests train on what the demo streams; trade times arrive at
    random (Poisson) at `trades_per_s` per symbol.
    """
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for index, symbol in enumerate(symbols):
        market = SyntheticMarket([symbol], seed=seed * 1000 + index, first_id=1)
        t = rng.expovariate(trades_per_s)
        while t < minutes * 60:
            trade = market.next_trade(symbol, 0)
            rows.append(
                {
                    "symbol": symbol.upper(),
                    "trade_id": str(trade["t"]),
                    "trade_time": start + timedelta(seconds=t),
                    "price": Decimal(trade["p"]),
                    "quantity": Decimal(trade["q"]),
                    "side": "sell" if trade["m"] else "buy",
                }
            )
            t += rng.expovariate(trades_per_s)
    return rows
