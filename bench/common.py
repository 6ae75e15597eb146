"""Shared helpers: write results in one format, collect machine facts."""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
log = logging.getLogger("bench")


def machine() -> dict[str, Any]:
    mem_kb = 0
    try:
        with open("/proc/meminfo") as meminfo:
            mem_kb = int(meminfo.readline().split()[1])
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_result(name: str, figures: dict[str, Any], targets: dict[str, dict[str, Any]]) -> Path:
    """Save figures and targets.

    targets: {figure_name: {"op": ">=" or "<=", "value": number, "unit": str}}; each is checked against figures.
    """
    checks = {}
    for figure, target in targets.items():
        measured = figures.get(figure)
        ok = measured is not None and (
            measured >= target["value"] if target["op"] == ">=" else measured <= target["value"]
        )
        checks[figure] = {**target, "measured": measured, "pass": ok}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "name": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "figures": figures,
        "targets": checks,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    for figure, check in checks.items():
        log.info(
            "%s: %s = %s %s (target %s %s) %s",
            name, figure, check["measured"], check.get("unit", ""), check["op"], check["value"],
            "PASS" if check["pass"] else "FAIL",
        )  # fmt: skip
    return path
