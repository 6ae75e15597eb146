"""Time-based split without leakage, the naive baseline, and forecast metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from lakehouse.ml.features import EVENT_MS
from lakehouse.ml.target import HORIZON_S, LABEL

PREDICTED_RETURN = "predicted_return"
BPS = 10_000.0  # basis points per unit of log return


MIN_SYMBOL_ROWS = 100  # labelled rows a symbol needs to be trained and judged on


@dataclass(frozen=True)
class TimeSplit:
    train: DataFrame
    valid: DataFrame
    cutoffs: dict[str, tuple[int, int]]  # symbol -> (training ends, validation starts), epoch ms
    skipped: dict[str, str]  # symbol -> why it takes no part


def time_split(
    labelled: DataFrame,
    valid_fraction: float = 0.2,
    horizon_s: int = HORIZON_S,
    min_symbol_rows: int = MIN_SYMBOL_ROWS,
) -> TimeSplit:
    """Per symbol: validation = the newest `valid_fraction` of its time; training ends one horizon before.

    Per symbol, because symbols have histories of their own: with one pooled window, a symbol recorded
    last (or trading only lately) would make up the whole validation set and another none of it. The
    gap ("purge") matters: a training row's label looks H seconds ahead, so without it the last
    training labels would be computed from validation-period prices. A symbol with fewer than
    `min_symbol_rows` labelled rows takes no part, with the reason in `skipped`.
    """
    bounds = labelled.groupBy("symbol").agg(
        F.min(EVENT_MS).alias("_lo"), F.max(EVENT_MS).alias("_hi"), F.count(F.lit(1)).alias("_rows")
    )
    cutoffs: dict[str, tuple[int, int]] = {}
    skipped: dict[str, str] = {}
    for row in bounds.collect():
        if row["_rows"] < min_symbol_rows:
            skipped[row.symbol] = f"{row['_rows']} labelled rows, fewer than {min_symbol_rows}"
            continue
        cutoff = int(row["_hi"] - (row["_hi"] - row["_lo"]) * valid_fraction)
        cutoffs[row.symbol] = (cutoff - horizon_s * 1000, cutoff)
    if not cutoffs:
        raise ValueError("no symbol has enough labelled rows to split")
    spark = labelled.sparkSession
    limits = spark.createDataFrame(
        [(symbol, end, start) for symbol, (end, start) in cutoffs.items()],
        "symbol string, _train_end long, _valid_start long",
    )
    joined = labelled.join(F.broadcast(limits), "symbol")
    train = joined.where(F.col(EVENT_MS) < F.col("_train_end")).drop("_train_end", "_valid_start")
    valid = joined.where(F.col(EVENT_MS) >= F.col("_valid_start")).drop("_train_end", "_valid_start")
    return TimeSplit(train=train, valid=valid, cutoffs=cutoffs, skipped=skipped)


def with_baseline(valid: DataFrame) -> DataFrame:
    """The naive forecast: the price does not move (zero return, last price)."""
    return valid.withColumn(PREDICTED_RETURN, F.lit(0.0))


def _metric_columns(prediction: str) -> list[Column]:
    predicted_price = F.col("price_d") * F.exp(F.col(prediction))
    error = predicted_price - F.col("future_price")
    return_error = (F.col(prediction) - F.col(LABEL)) * BPS
    moved = F.signum(F.col(LABEL)) != 0
    return [
        F.sqrt(F.avg(return_error * return_error)).alias("rmse_bps"),
        F.avg(F.abs(return_error)).alias("mae_bps"),
        F.sqrt(F.avg(error * error)).alias("rmse"),
        F.avg(F.abs(error)).alias("mae"),
        (F.avg(F.abs(error) / F.col("future_price")) * 100).alias("mape"),
        F.avg(F.when(moved, (F.signum(F.col(prediction)) == F.signum(F.col(LABEL))).cast("double"))).alias(
            "directional_accuracy"
        ),
        F.count(F.lit(1)).alias("rows"),
    ]


def _as_metrics(row: Row | None) -> dict[str, float]:
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


def forecast_metrics(scored: DataFrame, prediction: str = PREDICTED_RETURN) -> dict[str, float]:
    """Errors of the forecast H seconds ahead, over every row of every symbol.

    `rmse_bps` and `mae_bps` measure the log-return error in basis points: scale-free, so a symbol
    counts by its rows, not by its price (in price units one BTC row outweighs thousands of XRP rows,
    and the gate would judge BTC alone). `rmse`, `mae` and `mape` are on the price itself, for people;
    directional accuracy counts the moves that happened.
    """
    return _as_metrics(scored.agg(*_metric_columns(prediction)).first())


def forecast_metrics_by_symbol(scored: DataFrame, prediction: str = PREDICTED_RETURN) -> dict[str, dict[str, float]]:
    """forecast_metrics for each symbol on its own, in one aggregation."""
    rows = scored.groupBy("symbol").agg(*_metric_columns(prediction)).collect()
    return {row.symbol: _as_metrics(row) for row in sorted(rows, key=lambda row: row.symbol)}


POOLED = "*"  # the key of every symbol together in forecast_significance


def forecast_significance(scored: DataFrame, prediction: str = PREDICTED_RETURN) -> dict[str, dict[str, float]]:
    """Per symbol, and pooled under POOLED: out-of-sample R² against the naive forecast, directional
    accuracy with its 95 % interval, and the Diebold-Mariano test against the naive forecast."""
    from lakehouse.ml import significance as sig

    # pandas.DataFrame (pyspark types toPandas loosely)
    frame: Any = scored.select("symbol", EVENT_MS, LABEL, prediction).orderBy("symbol", EVENT_MS).toPandas()
    groups = {str(symbol): group for symbol, group in frame.groupby("symbol", sort=True)}
    result: dict[str, dict[str, float]] = {}
    lags: list[int] = []
    for symbol, group in groups.items():
        lag = sig.rows_per_horizon(group[EVENT_MS].tolist(), HORIZON_S * 1000)
        lags.append(lag)
        result[symbol] = _significance(group[LABEL].tolist(), group[prediction].tolist(), lag)
    result[POOLED] = _significance(frame[LABEL].tolist(), frame[prediction].tolist(), max(lags, default=0))
    return result


def _significance(actual: list[float], predicted: list[float], lag: int) -> dict[str, float]:
    from lakehouse.ml import significance as sig

    hits, moves = sig.directional_hits(actual, predicted)
    overlap = max(1, lag)  # rows sharing one horizon count about once (see lakehouse.ml.significance)
    low, high = sig.wilson_interval(hits / overlap, moves / overlap)
    errors = [p - a for a, p in zip(actual, predicted, strict=True)]
    test = sig.diebold_mariano(errors, [-a for a in actual], lag)
    return {
        "r2_oos": sig.r2_out_of_sample(actual, predicted),
        "directional_accuracy_low": low,
        "directional_accuracy_high": high,
        "dm_statistic": test.statistic,
        "dm_p_value": test.p_value,
        "dm_lag": float(test.lag),
    }
