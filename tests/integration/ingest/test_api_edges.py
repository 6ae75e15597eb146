"""The API's edges against abuse, on the real server and the real local Kafka: key guessing is throttled per
client address, a stalled body times out, and nothing of either reaches Kafka."""

from __future__ import annotations

import socket
import time

from fastapi.testclient import TestClient

from lakehouse.settings import Settings
from tests.integration.ingest.conftest import API_KEY, api_process, read_topic

TRADE = {"symbol": "TSLA", "trade_id": "edge-1", "price": "250.00", "quantity": "1", "side": "buy",
         "trade_time": 1_767_323_045_678}  # fmt: skip


def test_failed_keys_lock_out_the_guessing_address_and_only_it(api_settings: Settings) -> None:
    from lakehouse.ingest.api.app import create_app

    app = create_app(api_settings.model_copy(update={"api_auth_failures_per_min": 3}))
    with (
        TestClient(app, client=("203.0.113.7", 40000)) as guesser,
        TestClient(app, client=("198.51.100.1", 40000)) as other,
    ):
        statuses = [guesser.post("/v1/trades", json=TRADE, headers={"X-API-Key": f"guess-{n}"}).status_code
                    for n in range(3)]  # fmt: skip
        assert statuses == [401, 401, 401]
        locked = guesser.post("/v1/trades", json=TRADE, headers={"X-API-Key": "guess-4"})
        assert locked.status_code == 429 and "failed authentications" in locked.json()["detail"]
        assert 1 <= int(locked.headers["Retry-After"]) <= 20  # one failure's worth back at 3 a minute
        # Locked out, even a right key waits: a guesser must not learn that a guess was right.
        assert guesser.post("/v1/trades", json=TRADE, headers={"X-API-Key": API_KEY}).status_code == 429
        # Another address, with the right key, is served.
        assert other.post("/v1/trades", json=TRADE, headers={"X-API-Key": API_KEY}).status_code == 202
    records = read_topic(api_settings.kafka_bootstrap, api_settings.kafka_topic, expected=1)
    assert len(records) == 1  # only the other address's trade


def test_a_stalled_body_gets_408_and_its_connection_closed(infra: Settings, topic: str) -> None:
    with api_process(infra, topic, LAKEHOUSE_API_BODY_TIMEOUT_S="1") as api:
        host, port = api.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            head = (f"POST /v1/trades HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {API_KEY}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")  # fmt: skip
            connection.sendall(head.encode() + b'[{"symbol": "TSLA", ')  # then nothing more
            started = time.monotonic()
            answer = b""
            while chunk := connection.recv(65536):  # until the server closes the connection
                answer += chunk
            waited = time.monotonic() - started
        status_line, _, rest = answer.decode().partition("\r\n")
        assert status_line == "HTTP/1.1 408 Request Timeout", answer[:300]
        assert "did not arrive within 1 s" in rest
        assert 0.9 <= waited < 5
    assert read_topic(infra.kafka_bootstrap, topic, expected=1, timeout_s=2) == []
