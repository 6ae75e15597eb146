"""Where frames come from: the live combined stream (with reconnects) or a recording (paced replay)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidHandshake, InvalidURI

from lakehouse.ingest.binance import unwrap
from lakehouse.ingest.pipeline import TradePipeline
from lakehouse.ingest.replay import read_recording, recorded_time_ms

log = logging.getLogger(__name__)

# Binance closes every connection after 24 h; reconnecting a little earlier keeps the cut under our control.
MAX_CONNECTION_AGE_S = 23.5 * 3600
CONNECT_ERRORS = (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosedError)


BOOK_STREAMS = ("bookTicker", "depth@100ms")


def stream_url(base_url: str, symbols: Iterable[str], *, book: bool = False) -> str:
    """One combined-stream connection for every symbol: `<base>/stream?streams=btcusdt@trade/...`, with
    each symbol's `@bookTicker` and `@depth@100ms` beside its trades when `book` (3 streams a symbol;
    Binance allows 1,024 on one connection)."""
    kinds = ("trade", *BOOK_STREAMS) if book else ("trade",)
    streams = "/".join(f"{symbol.lower()}@{kind}" for symbol in symbols for kind in kinds)
    return f"{base_url.rstrip('/')}/stream?streams={streams}"


@dataclass
class Backoff:
    """Exponential backoff with jitter (half fixed, half random) so many clients do not retry in step."""

    initial_s: float = 0.5
    maximum_s: float = 30.0
    attempts: int = 0
    _random: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.maximum_s, self.initial_s * 2**self.attempts)
        self.attempts += 1
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempts = 0


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class LiveSource:
    """Reads the combined stream into the pipeline until `stop` is set; reconnects on its own."""

    def __init__(
        self,
        url: str,
        pipeline: TradePipeline,
        *,
        max_connection_age_s: float = MAX_CONNECTION_AGE_S,
        backoff: Backoff | None = None,
        ping_interval_s: float = 20.0,
        open_timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.pipeline = pipeline
        self.max_connection_age_s = max_connection_age_s
        self.backoff = backoff or Backoff()
        self.ping_interval_s = ping_interval_s
        self.open_timeout_s = open_timeout_s
        self.connections = 0

    async def run(self, stop: asyncio.Event) -> None:
        metrics = self.pipeline.metrics
        while not stop.is_set():
            planned = False
            try:
                # Pings from the server are answered by the library; ours detect a dead peer.
                async with connect(
                    self.url,
                    open_timeout=self.open_timeout_s,
                    ping_interval=self.ping_interval_s,
                    ping_timeout=self.ping_interval_s,
                    max_queue=4096,
                ) as websocket:
                    self.connections += 1
                    self.backoff.reset()
                    log.info("connected to %s", self.url)
                    planned = await self._consume(websocket, stop)
            except CONNECT_ERRORS as error:
                log.warning("connection to %s lost or refused: %s", self.url, error or type(error).__name__)
            if stop.is_set():
                break
            metrics.reconnects += 1
            delay = 0.0 if planned else self.backoff.next_delay()
            log.info("reconnecting in %.2fs%s", delay, " (planned, before the 24 h cut-off)" if planned else "")
            await _sleep_unless(stop, delay)

    async def _consume(self, websocket: ClientConnection, stop: asyncio.Event) -> bool:
        """Read until the connection ends; True when we closed it ourselves for the age limit."""
        aged = asyncio.Event()

        async def close_when_due() -> None:
            stopped = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait_for(stopped, self.max_connection_age_s)
            except TimeoutError:
                aged.set()
                log.info("connection is %.0fs old: reconnecting proactively", self.max_connection_age_s)
            await websocket.close()

        watchdog = asyncio.create_task(close_when_due())
        try:
            async for frame in websocket:
                await self.pipeline.handle(frame)
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        return aged.is_set()


async def can_connect(url: str, timeout_s: float) -> str | None:
    """None when a WebSocket handshake with url succeeds, else why it failed."""
    try:
        async with connect(url, open_timeout=timeout_s):
            return None
    except CONNECT_ERRORS as error:
        return f"{type(error).__name__}: {error}"


async def run_replay(path: Path, speed: float, pipeline: TradePipeline, stop: asyncio.Event) -> int:
    """Feed a recording through the pipeline at `speed` x real time (0: as fast as possible)."""
    first: tuple[int, float] | None = None
    count = 0
    for received_ms, text in read_recording(path):
        if stop.is_set():
            break
        count += 1
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            await pipeline.handle(text)  # counted and logged as malformed there
            continue
        if speed > 0 and isinstance(message, dict):
            moment = recorded_time_ms(received_ms, unwrap(message))
            if moment is not None:
                if first is None:
                    first = (moment, time.monotonic())
                wait = first[1] + (moment - first[0]) / 1000 / speed - time.monotonic()
                if wait > 0:
                    await _sleep_unless(stop, wait)
        await pipeline.handle(message if isinstance(message, dict) else text)
        if count % 1000 == 0:
            await asyncio.sleep(0)  # let signal handlers run during a full-speed replay
    return count
