"""Memory and CPU of every container of the compose stack (`docker stats`), idle and at ~2,000 trades/s.

Needs a running stack: `make up` (then `--env-file .env`), or the compose run's, kept with
LAKEHOUSE_KEEP_COMPOSE=1 (`--env-file .lakehouse/compose-run/compose.env`). Run on its own, not by
`make bench`:

    uv run python -m bench.compose_footprint --label full [--rate 2000] [--seconds 120]

Idle: the producer stopped and nothing posted; the streams, Airflow, MLflow and the rest running.
Loaded: trades posted to the ingestion API at --rate (batches of 200, as a company would) for
--seconds, so every one of them goes API -> Kafka -> bronze and silver -> PostgreSQL. `docker stats`
is sampled throughout; the result holds each container's peak and mean memory, its mean CPU, its
memory limit, whether it was OOM-killed, and the peak of the summed memory.
Results: bench/results/compose_footprint_<label>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from statistics import fmean
from typing import Any

import httpx

from bench.common import write_result
from lakehouse.logging_setup import configure_logging

log = logging.getLogger("bench.compose_footprint")
API = "http://127.0.0.1:8000/v1/trades"
PROJECT = "lakehouse"
BATCH = 200
UNITS = {"b": 1 / 2**20, "kib": 1 / 1024, "kb": 1 / 1024, "mib": 1, "mb": 1, "gib": 1024, "gb": 1024}


# ---------------------------------------------------------------------------------------------- pure parts
def mib(text: str) -> float:
    """A `docker stats` size ("512MiB", "1.2GiB", "0B") in MiB."""
    number = float("".join(ch for ch in text if ch.isdigit() or ch == "."))
    unit = text.strip().lstrip("0123456789.").strip().lower()
    return number * UNITS[unit]


def parse_stats(lines: list[str]) -> dict[str, tuple[float, float]]:
    """`docker stats --format '{{json .}}'` lines as {container: (memory MiB, CPU %)}."""
    rows = [json.loads(line) for line in lines if line.strip()]
    return {row["Name"]: (mib(row["MemUsage"].split("/")[0]), float(row["CPUPerc"].rstrip("%"))) for row in rows}


def summarise(samples: list[dict[str, tuple[float, float]]]) -> dict[str, Any]:
    """Per container peak and mean memory (MiB) and mean CPU (%), and the peak of the summed memory."""
    memory: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        for name, (mem, cpu_percent) in sample.items():
            memory[name].append(mem)
            cpu[name].append(cpu_percent)
    containers = {
        name: {"peak_mib": round(max(mem)), "mean_mib": round(fmean(mem)), "mean_cpu_pct": round(fmean(cpu[name]), 1)}
        for name, mem in sorted(memory.items())
    }
    totals = [sum(mem for mem, _ in sample.values()) for sample in samples]
    return {
        "containers": containers,
        "peak_total_mib": round(max(totals)) if totals else 0,
        "mean_total_mib": round(fmean(totals)) if totals else 0,
        "mean_total_cpu_pct": round(sum(c["mean_cpu_pct"] for c in containers.values()), 1),
        "samples": len(samples),
    }


def trades(run: str, first: int, count: int) -> list[dict[str, Any]]:
    now_ms = int(time.time() * 1000)
    return [
        {"symbol": "FOOTPRINT", "trade_id": f"{run}-{first + i}", "price": f"{100 + (first + i) % 100 * 0.01:.2f}",
         "quantity": "1", "side": "buy" if i % 2 else "sell", "trade_time": now_ms}
        for i in range(count)
    ]  # fmt: skip


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value
    return values


# ---------------------------------------------------------------------------------------------- I/O
def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=120).stdout


def containers() -> list[str]:
    return docker("ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").split()


def sample() -> dict[str, tuple[float, float]]:
    return parse_stats(docker("stats", "--no-stream", "--format", "{{json .}}", *containers()).splitlines())


def limits_and_oom() -> dict[str, dict[str, Any]]:
    out = docker("inspect", "--format", "{{.Name}} {{.HostConfig.Memory}} {{.State.OOMKilled}}", *containers())
    found = {}
    for line in out.splitlines():
        name, limit, oom = line.split()
        found[name.lstrip("/")] = {"limit_mib": int(limit) // 2**20 or None, "oom_killed": oom == "true"}
    return found


def sample_for(seconds: float) -> list[dict[str, tuple[float, float]]]:
    samples, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(sample())  # each `docker stats --no-stream` call itself takes about 2 s
    return samples


class Poster(threading.Thread):
    """Posts batches to the API at a steady rate; counts what the API accepted (202)."""

    def __init__(self, key: str, rate: int) -> None:
        super().__init__(daemon=True)
        self.key, self.interval = key, BATCH / rate
        self.run_id, self.accepted, self.refused = uuid.uuid4().hex[:8], 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            started, sent = time.monotonic(), 0
            while not self.stop.is_set():
                response = client.post(API, json=trades(self.run_id, sent, BATCH), headers={"X-API-Key": self.key})
                sent += BATCH
                if response.status_code == 202:
                    self.accepted += BATCH
                else:
                    self.refused += BATCH
                time.sleep(max(0.0, started + sent / BATCH * self.interval - time.monotonic()))


def main(argv: list[str] | None = None) -> None:
    configure_logging()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument("--label", default="full", help="names the result: full, small, ...")
    parser.add_argument("--rate", type=int, default=2000, help="trades per second posted while loaded")
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args(argv)
    key = env_file(args.env_file)["COMPANY_API_KEY"]

    producer_was_running = "producer" in docker("ps", "--format", "{{.Names}}").split()
    docker("stop", "producer")
    try:
        time.sleep(20)  # let the streams drain what the producer sent last
        log.info("idle: sampling for %.0fs", args.seconds / 2)
        idle = summarise(sample_for(args.seconds / 2))
        poster = Poster(key, args.rate)
        poster.start()
        time.sleep(10)  # the streams' first larger batches
        log.info("loaded at %d trades/s: sampling for %.0fs", args.rate, args.seconds)
        started = time.monotonic()
        accepted_before = poster.accepted
        loaded = summarise(sample_for(args.seconds))
        achieved = (poster.accepted - accepted_before) / (time.monotonic() - started)
        poster.stop.set()
        poster.join()
    finally:
        if producer_was_running:
            docker("start", "producer")
    health = limits_and_oom()
    figures = {
        "label": args.label,
        "idle_total_mib": idle["peak_total_mib"],
        "loaded_total_mib": loaded["peak_total_mib"],
        "loaded_rate_trades_per_s": round(achieved),
        "refused_trades": poster.refused,
        "oom_killed": sorted(name for name, state in health.items() if state["oom_killed"]),
        "unlimited": sorted(name for name, state in health.items() if state["limit_mib"] is None),
        "idle": idle,
        "loaded": loaded,
        "limits_mib": {name: state["limit_mib"] for name, state in sorted(health.items())},
    }
    for name, row in loaded["containers"].items():
        log.info("%-24s idle %5s MiB  loaded peak %5s MiB  cpu %5s%%  limit %s MiB", name,
                 idle["containers"].get(name, {}).get("peak_mib"), row["peak_mib"], row["mean_cpu_pct"],
                 health.get(name, {}).get("limit_mib"))  # fmt: skip
    write_result(
        f"compose_footprint_{args.label}",
        figures,
        {
            "loaded_total_mib": {"op": "<=", "value": 8192 if args.label == "small" else 16384, "unit": "MiB"},
            "loaded_rate_trades_per_s": {"op": ">=", "value": 0.9 * args.rate, "unit": "trades/s"},
        },
    )


if __name__ == "__main__":
    main()
