"""docker-compose.airgap.yaml changes nothing but what it says it changes.

Resolved by the real docker compose (built from its Go module, lakehouse/airgap/go_tools.py), the
main file plus the override differs from the main file alone only in the image names of the services
that get a stand-in, the build args of our own images, and the profile of the services that need a
container registry.
"""

from __future__ import annotations

from typing import Any

import pytest

from lakehouse.airgap.standins import STANDINS
from tests.integration.deploy.conftest import resolve_services
from tests.utils.compose_model import COMPOSE_FILE, REPO

OVERRIDE_FILE = REPO / "docker-compose.airgap.yaml"
STANDIN_IMAGES = {
    "postgres": "lakehouse-standin/postgres:local",
    "kafka": "lakehouse-standin/kafka:local",
    "kafka-init": "lakehouse-standin/kafka:local",
    "minio": "lakehouse-standin/minio:local",
    "minio-init": "lakehouse-standin/mc:local",
    "prometheus": "lakehouse-standin/prometheus:local",
}
NEEDS_REGISTRY = {"grafana", "metabase", "metabase-init", "cadvisor"}
PYTHON_ARGS = {"PYTHON_IMAGE": "lakehouse-base/python:3.11-bookworm"}
SPARK_ARGS = {**PYTHON_ARGS, "MAVEN_IMAGE": "lakehouse-base/maven:3-jdk17-bookworm"}


@pytest.fixture(scope="module")
def resolved(docker_compose, generated_env, tmp_path_factory) -> tuple[dict[str, Any], dict[str, Any]]:
    env_file = tmp_path_factory.mktemp("airgap") / "compose.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in generated_env.items()))
    main = resolve_services(docker_compose, env_file, COMPOSE_FILE)
    return main, resolve_services(docker_compose, env_file, COMPOSE_FILE, OVERRIDE_FILE)


def _without_changed_keys(service: dict[str, Any]) -> dict[str, Any]:
    rest = {key: value for key, value in service.items() if key not in {"image", "profiles"}}
    if "build" in rest:
        rest["build"] = {key: value for key, value in rest["build"].items() if key != "args"}
    return rest


def test_the_override_changes_only_images_build_args_and_profiles(resolved) -> None:
    main, merged = resolved
    assert set(merged) == set(main)
    for name in main:
        assert _without_changed_keys(merged[name]) == _without_changed_keys(main[name]), name


def test_stand_ins_replace_the_registry_images(resolved) -> None:
    main, merged = resolved
    for name, service in merged.items():
        expected = STANDIN_IMAGES.get(name, main[name]["image"])
        assert service["image"] == expected, name
    assert set(STANDIN_IMAGES.values()) <= {standin.tag for standin in STANDINS}


def test_our_images_build_on_the_debian_bases(resolved) -> None:
    main, merged = resolved
    for name, service in main.items():
        if "build" not in service:
            assert "build" not in merged[name], name
            continue
        bases = SPARK_ARGS if service["build"]["dockerfile"] == "Dockerfile.spark" else PYTHON_ARGS
        # The bases are added; which dependency group the image installs is the main file's.
        expected = {**bases, "DEPENDENCY_GROUP": service["build"]["args"]["DEPENDENCY_GROUP"]}
        assert merged[name]["build"].get("args") == expected, name


def test_services_that_need_a_registry_sit_behind_a_profile(resolved) -> None:
    main, merged = resolved
    for name, service in merged.items():
        if name in NEEDS_REGISTRY:  # compose appends the override's profile to the service's own (cAdvisor's)
            assert service.get("profiles") == [*main[name].get("profiles", []), "needs-registry"], name
        else:
            assert service.get("profiles") == main[name].get("profiles"), name
