"""The shared trade producer against the real local Kafka: acks, keys, back-pressure."""

from __future__ import annotations

from lakehouse.kafka.trade_producer import TradeProducer
from lakehouse.settings import Settings
from tests.integration.ingest.conftest import read_topic
from tests.utils.trades import make_trade


def test_a_batch_bigger_than_the_local_queue_is_fully_acknowledged_once(settings: Settings, topic: str) -> None:
    # A 50-record local queue forces the back-pressure path (BufferError, then waiting for room).
    producer = TradeProducer(settings.kafka_bootstrap, topic, extra_config={"queue.buffering.max.messages": 50})
    trades = [make_trade(n, symbol=("BTCUSDT", "ETHUSDT", "SOLUSDT")[n % 3]) for n in range(1000)]
    outcome = producer.produce_and_wait([(t.kafka_key(), t.to_json_bytes()) for t in trades], timeout_s=60)
    producer.close()
    assert outcome.all_acked and outcome.acked == list(range(1000))

    records = read_topic(settings.kafka_bootstrap, topic, expected=1000)
    assert sorted(r.value["trade_id"] for r in records) == sorted(t.trade_id for t in trades)
    partitions_by_symbol: dict[str, set[int]] = {}
    for record in records:
        assert record.key == record.value["symbol"].encode()
        partitions_by_symbol.setdefault(record.value["symbol"], set()).add(record.partition)
    assert all(len(p) == 1 for p in partitions_by_symbol.values())  # keyed: one symbol, one partition
