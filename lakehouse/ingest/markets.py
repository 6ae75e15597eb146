"""The Binance markets the producer captures: spot (the default) and USD-M futures.

Both speak the same combined-stream protocol with the same stream names (`<sym>@trade`, `@bookTicker`,
`@depth@100ms`); they differ in where they are, their REST paths and their request-weight limits. Their
depth diffs differ too (futures carry `pu`), which the book rebuild tells apart by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MarketName = Literal["spot", "usdm"]


@dataclass(frozen=True)
class BinanceMarket:
    name: MarketName
    ws_url: str
    rest_url: str
    depth_path: str  # REST depth snapshot
    depth_weight: int  # request weight of a snapshot of DEPTH_LIMIT levels
    trades_path: str  # REST trades by id (backfills)
    weight_per_minute: int  # the request weight Binance allows an IP a minute


DEPTH_LIMIT = 1000

MARKETS: dict[str, BinanceMarket] = {
    "spot": BinanceMarket(
        "spot", "wss://stream.binance.com:9443", "https://api.binance.com",
        "/api/v3/depth", 50, "/api/v3/historicalTrades", 6000,
    ),
    # Futures' historicalTrades may ask for an API key; without one a backfill fails, is logged, and the
    # gap stays reported as a gap.
    "usdm": BinanceMarket(
        "usdm", "wss://fstream.binance.com", "https://fapi.binance.com",
        "/fapi/v1/depth", 20, "/fapi/v1/historicalTrades", 2400,
    ),
}  # fmt: skip
