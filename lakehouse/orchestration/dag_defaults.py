"""Defaults every DAG shares: retries, the failure alert, a fixed tz-aware start date, and the
timetable of the long-period DAGs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
log = logging.getLogger(__name__)


def from_next_tick(cron: str) -> CronTriggerTimetable:
    """Run at each `cron` tick from the next one on, never for the tick just past.

    With a start date and catchup off, Airflow runs the newest past tick as soon as the DAG appears:
    on a fresh `docker compose up` a weekly retrain and a daily OPTIMIZE would start at once, on an
    empty lake, beside the streams' first batches. A DAG using this timetable takes no start date."""
    from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

    return CronTriggerTimetable(cron, timezone="UTC", run_immediately=False)


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
