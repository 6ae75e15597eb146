"""Map Binance trade messages onto the canonical record.

Binance sends `{"e":"trade","E":..,"s":"BTCUSDT","t":12345,"p":"0.001","q":"100","T":..,"m":true,"M":true}`;
the combined stream wraps it as `{"stream":"btcusdt@trade","data":{...}}`. Older messages also carry
`b` and `a` (buyer and seller order ids). `m` ("is the buyer the market maker") true means the taker sold.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from lakehouse.schema.trade import SCHEMA_VERSION, TradeRecord

BINANCE_SOURCE = "binance"
_REQUIRED = ("s", "t", "p", "q", "T", "m")


class MalformedMessage(ValueError):  # noqa: N818 - reads as "a malformed message", the thing raised
    """A frame that claims to be a trade but cannot become a TradeRecord."""


def unwrap(message: dict[str, Any]) -> dict[str, Any]:
    """Return the payload of a combined-stream envelope, or the message itself."""
    if "stream" in message and isinstance(message.get("data"), dict):
        return message["data"]
    return message


def is_trade_payload(payload: dict[str, Any]) -> bool:
    return payload.get("e") == "trade"


def _whole_number(payload: dict[str, Any], key: str) -> int:
    """An integer field: a JSON integer or a text of digits. A float is refused, never truncated (12.7 is
    not trade 12, and 1e400 is infinity, where int() raises OverflowError)."""
    value = payload[key]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise MalformedMessage(f"field {key} must be an integer, got {value!r:.40}")


def to_trade_record(payload: dict[str, Any], ingest_time_ms: int) -> TradeRecord:
    """Map one Binance trade payload; unknown extra fields are ignored."""
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise MalformedMessage(f"trade message lacks field(s) {missing}")
    if not isinstance(payload["m"], bool):
        raise MalformedMessage(f"field m must be a boolean, got {payload['m']!r}")
    try:
        return TradeRecord(
            source=BINANCE_SOURCE,
            symbol=str(payload["s"]).upper(),
            trade_id=str(_whole_number(payload, "t")),
            price=str(payload["p"]),
            quantity=str(payload["q"]),
            side="sell" if payload["m"] else "buy",
            trade_time=_whole_number(payload, "T"),
            ingest_time=ingest_time_ms,
            schema_version=SCHEMA_VERSION,
        )
    except (ValidationError, TypeError, ValueError) as error:
        raise MalformedMessage(f"trade message is invalid: {error}") from error


def decode_payload(raw: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """The payload of one frame (unwrapped from its combined-stream envelope).

    Raises MalformedMessage for frames that are not JSON objects.
    """
    if isinstance(raw, dict):
        message = raw
    else:
        try:
            message = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: [[[[...
            raise MalformedMessage(f"frame is not JSON: {error}") from error
    if not isinstance(message, dict):
        raise MalformedMessage(f"frame is not a JSON object: {type(message).__name__}")
    return unwrap(message)


def parse_message(raw: str | bytes | dict[str, Any], ingest_time_ms: int) -> TradeRecord | None:
    """Parse one frame: a TradeRecord for a trade, None for another stream (book ticker, depth, ...).

    Raises MalformedMessage for frames that are not JSON objects or are broken trades.
    """
    payload = decode_payload(raw)
    if not is_trade_payload(payload):
        return None
    return to_trade_record(payload, ingest_time_ms)
