"""Unit tests need the Python environment only: no Kafka, PostgreSQL, JVM or Spark (`make test-unit`)."""

from __future__ import annotations

import pytest

# Fixtures that start or reach the local platform (tests/conftest.py); a test that needs one is an
# integration test and belongs in tests/integration.
SERVICE_FIXTURES = frozenset({"infra", "settings", "topic", "spark"})


@pytest.fixture(autouse=True)
def _no_platform_in_unit_tests(request: pytest.FixtureRequest) -> None:
    used = SERVICE_FIXTURES.intersection(request.fixturenames)
    if used:
        pytest.fail(f"a unit test uses {', '.join(sorted(used))}: move it to tests/integration")
