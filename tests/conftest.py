"""Session fixtures: the real local infra (Kafka, PostgreSQL) started once, one Spark session per run.

A test's tier is its folder (tests/unit, tests/integration, tests/e2e, tests/compose), marked here so
`pytest -m unit` and `pytest tests/unit` select the same tests.

Tests isolate themselves by name, not by process: each gets its own Kafka topic and lake folder, so
the same running broker and server serve every test (and a `make demo` running beside them).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lakehouse.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "integration", "e2e", "compose")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(item.path).resolve().relative_to(TESTS).parts[0]
        if folder in TIERS:
            item.add_marker(getattr(pytest.mark, folder))


def _export_env_file(path: Path) -> None:
    """Load `.lakehouse/env` into os.environ so subprocesses and Settings both see it."""
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            os.environ[key] = value.strip("'")


@pytest.fixture(scope="session")
def infra() -> Iterator[Settings]:
    """Start local Kafka + PostgreSQL once per test session; stop them after if we started them."""
    from lakehouse.local.infra import LocalInfra
    from lakehouse.paths import env_file

    local = LocalInfra()
    already_running = local.status().healthy
    local.up()
    _export_env_file(env_file())
    try:
        yield load_settings()
    finally:
        if not already_running and os.environ.get("LAKEHOUSE_KEEP_INFRA") != "1":
            local.down()


@pytest.fixture
def settings(infra: Settings, tmp_path: Path) -> Settings:
    """Settings for one test: the shared infra, a private lake folder. The book queries are off (a test
    of the trade path need not rebuild whatever books the shared book topics hold); book tests turn them on."""
    return infra.model_copy(
        update={"lake_uri": (tmp_path / "lake").as_uri(), "checkpoint_uri": None, "book_streams": False}
    )


@pytest.fixture
def topic(infra: Settings) -> str:
    """A fresh raw-trades-like topic for one test (3 partitions, like the real one)."""
    from lakehouse.kafka.admin import ensure_topic

    name = f"test-raw-trades-{uuid.uuid4().hex[:10]}"
    ensure_topic(infra.kafka_bootstrap, name, partitions=3)
    return name


@pytest.fixture(scope="session")
def spark(infra: Settings) -> Iterator[SparkSession]:
    """One SparkSession for the whole run (a JVM start costs ~10 s and 1 GB)."""
    from lakehouse.spark.session import build_spark

    session = build_spark(infra, app_name="lakehouse-tests")
    yield session
    session.stop()
