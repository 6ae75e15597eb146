"""Producer throughput: messages/s from the exchange stand-in at full speed into Kafka, nothing lost.

    uv run python -m bench.producer_throughput [--messages 200000] [--symbols 4]

The stand-in runs in its own process (as the exchange would be elsewhere) and sends `--messages` trades
as fast as the producer reads them; the producer (the real pipeline: parse, gap check, produce with
acks=all + idempotence) runs here. The rate is measured from the first frame to the last acknowledgement;
then the topic is read back and every (symbol, trade id) must be there exactly once. The same records are
also produced directly with confluent-kafka and with kafka-python (the client choice).
Target: >= 20,000 messages/s with nothing lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

from bench.api_throughput import ceiling_confluent, ceiling_kafka_python
from bench.common import write_result
from lakehouse.ingest.exchange_feed import ProducerOptions, run_producer
from lakehouse.ingest.exchange_feed_metrics import ProducerMetrics
from lakehouse.kafka.admin import ensure_topic
from lakehouse.local.processes import free_port, port_in_use, wait_until
from lakehouse.logging_setup import configure_logging
from lakehouse.settings import load_settings

log = logging.getLogger("bench.producer_throughput")
SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "TRXUSDT"]


def read_back(bootstrap: str, topic: str, expected: int) -> tuple[list[tuple[bytes, bytes]], set[tuple[str, str]], int]:
    """(key, value) pairs, distinct identities and the record count of the topic."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    items: list[tuple[bytes, bytes]] = []
    identities: set[tuple[str, str]] = set()
    deadline = time.monotonic() + 120
    while len(items) < expected and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=10_000, timeout=0.5):
            if message.error():
                continue
            value = json.loads(message.value())
            identities.add((value["symbol"], value["trade_id"]))
            items.append((message.key(), message.value()))
    consumer.close()
    return items, identities, len(items)


def run(messages: int, symbols: list[str], bootstrap: str, topic: str) -> dict[str, Any]:
    port = free_port()
    standin = subprocess.Popen(
        [
            sys.executable, "-m", "lakehouse.ingest.standin", "--port", str(port), "--rate", "0",
            "--total", str(messages), "--symbols", ",".join(symbols),
        ],
        env={**os.environ, "LAKEHOUSE_LOG_LEVEL": "WARNING"},
    )  # fmt: skip
    try:
        wait_until(lambda: port_in_use(port), 30, "exchange stand-in")
        settings = load_settings().model_copy(
            update={"binance_ws_url": f"ws://127.0.0.1:{port}", "binance_rest_url": f"http://127.0.0.1:{port}",
                    "kafka_topic": topic}
        )  # fmt: skip
        metrics = ProducerMetrics()
        marks: dict[str, float] = {}

        async def main() -> None:
            stop = asyncio.Event()

            async def watch() -> None:
                deadline = time.monotonic() + 600
                while metrics.value("produced") < messages and time.monotonic() < deadline:
                    if "first" not in marks and metrics.value("received") > 0:
                        marks["first"] = time.perf_counter()
                    await asyncio.sleep(0.002)
                marks["last"] = time.perf_counter()
                stop.set()

            watcher = asyncio.create_task(watch())
            await run_producer(settings, ProducerOptions(symbols=symbols), stop, metrics)
            await watcher

        asyncio.run(main())
    finally:
        standin.send_signal(signal.SIGINT)
        standin.wait(timeout=30)
    elapsed = marks["last"] - marks["first"]
    return {
        "messages_per_s": metrics.value("produced") / elapsed,
        "elapsed_s": elapsed,
        "received": metrics.value("received"),
        "produced": metrics.value("produced"),
        "gaps": metrics.value("gaps"),
        "malformed": metrics.value("malformed"),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--symbols", type=int, default=4, help="how many symbols the stand-in trades")
    args = parser.parse_args(argv or [])
    bootstrap = load_settings().kafka_bootstrap
    symbols = SYMBOLS[: args.symbols]
    topic, ceiling_topic, kp_topic = (f"bench-{n}-{uuid.uuid4().hex[:8]}" for n in ("producer", "ceil", "kp"))
    for name in (topic, ceiling_topic, kp_topic):
        ensure_topic(bootstrap, name, 3)

    result = run(args.messages, symbols, bootstrap, topic)
    items, identities, count = read_back(bootstrap, topic, args.messages)
    lost = args.messages - len(identities)
    duplicated = count - len(identities)
    confluent_rate = ceiling_confluent(bootstrap, ceiling_topic, items)
    kafka_python_rate = ceiling_kafka_python(bootstrap, kp_topic, items)
    figures = {
        "messages_per_s": round(result["messages_per_s"]),
        "messages": args.messages,
        "in_kafka": count,
        "lost": lost,
        "duplicated": duplicated,
        "gaps": result["gaps"],
        "elapsed_s": round(result["elapsed_s"], 2),
        "symbols": len(symbols),
        "direct_confluent_kafka_per_s": round(confluent_rate),
        "direct_kafka_python_per_s": round(kafka_python_rate),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures, indent=2))
    write_result(
        "producer_throughput",
        figures,
        {
            "messages_per_s": {"op": ">=", "value": 20_000, "unit": "messages/s"},
            "lost": {"op": "<=", "value": 0, "unit": "messages"},
            "duplicated": {"op": "<=", "value": 0, "unit": "messages"},
        },
    )
    return figures


if __name__ == "__main__":
    configure_logging()
    main(sys.argv[1:])
