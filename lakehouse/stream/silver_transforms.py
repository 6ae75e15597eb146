"""Pure silver transforms (DataFrame -> DataFrame): parse, validate, rank duplicates, type, quarantine.

Input is the Kafka record shape (`key`, `value`, `topic`, `partition`, `offset`, `timestamp`), as read
from Kafka or from bronze. The rules mirror `TradeRecord` and reuse its constants, so a record the API
would reject never reaches silver, and vice versa. Nothing here does I/O, so every rule is unit tested
on tiny DataFrames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, LongType, StringType

from lakehouse.schema.silver import IDENTITY
from lakehouse.schema.trade import (
    DECIMAL_PATTERN,
    MAX_CLOCK_SKEW_MS,
    MAX_EPOCH_MS,
    MAX_SCHEMA_VERSION,
    MIN_EVENT_TIME_MS,
    PRINTABLE_PATTERN,
    SCHEMA_VERSION,
    SOURCE_PATTERN,
    SYMBOL_PATTERN,
    TradeRecord,
    spark_schema,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

DECIMAL_TYPE = "decimal(38,18)"  # 20 integer + 18 fraction digits: exactly what DECIMAL_PATTERN admits
KAFKA_COORDINATES = ("topic", "partition", "offset")
SIDES = ("buy", "sell")
TRADE_ID_MAX_LENGTH = 64
REASON_SEPARATOR = "; "
CONFLICT_REASON = "trade_id: already recorded with a different trade_time (conflicting duplicate)"

# JSON type that schema_of_variant reports for each Spark type of the canonical schema.
_JSON_TYPE: dict[DataType, str] = {StringType(): "STRING", LongType(): "BIGINT"}


def _whole_match(pattern: str) -> str:
    """Python/Rust `$` ends the text; Java's also matches before a final newline, so anchor with \\z."""
    return pattern[:-1] + r"\z" if pattern.endswith("$") else pattern


def _required_fields() -> list[str]:
    return [name for name, info in TradeRecord.model_fields.items() if info.is_required()]


def _rule(failed: Column, reason: Column | str) -> Column:
    return F.when(failed, F.lit(reason))


def _field_rules(now_ms: int) -> list[Column]:
    """One nullable reason per rule, evaluated on the parsed `t` struct (null = the rule holds)."""
    t = F.col("_t")
    price = F.col("_price")
    quantity = F.col("_quantity")
    max_event_ms = now_ms + MAX_CLOCK_SKEW_MS
    rules = [
        # Unreachable through either parse path (both guarantee the fields); a guard, not a diagnosis.
        _rule(F.coalesce(*[t[name].isNull() for name in _required_fields()]), "value: a required field is null"),
        _rule(~t.source.rlike(_whole_match(SOURCE_PATTERN)), "source: must match " + SOURCE_PATTERN),
        _rule(~t.symbol.rlike(_whole_match(SYMBOL_PATTERN)), "symbol: must match " + SYMBOL_PATTERN),
        _rule(
            (F.length(t.trade_id) < 1) | (F.length(t.trade_id) > TRADE_ID_MAX_LENGTH),
            f"trade_id: must be 1..{TRADE_ID_MAX_LENGTH} characters",
        ),
        _rule(
            # Only judged within the length bound: a 200,000-character id is already refused for that.
            F.length(t.trade_id).between(1, TRADE_ID_MAX_LENGTH) & ~t.trade_id.rlike(_whole_match(PRINTABLE_PATTERN)),
            "trade_id: control characters are not allowed",
        ),
        _rule(~t.side.isin(*SIDES), "side: must be one of " + "/".join(SIDES)),
        _rule(t.trade_time < MIN_EVENT_TIME_MS, f"trade_time: before 2000-01-01 ({MIN_EVENT_TIME_MS} ms)"),
        _rule(t.trade_time > max_event_ms, "trade_time: more than 24 hours in the future"),
        _rule(t.ingest_time < 0, "ingest_time: must be >= 0"),
        # Bounded before silver converts them (timestamp_millis, cast to INT), which would fail the batch.
        _rule(t.ingest_time > MAX_EPOCH_MS, f"ingest_time: after 9999-12-31 ({MAX_EPOCH_MS} ms)"),
        _rule(F.coalesce(t.schema_version, F.lit(SCHEMA_VERSION)) < 1, "schema_version: must be >= 1"),
        _rule(t.schema_version > MAX_SCHEMA_VERSION, f"schema_version: must be <= {MAX_SCHEMA_VERSION}"),
    ]
    for name, parsed in (("price", price), ("quantity", quantity)):
        raw = t[name]
        rules.append(_rule(~raw.rlike(_whole_match(DECIMAL_PATTERN)), f"{name}: must be a decimal string"))
        # The comparison first: it is false for every valid row, which then skips a second pattern match.
        rules.append(_rule((parsed <= 0) & raw.rlike(_whole_match(DECIMAL_PATTERN)), f"{name}: must be positive"))
    return rules


