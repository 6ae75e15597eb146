"""The canonical book records and their JSON Schema files never disagree, and carry recorded messages exactly."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from lakehouse.book.updates import parse_book_ticker, parse_depth_update
from lakehouse.schema.book import (
    SCHEMA_FILES,
    BookTickerRecord,
    DepthUpdateRecord,
    book_ticker_record,
    depth_update_record,
    json_schema,
)
from tests.utils.recordings import stream_messages

RECORDING = "binance_usdm_btcusdt_20240808.gz"


@pytest.mark.parametrize("topic_name", list(SCHEMA_FILES))
def test_committed_json_schema_files_are_generated_from_the_records(topic_name: str) -> None:
    _, path = SCHEMA_FILES[topic_name]
    assert json.loads(path.read_text()) == json.loads(json.dumps(json_schema(topic_name))), (
        f"{path.name} is stale: run `uv run python -m lakehouse.schema.book`"
    )


def test_recorded_messages_become_records_that_their_schema_accepts_digit_for_digit() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    depth_schema, ticker_schema = json_schema("raw-depth"), json_schema("raw-book-ticker")
    for data in itertools.islice(stream_messages(RECORDING, "@depth@0ms"), 200):
        record = depth_update_record(parse_depth_update(data), "binance-futures", 1)
        value = json.loads(record.to_json_bytes())
        jsonschema.validate(value, depth_schema)
        assert value["bids"] == data["b"] and value["asks"] == data["a"]  # the exchange's own strings
        assert (value["first_update_id"], value["final_update_id"], value["previous_final_update_id"]) == (
            data["U"], data["u"], data["pu"]
        )  # fmt: skip
        assert DepthUpdateRecord.model_validate_json(record.to_json_bytes()) == record
    for data in itertools.islice(stream_messages(RECORDING, "@bookTicker"), 200):
        record = book_ticker_record(parse_book_ticker(data), "binance-futures", 1)
        jsonschema.validate(json.loads(record.to_json_bytes()), ticker_schema)
        assert (record.bid_price, record.ask_quantity) == (data["b"], data["A"])
        assert record.kafka_key() == b"BTCUSDT"


def test_a_record_refuses_what_no_book_holds() -> None:
    good = {
        "source": "binance", "symbol": "BTCUSDT", "update_id": 1, "bid_price": "1.0", "bid_quantity": "2",
        "ask_price": "1.1", "ask_quantity": "3", "event_time": None, "ingest_time": 5,
    }  # fmt: skip
    assert BookTickerRecord(**good).schema_version == 1
    for field, value in (("bid_price", "-1"), ("bid_price", "1e5"), ("update_id", -1), ("symbol", "btc/usdt")):
        with pytest.raises(ValidationError, match=field):
            BookTickerRecord(**{**good, field: value})
    assert Decimal(BookTickerRecord(**good).bid_price) == Decimal("1.0")
