"""Delivery reports -> which records of a request Kafka acknowledged, by index."""

from __future__ import annotations

from confluent_kafka import KafkaError, Message

from lakehouse.kafka.trade_producer import BatchOutcome, BatchTracker

TIMED_OUT = KafkaError(KafkaError._MSG_TIMED_OUT)


def report(tracker: BatchTracker, value: bytes, error: KafkaError | None = None) -> None:
    tracker.report(error, Message(topic="t", key=b"k", value=value))


def test_all_acknowledged_completes_once_with_every_index() -> None:
    completed: list[BatchOutcome] = []
    tracker = BatchTracker([(b"k", b"a"), (b"k", b"b"), (b"k", b"c")], completed.append)
    report(tracker, b"c")
    report(tracker, b"a")
    assert not tracker.done.is_set() and tracker.outcome.acked == []  # not named until complete
    report(tracker, b"b")
    assert tracker.done.is_set() and len(completed) == 1
    assert completed[0].all_acked and completed[0].acked == [0, 1, 2]


def test_failures_are_mapped_back_to_their_indices_even_for_identical_records() -> None:
    items = [(b"k", b"x"), (b"k", b"dup"), (b"k", b"y"), (b"k", b"dup")]
    tracker = BatchTracker(items)
    report(tracker, b"x")
    report(tracker, b"dup", TIMED_OUT)
    report(tracker, b"y", TIMED_OUT)
    report(tracker, b"dup")
    outcome = tracker.outcome
    assert outcome.complete and not outcome.all_acked
    assert outcome.acked == [0, 1] and sorted(outcome.failed) == [2, 3]  # one of the two identical ones failed
    assert set(outcome.failed.values()) == {"Local: Message timed out"}


def test_an_empty_batch_is_complete_at_once() -> None:
    completed: list[BatchOutcome] = []
    tracker = BatchTracker([], completed.append)
    assert tracker.done.is_set() and completed[0].all_acked


def test_records_refused_before_librdkafka_count_and_keep_their_index() -> None:
    completed: list[BatchOutcome] = []
    items = [(b"k", b"a"), (b"k", b"same"), (b"k", b"same")]
    tracker = BatchTracker(items, completed.append)
    tracker.refuse(1, "Local: Queue full")
    tracker.refuse(1, "counted once")
    report(tracker, b"a")
    assert not tracker.done.is_set()
    report(tracker, b"same")  # acknowledged: index 2, since 1 never reached librdkafka
    assert len(completed) == 1
    assert completed[0].acked == [0, 2] and completed[0].failed == {1: "Local: Queue full"}
