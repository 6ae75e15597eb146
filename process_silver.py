"""Silver stream: Kafka raw-trades -> Delta silver + quarantine + PostgreSQL silver.trades. See --help."""

from __future__ import annotations

import sys

from lakehouse.stream.cli import main

if __name__ == "__main__":
    sys.exit(main("silver"))
