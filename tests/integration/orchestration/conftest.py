"""Airflow runs in subprocesses with a throw-away AIRFLOW_HOME (its config and logging are process-global)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lakehouse.paths import REPO_ROOT

AirflowRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow")
    env = airflow_env(home)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PYTHONPATH": str(REPO_ROOT),
        **extra,
    }


@pytest.fixture
def run_airflow_python(airflow_home: Path) -> AirflowRunner:
    """Run a Python snippet inside a configured Airflow environment; extra env vars as keywords."""

    def run(code: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess[str]:
        # A script file, not `python -c`: pyspark.sql.connect exits when __main__ has no __file__.
        script = airflow_home / f"snippet_{abs(hash(code))}.py"
        script.write_text(code)
        return subprocess.run(
            [sys.executable, str(script)],
            env=airflow_env(airflow_home, **extra), cwd=REPO_ROOT, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    return run


def last_json_line(output: str) -> dict:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON result in output:\n{output[-3000:]}")
