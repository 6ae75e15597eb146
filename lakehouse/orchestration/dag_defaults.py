"""Defaults every DAG shares: retries, the failure alert, a fixed tz-aware start date."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def on_task_failure(context: dict[str, Any]) -> None:
    """Airflow failure callback: post to the configured webhook (or log when none is set)."""
    from lakehouse.orchestration.alerts import failure_message, send_alert
    from lakehouse.settings import load_settings

    task_instance = context.get("task_instance") or context.get("ti")
    dag_id = getattr(task_instance, "dag_id", "?")
    task_id = getattr(task_instance, "task_id", "?")
    run_id = str(context.get("run_id") or getattr(task_instance, "run_id", "?"))
    log_url = getattr(task_instance, "log_url", None)
    error = context.get("exception") or "see the task log"
    send_alert(load_settings(), failure_message(dag_id, task_id, run_id, error, log_url))


def default_args() -> dict[str, Any]:
    return {
        "owner": "lakehouse",
        "retries": int(os.environ.get("LAKEHOUSE_DAG_RETRIES", "2")),
        "retry_delay": timedelta(seconds=int(os.environ.get("LAKEHOUSE_DAG_RETRY_DELAY_S", "60"))),
        "on_failure_callback": on_task_failure,
    }