def _shape_rules() -> list[Column]:
    """The JSON must be an object with the canonical keys, each of the canonical JSON type."""
    variant = F.col("_variant")
    schema = spark_schema()
    known = F.array(*[F.lit(field.name) for field in schema.fields])
    keys = F.json_object_keys(F.col("_text"))
    rules = [
        _rule(F.col("value").isNull(), "value: null (a tombstone)"),
        _rule(F.col("_text").isNull() & F.col("value").isNotNull(), "value: not UTF-8 text"),
        _rule(variant.isNull() & F.col("_text").isNotNull(), "value: not valid JSON"),
        _rule(variant.isNotNull() & keys.isNull(), "value: JSON is not an object"),
        _rule(
            F.size(F.array_except(keys, known)) > 0,
            F.concat(F.lit("unexpected fields: "), F.array_join(F.array_sort(F.array_except(keys, known)), ",")),
        ),
    ]
    required = set(_required_fields())
    for field in schema.fields:
        json_type = F.expr(f"schema_of_variant(try_variant_get(_variant, '$.{field.name}', 'variant'))")
        expected = _JSON_TYPE[field.dataType]
        present = F.array_contains(keys, field.name)
        if field.name in required:
            rules.append(_rule(keys.isNotNull() & ~present, f"{field.name}: missing"))
        rules.append(
            _rule(
                present & (json_type != expected),
                F.concat(F.lit(f"{field.name}: expected JSON {expected.lower()}, got "), F.lower(json_type)),
            )
        )
    return rules


def canonical_shapes() -> list[str]:
    """schema_of_variant() of a canonical record, with and without the optional fields (keys sort by name)."""
    schema = spark_schema()
    required = set(_required_fields())
    shapes = []
    for include_optional in (False, True):
        fields = sorted((f for f in schema.fields if include_optional or f.name in required), key=lambda f: f.name)
        shapes.append("OBJECT<" + ", ".join(f"{f.name}: {_JSON_TYPE[f.dataType]}" for f in fields) + ">")
    return shapes


def _record_from_variant() -> Column:
    """The canonical record's fields, typed by spark_schema(), read from the already parsed variant.

    The JSON text is parsed once (into the variant, which the shape check needs anyway); field access
    on a variant is a binary lookup, cheaper than a second parse with from_json.
    """
    return F.struct(
        *[
            F.expr(f"try_variant_get(_variant, '$.{field.name}', '{field.dataType.simpleString()}')").alias(field.name)
            for field in spark_schema().fields
        ]
    )


def _reasons(rules: list[Column]) -> Column:
    """The failing rules' reasons joined into one string (null when none fails).

    The coalesce is a cheap "does any rule fail?" test: the array of reasons is only built for rows that
    fail one, instead of an array of nulls for every valid row.
    """
    return F.when(F.coalesce(*rules).isNotNull(), F.array_join(F.array_compact(F.array(*rules)), REASON_SEPARATOR))


# A JSON string as the canonical serialiser writes it: no raw control characters, only JSON escapes.
_JSON_STRING = r'"(?:[^"\\\x00-\x1f]++|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*+"'
# Java's regex engine recurses per repetition of a group: the layout is only tried on texts of a sane
# length (a canonical record is about 250 characters), so no value can exhaust a task's stack.
CANONICAL_MAX_CHARS = 2048
# A JSON integer a long holds (18 digits always fit; longer ones take the general path).
_JSON_LONG = r"-?(?:0|[1-9][0-9]{0,17})"


