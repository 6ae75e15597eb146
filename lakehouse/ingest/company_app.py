"""`fake_company.py`: command line of the company feed simulator."""

from __future__ import annotations

import argparse
import asyncio
import signal

from lakehouse.ingest.company import DEFAULT_TICKERS, CompanyFeed, FeedReport, post_feed
from lakehouse.settings import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fake_company.py",
        description="Simulate a company's trade feed (GBM with jumps) and post it to the ingestion API.",
    )
    parser.add_argument("--api-url", default="http://127.0.0.1:8000", help="ingestion API base URL")
    parser.add_argument("--api-key", help="the company's API key (default LAKEHOUSE_COMPANY_API_KEY)")
    parser.add_argument("--tickers", default=",".join(DEFAULT_TICKERS), help="comma-separated symbols")
    parser.add_argument("--rate", type=float, default=100.0, help="target trades per second (default 100)")
    parser.add_argument("--batch", type=int, default=50, help="trades per POST (default 50)")
    parser.add_argument("--duration", type=float, default=0, help="seconds to run (0: until Ctrl-C)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the price paths")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.batch <= 0:
        parser.error("--rate and --batch must be positive")
    return args


def main(settings: Settings, argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    key = args.api_key or (settings.company_api_key.get_secret_value() if settings.company_api_key else None)
    if not key:
        raise SystemExit(
            "error: no API key: pass --api-key or set LAKEHOUSE_COMPANY_API_KEY "
            "(create one with `lakehouse apikey create CLIENT` and add its entry to LAKEHOUSE_API_KEYS)"
        )
    tickers = [part.strip().upper() for part in args.tickers.split(",") if part.strip()]
    feed = CompanyFeed({symbol: DEFAULT_TICKERS.get(symbol, 100.0) for symbol in tickers}, seed=args.seed)

    async def run() -> FeedReport:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        return await post_feed(
            feed,
            args.api_url,
            key,
            rate_per_s=args.rate,
            batch_size=args.batch,
            duration_s=args.duration or None,
            stop=stop,
        )

    report = asyncio.run(run())
    return 0 if report.rejected == 0 else 1
