"""`make bench`: run every benchmark module in bench/ that defines main(), then write docs/benchmarks.md."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
import time

from bench.common import RESULTS_DIR
from bench.report import DOCS_PAGE, render
from lakehouse.logging_setup import configure_logging

log = logging.getLogger("bench")
# lake_sql_engines compares engines that are not dependencies, compose_footprint and compose_faults need a
# running compose stack, image_sizes the built images: run them on their own (see their docstrings).
SKIP = {
    "common", "__main__", "report", "chaos_ledger", "lake_sql_engines", "compose_footprint", "compose_faults",
    "image_sizes",
}  # fmt: skip


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
    DOCS_PAGE.write_text(render())
    log.info("figures written to %s", DOCS_PAGE)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
