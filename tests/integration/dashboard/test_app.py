"""The page run by Streamlit's AppTest against real gold built by dbt, and against empty tables."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from lakehouse.dashboard.repository import forecast_horizon_s
from lakehouse.paths import REPO_ROOT
from tests.integration.dashboard.conftest import SYMBOLS, GoldData, page_env


def run_page(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> AppTest:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LAKEHOUSE_PG_DSN", raising=False)  # the page must work with the reader DSN alone
    import streamlit as st

    st.cache_data.clear()  # one process runs every test: no cached frame may leak between databases
    page = AppTest.from_file(str(REPO_ROOT / "dashboard.py"), default_timeout=90)
    page.run()
    assert not page.exception, [e.message for e in page.exception]
    return page


def metric(page: AppTest, label: str) -> str:
    values = [m.value for m in page.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in page.metric]}"
    return values[0]


def expected_errors(trades: list[dict[str, Any]], symbol: str, horizon_s: int) -> tuple[float, float, int]:
    """Model and naive MAE recomputed in Python from the trades the database was loaded with."""
    rows = sorted((t for t in trades if t["symbol"] == symbol), key=lambda t: t["trade_time"])
    newest = rows[-1]["trade_time"]
    model, naive = [], []
    for index, trade in enumerate(rows):
        if "predicted_price" not in trade or (trade["trade_time"] - newest).total_seconds() + horizon_s > 0:
            continue
        realised = trade["price"]
        for later in rows[index + 1 :]:
            if (later["trade_time"] - trade["trade_time"]).total_seconds() > horizon_s:
                break
            realised = later["price"]
        model.append(abs(trade["predicted_price"] - float(realised)))
        naive.append(abs(float(trade["price"] - realised)))
    return sum(model) / len(model), sum(naive) / len(naive), len(model)


def test_page_with_gold_data(gold_data: GoldData, monkeypatch: pytest.MonkeyPatch) -> None:
    page = run_page(monkeypatch, page_env(gold_data.db["reader_dsn"], gold_data.lake_uri, gold_data.mlflow_uri))
    counts = {name: sum(t["symbol"] == name for t in gold_data.trades) for name in SYMBOLS}
    busiest_first = sorted(SYMBOLS, key=lambda name: (-counts[name], name))
    assert page.sidebar.selectbox[0].options == busiest_first  # the page opens on the most active symbol
    symbol = page.sidebar.selectbox[0].value
    assert symbol == busiest_first[0]

    ours = sorted((t for t in gold_data.trades if t["symbol"] == symbol), key=lambda t: t["trade_time"])
    assert metric(page, "Last price") == f"{float(ours[-1]['price']):,.4f}"
    notional = sum(t["price"] * t["quantity"] for t in ours)
    volume = sum(t["quantity"] for t in ours)
    assert metric(page, "VWAP 24 h") == f"{float(notional / volume):,.4f}"
    # 30 minutes of history: the change says it covers those, not a day
    first_open = ours[0]["price"]  # the first candle opens with the minute's first trade
    first_minute = ours[0]["trade_time"].replace(second=0, microsecond=0)
    span = f"{round((ours[-1]['trade_time'] - first_minute).total_seconds() // 60) + 1} min"
    assert metric(page, f"Change {span}") == f"{float(ours[-1]['price'] / first_open - 1):+.2%}"

    charts = page.get("plotly_chart")
    assert len(charts) >= 1
    figure = charts[0].proto.spec
    assert '"type":"candlestick"' in figure.replace(" ", "") and "predicted (30 s ahead)" in figure

    assert metric(page, "Champion") == "v1"
    model_mae, naive_mae, count = expected_errors(gold_data.trades, symbol, forecast_horizon_s())
    assert count > 100
    assert metric(page, "MAE (30 s ahead)") == f"{model_mae:.6g}"
    assert metric(page, "Naive MAE (no change)") == f"{naive_mae:.6g}"

    trades_table = page.dataframe[0].value
    assert len(trades_table) == 15 and Decimal(str(trades_table["price"].iloc[0])) == ours[-1]["price"]

    # The book panel: the newest second's top of book, its depth chart and the spread over time.
    last_price = ours[-1]["price"]
    mid = float(last_price)
    assert metric(page, "Spread") == f"{1.0 / mid * 10_000:.2f} bps"
    assert metric(page, "Depth imbalance (10 bps)") == "+0.50"  # (3 - 1) / (3 + 1)
    specs = [chart.proto.spec for chart in charts]
    assert any("order book (top levels)" in spec for spec in specs) and any(
        "Spread per second" in spec for spec in specs
    )
    # Book health beside the trades': one break (on the first symbol), a resync per symbol.
    assert metric(page, "Book breaks (24 h)") == "1" and metric(page, "Book resyncs (24 h)") == str(len(SYMBOLS))

    assert metric(page, "Freshness: silver").endswith("min")  # newest trade ~10 minutes ago
    silver_rows = len(gold_data.trades)
    assert metric(page, "Quarantine rate (1 h)") == f"{3 / (3 + silver_rows):.2%}"
    # No Kafka checkpoint in the private lake: the jobs have not started, which the page says.
    assert metric(page, "Kafka lag: silver") == "not started"


def test_switching_symbol_redraws_for_that_symbol(gold_data: GoldData, monkeypatch: pytest.MonkeyPatch) -> None:
    page = run_page(monkeypatch, page_env(gold_data.db["reader_dsn"], gold_data.lake_uri, gold_data.mlflow_uri))
    page.sidebar.selectbox[0].select(SYMBOLS[1]).run()
    assert not page.exception
    theirs = max((t for t in gold_data.trades if t["symbol"] == SYMBOLS[1]), key=lambda t: t["trade_time"])
    assert metric(page, "Last price") == f"{float(theirs['price']):,.4f}"


def test_page_with_empty_tables(empty_gold: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    page = run_page(monkeypatch, page_env(empty_gold["reader_dsn"], tmp_path.as_uri(), f"sqlite:///{tmp_path}/no.db"))
    assert any("No gold candles yet" in info.value for info in page.info)
    assert not page.get("plotly_chart")
    assert metric(page, "Ingestion rate (5 min)") == "0.0 trades/s"
    assert metric(page, "Quarantine rate (1 h)") == "n/a"


def test_page_before_gold_exists(infra, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # The reader role on market_db-like database without any gold table: a friendly message, no traceback.
    from contextlib import contextmanager

    from tests.utils.silver_pg import gold_db

    with contextmanager(gold_db.__wrapped__)(infra) as db:
        page = run_page(monkeypatch, page_env(db["reader_dsn"], tmp_path.as_uri(), f"sqlite:///{tmp_path}/no.db"))
    assert any("No gold candles yet" in info.value for info in page.info)
    assert any("gold.candles_1m" in caption.value for caption in page.caption)