def canonical_layout() -> str:
    """A regex of a record exactly as TradeRecord serialises it: compact, fields in schema order.

    Every producer of this platform writes that layout, so it is the common case. A value matching it
    is a JSON object with exactly the canonical keys, each of its canonical JSON type: the shape check
    holds by construction, and one typed parse (from_json) reads the fields.
    """
    required = set(_required_fields())
    parts = []
    for index, field in enumerate(spark_schema().fields):
        value = _JSON_STRING if field.dataType == StringType() else _JSON_LONG
        member = ("," if index else "") + f'"{field.name}":{value}'
        if field.name not in required:
            if index == 0:
                raise ValueError("the first canonical field must be required (the layout has no leading comma)")
            member = f"(?:{member})?"
        parts.append(member)
    return r"^\{" + "".join(parts) + r"\}\z"


def validate(raw: DataFrame, now_ms: int) -> DataFrame:
    """Add `_t` (the parsed record), typed `_price`/`_quantity`/`_notional` and `reason` (null when valid).

    `now_ms` bounds future event times (the caller passes the batch time). Two paths, same verdicts:
      - a value in the canonical layout (`canonical_layout()`, nearly every record) has the right shape
        by construction and is read by one typed parse;
      - anything else (other key order, whitespace, wrong types, not JSON) is parsed into a variant,
        whose schema is compared against the canonical shapes; the per-field diagnosis of a bad shape
        is only computed for the rows that have one.
    Each step is its own projection referenced several times, so Spark evaluates it once per row, and
    the variant is only built for values outside the canonical layout.
    """
    # Bytes that are not UTF-8 are quarantined as such rather than parsed into replacement characters.
    text = F.when(F.expr("is_valid_utf8(cast(value AS STRING))"), F.col("value").cast("string"))
    canonical = F.col("_canonical")
    parsed = (
        raw.withColumn("_text", text)
        .withColumn(
            "_canonical",
            F.coalesce(
                (F.length("_text") <= CANONICAL_MAX_CHARS) & F.col("_text").rlike(canonical_layout()), F.lit(False)
            ),
        )
        .withColumn("_variant", F.when(~canonical, F.expr("try_parse_json(_text)")))
        .withColumn(
            "_t", F.when(canonical, F.from_json(F.col("_text"), spark_schema())).otherwise(_record_from_variant())
        )
        .withColumn("_price", F.col("_t.price").try_cast(DECIMAL_TYPE))
        .withColumn("_quantity", F.col("_t.quantity").try_cast(DECIMAL_TYPE))
        .withColumn("_notional", F.try_multiply(F.col("_price"), F.col("_quantity")).try_cast(DECIMAL_TYPE))
    )
    shape_ok = canonical | F.expr("schema_of_variant(_variant)").isin(*canonical_shapes())
    overflow = _rule(
        F.col("_price").isNotNull() & F.col("_quantity").isNotNull() & F.col("_notional").isNull(),
        "notional: price x quantity overflows DECIMAL(38,18)",
    )
    # Field rules are only meaningful once the shape is right (a wrong type already says why).
    reason = F.when(shape_ok, _reasons([*_field_rules(now_ms), overflow])).otherwise(_reasons(_shape_rules()))
    return parsed.withColumn("reason", reason).drop("_text", "_canonical", "_variant")


def _identity_columns() -> list[Column]:
    return [F.col(f"_t.{name}").alias(name) for name in IDENTITY]


def identity_hash() -> Column:
    """A 64-bit hash of a valid row's identity (null for invalid rows): a narrow key for finding repeats."""
    return F.when(F.col("reason").isNull(), F.xxhash64(*[F.col(f"_t.{name}") for name in IDENTITY]))


def repeated_hashes(hashes: pa.Array | pa.ChunkedArray) -> list[int]:
    """Hash values that occur more than once (pure; nulls ignored). Usually none.

    Equal hashes are candidates, not verdicts: the caller confirms them on the identities themselves,
    so a (vanishingly rare) collision costs a lookup, never a wrong deduplication.
    """
    import pyarrow.compute as pc

    counts = pc.value_counts(hashes.drop_null())
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    return [int(value) for value in repeated.field("values").to_pylist()]


def repeated_identities(valid: DataFrame) -> DataFrame:
    """Identities occurring more than once in the batch, with their `copies` (usually none): a narrow aggregate."""
    return (
        valid.select(*_identity_columns())
        .groupBy(*IDENTITY)
        .agg(F.count(F.lit(1)).alias("copies"))
        .where(F.col("copies") > 1)
    )


def first_copies(valid: DataFrame) -> DataFrame:
    """rank_duplicates() for a batch without repeated identities: every row is its identity's first copy."""
    return valid.withColumn("dup_rank", F.lit(1)).withColumn("_first_trade_time", F.col("_t.trade_time"))


