"""Training on silver history: MLflow run, registered model, and the champion gate, for real."""

import subprocess
import sys
from decimal import Decimal

import pytest

from lakehouse.ml import registry
from lakehouse.ml.train import NotEnoughHistoryError, train
from tests.utils.market import SILVER_SUBSET_SCHEMA, synthetic_trades

SILVER_SUBSET = SILVER_SUBSET_SCHEMA


@pytest.fixture
def ml_settings(settings, tmp_path, spark):
    ml = settings.model_copy(
        update={
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "mlflow_artifact_root": (tmp_path / "artifacts").as_uri(),
        }
    )
    rows = [tuple(r.values()) for r in synthetic_trades(minutes=25, trades_per_s=3.0)]
    spark.createDataFrame(rows, SILVER_SUBSET).write.format("delta").save(ml.table_uri("silver", "trades"))
    return ml


def test_training_registers_and_the_gate_only_moves_the_alias_for_a_winner(spark, ml_settings) -> None:
    import mlflow
    from mlflow import MlflowClient

    first = train(spark, ml_settings, kind="gbt")
    assert first.decision.promote, first.decision.reason
    assert first.metrics["rmse_bps"] < first.baseline["rmse_bps"]  # the synthetic order-flow signal is learnable
    assert registry.current_champion().version == first.version

    run = mlflow.get_run(first.run_id)
    expected = ("rmse_bps", "rmse", "mae", "mape", "directional_accuracy", "baseline_rmse_bps")
    for key in (*expected, "rmse_improvement_over_baseline"):
        assert key in run.data.metrics, key
    assert run.data.params["horizon_s"] == "30"
    model_info = mlflow.models.get_model_info(f"runs:/{first.run_id}/model")
    assert model_info.signature is not None and model_info.saved_input_example_info is not None

    # The same data and seed give the same model: it cannot strictly beat the champion, so no promotion.
    second = train(spark, ml_settings, kind="gbt")
    assert not second.decision.promote and "champion" in second.decision.reason
    assert second.champion is not None
    assert registry.current_champion().version == first.version
    version = MlflowClient().get_model_version(registry.MODEL_NAME, second.version)
    assert version.tags["promotion"] == "rejected" and "champion" in version.tags["gate_reason"]


def test_too_little_history_is_refused_with_a_reason(spark, ml_settings) -> None:
    with pytest.raises(NotEnoughHistoryError, match="let the streams run longer"):
        train(spark, ml_settings, min_train_rows=10_000_000)


def test_a_window_without_price_moves_is_refused_not_a_crash(spark, settings, tmp_path) -> None:
    # A symbol that only just started trading, at one price: the baseline's error is 0, and dividing by it
    # once crashed training with ZeroDivisionError instead of refusing.
    flat = settings.model_copy(
        update={
            "lake_uri": (tmp_path / "flat-lake").as_uri(),
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'flat.db'}",
            "mlflow_artifact_root": (tmp_path / "flat-artifacts").as_uri(),
        }
    )
    rows = [{**r, "price": Decimal("100")} for r in synthetic_trades(symbols=("FLAT",), minutes=10)]
    spark.createDataFrame([tuple(r.values()) for r in rows], SILVER_SUBSET).write.format("delta").save(
        flat.table_uri("silver", "trades")
    )
    with pytest.raises(NotEnoughHistoryError, match="no price moved"):
        train(spark, flat)


def test_train_model_script_has_help() -> None:
    result = subprocess.run([sys.executable, "train_model.py", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "--model" in result.stdout
