"""The streaming listener on a real Kafka -> Spark query, and the dashboard's checkpoint lag probe."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from lakehouse.dashboard import health
from lakehouse.local.processes import wait_until
from lakehouse.observability.streaming import StreamMetrics, install_stream_metrics
from lakehouse.settings import Settings
from lakehouse.stream.kafka_source import read_topic
from lakehouse.stream.runner import BatchReport, run_stream

QUERY = "metrics_probe"


def produce(bootstrap: str, topic: str, count: int, start: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(start, start + count):
        producer.produce(topic, key=f"k{i % 7}".encode(), value=json.dumps({"i": i}).encode())
    assert producer.flush(30) == 0


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def stream_metrics(spark, settings: Settings) -> Iterator[StreamMetrics]:
    metrics = install_stream_metrics(spark, settings, port=0)
    try:
        yield metrics
    finally:
        spark.streams.removeListener(metrics.listener)  # the session is shared by the whole run


def test_listener_exports_rates_durations_rows_and_lag(
    spark, settings: Settings, topic: str, stream_metrics: StreamMetrics
) -> None:
    produce(settings.kafka_bootstrap, topic, 300)
    checkpoints = settings.model_copy(update={"checkpoint_uri": settings.lake_uri + "/_checkpoints"})

    def write_batch(batch, batch_id: int) -> BatchReport:
        return BatchReport("probe", batch_id, {"rows": batch.count()})

    run_stream(
        read_topic(spark, settings, topic=topic, max_offsets=100),
        write_batch,
        name=QUERY,
        checkpoint=f"{checkpoints.checkpoints}/{health.STREAM_JOBS['silver']}",
        once=True,
        trigger_s=1,
        callbacks=(stream_metrics.on_batch,),
    )
    assert stream_metrics.port is not None
    query = (("query", QUERY),)
    # Progress events reach Python asynchronously: wait for the last one.
    wait_until(lambda: scrape(stream_metrics.port).get(("lakehouse_stream_input_rows_total", query)) == 300, 30,
               "the listener to count 300 input rows")  # fmt: skip
    samples = scrape(stream_metrics.port)
    assert samples[("lakehouse_stream_batch_duration_seconds_count", query)] >= 3  # 100 records per batch at most
    assert samples[("lakehouse_stream_batch_duration_seconds_sum", query)] > 0
    assert samples[("lakehouse_stream_kafka_offsets_behind_latest", query)] == 0  # caught up
    assert samples[("lakehouse_stream_processed_rows_per_second", query)] > 0
    assert samples[("lakehouse_stream_last_batch_id", query)] >= 2
    assert samples[("lakehouse_stream_batch_rows_total", (("job", "probe"), ("outcome", "rows")))] == 300
    wait_until(lambda: scrape(stream_metrics.port)[("lakehouse_stream_query_active", query)] == 0, 30, "terminated")

    # The dashboard reads the same checkpoint: caught up now, 40 behind after 40 more records.
    probe = checkpoints.model_copy(update={"kafka_topic": topic})
    lag = health.consumer_lag(probe, "silver")
    assert (lag.lag, lag.partitions) == (0, 3) and lag.batch_id is not None and lag.batch_id >= 2
    produce(settings.kafka_bootstrap, topic, 40, start=300)
    assert health.consumer_lag(probe, "silver").lag == 40
    assert health.consumer_lag(probe, "bronze").batch_id is None  # that job never ran here
