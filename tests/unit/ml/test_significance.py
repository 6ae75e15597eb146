"""The statistics behind "better than the naive forecast": checked against hand-computed and simulated cases."""

import math
import random

import pytest

from lakehouse.ml.significance import (
    diebold_mariano,
    directional_hits,
    r2_out_of_sample,
    rows_per_horizon,
    wilson_interval,
)


def test_out_of_sample_r2_against_the_naive_forecast() -> None:
    actual = [0.01, -0.02, 0.03]
    assert r2_out_of_sample(actual, actual) == 1.0
    assert r2_out_of_sample(actual, [0.0, 0.0, 0.0]) == 0.0  # the naive forecast itself
    assert r2_out_of_sample(actual, [-a for a in actual]) == pytest.approx(-3.0)  # wrong sign: 4x the error
    assert math.isnan(r2_out_of_sample([0.0, 0.0], [0.1, 0.2]))


def test_wilson_interval_matches_a_known_value_and_stays_in_0_1() -> None:
    low, high = wilson_interval(81, 263)  # a textbook example: 0.3080 (0.2553, 0.3662)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_directional_hits_count_only_moves_and_a_zero_forecast_is_a_miss() -> None:
    assert directional_hits([0.1, -0.1, 0.0, 0.2], [0.5, 0.3, 0.9, 0.0]) == (1, 3)


def test_diebold_mariano_finds_a_real_edge_and_not_a_fake_one() -> None:
    rng = random.Random(5)
    naive = [rng.gauss(0, 1) for _ in range(4000)]
    better = [e * 0.8 for e in naive]  # 36 % less squared error on every row
    assert diebold_mariano(better, naive, lag=5).p_value < 1e-6
    assert diebold_mariano(better, naive, lag=5).statistic < 0
    same_skill = [rng.gauss(0, 1) for _ in range(4000)]
    assert diebold_mariano(same_skill, naive, lag=5).p_value > 0.01


def test_overlapping_horizons_widen_the_test() -> None:
    # Loss differences that repeat in runs of 20 (like forecasts sharing a horizon) carry far less
    # evidence than 2000 independent ones: Newey-West must see that, a lag of 0 does not.
    rng = random.Random(1)
    runs = [rng.gauss(0.1, 1) for _ in range(100)]
    model = [math.sqrt(max(0.0, 1 + d)) for d in runs for _ in range(20)]
    naive = [1.0] * len(model)
    naive_test, hac_test = diebold_mariano(model, naive, lag=0), diebold_mariano(model, naive, lag=20)
    assert abs(hac_test.statistic) < abs(naive_test.statistic) / 2


def test_rows_per_horizon() -> None:
    assert rows_per_horizon([0, 1000, 2000, 3000], 30_000) == 40
    assert rows_per_horizon([5], 30_000) == 0


def test_an_effective_sample_size_widens_the_interval() -> None:
    independent = wilson_interval(600, 1000)
    overlapping = wilson_interval(600 / 40, 1000 / 40)  # 40 rows per horizon: about 25 independent outcomes
    assert overlapping[0] < independent[0] and overlapping[1] > independent[1]
    assert overlapping[0] < 0.5 < independent[0]  # 60 % right is no evidence of skill on 25 outcomes
