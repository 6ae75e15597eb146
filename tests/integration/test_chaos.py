"""The short chaos run: every kind of fault while trades flow, then nothing lost and nothing doubled.

`python -m bench.chaos --short` in a process of its own (it runs a private Kafka, PostgreSQL and lake,
so its faults never touch the session's infra): kill -9 of each streaming job at random moments,
Kafka killed under API load, PostgreSQL stopped and frozen. The full run is `python -m bench.chaos`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.paths import REPO_ROOT, jars_dir


def test_short_chaos_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    output = tmp_path / "chaos.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    env["LAKEHOUSE_JARS_DIR"] = str(jars_dir())
    result = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--short", "--output", str(output)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1500, check=False,
    )  # fmt: skip
    if not output.exists():
        pytest.fail(f"the chaos run did not finish ({result.returncode}):\n{result.stderr[-8000:]}", pytrace=False)
    figures = json.loads(output.read_text())
    recon = figures["report"]["reconciliation"]
    kinds = [fault["kind"] for fault in figures["report"]["faults"]]
    assert kinds.count("kill") == 4 and {"kafka", "pg_stop", "pg_freeze"} <= set(kinds), kinds
    assert recon["acknowledged"] > 1000 and recon["kafka_records"] >= recon["acknowledged"]
    assert recon["lost"] == 0 and recon["doubled"] == 0, recon
    assert recon["exact"], recon
    assert result.returncode == 0, result.stderr[-3000:]
