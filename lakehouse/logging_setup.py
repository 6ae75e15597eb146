"""Logging for every service: one format, level from LAKEHOUSE_LOG_LEVEL."""

from __future__ import annotations

import logging
import os

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str | None = None) -> None:
    logging.basicConfig(level=level or os.environ.get("LAKEHOUSE_LOG_LEVEL", "INFO"), format=FORMAT, force=True)
    # py4j and the Kafka client are chatty at INFO.
    for noisy in ("py4j", "kafka", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
