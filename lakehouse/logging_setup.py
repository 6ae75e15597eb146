"""Logging for every service: one format, level from LAKEHOUSE_LOG_LEVEL."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str | None = None) -> None:
    if level is None:
        from lakehouse.settings import SettingsError, load_settings

        try:
            level = load_settings().log_level
        except SettingsError:
            level = "INFO"  # logging comes first: the service then reports the bad settings through it
    logging.basicConfig(level=level, format=FORMAT, force=True)
    # py4j and the Kafka client are chatty at INFO.
    for noisy in ("py4j", "kafka", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
