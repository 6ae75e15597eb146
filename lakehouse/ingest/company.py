"""A company's trade feed, simulated: prices from geometric Brownian motion with jumps, posted to the API.

The price model is pure and seeded (`JumpDiffusion`, `CompanyFeed`); `post_feed` is the I/O: it posts
batches at a target rate with its own API key, honours 429/503 `Retry-After`, resends only the records a
503 says were not accepted, and reports the rate it achieved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

log = logging.getLogger(__name__)

DEFAULT_TICKERS = {"TSLA": 250.0, "AAPL": 190.0, "NVDA": 120.0, "MSFT": 420.0, "AMZN": 180.0}
_CENT = Decimal("0.01")


@dataclass
class JumpDiffusion:
    """Merton's model: S *= exp((mu - sigma^2/2) dt + sigma sqrt(dt) Z + J), J ~ N(jump_mean, jump_sd) at rate lambda.

    Parameters are per year; dt is in years. Defaults resemble a volatile large-cap stock.
    """

    price: float
    mu: float = 0.05
    sigma: float = 0.45
    jump_rate_per_year: float = 25.0
    jump_mean: float = 0.0
    jump_sd: float = 0.02
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311 - a simulation

    def step(self, dt_years: float) -> float:
        drift = (self.mu - self.sigma**2 / 2) * dt_years
        diffusion = self.sigma * math.sqrt(dt_years) * self.rng.gauss(0, 1)
        jump = 0.0
        if self.rng.random() < self.jump_rate_per_year * dt_years:
            jump = self.rng.gauss(self.jump_mean, self.jump_sd)
        self.price *= math.exp(drift + diffusion + jump)
        return self.price


SECONDS_PER_YEAR = 365 * 24 * 3600


class CompanyFeed:
    """Trades for a few tickers; trade ids are `<run>-<n>` so a restarted feed never reuses one."""

    def __init__(self, tickers: dict[str, float] | None = None, seed: int = 0, run_id: str | None = None) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - a simulation
        tickers = tickers or DEFAULT_TICKERS
        self.models = {
            symbol: JumpDiffusion(price, rng=random.Random(seed + i))  # noqa: S311 - a simulation
            for i, (symbol, price) in enumerate(tickers.items())
        }
        self.run_id = run_id or format(int(time.time() * 1000), "x")
        self.sequence = 0
        self._last_ms: int | None = None

    def next_trades(self, count: int, now_ms: int) -> list[dict[str, Any]]:
        """`count` trades at now_ms, prices advanced by the time since the previous call."""
        elapsed_s = max((now_ms - self._last_ms) / 1000, 0.001) if self._last_ms is not None else 1.0
        self._last_ms = now_ms
        dt = elapsed_s / max(count, 1) / SECONDS_PER_YEAR
        symbols = list(self.models)
        trades = []
        for _ in range(count):
            symbol = self.rng.choice(symbols)
            price = Decimal(repr(self.models[symbol].step(dt))).quantize(_CENT)
            self.sequence += 1
            trades.append(
                {
                    "symbol": symbol,
                    "trade_id": f"{self.run_id}-{self.sequence}",
                    "price": f"{max(price, _CENT):f}",
                    "quantity": str(self.rng.randint(1, 500)),
                    "side": self.rng.choice(("buy", "sell")),
                    "trade_time": now_ms,
                }
            )
        return trades


@dataclass
class FeedReport:
    sent: int = 0
    rejected: int = 0
    retries: int = 0
    elapsed_s: float = 0.0
    # (symbol, trade_id) of every trade the API acknowledged, when a caller keeps a ledger (the chaos run).
    acknowledged: list[tuple[str, str]] | None = None

    def acknowledge(self, trades: list[dict[str, Any]]) -> None:
        self.sent += len(trades)
        if self.acknowledged is not None:
            self.acknowledged.extend((trade["symbol"], trade["trade_id"]) for trade in trades)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0


def _retry_after(response: httpx.Response, default_s: float) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else default_s


async def post_batch(client: httpx.AsyncClient, trades: list[dict[str, Any]], report: FeedReport) -> None:
    """Post until Kafka took every trade; 429/503/network errors wait and retry, 4xx is logged and dropped."""
    pending = trades
    backoff_s = 0.5
    while pending:
        try:
            response = await client.post("/v1/trades", json=pending)
        except httpx.HTTPError as error:
            report.retries += 1
            log.warning("posting %d trade(s) failed (%s); retrying in %.1fs", len(pending), error, backoff_s)
            await asyncio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, 30)
            continue
        if response.status_code == 202:
            report.acknowledge(pending)
            return
        if response.status_code in (429, 503):
            report.retries += 1
            if response.status_code == 503:
                body = response.json()
                accepted = set(body.get("accepted", []))
                report.acknowledge([trade for index, trade in enumerate(pending) if index in accepted])
                pending = [trade for index, trade in enumerate(pending) if index not in accepted]
            wait = _retry_after(response, backoff_s)
            log.info("API answered %d; retrying %d trade(s) in %.1fs", response.status_code, len(pending), wait)
            await asyncio.sleep(wait)
            continue
        report.rejected += len(pending)
        log.error("API refused %d trade(s) with %d: %s", len(pending), response.status_code, response.text[:500])
        return


async def post_feed(
    feed: CompanyFeed,
    api_url: str,
    api_key: str,
    *,
    rate_per_s: float,
    batch_size: int,
    duration_s: float | None,
    stop: asyncio.Event | None = None,
    report_every_s: float = 10.0,
    report: FeedReport | None = None,
) -> FeedReport:
    """Post batches at rate_per_s trades/s until duration_s passes or stop is set."""
    stop = stop or asyncio.Event()
    report = report or FeedReport()
    started = last_report = time.monotonic()
    interval = batch_size / rate_per_s
    async with httpx.AsyncClient(base_url=api_url, headers={"X-API-Key": api_key}, timeout=30) as client:
        batches = 0
        while not stop.is_set() and (duration_s is None or time.monotonic() - started < duration_s):
            await post_batch(client, feed.next_trades(batch_size, int(time.time() * 1000)), report)
            batches += 1
            now = time.monotonic()
            if now - last_report >= report_every_s:
                log.info(
                    "posted %d trade(s): %.1f trades/s (target %.1f)",
                    report.sent,
                    report.sent / (now - started),
                    rate_per_s,
                )
                last_report = now
            wait = started + batches * interval - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
    report.elapsed_s = time.monotonic() - started
    log.info(
        "company feed done: %d trade(s) accepted in %.1fs = %.1f trades/s (target %.1f); %d retried, %d refused",
        report.sent, report.elapsed_s, report.rate, rate_per_s, report.retries, report.rejected,
    )  # fmt: skip
    return report
