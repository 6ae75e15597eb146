"""Defaults every DAG shares: retries, the failure alert, a fixed tz-aware start date."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
log = logging.getLogger(__name__)


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
    from lakehouse.settings import Settings, SettingsError, load_settings

    try:
        settings = load_settings()
        retries, delay_s = settings.dag_retries, settings.dag_retry_delay_s
    except SettingsError as error:
        # A DAG file that fails to parse disappears from Airflow; its tasks report the bad settings instead.
        log.warning("default retries for the DAGs: %s", error)
        fields = Settings.model_fields
        retries, delay_s = fields["dag_retries"].default, fields["dag_retry_delay_s"].default
    return {
        "owner": "lakehouse",
        "retries": retries,
        "retry_delay": timedelta(seconds=delay_s),
        "on_failure_callback": on_task_failure,
    }
