"""dbt build on 10 million silver trades from scratch, then incrementally after 100,000 new trades.

Targets on the 2-core machine: at most 120 s from scratch and at most 15 s incrementally. The trades are
generated inside PostgreSQL (generate_series) in a scratch database, so loading them is not measured.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import uuid

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench.common import write_result
from lakehouse.gold.dbt import build_gold
from lakehouse.local.postgres_server import apply_roles_sql
from lakehouse.logging_setup import configure_logging
from lakehouse.settings import load_settings
from lakehouse.stream.postgres_mirror import PostgresMirror

log = logging.getLogger("bench.dbt_gold")
SYMBOLS = 10


def _with_database(dsn: str, database: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + database


def _generate(conn: psycopg.Connection, first: int, count: int, processed_at: str) -> None:
    """`count` scored trades spread over 10 symbols, one every 100 ms per symbol, from trade number `first`."""
    conn.execute(
        f"""
        INSERT INTO silver.trades
        SELECT 'binance', 'SYM' || (n % {SYMBOLS}), n::text,
               price, qty, round(price * qty, 18), CASE WHEN n % 3 = 0 THEN 'sell' ELSE 'buy' END,
               t, t::date, t + interval '50 milliseconds', 50, 1,
               -- Scored like the stream with a champion: every trade carries a forecast.
               (price * (1 + ((n % 7) - 3) / 10000.0))::float8, '1',
               'raw-trades', (n % 3)::int, n, t, {processed_at}
        FROM (
            SELECT n,
                   timestamptz '2026-10-01 00:00:00+00' + (n / {SYMBOLS}) * interval '100 milliseconds' AS t,
                   round((100 + 10 * sin(n / 50000.0) + (n % 97) / 100.0)::numeric, 8) AS price,
                   round((0.01 + (n % 13) / 10.0)::numeric, 8) AS qty
            FROM generate_series({first}, {first + count - 1}) AS n
        ) AS generated
        """
    )


def main() -> None:
    configure_logging()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=10_000_000)
    parser.add_argument("--new-trades", type=int, default=100_000)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database (to profile the incremental build)"
    )
    args = parser.parse_args([] if __name__ != "__main__" else None)

    settings = load_settings()
    database = f"bench_gold_{uuid.uuid4().hex[:8]}"
    admin_dsn = settings.pg_admin_dsn or ""
    with psycopg.connect(_with_database(admin_dsn, "postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    try:
        # The same roles, schemas and grants as market_db, from the one file that defines them.
        passwords = {
            "writer_password": str(conninfo_to_dict(settings.require_pg_dsn())["password"]),
            "reader_password": str(conninfo_to_dict(settings.pg_readonly_dsn or "")["password"]),
        }
        apply_roles_sql(_with_database(admin_dsn, database), passwords)
        writer_dsn = _with_database(settings.require_pg_dsn(), database)
        mirror = PostgresMirror(writer_dsn)
        mirror.ensure_schema()
        mirror.close()
        started = time.monotonic()
        with psycopg.connect(writer_dsn, autocommit=True) as conn:
            # Processed a second after each trade happened, like the stream: history is spread over time.
            _generate(conn, 0, args.trades, "t + interval '1 second'")
            conn.execute("ANALYZE silver.trades")
        log.info("generated %d silver trades in %.0fs", args.trades, time.monotonic() - started)

        bench_settings = settings.model_copy(update={"pg_dsn": writer_dsn})
        scratch = build_gold(bench_settings, full_refresh=True)
        log.info("dbt build from scratch: %.1fs", scratch.seconds)
        with psycopg.connect(writer_dsn, autocommit=True) as conn:
            _generate(conn, args.trades, args.new_trades, "now()")
        incremental = build_gold(bench_settings)
        log.info("dbt build after %d new trades: %.1fs", args.new_trades, incremental.seconds)
        with psycopg.connect(writer_dsn) as conn:
            candles = conn.execute("SELECT count(*), sum(trade_count) FROM gold.candles_1m").fetchone()
        assert candles is not None and candles[1] == args.trades + args.new_trades, candles
    finally:
        if args.keep:
            log.info("kept database %s", database)
        else:
            with psycopg.connect(_with_database(admin_dsn, "postgres"), autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")

    write_result(
        "dbt_gold",
        {
            "silver_trades": args.trades,
            "new_trades": args.new_trades,
            "candles_1m": candles[0],
            "build_from_scratch_s": round(scratch.seconds, 1),
            "build_incremental_s": round(incremental.seconds, 1),
            "load_average_1m": os.getloadavg()[0],
        },
        {
            "build_from_scratch_s": {"op": "<=", "value": 120, "unit": "s"},
            "build_incremental_s": {"op": "<=", "value": 15, "unit": "s"},
        },
    )


if __name__ == "__main__":
    main()
