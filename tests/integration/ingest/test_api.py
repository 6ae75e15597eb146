"""POST /v1/trades against the real local Kafka: exactly once, right key and source, clear 4xx answers."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lakehouse.schema.trade import TradeRecord
from lakehouse.settings import Settings
from tests.integration.ingest.conftest import API_KEY, CLIENT, read_topic


def trade(n: int = 0, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": "TSLA" if n % 2 == 0 else "AAPL",
        "trade_id": f"t-{n}",
        "price": f"{250 + n / 100:.2f}",
        "quantity": "10",
        "side": "buy",
        "trade_time": int(time.time() * 1000) - 1000,
    }
    body.update(overrides)
    return body


def test_single_trade_lands_once_with_symbol_key_and_source_from_the_api_key(
    api: TestClient, api_settings: Settings
) -> None:
    sent = trade(0, price="250.10", trade_time="2026-01-02T03:04:05.678Z")
    response = api.post("/v1/trades", json=sent)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "source": f"api:{CLIENT}"}

    [record] = read_topic(api_settings.kafka_bootstrap, api_settings.kafka_topic, expected=1)
    assert record.key == b"TSLA"
    stored = TradeRecord.model_validate(record.value)  # the value is a valid canonical record
    assert stored.source == f"api:{CLIENT}"
    assert stored.price == "250.10"  # the decimal string kept exactly
    assert stored.trade_time == 1767323045678  # ISO 8601 converted to epoch ms (UTC)
    assert abs(stored.ingest_time - time.time() * 1000) < 60_000  # set by the server


def test_batch_lands_exactly_once_and_json_numbers_keep_their_digits(api: TestClient, api_settings: Settings) -> None:
    batch = [trade(n) for n in range(50)]
    batch[7]["price"] = 0.1  # a JSON number: must become "0.1", never 0.1000000000000000055...
    response = api.post("/v1/trades", json=batch)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 50

    records = read_topic(api_settings.kafka_bootstrap, api_settings.kafka_topic, expected=50)
    by_id = {r.value["trade_id"]: r for r in records}
    assert len(records) == 50 and len(by_id) == 50  # every trade once, none twice
    assert all(r.key == r.value["symbol"].encode() for r in records)
    assert {r.value["source"] for r in records} == {f"api:{CLIENT}"}
    assert by_id["t-7"].value["price"] == "0.1"
    assert by_id["t-3"].value["symbol"] == "AAPL"


@pytest.mark.parametrize(
    ("item", "field", "reason"),
    [
        ({"symbol": "tsla"}, "symbol", "pattern"),
        ({"price": "-1"}, "price", "pattern"),
        ({"price": "0"}, "price", "positive"),
        ({"price": "NaN"}, "price", "pattern"),
        ({"quantity": "1e5"}, "quantity", "pattern"),
        ({"side": "short"}, "side", "'buy' or 'sell'"),
        ({"trade_time": 5}, "trade_time", "before 2000"),
        ({"trade_time": 99_999_999_999_999}, "trade_time", "future"),
        ({"trade_time": "yesterday"}, "trade_time", "ISO 8601"),
        ({"trade_id": ""}, "trade_id", "at least 1"),
        ({"source": "binance"}, "source", "set by the server"),
        ({"ingest_time": 1}, "ingest_time", "set by the server"),
    ],
)
def test_each_bad_field_gets_422_naming_the_item_and_the_field(
    api: TestClient, item: dict[str, Any], field: str, reason: str
) -> None:
    batch = [trade(0), trade(1, **item), trade(2)]
    response = api.post("/v1/trades", json=batch)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, field)]
    assert reason in errors[0]["message"]


def test_missing_field_and_body_shape_errors(api: TestClient) -> None:
    incomplete = trade(0)
    del incomplete["quantity"]
    response = api.post("/v1/trades", json=incomplete)
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "index": 0,
        "field": "quantity",
        "message": "Field required",
        "type": "missing",
    }

    for body, reason in [
        (b"", "empty body"),
        (b"42", "JSON object or an array"),
        (b"[{", "Invalid JSON"),
        (b"[]", "at least 1"),
    ]:
        response = api.post("/v1/trades", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, body
        assert reason in response.json()["errors"][0]["message"]


def test_too_many_items_is_422_and_too_many_bytes_is_413(api: TestClient, api_settings: Settings) -> None:
    response = api.post("/v1/trades", json=[trade(n) for n in range(api_settings.api_max_batch + 1)])
    assert response.status_code == 422
    assert "at most 100 items" in response.json()["errors"][0]["message"]

    huge = json.dumps([trade(0, trade_id="x" * 60)] * 600).encode()
    assert len(huge) > api_settings.api_max_body_bytes
    response = api.post("/v1/trades", content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert str(api_settings.api_max_body_bytes) in response.json()["detail"]

    def chunks():  # no Content-Length: the limit must hold while reading
        for start in range(0, len(huge), 8192):
            yield huge[start : start + 8192]

    response = api.post("/v1/trades", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
def test_missing_or_wrong_key_is_401_and_nothing_is_produced(
    api: TestClient, api_settings: Settings, headers: dict[str, str]
) -> None:
    client = TestClient(api.app, headers=headers)  # same running app, other credentials
    response = client.post("/v1/trades", json=trade(0))
    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]
    assert read_topic(api_settings.kafka_bootstrap, api_settings.kafka_topic, expected=1, timeout_s=1) == []


def test_rate_limit_gives_429_with_retry_after_per_key(api_settings: Settings) -> None:
    from lakehouse.ingest.api.app import create_app

    limited = api_settings.model_copy(update={"api_rate_limit_per_s": 3})
    with TestClient(create_app(limited)) as client:
        statuses = [
            client.post("/v1/trades", json=trade(n), headers={"X-API-Key": API_KEY}).status_code for n in range(5)
        ]
        assert statuses[:3] == [202, 202, 202]
        response = client.post("/v1/trades", json=trade(9), headers={"X-API-Key": API_KEY})
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
        # "other" is the key of another client: its bucket is untouched by the first client's burst.
        assert client.post("/v1/trades", json=trade(0), headers={"X-API-Key": "other"}).status_code == 202


def test_health_metrics_and_docs(api: TestClient) -> None:
    assert api.get("/health").status_code == 200
    api.post("/v1/trades", json=trade(0))
    metrics = api.get("/metrics").text
    assert 'lakehouse_api_requests_total{status="202"}' in metrics
    assert "lakehouse_api_kafka_ack_seconds_bucket" in metrics
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    assert spec["components"]["schemas"]["TradeIn"]["required"] == [
        "symbol", "trade_id", "price", "quantity", "side", "trade_time",
    ]  # fmt: skip
    assert spec["paths"]["/v1/trades"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
