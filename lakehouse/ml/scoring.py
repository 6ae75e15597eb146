"""In-flight predictions for the silver stream: score each batch with `models:/price_forecaster@champion`.

Plugged into the silver job through its scorer hook (`LAKEHOUSE_SILVER_SCORER=lakehouse.ml.scoring:champion_scorer`).
Features come from `lakehouse.ml.features`, the same code training uses: each batch is scored together
with the silver history of its symbols from LOOKBACK_S before its oldest trade, so a streamed row gets
the features it would get in training. The alias is re-read between batches (at most every
`check_interval_s`), so a new champion is picked up without restarting the stream. No champion, or
MLflow unreachable: null predictions with a logged reason, and the stream keeps flowing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from lakehouse.ml import registry
from lakehouse.ml.features import FEATURE_COLUMNS, LOOKBACK_S, add_features
from lakehouse.schema.silver import IDENTITY

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.settings import Settings

log = logging.getLogger(__name__)

FEATURE_INPUT = (*IDENTITY, "trade_time", "price", "quantity", "side")
_NEW = "_is_new"


def history_for(spark: SparkSession, silver_uri: str, batch: DataFrame) -> DataFrame | None:
    """Silver rows of the batch's symbols from LOOKBACK_S before its oldest trade to its newest."""
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, silver_uri):
        return None
    bounds = batch.agg(F.min("trade_time").alias("lo"), F.max("trade_time").alias("hi")).first()
    if bounds is None or bounds.lo is None:
        return None
    start = bounds.lo - timedelta(seconds=LOOKBACK_S)
    symbols = [row.symbol for row in batch.select("symbol").distinct().collect()]
    return (
        spark.read.format("delta")
        .load(silver_uri)
        # trade_date first: partition pruning; then trade_time: file skipping on Delta statistics.
        .where(F.col("trade_date").between(F.lit(start.date()), F.lit(bounds.hi.date())))
        .where(F.col("trade_time").between(F.lit(start), F.lit(bounds.hi)))
        .where(F.col("symbol").isin(symbols))
        .select(*FEATURE_INPUT)
    )


def batch_features(spark: SparkSession, silver_uri: str, batch: DataFrame) -> DataFrame:
    """Features of the batch rows, computed over silver history + the batch (the training code path)."""
    new_rows = batch.select(*FEATURE_INPUT).withColumn(_NEW, F.lit(True))
    history = history_for(spark, silver_uri, batch)
    combined = new_rows
    if history is not None:
        # A replayed trade may already be in silver: keep the batch copy only.
        old_rows = history.join(new_rows.select(*IDENTITY), list(IDENTITY), "left_anti").withColumn(_NEW, F.lit(False))
        combined = new_rows.unionByName(old_rows)
    return add_features(combined).where(F.col(_NEW)).drop(_NEW)


class ChampionScorer:
    """A silver Scorer that follows the champion alias."""

    def __init__(self, spark: SparkSession, settings: Settings, check_interval_s: float = 10.0) -> None:
        # MLflow's HTTP client retries for minutes by default; between batches a quick "no" is better.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
        self.spark = spark
        self.settings = settings
        self.silver_uri = settings.table_uri("silver", "trades")
        self.check_interval_s = check_interval_s
        self.model: PipelineModel | None = None
        self.version: str | None = None
        self._checked_at = float("-inf")
        self._last_problem: str | None = None
        self._loader: Callable[[str], Any] = self._load_model
        self._first_refresh: threading.Thread | None = None

    def refresh_in_background(self) -> None:
        """Start the first refresh (MLflow's import and store, the model load: seconds) beside the stream.

        The job's first batch validates and deduplicates meanwhile; scoring it waits for this refresh.
        """
        self._first_refresh = threading.Thread(
            target=self.refresh, kwargs={"force": True}, name="champion-first-refresh", daemon=True
        )
        self._first_refresh.start()

    def _load_model(self, uri: str) -> PipelineModel:
        from lakehouse.ml.spark_models import load_spark_model

        return load_spark_model(uri, self.settings)

    def _note(self, problem: str | None) -> None:
        """Log a reason for null predictions once per change, not once per batch."""
        if problem != self._last_problem:
            if problem:
                log.warning("predictions are null: %s", problem)
            elif self._last_problem:
                log.info("predictions resumed with %s v%s", registry.MODEL_NAME, self.version)
            self._last_problem = problem

    def refresh(self, force: bool = False) -> None:
        """Load the champion when the alias moved (or first appeared)."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.check_interval_s:
            return
        self._checked_at = now
        try:
            registry.connect_mlflow(self.settings)
            champion = registry.current_champion()
        except Exception as error:
            self._note(f"MLflow unreachable ({type(error).__name__}: {error}); keeping v{self.version}")
            return
        if champion is None:
            self.model, self.version = None, None
            self._note(f"no {registry.champion_model_uri()} yet")
            return
        if champion.version == self.version:
            return
        try:
            self.model = self._loader(f"models:/{registry.MODEL_NAME}/{champion.version}")
        except Exception as error:
            self._note(f"cannot load {registry.MODEL_NAME} v{champion.version}: {error}")
            return
        log.info("scoring silver with %s v%s (was v%s)", registry.MODEL_NAME, champion.version, self.version)
        self.version = champion.version
        self._note(None)

    def __call__(self, rows: DataFrame) -> DataFrame:
        if self._first_refresh is not None:
            self._first_refresh.join()
            self._first_refresh = None
        self.refresh()
        if self.model is None:
            return rows.withColumn("predicted_price", F.lit(None).cast("double")).withColumn(
                "model_version", F.lit(None).cast("string")
            )
        featured = batch_features(self.spark, self.silver_uri, rows)
        predictions = self.model.transform(featured.select(*IDENTITY, "price_d", *FEATURE_COLUMNS)).select(
            *IDENTITY,
            (F.col("price_d") * F.exp(F.col("prediction"))).alias("predicted_price"),
            F.lit(self.version).alias("model_version"),
        )
        return rows.join(predictions, list(IDENTITY), "left")


def champion_scorer(spark: SparkSession, settings: Settings) -> ChampionScorer:
    """The silver job's scorer factory (LAKEHOUSE_SILVER_SCORER=lakehouse.ml.scoring:champion_scorer)."""
    scorer = ChampionScorer(spark, settings)
    scorer.refresh_in_background()
    return scorer
