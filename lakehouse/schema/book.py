"""The canonical book records: the values of the Kafka topics `raw-book-ticker`, `raw-depth` and
`raw-depth-snapshot`.

Defined once, like `TradeRecord`: the JSON Schema files for other Kafka consumers
(`schemas/book_ticker.schema.json`, `schemas/depth_update.schema.json`,
`schemas/depth_snapshot.schema.json`) are generated from these models and
a contract test keeps them equal. Prices and quantities are decimal strings (never floats); a quantity of
0 in a depth update removes the price level, as on Binance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from lakehouse.book.updates import BookTicker, DepthSnapshot, DepthUpdate, Level
from lakehouse.paths import REPO_ROOT
from lakehouse.schema.trade import (
    DECIMAL_PATTERN,
    MAX_SCHEMA_VERSION,
    SOURCE_PATTERN,
    SYMBOL_PATTERN,
    EpochMillis,
)

SCHEMA_VERSION = 1
SCHEMAS_DIR = REPO_ROOT / "schemas"
BOOK_TICKER_TOPIC = "raw-book-ticker"
DEPTH_TOPIC = "raw-depth"
DEPTH_SNAPSHOT_TOPIC = "raw-depth-snapshot"
# The setting naming each book topic -> its bronze table (one table per topic, like bronze/trades).
BOOK_BRONZE_TABLES = {
    "kafka_book_ticker_topic": "book_ticker",
    "kafka_depth_topic": "depth",
    "kafka_depth_snapshot_topic": "depth_snapshot",
}

# Non-negative here (a depth level of 0 is a removal), unlike a trade's price.
Amount = Annotated[str, Field(pattern=DECIMAL_PATTERN, json_schema_extra={"format": "decimal"})]
UpdateId = Annotated[int, Field(ge=0, le=2**63 - 1)]
PriceLevel = Annotated[list[Amount], Field(min_length=2, max_length=2, description="[price, quantity]")]


class _BookRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(pattern=SOURCE_PATTERN, description="Origin, e.g. `binance` or `binance-futures`")
    symbol: str = Field(pattern=SYMBOL_PATTERN, description="Upper-case instrument, e.g. BTCUSDT")

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def kafka_key(self) -> bytes:
        return self.symbol.encode()  # one partition per symbol keeps its updates in order


class BookTickerRecord(_BookRecord):
    """The best bid and ask of a symbol after an order-book update."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="BookTickerRecord")

    update_id: UpdateId = Field(description="The order-book update id (Binance `u`)")
    bid_price: Amount = Field(description="Best bid price")
    bid_quantity: Amount = Field(description="Quantity at the best bid")
    ask_price: Amount = Field(description="Best ask price")
    ask_quantity: Amount = Field(description="Quantity at the best ask")
    event_time: EpochMillis | None = Field(description="Exchange event time (futures; spot sends none)")
    ingest_time: EpochMillis = Field(description="When the platform received it, epoch milliseconds")
    schema_version: int = Field(SCHEMA_VERSION, ge=1, le=MAX_SCHEMA_VERSION)


class DepthUpdateRecord(_BookRecord):
    """One diff of a symbol's order book: absolute quantities of the levels that changed."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="DepthUpdateRecord")

    first_update_id: UpdateId = Field(description="First update id in the diff (Binance `U`)")
    final_update_id: UpdateId = Field(description="Last update id in the diff (Binance `u`)")
    previous_final_update_id: UpdateId | None = Field(
        description="The previous diff's final update id (futures `pu`); null on spot, where the chain is U = u + 1"
    )
    event_time: EpochMillis = Field(description="Exchange event time, epoch milliseconds")
    bids: list[PriceLevel] = Field(description="Changed bid levels; quantity 0 removes the level")
    asks: list[PriceLevel] = Field(description="Changed ask levels; quantity 0 removes the level")
    ingest_time: EpochMillis = Field(description="When the platform received it, epoch milliseconds")
    schema_version: int = Field(SCHEMA_VERSION, ge=1, le=MAX_SCHEMA_VERSION)


class DepthSnapshotRecord(_BookRecord):
    """A REST depth snapshot: the book of a symbol as of `last_update_id`, the seed of a rebuild."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="DepthSnapshotRecord")

    last_update_id: UpdateId = Field(description="The book's update id (Binance `lastUpdateId`)")
    bids: list[PriceLevel] = Field(description="Bid levels, best first")
    asks: list[PriceLevel] = Field(description="Ask levels, best first")
    ingest_time: EpochMillis = Field(description="When the platform received it, epoch milliseconds")
    schema_version: int = Field(SCHEMA_VERSION, ge=1, le=MAX_SCHEMA_VERSION)


def _levels(levels: tuple[Level, ...]) -> list[list[str]]:
    return [[format(price, "f"), format(quantity, "f")] for price, quantity in levels]


def book_ticker_record(ticker: BookTicker, source: str, ingest_time: int) -> BookTickerRecord:
    return BookTickerRecord(
        source=source,
        symbol=ticker.symbol,
        update_id=ticker.update_id,
        bid_price=format(ticker.bid_price, "f"),
        bid_quantity=format(ticker.bid_quantity, "f"),
        ask_price=format(ticker.ask_price, "f"),
        ask_quantity=format(ticker.ask_quantity, "f"),
        event_time=ticker.event_time_ms,
        ingest_time=ingest_time,
        schema_version=SCHEMA_VERSION,
    )


def depth_update_record(update: DepthUpdate, source: str, ingest_time: int) -> DepthUpdateRecord:
    return DepthUpdateRecord(
        source=source,
        symbol=update.symbol,
        first_update_id=update.first_id,
        final_update_id=update.final_id,
        previous_final_update_id=update.previous_final_id,
        event_time=update.event_time_ms,
        bids=_levels(update.bids),
        asks=_levels(update.asks),
        ingest_time=ingest_time,
        schema_version=SCHEMA_VERSION,
    )


def depth_snapshot_record(snapshot: DepthSnapshot, source: str, ingest_time: int) -> DepthSnapshotRecord:
    return DepthSnapshotRecord(
        source=source,
        symbol=snapshot.symbol,
        last_update_id=snapshot.last_update_id,
        bids=_levels(snapshot.bids),
        asks=_levels(snapshot.asks),
        ingest_time=ingest_time,
        schema_version=SCHEMA_VERSION,
    )


SCHEMA_FILES: dict[str, tuple[type[BaseModel], Path]] = {
    BOOK_TICKER_TOPIC: (BookTickerRecord, SCHEMAS_DIR / "book_ticker.schema.json"),
    DEPTH_TOPIC: (DepthUpdateRecord, SCHEMAS_DIR / "depth_update.schema.json"),
    DEPTH_SNAPSHOT_TOPIC: (DepthSnapshotRecord, SCHEMAS_DIR / "depth_snapshot.schema.json"),
}


def json_schema(topic: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the records on `topic`."""
    model, _ = SCHEMA_FILES[topic]
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:lakehouse:{topic}:{model.__name__}:v{SCHEMA_VERSION}"
    return schema


def write_json_schemas() -> None:
    for topic, (_, path) in SCHEMA_FILES.items():
        path.write_text(json.dumps(json_schema(topic), indent=2) + "\n")


if __name__ == "__main__":
    write_json_schemas()
