"""1,000 generated requests, valid and hostile, through the real API, Kafka and silver.

The property needs no oracle of its own: whatever the API decides, it never answers 5xx, every trade
of a 202 is then in silver (and in the PostgreSQL mirror) exactly once, and nothing of a refused request
is. Trade ids carry the request's number, so two requests never name the same trade.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections import Counter
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.kafka.admin import ensure_topic
from lakehouse.settings import Settings
from lakehouse.stream.silver import run_silver
from tests.integration.ingest.conftest import API_KEY, CLIENT, api_process
from tests.integration.stream.conftest import drop_mirror, mirror_key, read_state, silver_key
from tests.utils.hostile_records import hostile_text, json_values

log = logging.getLogger(__name__)

REQUESTS = 1000
SYMBOLS = ("BTCUSDT", "TSLA", "ethusdt", "B-T", "")


def _valid_trade(request: int, item: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "symbol": st.sampled_from(SYMBOLS[:2]),
            "trade_id": st.just(f"r{request}-{item}"),
            "price": st.sampled_from(["65000.10", "0.00000001", "123.456", "1"]) | st.just(250.5),
            "quantity": st.sampled_from(["0.0015", "2", "999999"]),
            "side": st.sampled_from(["buy", "sell"]),
            "trade_time": st.sampled_from([1_796_000_000_000, "2026-12-01T10:00:00Z", "2026-12-01T10:00:00.250"]),
        }
    )


@st.composite
def _trade(draw: st.DrawFn, request: int, item: int) -> dict[str, Any]:
    """A valid trade, or one with a field made hostile, missing, or an extra field."""
    trade = draw(_valid_trade(request, item))
    mutation = draw(st.sampled_from(["none"] * 6 + ["replace", "drop", "extra", "id_text", "symbol"]))
    field = draw(st.sampled_from(sorted(trade)))
    if mutation == "replace" and field != "trade_id":
        trade[field] = draw(json_values)
    elif mutation == "drop":
        trade.pop(field)
    elif mutation == "extra":
        trade[draw(hostile_text)] = draw(json_values)
    elif mutation == "id_text":  # control characters, NUL, surrogates, 70,000 digits: behind a unique prefix
        trade["trade_id"] = f"r{request}-{item}-{draw(hostile_text)}"
    elif mutation == "symbol":
        trade["symbol"] = draw(st.sampled_from(SYMBOLS) | hostile_text)
    return trade


@st.composite
def _body(draw: st.DrawFn, request: int) -> bytes:
    shape = draw(st.sampled_from(["one", "batch", "clean_batch", "junk_json", "junk_bytes", "empty"]))
    if shape == "one":
        return json.dumps(draw(_trade(request, 0))).encode()
    if shape == "batch":  # one bad item refuses the whole request
        size = draw(st.integers(min_value=1, max_value=4))
        return json.dumps([draw(_trade(request, item)) for item in range(size)]).encode()
    if shape == "clean_batch":
        size = draw(st.integers(min_value=1, max_value=8))
        return json.dumps([draw(_valid_trade(request, item)) for item in range(size)]).encode()
    if shape == "junk_json":
        return json.dumps(draw(json_values)).encode()
    if shape == "junk_bytes":
        return draw(st.binary(max_size=200))
    return b"[]"


def _trade_ids(body: bytes) -> list[str]:
    parsed = json.loads(body)
    return [item["trade_id"] for item in (parsed if isinstance(parsed, list) else [parsed])]


def test_no_5xx_and_every_acknowledged_trade_lands_in_silver_once(spark, infra: Settings, tmp_path) -> None:
    run = uuid.uuid4().hex[:8]
    topic = f"test-fuzz-silver-{run}"
    ensure_topic(infra.kafka_bootstrap, topic, partitions=2)
    statuses: Counter[int] = Counter()
    acknowledged: list[str] = []
    refused: list[bytes] = []
    counter = itertools.count()

    with (
        api_process(infra, topic, LAKEHOUSE_API_MAX_BATCH="20") as api,
        httpx.Client(
            base_url=api.url, headers={"X-API-Key": API_KEY, "Content-Type": "application/json"}, timeout=30
        ) as client,
    ):

        @settings(max_examples=REQUESTS, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(data=st.data())
        def post(data: st.DataObject) -> None:
            body = data.draw(_body(next(counter)), label="body")
            response = client.post("/v1/trades", content=body)
            statuses[response.status_code] += 1
            assert response.status_code < 500, (response.status_code, response.text[:500], body[:300])
            if response.status_code == 202:
                acknowledged.extend(_trade_ids(body))
            else:
                assert response.status_code in (400, 413, 415, 422), (response.status_code, response.text[:300])
                refused.append(body)

        post()

    log.info("fuzz: %d requests, statuses %s, %d trades acknowledged", sum(statuses.values()), dict(statuses),
             len(acknowledged))  # fmt: skip
    assert sum(statuses.values()) >= REQUESTS and statuses[202] > 200 and len(refused) > 200, statuses
    current = infra.model_copy(
        update={
            "lake_uri": (tmp_path / "lake").as_uri(),
            "checkpoint_uri": None,
            "pg_silver_table": f"silver.trades_f{run}",
            "pg_prices_view": f"public.crypto_prices_f{run}",
        }
    )
    try:
        run_silver(spark, current, once=True, topic=topic)
        state = read_state(spark, current)
    finally:
        drop_mirror(current)

    ours = [row for row in state.silver if row.source == f"api:{CLIENT}"]
    landed = Counter(row.trade_id for row in ours)
    assert max(landed.values()) == 1, "a trade is in silver twice"
    assert set(landed) == set(acknowledged), (
        f"acknowledged but not in silver: {sorted(set(acknowledged) - set(landed))[:5]}; "
        f"in silver but never acknowledged: {sorted(set(landed) - set(acknowledged))[:5]}"
    )
    assert state.quarantine == [], "the API let through a record silver refuses"
    assert sorted(map(mirror_key, state.mirror)) == sorted(map(silver_key, state.silver))
