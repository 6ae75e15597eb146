"""The chaos run's reconciliation: each kind of loss or double is counted where it happened."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from bench.chaos import ChaosOptions, fault_schedule
from bench.chaos_ledger import BronzeRecord, Layers, reconcile
from lakehouse.schema.trade import TradeRecord
from tests.utils.trades import make_trade

NOW = 1_796_000_000_000


def _trade(n: int) -> TradeRecord:
    return make_trade(n, trade_time=NOW - 1000 + n, ingest_time=NOW)


def _bronze(n: int, offset: int | None = None) -> BronzeRecord:
    return BronzeRecord(0, n if offset is None else offset, _trade(n).to_json_bytes())


def _silver(n: int, offset: int | None = None, **changes: Any) -> dict[str, Any]:
    trade = _trade(n)
    row = {
        "source": trade.source,
        "symbol": trade.symbol,
        "trade_id": trade.trade_id,
        "price": Decimal(trade.price),
        "quantity": Decimal(trade.quantity),
        "side": trade.side,
        "trade_time_ms": trade.trade_time,
        "ingest_time_ms": trade.ingest_time,
        "schema_version": trade.schema_version,
        "kafka_partition": 0,
        "kafka_offset": n if offset is None else offset,
    }
    return {**row, **changes}


def _layers(bronze: list[BronzeRecord], silver: list[dict], mirror: list[dict] | None = None, **kw: Any) -> Layers:
    return Layers(
        kafka_records=kw.get("kafka_records", len(bronze)),
        bronze=bronze,
        silver=silver,
        quarantine=kw.get("quarantine", []),
        mirror=silver if mirror is None else mirror,
    )


def _identity(n: int) -> tuple[str, str, str]:
    return _trade(n).identity


def test_a_clean_run_with_a_replayed_trade_and_a_bad_record_is_exact() -> None:
    bronze = [_bronze(0), _bronze(1), _bronze(1, offset=2), BronzeRecord(0, 3, b"{broken")]
    result = reconcile(_layers(bronze, [_silver(0), _silver(1)], quarantine=[(0, 3)]), [_identity(0)])
    assert result.exact, result.as_dict()
    assert (result.replayed_duplicates, result.silver_rows, result.quarantine_rows) == (1, 2, 1)


def test_every_kind_of_loss_is_counted() -> None:
    bronze = [_bronze(0), _bronze(1), BronzeRecord(0, 2, None)]  # a tombstone must be quarantined
    result = reconcile(_layers(bronze, [_silver(0)], mirror=[], kafka_records=4), [_identity(0), _identity(1)])
    assert result.bronze_lost == 1  # Kafka holds 4 records, bronze 3
    assert result.silver_lost == 1 and result.quarantine_lost == 1
    assert result.mirror_missing == 1 and result.acknowledged_lost == 1
    assert result.lost == 5 and not result.exact


def test_every_kind_of_double_is_counted() -> None:
    bronze = [_bronze(0), _bronze(0), _bronze(1)]  # the same coordinates twice
    silver = [_silver(0), _silver(1), _silver(1)]
    result = reconcile(_layers(bronze, silver, mirror=[_silver(0), _silver(1), _silver(2)]), [_identity(1)])
    assert result.bronze_doubled == 1 and result.silver_doubled == 1 and result.acknowledged_doubled == 1
    assert result.mirror_extra == 1  # a mirror row Delta silver does not hold
    assert not result.exact


def test_a_mirror_row_that_differs_is_named_by_column() -> None:
    silver = [_silver(0), _silver(1)]
    mirror = [_silver(0), _silver(1, price=Decimal("1.5"), kafka_offset=9)]
    result = reconcile(_layers([_bronze(0), _bronze(1)], silver, mirror), [])
    assert result.mirror_mismatches["price"] == 1 and result.mirror_mismatches["kafka_offset"] == 1
    assert result.mirror_mismatches["quantity"] == 0 and not result.exact


def test_decimals_compare_by_value_not_by_text() -> None:
    silver = [_silver(0, price=Decimal("65000.100000000000000000"))]
    result = reconcile(_layers([_bronze(0)], silver, [_silver(0, price=Decimal("65000.1"))]), [])
    assert result.mirror_mismatches["price"] == 0


def test_the_fault_schedule_is_seeded_complete_and_inside_the_run() -> None:
    options = ChaosOptions(duration_s=600, kills_per_job=5, seed=3)
    faults = fault_schedule(options)
    assert faults == fault_schedule(options)
    kinds = [f.kind for f in faults]
    assert kinds.count("kill") == 10 and {"kafka", "pg_stop", "pg_freeze"} <= set(kinds)
    assert all(0 <= f.at_s <= 600 for f in faults) and faults == sorted(faults, key=lambda f: f.at_s)
    outages = [f.at_s for f in faults if f.kind != "kill"]
    assert min(b - a for a, b in itertools.pairwise(outages)) >= 600 / 4 - 1e-9  # spread out
