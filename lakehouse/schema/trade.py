"""The canonical trade record: the value of every message on Kafka `raw-trades`.

`TradeRecord` is the single definition. The API body model (`lakehouse.ingest.api_models`), the Spark
StructType (`spark_schema`) and the JSON Schema file for Kafka consumers (`schemas/trade.schema.json`,
`json_schema`) are all derived from it; `tests/unit/test_trade_contract.py` fails if they disagree.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from lakehouse.paths import REPO_ROOT

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

SCHEMA_VERSION = 1
JSON_SCHEMA_PATH = REPO_ROOT / "schemas" / "trade.schema.json"

SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9._-]{0,31}$"
SOURCE_PATTERN = r"^[a-z][a-z0-9_-]*(:[A-Za-z0-9][A-Za-z0-9_.-]{0,63})?$"
DECIMAL_PATTERN = r"^[0-9]{1,20}(\.[0-9]{1,18})?$"

# Event times before 2000-01-01 or more than a day ahead of now are not trades we believe in.
MIN_EVENT_TIME_MS = 946_684_800_000
MAX_CLOCK_SKEW_MS = 24 * 3600 * 1000
# 9999-12-31T23:59:59.999Z: the last instant every reader of silver represents (Python's datetime,
# PostgreSQL, Spark, whose microsecond timestamps overflow a long at 2^63 / 1000 ms). A time beyond it
# would fail every silver batch that holds it at the conversion, so it is refused before.
MAX_EPOCH_MS = 253_402_300_799_999
# schema_version is an INT column in silver: a larger number would fail the cast.
MAX_SCHEMA_VERSION = 2**31 - 1
# Identifiers are printable text: a NUL or another control character breaks PostgreSQL's text type
# (NUL is refused there) and every log line or CSV it reaches. Java and Rust regexes both read this.
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]+$"


def _positive_decimal(value: str) -> str:
    """Prices and quantities travel as decimal strings so nothing is rounded before silver.

    Runs after DECIMAL_PATTERN, which admits only plain, finite, non-negative decimals: what is left to
    refuse is zero, a text of zeros and at most one point. (No Decimal() here: this runs twice for every
    trade the API takes, and the string test is several times cheaper.)
    """
    if not value.strip("0."):
        raise ValueError("must be a positive, finite decimal")
    return value


def _sane_event_time(value: int) -> int:
    now_ms = int(time.time() * 1000)
    if value < MIN_EVENT_TIME_MS:
        raise ValueError(f"epoch milliseconds before 2000-01-01 ({MIN_EVENT_TIME_MS})")
    if value > now_ms + MAX_CLOCK_SKEW_MS:
        raise ValueError("more than 24 hours in the future")
    return value


DecimalString = Annotated[
    str,
    Field(pattern=DECIMAL_PATTERN, json_schema_extra={"format": "decimal"}),
    AfterValidator(_positive_decimal),
]
EpochMillis = Annotated[int, Field(ge=0, le=MAX_EPOCH_MS, json_schema_extra={"format": "epoch-millis"})]
EventTimeMillis = Annotated[int, Field(json_schema_extra={"format": "epoch-millis"}), AfterValidator(_sane_event_time)]
Side = Literal["buy", "sell"]


class TradeRecord(BaseModel):
    """One executed trade, as every producer writes it to Kafka."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="TradeRecord")

    source: str = Field(pattern=SOURCE_PATTERN, description="Origin, e.g. `binance` or `api:<client>`")
    symbol: str = Field(pattern=SYMBOL_PATTERN, description="Upper-case instrument, e.g. BTCUSDT, TSLA")
    trade_id: str = Field(
        min_length=1, max_length=64, pattern=PRINTABLE_PATTERN, description="Unique per (source, symbol)"
    )
    price: DecimalString = Field(description="Execution price as a decimal string")
    quantity: DecimalString = Field(description="Executed quantity as a decimal string")
    side: Side = Field(description="Taker side")
    trade_time: EventTimeMillis = Field(description="Event time, epoch milliseconds")
    ingest_time: EpochMillis = Field(description="When the platform received it, epoch milliseconds")
    schema_version: int = Field(
        SCHEMA_VERSION, ge=1, le=MAX_SCHEMA_VERSION, description="Version of this record's schema"
    )

    @property
    def identity(self) -> tuple[str, str, str]:
        """A trade is identified by (source, symbol, trade_id)."""
        return (self.source, self.symbol, self.trade_id)

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def kafka_key(self) -> bytes:
        return self.symbol.encode()


def field_names() -> tuple[str, ...]:
    return tuple(TradeRecord.model_fields)


def _base_type(annotation: Any) -> Any:
    """Strip Annotated[...] to the Python type; Literal[...] of strings counts as str."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) is Literal:
        return type(get_args(annotation)[0])
    return annotation


def spark_schema() -> StructType:
    """The Spark StructType of the Kafka JSON value, derived from TradeRecord.

    Decimals stay strings here: silver casts them to DECIMAL, so the JSON parser never rounds them.
    """
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    spark_types = {str: StringType(), int: LongType()}
    fields = []
    for name, info in TradeRecord.model_fields.items():
        python_type = _base_type(info.annotation)
        if python_type not in spark_types:
            raise TypeError(f"no Spark type for TradeRecord.{name}: {python_type!r}")
        fields.append(StructField(name, spark_types[python_type], nullable=True))
    return StructType(fields)


def json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) for consumers of `raw-trades`."""
    schema = TradeRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:lakehouse:raw-trades:trade:v{SCHEMA_VERSION}"
    return schema


def write_json_schema(path: Path = JSON_SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    return path


def now_ms() -> int:
    return int(time.time() * 1000)
