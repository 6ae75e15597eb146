"""Read recorded Binance messages: JSON lines, raw or combined-stream, plain or gzip.

A line is either the message itself (`{...}`) or a receive timestamp, whitespace / a tab / a comma, then
the message (`1732800000123 {...}`; epoch s, ms, µs or ns, epoch seconds with a fraction, or ISO 8601). Replays are
paced by that receive time when present, else by the message's event time (`E`, then `T`).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

_PREFIX = re.compile(r"^\s*(?P<stamp>[^\s,{\[]+)[\s,]+(?P<message>[{\[].*)$", re.DOTALL)
_GZIP_MAGIC = b"\x1f\x8b"


class RecordingError(ValueError):
    """The recording cannot be read at all (missing file, not text)."""


def _open(path: Path) -> IO[str]:
    if not path.is_file():
        raise RecordingError(f"recording {path} does not exist or is not a file")
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


# Integer epoch stamps are told apart by magnitude: any date from 1973 to 5138 has exactly one reading
# among seconds (< 1e11), milliseconds (< 1e14), microseconds (< 1e17) and nanoseconds.
_SECONDS_BELOW = 100_000_000_000
_MILLIS_BELOW = 100_000_000_000_000
_MICROS_BELOW = 100_000_000_000_000_000


def integer_stamp_ms(value: int) -> int:
    """An integer epoch stamp in s, ms, µs or ns (recorders use all four) as epoch ms."""
    if value < _SECONDS_BELOW:
        return value * 1000
    if value < _MILLIS_BELOW:
        return value
    if value < _MICROS_BELOW:
        return value // 1000
    return value // 1_000_000


def parse_stamp(text: str) -> int | None:
    """A receive timestamp as epoch ms: digits (s, ms, µs or ns by magnitude), a decimal (s), or ISO 8601."""
    try:
        if text.isdigit():
            return integer_stamp_ms(int(text))
        return int(float(text) * 1000)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def split_line(line: str) -> tuple[int | None, str]:
    """(receive time ms or None, message text) of one recording line."""
    stripped = line.strip()
    if stripped[:1] in ("{", "["):
        return None, stripped
    match = _PREFIX.match(stripped)
    if match is None:
        return None, stripped  # not a message we know how to read: the parser will call it malformed
    return parse_stamp(match.group("stamp")), match.group("message")


def read_recording(path: Path) -> Iterator[tuple[int | None, str]]:
    """Yield (receive time ms or None, message text) per non-empty line."""
    with _open(path) as lines:
        for line in lines:
            if line.strip():
                yield split_line(line)


def recorded_time_ms(received_ms: int | None, payload: dict[str, Any]) -> int | None:
    """The time a replay paces by: the receive stamp, else the event time of the payload."""
    if received_ms is not None:
        return received_ms
    for key in ("E", "T"):
        value = payload.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None
