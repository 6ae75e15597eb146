"""Exact reconciliation after a chaos run: what Kafka holds against bronze, silver, quarantine and PostgreSQL.

Pure functions over plain rows (the chaos harness reads them from Kafka, Delta and PostgreSQL), so the
arithmetic is unit-tested on tiny inputs. A run passes when nothing was lost and nothing doubled:

- bronze holds every Kafka record exactly once (Kafka = bronze, by partition and offset);
- every valid record's trade identity is in silver exactly once, every invalid record is quarantined
  once, and silver + quarantine + duplicates = bronze;
- PostgreSQL's mirror equals Delta silver on MIRRORED_COLUMNS;
- every trade the API acknowledged with 202 is in silver exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import ValidationError

from lakehouse.schema.trade import TradeRecord

Identity = tuple[str, str, str]  # (source, symbol, trade_id)
Coordinates = tuple[int, int]  # (kafka partition, offset)

# The columns the mirror must match Delta silver on: the trade itself and where it came from in Kafka.
# Not compared: processed_at and the stream query/batch stamps, which record *when and by which attempt*
# a row was written (a batch replayed after a crash is a new attempt), and predicted_price/model_version,
# which are null in a chaos run (no champion).
MIRRORED_COLUMNS = (
    "price",
    "quantity",
    "side",
    "trade_time_ms",
    "ingest_time_ms",
    "schema_version",
    "kafka_partition",
    "kafka_offset",
)


@dataclass(frozen=True)
class BronzeRecord:
    partition: int
    offset: int
    value: bytes | None


@dataclass
class Reconciliation:
    kafka_records: int = 0
    bronze_rows: int = 0
    bronze_doubled: int = 0  # rows beyond the first at the same Kafka coordinates
    bronze_lost: int = 0  # Kafka records with no bronze row
    valid_records: int = 0
    distinct_trades: int = 0
    replayed_duplicates: int = 0  # valid records whose trade an earlier record already carried
    silver_rows: int = 0
    silver_doubled: int = 0
    silver_lost: int = 0  # distinct valid trades missing from silver
    silver_unexpected: int = 0  # silver rows no valid bronze record explains
    quarantine_rows: int = 0
    quarantine_doubled: int = 0
    quarantine_lost: int = 0
    mirror_rows: int = 0
    mirror_missing: int = 0  # silver rows without a mirror row
    mirror_extra: int = 0
    mirror_mismatches: dict[str, int] = field(default_factory=dict)  # per column in MIRRORED_COLUMNS
    acknowledged: int = 0
    acknowledged_lost: int = 0
    acknowledged_doubled: int = 0

    @property
    def lost(self) -> int:
        return self.bronze_lost + self.silver_lost + self.quarantine_lost + self.mirror_missing + self.acknowledged_lost

    @property
    def doubled(self) -> int:
        return (
            self.bronze_doubled + self.silver_doubled + self.quarantine_doubled + self.mirror_extra
            + self.acknowledged_doubled
        )  # fmt: skip

    @property
    def exact(self) -> bool:
        balanced = self.silver_rows + self.quarantine_rows + self.replayed_duplicates == self.bronze_rows
        return (
            self.lost == 0
            and self.doubled == 0
            and self.silver_unexpected == 0
            and not any(self.mirror_mismatches.values())
            and self.bronze_rows == self.kafka_records
            and balanced
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lost": self.lost, "doubled": self.doubled, "exact": self.exact}


def trade_identity(value: bytes | None) -> Identity | None:
    """The identity of a record silver accepts (the same rules as the API), None for one it quarantines."""
    if value is None:
        return None
    try:
        record = TradeRecord.model_validate_json(value)
    except ValidationError:
        return None
    return record.identity


@dataclass
class Layers:
    """What the run left behind. Silver and mirror rows hold `source`, `symbol`, `trade_id` and
    MIRRORED_COLUMNS (times as epoch milliseconds)."""

    kafka_records: int
    bronze: list[BronzeRecord]
    silver: list[Mapping[str, Any]]
    quarantine: list[Coordinates]
    mirror: list[Mapping[str, Any]]


def reconcile(layers: Layers, acknowledged: Iterable[Identity]) -> Reconciliation:
    """Compare every layer with the one it is built from."""
    kafka_records = layers.kafka_records
    result = Reconciliation(kafka_records=kafka_records)

    bronze_rows = layers.bronze
    result.bronze_rows = len(bronze_rows)
    coordinates = Counter((r.partition, r.offset) for r in bronze_rows)
    result.bronze_doubled = sum(n - 1 for n in coordinates.values())
    result.bronze_lost = max(0, kafka_records - len(coordinates))

    first_at: dict[Coordinates, bytes | None] = {}
    for row in bronze_rows:
        first_at.setdefault((row.partition, row.offset), row.value)
    valid: Counter[Identity] = Counter()
    invalid: set[Coordinates] = set()
    for where, value in first_at.items():
        identity = trade_identity(value)
        if identity is None:
            invalid.add(where)
        else:
            valid[identity] += 1
    result.valid_records = sum(valid.values())
    result.distinct_trades = len(valid)
    result.replayed_duplicates = result.valid_records - result.distinct_trades

    silver_list = layers.silver
    silver_rows = {_identity(row): row for row in silver_list}
    silver_counts = Counter(_identity(row) for row in silver_list)
    result.silver_rows = len(silver_list)
    result.silver_doubled = sum(n - 1 for n in silver_counts.values())
    result.silver_lost = len(valid.keys() - silver_counts.keys())
    result.silver_unexpected = len(silver_counts.keys() - valid.keys())

    quarantined = Counter(layers.quarantine)
    result.quarantine_rows = sum(quarantined.values())
    result.quarantine_doubled = sum(n - 1 for n in quarantined.values())
    result.quarantine_lost = len(invalid - quarantined.keys())

    mirror_rows = layers.mirror
    result.mirror_rows = len(mirror_rows)
    mirrored = {_identity(row): row for row in mirror_rows}
    result.mirror_extra = len(mirror_rows) - len(mirrored) + len(mirrored.keys() - silver_rows.keys())
    result.mirror_missing = len(silver_rows.keys() - mirrored.keys())
    result.mirror_mismatches = {
        column: sum(
            1 for key, row in silver_rows.items() if key in mirrored and mirrored[key].get(column) != row.get(column)
        )
        for column in MIRRORED_COLUMNS
    }

    acked = set(acknowledged)
    result.acknowledged = len(acked)
    result.acknowledged_lost = len(acked - silver_counts.keys())
    result.acknowledged_doubled = sum(1 for identity in acked if silver_counts.get(identity, 0) > 1)
    return result


def _identity(row: Mapping[str, Any]) -> Identity:
    return (str(row["source"]), str(row["symbol"]), str(row["trade_id"]))
