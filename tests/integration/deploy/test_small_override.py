"""docker-compose.small.yaml: the same data path with less around it, as the real docker compose reads it.

Beside the main file it only moves Metabase and Grafana behind the `full` profile and gives the one
Spark worker less memory; every service on the data path starts as before and every container keeps
a memory limit. Combined with the air-gap override (how the compose run builds here) it still resolves.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.deploy.conftest import resolve_services
from tests.utils.compose_model import COMPOSE_FILE, REPO

SMALL_FILE = REPO / "docker-compose.small.yaml"
AIRGAP_FILE = REPO / "docker-compose.airgap.yaml"
FULL_ONLY = {"metabase", "metabase-init", "grafana"}
DATA_PATH = {"ingestion-api", "producer", "kafka", "spark-bronze", "spark-silver", "postgres", "dbt", "mlflow",
             "airflow-scheduler", "dashboard", "minio", "spark-master", "spark-worker"}  # fmt: skip


@pytest.fixture(scope="module")
def resolved(docker_compose, generated_env, tmp_path_factory) -> tuple[dict[str, Any], dict[str, Any]]:
    env_file = tmp_path_factory.mktemp("small") / "compose.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in generated_env.items()))
    main = resolve_services(docker_compose, env_file, COMPOSE_FILE)
    both = resolve_services(docker_compose, env_file, COMPOSE_FILE, AIRGAP_FILE, SMALL_FILE)
    assert set(both) == set(main)
    return main, resolve_services(docker_compose, env_file, COMPOSE_FILE, SMALL_FILE)


def _starts_by_default(service: dict[str, Any]) -> bool:
    return not service.get("profiles")


def test_metabase_and_grafana_wait_behind_the_full_profile_and_the_data_path_stays(resolved) -> None:
    main, small = resolved
    assert set(small) == set(main)
    for name in FULL_ONLY:
        assert small[name]["profiles"] == ["full"], name
    started = {name for name, service in small.items() if _starts_by_default(service)}
    assert started >= DATA_PATH
    assert started == {name for name, service in main.items() if _starts_by_default(service)} - FULL_ONLY


def test_the_worker_offers_less_within_a_lower_limit_and_nothing_else_changes(resolved) -> None:
    main, small = resolved
    worker, before = small["spark-worker"], main["spark-worker"]
    assert worker["environment"]["SPARK_WORKER_MEMORY"] == "3g"
    assert worker["mem_limit"] < before["mem_limit"]  # compose resolves sizes to bytes
    for name in set(main) - FULL_ONLY - {"spark-worker"}:
        assert small[name] == main[name], name


def test_every_container_has_a_memory_limit(resolved) -> None:
    main, small = resolved
    for services in (main, small):
        assert {name for name, service in services.items() if not service.get("mem_limit")} == set()
