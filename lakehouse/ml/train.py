"""Train the price forecaster on silver history, track it in MLflow, and gate the champion alias."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from lakehouse.ml import registry
from lakehouse.ml.evaluation import (
    POOLED,
    PREDICTED_RETURN,
    TimeSplit,
    forecast_metrics,
    forecast_metrics_by_symbol,
    forecast_significance,
    time_split,
    with_baseline,
)
from lakehouse.ml.features import FEATURE_COLUMNS, LOOKBACK_S, add_features
from lakehouse.ml.gate import GATE_METRIC, GateDecision, decide
from lakehouse.ml.spark_models import load_spark_model, log_spark_model
from lakehouse.ml.target import HORIZON_S, LABEL, add_target
from lakehouse.settings import Settings

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

SILVER_COLUMNS = ("symbol", "trade_id", "trade_time", "price", "quantity", "side")
ModelKind = Literal["gbt", "linear"]
Progress = Callable[[str], None]


class NotEnoughHistoryError(RuntimeError):
    """Silver holds too little labelled history to train and validate a model."""


@dataclass
class TrainingResult:
    version: str
    run_id: str
    metrics: dict[str, float]
    baseline: dict[str, float]
    champion: dict[str, float] | None
    decision: GateDecision
    rows: dict[str, int] = field(default_factory=dict)
    by_symbol: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # symbol -> model -> metrics
    significance: dict[str, float] = field(default_factory=dict)  # pooled R², direction interval, Diebold-Mariano


def load_silver(spark: SparkSession, settings: Settings) -> DataFrame:
    return spark.read.format("delta").load(settings.table_uri("silver", "trades")).select(*SILVER_COLUMNS)


def build_pipeline(kind: ModelKind, seed: int = 7) -> object:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import GBTRegressor, LinearRegression

    assembler = VectorAssembler(inputCols=list(FEATURE_COLUMNS), outputCol="features", handleInvalid="keep")
    regressor = (
        GBTRegressor(labelCol=LABEL, predictionCol="prediction", maxIter=40, maxDepth=4, stepSize=0.1, seed=seed)
        if kind == "gbt"
        else LinearRegression(labelCol=LABEL, predictionCol="prediction", regParam=0.01, elasticNetParam=0.0)
    )
    return Pipeline(stages=[assembler, regressor])


def score(model: PipelineModel, featured: DataFrame) -> DataFrame:
    """The model predicts the H-second log return; keep it as PREDICTED_RETURN."""
    return model.transform(featured).withColumnRenamed("prediction", PREDICTED_RETURN).drop("features")


def _champion_metrics(valid: DataFrame, settings: Settings, progress: Progress) -> dict[str, float] | None:
    """The champion's metrics on the candidate's validation rows (None: no champion, or it cannot score)."""
    champion = registry.current_champion()
    if champion is None:
        return None
    progress(f"scoring champion v{champion.version} on the same validation window")
    try:
        model = load_spark_model(registry.champion_model_uri(), settings)
        return forecast_metrics(score(model, valid))
    except Exception as error:
        log.warning("champion v%s cannot be scored (%s); comparing with the baseline only", champion.version, error)
        return None


def _require_movement(split: TimeSplit) -> None:
    """Refuse a window in which no price moved: every forecast there is trivially "no change"."""
    from pyspark.sql import functions as F

    for name, frame in (("training", split.train), ("validation", split.valid)):
        if not frame.where(F.col(LABEL) != 0).limit(1).count():
            raise NotEnoughHistoryError(
                f"no price moved within {HORIZON_S} s anywhere in the {name} window, so there is nothing to "
                "forecast yet; let the streams run longer"
            )


def _split(labelled: DataFrame, min_train_rows: int, progress: Progress) -> tuple[TimeSplit, int, int]:
    """The per-symbol time split, refused with a reason when there is too little to learn or to judge."""
    try:
        split: TimeSplit = time_split(labelled)
    except ValueError as error:
        raise NotEnoughHistoryError(f"{error}; let the streams run longer") from error
    for symbol, reason in sorted(split.skipped.items()):
        progress(f"leaving out {symbol}: {reason}")
    train_rows, valid_rows = split.train.count(), split.valid.count()
    if train_rows < min_train_rows or valid_rows < max(50, min_train_rows // 10):
        raise NotEnoughHistoryError(
            f"need at least {min_train_rows} training rows and {max(50, min_train_rows // 10)} validation rows, "
            f"have {train_rows} and {valid_rows}; let the streams run longer"
        )
    _require_movement(split)
    return split, train_rows, valid_rows


def _evaluation_by_symbol(
    scored: DataFrame, baseline: DataFrame, significance: dict[str, dict[str, float]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Per symbol: the candidate's and the naive baseline's metrics on the same rows, and the significance."""
    candidate, naive = forecast_metrics_by_symbol(scored), forecast_metrics_by_symbol(baseline)
    return {
        symbol: {"candidate": candidate[symbol], "baseline": naive[symbol], "significance": significance[symbol]}
        for symbol in candidate
    }


@dataclass(frozen=True)
class Evaluation:
    """The candidate, the naive baseline and the current champion on the same validation rows."""

    metrics: dict[str, float]
    baseline: dict[str, float]
    champion: dict[str, float] | None
    significance: dict[str, dict[str, float]]
    by_symbol: dict[str, dict[str, dict[str, float]]]


