"""The body of `POST /v1/trades`, derived from TradeRecord (never written out a second time).

A client sends the fields of the canonical record it knows (`symbol`, `trade_id`, `price`, `quantity`,
`side`, `trade_time`); the server sets `source` (from the API key), `ingest_time` and `schema_version`.
Each field reuses TradeRecord's own FieldInfo (pattern, bounds, validators). Two input conveniences are
layered in front of them: `trade_time` also accepts ISO 8601, and prices/quantities also accept JSON
numbers, converted through their shortest repr so 0.1 stays "0.1" (never 0.1000000000000000055...).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo
from typing_extensions import TypedDict

from lakehouse.schema.trade import MIN_EVENT_TIME_MS, SCHEMA_VERSION, TradeRecord

CLIENT_FIELDS = ("symbol", "trade_id", "price", "quantity", "side", "trade_time")
SERVER_FIELDS = ("source", "ingest_time", "schema_version")


def _decimal_text(value: Any) -> Any:
    """JSON numbers -> plain decimal strings without float artefacts; strings pass through unchanged."""
    if type(value) is str:  # the common case first: this runs twice per trade
        return value
    if isinstance(value, bool):  # bool is an int: refuse it rather than turn True into "1"
        raise ValueError("must be a decimal string or number, not a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite decimal")
        return format(Decimal(repr(value)), "f")
    return value


def _epoch_millis(value: Any) -> Any:
    """ISO 8601 text -> epoch milliseconds (a naive time is taken as UTC); numbers pass through."""
    if type(value) is int:
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError as error:
            raise ValueError("must be epoch milliseconds or an ISO 8601 date-time") from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return value


_BEFORE = {"price": _decimal_text, "quantity": _decimal_text, "trade_time": _epoch_millis}


def _also_number(schema: dict[str, Any]) -> None:
    """OpenAPI: a decimal string (TradeRecord's pattern) or a positive JSON number."""
    text = {"type": "string", "pattern": schema.pop("pattern")}
    schema.pop("type", None)
    schema["anyOf"] = [text, {"type": "number", "exclusiveMinimum": 0}]


def _also_iso(schema: dict[str, Any]) -> None:
    """OpenAPI: epoch milliseconds or an ISO 8601 date-time."""
    schema.pop("type", None)
    schema["anyOf"] = [{"type": "integer", "minimum": MIN_EVENT_TIME_MS}, {"type": "string", "format": "date-time"}]


_SCHEMA_PATCH = {"price": _also_number, "quantity": _also_number, "trade_time": _also_iso}


def _client_field(name: str) -> tuple[Any, FieldInfo]:
    """TradeRecord's field, plus the input conversion that field accepts over the API."""
    info = TradeRecord.model_fields[name]
    annotation: Any = info.annotation
    before = _BEFORE.get(name)
    if before is not None:
        annotation = Annotated[annotation, BeforeValidator(before)]
    # merge_field_infos keeps TradeRecord's constraints and validators (from its `metadata`).
    field = FieldInfo.merge_field_infos(info)
    if name in _SCHEMA_PATCH:
        field = FieldInfo.merge_field_infos(field, json_schema_extra=_SCHEMA_PATCH[name])
    return annotation, field


TradeIn = cast(
    type[BaseModel],
    create_model(  # type: ignore[call-overload]
        "TradeIn",
        __config__=ConfigDict(extra="forbid", frozen=True, title="TradeIn"),
        __doc__="One trade as a client posts it; `source` and `ingest_time` are set by the server.",
        **{name: _client_field(name) for name in CLIENT_FIELDS},
    ),
)


# The same fields validated into plain dicts: what the API parses bodies into. pydantic-core builds a
# dict per trade more than twice as fast as a model instance, on the path every posted trade takes;
# TradeIn stays the documented model (OpenAPI) and the contract tests hold the two together.
def _dict_field(name: str) -> Any:
    annotation, field = _client_field(name)
    return Annotated[annotation, field]


TradeInDict: Any = TypedDict("TradeInDict", {name: _dict_field(name) for name in CLIENT_FIELDS})  # type: ignore[misc]
TradeInDict.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
_single_adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(TradeInDict)


def batch_adapter(max_items: int) -> TypeAdapter[list[Any]]:
    """Validates a JSON array of trades in one pass (pydantic-core parses and validates together)."""
    batch: Any = Annotated[list[TradeInDict], Field(min_length=1, max_length=max_items)]
    return TypeAdapter(batch)


class BodyInvalid(ValueError):  # noqa: N818 - reads as "the body is invalid"
    """The request body failed validation; `errors` says which item, which field and why."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


def describe_errors(error: ValidationError, *, batch: bool) -> list[dict[str, Any]]:
    """pydantic's errors as {index, field, message}: index is the item's position (0 for a single trade)."""
    described = []
    for item in error.errors(include_url=False, include_input=False):
        loc = list(item["loc"])
        index: int | None = 0
        if batch:
            index = int(loc.pop(0)) if loc and isinstance(loc[0], int) else None
        field = ".".join(str(part) for part in loc) or None
        message = item["msg"]
        if item["type"] == "extra_forbidden" and field in SERVER_FIELDS:
            message = f"{field} is set by the server, not the client"
        described.append({"index": index, "field": field, "message": message, "type": item["type"]})
    return described


def parse_trades(body: bytes, max_items: int, adapter: TypeAdapter[list[Any]] | None = None) -> list[dict[str, Any]]:
    """Parse one object or an array of objects into validated trade dicts; raise BodyInvalid with reasons."""
    start = body.lstrip()[:1]
    if start == b"[":
        try:
            return (adapter or batch_adapter(max_items)).validate_json(body)
        except ValidationError as error:
            raise BodyInvalid(describe_errors(error, batch=True)) from error
    if start == b"{":
        try:
            return [_single_adapter.validate_json(body)]
        except ValidationError as error:
            raise BodyInvalid(describe_errors(error, batch=False)) from error
    reason = "empty body" if not start else "must be a JSON object or an array of objects"
    raise BodyInvalid([{"index": None, "field": None, "message": reason, "type": "body"}])


_PLAIN_TEXT = re.compile(r"[A-Za-z0-9 ._:#@/+-]*\Z").match


def _json_text(value: str) -> str:
    """A JSON string literal, as pydantic writes it (UTF-8, not \\u-escaped); quick for plain ids."""
    if _PLAIN_TEXT(value):
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False)


def record_values(trades: list[dict[str, Any]], source: str, ingest_time_ms: int) -> list[tuple[bytes, bytes]]:
    """(key, value) per validated trade: the value is byte-for-byte what TradeRecord.model_dump_json() writes.

    The trade dicts already passed every TradeRecord constraint on the client fields and `source` comes
    from a validated client name, so building each TradeRecord again would only cost time (this path runs
    for every trade the API takes). symbol, price, quantity and side are pattern- or enum-checked and need
    no escaping; trade_id is free text and is escaped. The contract tests prove the bytes are identical.
    """
    head = '{"source":' + _json_text(source) + ',"symbol":"'
    tail = f',"ingest_time":{int(ingest_time_ms)},"schema_version":{SCHEMA_VERSION}}}'
    return [
        (
            t["symbol"].encode(),
            (
                f'{head}{t["symbol"]}","trade_id":{_json_text(t["trade_id"])},"price":"{t["price"]}",'
                f'"quantity":"{t["quantity"]}","side":"{t["side"]}","trade_time":{t["trade_time"]}{tail}'
            ).encode(),
        )
        for t in trades
    ]


def record_value(trade: dict[str, Any], source: str, ingest_time_ms: int) -> bytes:
    """The Kafka value of one validated trade (see record_values)."""
    return record_values([trade], source, ingest_time_ms)[0][1]
