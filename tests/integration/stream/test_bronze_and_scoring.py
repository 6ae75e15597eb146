"""Bronze rows keep the record unchanged; the scorer hook keeps the stream flowing."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import functions as F

from lakehouse.settings import Settings
from lakehouse.stream.bronze import BRONZE_SCHEMA, bronze_rows
from lakehouse.stream.scorer_hook import ScorerError, conform, load_scorer, null_scorer


def test_bronze_rows_keep_value_and_kafka_coordinates(kafka_frame) -> None:
    raw = b'{"not": "even a trade"}\x00\xff'
    rows = bronze_rows(kafka_frame([(raw, 2, 17)]), written_at_ms=1_767_323_045_000)
    assert [f.name for f in rows.schema] == [f.name for f in BRONZE_SCHEMA]
    row = rows.first()
    assert row.value == raw  # bytes untouched, even when not UTF-8
    assert (row.topic, row.partition, row.offset) == ("raw-trades", 2, 17)
    assert row.ingest_date == date(2026, 1, 2)  # from the Kafka timestamp: the same on every replay


def test_null_scorer_adds_typed_null_predictions(spark) -> None:
    rows = spark.createDataFrame([("BTCUSDT",)], "symbol string")
    scored = conform(null_scorer(rows))
    assert dict(scored.dtypes) == {"symbol": "string", "predicted_price": "double", "model_version": "string"}
    assert scored.first().asDict() == {"symbol": "BTCUSDT", "predicted_price": None, "model_version": None}


def test_conform_casts_and_refuses_a_scorer_without_prediction_columns(spark) -> None:
    rows = spark.createDataFrame([("BTCUSDT",)], "symbol string")
    scored = conform(rows.withColumn("predicted_price", F.lit(1)).withColumn("model_version", F.lit(3)))
    assert scored.first().asDict() == {"symbol": "BTCUSDT", "predicted_price": 1.0, "model_version": "3"}
    with pytest.raises(ScorerError, match="model_version"):
        conform(rows.withColumn("predicted_price", F.lit(1.0)))


def test_load_scorer_defaults_to_the_champion_and_explains_a_bad_path(spark, tmp_path) -> None:
    from lakehouse.ml.scoring import ChampionScorer

    assert load_scorer(spark, Settings(lake_uri="/tmp/lake", silver_scorer="")) is null_scorer
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    default = load_scorer(spark, Settings(lake_uri="/tmp/lake", mlflow_tracking_uri=tracking))
    assert isinstance(default, ChampionScorer) and default.model is None  # no champion yet: null predictions
    with pytest.raises(ScorerError, match="module:function"):
        load_scorer(spark, Settings(lake_uri="/tmp/lake", silver_scorer="no_colon"))
    with pytest.raises(ScorerError, match="cannot load scorer"):
        load_scorer(spark, Settings(lake_uri="/tmp/lake", silver_scorer="lakehouse.nowhere:factory"))


def test_commit_markers_name_their_sink_and_batch() -> None:
    from lakehouse.stream.delta_sink import commit_marker, parse_marker

    app = "silver.trades:4f1c-query"
    assert parse_marker(commit_marker(app, 17), app) == 17
    assert parse_marker(commit_marker(app, 17), "silver.trades_quarantine:4f1c-query") is None  # another sink
    assert parse_marker(commit_marker("silver.trades:other-query", 17), app) is None  # a reset checkpoint
    for foreign in (None, "", "OPTIMIZE by maintenance", f"{app}@", f"{app}@x"):
        assert parse_marker(foreign, app) is None


def test_the_newest_marker_of_the_sink_wins_whatever_commits_lie_between() -> None:
    from lakehouse.stream.delta_sink import commit_marker, newest_marker

    app = "silver.trades:4f1c-query"
    newest_first = [
        None,
        "OPTIMIZE",
        commit_marker("silver.trades:other", 99),
        commit_marker(app, 7),
        commit_marker(app, 6),
    ]
    assert newest_marker(newest_first, app) == 7
    assert newest_marker(newest_first[:3], app) is None
    assert newest_marker([], app) is None


def test_rows_of_picks_exactly_the_named_identities() -> None:
    import pyarrow as pa

    from lakehouse.stream.silver import _rows_of

    symbols = ["BTCUSDT", "BTCUSDT", "ETHUSDT"]
    rows = pa.table(
        {"source": ["binance"] * 3, "symbol": symbols, "trade_id": ["1", "2", "1"], "price": [1.0, 2.0, 3.0]}
    )
    picked = _rows_of(rows, {("binance", "ETHUSDT", "1"), ("binance", "BTCUSDT", "2"), ("binance", "SOLUSDT", "1")})
    assert sorted(picked.column("price").to_pylist()) == [2.0, 3.0]
    assert _rows_of(rows, set()).num_rows == 0
    # Parts that would spell the same key when glued together do not match each other.
    assert _rows_of(rows, {("binanceBTC", "USDT", "1")}).num_rows == 0
