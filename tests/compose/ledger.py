"""The compose stack's ledger, read as a user can: Kafka's offsets, Delta bronze and silver on MinIO,
PostgreSQL's mirror; and trades posted through the API. Shared by the compose scenario and the fault
runs (bench/compose_faults.py)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection
from typing import Any

import boto3
import httpx
from deltalake import DeltaTable

from tests.compose.stack import ComposeStack, wait_for

API = "http://127.0.0.1:8000"
TOPIC = "raw-trades"
API_SYMBOL = "TSLA"


def lake_table(stack: ComposeStack, name: str) -> DeltaTable:
    """A Delta table of the lake on MinIO, read from the host through MinIO's published port, as the
    lake's read-only user (the dashboard's)."""
    env = stack.env
    options = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": env["S3_READER_ACCESS_KEY"],
        "AWS_SECRET_ACCESS_KEY": env["S3_READER_SECRET_KEY"],
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    return DeltaTable(f"s3://{env.get('LAKE_BUCKET', 'lakehouse')}/lake/{name}", storage_options=options)


def s3(stack: ComposeStack, user: str) -> Any:
    """A boto3 S3 client of one MinIO user (WRITER, READER or MLFLOW) through the published port."""
    return boto3.client("s3", endpoint_url="http://127.0.0.1:9000", region_name="us-east-1",
                        aws_access_key_id=stack.env[f"S3_{user}_ACCESS_KEY"],
                        aws_secret_access_key=stack.env[f"S3_{user}_SECRET_KEY"])  # fmt: skip


# Kafka has no listener on the host (docker-compose.yaml): count from inside the compose network.
KAFKA_COUNT = f"""
from confluent_kafka import Consumer, TopicPartition
consumer = Consumer({{"bootstrap.servers": "kafka:9092", "group.id": "compose-test-count"}})
partitions = consumer.list_topics("{TOPIC}", timeout=30).topics["{TOPIC}"].partitions
offsets = [consumer.get_watermark_offsets(TopicPartition("{TOPIC}", p), timeout=30) for p in partitions]
print(sum(high - low for low, high in offsets))
"""


def kafka_total(stack: ComposeStack) -> int:
    """Records on raw-trades (end offsets; nothing is ever deleted), read in the API's container."""
    return int(stack.exec("ingestion-api", "python", "-c", KAFKA_COUNT, timeout_s=120).stdout.strip())


def bronze_coordinates(stack: ComposeStack) -> tuple[int, int]:
    """(rows, distinct Kafka coordinates) of bronze."""
    table = lake_table(stack, "bronze/trades").to_pyarrow_table(columns=["partition", "offset"])
    return table.num_rows, len(set(zip(table["partition"].to_pylist(), table["offset"].to_pylist(), strict=True)))


def silver_identities(stack: ComposeStack) -> tuple[int, int]:
    """(rows, distinct trade identities) of silver."""
    table = lake_table(stack, "silver/trades").to_pyarrow_table(columns=["source", "symbol", "trade_id"])
    columns = [table[name].to_pylist() for name in ("source", "symbol", "trade_id")]
    return table.num_rows, len(set(zip(*columns, strict=True)))


def api_key(stack: ComposeStack) -> str:
    key = stack.env["COMPANY_API_KEY"]
    assert hashlib.sha256(key.encode()).hexdigest() in stack.env["API_KEYS"]
    return key


def post_trades(stack: ComposeStack, count: int, first_id: int) -> list[str]:
    now_ms = int(time.time() * 1000)
    trades = [
        {"symbol": API_SYMBOL, "trade_id": str(first_id + i), "price": f"{250 + i * 0.01:.2f}", "quantity": "1.5",
         "side": "buy" if i % 2 else "sell", "trade_time": now_ms - (count - i) * 10}
        for i in range(count)
    ]  # fmt: skip
    response = httpx.post(f"{API}/v1/trades", json=trades, headers={"X-API-Key": api_key(stack)}, timeout=30)
    assert response.status_code == 202, response.text
    return [trade["trade_id"] for trade in trades]


def settled(
    stack: ComposeStack, timeout_s: float = 240, symbol: str = API_SYMBOL, trade_ids: Collection[str] = ()
) -> int:
    """Wait until bronze holds every Kafka record once, PostgreSQL mirrors silver, and every trade of
    `trade_ids` (of `symbol`) has reached it; return the Kafka total.

    Without the ids there is no telling a caught-up silver from one still behind (a restarted job's
    first batch can take a minute), so every check of what was posted passes them."""
    wanted = set(trade_ids)
    # The ids are compared here, not sent in the SQL: thousands of them exceed the kernel's limit on
    # one argument of `docker exec` (128 KiB).
    arrived_sql = f"SELECT DISTINCT trade_id FROM silver.trades WHERE symbol = '{symbol}'"

    def probe() -> int | None:
        total = kafka_total(stack)
        rows, distinct = bronze_coordinates(stack)
        assert rows == distinct, f"bronze holds a Kafka record twice ({rows} rows, {distinct} coordinates)"
        if wanted and not wanted <= {row[0] for row in stack.psql(arrived_sql)}:
            return None
        mirrored = int(stack.psql("SELECT count(*) FROM silver.trades")[0][0])
        silver_rows, identities = silver_identities(stack)
        assert silver_rows == identities, f"silver holds a trade twice ({silver_rows} rows, {identities} trades)"
        return total if rows == total and mirrored == silver_rows else None

    return wait_for(f"bronze to equal Kafka and silver to settle with {len(wanted)} posted trades", probe, timeout_s)
