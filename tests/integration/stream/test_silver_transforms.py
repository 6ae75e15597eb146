"""The silver transforms on tiny DataFrames: the same verdicts as TradeRecord, exact decimals, first copy wins."""

from __future__ import annotations

import json
import re
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from lakehouse.schema.silver import QUARANTINE_COLUMNS
from lakehouse.schema.trade import MAX_CLOCK_SKEW_MS, MAX_EPOCH_MS, MIN_EVENT_TIME_MS, TradeRecord
from lakehouse.stream import silver_transforms as st
from tests.utils.trades import make_trade

NOW_MS = int(time.time() * 1000)


def trade_dict(n: int = 0, **overrides: Any) -> dict[str, Any]:
    payload = json.loads(make_trade(n).to_json_bytes())
    payload.update(overrides)
    return payload


def without(key: str) -> dict[str, Any]:
    payload = trade_dict()
    del payload[key]
    return payload


# (case, raw value, expected reason fragment or None when valid)
CASES: list[tuple[str, Any, str | None]] = [
    ("valid", trade_dict(), None),
    ("valid without schema_version", without("schema_version"), None),
    ("valid api source", trade_dict(source="api:acme-corp"), None),
    ("max precision", trade_dict(price="99999999999999999999.999999999999999999"), None),
    ("lower-case symbol", trade_dict(symbol="btcusdt"), "symbol: must match"),
    ("symbol with trailing newline", trade_dict(symbol="BTCUSDT\n"), "symbol: must match"),
    ("bad source", trade_dict(source="Binance!"), "source: must match"),
    ("zero price", trade_dict(price="0"), "price: must be positive"),
    ("zero quantity", trade_dict(quantity="0.000"), "quantity: must be positive"),
    ("negative price", trade_dict(price="-1.5"), "price: must be a decimal string"),
    ("exponent price", trade_dict(price="1e5"), "price: must be a decimal string"),
    ("19 decimals", trade_dict(quantity="0.0000000000000000001"), "quantity: must be a decimal string"),
    ("21 integer digits", trade_dict(price="1" * 21), "price: must be a decimal string"),
    ("price as JSON number", trade_dict(price=1.5), "price: expected JSON string"),
    ("unknown side", trade_dict(side="BUY"), "side: must be one of"),
    ("empty trade_id", trade_dict(trade_id=""), "trade_id: must be 1..64"),
    ("long trade_id", trade_dict(trade_id="x" * 65), "trade_id: must be 1..64"),
    ("trade before 2000", trade_dict(trade_time=MIN_EVENT_TIME_MS - 1), "trade_time: before 2000"),
    ("trade next week", trade_dict(trade_time=NOW_MS + 7 * MAX_CLOCK_SKEW_MS), "more than 24 hours"),
    ("negative ingest_time", trade_dict(ingest_time=-1), "ingest_time: must be >= 0"),
    ("schema_version 0", trade_dict(schema_version=0), "schema_version: must be >= 1"),
    ("extra field", trade_dict(venue="x"), "unexpected fields: venue"),
    ("missing symbol", without("symbol"), "symbol: missing"),
    ("null side", trade_dict(side=None), "side: expected JSON string, got void"),
    ("not JSON", "not json {", "value: not valid JSON"),
    ("JSON array", [1, 2], "value: JSON is not an object"),
    ("not UTF-8", b"\xff\xfe{}", "value: not UTF-8 text"),
    ("tombstone", None, "value: null (a tombstone)"),
    # Each of these once failed every silver batch that held it (issue 15): refused before any cast.
    ("NUL in trade_id", trade_dict(trade_id="7\x001"), "trade_id: control characters"),
    ("tab in trade_id", trade_dict(trade_id="7\t1"), "trade_id: control characters"),
    ("DEL in trade_id", trade_dict(trade_id="7\x7f"), "trade_id: control characters"),
    ("unicode trade_id", trade_dict(trade_id="trade-é-7"), None),
    ("ingest_time overflows micros", trade_dict(ingest_time=9223372036854776), "ingest_time: after 9999-12-31"),
    ("ingest_time after 9999", trade_dict(ingest_time=MAX_EPOCH_MS + 1), "ingest_time: after 9999-12-31"),
    ("ingest_time at the limit", trade_dict(ingest_time=MAX_EPOCH_MS), None),
    ("schema_version beyond INT", trade_dict(schema_version=2**31), "schema_version: must be <= 2147483647"),
    ("schema_version INT max", trade_dict(schema_version=2**31 - 1), None),
]


