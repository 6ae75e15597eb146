"""MLflow tracking and registry: one place that knows the model name, the alias and the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

MODEL_NAME = "price_forecaster"
CHAMPION_ALIAS = "champion"
EXPERIMENT = "price_forecaster"


def champion_model_uri() -> str:
    return f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}"


def connect_mlflow(settings: Settings) -> None:
    """Point MLflow at the tracking store and registry, creating nothing (what readers need)."""
    import mlflow

    uri = settings.mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def configure_mlflow(settings: Settings) -> None:
    """connect_mlflow, then create the experiment with our artifact root (the trainer's part).

    Only the trainer creates it: on a server with authentication the creator owns the experiment,
    and a reader (the silver scorer, the dashboard) that created it first would leave the trainer
    unable to log to it.
    """
    import mlflow

    connect_mlflow(settings)
    uri = settings.mlflow_tracking_uri
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


def champion_version(client: MlflowClient) -> ModelVersion | None:
    """The ModelVersion behind `price_forecaster@champion` (MlflowClient), or None when there is none yet.

    Asks whether the model exists first: a server with authentication answers 403, not 404, for an
    alias of a model that does not exist (it does not tell who may not read it whether it exists).
    """
    from mlflow.exceptions import MlflowException

    if not client.search_registered_models(filter_string=f"name = '{MODEL_NAME}'"):
        return None
    try:
        return client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    except MlflowException as error:
        if "RESOURCE_DOES_NOT_EXIST" in str(error.error_code) or "not found" in str(error).lower():
            return None
        raise


def current_champion() -> ChampionRef | None:
    """The version behind the `champion` alias, or None when there is none yet."""
    from mlflow import MlflowClient

    version = champion_version(MlflowClient())
    return None if version is None else ChampionRef(version=str(version.version), run_id=version.run_id)


def promote(version: str) -> None:
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(MODEL_NAME, CHAMPION_ALIAS, version)
    log.info("model %s version %s is now @%s", MODEL_NAME, version, CHAMPION_ALIAS)


def tag_version(version: str, tags: dict[str, str]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
