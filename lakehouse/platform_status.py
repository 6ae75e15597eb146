"""`lakehouse status`: every layer's size, freshness and Kafka lag in one place.

Each probe stands alone: a layer that cannot be read (Kafka down, a table not created yet) says why
in its row, and the others are still reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lakehouse.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerStatus:
    layer: str
    rows: int | None = None
    newest: datetime | None = None  # newest trade / record time the layer holds
    lag: int | None = None  # Kafka records the layer's job has not processed yet
    problem: str = ""  # why a figure is missing; empty when the layer was read

    @property
    def failed(self) -> bool:
        return bool(self.problem) and not self.problem.startswith("not created")


def describe_age(newest: datetime | None, now: datetime) -> str:
    """How long ago `newest` was, in the unit a reader takes in at a glance."""
    if newest is None:
        return "-"
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)  # Spark and PostgreSQL timestamps here are UTC
    seconds = max((now - newest).total_seconds(), 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _probe(layer: str, read: Callable[[], LayerStatus]) -> LayerStatus:
    try:
        return read()
    except Exception as error:  # a status report names every failure and carries on
        log.debug("probing %s failed", layer, exc_info=True)
        reason = str(error) if isinstance(error, UnreachableError) else f"{type(error).__name__}: {error}"
        return LayerStatus(layer, problem=reason.splitlines()[0][:160])


class UnreachableError(RuntimeError):
    """A service did not answer (the message says which, and where)."""


def _kafka_ends(settings: Settings) -> dict[int, int]:
    from lakehouse.dashboard.health import topic_end_offsets
    from lakehouse.local.kafka_broker import broker_healthy

    if not broker_healthy(settings.kafka_bootstrap):
        raise UnreachableError(f"Kafka unreachable at {settings.kafka_bootstrap}")
    return topic_end_offsets(settings.kafka_bootstrap, settings.kafka_topic)


def _kafka(settings: Settings) -> LayerStatus:
    return LayerStatus(f"kafka {settings.kafka_topic}", rows=sum(_kafka_ends(settings).values()))


def _lake(settings: Settings, name: str, job: str | None, kafka_problem: str | None) -> LayerStatus:
    from lakehouse.dashboard.health import consumer_lag
    from lakehouse.lake import LAKE_TABLES, open_table, summarise

    layer, table_name, time_column = LAKE_TABLES[name]
    label = f"{layer}/{table_name} (Delta)"
    table = open_table(settings, layer, table_name)
    if table is None:
        return LayerStatus(label, problem="not created yet")
    summary = summarise(name, table, time_column)
    if job is None:
        return LayerStatus(label, rows=summary.rows, newest=summary.newest)
    if kafka_problem is not None:  # the table was read; only its lag is unknown
        return LayerStatus(label, rows=summary.rows, newest=summary.newest, problem=f"lag unknown: {kafka_problem}")
    return LayerStatus(label, rows=summary.rows, newest=summary.newest, lag=consumer_lag(settings, job).lag)


def _postgres(settings: Settings, table: str, time_column: str) -> LayerStatus:
    import psycopg

    from lakehouse.dashboard.repository import reader_dsn

    with psycopg.connect(reader_dsn(settings), connect_timeout=5) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        if exists is None or exists[0] is None:
            return LayerStatus(f"{table} (PostgreSQL)", problem="not created yet")
        # Identifiers come from our own constants and settings (validated by pattern), never from input.
        row = conn.execute(f"SELECT count(*), max({time_column}) FROM {table}").fetchone()
    assert row is not None
    return LayerStatus(f"{table} (PostgreSQL)", rows=int(row[0]), newest=row[1])


def collect(settings: Settings) -> list[LayerStatus]:
    """One row per layer, in the order data flows through them. Kafka is asked once whether it answers;
    the lag of each stream then comes from that stream's own offsets."""
    kafka = _probe("kafka", lambda: _kafka(settings))
    kafka_problem = kafka.problem or None
    return [
        kafka,
        _probe("bronze", lambda: _lake(settings, "bronze_trades", "bronze", kafka_problem)),
        _probe("silver", lambda: _lake(settings, "silver_trades", "silver", kafka_problem)),
        _probe("quarantine", lambda: _lake(settings, "silver_quarantine", None, kafka_problem)),
        _probe("postgres silver", lambda: _postgres(settings, settings.pg_silver_table, "trade_time")),
        _probe("gold", lambda: _postgres(settings, "gold.candles_1m", "last_trade_time")),
    ]
