"""In-flight scoring: the streaming path computes the training features, follows the alias, survives outages."""

from datetime import timedelta

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakehouse.local.processes import free_port
from lakehouse.ml import registry
from lakehouse.ml.features import FEATURE_COLUMNS, add_features
from lakehouse.ml.scoring import ChampionScorer, batch_features
from lakehouse.ml.train import train
from tests.utils.market import SILVER_SUBSET_SCHEMA, synthetic_trades

# The silver subset training reads, behind the `source` column the scorer keys on.
SCHEMA = StructType([StructField("source", StringType()), *SILVER_SUBSET_SCHEMA.fields])


def _frame(spark, rows):
    return spark.createDataFrame([("binance", *r.values()) for r in rows], SCHEMA).withColumn(
        "trade_date", F.to_date("trade_time")
    )


@pytest.fixture
def history(settings, spark):
    """20 minutes of two symbols; the first 15 already in silver, the rest arrives as a batch."""
    rows = synthetic_trades(minutes=20, trades_per_s=3.0, seed=21)
    cut = min(r["trade_time"] for r in rows) + timedelta(minutes=15)
    older = [r for r in rows if r["trade_time"] < cut]
    newer = [r for r in rows if r["trade_time"] >= cut]
    silver_uri = settings.table_uri("silver", "trades")
    _frame(spark, older).write.format("delta").partitionBy("trade_date").save(silver_uri)
    return silver_uri, _frame(spark, rows), _frame(spark, newer)


def test_streamed_batch_gets_exactly_the_training_features(spark, history) -> None:
    silver_uri, everything, batch = history
    streamed = batch_features(spark, silver_uri, batch).select("symbol", "trade_id", *FEATURE_COLUMNS)
    reference = (
        add_features(everything)
        .join(batch.select("symbol", "trade_id"), ["symbol", "trade_id"])
        .select("symbol", "trade_id", *FEATURE_COLUMNS)
    )
    got = {(r.symbol, r.trade_id): r for r in streamed.collect()}
    want = {(r.symbol, r.trade_id): r for r in reference.collect()}
    assert set(got) == set(want) and len(got) == batch.count()
    for key, row in want.items():
        for column in FEATURE_COLUMNS:
            assert got[key][column] == pytest.approx(row[column], rel=1e-9, abs=1e-12), (key, column)


def test_scorer_follows_the_alias_and_degrades_to_nulls(spark, settings, history, tmp_path) -> None:
    _, _, batch = history
    ml = settings.model_copy(
        update={
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "mlflow_artifact_root": (tmp_path / "artifacts").as_uri(),
        }
    )
    scorer = ChampionScorer(spark, ml, check_interval_s=0)
    empty = scorer(batch)
    assert empty.where(F.col("predicted_price").isNotNull()).count() == 0  # no champion yet: nulls, no error
    assert scorer._last_problem and "champion" in scorer._last_problem

    first = train(spark, ml, kind="linear", min_train_rows=200)
    assert first.decision.promote
    scored = scorer(batch).collect()
    assert len(scored) == batch.count()
    assert all(r.predicted_price is not None and r.model_version == first.version for r in scored)
    # The forecast is a price near the trade price (a 30 s log return is small), not a return.
    assert all(abs(r.predicted_price / float(r.price) - 1) < 0.05 for r in scored)

    second = train(spark, ml, kind="gbt", min_train_rows=200)
    registry.promote(second.version)  # the alias moves while the "stream" runs
    assert {r.model_version for r in scorer(batch).select("model_version").collect()} == {second.version}

    down = ChampionScorer(spark, ml.model_copy(update={"mlflow_tracking_uri": f"http://127.0.0.1:{free_port()}"}), 0)
    nulls = down(batch)
    assert nulls.where(F.col("predicted_price").isNotNull()).count() == 0
    assert "unreachable" in (down._last_problem or "")
