"""The forecast: the log return of a symbol's price HORIZON_S seconds after each trade.

The realised price at t + H is the last trade price in (t, t + H], or the current price when no trade
happened in between. Rows whose horizon reaches past the newest trade of their symbol have no label
yet and are dropped from training.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.ml.features import EVENT_MS

HORIZON_S = 30
LABEL = "target_return"


def add_target(featured: DataFrame, horizon_s: int = HORIZON_S) -> DataFrame:
    """Append `future_price` and LABEL; keep only rows whose horizon is fully observed."""
    horizon_ms = horizon_s * 1000
    ahead = Window.partitionBy("symbol").orderBy(EVENT_MS).rangeBetween(1, horizon_ms)
    newest = Window.partitionBy("symbol")
    df = featured.withColumn(
        "future_price",
        F.coalesce(F.max_by("price_d", F.struct(EVENT_MS, "trade_id")).over(ahead), F.col("price_d")),
    ).withColumn("_newest_ms", F.max(EVENT_MS).over(newest))
    df = df.where(F.col(EVENT_MS) + horizon_ms <= F.col("_newest_ms")).drop("_newest_ms")
    return df.withColumn(LABEL, F.log(F.col("future_price") / F.col("price_d")))
