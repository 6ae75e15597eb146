"""Fill gaps from Binance's REST trades endpoint (`/api/v3/historicalTrades?symbol=&fromId=&limit=`)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from lakehouse.ingest.binance import MalformedMessage, to_trade_record
from lakehouse.ingest.sequence import Gap
from lakehouse.schema.trade import TradeRecord

log = logging.getLogger(__name__)

PAGE = 1000  # Binance's maximum `limit`


def rest_to_payload(symbol: str, item: dict[str, Any]) -> dict[str, Any]:
    """A REST trade (`id, price, qty, time, isBuyerMaker`) in the shape of a stream trade payload."""
    return {
        "e": "trade",
        "s": symbol,
        "t": item["id"],
        "p": item["price"],
        "q": item["qty"],
        "T": item["time"],
        "m": item["isBuyerMaker"],
    }


class RestBackfiller:
    """Fetches the missing trades of a gap; never raises for an unreachable or odd endpoint (logs it)."""

    def __init__(
        self,
        base_url: str,
        *,
        path: str = "/api/v3/historicalTrades",
        max_trades: int = 20_000,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.path = path
        self.max_trades = max_trades
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)

    async def fetch(self, gap: Gap, ingest_time_ms: int) -> list[TradeRecord]:
        """The gap's trades that the endpoint still has, in id order (possibly fewer than gap.size)."""
        if gap.size > self.max_trades:
            log.warning("gap %s is %d trades, more than the %d we backfill", gap, gap.size, self.max_trades)
            return []
        records: list[TradeRecord] = []
        next_id = gap.first_missing
        while next_id <= gap.last_missing:
            page = await self._page(gap.symbol, next_id, min(PAGE, gap.last_missing - next_id + 1))
            if not page:
                break
            for item in page:
                trade_id = item.get("id")
                if not isinstance(trade_id, int) or not gap.first_missing <= trade_id <= gap.last_missing:
                    continue
                try:
                    records.append(to_trade_record(rest_to_payload(gap.symbol, item), ingest_time_ms))
                except (MalformedMessage, KeyError) as error:
                    log.warning("backfill of %s: skipping a bad REST trade %r: %s", gap.symbol, item, error)
            last_id = page[-1].get("id")
            if not isinstance(last_id, int) or last_id < next_id:
                break
            next_id = last_id + 1
        return records

    async def _page(self, symbol: str, from_id: int, limit: int) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"symbol": symbol, "fromId": from_id, "limit": limit}
        try:
            response = await self._client.get(self.path, params=params)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            log.warning("backfill of %s from id %d: REST endpoint %s failed: %s", symbol, from_id, self.base_url, error)
            return []
        if not isinstance(body, list):
            log.warning("backfill of %s: REST endpoint answered %r, not a list", symbol, body)
            return []
        return [item for item in body if isinstance(item, dict)]

    async def close(self) -> None:
        await self._client.aclose()
