"""Gold book analytics equal an independent rebuild of the book from the raw recording (real Kafka, Spark,
PostgreSQL, dbt): the recorded futures depth goes through silver's stateful rebuild and the PostgreSQL
mirror into dbt's book_1s, book_1m and book_sequence_health, and each figure is recomputed here in
pandas from the recorded messages alone, with none of the platform's book code."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import psycopg
import pytest

from lakehouse.book.updates import DepthSnapshot, parse_depth_update
from lakehouse.gold.dbt import build_gold
from lakehouse.kafka.admin import ensure_book_topics
from lakehouse.schema.book import depth_snapshot_record, depth_update_record
from lakehouse.settings import Settings
from lakehouse.stream.silver import run_silver
from tests.integration.stream.conftest import produce
from tests.utils.recordings import recorded_messages

FUTURES = "binance_usdm_btcusdt_20240808.gz"
DIFFS = 2_500  # of the recording's 6,551: about 2.5 minutes of book
TWELVE = Decimal("1e-12")


def independent_seconds(snapshot: dict, diffs: list[dict]) -> pd.DataFrame:
    """The book at the end of every second, rebuilt from the raw messages with plain dicts (futures rule:
    drop diffs with u < lastUpdateId, apply the rest in order; the recorded chain is unbroken)."""
    bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
    asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
    rows, second = [], None

    def record(at_second: int) -> None:
        best_bid, best_ask = max(bids), min(asks)
        mid = (best_bid + best_ask) / 2
        rows.append(
            {
                "book_time": pd.Timestamp(at_second, unit="s", tz="UTC"),
                "best_bid": best_bid,
                "best_ask": best_ask,
                "bid_qty": bids[best_bid],
                "ask_qty": asks[best_ask],
                "bid_depth": sum((q for p, q in bids.items() if p >= mid * Decimal("0.999")), Decimal(0)),
                "ask_depth": sum((q for p, q in asks.items() if p <= mid * Decimal("1.001")), Decimal(0)),
            }
        )

    for diff in diffs:
        if diff["u"] < snapshot["lastUpdateId"]:
            continue
        diff_second = diff["E"] // 1000
        if second is not None and diff_second > second:
            for quiet in range(second, diff_second):
                record(quiet)
        second = diff_second
        for side, levels in ((bids, diff["b"]), (asks, diff["a"])):
            for price, quantity in levels:
                if Decimal(quantity) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(quantity)
    frame = pd.DataFrame(rows)
    frame["mid"] = (frame["best_bid"] + frame["best_ask"]) / 2
    frame["spread"] = frame["best_ask"] - frame["best_bid"]
    frame["microprice"] = [
        ((b * aq + a * bq) / (bq + aq)).quantize(TWELVE, ROUND_HALF_UP)
        for b, a, bq, aq in zip(frame["best_bid"], frame["best_ask"], frame["bid_qty"], frame["ask_qty"], strict=True)
    ]
    frame["depth_imbalance"] = [
        ((b - a) / (b + a)).quantize(TWELVE, ROUND_HALF_UP)
        for b, a in zip(frame["bid_depth"], frame["ask_depth"], strict=True)
    ]
    previous = frame.shift(1)
    ofi = []
    for now, before, gap in zip(frame.itertuples(), previous.itertuples(), frame["book_time"].diff(), strict=True):
        if pd.isna(gap) or gap != pd.Timedelta(seconds=1):
            ofi.append(None)
            continue
        ofi.append(
            (now.bid_qty if now.best_bid >= before.best_bid else 0)
            - (before.bid_qty if now.best_bid <= before.best_bid else 0)
            - (now.ask_qty if now.best_ask <= before.best_ask else 0)
            + (before.ask_qty if now.best_ask >= before.best_ask else 0)
        )
    frame["ofi"] = ofi
    return frame


def _sum_or_none(values: pd.Series) -> Decimal | None:
    present = [value for value in values if value is not None]
    return sum(present, Decimal(0)) if present else None  # SQL's sum of nothing but nulls is null


@pytest.fixture
def recording() -> tuple[dict, list[dict]]:
    snapshot, diffs = None, []
    for message in recorded_messages(FUTURES):
        if "lastUpdateId" in message:
            snapshot = message
        elif "@depth" in message.get("stream", ""):
            diffs.append(message["data"])
    assert snapshot is not None
    return snapshot, diffs[:DIFFS]


def test_gold_book_analytics_equal_an_independent_rebuild_of_the_recording(
    spark, settings: Settings, topic: str, gold_db, recording
) -> None:
    snapshot_message, diffs = recording
    live = settings.model_copy(
        update={
            "pg_dsn": gold_db["dsn"],
            "kafka_topic": topic,
            "book_streams": True,
            "silver_max_offsets_per_trigger": 1_000,
            "kafka_book_ticker_topic": f"{topic}-book-ticker",
            "kafka_depth_topic": f"{topic}-depth",
            "kafka_depth_snapshot_topic": f"{topic}-depth-snapshot",
        }
    )
    ensure_book_topics(live)
    levels = {s: tuple((Decimal(p), Decimal(q)) for p, q in snapshot_message[s]) for s in ("bids", "asks")}
    snapshot = DepthSnapshot("BTCUSDT", snapshot_message["lastUpdateId"], levels["bids"], levels["asks"])
    updates = [parse_depth_update(diff) for diff in diffs]
    produce(live.kafka_bootstrap, live.kafka_depth_topic,
            [depth_update_record(u, "binance", 1).model_dump(mode="json") for u in updates])  # fmt: skip
    produce(live.kafka_bootstrap, live.kafka_depth_snapshot_topic,
            [depth_snapshot_record(snapshot, "binance", 1).model_dump(mode="json")])  # fmt: skip
    run_silver(spark, live, once=True, topic=topic)
    build_gold(live, database=gold_db["name"], full_refresh=True)

    expected = independent_seconds(snapshot_message, diffs)
    columns = ["book_time", "best_bid", "best_ask", "mid", "spread", "microprice", "bid_depth_10bps",
               "ask_depth_10bps", "depth_imbalance", "order_flow_imbalance"]  # fmt: skip
    with psycopg.connect(gold_db["dsn"]) as conn:
        query = f"SELECT {', '.join(columns)} FROM gold.book_1s ORDER BY book_time"
        gold = pd.DataFrame(conn.execute(query).fetchall(), columns=columns)
        minutes = conn.execute("SELECT bucket_start, seconds, order_flow_imbalance FROM gold.book_1m ORDER BY 1")
        minutes = minutes.fetchall()
        health = conn.execute("SELECT seconds_published, breaks, resyncs, snapshot_gaps FROM gold.book_sequence_health")
        health = health.fetchall()
    assert len(gold) == len(expected) > 120
    assert gold["book_time"].tolist() == expected["book_time"].tolist()
    pairs = {"best_bid": "best_bid", "best_ask": "best_ask", "mid": "mid", "spread": "spread",
             "microprice": "microprice", "bid_depth_10bps": "bid_depth", "ask_depth_10bps": "ask_depth",
             "depth_imbalance": "depth_imbalance", "order_flow_imbalance": "ofi"}  # fmt: skip
    for gold_column, expected_column in pairs.items():
        got, want = gold[gold_column].tolist(), expected[expected_column].tolist()
        mismatches = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
        assert not mismatches, f"{gold_column}: {len(mismatches)} of {len(got)} differ, first {mismatches[:3]}"
    # Minutes sum the seconds; the health table counts one resync and no break in the unbroken recording.
    expected["minute"] = expected["book_time"].dt.floor("min")
    by_minute = expected.groupby("minute")
    assert [(m[0], m[1]) for m in minutes] == [(t, int(n)) for t, n in by_minute.size().items()]
    assert [m[2] for m in minutes] == [_sum_or_none(group) for _, group in by_minute["ofi"]]
    assert sum(row[0] for row in health) == len(expected)
    assert (sum(r[1] for r in health), sum(r[2] for r in health), sum(r[3] for r in health)) == (0, 1, 0)
