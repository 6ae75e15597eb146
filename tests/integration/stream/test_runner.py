"""Several queries in one driver: when one cannot start, none is left running behind the error."""

from __future__ import annotations

import pytest

from lakehouse.settings import Settings
from lakehouse.stream.kafka_source import read_topic
from lakehouse.stream.runner import BatchReport, StreamSpec, run_streams


def test_a_query_that_cannot_start_stops_the_ones_already_started(spark, settings: Settings, topic: str) -> None:
    def write(_batch, batch_id: int) -> BatchReport:
        return BatchReport("test", batch_id)

    checkpoints = settings.checkpoints
    started = StreamSpec(read_topic(spark, settings, topic, 100), write, "first", f"{checkpoints}/first", 1.0)
    # A batch DataFrame cannot be streamed: the second query fails to start.
    broken = StreamSpec(spark.range(3), write, "second", f"{checkpoints}/second", 1.0)
    with pytest.raises(Exception, match="writeStream"):
        run_streams((started, broken), once=False)
    assert [query.name for query in spark.streams.active] == []
