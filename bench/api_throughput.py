"""API throughput: trades/s landed in Kafka (acks=all) posting batches of 500, beside the raw client ceiling.

    uv run python -m bench.api_throughput [--trades 300000] [--batch 500] [--concurrency 16] [--workers 2]

Runs `ingestion_api.py` (uvicorn, N workers) against the shared local Kafka on a fresh topic, posts
pre-built batches (unique trade ids) over keep-alive connections, and counts what landed in Kafka (the
topic's high watermarks). In the same run it produces the same records directly with the same client and
settings and the same per-record delivery confirmation the API gives (the ceiling; the fire-and-forget rate
is reported beside it), and with kafka-python, the alternative client, for the choice of client.
Targets: >= 50,000 trades/s and >= half the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from bench.common import write_result
from lakehouse.ingest.api_models import parse_trades, record_value
from lakehouse.kafka.admin import ensure_topic
from lakehouse.kafka.trade_producer import TradeProducer
from lakehouse.local.processes import free_port, wait_until
from lakehouse.logging_setup import configure_logging
from lakehouse.paths import REPO_ROOT
from lakehouse.settings import load_settings

log = logging.getLogger("bench.api_throughput")
CLIENT = "bench"


# --- a minimal keep-alive HTTP/1.1 client: the load generator must cost less CPU than the server ------------
class RawHttp:
    """POSTs pre-encoded bodies on one connection; httpx would spend more CPU than the API it measures."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{self.extra}\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@contextmanager
def running_api(topic: str, workers: int, key: str, **env: str) -> Iterator[str]:
    """ingestion_api.py on a free port with one API key; yields its base URL."""
    port = free_port()
    environment = {
        **os.environ,
        "LAKEHOUSE_KAFKA_TOPIC": topic,
        "LAKEHOUSE_API_KEYS": f"{CLIENT}:{hashlib.sha256(key.encode()).hexdigest()}",
        "LAKEHOUSE_API_RATE_LIMIT_PER_S": "1000000",
        "LAKEHOUSE_LOG_LEVEL": "WARNING",
        **env,
    }
    command = [sys.executable, str(REPO_ROOT / "ingestion_api.py"), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen([*command, "--workers", str(workers)], env=environment)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 60, "ingestion API")
        time.sleep(1.0 * workers)  # every worker up and its Kafka producer connected, not just the first
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def build_bodies(trades: int, batch: int, now_ms: int) -> list[bytes]:
    """Batches of unique trades, encoded before the clock starts."""
    run = uuid.uuid4().hex[:8]
    bodies = []
    for start in range(0, trades, batch):
        items = [
            {
                "symbol": ("TSLA", "AAPL", "NVDA", "MSFT")[n % 4],
                "trade_id": f"{run}-{n}",
                "price": f"{250 + (n % 1000) / 100:.2f}",
                "quantity": str(1 + n % 300),
                "side": "buy" if n % 2 else "sell",
                "trade_time": now_ms - 1000,
            }
            for n in range(start, min(start + batch, trades))
        ]
        bodies.append(json.dumps(items).encode())
    return bodies


async def post_all(url: str, key: str, bodies: Sequence[bytes], concurrency: int) -> dict[str, Any]:
    """Post every body once over `concurrency` keep-alive connections; returns counts and wall time."""
    host, port = url.removeprefix("http://").split(":")
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    statuses: dict[int, int] = {}
    accepted = 0

    async def worker() -> None:
        nonlocal accepted
        client = RawHttp(host, int(port), {"X-API-Key": key})
        await client.connect()
        try:
            while not queue.empty():
                body = queue.get_nowait()
                status, payload = await client.post("/v1/trades", body)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 202:
                    accepted += json.loads(payload)["accepted"]
        finally:
            await client.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"elapsed_s": time.perf_counter() - started, "accepted": accepted, "statuses": statuses}


def landed(bootstrap: str, topic: str) -> int:
    """Records in a fresh topic: the sum of its partitions' high watermarks."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
    finally:
        consumer.close()


def canonical_items(bodies: Sequence[bytes], source: str) -> list[tuple[bytes, bytes]]:
    """The exact (key, value) pairs the API produces for these bodies."""
    now = int(time.time() * 1000)
    items = []
    for body in bodies:
        for trade in parse_trades(body, 100_000):
            items.append((trade["symbol"].encode(), record_value(trade, source, now)))
    return items


def ceiling_confluent(
    bootstrap: str, topic: str, items: Sequence[tuple[bytes, bytes]], batch: int = 500, confirmed: bool = True
) -> float:
    """records/s of the API's own producer wrapper (confluent-kafka, acks=all, idempotent), flush included.

    `confirmed` (the ceiling the API is held to): the same guarantee the API gives, every record's
    delivery report is collected per batch of `batch` (produce_batch, as the API does) and all must be
    acknowledged. Without it the rate is fire-and-forget: flush() waits, but a record that failed would
    go unnoticed, which no writer of this platform may do.
    """
    producer = TradeProducer(bootstrap, topic, client_id="bench-ceiling", linger_ms=5)
    trackers = []
    started = time.perf_counter()
    if confirmed:
        for start in range(0, len(items), batch):
            trackers.append(producer.produce_batch(items[start : start + batch]))
            producer.poll(0)
    else:
        for key, value in items:
            producer.produce(key, value)
            producer.poll(0)
    left = producer.flush(60)
    elapsed = time.perf_counter() - started
    producer.close()
    if left or not all(tracker.outcome.all_acked for tracker in trackers):
        raise RuntimeError("not every record was acknowledged in the ceiling run")
    return len(items) / elapsed


def ceiling_kafka_python(bootstrap: str, topic: str, items: Sequence[tuple[bytes, bytes]]) -> float:
    """records/s of kafka-python with the same guarantees (acks=all, idempotent); no lz4 module: no compression."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, batch_size=256 * 1024
    )
    started = time.perf_counter()
    for key, value in items:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=120)
    elapsed = time.perf_counter() - started
    producer.close()
    return len(items) / elapsed