def pydantic_verdict(raw: Any) -> bool:
    try:
        TradeRecord.model_validate_json(
            raw if isinstance(raw, bytes) else json.dumps(raw) if not isinstance(raw, str) else raw
        )
    except (ValidationError, UnicodeDecodeError):
        return False
    return True


def compact(raw: Any) -> Any:
    """The canonical layout (no spaces, keys in order) of a JSON-able case; other cases unchanged."""
    return json.dumps(raw, separators=(",", ":")) if isinstance(raw, dict | list) else raw


@pytest.mark.parametrize("layout", ["spaced", "canonical"])
def test_verdicts_match_trade_record_and_reasons_name_the_rule(kafka_frame, layout: str) -> None:
    # Spaced JSON takes the general (variant) path, compact JSON in field order the canonical fast path:
    # both must give TradeRecord's verdict and the same reasons.
    values = [raw if layout == "spaced" else compact(raw) for _, raw, _ in CASES]
    checked = st.validate(kafka_frame(values), NOW_MS)
    reasons = {row.offset: row.reason for row in checked.select("offset", "reason").collect()}
    assert len(reasons) == len(CASES)  # nothing dropped
    for offset, (case, raw, expected) in enumerate(CASES):
        reason = reasons[offset]
        assert (reason is None) == pydantic_verdict(raw), f"{case}: Spark says {reason!r}, TradeRecord disagrees"
        if expected is None:
            assert reason is None, case
        else:
            assert reason is not None and expected in reason, f"{case}: {reason!r}"


def test_canonical_layout_is_what_trade_record_writes() -> None:
    layout = re.compile(st.canonical_layout().replace(r"\z", r"\Z"))
    tricky = make_trade(trade_id='quote " backslash \\ slash / caf\u00e9 \u2028 \U0001f600')
    for record in (make_trade(), tricky, make_trade(schema_version=7)):
        assert layout.match(record.model_dump_json()), record
    canonical = make_trade().model_dump_json()
    for other in (
        json.dumps(json.loads(canonical)),  # spaces
        canonical.replace('"trade_time":', '"trade_time": '),
        canonical.replace(',"schema_version":1', ',"schema_version":1,"venue":"x"'),
        canonical.replace('"source":"binance","symbol":"BTCUSDT"', '"symbol":"BTCUSDT","source":"binance"'),
        canonical + "\n",
        canonical.replace('"quantity":"0.00150000"', '"quantity":0.0015'),
        canonical.replace(',"schema_version":1', ',"schema_version":1234567890123456789'),  # 19 digits
    ):
        assert not layout.match(other), other


def test_huge_values_are_judged_not_crashed_on(kafka_frame) -> None:
    # Java's regex engine recurses per repetition: a huge string of escapes must not blow a task's stack.
    huge = make_trade().model_dump_json().replace('"trade_id":"1000000"', '"trade_id":"' + "\\n" * 200_000 + '"')
    (row,) = st.validate(kafka_frame([huge]), NOW_MS).select("reason").collect()
    assert row.reason == "trade_id: must be 1..64 characters"


def test_every_failing_rule_is_reported(kafka_frame) -> None:
    checked = st.validate(kafka_frame([trade_dict(price="0", side="hold", symbol="b")]), NOW_MS)
    reason = checked.first().reason
    assert reason.split(st.REASON_SEPARATOR) == [
        "symbol: must match " + "^[A-Z0-9][A-Z0-9._-]{0,31}$",
        "side: must be one of buy/sell",
        "price: must be positive",
    ]


