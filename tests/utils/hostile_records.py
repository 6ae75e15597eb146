"""Hypothesis strategies for what may arrive on `raw-trades`: valid trades, broken ones, and plain junk.

Shared by the silver property test and the API fuzz test. Values are bytes (or None, a tombstone), as
Kafka carries them. The verdict oracle is TradeRecord itself in strict mode: the JSON types must be
exactly the canonical ones, as silver's shape check demands.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError

from lakehouse.schema.trade import MAX_EPOCH_MS, MIN_EVENT_TIME_MS, TradeRecord

# Numbers at the edges of every type a field passes through (Spark INT and BIGINT, microsecond
# timestamps, PostgreSQL, Python's datetime) and just beyond them.
EDGE_INTEGERS = (
    0,
    -1,
    1,
    2**31 - 1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    9_223_372_036_854_776,  # ms whose microseconds overflow a long: it once failed every silver batch
    MAX_EPOCH_MS,
    MAX_EPOCH_MS + 1,
    MIN_EVENT_TIME_MS - 1,
    10**40,
)

# Characters that have broken text handling somewhere: NUL (PostgreSQL), other controls, DEL, lone
# surrogates (not Unicode scalars; json.dumps writes them as \ud800 escapes), quotes and backslashes.
AWKWARD_CHARACTERS = '\x00\t\n\r\x1b\x7f"\\/\u2028\ufeff\ud800\udc00é😀'

hostile_text = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(AWKWARD_CHARACTERS)), max_size=80
) | st.sampled_from(["", "x" * 65, "7" * 70_000, "1e5", "-1.5", "0", "0.000", "NaN", "99999999999999999999.9"])

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(EDGE_INTEGERS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


def _valid_trade(n: int, source: str, now_ms: int) -> dict[str, Any]:
    return {
        "source": source,
        "symbol": "FUZZUSDT",
        "trade_id": f"t{n}",
        "price": f"{100 + n % 50}.{n % 100:02d}",
        "quantity": "0.5",
        "side": "buy" if n % 2 else "sell",
        "trade_time": now_ms - 60_000 + n,
        "ingest_time": now_ms,
        "schema_version": 1,
    }


def _encode(payload: Any, spaced: bool) -> bytes:
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(payload, separators=separators).encode()


@st.composite
def hostile_batch(draw: st.DrawFn, source: str) -> list[bytes | None]:
    """A batch of Kafka values: mostly trades of `source`, many broken on one field, some junk and repeats."""
    now_ms = int(time.time() * 1000)
    values: list[bytes | None] = []
    for n in range(draw(st.integers(min_value=5, max_value=40))):
        trade = _valid_trade(n, source, now_ms)
        kind = draw(st.sampled_from(["valid", "valid", "field", "field", "field", "drop", "extra", "junk", "repeat"]))
        spaced = draw(st.booleans())  # compact JSON in field order takes silver's fast path, spaced the other
        if kind == "valid":
            values.append(_encode(trade, spaced))
        elif kind == "field":
            name = draw(st.sampled_from(sorted(trade)))
            trade[name] = draw(json_values)
            values.append(_encode(trade, spaced))
        elif kind == "drop":
            del trade[draw(st.sampled_from(sorted(trade)))]
            values.append(_encode(trade, spaced))
        elif kind == "extra":
            trade[draw(hostile_text)] = draw(json_scalars)
            values.append(_encode(trade, spaced))
        elif kind == "repeat" and values:
            earlier = values[draw(st.integers(min_value=0, max_value=len(values) - 1))]
            if earlier is not None and draw(st.booleans()):
                values.append(earlier)  # an exact re-send
            else:
                moved = _valid_trade(draw(st.integers(min_value=0, max_value=n)), source, now_ms)
                moved["trade_time"] += draw(st.integers(min_value=0, max_value=2))  # a conflict, or a re-send
                values.append(_encode(moved, spaced))
        else:
            values.append(
                draw(
                    st.one_of(
                        st.none(),  # a tombstone
                        st.binary(max_size=60),  # anything, mostly not UTF-8
                        json_values.map(lambda value: _encode(value, False)),  # JSON, not a trade
                        st.just(b"[" * 5000 + b"]" * 5000),  # deeper than any JSON parser's limit
                        st.just(b'{"source": ' * 3000 + b"1" + b"}" * 3000),
                    )
                )
            )
    return values


def oracle_valid(value: bytes | None) -> TradeRecord | None:
    """TradeRecord's verdict (strict JSON types, like silver's shape check); None when refused."""
    if value is None:
        return None
    try:
        return TradeRecord.model_validate_json(value, strict=True)
    except (ValidationError, ValueError):
        return None


def expected_outcome(values: list[bytes | None]) -> tuple[set[int], set[int], set[int]]:
    """(silver, quarantine, dropped re-sends) offsets for a batch on a fresh lake, by TradeRecord's rules.

    Silver keeps the first copy of each identity in Kafka order; a later copy with the same trade_time is
    a harmless re-send (counted, dropped), one with another trade_time a conflict (quarantined).
    """
    silver: set[int] = set()
    quarantine: set[int] = set()
    resends: set[int] = set()
    first_time: dict[tuple[str, str, str], int] = {}
    for offset, value in enumerate(values):
        record = oracle_valid(value)
        if record is None:
            quarantine.add(offset)
        elif record.identity not in first_time:
            first_time[record.identity] = record.trade_time
            silver.add(offset)
        elif first_time[record.identity] == record.trade_time:
            resends.add(offset)
        else:
            quarantine.add(offset)
    return silver, quarantine, resends
