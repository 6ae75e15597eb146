"""A gold database built once per session from synthetic trades with predictions, and the page's env."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lakehouse.gold.dbt import build_gold
from lakehouse.settings import Settings
from tests.utils.market import synthetic_trades
from tests.utils.silver_pg import gold_db, load_silver, silver_rows

SYMBOLS = ("BTCUSDT", "ETHUSDT")
MODEL_VERSION = "1"


@dataclass
class GoldData:
    db: dict[str, str]
    trades: list[dict[str, Any]]
    quarantined: int
    lake_uri: str
    mlflow_uri: str


def with_predictions(trades: list[dict[str, Any]], seed: int = 5) -> list[dict[str, Any]]:
    """Every third trade gets a forecast: its price nudged by up to 5 bp, as a scorer would emit."""
    rng = random.Random(seed)
    for index, trade in enumerate(trades):
        if index % 3 == 0:
            trade["predicted_price"] = float(trade["price"]) * (1 + rng.uniform(-5e-4, 5e-4))
            trade["model_version"] = MODEL_VERSION
    return trades


def write_quarantine(lake_uri: str, rows: int) -> None:
    """A real Delta quarantine table (delta-rs) shaped as the silver job writes it."""
    import pyarrow as pa
    from deltalake import write_deltalake

    now = datetime.now(UTC)
    table = pa.table(
        {
            "value": pa.array([b"{bad"] * rows, pa.binary()),
            "key": pa.array([b"BTCUSDT"] * rows, pa.binary()),
            "reason": pa.array(["unparseable json"] * rows),
            "kafka_topic": pa.array(["raw-trades"] * rows),
            "kafka_partition": pa.array([0] * rows, pa.int32()),
            "kafka_offset": pa.array(list(range(rows)), pa.int64()),
            "kafka_timestamp": pa.array([now] * rows, pa.timestamp("us", tz="UTC")),
            # One row far outside the dashboard's 1 h window: it must not count.
            "quarantined_at": pa.array([now] * (rows - 1) + [now - timedelta(days=2)], pa.timestamp("us", tz="UTC")),
        }
    )
    write_deltalake(lake_uri.removeprefix("file://") + "/silver/trades_quarantine", table)


def register_champion(tracking_uri: str, artifact_dir: Path) -> None:
    """A registry with price_forecaster v1 @champion (metadata only: the page never loads the model)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.create_registered_model("price_forecaster")
    version = client.create_model_version("price_forecaster", source=artifact_dir.as_uri())
    client.set_registered_model_alias("price_forecaster", "champion", version.version)


@pytest.fixture(scope="session")
def gold_data(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoldData]:
    start = (datetime.now(UTC) - timedelta(minutes=40)).replace(second=0, microsecond=0)
    trades = with_predictions(synthetic_trades(SYMBOLS, minutes=30, trades_per_s=1.0, seed=3, start=start))
    root = tmp_path_factory.mktemp("dashboard")
    lake_uri = (root / "lake").as_uri()
    write_quarantine(lake_uri, rows=4)
    mlflow_uri = f"sqlite:///{root / 'mlflow.db'}"
    register_champion(mlflow_uri, root)
    with contextmanager(gold_db.__wrapped__)(infra) as db:
        load_silver(db["dsn"], silver_rows(trades, processed_at=datetime.now(UTC)))
        load_books(db["dsn"], trades)
        build_gold(infra, database=db["name"])
        yield GoldData(db=db, trades=trades, quarantined=3, lake_uri=lake_uri, mlflow_uri=mlflow_uri)


BOOK_SECONDS = 120
BOOK_HALF_SPREAD = Decimal("0.5")


def load_books(dsn: str, trades: list[dict[str, Any]]) -> None:
    """Two minutes of books per symbol in the PostgreSQL mirror (as the silver book query writes them),
    around each symbol's last trade price: 20 levels a side, one tick apart; a resync and a break."""
    from lakehouse.stream.book_mirror import BookMirror

    mirror = BookMirror(dsn, "silver.order_book", "silver.book_events")
    mirror.ensure_schema()
    now = datetime.now(UTC).replace(microsecond=0)
    for symbol in SYMBOLS:
        last = max((t for t in trades if t["symbol"] == symbol), key=lambda t: t["trade_time"])["price"]
        rows = []
        for second in range(BOOK_SECONDS):
            bids = [last - BOOK_HALF_SPREAD - level for level in range(20)]
            asks = [last + BOOK_HALF_SPREAD + level for level in range(20)]
            quantities = [Decimal(level + 1) for level in range(20)]
            rows.append({"source": "binance", "symbol": symbol,
                         "book_time": now - timedelta(seconds=BOOK_SECONDS - second), "book_date": now.date(),
                         "last_update_id": 1000 + second, "last_event_time": now, "updates": 3,
                         "best_bid": bids[0], "best_ask": asks[0], "bid_depth_10bps": Decimal(3),
                         "ask_depth_10bps": Decimal(1), "bid_prices": bids, "bid_quantities": quantities,
                         "ask_prices": asks, "ask_quantities": quantities, "processed_at": now})  # fmt: skip
        mirror.insert("order_book", rows)
        events = [("resync", 999), ("break", 1050)] if symbol == SYMBOLS[0] else [("resync", 999)]
        mirror.insert("book_events", [
            {"source": "binance", "symbol": symbol, "event": event, "event_time": now - timedelta(minutes=1),
             "update_id": update_id, "detail": f"{event} at {update_id}", "processed_at": now}
            for event, update_id in events
        ])  # fmt: skip
    mirror.close()


@pytest.fixture
def empty_gold(infra: Settings) -> Iterator[dict[str, str]]:
    """Silver and gold schemas with no rows (dbt built on an empty silver.trades)."""
    with contextmanager(gold_db.__wrapped__)(infra) as db:
        build_gold(infra, database=db["name"])
        yield db


def page_env(reader_dsn: str, lake_uri: str, mlflow_uri: str) -> dict[str, str]:
    """The dashboard's configuration: the READ-ONLY DSN only, a private lake and registry."""
    return {
        "LAKEHOUSE_PG_READONLY_DSN": reader_dsn,
        "LAKEHOUSE_LAKE_URI": lake_uri,
        "LAKEHOUSE_MLFLOW_TRACKING_URI": mlflow_uri,
    }
