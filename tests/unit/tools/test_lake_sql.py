"""`lakehouse sql` and the lake summaries, on real Delta tables written by delta-rs (no Spark, no services)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.lake import summarise
from lakehouse.platform_status import LayerStatus, describe_age

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def silver_rows(symbols: list[str], start: int) -> pa.Table:
    times = [T0 + timedelta(seconds=start + i) for i in range(len(symbols))]
    return pa.table(
        {
            "symbol": symbols,
            "trade_id": [str(start + i) for i in range(len(symbols))],
            "price": [100.0 + i for i in range(len(symbols))],
            "trade_time": pa.array(times, pa.timestamp("us", tz="UTC")),
        }
    )


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "lake"
    write_deltalake(str(root / "silver" / "trades"), silver_rows(["BTCUSDT", "ETHUSDT", "BTCUSDT"], 0))
    write_deltalake(str(root / "silver" / "trades"), silver_rows(["ETHUSDT", "BTCUSDT"], 10), mode="append")
    monkeypatch.setenv("LAKEHOUSE_LAKE_URI", root.as_uri())
    return root


def test_sql_groups_over_every_commit_of_a_table(lake: Path) -> None:
    result = CliRunner().invoke(
        app, ["sql", "SELECT symbol, count(*) AS trades FROM silver_trades GROUP BY symbol ORDER BY symbol"]
    )
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
    assert "BTCUSDT 3" in lines and "ETHUSDT 2" in lines
    assert "2 row(s)" in result.output


def test_sql_limits_what_it_prints_and_says_so(lake: Path) -> None:
    result = CliRunner().invoke(app, ["sql", "SELECT * FROM silver_trades", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "5 row(s), first 2 shown" in result.output


def test_a_bad_query_is_an_error_naming_the_tables_there_are(lake: Path) -> None:
    result = CliRunner().invoke(app, ["sql", "SELECT * FROM gold_candles"])
    assert result.exit_code == 1
    assert "gold_candles" in result.output and "silver_trades" in result.output


def test_an_empty_lake_says_to_start_the_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_LAKE_URI", (tmp_path / "nothing").as_uri())
    result = CliRunner().invoke(app, ["sql", "SELECT 1"])
    assert result.exit_code == 1 and "start the streams" in result.output


def test_summary_counts_rows_and_finds_the_newest_time_from_the_log(lake: Path) -> None:
    summary = summarise("silver_trades", DeltaTable(str(lake / "silver" / "trades")), "trade_time")
    assert summary.rows == 5
    assert summary.newest == T0 + timedelta(seconds=11)


def test_ages_read_at_a_glance() -> None:
    now = T0 + timedelta(hours=5)
    assert describe_age(None, now) == "-"
    assert describe_age(now - timedelta(seconds=7), now) == "7 s ago"
    assert describe_age(now - timedelta(minutes=30), now) == "30 min ago"
    assert describe_age(now - timedelta(hours=5), now) == "5.0 h ago"
    assert describe_age((now - timedelta(days=3)).replace(tzinfo=None), now) == "3 days ago"  # naive means UTC


def test_a_table_not_created_yet_is_not_a_failure() -> None:
    assert not LayerStatus("silver", problem="not created yet").failed
    assert LayerStatus("kafka", problem="Kafka unreachable at 127.0.0.1:9092").failed


def test_text_in_the_lake_is_printed_as_it_is_not_as_markup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "lake"
    rows = silver_rows(["BTCUSDT"], 0).set_column(1, "trade_id", pa.array(["[red]not a style[/]"]))
    write_deltalake(str(root / "silver" / "trades"), rows)
    monkeypatch.setenv("LAKEHOUSE_LAKE_URI", root.as_uri())
    result = CliRunner().invoke(app, ["sql", "SELECT trade_id FROM silver_trades"])
    assert result.exit_code == 0 and "[red]not a style[/]" in result.output


def test_dbt_without_a_database_says_what_to_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))  # no .lakehouse/env: no PostgreSQL configured
    monkeypatch.delenv("LAKEHOUSE_PG_DSN", raising=False)
    result = CliRunner().invoke(app, ["dbt", "debug"])
    assert result.exit_code == 1 and "LAKEHOUSE_PG_DSN is not set" in " ".join(result.output.split())
