"""Features look only backwards, the split leaves no leakage, metrics mean what they say."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from lakehouse.ml.evaluation import (
    POOLED,
    PREDICTED_RETURN,
    forecast_metrics,
    forecast_metrics_by_symbol,
    forecast_significance,
    time_split,
    with_baseline,
)
from lakehouse.ml.features import EVENT_MS, FEATURE_COLUMNS, LOOKBACK_S, add_features
from lakehouse.ml.target import HORIZON_S, LABEL, add_target
from tests.utils.market import SILVER_SUBSET_SCHEMA, synthetic_trades

SCHEMA = SILVER_SUBSET_SCHEMA
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _rows(spec: list[tuple[str, int, float, str]]) -> list[tuple]:
    return [
        (symbol, str(i), T0 + timedelta(seconds=sec), Decimal(str(price)), Decimal("1"), side)
        for i, (symbol, sec, price, side) in enumerate(spec)
    ]


def test_features_on_a_hand_computed_example(spark) -> None:
    df = spark.createDataFrame(
        _rows([("A", 0, 100.0, "buy"), ("A", 5, 110.0, "buy"), ("A", 20, 99.0, "sell"), ("B", 5, 50.0, "sell")]),
        SCHEMA,
    )
    rows = {(r.symbol, r.trade_id): r for r in add_features(df).collect()}
    third = rows[("A", "2")]
    assert third.ret_10s == pytest.approx(0.0)  # only itself within 10 s
    assert third.ret_60s == pytest.approx(float(__import__("math").log(99 / 100)))
    assert third.flow_imbalance_60s == pytest.approx(1 / 3)  # buy 1, buy 1, sell 1
    assert third.trade_rate_60s == pytest.approx(3 / 60)
    assert third.vwap_dist_300s == pytest.approx(99 / ((100 + 110 + 99) / 3) - 1)
    assert rows[("B", "3")].trade_rate_60s == pytest.approx(1 / 60)  # symbols never mix
    assert all(getattr(r, c) is not None for r in rows.values() for c in FEATURE_COLUMNS)


def test_no_feature_looks_past_its_own_timestamp(spark) -> None:
    """Changing the future must not change any feature of the past."""
    history = synthetic_trades(symbols=("A",), minutes=3, seed=3)
    cut = history[len(history) // 2]["trade_time"]
    base = spark.createDataFrame([tuple(r.values()) for r in history], SCHEMA)
    altered_rows = [
        (*tuple(r.values())[:3], r["price"] * 3 if r["trade_time"] > cut else r["price"], *tuple(r.values())[4:])
        for r in history
    ]
    altered = spark.createDataFrame(altered_rows, SCHEMA)
    past = F.col("trade_time") <= F.lit(cut)
    left = add_features(base).where(past).select("trade_id", *FEATURE_COLUMNS).orderBy("trade_id").collect()
    right = add_features(altered).where(past).select("trade_id", *FEATURE_COLUMNS).orderBy("trade_id").collect()
    assert left == right


def test_target_is_the_last_price_within_the_horizon_and_unlabelled_rows_are_dropped(spark) -> None:
    df = spark.createDataFrame(
        _rows([("A", 0, 100.0, "buy"), ("A", 10, 101.0, "buy"), ("A", 25, 102.0, "buy"), ("A", 40, 90.0, "sell")]),
        SCHEMA,
    )
    labelled = {r.trade_id: r for r in add_target(add_features(df)).collect()}
    assert set(labelled) == {"0", "1"}  # rows at 25 s and 40 s have no fully observed 30 s horizon
    assert labelled["0"].future_price == pytest.approx(102.0)  # last trade in (0, 30]
    assert labelled["1"].future_price == pytest.approx(90.0)  # last trade in (10, 40] is the one at 40 s
    assert labelled["0"][LABEL] == pytest.approx(__import__("math").log(102 / 100))


def test_time_split_has_no_leakage(spark) -> None:
    history = synthetic_trades(minutes=10, seed=5)
    labelled = add_target(add_features(spark.createDataFrame([tuple(r.values()) for r in history], SCHEMA)))
    split = time_split(labelled, valid_fraction=0.25)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        train_max = split.train.where(F.col("symbol") == symbol).agg(F.max(EVENT_MS)).first()[0]
        valid_min = split.valid.where(F.col("symbol") == symbol).agg(F.min(EVENT_MS)).first()[0]
        assert train_max < valid_min, "a validation row precedes a training row"
        # A training label looks HORIZON_S ahead: it must not reach into the validation window.
        assert train_max + HORIZON_S * 1000 <= valid_min
        assert split.cutoffs[symbol][1] - split.cutoffs[symbol][0] == HORIZON_S * 1000
    assert split.train.count() > 0 and split.valid.count() > 0
    assert LOOKBACK_S >= HORIZON_S  # the stream feeds enough history to compute every feature


def test_each_symbol_is_validated_on_its_own_newest_time(spark) -> None:
    # Two symbols recorded a day apart: one pooled window would validate on the later one only.
    early = synthetic_trades(symbols=("EARLY",), minutes=10, seed=1)
    late = synthetic_trades(symbols=("LATE",), minutes=10, seed=2, start=T0 + timedelta(days=1))
    few = synthetic_trades(symbols=("FEW",), minutes=1, trades_per_s=0.5, seed=3)
    rows = [tuple(r.values()) for r in early + late + few]
    labelled = add_target(add_features(spark.createDataFrame(rows, SCHEMA)))
    split = time_split(labelled, valid_fraction=0.2)
    valid_symbols = {row.symbol: row["count"] for row in split.valid.groupBy("symbol").count().collect()}
    assert set(valid_symbols) == {"EARLY", "LATE"} and min(valid_symbols.values()) > 100
    assert set(split.skipped) == {"FEW"} and "fewer than" in split.skipped["FEW"]


def test_metrics_of_a_perfect_forecast_and_of_the_baseline(spark) -> None:
    history = synthetic_trades(symbols=("A",), minutes=4, seed=9)
    labelled = add_target(add_features(spark.createDataFrame([tuple(r.values()) for r in history], SCHEMA)))
    perfect = forecast_metrics(labelled.withColumn(PREDICTED_RETURN, F.col(LABEL)))
    assert perfect["rmse"] == pytest.approx(0.0, abs=1e-9)
    assert perfect["rmse_bps"] == pytest.approx(0.0, abs=1e-9)
    assert perfect["directional_accuracy"] == pytest.approx(1.0)
    naive = forecast_metrics(with_baseline(labelled))
    assert naive["rmse"] > 0 and naive["directional_accuracy"] == 0.0
    assert naive["mape"] > 0
    assert naive["rmse_bps"] > 0 and naive["mae_bps"] <= naive["rmse_bps"]
    by_symbol = forecast_metrics_by_symbol(with_baseline(labelled))
    assert by_symbol["A"]["rmse_bps"] == pytest.approx(naive["rmse_bps"])


def test_return_metrics_weigh_symbols_by_rows_not_by_price(spark) -> None:
    # The same relative error on a 60,000 and a 0.5 asset counts the same in bps; in price units the
    # expensive one alone decides, which once let BTC's rows veto a model that was better everywhere.
    rows = [
        ("BTC", 60_000.0, 0.001, 0.002),  # price_d, forecast return, realised return
        ("XRP", 0.5, 0.001, 0.002),
    ]
    scored = spark.createDataFrame(rows, "symbol string, price_d double, predicted_return double, r double")
    scored = scored.withColumn(LABEL, F.col("r")).withColumn("future_price", F.col("price_d") * F.exp(F.col("r")))
    metrics = forecast_metrics(scored)
    assert metrics["rmse_bps"] == pytest.approx(10.0)  # 0.001 of log return = 10 bps on both rows
    assert metrics["mae_bps"] == pytest.approx(10.0)
    assert metrics["rmse"] > 40  # dominated by BTC's ~60 of price error


def test_significance_per_symbol_and_pooled(spark) -> None:
    history = synthetic_trades(symbols=("A", "B"), minutes=6, seed=4)
    labelled = add_target(add_features(spark.createDataFrame([tuple(r.values()) for r in history], SCHEMA)))
    perfect = forecast_significance(labelled.withColumn(PREDICTED_RETURN, F.col(LABEL)))
    assert set(perfect) == {"A", "B", POOLED}
    assert perfect[POOLED]["r2_oos"] == pytest.approx(1.0)
    assert perfect["A"]["dm_statistic"] < 0 and perfect["A"]["dm_p_value"] < 0.01  # the model's loss is lower
    assert perfect["A"]["dm_lag"] >= 30  # ~4 trades/s over a 30 s horizon share it
    naive = forecast_significance(with_baseline(labelled))
    assert naive[POOLED]["r2_oos"] == pytest.approx(0.0) and naive["B"]["directional_accuracy_high"] < 0.5
