"""Topic administration."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

if TYPE_CHECKING:
    from lakehouse.settings import Settings

log = logging.getLogger(__name__)


def ensure_topic(bootstrap: str, topic: str, partitions: int, timeout_s: float = 30.0) -> int:
    """Create `topic` when missing; return its partition count (an existing topic is left as it is)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=timeout_s).topics
    if topic in existing:
        return len(existing[topic].partitions)
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    try:
        futures[topic].result(timeout=timeout_s)
    except KafkaException as error:
        if "TOPIC_ALREADY_EXISTS" not in str(error):
            raise
    log.info("created topic %s with %d partitions", topic, partitions)
    return partitions


def topic_partitions(bootstrap: str, topic: str, timeout_s: float = 10.0) -> int | None:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=timeout_s)
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        return None
    return len(found.partitions)


def ensure_book_topics(settings: Settings) -> None:
    """The three book topics, created when missing: by the producer before it writes, and by the
    streams before they subscribe (a query cannot subscribe to a topic that is not there yet)."""
    from lakehouse.schema.book import BOOK_BRONZE_TABLES

    for setting in BOOK_BRONZE_TABLES:
        ensure_topic(settings.kafka_bootstrap, getattr(settings, setting), settings.kafka_partitions)