def rank_duplicates(valid: DataFrame, repeated: DataFrame) -> DataFrame:
    """Add `dup_rank` (1 = first copy of the identity in Kafka order) and the first copy's `_first_trade_time`.

    Earliest Kafka coordinates win, so the choice is the same on every replay of the batch. Only rows
    of `repeated` identities (pass it broadcast: it is small) go through the sorting window; the rest
    are first copies by definition.
    """
    keyed = valid.select("*", *[c.alias(f"_id_{name}") for c, name in zip(_identity_columns(), IDENTITY, strict=True)])
    keys = [f"_id_{name}" for name in IDENTITY]
    repeated = repeated.select(*IDENTITY).toDF(*keys)
    singles = (
        keyed.join(repeated, keys, "left_anti")
        .withColumn("dup_rank", F.lit(1))
        .withColumn("_first_trade_time", F.col("_t.trade_time"))
    )
    by_identity = Window.partitionBy(*keys).orderBy(*[F.col(name) for name in KAFKA_COORDINATES])
    copies = (
        keyed.join(repeated, keys, "left_semi")
        .withColumn("dup_rank", F.row_number().over(by_identity))
        .withColumn("_first_trade_time", F.first(F.col("_t.trade_time")).over(by_identity))
    )
    return singles.unionByName(copies).drop(*keys)


def conflicting_duplicates(ranked: DataFrame) -> DataFrame:
    """Later copies of an identity that disagree on trade_time: not a harmless replay, so quarantine them."""
    return ranked.where((F.col("dup_rank") > 1) & (F.col("_t.trade_time") != F.col("_first_trade_time"))).withColumn(
        "reason", F.lit(CONFLICT_REASON)
    )


def to_silver(first_copies: DataFrame, processed_at_ms: int) -> DataFrame:
    """Typed silver rows (plus the raw `value`/`key` kept for a possible quarantine of a conflict)."""
    t = F.col("_t")
    trade_time = F.timestamp_millis(t.trade_time)
    return first_copies.select(
        t.source.alias("source"),
        t.symbol.alias("symbol"),
        t.trade_id.alias("trade_id"),
        F.col("_price").alias("price"),
        F.col("_quantity").alias("quantity"),
        F.col("_notional").alias("notional"),
        t.side.alias("side"),
        trade_time.alias("trade_time"),
        F.to_date(trade_time).alias("trade_date"),
        F.timestamp_millis(t.ingest_time).alias("ingest_time"),
        (t.ingest_time - t.trade_time).alias("ingest_latency_ms"),
        F.coalesce(t.schema_version, F.lit(SCHEMA_VERSION)).cast("int").alias("schema_version"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.timestamp_millis(F.lit(processed_at_ms)).alias("processed_at"),
        F.col("value"),
        F.col("key"),
    )


def quarantine_rows(rejected: DataFrame, quarantined_at_ms: int) -> DataFrame:
    """Quarantine shape: the raw value unchanged, the reason and the Kafka coordinates."""
    has_coordinates = "topic" in rejected.columns
    prefix = "" if has_coordinates else "kafka_"
    return rejected.select(
        F.col("value"),
        F.col("key"),
        F.col("reason"),
        F.col(f"{prefix}topic").alias("kafka_topic"),
        F.col(f"{prefix}partition").alias("kafka_partition"),
        F.col(f"{prefix}offset").alias("kafka_offset"),
        F.col(f"{prefix}timestamp").alias("kafka_timestamp"),
        F.timestamp_millis(F.lit(quarantined_at_ms)).alias("quarantined_at"),
    )


def exact_resends(candidates: DataFrame, existing: DataFrame) -> DataFrame:
    """(identity, trade_time_ms) of candidates that `existing` (the pruned silver lookup) already holds.

    Only the key columns take part, so the batch's rows are not shuffled to find the (usually zero)
    re-sends. Event times travel as epoch milliseconds, free of any time zone.
    """
    keys = [*IDENTITY, "trade_time_ms"]
    with_ms = F.unix_millis(F.col("trade_time")).alias("trade_time_ms")
    # The batch's keys are broadcast: the silver side is scanned in place, nothing is shuffled.
    batch_keys = F.broadcast(candidates.select(*IDENTITY, with_ms))
    return existing.select(*IDENTITY, with_ms).join(batch_keys, keys, "left_semi")
