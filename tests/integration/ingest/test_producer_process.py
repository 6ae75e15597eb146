"""producer.py as a real process: replay of a recording, and the live fallback to the stand-in with
metrics on a port and a clean flush on SIGTERM."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from lakehouse.local.processes import free_port, wait_until
from lakehouse.paths import REPO_ROOT
from lakehouse.settings import Settings
from tests.integration.ingest.conftest import read_topic
from tests.utils.trades import binance_trade


def producer_env(settings: Settings, topic: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LAKEHOUSE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "LAKEHOUSE_KAFKA_TOPIC": topic,
        **extra,
    }


def test_replay_of_a_gzip_recording_produces_its_trades_once_and_skips_the_rest(
    settings: Settings, topic: str, tmp_path: Path
) -> None:
    now = int(time.time() * 1000)
    lines = []
    for n in range(40):
        trade = binance_trade(trade_id=500 + n, symbol="BTCUSDT", T=now - 4000 + n * 50)
        if n % 2:
            lines.append(json.dumps({"stream": "btcusdt@trade", "data": trade}))  # combined form
        else:
            lines.append(f"{now - 4000 + n * 50}\t{json.dumps(trade)}")  # raw form with a receive stamp
    lines.insert(10, json.dumps({"stream": "btcusdt@bookTicker", "data": {"u": 1, "s": "BTCUSDT", "b": "1"}}))
    lines.insert(20, "{broken")
    lines.insert(30, lines[25])  # a duplicate trade (overlapping recordings)
    recording = tmp_path / "trades.jsonl.gz"
    with gzip.open(recording, "wt") as out:
        out.write("\n".join(lines) + "\n")

    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "producer.py"),
            "--source",
            "replay",
            "--file",
            str(recording),
            "--speed",
            "2",
        ],
        env=producer_env(settings, topic),
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "received=43 produced=40 malformed=1" in result.stderr
    assert elapsed >= 39 * 50 / 1000 / 2  # paced: ~2 s of recorded time at 2x takes at least ~1 s
    records = read_topic(settings.kafka_bootstrap, topic, expected=40)
    assert sorted(int(r.value["trade_id"]) for r in records) == list(range(500, 540))


def test_shipped_sample_recording_replays_at_full_speed(settings: Settings, topic: str) -> None:
    sample = REPO_ROOT / "data" / "replay" / "synthetic_trades.jsonl.gz"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "producer.py"), "--source", "replay", "--file", str(sample), "--speed", "0"],
        env=producer_env(settings, topic),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "produced=3000 malformed=0 gaps=0" in result.stderr
    assert len(read_topic(settings.kafka_bootstrap, topic, expected=3000, settle_s=0.5)) == 3000


def test_live_fallback_to_the_standin_says_so_serves_metrics_and_flushes_on_sigterm(
    settings: Settings, topic: str
) -> None:
    unreachable = f"ws://127.0.0.1:{free_port()}"  # nothing listens here: "Binance is down"
    metrics_port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, str(REPO_ROOT / "producer.py"), "--symbols", "BTCUSDT,ETHUSDT", "--fallback", "standin",
            "--standin-rate", "200", "--metrics-port", str(metrics_port),
        ],
        env=producer_env(settings, topic, LAKEHOUSE_BINANCE_WS_URL=unreachable),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip

    def produced() -> float:
        try:
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1).text
        except httpx.HTTPError:
            return 0.0
        for line in text.splitlines():
            if line.startswith("lakehouse_producer_messages_produced_total"):
                return float(line.split()[-1])
        return 0.0

    try:
        wait_until(lambda: produced() >= 100, 60, "producer metrics")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "FALLING BACK to the local exchange stand-in" in output and "GENERATED" in output
    assert "SIGTERM received: flushing and stopping" in output
    summary = next(line for line in output.splitlines() if "producer stopped:" in line)
    produced_total = int(summary.split("produced=")[1].split()[0])
    assert "undelivered=0" in summary
    records = read_topic(settings.kafka_bootstrap, topic, expected=produced_total)
    assert len(records) == produced_total >= 100  # everything counted as produced really is in Kafka
    assert {r.value["source"] for r in records} == {"binance"}
