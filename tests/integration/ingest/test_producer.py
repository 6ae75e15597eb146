"""The Binance producer against the exchange stand-in and the real local Kafka.

Each test runs the producer in-process (`run_producer`) on a fresh topic, and checks what landed in Kafka
against what the stand-in generated: every trade id exactly once, nothing extra.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from lakehouse.ingest.exchange_feed import ProducerOptions, run_producer
from lakehouse.ingest.exchange_feed_metrics import ProducerMetrics
from lakehouse.ingest.standin import ExchangeStandIn
from lakehouse.schema.trade import TradeRecord
from lakehouse.settings import Settings
from tests.integration.ingest.conftest import KafkaRecord, read_topic

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def run_against(
    standin: ExchangeStandIn,
    settings: Settings,
    topic: str,
    until: Callable[[ProducerMetrics], bool],
    during: Callable[[ProducerMetrics], None] | None = None,
    timeout_s: float = 30,
    options: ProducerOptions | None = None,
) -> ProducerMetrics:
    """Run the live producer against the stand-in until `until(metrics)`; `during` runs on another thread."""
    live = settings.model_copy(
        update={"binance_ws_url": standin.ws_url, "binance_rest_url": standin.rest_url, "kafka_topic": topic}
    )
    metrics = ProducerMetrics()

    async def main() -> None:
        stop = asyncio.Event()

        async def watch() -> None:
            deadline = time.monotonic() + timeout_s
            while not until(metrics) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            stop.set()

        watcher = asyncio.create_task(watch())
        helper = threading.Thread(target=during, args=(metrics,)) if during else None
        if helper:
            helper.start()
        await run_producer(live, options or ProducerOptions(symbols=SYMBOLS), stop, metrics)
        await watcher
        if helper:
            helper.join()

    asyncio.run(main())
    assert until(metrics), f"the producer did not get there within {timeout_s}s"
    return metrics


def generated_ids(standin: ExchangeStandIn) -> dict[str, list[int]]:
    return {symbol: [p["t"] for p in trades] for symbol, trades in standin.history.items()}


def landed_ids(records: list[KafkaRecord]) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {}
    for record in records:
        ids.setdefault(record.value["symbol"], []).append(int(record.value["trade_id"]))
    return {symbol: sorted(values) for symbol, values in ids.items()}


def assert_exactly_once(standin: ExchangeStandIn, records: list[KafkaRecord]) -> None:
    duplicates = [k for k, n in Counter((r.value["symbol"], r.value["trade_id"]) for r in records).items() if n > 1]
    assert duplicates == []
    assert landed_ids(records) == generated_ids(standin)


def test_normal_flow_maps_every_trade_once_keyed_by_symbol_and_answers_pings(settings: Settings, topic: str) -> None:
    # Server pings every 0.2 s with a 0.2 s timeout: a client that did not answer would be cut off.
    with ExchangeStandIn(SYMBOLS, rate_per_s=400, total=600, ping_interval_s=0.2) as standin:
        metrics = run_against(standin, settings, topic, until=lambda m: m.value("produced") >= 600)
    assert metrics.value("reconnects") == 0 and standin.stats.connections == 1
    assert metrics.value("received") == 600 and metrics.value("gaps") == 0

    records = read_topic(settings.kafka_bootstrap, topic, expected=600)
    assert_exactly_once(standin, records)
    sent = {(p["s"], str(p["t"])): p for trades in standin.history.values() for p in trades}
    for record in records:
        trade = TradeRecord.model_validate(record.value)
        original = sent[(trade.symbol, trade.trade_id)]
        assert record.key == trade.symbol.encode()
        assert (trade.source, trade.price, trade.quantity, trade.trade_time) == (
            "binance", original["p"], original["q"], original["T"],
        )  # fmt: skip
        assert trade.side == ("sell" if original["m"] else "buy")


def test_dropped_connection_reconnects_and_backfills_so_nothing_is_lost_or_doubled(
    settings: Settings, topic: str
) -> None:
    with ExchangeStandIn(SYMBOLS, rate_per_s=500, total=1500) as standin:

        def drop_twice(metrics: ProducerMetrics) -> None:
            for threshold in (300, 800):
                while metrics.value("received") < threshold:
                    time.sleep(0.01)
                standin.drop_connections()  # trades keep happening while we are away

        metrics = run_against(
            standin, settings, topic, until=lambda m: standin.finished.is_set() and m.value("produced") >= 1500,
            during=drop_twice,
        )  # fmt: skip
    assert metrics.value("reconnects") >= 2 and standin.stats.connections >= 3
    records = read_topic(settings.kafka_bootstrap, topic, expected=1500)
    assert_exactly_once(standin, records)  # what the stream missed came back over REST, once
    assert metrics.value("backfilled") == metrics.value("gap_trades") > 0


def test_malformed_frames_are_counted_and_skipped(settings: Settings, topic: str) -> None:
    with ExchangeStandIn(SYMBOLS, rate_per_s=300, total=400) as standin:

        def inject(metrics: ProducerMetrics) -> None:
            while metrics.value("received") < 50:
                time.sleep(0.01)
            standin.send_malformed()
            standin.send_malformed('{"stream":"ethusdt@trade","data":{"e":"trade","s":"ETHUSDT","t":1,"p":"-1"}}')
            standin.send_malformed("[]")

        metrics = run_against(
            standin, settings, topic, until=lambda m: m.value("produced") >= 400 and m.value("malformed") >= 3,
            during=inject,
        )  # fmt: skip
    assert metrics.value("malformed") == 3
    assert metrics.value("reconnects") == 0  # a bad frame is skipped, not a reason to reconnect
    assert_exactly_once(standin, read_topic(settings.kafka_bootstrap, topic, expected=400))


def test_skipped_trade_ids_are_reported_as_a_gap(
    settings: Settings, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    with ExchangeStandIn(SYMBOLS, rate_per_s=300, total=300) as standin:
        standin.rest_enabled = False  # no backfill possible: the gap must still be counted and logged

        def skip(metrics: ProducerMetrics) -> None:
            while metrics.value("received") < 40:
                time.sleep(0.01)
            standin.skip_ids("ETHUSDT", 3)

        with caplog.at_level("WARNING", logger="lakehouse.ingest.pipeline"):
            metrics = run_against(
                standin, settings, topic, until=lambda m: standin.finished.is_set() and m.value("produced") >= 297,
                during=skip,
            )  # fmt: skip
    assert metrics.value("gaps") == 1 and metrics.value("gap_trades") == 3
    assert metrics.gaps_by_symbol == {"ETHUSDT": 1}
    assert metrics.unfilled_trades == 3  # visible as a gauge until REST gives them
    gap_lines = [r.getMessage() for r in caplog.records if "gap in ETHUSDT trade ids" in r.getMessage()]
    assert len(gap_lines) == 1
    landed = landed_ids(read_topic(settings.kafka_bootstrap, topic, expected=297))
    missing = sorted(set(generated_ids(standin)["ETHUSDT"]) - set(landed["ETHUSDT"]))
    assert len(missing) == 3 and missing == list(range(missing[0], missing[0] + 3))
    assert f"{missing[0]}..{missing[-1]}" in gap_lines[0]  # the log names the exact range


def test_proactive_reconnect_before_the_age_limit_loses_nothing(settings: Settings, topic: str) -> None:
    options = ProducerOptions(symbols=SYMBOLS, max_connection_age_s=0.4)  # 0.4 s stands in for 23.5 h
    with ExchangeStandIn(SYMBOLS, rate_per_s=400, total=600) as standin:
        metrics = run_against(
            standin, settings, topic, until=lambda m: standin.finished.is_set() and m.value("produced") >= 600,
            options=options,
        )  # fmt: skip
    assert metrics.value("reconnects") >= 2
    assert_exactly_once(standin, read_topic(settings.kafka_bootstrap, topic, expected=600))


def test_a_restarted_producer_resumes_from_kafka_and_backfills_what_it_missed(settings: Settings, topic: str) -> None:
    # The exchange keeps trading while the producer is down; the new process knows nothing but Kafka.
    # (A gap shows when the next trade arrives, so the exchange must still be trading after the restart.)
    with ExchangeStandIn(SYMBOLS, rate_per_s=400, total=4000) as standin:
        first = run_against(standin, settings, topic, until=lambda m: m.value("produced") >= 300)
        time.sleep(0.5)  # ~200 trades happen meanwhile
        second = run_against(
            standin, settings, topic,
            until=lambda m: standin.finished.is_set() and first.value("produced") + m.value("produced") >= 4000,
        )  # fmt: skip
    records = read_topic(settings.kafka_bootstrap, topic, expected=4000)
    assert_exactly_once(standin, records)  # nothing lost across the restart, nothing doubled
    assert second.value("gaps") >= 1 and second.value("backfilled") == second.value("gap_trades") > 0


def test_a_gap_rest_could_not_fill_is_fetched_again_until_it_is(settings: Settings, topic: str) -> None:
    with ExchangeStandIn(SYMBOLS, rate_per_s=200, total=400) as standin:
        standin.rest_enabled = False  # the first backfill fails, as when Binance's REST API is down

        def skip_then_recover(metrics: ProducerMetrics) -> None:
            while metrics.value("received") < 40:
                time.sleep(0.01)
            standin.skip_ids("BTCUSDT", 5)
            while metrics.unfilled_trades < 5:
                time.sleep(0.01)
            standin.rest_enabled = True  # REST is back: the retry with backoff must fill the gap

        metrics = run_against(
            standin, settings, topic, during=skip_then_recover,
            until=lambda m: standin.finished.is_set() and m.value("produced") >= 400 and m.unfilled_trades == 0,
        )  # fmt: skip
    assert metrics.value("gap_trades") == 5 and metrics.value("backfilled") == 5
    assert_exactly_once(standin, read_topic(settings.kafka_bootstrap, topic, expected=400))


def test_trades_kafka_did_not_take_are_produced_again(settings: Settings) -> None:
    from lakehouse.ingest.pipeline import TradePipeline
    from lakehouse.ingest.standin import SyntheticMarket, combined_frame
    from lakehouse.kafka.admin import ensure_topic
    from lakehouse.kafka.trade_producer import TradeProducer
    from lakehouse.schema.trade import now_ms

    topic = f"test-redeliver-{uuid.uuid4().hex[:10]}"  # not created yet, and the broker never auto-creates
    producer = TradeProducer(settings.kafka_bootstrap, topic, message_timeout_ms=1500)
    metrics = ProducerMetrics()
    pipeline = TradePipeline(producer, metrics)
    market = SyntheticMarket(["BTCUSDT"])
    frames = [combined_frame(market.next_trade("BTCUSDT", now_ms())) for _ in range(50)]

    async def main() -> None:
        for frame in frames:
            await pipeline.handle(frame)
        deadline = time.monotonic() + 30
        while metrics.produce_failed < 50 and time.monotonic() < deadline:
            producer.poll(0.1)
            await asyncio.sleep(0)
        assert metrics.produce_failed == 50 and metrics.undelivered == 50 and metrics.produced == 0
        ensure_topic(settings.kafka_bootstrap, topic, 1)  # Kafka can take them now
        stop = asyncio.Event()
        tasks = [asyncio.create_task(pipeline.retry_pending(stop)), asyncio.create_task(pipeline.serve_reports(stop))]
        deadline = time.monotonic() + 60
        while metrics.produced < 50 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*tasks)

    try:
        asyncio.run(main())
    finally:
        producer.close(10)
    assert metrics.produced == 50 and metrics.undelivered == 0 and metrics.redelivered >= 50
    landed = read_topic(settings.kafka_bootstrap, topic, expected=50)
    assert sorted(int(r.value["trade_id"]) for r in landed) == sorted(int(json.loads(f)["data"]["t"]) for f in frames)
