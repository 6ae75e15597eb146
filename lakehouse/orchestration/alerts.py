"""Failure alerts: post to a Slack- or Telegram-compatible webhook, or log loudly when none is set."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from lakehouse.settings import Settings

log = logging.getLogger(__name__)


def alert_payload(url: str, text: str, telegram_chat_id: str | None) -> dict[str, Any]:
    """Slack incoming webhooks take {"text"}; Telegram's sendMessage takes {"chat_id", "text"}."""
    if "api.telegram.org" in url or telegram_chat_id:
        return {"chat_id": telegram_chat_id, "text": text}
    return {"text": text}


def failure_message(dag_id: str, task_id: str, run_id: str, error: object, log_url: str | None) -> str:
    lines = [f":rotating_light: Airflow task failed: {dag_id}.{task_id}", f"run: {run_id}", f"error: {error}"]
    if log_url:
        lines.append(f"log: {log_url}")
    return "\n".join(lines)


def send_alert(settings: Settings, text: str, timeout_s: float = 10.0) -> bool:
    """Post `text`; True when a webhook accepted it. Never raises: an alert must not mask the failure."""
    url = settings.alert_webhook_url
    if not url:
        log.error("ALERT (no LAKEHOUSE_ALERT_WEBHOOK_URL set): %s", text)
        return False
    try:
        response = httpx.post(url, json=alert_payload(url, text, settings.alert_telegram_chat_id), timeout=timeout_s)
    except httpx.HTTPError as error:
        log.error("could not post alert to the webhook (%s): %s", error, text)
        return False
    ok = response.is_success
    if not ok:
        log.error("webhook answered %s to the alert: %s", response.status_code, text)
    return ok
