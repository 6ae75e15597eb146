"""Kafka stopped: the API answers 503 + Retry-After saying nothing was accepted; it recovers by itself.

Uses a PRIVATE broker under .lakehouse/test-homes (never the shared one, which other tests are using).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lakehouse.kafka.admin import ensure_topic
from lakehouse.local.kafka_broker import KafkaPorts, LocalKafka, broker_healthy
from lakehouse.local.processes import free_port, wait_until
from lakehouse.paths import jars_dir, state_dir
from lakehouse.settings import Settings
from tests.integration.ingest.conftest import API_KEY, read_topic
from tests.integration.ingest.test_api import trade


@pytest.fixture
def private_kafka(infra: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalKafka, str]]:
    home = state_dir() / "test-homes" / f"api-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LAKEHOUSE_JARS_DIR", str(jars_dir()))  # share the resolved jars
    kafka = LocalKafka(home / "kafka")
    port = free_port()
    kafka.write_config(KafkaPorts(port, free_port()), default_partitions=1)
    kafka.format_storage()
    kafka.start()
    bootstrap = f"127.0.0.1:{port}"
    try:
        wait_until(lambda: broker_healthy(bootstrap), 90, "private Kafka", kafka.log_file)
        ensure_topic(bootstrap, "raw-trades", partitions=2)
        yield kafka, bootstrap
    finally:
        kafka.stop()
        shutil.rmtree(home, ignore_errors=True)


def test_kafka_down_gives_503_and_the_api_recovers(
    private_kafka: tuple[LocalKafka, str], api_settings: Settings
) -> None:
    from lakehouse.ingest.api.app import create_app

    kafka, bootstrap = private_kafka
    settings = api_settings.model_copy(
        update={"kafka_bootstrap": bootstrap, "kafka_topic": "raw-trades", "api_kafka_timeout_ms": 3000}
    )
    with TestClient(create_app(settings), headers={"X-API-Key": API_KEY}) as api:
        assert api.post("/v1/trades", json=trade(1)).status_code == 202

        kafka.stop()
        assert api.get("/health").status_code == 503
        started = time.monotonic()
        response = api.post("/v1/trades", json=[trade(2), trade(3)])
        assert response.status_code == 503, response.text
        assert time.monotonic() - started < 15  # bounded by api_kafka_timeout_ms, not hanging
        assert int(response.headers["Retry-After"]) == settings.api_retry_after_s
        body = response.json()
        assert body["accepted"] == [] and body["not_accepted"] == [0, 1]
        assert "none of the records were accepted" in body["detail"]

        kafka.start()  # same ports, same data: the client reconnects on its own
        wait_until(lambda: broker_healthy(bootstrap), 90, "private Kafka restart", kafka.log_file)
        wait_until(lambda: api.get("/health").status_code == 200, 30, "API health after restart")
        response = api.post("/v1/trades", json=[trade(2), trade(3)])
        assert response.status_code == 202, response.text

    ids = [r.value["trade_id"] for r in read_topic(bootstrap, "raw-trades", expected=3)]
    # The 503'd request stored nothing, so the retried one left exactly one copy of each trade.
    assert sorted(ids) == ["t-1", "t-2", "t-3"]
