"""The canonical record, its Spark schema and its JSON Schema file must never disagree."""

import json

import pytest
from pydantic import ValidationError

from lakehouse.schema.trade import JSON_SCHEMA_PATH, TradeRecord, json_schema, spark_schema
from tests.utils.trades import make_trade

_JSON_TO_SPARK = {"string": "string", "integer": "bigint"}


def test_committed_json_schema_file_is_generated_from_the_record() -> None:
    committed = json.loads(JSON_SCHEMA_PATH.read_text())
    assert committed == json.loads(json.dumps(json_schema())), (
        "schemas/trade.schema.json is stale: run `python -c 'from lakehouse.schema.trade import write_json_schema;"
        " write_json_schema()'`"
    )


def test_spark_schema_and_json_schema_have_the_record_fields_in_order_with_matching_types() -> None:
    record_fields = list(TradeRecord.model_fields)
    spark_fields = spark_schema().fields
    properties = json_schema()["properties"]
    assert [f.name for f in spark_fields] == record_fields
    assert list(properties) == record_fields
    for spark_field in spark_fields:
        json_type = properties[spark_field.name].get("type") or "string"  # enums (side) are strings
        assert _JSON_TO_SPARK[json_type] == spark_field.dataType.simpleString(), spark_field.name


def test_every_field_but_schema_version_is_required() -> None:
    assert set(json_schema()["required"]) == set(TradeRecord.model_fields) - {"schema_version"}


def test_json_schema_validates_what_the_record_serialises() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    trade = make_trade()
    jsonschema.validate(json.loads(trade.to_json_bytes()), json.loads(JSON_SCHEMA_PATH.read_text()))


def test_decimals_survive_the_round_trip_as_exact_strings() -> None:
    trade = make_trade(price="0.00000001", quantity="123456789.123456789")
    decoded = TradeRecord.model_validate_json(trade.to_json_bytes())
    assert decoded.price == "0.00000001"
    assert decoded.quantity == "123456789.123456789"
    assert decoded == trade


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "0"),
        ("price", "-1"),
        ("price", "1e5"),
        ("price", "NaN"),
        ("quantity", "abc"),
        ("side", "long"),
        ("symbol", "btc usdt"),
        ("symbol", "btcusdt"),
        ("trade_time", 12),
        ("source", "API:Foo"),
        ("trade_id", ""),
    ],
)
def test_invalid_values_are_rejected_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as error:
        make_trade(**{field: value})
    assert field in {str(e["loc"][0]) for e in error.value.errors()}


def test_unknown_fields_are_rejected_on_the_wire() -> None:
    payload = json.loads(make_trade().to_json_bytes())
    payload["price_float"] = 1.0
    with pytest.raises(ValidationError, match="price_float"):
        TradeRecord.model_validate(payload)


def test_identity_and_key() -> None:
    trade = make_trade(symbol="TSLA", source="api:acme", trade_id="42")
    assert trade.identity == ("api:acme", "TSLA", "42")
    assert trade.kafka_key() == b"TSLA"
