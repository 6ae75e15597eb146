"""The Binance producer: wiring of source (live / replay), pipeline, Kafka, metrics and signals."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lakehouse.book.capture import WeightBudget
from lakehouse.ingest.backfill import RestBackfiller
from lakehouse.ingest.binance import BINANCE_SOURCE
from lakehouse.ingest.book_feed import BookFeed, BookTopics, SnapshotSource
from lakehouse.ingest.exchange_feed_metrics import ProducerMetrics
from lakehouse.ingest.markets import MARKETS
from lakehouse.ingest.pipeline import TradePipeline
from lakehouse.ingest.resume import last_produced
from lakehouse.ingest.sources import MAX_CONNECTION_AGE_S, LiveSource, can_connect, run_replay, stream_url
from lakehouse.ingest.standin import ExchangeStandIn
from lakehouse.kafka.admin import ensure_book_topics
from lakehouse.kafka.trade_producer import TradeProducer
from lakehouse.settings import Settings

log = logging.getLogger(__name__)

# How long a stopping producer waits for Kafka to take what it still buffers. docker-compose.yaml's
# stop_grace_period of the producer must exceed it (tests/unit/deploy/test_compose_services.py).
SHUTDOWN_FLUSH_TIMEOUT_S = 30.0


@dataclass
class ProducerOptions:
    source: Literal["live", "replay"] = "live"
    file: Path | None = None
    speed: float = 1.0
    symbols: list[str] | None = None
    fallback: Literal["none", "standin"] = "none"
    standin_rate: float = 50.0
    standin_recording: Path | None = None
    standin_speed: float = 1.0
    metrics_port: int | None = None
    flush_timeout_s: float = SHUTDOWN_FLUSH_TIMEOUT_S
    max_connection_age_s: float = MAX_CONNECTION_AGE_S


async def _live_endpoints(
    settings: Settings, options: ProducerOptions, symbols: list[str]
) -> tuple[str, str, ExchangeStandIn | None]:
    """(ws base url, REST url, stand-in we started): Binance, or the stand-in when asked to fall back."""
    if options.fallback != "standin":
        return settings.binance_ws_url, settings.binance_rest_url, None
    failure = await can_connect(stream_url(settings.binance_ws_url, symbols), timeout_s=10)
    if failure is None:
        return settings.binance_ws_url, settings.binance_rest_url, None
    if options.standin_recording is not None:
        log.warning(
            "Binance at %s is unreachable (%s). FALLING BACK to the local exchange stand-in, replaying the "
            "recording %s at %gx: real trades of the past, not live ones.",
            settings.binance_ws_url, failure, options.standin_recording, options.standin_speed,
        )  # fmt: skip
    else:
        log.warning(
            "Binance at %s is unreachable (%s). FALLING BACK to the local exchange stand-in: the trades that "
            "follow are GENERATED (synthetic prices, %.0f trades/s), not real market data.",
            settings.binance_ws_url, failure, options.standin_rate,
        )  # fmt: skip
    standin = ExchangeStandIn(
        symbols, rate_per_s=options.standin_rate, recording=options.standin_recording, speed=options.standin_speed
    )
    await asyncio.to_thread(standin.start)
    return standin.ws_url, standin.rest_url, standin


@contextlib.asynccontextmanager
async def _reports_served(pipeline: TradePipeline) -> AsyncIterator[None]:
    """Kafka delivery reports keep being served while the source is quiet, and what Kafka or REST did
    not give is retried in the background."""
    done = asyncio.Event()
    tasks = [asyncio.create_task(pipeline.serve_reports(done)), asyncio.create_task(pipeline.retry_pending(done))]
    try:
        yield
    finally:
        done.set()
        await asyncio.gather(*tasks)


def _install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGINT / SIGTERM end the source loop; run_producer then flushes Kafka before returning."""
    loop = asyncio.get_running_loop()

    def request_stop(signum: signal.Signals) -> None:
        log.info("%s received: flushing and stopping", signum.name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, request_stop, signum)


async def run_producer(
    settings: Settings,
    options: ProducerOptions,
    stop: asyncio.Event | None = None,
    metrics: ProducerMetrics | None = None,
) -> ProducerMetrics:
    """Run until the source ends (replay) or `stop` is set (signal); flush Kafka; return the metrics."""
    stop = stop or asyncio.Event()
    metrics = metrics or ProducerMetrics()
    symbols = options.symbols or settings.symbols
    if options.metrics_port is not None:
        metrics.serve(options.metrics_port)
    producer = TradeProducer(
        settings.kafka_bootstrap,
        settings.kafka_topic,
        client_id=f"binance-producer-{options.source}",
        message_timeout_ms=300_000,  # ride out a Kafka restart rather than drop trades
    )
    standin: ExchangeStandIn | None = None
    backfiller: RestBackfiller | None = None
    pipeline: TradePipeline | None = None
    book: BookFeed | None = None
    try:
        if options.source == "replay":
            if options.file is None:
                raise ValueError("--source replay needs --file FILE")
            book = await asyncio.to_thread(_book_feed, settings, producer, metrics, None)
            pipeline = TradePipeline(producer, metrics, book=book)
            log.info("replaying %s at %s into %s", options.file, _speed_text(options.speed), settings.kafka_topic)
            async with _reports_served(pipeline):
                await run_replay(options.file, options.speed, pipeline, stop)
        else:
            ws_base, rest_url, standin = await _live_endpoints(settings, options, symbols)
            backfiller = RestBackfiller(rest_url, path=MARKETS[settings.binance_market].trades_path)
            book = await asyncio.to_thread(_book_feed, settings, producer, metrics, rest_url)
            pipeline = TradePipeline(producer, metrics, backfiller, book=book)
            await _resume(pipeline, settings, symbols, generated=standin is not None and standin.recording is None)
            url = stream_url(ws_base, symbols, book=settings.book_streams)
            log.info("streaming %d symbol(s) from %s into %s", len(symbols), url, settings.kafka_topic)
            async with _reports_served(pipeline):
                await LiveSource(url, pipeline, max_connection_age_s=options.max_connection_age_s).run(stop)
    finally:
        if book is not None:
            await book.close()  # snapshots in flight land in the flush below
        if pipeline is not None:
            pipeline.redeliver()  # a last try, inside the flush below
        left = await asyncio.to_thread(producer.close, options.flush_timeout_s)
        if backfiller is not None:
            await backfiller.close()
        if standin is not None:
            await asyncio.to_thread(standin.stop)
        log.info(
            "producer stopped: received=%d produced=%d malformed=%d gaps=%d backfilled=%d reconnects=%d undelivered=%d",
            metrics.value("received"), metrics.value("produced"), metrics.value("malformed"),
            metrics.value("gaps"), metrics.value("backfilled"), metrics.value("reconnects"), left,
        )  # fmt: skip
        pending = pipeline.pending_report() if pipeline is not None else None
        if pending:
            log.error("producer stopped with trades that are not in Kafka: %s", pending)
    return metrics


