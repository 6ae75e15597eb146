"""The prediction hook of the silver job.

A `Scorer` is a DataFrame -> DataFrame function applied to each batch's new silver rows: it must add
`predicted_price` (double) and `model_version` (string) and keep every row. The default writes nulls,
so the stream flows before any model exists. A model plugs in through `LAKEHOUSE_SILVER_SCORER`
("module:function"): the function receives (SparkSession, Settings) once at start and returns the
Scorer (which may, e.g., reload `models:/price_forecaster@champion` when the alias moves).
A scorer that fails on a batch is logged and replaced by nulls for that batch: predictions are an
enrichment, never a reason to stop ingesting trades.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse.settings import Settings

log = logging.getLogger(__name__)

Scorer = Callable[["DataFrame"], "DataFrame"]
ScorerFactory = Callable[["SparkSession", "Settings"], Scorer]
PREDICTION_COLUMNS = {"predicted_price": "double", "model_version": "string"}


class ScorerError(RuntimeError):
    """The configured scorer cannot be loaded or breaks the scorer contract."""


def null_scorer(rows: DataFrame) -> DataFrame:
    """No model yet: null predictions."""
    for name, spark_type in PREDICTION_COLUMNS.items():
        rows = rows.withColumn(name, F.lit(None).cast(spark_type))
    return rows


def conform(scored: DataFrame) -> DataFrame:
    """Cast the prediction columns to their contract types; a missing one is a broken scorer."""
    missing = [name for name in PREDICTION_COLUMNS if name not in scored.columns]
    if missing:
        raise ScorerError(f"scorer output lacks {', '.join(missing)}")
    for name, spark_type in PREDICTION_COLUMNS.items():
        scored = scored.withColumn(name, F.col(name).cast(spark_type))
    return scored


def load_scorer(spark: SparkSession, settings: Settings) -> Scorer:
    """The scorer named by settings.silver_scorer, or the null scorer."""
    if not settings.silver_scorer:
        return null_scorer
    module_name, _, attribute = settings.silver_scorer.partition(":")
    if not module_name or not attribute:
        raise ScorerError(f"LAKEHOUSE_SILVER_SCORER must be module:function, got {settings.silver_scorer!r}")
    try:
        factory: ScorerFactory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ScorerError(f"cannot load scorer {settings.silver_scorer!r}: {error}") from error
    log.info("silver scorer: %s", settings.silver_scorer)
    return factory(spark, settings)
