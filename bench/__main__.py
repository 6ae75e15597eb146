"""`make bench`: run every benchmark module in bench/ that defines main(), then write SUMMARY.md."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import sys
import time

from bench.common import RESULTS_DIR
from lakehouse.logging_setup import configure_logging

log = logging.getLogger("bench")
SKIP = {"common", "__main__"}


def summary_markdown() -> str:
    lines = ["# Benchmark summary", "", "| benchmark | figure | target | measured | result |", "|---|---|---|---|---|"]
    for path in sorted(RESULTS_DIR.glob("*.json")):
        result = json.loads(path.read_text())
        for figure, check in result.get("targets", {}).items():
            unit = check.get("unit", "")
            lines.append(
                f"| {result['name']} | {figure} | {check['op']} {check['value']} {unit} | "
                f"{check['measured']} {unit} | {'pass' if check['pass'] else '**FAIL**'} |"
            )
    results = sorted(RESULTS_DIR.glob("*.json"))
    if results:
        lines += ["", f"Machine: {json.dumps(json.loads(results[-1].read_text())['machine'])}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    configure_logging()
    only = set(sys.argv[1:])
    failures = 0
    for module_info in pkgutil.iter_modules([str(RESULTS_DIR.parent)]):
        name = module_info.name
        if name in SKIP or (only and name not in only):
            continue
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        started = time.monotonic()
        log.info("running benchmark %s", name)
        try:
            module.main()
        except Exception:
            log.exception("benchmark %s failed", name)
            failures += 1
        log.info("benchmark %s took %.0fs", name, time.monotonic() - started)
    (RESULTS_DIR / "SUMMARY.md").write_text(summary_markdown())
    log.info("summary written to %s", RESULTS_DIR / "SUMMARY.md")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
