"""`lakehouse stream`, `lakehouse status` and `lakehouse dbt` against the real Kafka, Spark, Delta and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.platform_status import collect
from lakehouse.schema.trade import now_ms
from lakehouse.stream.silver import run_silver
from tests.integration.stream.conftest import produce
from tests.utils.trades import make_trade

T0 = now_ms() - 600_000


def trade(n: int) -> dict:
    record = make_trade(n, symbol=("BTCUSDT", "ETHUSDT")[n % 2], trade_time=T0 + n * 1000, ingest_time=T0 + n * 1000)
    return json.loads(record.to_json_bytes())


def test_status_follows_the_trades_from_kafka_to_postgres(
    spark, stream_settings, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = stream_settings.model_copy(update={"kafka_topic": topic})
    env = {
        "LAKEHOUSE_KAFKA_TOPIC": topic,
        "LAKEHOUSE_LAKE_URI": settings.lake_uri,
        "LAKEHOUSE_PG_SILVER_TABLE": settings.pg_silver_table,
        "LAKEHOUSE_PG_PRICES_VIEW": settings.pg_prices_view,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    produce(settings.kafka_bootstrap, topic, [*(trade(n) for n in range(30)), "not json"])
    layers = {layer.layer: layer for layer in collect(settings)}
    assert layers[f"kafka {topic}"].rows == 31
    assert layers["bronze/trades (Delta)"].problem == "not created yet"

    # The bronze job as a user starts it; its own options pass through the `lakehouse` command.
    bronze = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "stream", "bronze", "--once", "--topic", topic],
        env=os.environ, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert bronze.returncode == 0, bronze.stderr[-3000:]
    produce(settings.kafka_bootstrap, topic, [trade(n) for n in range(30, 40)])
    run_silver(spark, settings, once=True, topic=topic)

    layers = {layer.layer: layer for layer in collect(settings)}
    newest = datetime.fromtimestamp((T0 + 39_000) / 1000, UTC)
    assert layers[f"kafka {topic}"].rows == 41
    assert (layers["bronze/trades (Delta)"].rows, layers["bronze/trades (Delta)"].lag) == (31, 10)
    silver = layers["silver/trades (Delta)"]
    assert (silver.rows, silver.lag, silver.newest) == (40, 0, newest)
    assert layers["silver/trades_quarantine (Delta)"].rows == 1
    mirror = layers[f"{settings.pg_silver_table} (PostgreSQL)"]
    assert (mirror.rows, mirror.newest) == (40, newest)
    assert not any(layer.failed for layer in layers.values()), layers

    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    rows = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
    assert any(row.startswith("silver/trades (Delta) 40 ") and row.endswith(" 0") for row in rows), result.output


def test_dbt_runs_with_the_platforms_connection(infra) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "dbt", "debug"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "All checks passed" in result.stdout


def test_train_and_maintain_are_lakehouse_commands() -> None:
    result = CliRunner().invoke(app, ["train", "--help"])
    assert result.exit_code == 0 and "--min-train-rows" in result.output
    result = CliRunner().invoke(app, ["maintain", "--retention-hours", "1"])
    assert result.exit_code == 1 and "VACUUM retention below 168 h" in " ".join(result.output.split())


def test_with_kafka_down_the_lake_is_still_read_and_each_lag_says_why_it_is_unknown(tmp_path) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    from lakehouse.local.processes import free_port
    from lakehouse.settings import Settings

    settings = Settings(
        kafka_bootstrap=f"127.0.0.1:{free_port()}",  # nothing listens there
        lake_uri=(tmp_path / "lake").as_uri(),
        pg_dsn=f"postgresql://nobody@127.0.0.1:{free_port()}/none",
    )
    stamps = pa.array([datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)] * 3, pa.timestamp("us", "UTC"))
    write_deltalake(settings.table_uri("bronze", "trades"), pa.table({"offset": [0, 1, 2], "kafka_timestamp": stamps}))
    layers = {layer.layer: layer for layer in collect(settings)}
    kafka = layers["kafka"]
    assert kafka.failed and "Kafka unreachable" in kafka.problem
    bronze = layers["bronze/trades (Delta)"]
    assert bronze.rows == 3 and bronze.problem == f"lag unknown: {kafka.problem}"
    assert layers["silver/trades (Delta)"].problem == "not created yet"
    assert len(layers) == 6  # the PostgreSQL layers are reported too (read, or failed with the reason)
