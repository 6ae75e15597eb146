"""The model panel says why there is no champion: the newest version's gate reason, from a real registry."""

from __future__ import annotations

from pathlib import Path

from lakehouse.dashboard.app import champion_version
from lakehouse.ml.registry import CHAMPION_ALIAS, MODEL_NAME


def test_no_champion_names_the_gate_reason_then_the_champion_wins(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL_NAME)
    assert champion_version.__wrapped__(uri) == (None, f"no {MODEL_NAME}@{CHAMPION_ALIAS} yet (no model trained yet)")

    for number in ("1", "2"):
        client.create_model_version(MODEL_NAME, source=(tmp_path / number).as_uri())
    reason = "RMSE 10.21 bps does not beat the naive baseline 8.441 bps"
    client.set_model_version_tag(MODEL_NAME, "2", "gate_reason", reason)
    version, note = champion_version.__wrapped__(uri)
    assert version is None and note == f"no {MODEL_NAME}@{CHAMPION_ALIAS} yet: v2 was not promoted ({reason})"

    client.set_registered_model_alias(MODEL_NAME, CHAMPION_ALIAS, "1")
    assert champion_version.__wrapped__(uri) == ("1", f"{MODEL_NAME}@{CHAMPION_ALIAS}")
