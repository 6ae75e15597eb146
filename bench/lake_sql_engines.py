"""Which engine should `lakehouse sql` use? The same queries on the same Delta table, each in a new process
(a CLI pays its imports every time), median of 3 runs.

Engines: Apache DataFusion through delta-rs (`deltalake.QueryBuilder`, already a dependency), DuckDB with
its delta extension as packaged on PyPI, and polars through delta-rs. The last two are not dependencies:
run with them added, e.g.
  uv run --with duckdb==1.5.5 --with duckdb-extension-delta==1.5.5 --with polars python -m bench.lake_sql_engines
An engine that is not installed is reported as such.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import write_result
from lakehouse.logging_setup import configure_logging

log = logging.getLogger("bench.lake_sql_engines")

RUNS = 3
QUERIES = {
    "aggregate": "SELECT symbol, count(*) AS trades, avg(CAST(price AS DOUBLE)) AS mean_price "
    "FROM silver_trades GROUP BY symbol ORDER BY symbol",
    "newest_of_a_symbol": "SELECT trade_id, trade_time, price FROM silver_trades WHERE symbol = 'ETHUSDT' "
    "ORDER BY trade_time DESC LIMIT 10",
}

# Each program reads the table at sys.argv[1], runs the query in sys.argv[2] and prints the row count.
PROGRAMS = {
    "datafusion": (
        "import sys; from deltalake import DeltaTable, QueryBuilder; import pyarrow as pa\n"
        "rows = pa.table(QueryBuilder().register('silver_trades', DeltaTable(sys.argv[1]))"
        ".execute(sys.argv[2]).read_all())\nprint(rows.num_rows)\n"
    ),
    "duckdb": (
        "import sys, pathlib, duckdb, duckdb_extension_delta as ext\n"
        "path = next(pathlib.Path(ext.__file__).parent.rglob('delta.duckdb_extension'))\n"
        "con = duckdb.connect(); con.execute(f\"LOAD '{path}'\")\n"
        "con.execute(f\"CREATE VIEW silver_trades AS SELECT * FROM delta_scan('{sys.argv[1]}')\")\n"
        "print(len(con.sql(sys.argv[2]).fetchall()))\n"
    ),
    "polars": (
        "import sys, polars as pl\n"
        "frame = pl.SQLContext(silver_trades=pl.scan_delta(sys.argv[1])).execute(sys.argv[2]).collect()\n"
        "print(frame.height)\n"
    ),
}
IMPORTS = {"datafusion": "deltalake", "duckdb": "duckdb_extension_delta", "polars": "polars"}


def write_table(path: Path, rows: int) -> None:
    """A silver-shaped Delta table, written by delta-rs in a few commits like a stream would."""
    from deltalake import write_deltalake

    from bench.ab_speedups import mirror_rows

    batch = mirror_rows(rows // 4)
    for _ in range(4):
        write_deltalake(str(path), batch, mode="append")


def timed(engine: str, table: Path, sql: str) -> tuple[float, int]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PROGRAMS[engine], str(table), sql], capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise RuntimeError(f"{engine}: {result.stderr[-1500:]}")
    return time.perf_counter() - started, int(result.stdout.split()[-1])


def available(engine: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {IMPORTS[engine]}"], capture_output=True).returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    configure_logging()
    figures: dict[str, Any] = {"rows": args.rows, "runs": RUNS}
    with tempfile.TemporaryDirectory(prefix="lake-sql-") as folder:
        table = Path(folder) / "silver_trades"
        write_table(table, args.rows)
        for engine in PROGRAMS:
            if not available(engine):
                figures[f"{engine}_installed"] = False
                log.info("%s is not installed: skipped", engine)
                continue
            for name, sql in QUERIES.items():
                seconds, counts = [], set()
                for _ in range(RUNS):
                    elapsed, count = timed(engine, table, sql)
                    seconds.append(elapsed)
                    counts.add(count)
                figures[f"{engine}_{name}_s"] = round(statistics.median(seconds), 3)
                figures[f"{engine}_{name}_rows"] = counts.pop() if len(counts) == 1 else sorted(counts)
                log.info("%s %s: %.3f s (median of %d)", engine, name, figures[f"{engine}_{name}_s"], RUNS)
    log.info("figures: %s", json.dumps(figures))
    write_result("lake_sql_engines", figures, {})
    return 0


if __name__ == "__main__":
    sys.exit(main())
