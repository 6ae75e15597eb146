"""The walk-forward folds of bench.model_real cut each symbol's history at its own share of time."""

from datetime import UTC, datetime, timedelta

import pytest

from bench.model_real import DATA_DIR, history_up_to, recorded_trades

T0 = datetime(2024, 8, 8, tzinfo=UTC)


def test_each_symbol_is_cut_at_its_own_share_of_time() -> None:
    rows = [{"symbol": "A", "trade_time": T0 + timedelta(seconds=s)} for s in range(11)]
    rows += [{"symbol": "B", "trade_time": T0 + timedelta(days=200, seconds=s)} for s in range(0, 101, 10)]
    kept = history_up_to(rows, 0.6)
    assert [r["trade_time"].second for r in kept if r["symbol"] == "A"] == list(range(7))
    assert len([r for r in kept if r["symbol"] == "B"]) == 7  # 0..60 s of its 100 s, a year later
    assert history_up_to(rows, 1.0) == rows


def test_the_real_recordings_map_to_silver_rows() -> None:
    if not DATA_DIR.is_dir():
        pytest.skip(f"the real recordings are not in {DATA_DIR}")
    symbols: dict[str, int] = {}
    for row in recorded_trades():
        symbols[row["symbol"]] = symbols.get(row["symbol"], 0) + 1
        assert row["side"] in ("buy", "sell") and row["price"] > 0 and row["quantity"] > 0
    # Counts from ../shared/data/README.md (the two COIN-M files hold 5,235 trades together).
    assert symbols == {"BTCUSDT": 21_313, "ETHUSDT": 14_076, "TRXUSDT": 10_000, "BTCUSD_PERP": 5_235}
