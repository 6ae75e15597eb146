"""The price forecaster on real trades: the recordings in ../shared/data/, through the real training code.

Every trade of the Binance recordings (USD-M BTCUSDT and ETHUSDT, COIN-M BTCUSD_PERP, spot TRXUSDT) is
mapped by the producer's own Binance mapper, written as a silver-shaped Delta table, and trained on with
`lakehouse.ml.train.train` exactly as `train_model.py` does (features, per-symbol time split, GBT, the
gate against the naive "no change" forecast), with MLflow in a temporary folder. The result says, per
symbol and pooled, whether the model beats the naive forecast on real markets, and whether the gate
promoted it. Results: bench/results/model_real.json.

    uv run python -m bench.model_real [--model gbt|linear]
"""

from __future__ import annotations

import argparse
import csv
import logging
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import write_result
from lakehouse.ingest.binance import MalformedMessage, parse_message
from lakehouse.ingest.replay import read_recording
from lakehouse.paths import REPO_ROOT

log = logging.getLogger("bench.model_real")

DATA_DIR = REPO_ROOT.parent / "shared" / "data"
RECORDINGS = (
    "binance_usdm_btcusdt_20240808.gz",
    "binance_usdm_ethusdt_20240808.gz",
    "binance_cm_btcusd_perp_20240808.gz",
    "binance_cm_btcusd_perp_20240809.gz",
)
SPOT_CSV = "binance_spot_trxusdt_trades_20250304.csv"


def recorded_trades(data_dir: Path = DATA_DIR) -> Iterator[dict[str, Any]]:
    """Silver-shaped rows (symbol, trade_id, trade_time, price, quantity, side) of every recorded trade."""
    for name in RECORDINGS:
        for received_ms, message in read_recording(data_dir / name):
            try:
                record = parse_message(message, received_ms or 0)
            except MalformedMessage:
                continue
            if record is not None:
                yield _row(
                    record.symbol,
                    record.trade_id,
                    record.trade_time,
                    price=record.price,
                    quantity=record.quantity,
                    side=record.side,
                )
    with open(data_dir / SPOT_CSV, newline="") as handle:
        for line in csv.DictReader(handle):
            # Binance's 2025 spot format stamps in microseconds; IsBuyerMarketMaker=1 means the taker sold.
            side = "sell" if line["IsBuyerMarketMaker"] == "1" else "buy"
            yield _row(
                line["Symbol"],
                line["TradeId"],
                int(line["TransactionTime"]) // 1000,
                price=line["Price"],
                quantity=line["Quantity"],
                side=side,
            )


def _row(symbol: str, trade_id: str, trade_time_ms: int, *, price: str, quantity: str, side: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "trade_id": str(trade_id),
        "trade_time": datetime.fromtimestamp(trade_time_ms / 1000, UTC),
        "price": Decimal(price),
        "quantity": Decimal(quantity),
        "side": side,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("gbt", "linear"), default="gbt")
    args = parser.parse_args(argv or [])
    if not DATA_DIR.is_dir():
        raise SystemExit(f"the real recordings are not here ({DATA_DIR}); this benchmark needs them")

    from lakehouse.ml.train import train
    from lakehouse.settings import load_settings
    from lakehouse.spark.session import build_spark
    from tests.utils.market import SILVER_SUBSET_SCHEMA

    rows = [tuple(row.values()) for row in recorded_trades()]
    log.info("model_real: %d recorded trades", len(rows))
    with tempfile.TemporaryDirectory(prefix="model-real-") as home:
        settings = load_settings(
            lake_uri=f"{home}/lake",
            mlflow_tracking_uri=f"sqlite:///{home}/mlflow.db",
            mlflow_artifact_root=Path(home, "artifacts").as_uri(),
        )
        spark = build_spark(settings, app_name="bench-model-real")
        spark.createDataFrame(rows, SILVER_SUBSET_SCHEMA).write.format("delta").save(
            settings.table_uri("silver", "trades")
        )
        result = train(spark, settings, kind=args.model)
        spark.stop()
    pooled = {"candidate": result.metrics, "baseline": result.baseline}
    figures: dict[str, Any] = {
        "model": args.model,
        "trades": len(rows),
        "rows": result.rows,
        "promoted": result.decision.promote,
        "gate_reason": result.decision.reason,
        "rmse_bps": result.metrics["rmse_bps"],
        "baseline_rmse_bps": result.baseline["rmse_bps"],
        "rmse_improvement_over_baseline": 1 - result.metrics["rmse_bps"] / result.baseline["rmse_bps"],
        "pooled": pooled,
        "by_symbol": result.by_symbol,
    }
    for symbol, scores in result.by_symbol.items():
        log.info(
            "model_real: %-12s rows=%6.0f rmse_bps=%.3f naive=%.3f directional_accuracy=%.3f",
            symbol, scores["candidate"]["rows"], scores["candidate"]["rmse_bps"], scores["baseline"]["rmse_bps"],
            scores["candidate"]["directional_accuracy"],
        )  # fmt: skip
    log.info("model_real: pooled rmse_bps=%.3f naive=%.3f; %s", result.metrics["rmse_bps"],
             result.baseline["rmse_bps"], result.decision.reason)  # fmt: skip
    write_result("model_real", figures, {})
    return figures


if __name__ == "__main__":
    import sys

    from lakehouse.logging_setup import configure_logging

    configure_logging()
    main(sys.argv[1:])
