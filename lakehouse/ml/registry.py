"""MLflow tracking and registry: one place that knows the model name, the alias and the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from lakehouse.settings import Settings

log = logging.getLogger(__name__)

MODEL_NAME = "price_forecaster"
CHAMPION_ALIAS = "champion"
EXPERIMENT = "price_forecaster"


def champion_model_uri() -> str:
    return f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}"


def configure_mlflow(settings: Settings) -> None:
    """Point MLflow at the tracking store; create the experiment with our artifact root."""
    import mlflow

    uri = settings.mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        artifact_root = settings.mlflow_artifact_root if not uri.startswith("http") else None
        mlflow.create_experiment(
            EXPERIMENT, artifact_location=f"{artifact_root}/{EXPERIMENT}" if artifact_root else None
        )
    mlflow.set_experiment(EXPERIMENT)


@dataclass(frozen=True)
class ChampionRef:
    version: str
    run_id: str | None


def current_champion() -> ChampionRef | None:
    """The version behind the `champion` alias, or None when there is none yet."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        version = MlflowClient().get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    except MlflowException as error:
        if "RESOURCE_DOES_NOT_EXIST" in str(error.error_code) or "not found" in str(error).lower():
            return None
        raise
    return ChampionRef(version=str(version.version), run_id=version.run_id)


def promote(version: str) -> None:
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(MODEL_NAME, CHAMPION_ALIAS, version)
    log.info("model %s version %s is now @%s", MODEL_NAME, version, CHAMPION_ALIAS)


def tag_version(version: str, tags: dict[str, str]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
