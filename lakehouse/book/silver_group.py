"""What the silver book job does with one symbol's records of one micro-batch (pure; Spark calls it per group).

Input: the records of the three book topics for one (source, symbol), as (kind, raw JSON value, Kafka
coordinates). Each is validated against its canonical record (`lakehouse.schema.book`); a record that
fails goes to quarantine with the reason. Book tickers are published in update-id order, each once
(a re-sent or older ticker is dropped: the state keeps the newest id). Diffs and snapshots feed the
symbol's `BookBuilder`, whose rows and events are published. The state is the builder's JSON and the
newest ticker id; everything is deterministic in the input, so a replayed batch publishes the same rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from lakehouse.book.builder import BookBuilder, BookEvent, BookRow
from lakehouse.book.updates import DepthSnapshot, DepthUpdate, Level
from lakehouse.schema.book import BookTickerRecord, DepthSnapshotRecord, DepthUpdateRecord

RecordKind = Literal["ticker", "diff", "snapshot"]
OutputKind = Literal["book", "ticker", "event", "quarantine"]
MODELS: dict[RecordKind, type[BaseModel]] = {
    "ticker": BookTickerRecord,
    "diff": DepthUpdateRecord,
    "snapshot": DepthSnapshotRecord,
}


@dataclass(frozen=True)
class InputRecord:
    kind: RecordKind
    value: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp_ms: int


@dataclass(frozen=True)
class GroupState:
    builder_json: str | None
    last_ticker_id: int  # -1: none yet


@dataclass(frozen=True)
class Output:
    """One row of the job's output, whichever table it goes to (`kind` says which)."""

    kind: OutputKind
    time_ms: int | None = None  # book: the second; ticker: event time (ingest time on spot); event: diff time
    update_id: int | None = None
    count: int | None = None  # book: diffs applied in the second
    bids: str | None = None  # book: top levels as JSON [[price, quantity], ...]
    asks: str | None = None
    detail: str | None = None  # ticker: its canonical JSON; event: kind and description; quarantine: reason
    record: InputRecord | None = None  # quarantine: the raw record


def reason_of(error: ValidationError) -> str:
    """The first failing field and why, as quarantine reasons read elsewhere (`field: message`)."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "value"
    return f"{field}: {first['msg']}"


def validate(record: InputRecord) -> BaseModel | str:
    """The canonical record, or the reason it is refused."""
    if record.value is None:
        return "value: a tombstone (no value)"
    try:
        parsed = MODELS[record.kind].model_validate_json(record.value)
    except ValidationError as error:
        return reason_of(error)
    if isinstance(parsed, BookTickerRecord) and Decimal(parsed.bid_price) >= Decimal(parsed.ask_price):
        return "bid_price: not below ask_price (a crossed or locked top of book)"
    if isinstance(parsed, DepthUpdateRecord) and parsed.first_update_id > parsed.final_update_id:
        return "first_update_id: after final_update_id"
    return parsed


def _levels(levels: list[list[str]]) -> tuple[Level, ...]:
    return tuple((Decimal(price), Decimal(quantity)) for price, quantity in levels)


def to_update(record: DepthUpdateRecord) -> DepthUpdate:
    return DepthUpdate(
        record.symbol,
        record.first_update_id,
        record.final_update_id,
        record.previous_final_update_id,
        record.event_time,
        _levels(record.bids),
        _levels(record.asks),
    )


def to_snapshot(record: DepthSnapshotRecord) -> DepthSnapshot:
    return DepthSnapshot(record.symbol, record.last_update_id, _levels(record.bids), _levels(record.asks))


def _levels_json(levels: tuple[Level, ...]) -> str:
    return json.dumps([[format(price, "f"), format(quantity, "f")] for price, quantity in levels])


def book_output(row: BookRow) -> Output:
    depth = {"bid": row.bid_depth, "ask": row.ask_depth}
    detail = {"last_event_ms": row.last_event_ms, **{f"{side}_depth": _number(v) for side, v in depth.items()}}
    return Output(
        "book", row.second_ms, row.last_update_id, row.updates, _levels_json(row.bids), _levels_json(row.asks),
        detail=json.dumps(detail),
    )  # fmt: skip


def _number(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def event_output(event: BookEvent) -> Output:
    return Output("event", event.event_ms, event.update_id, detail=f"{event.kind}: {event.detail}")


def process_group(symbol: str, records: list[InputRecord], state: GroupState | None) -> tuple[list[Output], GroupState]:
    """One symbol's batch: the rows to publish and the state to keep."""
    builder = BookBuilder.from_json(state.builder_json) if state and state.builder_json else BookBuilder(symbol)
    last_ticker_id = state.last_ticker_id if state else -1
    outputs: list[Output] = []
    tickers: list[BookTickerRecord] = []
    diffs: list[DepthUpdate] = []
    snapshots: list[DepthSnapshot] = []
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        parsed = validate(record)
        if isinstance(parsed, str):
            outputs.append(Output("quarantine", detail=parsed, record=record))
        elif isinstance(parsed, BookTickerRecord):
            tickers.append(parsed)
        elif isinstance(parsed, DepthUpdateRecord):
            diffs.append(to_update(parsed))
        elif isinstance(parsed, DepthSnapshotRecord):
            snapshots.append(to_snapshot(parsed))
    for ticker in sorted(tickers, key=lambda t: t.update_id):
        if ticker.update_id > last_ticker_id:  # older or re-sent tickers say nothing new
            last_ticker_id = ticker.update_id
            time_ms = ticker.event_time if ticker.event_time is not None else ticker.ingest_time
            outputs.append(Output("ticker", time_ms, ticker.update_id, detail=ticker.model_dump_json()))
    rows, events = builder.feed(diffs, snapshots)
    outputs += [book_output(row) for row in rows]
    outputs += [event_output(event) for event in events]
    return outputs, GroupState(builder.to_json(), last_ticker_id)


def output_dict(output: Output, source: str | None, symbol: str | None) -> dict[str, Any]:
    """The flat row Spark receives (one schema for every kind)."""
    record = output.record
    return {
        "kind": output.kind,
        "source": source,
        "symbol": symbol,
        "time_ms": output.time_ms,
        "update_id": output.update_id,
        "count": output.count,
        "bids": output.bids,
        "asks": output.asks,
        "detail": output.detail,
        "value": record.value if record else None,
        "kafka_topic": record.topic if record else None,
        "kafka_partition": record.partition if record else None,
        "kafka_offset": record.offset if record else None,
        "kafka_timestamp_ms": record.timestamp_ms if record else None,
    }
