"""Pure computations over query results (pandas in, numbers out): KPIs, forecast errors, book depth."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Kpis:
    last_price: float
    change: float  # fraction over change_span, e.g. 0.012 = +1.2 %
    change_span: timedelta  # 24 h, or less when that is all the history there is
    vwap_24h: float | None
    realized_vol_24h: float | None  # sqrt of the summed squared 1-minute log returns (not annualised)
    candles: int


def kpis(candles: pd.DataFrame) -> Kpis | None:
    """KPIs over the 24 h ending at the newest candle; None when there is no candle."""
    if candles.empty:
        return None
    frame = candles.sort_values("bucket_start")
    newest = frame["bucket_start"].iloc[-1]
    day = frame[frame["bucket_start"] > newest - DAY]
    close = day["close"].astype(float)
    last_price = float(close.iloc[-1])
    # Over the day, or over the history there is: from the first candle's open to the last close.
    first_open = float(day["open"].iloc[0])
    change = last_price / first_open - 1.0 if first_open > 0 else 0.0
    span = min(newest + timedelta(minutes=1) - day["bucket_start"].iloc[0], DAY)
    volume = float(day["volume"].astype(float).sum())
    vwap = float(day["notional"].astype(float).sum()) / volume if volume > 0 else None
    returns = [math.log(b / a) for a, b in zip(close.iloc[:-1], close.iloc[1:], strict=True) if a > 0 and b > 0]
    vol = math.sqrt(sum(r * r for r in returns)) if returns else None
    return Kpis(
        last_price=last_price, change=change, change_span=span, vwap_24h=vwap, realized_vol_24h=vol, candles=len(day)
    )


def describe_span(span: timedelta) -> str:
    """A change's span as a metric label reads it: "24 h", "3 h 20 min", "45 min"."""
    minutes = round(span.total_seconds() / 60)
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


@dataclass(frozen=True)
class ForecastErrors:
    predictions: int
    model_mae: float
    naive_mae: float  # the naive forecast: the price stays where it is (|price - realised price|)
    model_versions: tuple[str, ...]

    @property
    def skill(self) -> float | None:
        """1 - model MAE / naive MAE: above 0 the model beats "no change"."""
        return None if self.naive_mae == 0 else 1.0 - self.model_mae / self.naive_mae


def forecast_errors(outcomes: pd.DataFrame) -> ForecastErrors | None:
    """Model and naive MAE over the same prediction rows; None when there are none."""
    rows = outcomes.dropna(subset=["predicted_price", "realised_price", "price"])
    if rows.empty:
        return None
    realised = rows["realised_price"].astype(float)
    model_mae = float((rows["predicted_price"].astype(float) - realised).abs().mean())
    naive_mae = float((rows["price"].astype(float) - realised).abs().mean())
    versions = tuple(sorted({str(v) for v in rows["model_version"].dropna()}))
    return ForecastErrors(predictions=len(rows), model_mae=model_mae, naive_mae=naive_mae, model_versions=versions)


def quarantine_rate(quarantined: int, silver: int) -> float | None:
    """Share of records sent to quarantine among those processed; None when nothing was processed."""
    total = quarantined + silver
    return None if total == 0 else quarantined / total


def human_lag(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "n/a"
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def depth_curve(prices: list[Any], quantities: list[Any]) -> pd.DataFrame:
    """Cumulative quantity from the best level outwards (one side of a depth chart): `price`, `cumulative`."""
    frame = pd.DataFrame({"price": [float(p) for p in prices], "quantity": [float(q) for q in quantities]})
    frame["cumulative"] = frame["quantity"].cumsum()
    return frame[["price", "cumulative"]]
