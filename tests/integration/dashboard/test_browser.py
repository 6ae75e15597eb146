"""The running dashboard in a real browser (Debian's headless Chromium via Playwright): chart drawn, screenshot."""

from __future__ import annotations

from lakehouse.paths import state_dir
from tests.integration.dashboard.conftest import SYMBOLS, GoldData, page_env
from tests.utils.browser import open_dashboard, running_dashboard

SCREENSHOT = state_dir() / "screenshots" / "dashboard.png"


def test_browser_sees_the_candlestick_chart(gold_data: GoldData) -> None:
    env = page_env(gold_data.db["reader_dsn"], gold_data.lake_uri, gold_data.mlflow_uri)
    expected = ("Last price", "Champion", "Pipeline health", "predicted (30 s ahead)", "Kafka lag: silver")
    with running_dashboard(env) as url:
        load = open_dashboard(url, screenshot=SCREENSHOT, expect_text=expected)
    assert load.title == "Lakehouse command center"
    # The page opens on the most active symbol; the default 6 h window holds its whole 30 minutes of
    # synthetic trades: one candle per minute.
    counts = {name: sum(t["symbol"] == name for t in gold_data.trades) for name in SYMBOLS}
    busiest = min(SYMBOLS, key=lambda name: (-counts[name], name))
    minutes = {t["trade_time"].replace(second=0, microsecond=0) for t in gold_data.trades if t["symbol"] == busiest}
    assert load.candles_drawn >= len(minutes) - 1
    assert "v1" in load.text and "No gold candles yet" not in load.text
    assert "Deploy" not in load.text  # no developer menu for viewers
    assert SCREENSHOT.stat().st_size > 20_000
