"""Pure dashboard computations and probes' parsers on tiny inputs."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from lakehouse.dashboard import analytics, health

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def candles(closes: list[float], start: datetime = T0) -> pd.DataFrame:
    opens = closes[:1] + closes[:-1]
    return pd.DataFrame(
        {
            "bucket_start": pd.to_datetime([start + timedelta(minutes=i) for i in range(len(closes))], utc=True),
            "open": opens,
            "close": closes,
            "volume": [2.0] * len(closes),
            "notional": [2.0 * c for c in closes],
        }
    )


def test_kpis_over_a_full_day() -> None:
    closes = [100.0 + (i % 5) for i in range(24 * 60 + 30)]  # a day and a half hour: only the last day counts
    figures = analytics.kpis(candles(closes))
    assert figures is not None and figures.candles == 24 * 60
    day = closes[-24 * 60 :]
    assert figures.last_price == closes[-1]
    assert figures.change == pytest.approx(closes[-1] / closes[-24 * 60 - 1] - 1)  # first open = prior close
    assert figures.change_span == timedelta(hours=24)
    assert figures.vwap_24h == pytest.approx(sum(day) / len(day))
    returns = [math.log(b / a) for a, b in itertools.pairwise(day)]
    assert figures.realized_vol_24h == pytest.approx(math.sqrt(sum(r * r for r in returns)))


def test_without_a_day_of_history_the_change_covers_the_history_there_is() -> None:
    figures = analytics.kpis(candles([10.0, 11.0, 12.0]))
    assert figures is not None and figures.last_price == 12.0
    assert figures.change == pytest.approx(12.0 / 10.0 - 1)  # the first candle's open is the close before it
    assert figures.change_span == timedelta(minutes=3)
    assert analytics.kpis(candles([])) is None


def test_spans_read_at_a_glance() -> None:
    assert analytics.describe_span(timedelta(hours=24)) == "24 h"
    assert analytics.describe_span(timedelta(hours=3, minutes=20)) == "3 h 20 min"
    assert analytics.describe_span(timedelta(minutes=45)) == "45 min"


def test_forecast_errors_compare_model_with_no_change() -> None:
    outcomes = pd.DataFrame(
        {
            "price": [100.0, 101.0, 102.0],
            "predicted_price": [101.0, 101.5, None],
            "realised_price": [101.0, 100.0, 103.0],
            "model_version": ["2", "3", "3"],
        }
    )
    errors = analytics.forecast_errors(outcomes)
    assert errors is not None and errors.predictions == 2  # the unscored row is not an error of 0
    assert errors.model_mae == pytest.approx((0.0 + 1.5) / 2)
    assert errors.naive_mae == pytest.approx((1.0 + 1.0) / 2)
    assert errors.skill == pytest.approx(1 - 0.75 / 1.0)
    assert errors.model_versions == ("2", "3")
    assert analytics.forecast_errors(outcomes.iloc[2:]) is None


def test_quarantine_rate_and_lag_text() -> None:
    assert analytics.quarantine_rate(0, 0) is None
    assert analytics.quarantine_rate(1, 3) == 0.25
    assert [analytics.human_lag(s) for s in (5, 600, 7300, 200000, None)] == ["5 s", "10 min", "2.0 h", "2.3 d", "n/a"]


def test_checkpoint_offsets_file_and_lag() -> None:
    text = 'v1\n{"batchWatermarkMs":0,"batchTimestampMs":1}\n{"raw-trades":{"2":7,"1":5,"0":9}}\n'
    positions = health.parse_offsets_file(text, "raw-trades")
    assert positions == {0: 9, 1: 5, 2: 7}
    assert health.parse_offsets_file(text, "other") == {}
    # Partition 3 is new since the checkpoint: all its records count.
    assert health.lag_of({0: 10, 1: 5, 2: 7, 3: 4}, positions) == 1 + 4
    with pytest.raises(health.HealthProbeError):
        health.parse_offsets_file("{}", "raw-trades")
    assert health.newest_committed_batch(["0", "1", "12", ".1.crc", "3"]) == 12
    assert health.newest_committed_batch([]) is None


def test_a_depth_curve_accumulates_from_the_best_level_outwards() -> None:
    from decimal import Decimal

    from lakehouse.dashboard.analytics import depth_curve

    curve = depth_curve([Decimal("100.5"), Decimal("100.4"), Decimal("100.3")], [Decimal("1"), Decimal("2.5"), 3])
    assert curve["price"].tolist() == [100.5, 100.4, 100.3]
    assert curve["cumulative"].tolist() == [1.0, 3.5, 6.5]
