"""Bronze stream: Kafka raw-trades -> Delta <lake>/bronze/trades, exactly once. See --help."""

from __future__ import annotations

import sys

from lakehouse.stream.cli import main

if __name__ == "__main__":
    sys.exit(main("bronze"))