def train(
    spark: SparkSession,
    settings: Settings,
    kind: ModelKind = "gbt",
    min_train_rows: int = 500,
    progress: Progress = log.info,
) -> TrainingResult:
    """Read silver, split by time, fit, evaluate against the baseline and the champion, log and register
    the model, and move @champion only when the gate says so."""
    import mlflow

    started = time.monotonic()
    registry.configure_mlflow(settings)
    progress("reading silver history and computing features")
    labelled = add_target(add_features(load_silver(spark, settings))).cache()
    if labelled.count() == 0:
        raise NotEnoughHistoryError("silver has no trade with a fully observed horizon yet")
    split, train_rows, valid_rows = _split(labelled, min_train_rows, progress)

    with mlflow.start_run(run_name=f"{kind}-{time.strftime('%Y%m%dT%H%M%S')}") as run:
        _log_params(kind, split, train_rows, valid_rows)
        progress(f"fitting {kind} on {train_rows} rows")
        model = build_pipeline(kind).fit(split.train)  # type: ignore[attr-defined]
        progress(f"evaluating on {valid_rows} validation rows")
        evaluation = _evaluate(model, split, settings, progress)
        _log_evaluation(evaluation)
        progress("logging the model to MLflow")
        version = _log_and_register(model, split, settings)
        decision = _gate(version, evaluation)
        mlflow.log_metric("training_seconds", time.monotonic() - started)
    labelled.unpersist()
    return TrainingResult(
        version=version,
        run_id=run.info.run_id,
        metrics=evaluation.metrics,
        baseline=evaluation.baseline,
        champion=evaluation.champion,
        decision=decision,
        rows={"train": train_rows, "valid": valid_rows},
        by_symbol=evaluation.by_symbol,
        significance=evaluation.significance[POOLED],
    )


def _log_params(kind: ModelKind, split: TimeSplit, train_rows: int, valid_rows: int) -> None:
    import mlflow

    mlflow.log_params(
        {
            "model": kind,
            "horizon_s": HORIZON_S,
            "lookback_s": LOOKBACK_S,
            "features": ",".join(FEATURE_COLUMNS),
            "train_rows": train_rows,
            "valid_rows": valid_rows,
            "symbols": ",".join(sorted(split.cutoffs)),
        }
    )


def _evaluate(model: PipelineModel, split: TimeSplit, settings: Settings, progress: Progress) -> Evaluation:
    scored = score(model, split.valid)
    significance = forecast_significance(scored)
    return Evaluation(
        metrics=forecast_metrics(scored),
        baseline=forecast_metrics(with_baseline(split.valid)),
        champion=_champion_metrics(split.valid, settings, progress),
        significance=significance,
        by_symbol=_evaluation_by_symbol(scored, with_baseline(split.valid), significance),
    )


def _log_evaluation(evaluation: Evaluation) -> None:
    import mlflow

    metrics, baseline = evaluation.metrics, evaluation.baseline
    mlflow.log_dict(evaluation.by_symbol, "evaluation_by_symbol.json")
    mlflow.log_metrics({k: v for k, v in evaluation.significance[POOLED].items() if math.isfinite(v)})
    mlflow.log_metrics({k: v for k, v in metrics.items() if k != "rows"})
    mlflow.log_metrics({f"baseline_{k}": v for k, v in baseline.items() if k != "rows"})
    for name in ("rmse_bps", "mae_bps"):  # the baseline's errors are > 0: _require_movement checked
        improvement = (baseline[name] - metrics[name]) / baseline[name]
        mlflow.log_metric(f"{name.removesuffix('_bps')}_improvement_over_baseline", improvement)
    if evaluation.champion is not None:
        mlflow.log_metrics({f"champion_{k}": v for k, v in evaluation.champion.items() if k != "rows"})


def _log_and_register(model: PipelineModel, split: TimeSplit, settings: Settings) -> str:
    """Log the fitted pipeline with its signature and an input example; return its registered version."""
    import mlflow
    import pyspark
    from mlflow.models import infer_signature

    example = split.valid.select(*FEATURE_COLUMNS).limit(5).toPandas()
    signature = infer_signature(example, model.transform(split.valid.limit(5)).select("prediction").toPandas())
    info = log_spark_model(
        model,
        settings,
        artifact_path="model",
        # Stated, not inferred: inference reloads the model in a child Python with its own Spark,
        # which is slow and breaks inside Airflow's supervised task processes.
        pip_requirements=[f"pyspark=={pyspark.__version__}", f"mlflow=={mlflow.__version__}"],
        registered_model_name=registry.MODEL_NAME,
        signature=signature,
        input_example=example,
    )
    return str(info.registered_model_version)


def _gate(version: str, evaluation: Evaluation) -> GateDecision:
    """Tag the version with the gate's verdict, and move @champion to it only when it wins."""
    import mlflow

    champion = evaluation.champion[GATE_METRIC] if evaluation.champion else None
    decision = decide(evaluation.metrics[GATE_METRIC], evaluation.baseline[GATE_METRIC], champion)
    tags = {"promotion": "promoted" if decision.promote else "rejected", "gate_reason": decision.reason}
    mlflow.set_tags(tags)
    registry.tag_version(version, tags)
    if decision.promote:
        registry.promote(version)
    else:
        log.warning("version %s registered without @%s: %s", version, registry.CHAMPION_ALIAS, decision.reason)
    return decision
