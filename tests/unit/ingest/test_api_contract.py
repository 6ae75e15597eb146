"""The API body model is TradeRecord's client fields, with the same constraints (derived, not copied)."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from lakehouse.ingest.api_models import (
    CLIENT_FIELDS,
    SERVER_FIELDS,
    BodyInvalid,
    TradeIn,
    TradeInDict,
    parse_trades,
    record_value,
    record_values,
)
from lakehouse.schema.trade import DECIMAL_PATTERN, SYMBOL_PATTERN, TradeRecord

NOW = int(time.time() * 1000)


def valid(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "symbol": "TSLA", "trade_id": "1", "price": "250.10", "quantity": "3", "side": "sell", "trade_time": NOW,
    }  # fmt: skip
    body.update(overrides)
    return body


def test_fields_are_the_records_fields_minus_the_server_ones_in_the_same_order() -> None:
    assert tuple(TradeIn.model_fields) == CLIENT_FIELDS
    assert [f for f in TradeRecord.model_fields if f not in SERVER_FIELDS] == list(CLIENT_FIELDS)
    assert set(CLIENT_FIELDS) | set(SERVER_FIELDS) == set(TradeRecord.model_fields)


def test_each_field_carries_the_records_constraints_and_description() -> None:
    for name in CLIENT_FIELDS:
        api_field, record_field = TradeIn.model_fields[name], TradeRecord.model_fields[name]
        assert api_field.description == record_field.description, name
        assert api_field.is_required(), name
        # Every constraint object of the record (patterns, lengths, validators) is on the API field too.
        for constraint in record_field.metadata:
            assert constraint in api_field.metadata, (name, constraint)
    schema = TradeIn.model_json_schema()["properties"]
    assert schema["symbol"]["pattern"] == SYMBOL_PATTERN
    assert schema["price"]["anyOf"][0]["pattern"] == DECIMAL_PATTERN
    assert schema["side"]["enum"] == ["buy", "sell"]
    assert TradeIn.model_config["extra"] == "forbid"
    assert TradeInDict.__pydantic_config__["extra"] == "forbid"  # what bodies are parsed into


@pytest.mark.parametrize(
    "bad",
    [
        {"symbol": "tsla"}, {"symbol": ""}, {"trade_id": ""}, {"trade_id": "x" * 65}, {"price": "0"},
        {"price": "-1"}, {"price": "1e3"}, {"quantity": "0.0"}, {"side": "long"}, {"trade_time": 1},
        {"trade_time": NOW + 2 * 86_400_000},
    ],
)  # fmt: skip
def test_what_the_record_rejects_the_api_rejects(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TradeRecord(**valid(**bad), source="api:x", ingest_time=NOW)
    with pytest.raises(ValidationError):
        TradeIn(**valid(**bad))
    with pytest.raises(BodyInvalid):  # the path request bodies take
        parse_trades(json.dumps([valid(**bad)]).encode(), 10)


@given(
    price=st.decimals(min_value="0.00000001", max_value="1e9", places=8, allow_nan=False),
    quantity=st.integers(min_value=1, max_value=10**9),
)
def test_what_the_api_accepts_becomes_a_valid_record_with_identical_json(price: object, quantity: int) -> None:
    [trade] = parse_trades(json.dumps(valid(price=f"{price:f}", quantity=quantity)).encode(), 10)
    value = record_value(trade, "api:acme", NOW)
    record = TradeRecord.model_validate_json(value)  # full validation of what goes to Kafka
    assert record.to_json_bytes() == value  # byte-identical to the canonical serialisation
    assert record.price == f"{price:f}" and record.quantity == str(quantity)


PRINTABLE = st.characters(exclude_categories=("Cc", "Cs"))  # what TradeRecord admits in a trade_id


@given(
    trade_id=st.text(PRINTABLE, min_size=1, max_size=64),
    client=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True),
)
def test_fast_serialisation_is_byte_identical_for_any_trade_id(trade_id: str, client: str) -> None:
    [trade] = parse_trades(json.dumps(valid(trade_id=trade_id)).encode(), 10)
    [(key, value)] = record_values([trade], f"api:{client}", NOW)
    expected = TradeRecord(**trade, source=f"api:{client}", ingest_time=NOW)
    assert value == expected.to_json_bytes()  # escaping of quotes, backslashes, control and non-ASCII chars
    assert key == expected.kafka_key()


@pytest.mark.parametrize("trade_id", ["7\x001", "a\tb", "line\n", "\x7f"])
def test_control_characters_in_trade_id_are_refused_naming_the_field(trade_id: str) -> None:
    # A NUL once passed here with 202, then failed every silver batch at PostgreSQL's COPY (issue 15).
    with pytest.raises(BodyInvalid) as refused:
        parse_trades(json.dumps(valid(trade_id=trade_id)).encode(), 10)
    assert refused.value.errors[0]["field"] == "trade_id", refused.value.errors


@pytest.mark.parametrize(
    ("number", "text"), [(0.1, "0.1"), (65000.12, "65000.12"), (1e-7, "0.0000001"), (3, "3"), (2.5e3, "2500.0")]
)
def test_json_numbers_become_decimal_strings_without_float_artefacts(number: float, text: str) -> None:
    [trade] = parse_trades(json.dumps(valid(price=number)).encode(), 10)
    assert trade["price"] == text


@pytest.mark.parametrize(
    ("value", "millis"),
    [
        ("2026-01-02T03:04:05.678Z", 1767323045678),
        ("2026-01-02T03:04:05.678+01:00", 1767319445678),
        ("2026-01-02T03:04:05.678", 1767323045678),  # naive: UTC
        ("1767323045678", 1767323045678),
        (1767323045678, 1767323045678),
    ],
)
def test_trade_time_accepts_epoch_ms_or_iso_8601(value: object, millis: int) -> None:
    assert TradeIn(**valid(trade_time=value)).trade_time == millis
    assert parse_trades(json.dumps([valid(trade_time=value)]).encode(), 10)[0]["trade_time"] == millis


def test_booleans_and_non_finite_numbers_are_refused_with_a_reason() -> None:
    for bad, reason in [(True, "boolean"), (float("inf"), "finite")]:
        with pytest.raises(ValidationError, match=reason):
            TradeIn(**valid(price=bad))
