"""Fixtures of the deployment checks: the compose file, .env.example and a .env from scripts/make_env.sh."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from lakehouse.airgap.go_tools import DOCKER_COMPOSE, GoToolUnavailable, ensure_go_tool
from tests.utils.compose_model import REPO, load_compose, parse_env_file


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    return parse_env_file((REPO / ".env.example").read_text())


def run_make_env() -> dict[str, str]:
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "make_env.sh")], capture_output=True, text=True, check=True, timeout=30
    )
    return parse_env_file(result.stdout)


@pytest.fixture(scope="session")
def generated_env() -> dict[str, str]:
    """What `make up` writes to .env on a fresh clone."""
    return run_make_env()


@pytest.fixture(scope="session")
def compose_raw() -> dict[str, Any]:
    """The compose document before interpolation (anchors and merge keys resolved)."""
    return load_compose()


@pytest.fixture(scope="session")
def compose(generated_env: dict[str, str]) -> dict[str, Any]:
    """The compose document as docker compose sees it with the generated .env."""
    return load_compose(generated_env)


@pytest.fixture(scope="session")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="session")
def docker_compose() -> Path:
    """docker compose v2, built from its Go module on first use (lakehouse.airgap.go_tools)."""
    try:
        return ensure_go_tool(DOCKER_COMPOSE)
    except GoToolUnavailable as error:
        pytest.skip(f"docker compose cannot be built here: {error}")
