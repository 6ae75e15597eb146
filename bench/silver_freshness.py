"""Live freshness: trades at a steady 2,000/s, measured from trade time to visible in Delta silver.

The silver job (and, by default, the bronze job beside it, as in production) run as their real entry
points in subprocesses. A trade is visible when the Delta commit that adds it exists: the commit file's
modification time minus the trade's trade_time is its freshness. Target: p95 <= 5 s.

    uv run python -m bench.silver_freshness [--rate 2000] [--seconds 60] [--trigger-seconds 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import write_result
from bench.stream_catchup import SYMBOLS, BenchEnv, trade_json
from lakehouse.logging_setup import configure_logging
from lakehouse.paths import REPO_ROOT
from lakehouse.schema.trade import now_ms

log = logging.getLogger("bench.silver_freshness")


def start_job(script: str, bench: BenchEnv, trigger_s: float, log_path: Path) -> subprocess.Popen:
    args = [sys.executable, script, "--topic", bench.topic, "--trigger-seconds", str(trigger_s)]
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            args, cwd=REPO_ROOT, env=bench.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_job(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the job stops its query between batches and exits
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def wait_for_log(path: Path, marker: str, process: subprocess.Popen, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"job exited ({process.returncode}): {path.read_text()[-2000:]}")
        if marker in path.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{marker!r} not in {path} after {timeout_s}s")


def produce_steadily(bench: BenchEnv, rate: int, seconds: float, first_id: int = 0) -> tuple[int, int]:
    """Produce `rate` trades/s for `seconds`, each stamped with its send time; return (count, start_ms)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bench.settings.kafka_bootstrap, "acks": "all", "linger.ms": 5})
    tick_s = 0.01
    per_tick = max(1, round(rate * tick_s))
    started = time.monotonic()
    start_ms = now_ms()
    sent = 0
    while time.monotonic() - started < seconds:
        stamp = now_ms()
        for _ in range(per_tick):
            trade_id = first_id + sent
            producer.produce(
                bench.topic, value=trade_json(trade_id, stamp), key=SYMBOLS[trade_id % len(SYMBOLS)].encode()
            )
            sent += 1
        producer.poll(0)
        # Pace on the schedule, not on the previous tick, so the rate does not drift.
        time.sleep(max(0.0, started + sent / rate - time.monotonic()))
    producer.flush(30)
    return sent, start_ms


def commit_freshness(table_dir: Path, since_ms: int) -> list[float]:
    """Seconds from trade_time to the commit that made each trade visible (trades stamped >= since_ms)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    latencies: list[float] = []
    for commit in sorted((table_dir / "_delta_log").glob("*.json")):
        visible_ms = commit.stat().st_mtime * 1000
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" not in action:
                continue
            path = table_dir / action["add"]["path"]
            # Spark may store INT96 (read back as ns) or micros: normalise to epoch milliseconds.
            column = pq.read_table(path, columns=["trade_time"])["trade_time"]
            trade_ms = pc.cast(pc.cast(column, pa.timestamp("ms", tz="UTC")), pa.int64()).to_pylist()
            latencies += [(visible_ms - ms) / 1000 for ms in trade_ms if ms >= since_ms]
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=2000, help="trades per second")
    parser.add_argument("--seconds", type=float, default=60, help="measured seconds (after the warm-up)")
    parser.add_argument("--warmup-seconds", type=float, default=45)
    parser.add_argument("--trigger-seconds", type=float, default=1.0, help="silver micro-batch interval")
    parser.add_argument("--no-bronze", action="store_true", help="run the silver job alone")
    args = parser.parse_args(argv or [])

    bench = BenchEnv.create("freshness", spark_shuffle_partitions=2, spark_driver_memory="2g")
    logs = bench.lake_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    jobs = []
    load_before = os.getloadavg()
    try:
        silver = start_job("process_silver.py", bench, args.trigger_seconds, logs / "silver.log")
        jobs.append(silver)
        if not args.no_bronze:
            jobs.append(start_job("consumer_lake.py", bench, bench.settings.bronze_trigger_s, logs / "bronze.log"))
        wait_for_log(logs / "silver.log", "silver-trades started", silver)
        # One steady stream; the first warm-up seconds (JIT, first Delta snapshots) are not measured.
        produced, started_ms = produce_steadily(bench, args.rate, args.warmup_seconds + args.seconds)
        measured_from_ms = started_ms + int(args.warmup_seconds * 1000)
        sent = round(produced * args.seconds / (args.warmup_seconds + args.seconds))
        load_during = os.getloadavg()
        table_dir = Path(bench.settings.table_uri("silver", "trades").removeprefix("file://"))
        deadline = time.monotonic() + 60
        latencies: list[float] = []
        while time.monotonic() < deadline:
            latencies = commit_freshness(table_dir, measured_from_ms)
            if len(latencies) >= sent - args.rate:  # the last second may still be in flight
                break
            time.sleep(1)
    finally:
        for job in jobs:
            stop_job(job)
        batch_lines = [line for line in (logs / "silver.log").read_text().splitlines() if "silver batch" in line]
        bench.cleanup()
    figures = {
        "rate_trades_per_s": args.rate,
        "measured_seconds": args.seconds,
        "trades_measured": sent,
        "trades_visible": len(latencies),
        "freshness_p50_s": round(percentile(latencies, 0.50), 2) if latencies else None,
        "freshness_p95_s": round(percentile(latencies, 0.95), 2) if latencies else None,
        "freshness_p99_s": round(percentile(latencies, 0.99), 2) if latencies else None,
        "freshness_max_s": round(max(latencies), 2) if latencies else None,
        "silver_trigger_seconds": args.trigger_seconds,
        "bronze_running": not args.no_bronze,
        "silver_batches_logged": len(batch_lines),
        "load_average_1m_before": round(load_before[0], 2),
        "load_average_1m_during": round(load_during[0], 2),
    }
    log.info("last silver batches: %s", batch_lines[-3:])
    log.info("figures: %s", figures)
    write_result(
        "silver_freshness",
        figures,
        {
            "freshness_p95_s": {"op": "<=", "value": 5, "unit": "s"},
            "trades_visible": {"op": ">=", "value": sent - args.rate, "unit": "trades"},
        },
    )
    return figures


if __name__ == "__main__":
    configure_logging()
    main(sys.argv[1:])
