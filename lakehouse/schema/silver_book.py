"""The silver book tables, defined once like the silver trade (`lakehouse.schema.silver`).

- `silver/order_book`: each symbol's book rebuilt from the depth diffs and REST snapshots, the top
  TOP_LEVELS levels at the end of every second (`book_time` is the second's start), never across a break.
- `silver/book_ticker`: validated top-of-book updates, each once, in update-id order.
- `silver/book_events`: the sequence's health: chain breaks, resyncs, snapshots that left a gap.
- `silver/book_quarantine`: book records that failed validation, raw, with the reason (the silver
  quarantine's shape).
"""

from __future__ import annotations

from lakehouse.schema.silver import QUARANTINE, Column

SOURCE_SYMBOL = ("source", "symbol")

ORDER_BOOK: tuple[Column, ...] = (
    Column("source", "text"),
    Column("symbol", "text"),
    Column("book_time", "timestamp"),
    Column("book_date", "date"),
    Column("last_update_id", "bigint"),
    Column("last_event_time", "timestamp"),
    Column("updates", "integer"),
    Column("best_bid", "decimal", required=False),  # null only when a side is empty
    Column("best_ask", "decimal", required=False),
    # Quantity within 10 bps of the mid on each side, over the whole book (not only the top levels).
    Column("bid_depth_10bps", "decimal", required=False),
    Column("ask_depth_10bps", "decimal", required=False),
    Column("bid_prices", "decimal[]"),  # best first
    Column("bid_quantities", "decimal[]"),
    Column("ask_prices", "decimal[]"),
    Column("ask_quantities", "decimal[]"),
    Column("processed_at", "timestamp"),
)

BOOK_TICKER: tuple[Column, ...] = (
    Column("source", "text"),
    Column("symbol", "text"),
    Column("update_id", "bigint"),
    Column("bid_price", "decimal"),
    Column("bid_quantity", "decimal"),
    Column("ask_price", "decimal"),
    Column("ask_quantity", "decimal"),
    Column("ticker_time", "timestamp"),  # the exchange's event time; spot sends none: the ingest time then
    Column("ticker_date", "date"),
    Column("event_time", "timestamp", required=False),
    Column("ingest_time", "timestamp"),
    Column("kafka_topic", "text"),
    Column("kafka_partition", "integer"),
    Column("kafka_offset", "bigint"),
    Column("processed_at", "timestamp"),
)

BOOK_EVENTS: tuple[Column, ...] = (
    Column("source", "text"),
    Column("symbol", "text"),
    Column("event", "text", check="event IN ('break', 'resync', 'snapshot_gap')"),
    Column("event_time", "timestamp", required=False),  # the diff's time (a snapshot has none)
    Column("update_id", "bigint"),
    Column("detail", "text"),
    Column("processed_at", "timestamp"),
)

BOOK_QUARANTINE = QUARANTINE

# Table name under silver/ -> its columns and the columns Delta declares NOT NULL.
SILVER_BOOK_TABLES: dict[str, tuple[tuple[Column, ...], tuple[str, ...]]] = {
    "order_book": (ORDER_BOOK, (*SOURCE_SYMBOL, "book_time", "last_update_id")),
    "book_ticker": (BOOK_TICKER, (*SOURCE_SYMBOL, "update_id")),
    "book_events": (BOOK_EVENTS, (*SOURCE_SYMBOL, "event")),
    "book_quarantine": (BOOK_QUARANTINE, ("reason",)),
}
