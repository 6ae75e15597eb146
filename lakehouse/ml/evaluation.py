"""Time-based split without leakage, the naive baseline, and forecast metrics."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.ml.features import EVENT_MS
from lakehouse.ml.target import HORIZON_S, LABEL

PREDICTED_RETURN = "predicted_return"
BPS = 10_000.0  # basis points per unit of log return


@dataclass(frozen=True)
class TimeSplit:
    train: DataFrame
    valid: DataFrame
    cutoff_ms: int
    train_end_ms: int


def time_split(labelled: DataFrame, valid_fraction: float = 0.2, horizon_s: int = HORIZON_S) -> TimeSplit:
    """Validation = the newest `valid_fraction` of time; training ends one horizon before it.

    The gap ("purge") matters: a training row's label looks H seconds ahead, so without it the last
    training labels would be computed from validation-period prices.
    """
    bounds = labelled.agg(F.min(EVENT_MS).alias("lo"), F.max(EVENT_MS).alias("hi")).first()
    if bounds is None or bounds.lo is None:
        raise ValueError("no labelled rows to split")
    cutoff_ms = int(bounds.hi - (bounds.hi - bounds.lo) * valid_fraction)
    train_end_ms = cutoff_ms - horizon_s * 1000
    train = labelled.where(F.col(EVENT_MS) < train_end_ms)
    valid = labelled.where(F.col(EVENT_MS) >= cutoff_ms)
    return TimeSplit(train=train, valid=valid, cutoff_ms=cutoff_ms, train_end_ms=train_end_ms)


def with_baseline(valid: DataFrame) -> DataFrame:
    """The naive forecast: the price does not move (zero return, last price)."""
    return valid.withColumn(PREDICTED_RETURN, F.lit(0.0))


def forecast_metrics(scored: DataFrame, prediction: str = PREDICTED_RETURN) -> dict[str, float]:
    """Errors of the forecast H seconds ahead, over every row of every symbol.

    `rmse_bps` and `mae_bps` measure the log-return error in basis points: scale-free, so a symbol
    counts by its rows, not by its price (in price units one BTC row outweighs thousands of XRP rows,
    and the gate would judge BTC alone). `rmse`, `mae` and `mape` are on the price itself, for people;
    directional accuracy counts the moves that happened.
    """
    predicted_price = F.col("price_d") * F.exp(F.col(prediction))
    error = predicted_price - F.col("future_price")
    return_error = (F.col(prediction) - F.col(LABEL)) * BPS
    moved = F.signum(F.col(LABEL)) != 0
    row = scored.agg(
        F.sqrt(F.avg(return_error * return_error)).alias("rmse_bps"),
        F.avg(F.abs(return_error)).alias("mae_bps"),
        F.sqrt(F.avg(error * error)).alias("rmse"),
        F.avg(F.abs(error)).alias("mae"),
        (F.avg(F.abs(error) / F.col("future_price")) * 100).alias("mape"),
        F.avg(F.when(moved, (F.signum(F.col(prediction)) == F.signum(F.col(LABEL))).cast("double"))).alias(
            "directional_accuracy"
        ),
        F.count(F.lit(1)).alias("rows"),
    ).first()
    if row is None or not row.rows:
        raise ValueError("no rows to evaluate")
    return {
        "rmse_bps": float(row.rmse_bps),
        "mae_bps": float(row.mae_bps),
        "rmse": float(row.rmse),
        "mae": float(row.mae),
        "mape": float(row.mape),
        "directional_accuracy": float(row.directional_accuracy or 0.0),
        "rows": float(row.rows),
    }
