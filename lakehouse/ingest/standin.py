"""A local stand-in for the Binance exchange: combined-stream WebSocket + the REST trades and depth endpoints.

Tests, benchmarks and the offline demo use it instead of `wss://stream.binance.com`. It speaks the same
protocol (`/stream?streams=btcusdt@trade/...` with `{"stream":..,"data":..}` frames, server pings) from a
synthetic market or a recording, keeps what it sent for `/api/v3/historicalTrades` and `/api/v3/trades`
(and their futures twins under `/fapi/v1/`, so gaps can be backfilled), and misbehaves on request: drop
the connections, send a malformed frame, skip trade ids. Control it in-process (methods) or over HTTP
(`/control/drop`, `/control/malformed`, `/control/skip?symbol=BTCUSDT&count=3`, `/control/stats`).

It also serves `@bookTicker` and `@depth` messages to the clients that subscribed to them: the recorded
ones when replaying a recording, else a synthetic book around each symbol's synthetic price (spot
diffs every 100 ms, lakehouse.ingest.synthetic_book). `/api/v3/depth` (and `/fapi/v1/depth`) answer
with the book those diffs build (seeded empty at a symbol's first diff; the update id and levels as of
the last diff sent).

One port serves both: `process_request` answers plain HTTP before the WebSocket handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import signal
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from lakehouse.book.capture import BookStream, book_stream
from lakehouse.book.rebuild import OrderBook
from lakehouse.book.updates import MalformedBookMessage, parse_depth_update
from lakehouse.ingest.binance import is_trade_payload, unwrap
from lakehouse.ingest.replay import read_recording, recorded_time_ms
from lakehouse.ingest.synthetic_book import SyntheticBook

log = logging.getLogger(__name__)

MALFORMED_FRAME = '{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":'  # cut short on purpose
_BASE_PRICES = {"BTCUSDT": "65000", "ETHUSDT": "3500", "BNBUSDT": "600", "SOLUSDT": "150", "XRPUSDT": "0.6"}
_EIGHT_PLACES = Decimal("0.00000001")
BOOK_INTERVAL_MS = 100  # the synthetic books move as often as Binance's `@depth@100ms` pushes


class SyntheticMarket:
    """Sequential trade ids and prices with a short-lived mispricing that informed flow trades away (seeded).

    Each symbol's log price is a slow random walk (the "fair value") plus a deviation that decays with a
    half-life of HALF_LIFE_TRADES trades (five seconds at the demo's rate), like the transient
    impact of liquidity shocks on a real book. Takers lean against the deviation: above fair value more
    of them sell. So the recent return, the distance from the VWAP and the taker-flow imbalance all
    predict part of the next 30 s, and many short episodes make it learnable from a few minutes of
    history, which the demo's first champion needs (measured: a GBT trained on 3 minutes of it beats
    the naive forecast by about 15% in RMSE); a pure random walk would give no model a chance.
    """

    HALF_LIFE_TRADES = 30
    DEVIATION_SHOCK = 2.1e-4  # per trade; the deviation's stationary spread is about 10 bps
    FAIR_STEP = 2e-5  # per trade: about 3 bps per 30 s at the demo's rate
    FLOW_LEAN = 0.2  # how far taker flow leans against one spread of deviation

    def __init__(self, symbols: Iterable[str], seed: int = 7, first_id: int = 1_000_000) -> None:
        self._random = random.Random(seed)  # noqa: S311 - a simulation, not security
        self.symbols = [symbol.upper() for symbol in symbols]
        self._next_id = dict.fromkeys(self.symbols, first_id)
        self._fair_log = {symbol: math.log(float(_BASE_PRICES.get(symbol, "100"))) for symbol in self.symbols}
        self._deviation = dict.fromkeys(self.symbols, 0.0)
        self._decay = 0.5 ** (1 / self.HALF_LIFE_TRADES)
        self._spread = self.DEVIATION_SHOCK / math.sqrt(1 - self._decay**2)

    def price(self, symbol: str) -> float:
        """Where the symbol trades now (the synthetic book is placed around it)."""
        return math.exp(self._fair_log[symbol] + self._deviation[symbol])

    def next_trade(self, symbol: str, now_ms: int) -> dict[str, Any]:
        trade_id = self._next_id[symbol]
        self._next_id[symbol] = trade_id + 1
        self._fair_log[symbol] += self._random.gauss(0, self.FAIR_STEP)
        shock = self._random.gauss(0, self.DEVIATION_SHOCK)
        deviation = self._deviation[symbol] = self._deviation[symbol] * self._decay + shock
        lean = max(-0.45, min(0.45, self.FLOW_LEAN * deviation / self._spread))
        taker_buys = self._random.random() < 0.5 - lean
        price = self.price(symbol)
        # Eight places like Binance; plain float formatting is exact enough for a simulation and cheap.
        return {
            "e": "trade",
            "E": now_ms,
            "s": symbol,
            "t": trade_id,
            "p": f"{price:.8f}",
            "q": f"{self._random.uniform(0.0001, 2):.8f}",
            "T": now_ms,
            "m": not taker_buys,  # m: the buyer was the maker, i.e. the taker sold
            "M": True,
        }


def combined_frame(payload: dict[str, Any]) -> str:
    return json.dumps({"stream": f"{str(payload['s']).lower()}@trade", "data": payload}, separators=(",", ":"))


def rest_trade(payload: dict[str, Any]) -> dict[str, Any]:
    """A trade as /api/v3/historicalTrades returns it."""
    price, quantity = Decimal(payload["p"]), Decimal(payload["q"])
    return {
        "id": payload["t"],
        "price": payload["p"],
        "qty": payload["q"],
        "quoteQty": f"{(price * quantity).quantize(_EIGHT_PLACES):f}",
        "time": payload["T"],
        "isBuyerMaker": payload["m"],
        "isBestMatch": True,
    }


def subscriptions(path: str) -> dict[str, set[str]] | None:
    """`/stream?streams=btcusdt@trade/btcusdt@depth@100ms` -> {BTCUSDT: {trade, depth}}; None for another
    path. Kinds: `trade`, `bookTicker`, `depth` (any update speed)."""
    parts = urlsplit(path)
    if parts.path.rstrip("/") != "/stream":
        return None
    streams = parse_qs(parts.query).get("streams", [""])[0]
    found: dict[str, set[str]] = {}
    for name in streams.split("/"):
        symbol, _, kind = name.partition("@")
        kind = kind.split("@")[0]
        if symbol and kind in ("trade", "bookTicker", "depth"):
            found.setdefault(symbol.upper(), set()).add(kind)
    return found


def subscribed_symbols(path: str) -> set[str] | None:
    """`/stream?streams=btcusdt@trade/ethusdt@trade` -> {BTCUSDT, ETHUSDT}; None for another path."""
    found = subscriptions(path)
    if found is None:
        return None
    return {symbol for symbol, kinds in found.items() if "trade" in kinds}


def book_frame(kind: BookStream, payload: dict[str, Any]) -> str:
    stream = f"{str(payload['s']).lower()}@{'depth@100ms' if kind is BookStream.DEPTH else 'bookTicker'}"
    return json.dumps({"stream": stream, "data": payload}, separators=(",", ":"))


@dataclass
class StandInStats:
    generated: int = 0
    sent: int = 0
    skipped: int = 0
    malformed_sent: int = 0
    connections: int = 0
    drops: int = 0
    rest_requests: int = 0
    book_sent: int = 0
    depth_snapshots: int = 0
    rest_paths: dict[str, int] = field(default_factory=dict)  # requests by path (spot /api/v3, futures /fapi/v1)


@dataclass
class _Client:
    connection: ServerConnection
    symbols: set[str]  # trade streams
    book: dict[str, set[str]] = field(default_factory=dict)  # symbol -> {bookTicker, depth}
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=20_000))
    task: asyncio.Task[Any] | None = None


class ExchangeStandIn:
    """Run with `start()` (a background thread with its own event loop) and `stop()`, or as a context manager.

    rate_per_s: trades per second over all symbols; None = as fast as the clients read.
    total: stop generating after this many trades (None = forever).
    recording: serve this recording's trade messages instead of a synthetic market (at `speed`).
    Trades are only generated once a first client subscribed, so a test or benchmark loses nothing to
    start-up; later, trades keep coming while clients are away, as on the real exchange.
    """

    def __init__(
        self,
        symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"),
        *,
        rate_per_s: float | None = 200.0,
        total: int | None = None,
        recording: Path | None = None,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        ping_interval_s: float | None = 20.0,
        history_per_symbol: int = 200_000,
        seed: int = 7,
    ) -> None:
        self.market = SyntheticMarket(symbols, seed=seed)
        self.rate_per_s = rate_per_s
        self.total = total
        self.recording = recording
        self.speed = speed
        self.host = host
        self.port = port
        self.ping_interval_s = ping_interval_s
        self.stats = StandInStats()
        self.history: dict[str, deque[dict[str, Any]]] = {}
        self.books: dict[str, OrderBook] = {}  # built from the diffs sent, for /api/v3/depth
        self.synthetic_books: dict[str, SyntheticBook] = {}
        self._book_stepped: dict[str, int] = {}  # symbol -> when its synthetic book last moved (ms)
        self.seed = seed
        self._history_size = history_per_symbol
        self._skip: dict[str, int] = {}
        self._clients: list[_Client] = []
        self._first_client = threading.Event()
        self.finished = threading.Event()
        self.rest_enabled = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None

    # --- addresses --------------------------------------------------------------------------------
    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> ExchangeStandIn:
        self._thread = threading.Thread(target=self._run_thread, name="exchange-standin", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the exchange stand-in did not start within 10 s")
        log.info("exchange stand-in listening on %s (REST on %s)", self.ws_url, self.rest_url)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ExchangeStandIn:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run_thread(self) -> None:
        asyncio.run(self.serve_forever())

    async def serve_forever(self, handle_signals: bool = False) -> None:
        """Serve until stop() (or SIGINT/SIGTERM with handle_signals); usable directly inside an event loop."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._loop.add_signal_handler(signum, self._stopping.set)
        async with serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            ping_interval=self.ping_interval_s,
            ping_timeout=self.ping_interval_s,
            compression=None,
        ) as server:
            self._server = server
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            generator = asyncio.create_task(self._generate())
            await self._stopping.wait()
            generator.cancel()
            for client in list(self._clients):  # a handler waiting for frames would hold the shutdown up
                if client.task is not None:
                    client.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await generator

    # --- misbehaviour on request (thread-safe) -------------------------------------------------------
    def _call(self, function: Any, *args: Any) -> None:
        if self._loop is None:
            raise RuntimeError("the stand-in is not running")
        self._loop.call_soon_threadsafe(function, *args)

    def drop_connections(self) -> None:
        """Cut every client off without a close frame, like a network failure."""
        self._call(self._drop)

    def send_malformed(self, frame: str = MALFORMED_FRAME) -> None:
        self._call(self._broadcast_raw, frame)

    def skip_ids(self, symbol: str, count: int) -> None:
        """The next `count` trades of `symbol` happen (REST knows them) but are not sent on the stream."""
        self._call(self._add_skip, symbol.upper(), count)

    def _drop(self) -> None:
        self.stats.drops += 1
        for client in list(self._clients):
            client.connection.transport.abort()

    def _broadcast_raw(self, frame: str) -> None:
        self.stats.malformed_sent += 1
        for client in self._clients:
            client.queue.put_nowait(frame)

    def _add_skip(self, symbol: str, count: int) -> None:
        self._skip[symbol] = self._skip.get(symbol, 0) + count

    # --- trade source --------------------------------------------------------------------------------
    async def _payloads(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Chunks of trade payloads, paced by rate (synthetic) or by recorded times / speed (recording)."""
        if self.recording is not None:
            async for chunk in self._recorded_payloads(self.recording):
                yield chunk
            return
        symbols = self.market.symbols
        started = time.monotonic()
        produced = 0
        while self.total is None or produced < self.total:
            if self.rate_per_s is None:
                due = 500
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(0.01)
                due = int((time.monotonic() - started) * self.rate_per_s) - produced
            if self.total is not None:
                due = min(due, self.total - produced)
            now_ms = int(time.time() * 1000)
            chunk = [self.market.next_trade(symbols[(produced + i) % len(symbols)], now_ms) for i in range(due)]
            produced += due
            yield chunk + self._book_steps(now_ms)

    def _book_steps(self, now_ms: int) -> list[dict[str, Any]]:
        """The synthetic books' diffs and tickers that are due (every BOOK_INTERVAL_MS), for the symbols
        whose book some client subscribed to: nobody else would see them."""
        watched = {symbol for client in self._clients for symbol in client.book}
        payloads: list[dict[str, Any]] = []
        for symbol in self.market.symbols:
            if symbol not in watched or now_ms - self._book_stepped.get(symbol, 0) < BOOK_INTERVAL_MS:
                continue
            self._book_stepped[symbol] = now_ms
            book = self.synthetic_books.get(symbol)
            if book is None:
                rng = random.Random(f"{self.seed}:{symbol}")  # noqa: S311 - a simulation, not security
                book = self.synthetic_books[symbol] = SyntheticBook(symbol, rng)
            payloads += book.step(self.market.price(symbol), now_ms)
        return payloads

    async def _recorded_payloads(self, path: Path) -> AsyncIterator[list[dict[str, Any]]]:
        first: tuple[int, float] | None = None
        for received_ms, line in read_recording(path):
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            payload = unwrap(message) if isinstance(message, dict) else {}
            if not is_trade_payload(payload) and book_stream(payload) is None:
                continue
            moment = recorded_time_ms(received_ms, payload)
            if self.speed > 0 and moment is not None:
                if first is None:
                    first = (moment, time.monotonic())
                wait = first[1] + (moment - first[0]) / 1000 / self.speed - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            yield [payload]

    async def _generate(self) -> None:
        while not self._clients:
            await asyncio.sleep(0.01)
        async for chunk in self._payloads():
            for payload in chunk:
                await self._publish(payload)
            if self.rate_per_s is None and not self._clients:
                while not self._clients:  # full speed: nobody would see these, do not run ahead
                    await asyncio.sleep(0.01)
        self.finished.set()
        log.info("exchange stand-in: trade source exhausted after %d trade(s)", self.stats.generated)

    async def _publish(self, payload: dict[str, Any]) -> None:
        kind = book_stream(payload)
        if kind is not None:
            await self._publish_book(kind, payload)
            return
        symbol = str(payload["s"])
        self.stats.generated += 1
        history = self.history.get(symbol)
        if history is None:
            history = self.history[symbol] = deque(maxlen=self._history_size)
        history.append(payload)
        if self._skip.get(symbol):
            self._skip[symbol] -= 1
            self.stats.skipped += 1
            return
        frame = combined_frame(payload)
        for client in self._clients:
            if symbol in client.symbols:
                await client.queue.put(frame)

    async def _publish_book(self, kind: BookStream, payload: dict[str, Any]) -> None:
        symbol = str(payload["s"]).upper()
        if kind is BookStream.DEPTH:
            self._follow_book(symbol, payload)
        frame: str | None = None
        for client in self._clients:
            if kind.value in client.book.get(symbol, ()):
                frame = frame or book_frame(kind, payload)
                await client.queue.put(frame)
                self.stats.book_sent += 1

    def _follow_book(self, symbol: str, payload: dict[str, Any]) -> None:
        """Apply a recorded diff to the stand-in's own book of the symbol (seeded empty at its first diff)."""
        try:
            update = parse_depth_update(payload)
        except MalformedBookMessage:
            return
        book = self.books.get(symbol)
        if book is None or not book.synced:
            book = self.books[symbol] = OrderBook(symbol)
            # An empty book "as of" just before this diff, so that Binance's rule for the first diff
            # after a snapshot holds (spot: U <= id + 1 <= u; futures: U <= id <= u).
            seed = update.first_id if update.previous_final_id is not None else update.first_id - 1
            book.load_snapshot(seed, (), ())
        book.apply(update)

    # --- WebSocket ---------------------------------------------------------------------------------
    async def _handle(self, connection: ServerConnection) -> None:
        streams = subscriptions(connection.request.path if connection.request else "") or {}
        symbols = {symbol for symbol, kinds in streams.items() if "trade" in kinds}
        book = {symbol: kinds - {"trade"} for symbol, kinds in streams.items() if kinds - {"trade"}}
        client = _Client(connection, symbols, book, task=asyncio.current_task())
        self._clients.append(client)
        self.stats.connections += 1
        log.info("stand-in: client %s subscribed to %s", connection.remote_address, sorted(symbols))
        try:
            while True:
                frame = await client.queue.get()
                await connection.send(frame)
                self.stats.sent += 1
        except ConnectionClosed:
            pass
        finally:
            self._clients.remove(client)

    # --- HTTP: REST trades endpoints and control ------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path.rstrip("/") == "/stream":
            if subscriptions(request.path):
                return None  # go on with the WebSocket handshake
            return self._json(
                connection, 400, {"code": -1100, "msg": "streams= must name <symbol>@trade, @bookTicker or @depth"}
            )
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if parts.path.startswith("/control/"):
            return self._control(connection, parts.path.removeprefix("/control/"), query)
        if parts.path in ("/api/v3/historicalTrades", "/api/v3/trades", "/fapi/v1/historicalTrades", "/fapi/v1/trades"):
            self._count_rest(parts.path)
            if not self.rest_enabled:
                return self._json(connection, 503, {"code": -1001, "msg": "Service unavailable"})
            return self._trades(connection, parts.path, query)
        if parts.path in ("/api/v3/depth", "/fapi/v1/depth"):
            self._count_rest(parts.path)
            if not self.rest_enabled:
                return self._json(connection, 503, {"code": -1001, "msg": "Service unavailable"})
            return self._depth(connection, query)
        return self._json(connection, 404, {"code": -1, "msg": f"unknown path {parts.path}"})

    def _count_rest(self, path: str) -> None:
        self.stats.rest_requests += 1
        self.stats.rest_paths[path] = self.stats.rest_paths.get(path, 0) + 1

    def _trades(self, connection: ServerConnection, path: str, query: dict[str, str]) -> Response:
        symbol = query.get("symbol", "").upper()
        if symbol not in self.history and symbol not in self.market.symbols:
            return self._json(connection, 400, {"code": -1121, "msg": "Invalid symbol."})
        try:
            limit = min(int(query.get("limit", "500")), 1000)
            from_id = int(query["fromId"]) if "fromId" in query else None
        except ValueError:
            return self._json(connection, 400, {"code": -1100, "msg": "limit and fromId must be integers"})
        history = list(self.history.get(symbol, ()))
        if path.endswith("historicalTrades") and from_id is not None:
            selected = [payload for payload in history if payload["t"] >= from_id][:limit]
        else:
            selected = history[-limit:]
        return self._json(connection, 200, [rest_trade(payload) for payload in selected])

    def _depth(self, connection: ServerConnection, query: dict[str, str]) -> Response:
        """The book as of the last diff sent: `{"lastUpdateId", "bids", "asks"}` as Binance answers."""
        book = self.books.get(query.get("symbol", "").upper())
        if book is None or book.last_update_id is None:
            return self._json(connection, 400, {"code": -1121, "msg": "Invalid symbol."})
        try:
            limit = min(int(query.get("limit", "100")), 5000)
        except ValueError:
            return self._json(connection, 400, {"code": -1100, "msg": "limit must be an integer"})
        bids, asks = book.top(limit)
        self.stats.depth_snapshots += 1
        return self._json(
            connection,
            200,
            {
                "lastUpdateId": book.last_update_id,
                "bids": [[format(price, "f"), format(quantity, "f")] for price, quantity in bids],
                "asks": [[format(price, "f"), format(quantity, "f")] for price, quantity in asks],
            },
        )

    def _control(self, connection: ServerConnection, action: str, query: dict[str, str]) -> Response:
        if action == "drop":
            self._drop()
        elif action == "malformed":
            self._broadcast_raw(query.get("frame", MALFORMED_FRAME))
        elif action == "skip":
            count = query.get("count", "1")
            if not count.isdigit():
                return self._json(connection, 400, {"msg": "count must be a whole number"})
            self._add_skip(query.get("symbol", "").upper(), int(count))
        elif action == "rest":
            self.rest_enabled = query.get("enabled", "true") == "true"
        elif action != "stats":
            return self._json(connection, 404, {"msg": f"unknown control {action}"})
        return self._json(connection, 200, self.stats.__dict__)

    @staticmethod
    def _json(connection: ServerConnection, status: int, body: Any) -> Response:
        response = connection.respond(status, json.dumps(body))
        response.headers = Headers(
            [(k, v) for k, v in response.headers.raw_items() if k.lower() != "content-type"]
            + [("Content-Type", "application/json")]
        )
        return response


def write_synthetic_recording(
    path: Path, symbols: Iterable[str], count: int, *, start_ms: int, rate_per_s: float = 50.0, seed: int = 7
) -> Path:
    """A recording in the format `producer.py --source replay` reads: `<receive ms> <combined frame>`
    per line, gzip when the name ends in .gz, with a book-ticker frame every 25 trades (to be skipped)."""
    import gzip

    market = SyntheticMarket(symbols, seed=seed)
    opener = gzip.open if path.suffix == ".gz" else open
    path.parent.mkdir(parents=True, exist_ok=True)
    with opener(path, "wt", encoding="utf-8") as out:
        for n in range(count):
            moment = start_ms + int(n * 1000 / rate_per_s)
            payload = market.next_trade(market.symbols[n % len(market.symbols)], moment)
            out.write(f"{moment + 3} {combined_frame(payload)}\n")
            if n % 25 == 24:
                ticker = {"u": n, "s": payload["s"], "b": payload["p"], "B": "1", "a": payload["p"], "A": "1"}
                frame = json.dumps({"stream": f"{str(payload['s']).lower()}@bookTicker", "data": ticker})
                out.write(f"{moment + 4} {frame}\n")
    return path


def main(argv: list[str] | None = None) -> None:
    """`python -m lakehouse.ingest.standin`: run the stand-in on its own (offline demo, manual tests)."""
    import argparse

    from lakehouse.logging_setup import configure_logging

    parser = argparse.ArgumentParser(description="Local stand-in for the Binance exchange (WebSocket + REST).")
    parser.add_argument("--port", type=int, default=9443)
    parser.add_argument("--symbols", default="BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT")
    parser.add_argument("--rate", type=float, default=50.0, help="trades/s (0: as fast as clients read)")
    parser.add_argument("--recording", type=Path, help="serve this recording instead of generated trades")
    parser.add_argument("--speed", type=float, default=1.0, help="recording speed, x real time (0: full speed)")
    parser.add_argument("--total", type=int, help="stop generating after this many trades")
    args = parser.parse_args(argv)
    configure_logging()
    standin = ExchangeStandIn(
        args.symbols.split(","),
        rate_per_s=args.rate or None,
        total=args.total,
        recording=args.recording,
        speed=args.speed,
        port=args.port,
    )
    log.info("stand-in: LAKEHOUSE_BINANCE_WS_URL=%s LAKEHOUSE_BINANCE_REST_URL=%s", standin.ws_url, standin.rest_url)
    asyncio.run(standin.serve_forever(handle_signals=True))


if __name__ == "__main__":
    main()
