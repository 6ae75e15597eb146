"""`docker compose config` accepts the file (the real loader, no engine needed).

docker compose is built from its Go module on first use (lakehouse/airgap/go_tools.py), so this check
runs the exact interpolation, merge and validation code `docker compose up` runs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.utils.compose_model import COMPOSE_FILE, REPO


def _config(binary: Path, env_file: Path, *args: str, profile: str | None = None) -> subprocess.CompletedProcess[str]:
    profiles = ["--profile", profile] if profile else []
    return subprocess.run(
        [str(binary), "--file", str(COMPOSE_FILE), "--env-file", str(env_file), "--project-directory", str(REPO),
         *profiles, "config", *args],
        capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(env_file.parent)},
    )  # fmt: skip


def _write_env(tmp_path: Path, values: dict[str, str]) -> Path:
    path = tmp_path / "compose.env"
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def test_docker_compose_accepts_the_file_with_a_generated_env(docker_compose, generated_env, tmp_path) -> None:
    result = _config(docker_compose, _write_env(tmp_path, generated_env), profile="company")
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert "company" in resolved["services"] and "spark-silver" in resolved["services"]
    dsn = resolved["services"]["spark-silver"]["environment"]["LAKEHOUSE_PG_DSN"]
    assert dsn == f"postgresql://lakehouse_writer:{generated_env['PG_WRITER_PASSWORD']}@postgres:5432/market_db"


def test_docker_compose_agrees_with_our_reading_of_the_file(docker_compose, generated_env, services, tmp_path) -> None:
    # The static checks read the file with tests/utils/compose_model.py: it must see what compose sees.
    result = _config(docker_compose, _write_env(tmp_path, generated_env), "--format", "json", "--no-normalize")
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)["services"]
    assert set(resolved) == {name for name, service in services.items() if not service.get("profiles")}
    for name, svc in resolved.items():
        ours = services[name].get("environment", {})
        assert {k: str(v) for k, v in ours.items()} == {k: str(v) for k, v in svc.get("environment", {}).items()}, name


def test_docker_compose_refuses_to_start_without_the_secrets(docker_compose, tmp_path) -> None:
    result = _config(docker_compose, REPO / ".env.example", "--quiet")
    assert result.returncode != 0
    assert "required variable" in result.stderr and "is missing a value" in result.stderr
