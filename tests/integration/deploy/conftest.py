"""Fixtures of the deployment checks: the compose file as compose reads it, .env files, docker compose."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.utils.compose_fixtures import (  # noqa: F401  (fixtures)
    compose,
    compose_raw,
    docker_compose,
    env_example,
    generated_env,
    services,
)
from tests.utils.compose_model import REPO


def resolve_services(binary: Path, env_file: Path, *files: Path) -> dict[str, Any]:
    """The services of the given compose files, every profile included, as the real compose resolves them."""
    file_args = [arg for path in files for arg in ("--file", str(path))]
    result = subprocess.run(
        [str(binary), *file_args, "--env-file", str(env_file), "--project-directory", str(REPO),
         "--profile", "*", "config", "--format", "json"],
        capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(env_file.parent)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    resolved: dict[str, Any] = json.loads(result.stdout)["services"]
    return resolved
