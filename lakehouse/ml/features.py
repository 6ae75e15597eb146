"""Features defined once, used by training (`lakehouse.ml.train`) and by the silver stream's scorer.

All features are per symbol, on event time, and look only at trades at or before their own timestamp
(range windows ending at the current row). Input columns: `symbol`, `trade_time` (timestamp),
`price`, `quantity` (decimals) and `side` (`buy`/`sell`, the taker side).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window, WindowSpec
from pyspark.sql import functions as F

EVENT_MS = "event_ms"
RETURN_WINDOWS_S = (10, 60, 300)
VOLATILITY_WINDOW_S = 60
VWAP_WINDOW_S = 300
FLOW_WINDOW_S = 60
# The widest look-back: the stream must feed this much history ahead of a batch to score it exactly.
LOOKBACK_S = max(*RETURN_WINDOWS_S, VOLATILITY_WINDOW_S, VWAP_WINDOW_S, FLOW_WINDOW_S)

FEATURE_COLUMNS = (
    *(f"ret_{w}s" for w in RETURN_WINDOWS_S),
    f"vol_{VOLATILITY_WINDOW_S}s",
    f"vwap_dist_{VWAP_WINDOW_S}s",
    f"flow_imbalance_{FLOW_WINDOW_S}s",
    f"trade_rate_{FLOW_WINDOW_S}s",
)


def _past(seconds: int) -> WindowSpec:
    """Rows of the same symbol from `seconds` before this trade up to this trade (inclusive)."""
    return Window.partitionBy("symbol").orderBy(EVENT_MS).rangeBetween(-seconds * 1000, 0)


def _safe_log_ratio(numerator: Column, denominator: Column) -> Column:
    return F.when((numerator > 0) & (denominator > 0), F.log(numerator / denominator)).otherwise(F.lit(0.0))


def with_event_ms(trades: DataFrame) -> DataFrame:
    return trades.withColumn(EVENT_MS, F.unix_millis(F.col("trade_time")))


def add_features(trades: DataFrame) -> DataFrame:
    """Append FEATURE_COLUMNS (doubles, never null) and `price_d` (the price as a double)."""
    df = with_event_ms(trades) if EVENT_MS not in trades.columns else trades
    df = df.withColumn("price_d", F.col("price").cast("double")).withColumn("qty_d", F.col("quantity").cast("double"))
    by_row = Window.partitionBy("symbol").orderBy(EVENT_MS, "trade_id")
    df = df.withColumn("tick_ret", _safe_log_ratio(F.col("price_d"), F.lag("price_d").over(by_row)))
    for seconds in RETURN_WINDOWS_S:
        # min_by on (time, trade id), not first(): ties in time must resolve the same way in every path.
        oldest_price = F.min_by("price_d", F.struct(EVENT_MS, "trade_id")).over(_past(seconds))
        df = df.withColumn(f"ret_{seconds}s", _safe_log_ratio(F.col("price_d"), oldest_price))
    df = df.withColumn(
        f"vol_{VOLATILITY_WINDOW_S}s",
        F.coalesce(F.stddev_samp("tick_ret").over(_past(VOLATILITY_WINDOW_S)), F.lit(0.0)),
    )
    vwap_window = _past(VWAP_WINDOW_S)
    vwap = F.sum(F.col("price_d") * F.col("qty_d")).over(vwap_window) / F.sum("qty_d").over(vwap_window)
    df = df.withColumn(f"vwap_dist_{VWAP_WINDOW_S}s", F.coalesce(F.col("price_d") / vwap - 1, F.lit(0.0)))
    signed_qty = F.when(F.col("side") == "buy", F.col("qty_d")).otherwise(-F.col("qty_d"))
    flow_window = _past(FLOW_WINDOW_S)
    df = df.withColumn(
        f"flow_imbalance_{FLOW_WINDOW_S}s",
        F.coalesce(F.sum(signed_qty).over(flow_window) / F.sum("qty_d").over(flow_window), F.lit(0.0)),
    )
    df = df.withColumn(
        f"trade_rate_{FLOW_WINDOW_S}s", F.count(F.lit(1)).over(flow_window) / F.lit(float(FLOW_WINDOW_S))
    )
    return df.drop("tick_ret", "qty_d")
