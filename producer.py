"""Binance producer: live combined-stream trades (or a recording) into Kafka `raw-trades`. See --help."""

from __future__ import annotations

import sys

from lakehouse.ingest.exchange_feed import main
from lakehouse.logging_setup import configure_logging
from lakehouse.settings import SettingsError, load_settings

if __name__ == "__main__":
    configure_logging()
    try:
        settings = load_settings()
    except SettingsError as error:
        sys.exit(f"error: {error}")
    sys.exit(main(settings))