def test_to_silver_types_exact_decimals_and_coordinates(kafka_frame) -> None:
    payload = trade_dict(price="65000.123456789012345678", quantity="0.5", trade_time=1_767_323_045_123)
    payload["ingest_time"] = payload["trade_time"] + 250
    checked = st.validate(kafka_frame([(payload, 2, 41)]), NOW_MS)
    row = st.to_silver(checked, processed_at_ms=NOW_MS).first()
    assert row.price == Decimal("65000.123456789012345678")  # no float on the way
    assert row.notional == Decimal("32500.061728")  # DECIMAL(38,18) x DECIMAL(38,18) keeps 6 decimals
    assert row.quantity == Decimal("0.5")
    assert row.trade_date == date(2026, 1, 2)
    assert row.trade_time.timestamp() == pytest.approx(1_767_323_045.123)
    assert row.ingest_latency_ms == 250
    assert (row.kafka_topic, row.kafka_partition, row.kafka_offset) == ("raw-trades", 2, 41)
    assert row.schema_version == 1
    assert row.value == json.dumps(payload).encode()  # kept for a later quarantine


def test_first_copy_in_kafka_order_wins_and_conflicts_are_separated(kafka_frame) -> None:
    first = trade_dict(7, trade_time=NOW_MS - 5000)
    same = dict(first)  # a harmless replay
    moved = {**first, "trade_time": NOW_MS - 4000}  # same identity, another event time
    other = trade_dict(8)
    records = [(same, 1, 10), (first, 0, 99), (moved, 2, 5), (other, 0, 100)]
    valid = st.validate(kafka_frame(records), NOW_MS)
    repeated = st.repeated_identities(valid)
    assert [tuple(r) for r in repeated.collect()] == [("binance", "BTCUSDT", first["trade_id"], 3)]
    ranked = st.rank_duplicates(valid, repeated)
    assert ranked.count() == len(records)
    winners = {(r._t.trade_id, r.partition, r.offset) for r in ranked.where("dup_rank = 1").collect()}
    assert winners == {(first["trade_id"], 0, 99), (other["trade_id"], 0, 100)}
    conflicts = st.conflicting_duplicates(ranked).collect()
    assert [(c.partition, c.offset, c.reason) for c in conflicts] == [(2, 5, st.CONFLICT_REASON)]


def test_quarantine_rows_keep_raw_value_and_coordinates(kafka_frame) -> None:
    raw = b'{"symbol": "BTCUSDT", "price": '
    checked = st.validate(kafka_frame([(raw, 1, 3)]), NOW_MS)
    row = st.quarantine_rows(checked, NOW_MS).first()
    assert tuple(row.asDict()) == QUARANTINE_COLUMNS
    assert row.value == raw and row.key == b"BTCUSDT"
    assert (row.kafka_topic, row.kafka_partition, row.kafka_offset) == ("raw-trades", 1, 3)
    assert row.reason == "value: not valid JSON"


def test_exact_resends_match_identity_and_trade_time(kafka_frame) -> None:
    one, two, three = trade_dict(1), trade_dict(2), trade_dict(3, symbol="ETHUSDT")
    candidates = st.to_silver(st.validate(kafka_frame([one, two, three]), NOW_MS), NOW_MS)
    known = st.to_silver(
        st.validate(
            kafka_frame([one, {**two, "trade_time": two["trade_time"] - 1}, {**three, "symbol": "BTCUSDT"}]), NOW_MS
        ),
        NOW_MS,
    )
    found = {(r.symbol, r.trade_id) for r in st.exact_resends(candidates, known).collect()}
    # 1 is a re-send; 2 moved in time (a conflict for the mirror to catch); 3 is another symbol.
    assert found == {("BTCUSDT", "1000001")}


def test_repeated_hashes_are_the_only_duplicate_candidates(kafka_frame) -> None:
    import pyarrow as pa

    values = [trade_dict(1), trade_dict(2), trade_dict(1), "not json", trade_dict(3, source="api:acme"), trade_dict(3)]
    checked = st.validate(kafka_frame(values), NOW_MS)
    hashes = checked.select(st.identity_hash().alias("h")).toArrow().column(0)
    assert hashes.null_count == 1  # the invalid row has no identity
    (repeated,) = st.repeated_hashes(hashes)  # trade 1 twice; trade 3 of two sources is two identities
    assert repeated == hashes[0].as_py() == hashes[2].as_py()
    assert st.repeated_hashes(pa.chunked_array([pa.array([5, None, None, 7], pa.int64())])) == []