def _book_feed(
    settings: Settings, producer: TradeProducer, metrics: ProducerMetrics, rest_url: str | None
) -> BookFeed | None:
    """The book capture when LAKEHOUSE_BOOK_STREAMS is on, its topics created like raw-trades when missing.
    Without a REST endpoint (a recording) it captures what comes and fetches no snapshot."""
    if not settings.book_streams:
        return None
    ensure_book_topics(settings)
    topics = BookTopics.of(settings)
    budget = WeightBudget(per_minute=settings.book_snapshot_weight_per_min)
    market = MARKETS[settings.binance_market]
    snapshots = SnapshotSource(rest_url, market=market, budget=budget) if rest_url is not None else None
    return BookFeed(producer, metrics, snapshots, BINANCE_SOURCE, topics)


async def _resume(pipeline: TradePipeline, settings: Settings, symbols: list[str], *, generated: bool) -> None:
    """Continue after the trades Kafka already holds: older ids are dropped, the gap up to the first
    streamed one is backfilled over REST (lakehouse.ingest.resume)."""
    if generated:
        # Generated trades are a new simulated exchange on every start, whose ids begin again.
        log.info("generated trades: nothing to resume from Kafka")
        return
    newest = await asyncio.to_thread(
        last_produced, settings.kafka_bootstrap, settings.kafka_topic, BINANCE_SOURCE, symbols
    )
    pipeline.tracker.last.update(newest)
    if newest:
        log.info("resuming after the newest trade ids already in Kafka: %s", newest)


def _speed_text(speed: float) -> str:
    return "full speed" if speed == 0 else f"{speed:g}x real time"


def parse_args(argv: list[str] | None = None, settings: Settings | None = None) -> ProducerOptions:
    """The options of argv; what it leaves out comes from settings (LAKEHOUSE_*), when given."""
    parser = argparse.ArgumentParser(
        prog="producer.py",
        description="Binance trades (live combined stream, or a recording) into Kafka raw-trades.",
    )
    parser.add_argument("--source", choices=["live", "replay"], default="live", help="live (default) or replay")
    parser.add_argument("--file", type=Path, help="recording to replay: JSON lines, plain or .gz")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed, x real time (0: as fast as possible)")
    parser.add_argument("--symbols", help="comma-separated, e.g. BTCUSDT,ETHUSDT (default LAKEHOUSE_SYMBOLS)")
    parser.add_argument(
        "--fallback",
        choices=["none", "standin"],
        help="live only: when Binance cannot be reached, start the local stand-in with GENERATED trades "
        "(default LAKEHOUSE_PRODUCER_FALLBACK, else none)",
    )
    parser.add_argument("--standin-rate", type=float, default=50.0, help="trades/s the fallback stand-in makes")
    parser.add_argument(
        "--standin-recording",
        type=Path,
        help="the fallback stand-in replays this recording (real trades) instead (default LAKEHOUSE_STANDIN_RECORDING)",
    )
    parser.add_argument(
        "--standin-speed", type=float, help="replay speed of --standin-recording (default LAKEHOUSE_STANDIN_SPEED)"
    )
    parser.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics here (default LAKEHOUSE_METRICS_PORT)"
    )
    args = parser.parse_args(argv)
    if args.source == "replay" and args.file is None:
        parser.error("--source replay needs --file FILE")
    if args.speed < 0:
        parser.error("--speed must be >= 0")
    symbols = [part.strip().upper() for part in args.symbols.split(",") if part.strip()] if args.symbols else None
    return ProducerOptions(
        source=args.source,
        file=args.file,
        speed=args.speed,
        symbols=symbols,
        fallback=args.fallback or (settings.producer_fallback if settings else "none"),
        standin_rate=args.standin_rate,
        standin_recording=args.standin_recording or (settings.standin_recording if settings else None),
        standin_speed=args.standin_speed
        if args.standin_speed is not None
        else (settings.standin_speed if settings else 1.0),
        metrics_port=args.metrics_port,
    )


def main(settings: Settings, argv: list[str] | None = None) -> int:
    options = parse_args(argv, settings)
    if options.metrics_port is None:
        options.metrics_port = settings.metrics_port

    async def run() -> None:
        stop = asyncio.Event()
        _install_signal_handlers(stop)
        await run_producer(settings, options, stop)

    asyncio.run(run())
    return 0
