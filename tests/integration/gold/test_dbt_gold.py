"""dbt build on real PostgreSQL: gold candles equal an independent pandas computation, incrementally too."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from lakehouse.gold.dbt import DbtError, build_gold, check_source_freshness, dbt_invocation, run_dbt
from tests.utils.market import synthetic_trades
from tests.utils.silver_pg import load_silver, silver_rows

CANDLE_COLUMNS = ["symbol", "bucket_start", "open", "high", "low", "close", "volume", "notional", "trade_count", "vwap"]


def silver_trades(dsn: str) -> pd.DataFrame:
    columns = ["symbol", "trade_id", "trade_time", "price", "quantity", "notional"]
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM silver.trades").fetchall()
    return pd.DataFrame(rows, columns=columns)


def expected_candles_1m(dsn: str) -> pd.DataFrame:
    """Candles from the silver rows, computed in pandas without any of the dbt SQL."""
    trades = silver_trades(dsn)
    trades["bucket_start"] = trades["trade_time"].dt.floor("min")
    trades["id_len"] = trades["trade_id"].str.len()
    trades = trades.sort_values(["symbol", "bucket_start", "trade_time", "id_len", "trade_id"])
    grouped = trades.groupby(["symbol", "bucket_start"], sort=True)
    candles = pd.DataFrame(
        {
            "open": grouped["price"].first(),
            "high": grouped["price"].max(),
            "low": grouped["price"].min(),
            "close": grouped["price"].last(),
            "volume": grouped["quantity"].apply(lambda q: sum(q, Decimal(0))),
            "notional": grouped["notional"].apply(lambda n: sum(n, Decimal(0))),
            "trade_count": grouped.size(),
        }
    ).reset_index()
    candles["vwap"] = candles["notional"] / candles["volume"]
    return candles[CANDLE_COLUMNS]


def gold_candles_1m(dsn: str) -> pd.DataFrame:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT {', '.join(CANDLE_COLUMNS)} FROM gold.candles_1m ORDER BY symbol, bucket_start")
        return pd.DataFrame(rows.fetchall(), columns=CANDLE_COLUMNS)


def assert_same_candles(gold: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(gold) == len(expected) > 0
    for column in ["symbol", "bucket_start", "open", "high", "low", "close", "volume", "notional", "trade_count"]:
        assert gold[column].tolist() == expected[column].tolist(), column  # exact: decimals, no float
    for got, want in zip(gold["vwap"], expected["vwap"], strict=True):
        assert abs(got - want) <= want * Decimal("1e-15")  # numeric division precision differs past 15 digits


def test_gold_candles_match_pandas_and_stay_right_incrementally(settings, gold_db) -> None:
    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    trades = synthetic_trades(symbols=("BTCUSDT", "TSLA"), minutes=30, trades_per_s=2.0, start=start)
    first_batch = [t for t in trades if t["trade_time"] < start + timedelta(minutes=20)]
    second_batch = [t for t in trades if t["trade_time"] >= start + timedelta(minutes=20)]
    load_silver(gold_db["dsn"], silver_rows(first_batch, processed_at=datetime.now(UTC)))

    result = build_gold(settings, database=gold_db["name"], full_refresh=True)
    assert "ERROR=0" in result.output.replace(" ", "")
    assert_same_candles(gold_candles_1m(gold_db["dsn"]), expected_candles_1m(gold_db["dsn"]))

    # New trades plus a late one for an old minute (old trade_time, new processed_at).
    late = dict(first_batch[5], trade_id="999999", price=Decimal("1.00000000"), quantity=Decimal("7"))
    load_silver(gold_db["dsn"], silver_rows([*second_batch, late], processed_at=datetime.now(UTC)))
    build_gold(settings, database=gold_db["name"])
    gold = gold_candles_1m(gold_db["dsn"])
    assert_same_candles(gold, expected_candles_1m(gold_db["dsn"]))
    late_candle = gold[
        (gold.symbol == late["symbol"]) & (gold.bucket_start == late["trade_time"].replace(second=0, microsecond=0))
    ]
    assert late_candle.iloc[0]["low"] == Decimal("1.00000000")

    with psycopg.connect(gold_db["reader_dsn"]) as reader:  # the read-only role can read every mart
        for mart in ("candles_1m", "candles_1h", "symbol_daily_stats", "model_accuracy_hourly", "pipeline_freshness"):
            reader.execute(f"SELECT count(*) FROM gold.{mart}").fetchone()
        hourly = reader.execute("SELECT count(*), sum(trade_count) FROM gold.candles_1h").fetchone()
        assert hourly == (2, len(trades) + 1)  # 12:00-12:30 for two symbols, every trade counted once
        layers = dict(reader.execute("SELECT layer, count(*) FROM gold.pipeline_freshness GROUP BY layer").fetchall())
        assert layers == {"silver": 2, "gold_candles_1m": 2}


def test_model_accuracy_against_the_realised_price(settings, gold_db) -> None:
    """Hand-computed errors, then late and new trades that settle forecasts across a minute boundary."""
    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def trade(second: int, trade_id: str, price: str, predicted: float | None = None) -> dict:
        return {
            "symbol": "ETHUSDT", "trade_id": trade_id, "trade_time": start + timedelta(seconds=second),
            "price": Decimal(price), "quantity": Decimal("1"), "side": "buy",
            "predicted_price": predicted, "model_version": "3" if predicted is not None else None,
        }  # fmt: skip

    def build_and_read() -> tuple:
        run_dbt(
            settings, "build", "--select", "+model_accuracy_hourly", "--indirect-selection", "cautious",
            database=gold_db["name"],
        )  # fmt: skip
        with psycopg.connect(gold_db["dsn"]) as conn:
            rows = conn.execute(
                "SELECT model_version, predictions, mae, rmse, directional_accuracy FROM gold.model_accuracy_hourly"
            ).fetchall()
        assert len(rows) == 1
        return rows[0]

    load_silver(
        gold_db["dsn"],
        silver_rows(
            [
                trade(0, "1", "100", predicted=101.0),  # realised: last price in (0, 30] = 104: error -3, hit
                trade(10, "2", "102", predicted=101.0),  # realised 104 at 25 s: error -3, wrong direction
                trade(25, "3", "104"),
                trade(50, "6", "100", predicted=99.0),  # realised 106 at 70 s (next minute): error -7, miss
                trade(70, "7", "106"),
                trade(90, "4", "90", predicted=95.0),  # horizon not observed yet (newest trade 90 s): pending
            ],
            processed_at=datetime.now(UTC),
        ),
    )
    version, predictions, mae, rmse, directional = build_and_read()
    assert (version, predictions) == ("3", 3)
    assert mae == pytest.approx(13 / 3) and rmse == pytest.approx((67 / 3) ** 0.5)
    assert directional == pytest.approx(1 / 3)

    # A late trade at 75 s re-settles the 50 s forecast (96: error 3, right direction); a new one at 125 s
    # makes the 90 s horizon observed (no trade in (90, 120]: its own price, error 5, no direction).
    load_silver(
        gold_db["dsn"], silver_rows([trade(75, "8", "96"), trade(125, "9", "80")], processed_at=datetime.now(UTC))
    )
    incremental = build_and_read()
    assert incremental[:2] == ("3", 4)
    assert incremental[2] == pytest.approx(3.5) and incremental[3] == pytest.approx(13**0.5)
    assert incremental[4] == pytest.approx(2 / 3)

    run_dbt(settings, "build", "--select", "+model_accuracy_hourly", "--full-refresh", database=gold_db["name"])
    with psycopg.connect(gold_db["dsn"]) as conn:
        rebuilt = conn.execute(
            "SELECT model_version, predictions, mae, rmse, directional_accuracy FROM gold.model_accuracy_hourly"
        ).fetchall()
    assert len(rebuilt) == 1 and rebuilt[0][:2] == incremental[:2]  # from scratch equals incremental
    assert rebuilt[0][2:] == pytest.approx(incremental[2:])


def test_source_freshness_passes_on_fresh_silver_and_fails_on_stale(settings, gold_db) -> None:
    trades = synthetic_trades(symbols=("BTCUSDT",), minutes=1, trades_per_s=1.0)
    load_silver(gold_db["dsn"], silver_rows(trades, processed_at=datetime.now(UTC) - timedelta(minutes=45)))
    with pytest.raises(DbtError, match=r"silver\.trades: error \(27\d\d s old\)"):
        check_source_freshness(settings, database=gold_db["name"])  # past the 30-minute error threshold

    load_silver(
        gold_db["dsn"], silver_rows(synthetic_trades(symbols=("ETHUSDT",), minutes=1), processed_at=datetime.now(UTC))
    )
    (fresh,) = check_source_freshness(settings, database=gold_db["name"])
    assert (fresh.source, fresh.status) == ("silver.trades", "pass") and fresh.age_s < 60


DAILY_EXACT = ["open", "close", "high", "low", "volume", "notional", "trade_count", "active_minutes"]
DAILY_RATIOS = ["daily_return", "realized_volatility", "vwap"]


def expected_daily_stats(dsn: str) -> pd.DataFrame:
    """symbol_daily_stats from the silver rows, in pandas, without the dbt SQL or the candles."""
    trades = silver_trades(dsn)
    trades["trade_time"] = trades["trade_time"].dt.tz_convert("UTC")
    trades["trade_date"] = trades["trade_time"].dt.date
    trades["minute"] = trades["trade_time"].dt.floor("min")
    trades["id_len"] = trades["trade_id"].str.len()
    trades = trades.sort_values(["symbol", "trade_time", "id_len", "trade_id"])
    rows = []
    for (symbol, day), group in trades.groupby(["symbol", "trade_date"], sort=True):
        minute_closes = group.groupby("minute")["price"].last().astype(float)
        log_returns = np.log(minute_closes / minute_closes.shift(1)).dropna()
        volume, notional = sum(group["quantity"], Decimal(0)), sum(group["notional"], Decimal(0))
        first, last = group["price"].iloc[0], group["price"].iloc[-1]
        rows.append({
            "symbol": symbol, "trade_date": day, "open": first, "close": last, "high": group["price"].max(),
            "low": group["price"].min(), "volume": volume, "notional": notional, "trade_count": len(group),
            "active_minutes": group["minute"].nunique(), "daily_return": float(last / first - 1),
            "realized_volatility": float(np.sqrt((log_returns**2).sum())), "vwap": float(notional / volume),
        })  # fmt: skip
    return pd.DataFrame(rows)


def test_daily_stats_match_pandas_across_a_utc_midnight(settings, gold_db) -> None:
    start = datetime(2026, 11, 1, 23, 35, tzinfo=UTC)  # 25 minutes before midnight, 20 after
    trades = synthetic_trades(symbols=("BTCUSDT", "TSLA"), minutes=45, trades_per_s=1.0, start=start)
    load_silver(gold_db["dsn"], silver_rows(trades, processed_at=datetime.now(UTC)))
    build_gold(settings, database=gold_db["name"], full_refresh=True)

    expected = expected_daily_stats(gold_db["dsn"])
    columns = ["symbol", "trade_date", *DAILY_EXACT, *DAILY_RATIOS]
    with psycopg.connect(gold_db["reader_dsn"]) as reader:
        rows = reader.execute(f"SELECT {', '.join(columns)} FROM gold.symbol_daily_stats ORDER BY symbol, trade_date")
        gold = pd.DataFrame(rows.fetchall(), columns=columns)
    assert len(gold) == len(expected) == 4  # two symbols, two UTC days
    for column in ["symbol", "trade_date", *DAILY_EXACT]:
        assert gold[column].tolist() == expected[column].tolist(), column  # exact: decimals and counts
    for column in DAILY_RATIOS:
        assert [float(v) for v in gold[column]] == pytest.approx(expected[column].tolist(), rel=1e-12), column


def test_every_column_of_every_model_is_documented(settings, gold_db) -> None:
    load_silver(gold_db["dsn"], silver_rows(synthetic_trades(minutes=2), processed_at=datetime.now(UTC)))
    build_gold(settings, database=gold_db["name"], full_refresh=True)
    run_dbt(settings, "docs", "generate", database=gold_db["name"])  # catalog.json: the columns that exist
    _command, env = dbt_invocation(settings, database=gold_db["name"])
    target = Path(env["DBT_TARGET_PATH"])
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    undocumented = {}
    for unique_id, node in catalog["nodes"].items():
        if not unique_id.startswith("model."):
            continue
        described = manifest["nodes"][unique_id]
        assert described["description"], f"{unique_id} has no description"
        missing = [
            name for name in node["columns"]
            if not described["columns"].get(name, {}).get("description")
        ]  # fmt: skip
        if missing:
            undocumented[described["name"]] = missing
    assert not undocumented, f"document these columns in the models' .yml files: {undocumented}"
