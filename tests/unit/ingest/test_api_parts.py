"""Pure parts of the API: key lookup, the token buckets (per key, failed keys per address), error descriptions."""

from __future__ import annotations

import hashlib
import json

import pytest

from lakehouse.ingest.api.auth import ApiKeys, source_for
from lakehouse.ingest.api.ratelimit import FailureLimiter, RateLimiter
from lakehouse.ingest.api_models import BodyInvalid, parse_trades


def test_keys_map_to_clients_only_on_an_exact_match() -> None:
    keys = ApiKeys({"acme": hashlib.sha256(b"k1").hexdigest(), "zeta": hashlib.sha256(b"k2").hexdigest()})
    assert keys.client_for("k1") == "acme"
    assert keys.client_for("k2") == "zeta"
    for wrong in (None, "", "k3", "k1 ", "K1"):
        assert keys.client_for(wrong) is None
    assert source_for("acme") == "api:acme"


def test_rate_limiter_refills_per_key_and_says_how_long_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 1]
    assert limiter.retry_after("b") == 0  # another key has its own bucket
    now[0] += 0.5  # one token back at 2/s
    assert limiter.retry_after("a") == 0
    assert limiter.retry_after("a") == 1


def test_failed_keys_lock_an_address_out_for_a_while_and_only_that_address() -> None:
    now = [0.0]
    limiter = FailureLimiter(6, clock=lambda: now[0])  # 6 failures a minute: one back every 10 s
    for _ in range(6):
        assert limiter.retry_after("10.0.0.1") == 0
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 10  # locked until one failure's worth refills
    assert limiter.retry_after("10.0.0.2") == 0  # another address is not affected
    now[0] += 4
    assert limiter.retry_after("10.0.0.1") == 6
    now[0] += 6
    assert limiter.retry_after("10.0.0.1") == 0
    limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 10


def test_failure_limiter_forgets_addresses_whose_budget_is_whole_again() -> None:
    now = [0.0]
    limiter = FailureLimiter(60, clock=lambda: now[0])
    limiter.MAX_TRACKED = 3
    for address in ("a", "b", "c"):
        limiter.failed(address)
    now[0] += 1.0  # a second: each got its one failure back
    limiter.failed("d")  # a fourth address at the cap: the recovered three are dropped
    assert len(limiter) == 1 and limiter.retry_after("a") == 0


def test_batch_errors_name_every_bad_item() -> None:
    good = {"symbol": "A", "trade_id": "1", "price": "1", "quantity": "1", "side": "buy", "trade_time": 1767323045678}
    body = json.dumps([good, {**good, "side": "x"}, good, {**good, "price": "abc", "symbol": "a"}]).encode()
    with pytest.raises(BodyInvalid) as raised:
        parse_trades(body, 10)
    assert sorted((e["index"], e["field"]) for e in raised.value.errors) == [(1, "side"), (3, "price"), (3, "symbol")]
