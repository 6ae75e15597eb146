"""The price forecaster on real trades: the recordings in ../shared/data/, through the real training code.

Every trade of the Binance recordings (USD-M BTCUSDT and ETHUSDT, COIN-M BTCUSD_PERP, spot TRXUSDT) is
mapped by the producer's own Binance mapper, written as a silver-shaped Delta table, and trained on with
`lakehouse.ml.train.train` exactly as `train_model.py` does (features, per-symbol time split, GBT, the
gate against the naive "no change" forecast), with MLflow in a temporary folder. Walk-forward: three
folds keep the first 60 %, 80 % and 100 % of every symbol's time, each validated on its own newest 20 %.
Per fold, symbol and pooled: RMSE in bps against the naive forecast, out-of-sample R², directional
accuracy with a 95 % interval, the Diebold-Mariano p-value, and whether the gate promoted the model.
Results: bench/results/model_real.json.

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
from tests.utils.recordings import RECORDINGS as RECORDINGS_DIR

log = logging.getLogger("bench.model_real")

DATA_DIR = RECORDINGS_DIR
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


FOLD_ENDS = (0.6, 0.8, 1.0)  # walk-forward: each fold keeps this share of every symbol's time


def history_up_to(rows: list[dict[str, Any]], end_fraction: float) -> list[dict[str, Any]]:
    """Every symbol's trades up to `end_fraction` of its own recorded time span (pure)."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for row in rows:
        low, high = spans.get(row["symbol"], (row["trade_time"], row["trade_time"]))
        spans[row["symbol"]] = (min(low, row["trade_time"]), max(high, row["trade_time"]))
    ends = {symbol: low + (high - low) * end_fraction for symbol, (low, high) in spans.items()}
    return [row for row in rows if row["trade_time"] <= ends[row["symbol"]]]


def _fold(spark: Any, rows: list[dict[str, Any]], kind: str, home: Path) -> dict[str, Any]:
    """Train and judge on one prefix of history, with a lake and an MLflow store of its own (no champion)."""
    from lakehouse.ml.train import train
    from lakehouse.settings import load_settings
    from tests.utils.market import SILVER_SUBSET_SCHEMA

    settings = load_settings(
        lake_uri=f"{home}/lake",
        mlflow_tracking_uri=f"sqlite:///{home}/mlflow.db",
        mlflow_artifact_root=Path(home, "artifacts").as_uri(),
    )
    frame = spark.createDataFrame([tuple(row.values()) for row in rows], SILVER_SUBSET_SCHEMA)
    frame.write.format("delta").save(settings.table_uri("silver", "trades"))
    result = train(spark, settings, kind=kind)  # type: ignore[arg-type]
    return {
        "rows": result.rows,
        "promoted": result.decision.promote,
        "gate_reason": result.decision.reason,
        "pooled": {"candidate": result.metrics, "baseline": result.baseline, "significance": result.significance},
        "by_symbol": result.by_symbol,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("gbt", "linear"), default="gbt")
    args = parser.parse_args(argv or [])
    if not DATA_DIR.is_dir():
        raise SystemExit(f"the real recordings are not here ({DATA_DIR}); this benchmark needs them")

    from lakehouse.settings import load_settings
    from lakehouse.spark.session import build_spark

    rows = list(recorded_trades())
    log.info("model_real: %d recorded trades; walk-forward folds ending at %s of each symbol's time", len(rows),
             FOLD_ENDS)  # fmt: skip
    spark = build_spark(load_settings(), app_name="bench-model-real")
    folds = []
    try:
        for end in FOLD_ENDS:
            with tempfile.TemporaryDirectory(prefix="model-real-") as home:
                fold = {"history_end": end, **_fold(spark, history_up_to(rows, end), args.model, Path(home))}
            folds.append(fold)
            _log_fold(fold)
    finally:
        spark.stop()
    last = folds[-1]
    figures: dict[str, Any] = {
        "model": args.model,
        "trades": len(rows),
        "promoted": last["promoted"],
        "gate_reason": last["gate_reason"],
        "rmse_bps": last["pooled"]["candidate"]["rmse_bps"],
        "baseline_rmse_bps": last["pooled"]["baseline"]["rmse_bps"],
        "folds_beating_naive": sum(
            f["pooled"]["candidate"]["rmse_bps"] < f["pooled"]["baseline"]["rmse_bps"] for f in folds
        ),
        "folds": folds,
    }
    write_result("model_real", figures, {})
    return figures


def _log_fold(fold: dict[str, Any]) -> None:
    for symbol, scores in [*fold["by_symbol"].items(), ("pooled", fold["pooled"])]:
        candidate, naive, sig = scores["candidate"], scores["baseline"], scores["significance"]
        log.info(
            "model_real: fold %.1f %-12s rows=%6.0f rmse_bps=%7.3f naive=%7.3f R2=%6.3f direction=%.3f "
            "(%.3f-%.3f) DM p=%.3g",
            fold["history_end"], symbol, candidate["rows"], candidate["rmse_bps"], naive["rmse_bps"],
            sig["r2_oos"], candidate["directional_accuracy"], sig["directional_accuracy_low"],
            sig["directional_accuracy_high"], sig["dm_p_value"],
        )  # fmt: skip
    log.info("model_real: fold %.1f: %s", fold["history_end"], fold["gate_reason"])


if __name__ == "__main__":
    import sys

    from lakehouse.logging_setup import configure_logging

    configure_logging()
    main(sys.argv[1:])
