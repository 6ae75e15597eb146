"""The company simulator's price model and trades (pure, seeded)."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from lakehouse.ingest.api_models import TradeIn
from lakehouse.ingest.company import SECONDS_PER_YEAR, CompanyFeed, JumpDiffusion

NOW = 1_795_000_000_000


def test_trades_are_valid_api_bodies_with_unique_ids() -> None:
    feed = CompanyFeed(seed=1, run_id="r1")
    trades = feed.next_trades(500, NOW) + feed.next_trades(500, NOW + 1000)
    parsed = [TradeIn(**trade) for trade in trades]  # every generated trade passes the API's validation
    assert len({t.trade_id for t in parsed}) == 1000
    assert {t.symbol for t in parsed} == {"TSLA", "AAPL", "NVDA", "MSFT", "AMZN"}


def test_same_seed_same_path_and_prices_stay_positive() -> None:
    a = CompanyFeed(seed=5, run_id="x").next_trades(200, NOW)
    b = CompanyFeed(seed=5, run_id="x").next_trades(200, NOW)
    assert a == b
    assert all(float(t["price"]) > 0 for t in a)


def test_log_returns_have_the_configured_volatility_without_jumps() -> None:
    model = JumpDiffusion(100.0, sigma=0.3, jump_rate_per_year=0, rng=random.Random(11))
    dt = 60 / SECONDS_PER_YEAR
    prices = [model.price] + [model.step(dt) for _ in range(20_000)]
    returns = [math.log(b / a) for a, b in itertools.pairwise(prices)]
    annualised = statistics.stdev(returns) / math.sqrt(dt)
    assert annualised == pytest.approx(0.3, rel=0.05)


def test_jumps_fatten_the_tails() -> None:
    dt = 1 / SECONDS_PER_YEAR * 3600
    plain = JumpDiffusion(100.0, jump_rate_per_year=0, rng=random.Random(2))
    jumpy = JumpDiffusion(100.0, jump_rate_per_year=2000, jump_sd=0.03, rng=random.Random(2))

    def kurtosis(model: JumpDiffusion) -> float:
        prices = [model.price] + [model.step(dt) for _ in range(20_000)]
        r = [math.log(b / a) for a, b in itertools.pairwise(prices)]
        mean, sd = statistics.fmean(r), statistics.pstdev(r)
        return statistics.fmean([((x - mean) / sd) ** 4 for x in r])

    assert kurtosis(plain) == pytest.approx(3, abs=0.3)
    assert kurtosis(jumpy) > 5
