"""API latency: p50/p99 of a single-trade POST (202 = Kafka acknowledged, acks=all) at 500 requests/s.

    uv run python -m bench.api_latency [--rate 500] [--seconds 20] [--workers 2]

Open loop: request i is due at start + i/rate whatever happened to the ones before, and its latency is
measured from that due time, so a stalled server shows up in the figures instead of slowing the client
down (no coordinated omission). Requests go over a pool of keep-alive connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import statistics
import sys
import time
import uuid
from typing import Any

from bench.api_throughput import RawHttp, landed, running_api
from bench.common import write_result
from lakehouse.kafka.admin import ensure_topic
from lakehouse.logging_setup import configure_logging
from lakehouse.settings import load_settings

log = logging.getLogger("bench.api_latency")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def open_loop(url: str, key: str, rate: float, seconds: float, connections: int) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    pool: asyncio.Queue[RawHttp] = asyncio.Queue()
    for _ in range(connections):
        client = RawHttp(host, int(port), {"X-API-Key": key})
        await client.connect()
        pool.put_nowait(client)
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    total = int(rate * seconds)

    async def one(index: int, due: float) -> None:
        body = json.dumps(
            {
                "symbol": "TSLA",
                "trade_id": f"{run}-{index}",
                "price": "251.37",
                "quantity": "5",
                "side": "buy",
                "trade_time": int(time.time() * 1000),
            }
        ).encode()
        client = await pool.get()
        try:
            status, _ = await client.post("/v1/trades", body)
        finally:
            pool.put_nowait(client)
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    start = time.perf_counter() + 0.1
    tasks = []
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        await pool.get_nowait().close()
    return {"latencies": latencies, "statuses": statuses, "elapsed_s": elapsed, "requests": total}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(argv or [])
    settings = load_settings()
    topic = f"bench-latency-{uuid.uuid4().hex[:8]}"
    ensure_topic(settings.kafka_bootstrap, topic, settings.kafka_partitions)
    key = secrets.token_urlsafe(24)
    with running_api(topic, args.workers, key) as url:
        asyncio.run(open_loop(url, key, args.rate, 2, args.connections))  # warm-up
        before = landed(settings.kafka_bootstrap, topic)
        result = asyncio.run(open_loop(url, key, args.rate, args.seconds, args.connections))
    stored = landed(settings.kafka_bootstrap, topic) - before
    latencies_ms = [value * 1000 for value in result["latencies"]]
    figures = {
        "p50_ms": round(percentile(latencies_ms, 0.50), 2),
        "p90_ms": round(percentile(latencies_ms, 0.90), 2),
        "p99_ms": round(percentile(latencies_ms, 0.99), 2),
        "max_ms": round(max(latencies_ms), 2),
        "mean_ms": round(statistics.fmean(latencies_ms), 2),
        "target_rate_per_s": args.rate,
        "achieved_rate_per_s": round(result["requests"] / result["elapsed_s"], 1),
        "requests": result["requests"],
        "statuses": {str(k): v for k, v in result["statuses"].items()},
        "landed_in_kafka": stored,
        "api_workers": args.workers,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures, indent=2))
    write_result(
        "api_latency",
        figures,
        {
            "p99_ms": {"op": "<=", "value": 100, "unit": "ms"},
            "landed_in_kafka": {"op": ">=", "value": result["requests"], "unit": "trades"},
        },
    )
    return figures


if __name__ == "__main__":
    configure_logging()
    main(sys.argv[1:])
