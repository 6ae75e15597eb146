"""Canonical records survive a produce/consume round trip through the real local broker."""

from confluent_kafka import Consumer, Producer

from lakehouse.schema.trade import TradeRecord
from tests.utils.trades import make_trade


def test_canonical_records_round_trip_with_symbol_keys(infra, topic: str) -> None:
    sent = [make_trade(n, symbol=("BTCUSDT", "ETHUSDT", "TSLA")[n % 3]) for n in range(300)]
    producer = Producer({"bootstrap.servers": infra.kafka_bootstrap, "acks": "all", "enable.idempotence": True})
    errors: list[str] = []
    for trade in sent:
        producer.produce(
            topic,
            key=trade.kafka_key(),
            value=trade.to_json_bytes(),
            on_delivery=lambda err, _msg: errors.append(str(err)) if err else None,
        )
    assert producer.flush(30) == 0
    assert errors == []

    consumer = Consumer(
        {"bootstrap.servers": infra.kafka_bootstrap, "group.id": f"{topic}-reader", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    received: list[tuple[bytes, TradeRecord, int]] = []
    try:
        for _ in range(120):
            for message in consumer.consume(num_messages=500, timeout=0.5):
                assert message.error() is None
                received.append((message.key(), TradeRecord.model_validate_json(message.value()), message.partition()))
            if len(received) >= len(sent):
                break
    finally:
        consumer.close()

    assert sorted((r.identity for _, r, _ in received)) == sorted(t.identity for t in sent)
    assert {r for _, r, _ in received} == set(sent)  # every field intact, nothing doubled
    assert all(key == record.symbol.encode() for key, record, _ in received)
    partitions_by_symbol: dict[str, set[int]] = {}
    for _, record, partition in received:
        partitions_by_symbol.setdefault(record.symbol, set()).add(partition)
    assert all(len(p) == 1 for p in partitions_by_symbol.values()), "one symbol must stay on one partition"
