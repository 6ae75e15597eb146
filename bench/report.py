"""docs/benchmarks.md, written from bench/results/*.json: `uv run python -m bench.report`.

`make bench` rewrites it after the runs; a test keeps the committed page equal to what the results say.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR

DOCS_PAGE = RESULTS_DIR.parent.parent / "docs" / "benchmarks.md"

HEADER = """# Benchmarks

Speed, memory and correctness targets are measured here, never in tests, with the settings a user gets by
default (a tuning that helps becomes the default, or the result names it). `make bench` runs every script
in `bench/` and writes `bench/results/<name>.json`, then this page; one benchmark:
`uv run python -m bench.<name>`. Run them on a quiet machine: each result records the load average it ran
under.

This page is generated from `bench/results/` (`uv run python -m bench.report`); do not edit it by hand.
"""


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _section(result: dict[str, Any]) -> list[str]:
    machine = result.get("machine", {})
    lines = [f"## {result['name']}", ""]
    lines.append(
        f"Measured {result.get('measured_at', '?')} on {machine.get('cpus', '?')} CPUs, "
        f"{machine.get('memory_gib', '?')} GiB, Python {machine.get('python', '?')}."
    )
    lines.append("")
    targets = result.get("targets", {})
    if targets:
        lines += ["| target | goal | measured | result |", "|---|---|---|---|"]
        for figure, check in targets.items():
            unit = check.get("unit", "")
            verdict = "pass" if check["pass"] else "**FAIL**"
            lines.append(
                f"| {figure} | {check['op']} {_value(check['value'])} {unit} | {_value(check['measured'])} {unit} "
                f"| {verdict} |"
            )
        lines.append("")
    scalars = {k: v for k, v in result.get("figures", {}).items() if not isinstance(v, (dict, list))}
    if scalars:
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| {name} | {_value(value)} |" for name, value in scalars.items()]
        lines.append("")
    lines.append(f"All figures: `bench/results/{result['name']}.json`.")
    lines.append("")
    return lines


def results(folder: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def render(folder: Path = RESULTS_DIR) -> str:
    lines = [HEADER]
    for result in results(folder):
        lines += _section(result)
    return "\n".join(lines)


def main() -> int:
    DOCS_PAGE.write_text(render())
    sys.stdout.write(f"wrote {DOCS_PAGE}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
