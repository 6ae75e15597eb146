"""Where the producer left off: the newest trade id per symbol that Kafka already holds from us.

The producer keeps its sequence state in memory, so after a restart (or a `kill -9`) it would not know
which trades it had already written: the ones between its last produced trade and the first after
reconnecting would be lost, and a reconnect that replays older ids would double them. Seeding the
sequence tracker with what `raw-trades` holds turns both into what the pipeline already handles: a
gap, backfilled over REST before streaming goes on, and duplicates, dropped.

Records are keyed by symbol, so each symbol's trades sit in one partition, newest last: reading a
window at the end of each partition finds them. A symbol not in that window is treated as new.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

log = logging.getLogger(__name__)

TAIL_RECORDS = 20_000  # per partition: at Binance's busiest (~1,000 trades/s on one symbol), 20 s of history


def newest_ids(values: Iterable[bytes | None], source: str, symbols: set[str]) -> dict[str, int]:
    """The largest integer trade_id per symbol among records of `source` (pure; junk is skipped)."""
    newest: dict[str, int] = {}
    for value in values:
        if not value:
            continue
        try:
            record = json.loads(value)
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict) or record.get("source") != source:
            continue
        symbol, trade_id = record.get("symbol"), record.get("trade_id")
        if symbol not in symbols or not isinstance(trade_id, str) or not trade_id.isdigit():
            continue
        newest[symbol] = max(newest.get(symbol, 0), int(trade_id))
    return newest


def last_produced(
    bootstrap: str, topic: str, source: str, symbols: list[str], timeout_s: float = 20.0
) -> dict[str, int]:
    """The newest trade id per symbol in the tail of `topic`; {} when Kafka cannot be read (logged)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"producer-resume-{uuid.uuid4().hex}",  # never committed: reads only
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        assignment, ends = [], {}
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            if high > low:
                assignment.append(TopicPartition(topic, partition, max(low, high - TAIL_RECORDS)))
                ends[partition] = high
        if not assignment:
            return {}
        consumer.assign(assignment)
        values: list[bytes | None] = []
        remaining = set(ends)
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                log.warning(
                    "resume: the tail of %s not read within %.0fs; resuming from what was read", topic, timeout_s
                )
                break
            # consume() waits for a full batch or its timeout, whichever is first: keep the timeout short.
            messages = consumer.consume(num_messages=5000, timeout=0.2)
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() == error._PARTITION_EOF:
                        remaining.discard(message.partition())
                    continue
                values.append(message.value())
                offset = message.offset()
                if offset is not None and offset + 1 >= ends.get(message.partition(), OFFSET_END):
                    remaining.discard(message.partition())
        return newest_ids(values, source, set(symbols))
    except (KafkaException, KeyError) as error:
        log.warning("resume: cannot read the tail of %s (%s): starting without history", topic, error)
        return {}
    finally:
        consumer.close()