def one_round(url: str, key: str, args: argparse.Namespace, bootstrap: str, topic: str) -> dict[str, Any]:
    """API then ceiling on the same fresh trades, back to back (the machine is shared: keep them close)."""
    bodies = build_bodies(args.trades, args.batch, int(time.time() * 1000))
    before = landed(bootstrap, topic)
    run = asyncio.run(post_all(url, key, bodies, args.concurrency))
    stored = landed(bootstrap, topic) - before
    items = canonical_items(bodies, f"api:{CLIENT}")
    ceiling_topic = f"bench-ceil-{uuid.uuid4().hex[:8]}"
    ensure_topic(bootstrap, ceiling_topic, 3)
    return {
        "api": run["accepted"] / run["elapsed_s"],
        "ceiling": ceiling_confluent(bootstrap, ceiling_topic, items, args.batch),
        "unconfirmed": ceiling_confluent(bootstrap, ceiling_topic, items, confirmed=False),
        "accepted": run["accepted"],
        "stored": stored,
        "statuses": run["statuses"],
        "items": items,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=300_000, help="trades per round")
    parser.add_argument("--rounds", type=int, default=3, help="API + ceiling rounds; medians are reported")
    parser.add_argument("--batch", type=int, default=500)
    # 16 keep-alive connections: uvicorn's workers accept from one shared socket, and with 8 connections
    # opened at once one worker often ends up holding most of them while the other idles (runs then
    # swing between 150k and 220k trades/s); 16 spread them evenly enough to measure the API, not the race.
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv or [])
    settings = load_settings()
    bootstrap = settings.kafka_bootstrap
    key = secrets.token_urlsafe(24)
    api_topic, kp_topic = (f"bench-{name}-{uuid.uuid4().hex[:8]}" for name in ("api", "kp"))
    for topic in (api_topic, kp_topic):
        ensure_topic(bootstrap, topic, settings.kafka_partitions)

    rounds = []
    with running_api(api_topic, args.workers, key) as url:
        asyncio.run(post_all(url, key, build_bodies(10_000, args.batch, int(time.time() * 1000)), args.concurrency))
        for number in range(args.rounds):
            rounds.append(one_round(url, key, args, bootstrap, api_topic))
            log.info(
                "round %d: API %.0f trades/s, ceiling %.0f records/s (unconfirmed %.0f)",
                number + 1,
                rounds[-1]["api"],
                rounds[-1]["ceiling"],
                rounds[-1]["unconfirmed"],
            )
    kafka_python_rate = ceiling_kafka_python(bootstrap, kp_topic, rounds[-1]["items"])

    api_rate = statistics.median(r["api"] for r in rounds)
    confluent_rate = statistics.median(r["ceiling"] for r in rounds)
    unconfirmed_rate = statistics.median(r["unconfirmed"] for r in rounds)
    posted = args.trades * args.rounds
    accepted = sum(r["accepted"] for r in rounds)
    stored = sum(r["stored"] for r in rounds)
    figures = {
        "api_trades_per_s": round(api_rate),
        "ceiling_confluent_kafka_per_s": round(confluent_rate),
        "ceiling_kafka_python_per_s": round(kafka_python_rate),
        "api_share_of_ceiling": round(api_rate / confluent_rate, 3),
        # The same client without collecting delivery reports (a failed record would go unnoticed).
        "unconfirmed_confluent_kafka_per_s": round(unconfirmed_rate),
        "api_share_of_unconfirmed": round(api_rate / unconfirmed_rate, 3),
        "rounds": [
            {"api": round(r["api"]), "ceiling": round(r["ceiling"]), "unconfirmed": round(r["unconfirmed"])}
            for r in rounds
        ],
        "trades_posted": posted,
        "trades_accepted": accepted,
        "trades_landed_in_kafka": stored,
        "statuses": {str(k): sum(r["statuses"].get(k, 0) for r in rounds) for k in (202, 413, 422, 429, 503)},
        "batch": args.batch,
        "concurrency": args.concurrency,
        "api_workers": args.workers,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures, indent=2))
    if stored != posted or accepted != posted:
        log.error("not every trade landed: posted %d, accepted %d, in Kafka %d", posted, accepted, stored)
    write_result(
        "api_throughput",
        figures,
        {
            "api_trades_per_s": {"op": ">=", "value": 50_000, "unit": "trades/s"},
            "api_share_of_ceiling": {"op": ">=", "value": 0.5, "unit": "x"},
            "trades_landed_in_kafka": {"op": ">=", "value": posted, "unit": "trades"},
        },
    )
    return figures


if __name__ == "__main__":
    configure_logging()
    main(sys.argv[1:])
