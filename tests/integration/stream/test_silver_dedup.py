"""The silver writer's in-batch deduplication: hash candidates first, identities to decide."""

from __future__ import annotations

import json
import time

import pytest

from lakehouse.settings import Settings
from lakehouse.stream import silver
from lakehouse.stream import silver_transforms as st
from lakehouse.stream.silver import SilverWriter
from tests.utils.trades import make_trade

NOW_MS = int(time.time() * 1000)


TRADES = {n: json.loads(make_trade(n).to_json_bytes()) for n in (1, 2, 3)}


def value(n: int, **overrides: object) -> str:
    return json.dumps({**TRADES[n], **overrides}, separators=(",", ":"))


@pytest.mark.parametrize("storm", [False, True], ids=["hash-candidates", "re-send-storm"])
def test_first_copies_win_and_conflicts_are_counted(spark, kafka_frame, monkeypatch, storm: bool) -> None:
    if storm:  # too many candidate hashes to filter by value: the whole batch is grouped instead
        monkeypatch.setattr(silver, "SUSPECT_HASHES_INLINE", 0)
    records = [
        (value(1), 0, 10),
        (value(2), 0, 11),
        (value(1), 1, 5),  # an exact re-send of trade 1
        (value(2, trade_time=TRADES[2]["trade_time"] + 7), 1, 6),  # trade 2 again, another trade_time
        (value(3), 0, 12),
        ("not json", 0, 13),
    ]
    checked = st.validate(kafka_frame(records), NOW_MS).cache()
    hashes = checked.select(st.identity_hash()).toArrow().column(0)
    writer = SilverWriter(Settings(lake_uri="/tmp/lake"), mirror=None)  # type: ignore[arg-type]
    dedup = writer._dedup(spark, checked, st.repeated_hashes(hashes), NOW_MS)
    first = {(row.trade_id, row.kafka_partition, row.kafka_offset) for row in dedup.new_rows.collect()}
    # Kafka order is (topic, partition, offset): partition 0 holds the first copies.
    assert first == {("1000001", 0, 10), ("1000002", 0, 11), ("1000003", 0, 12)}
    assert (dedup.later_copies, dedup.conflict_count) == (2, 1)
    assert [row.offset for row in dedup.conflicting.collect()] == [6]
