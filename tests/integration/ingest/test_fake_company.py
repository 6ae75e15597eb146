"""fake_company's feed through the real API process into Kafka: rate limited, retried, nothing lost or doubled."""

from __future__ import annotations

import asyncio
from collections import Counter

from lakehouse.ingest.company import CompanyFeed, post_feed
from lakehouse.settings import Settings
from tests.integration.ingest.conftest import API_KEY, CLIENT, api_process, read_topic


def test_feed_backs_off_on_429_and_every_trade_lands_once(infra: Settings, topic: str) -> None:
    # 4 requests/s allowed, while the feed wants 20 batches/s: it must meet 429s and wait them out.
    with api_process(infra, topic, LAKEHOUSE_API_RATE_LIMIT_PER_S="4") as api:
        feed = CompanyFeed({"TSLA": 250.0, "NVDA": 120.0}, seed=3)
        report = asyncio.run(
            post_feed(feed, api.url, API_KEY, rate_per_s=400, batch_size=20, duration_s=2.5, report_every_s=1)
        )
    assert report.retries > 0  # it did hit the limit ...
    assert report.rejected == 0 and report.sent == feed.sequence  # ... and still got every trade in
    assert 0 < report.rate < 400  # the achieved rate is reported honestly (held back by the limit)

    records = read_topic(infra.kafka_bootstrap, topic, expected=report.sent)
    ids = Counter(r.value["trade_id"] for r in records)
    assert len(records) == report.sent and max(ids.values()) == 1
    assert {r.value["source"] for r in records} == {f"api:{CLIENT}"}
    assert {r.value["symbol"] for r in records} == {"TSLA", "NVDA"}
    assert all(r.key == r.value["symbol"].encode() for r in records)
