"""Any bytes on raw-trades end in silver or in quarantine, never in a failed batch (issue 15).

Hypothesis writes generated batches (valid trades, trades broken on one field with extreme numbers,
control characters, lone surrogates, huge or nested values, junk bytes, tombstones, re-sends and
conflicts) to a real Kafka topic; the real silver job reads them into Delta and the real PostgreSQL
mirror. Every record must land exactly where TradeRecord's rules say: first copies in silver (and in
PostgreSQL, identical), refused ones in quarantine with a reason, exact re-sends nowhere twice.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.kafka.admin import ensure_topic
from lakehouse.settings import Settings
from lakehouse.stream.silver import run_silver
from tests.integration.stream.conftest import drop_mirror, mirror_key, read_state, silver_key
from tests.utils.hostile_records import expected_outcome, hostile_batch


def produce_values(bootstrap: str, topic: str, values: list[bytes | None]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.max.bytes": 2_000_000})
    for value in values:
        producer.produce(topic, key=b"FUZZUSDT", value=value)
    assert producer.flush(30) == 0


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,  # the same batches on every run: a failure here is reproducible, never flaky
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_record_lands_in_silver_or_quarantine_exactly_once(spark, settings_: Settings, tmp_path_factory,
                                                                 data: st.DataObject) -> None:  # fmt: skip
    run = uuid.uuid4().hex[:8]
    values = data.draw(hostile_batch(source=f"fuzz:{run}"), label="batch")
    lake = tmp_path_factory.mktemp(f"hostile-{run}")
    current = settings_.model_copy(
        update={
            "lake_uri": (lake / "lake").as_uri(),
            "checkpoint_uri": None,
            "pg_silver_table": f"silver.trades_h{run}",
            "pg_prices_view": f"public.crypto_prices_h{run}",
            "silver_max_offsets_per_trigger": 1000,
        }
    )
    topic = f"test-hostile-{run}"
    ensure_topic(current.kafka_bootstrap, topic, partitions=1)  # one partition: offset = position in the batch
    produce_values(current.kafka_bootstrap, topic, values)
    try:
        run_silver(spark, current, once=True, topic=topic)  # raises if any batch fails
        state = read_state(spark, current)
    finally:
        drop_mirror(current)

    want_silver, want_quarantine, resends = expected_outcome(values)
    silver_offsets = Counter(row.kafka_offset for row in state.silver)
    quarantine_offsets = Counter(row.kafka_offset for row in state.quarantine)
    assert max([*silver_offsets.values(), *quarantine_offsets.values(), 1]) == 1, "a record was written twice"
    assert set(silver_offsets) == want_silver, _explain(values, set(silver_offsets), want_silver, "silver")
    assert set(quarantine_offsets) == want_quarantine, _explain(
        values, set(quarantine_offsets), want_quarantine, "quarantine"
    )
    assert not (set(silver_offsets) | set(quarantine_offsets)) & resends
    assert all(row.reason for row in state.quarantine), "every quarantined record says why"
    # The mirror holds exactly silver's rows, value for value (identity, exact decimals, time, coordinates).
    assert sorted(map(mirror_key, state.mirror)) == sorted(map(silver_key, state.silver))


def _explain(values: list[bytes | None], got: set[int], want: set[int], where: str) -> str:
    lines = [f"{where}: unexpected {sorted(got - want)}, missing {sorted(want - got)}"]
    for offset in sorted(got ^ want)[:5]:
        value = values[offset]
        lines.append(f"  offset {offset}: {value[:300]!r}" if value is not None else f"  offset {offset}: tombstone")
    return "\n".join(lines)


@pytest.fixture
def settings_(infra: Settings) -> Settings:
    """The shared local infra; each example makes its own lake, topic and mirror table."""
    return infra
