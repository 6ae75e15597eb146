"""Trainer metrics served over HTTP while a run is in progress, and the outcome of each run."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lakehouse.ml.gate import GateDecision
from lakehouse.ml.train import TrainingResult
from lakehouse.observability.server import MetricsPortInUseError, serve
from lakehouse.observability.trainer import training_metrics
from lakehouse.settings import Settings


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def result(promote: bool) -> TrainingResult:
    return TrainingResult(
        version="4",
        run_id="r",
        metrics={"rmse": 0.5, "mae": 0.4, "mape": 0.01, "directional_accuracy": 0.55},
        baseline={"rmse": 0.6, "mae": 0.45, "mape": 0.012, "directional_accuracy": 0.5},
        champion=None,
        decision=GateDecision(promote, "test"),
        rows={"train": 900, "valid": 100},
    )


def test_served_while_training_then_recorded() -> None:
    settings = Settings(metrics_port=0)
    with training_metrics(settings) as metrics:
        port = metrics.port
        assert port is not None
        during = scrape(port)
        assert during[("lakehouse_trainer_running", ())] == 1
        metrics.wrap(lambda _m: None)("fitting gbt on 900 rows")
        metrics.record(result(promote=True))
    after = scrape(port)
    assert after[("lakehouse_trainer_running", ())] == 0
    assert after[("lakehouse_trainer_runs_total", (("outcome", "promoted"),))] == 1
    assert after[("lakehouse_trainer_runs_total", (("outcome", "failed"),))] == 0
    assert after[("lakehouse_trainer_validation_score", (("metric", "rmse"), ("model", "baseline")))] == 0.6
    assert after[("lakehouse_trainer_rows", (("split", "train"),))] == 900
    assert after[("lakehouse_trainer_last_version", ())] == 4
    assert ("lakehouse_trainer_stage_started_timestamp_seconds", (("stage", "fitting"),)) in after
    assert after[("lakehouse_trainer_last_run_seconds", ())] > 0


def test_a_failed_run_is_counted_and_the_error_propagates() -> None:
    with pytest.raises(RuntimeError, match="boom"), training_metrics(Settings(metrics_port=None)) as metrics:
        raise RuntimeError("boom")
    assert metrics.registry.get_sample_value("lakehouse_trainer_runs_total", {"outcome": "failed"}) == 1


def test_a_taken_port_names_the_setting() -> None:
    with training_metrics(Settings(metrics_port=0)) as metrics:
        assert metrics.port is not None
        with pytest.raises(MetricsPortInUseError, match="LAKEHOUSE_METRICS_PORT"):
            serve(metrics.registry, metrics.port, "trainer")


def test_a_run_beside_a_service_holding_the_port_moves_its_metrics_and_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # `docker exec airflow-scheduler python train_model.py` while the retrain task already serves 9200 there.
    with socket.socket() as service:
        service.bind(("0.0.0.0", 0))
        service.listen()
        taken = service.getsockname()[1]
        with caplog.at_level(logging.WARNING), training_metrics(Settings(metrics_port=taken)) as metrics:
            assert metrics.port is not None and metrics.port != taken
            assert scrape(metrics.port)[("lakehouse_trainer_running", ())] == 1
            metrics.record(result(promote=False))
    assert metrics.registry.get_sample_value("lakehouse_trainer_runs_total", {"outcome": "rejected"}) == 1
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert f"port {taken} is not available" in warning.getMessage()
    assert f"port {metrics.port} instead" in warning.getMessage()
