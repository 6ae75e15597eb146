"""Read-only data access for the dashboard: one short connection per query, through the reader role.

A missing schema or table (a fresh platform before the first dbt run) is not an error here: the
query answers an empty frame and `missing` names the relation, so the page can say what to run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pandas as pd
import psycopg
import yaml  # type: ignore[import-untyped,unused-ignore]
from psycopg import errors

from lakehouse.gold.dbt import DBT_PROJECT_DIR
from lakehouse.settings import ENV_PREFIX, Settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 15_000


class DashboardConfigError(RuntimeError):
    """The dashboard cannot reach its data with the configuration it has."""


@dataclass
class QueryResult:
    frame: pd.DataFrame
    missing: str | None = None  # the relation that does not exist yet
    columns: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.frame.empty


def reader_dsn(settings: Settings) -> str:
    """The read-only DSN; the writer DSN is never used, so the page cannot change data."""
    if not settings.pg_readonly_dsn:
        raise DashboardConfigError(
            f"{ENV_PREFIX}PG_READONLY_DSN is not set: run `lakehouse infra up` (local) or set it in .env (docker)"
        )
    return settings.pg_readonly_dsn


@lru_cache(maxsize=1)
def forecast_horizon_s() -> int:
    """The forecast horizon the model and gold.model_accuracy_hourly use (dbt var, one source of truth)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return int(project["vars"]["forecast_horizon_s"])


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def query(dsn: str, sql: str, params: dict[str, Any] | None = None) -> QueryResult:
    """Run one read-only query; numeric columns come back as floats (plotly and pandas want floats)."""
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as conn:
            conn.execute(f"set statement_timeout = {STATEMENT_TIMEOUT_MS}")
            conn.execute("set default_transaction_read_only = on")
            cursor = conn.execute(sql, params or {})
            columns = [column.name for column in cursor.description or []]
            rows = [tuple(_plain(value) for value in row) for row in cursor.fetchall()]
    except (errors.UndefinedTable, errors.InvalidSchemaName) as error:
        missing = error.diag.message_primary or str(error)
        log.info("dashboard query on a missing relation: %s", missing)
        return QueryResult(frame=pd.DataFrame(), missing=missing)
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, datetime)).any():
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return QueryResult(frame=frame, columns=columns)
