"""Pure parts of the Binance producer: gap detection, backoff, recordings, URLs, REST mapping."""

from __future__ import annotations

import gzip
import itertools
import json
import math
from pathlib import Path

import pytest

from lakehouse.ingest.backfill import rest_to_payload
from lakehouse.ingest.binance import to_trade_record
from lakehouse.ingest.replay import RecordingError, parse_stamp, read_recording, recorded_time_ms, split_line
from lakehouse.ingest.sequence import Gap, Seen, SequenceTracker
from lakehouse.ingest.sources import Backoff, stream_url
from lakehouse.ingest.standin import SyntheticMarket, rest_trade, subscribed_symbols
from tests.utils.recordings import recording

NOW = 1_795_000_000_000


def test_sequence_tracker_classifies_ids_per_symbol() -> None:
    tracker = SequenceTracker()
    assert tracker.observe("BTC", 10) == (Seen.FIRST, None)
    assert tracker.observe("BTC", 11) == (Seen.NEXT, None)
    assert tracker.observe("ETH", 500) == (Seen.FIRST, None)  # symbols are independent
    assert tracker.observe("BTC", 15) == (Seen.GAP, Gap("BTC", 12, 14))
    assert Gap("BTC", 12, 14).size == 3
    assert tracker.observe("BTC", 13) == (Seen.DUPLICATE, None)  # older than the last one: not produced
    assert tracker.observe("BTC", 15) == (Seen.DUPLICATE, None)
    assert tracker.observe("BTC", 16) == (Seen.NEXT, None)


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(initial_s=1, maximum_s=8)
    delays = [backoff.next_delay() for _ in range(6)]
    for attempt, delay in enumerate(delays):
        ceiling = min(8, 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays[3:]}) > 1  # jittered, not lock-step
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_one_combined_stream_url_for_all_symbols() -> None:
    url = stream_url("wss://stream.binance.com:9443/", ["BTCUSDT", "EthUsdt"])
    assert url == "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade"
    assert subscribed_symbols(url.removeprefix("wss://stream.binance.com:9443")) == {"BTCUSDT", "ETHUSDT"}
    assert subscribed_symbols("/ws/btcusdt@trade") is None


@pytest.mark.parametrize(
    ("stamp", "millis"),
    [("1795000000123", 1795000000123), ("1795000000", 1795000000000), ("1795000000.5", 1795000000500),
     ("1795000000123456", 1795000000123), ("1795000000123456789", 1795000000123),
     ("2026-11-18T11:06:40Z", 1795000000000), ("soon", None)],
)  # fmt: skip
def test_receive_stamps_in_any_usual_form(stamp: str, millis: int | None) -> None:
    assert parse_stamp(stamp) == millis


def test_the_real_nanosecond_recordings_pace_in_milliseconds() -> None:
    # The recorder format of ../shared/data (`<receive ns> <frame>`): read as ms it would pace a replay
    # a million times too slowly; the recorder's clock runs about 1.3 s behind the event time E.
    for stamp, line in itertools.islice(read_recording(recording("binance_usdm_btcusdt_20240808.gz")), 50):
        event_ms = json.loads(line)["data"]["E"]
        assert stamp is not None and abs(stamp - event_ms) < 5_000


def test_recording_lines_plain_or_gzip_with_or_without_stamps(tmp_path: Path) -> None:
    message = json.dumps({"stream": "btcusdt@trade", "data": {"e": "trade", "E": NOW, "T": NOW - 1}})
    lines = [message, f"{NOW}\t{message}", f"{NOW},{message}", "", "garbage"]
    plain, packed = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    plain.write_text("\n".join(lines))
    with gzip.open(packed, "wt") as out:
        out.write("\n".join(lines))
    for path in (plain, packed):
        read = list(read_recording(path))
        assert read == [(None, message), (NOW, message), (NOW, message), (None, "garbage")]
    assert split_line("  " + message + "\n") == (None, message)
    with pytest.raises(RecordingError, match="does not exist"):
        list(read_recording(tmp_path / "missing.jsonl"))


def test_replays_pace_by_receive_stamp_else_event_time() -> None:
    assert recorded_time_ms(123, {"E": 5, "T": 4}) == 123
    assert recorded_time_ms(None, {"E": 5, "T": 4}) == 5
    assert recorded_time_ms(None, {"T": 4}) == 4
    assert recorded_time_ms(None, {"E": True}) is None


def test_a_rest_trade_maps_to_the_same_record_as_the_stream_trade() -> None:
    payload = SyntheticMarket(["BTCUSDT"]).next_trade("BTCUSDT", NOW)
    from_stream = to_trade_record(payload, NOW)
    from_rest = to_trade_record(rest_to_payload("BTCUSDT", rest_trade(payload)), NOW)
    assert from_rest == from_stream


def test_fallback_and_recording_come_from_settings_unless_given(tmp_path: Path) -> None:
    # Compose turns the stand-in on by environment (LAKEHOUSE_PRODUCER_FALLBACK, ..._STANDIN_RECORDING).
    from lakehouse.ingest.exchange_feed import parse_args
    from lakehouse.settings import Settings

    recording = tmp_path / "trades.gz"
    settings = Settings(producer_fallback="standin", standin_recording=str(recording), standin_speed=2.0)
    options = parse_args([], settings)
    assert (options.fallback, options.standin_recording, options.standin_speed) == ("standin", recording, 2.0)
    given = parse_args(["--fallback", "none", "--standin-recording", "other.gz", "--standin-speed", "0"], settings)
    assert (given.fallback, given.standin_recording, given.standin_speed) == ("none", Path("other.gz"), 0.0)
    assert parse_args([]).fallback == "none"
    assert Settings(standin_recording="").standin_recording is None


def test_the_synthetic_market_is_learnable_but_not_trivial() -> None:
    # The demo's first champion depends on this: the last 5 s of returns and of taker flow predict the
    # next 30 s (mean reversion of a transient mispricing), but far from perfectly.
    import statistics

    market = SyntheticMarket(["BTCUSDT"], seed=3)
    trades = [market.next_trade("BTCUSDT", NOW + i * 166) for i in range(20_000)]
    log_prices = [math.log(float(t["p"])) for t in trades]
    signed_flow = [-1.0 if t["m"] else 1.0 for t in trades]
    recent, flow, future = [], [], []
    for i in range(30, len(trades) - 180, 10):  # 30 trades = 5 s back, 180 trades = 30 s ahead
        recent.append(log_prices[i] - log_prices[i - 30])
        flow.append(sum(signed_flow[i - 30 : i + 1]))
        future.append(log_prices[i + 180] - log_prices[i])
    assert -0.6 < statistics.correlation(recent, future) < -0.2
    assert 0.3 < statistics.correlation(flow, future) < 0.8  # takers lean against the mispricing
    assert statistics.stdev(future) > 5e-4  # prices move: several bps per 30 s


def test_what_a_partial_backfill_leaves_is_the_exact_missing_ranges() -> None:
    from lakehouse.ingest.sequence import remaining_gaps

    gap = Gap("BTCUSDT", 10, 19)
    assert remaining_gaps(gap, set(range(10, 20))) == []
    assert remaining_gaps(gap, set()) == [gap]
    assert remaining_gaps(gap, {10, 11, 14, 19}) == [Gap("BTCUSDT", 12, 13), Gap("BTCUSDT", 15, 18)]
    assert remaining_gaps(Gap("X", 5, 5), {4, 6}) == [Gap("X", 5, 5)]


def test_undelivered_records_are_described_by_symbol_and_id_range() -> None:
    from lakehouse.ingest.pipeline import describe_records

    pairs = [("ETHUSDT", "9"), ("BTCUSDT", "12"), ("BTCUSDT", "100"), ("BTCUSDT", "7")]
    values = [json.dumps({"symbol": symbol, "trade_id": trade_id}).encode() for symbol, trade_id in pairs]
    text = describe_records([(b"", v) for v in values] + [(b"", b"not json")])
    assert text == "? 1 trade(s) ids ?..?, BTCUSDT 3 trade(s) ids 7..100, ETHUSDT 1 trade(s) ids 9..9"


def test_a_huge_gap_is_split_without_walking_every_id() -> None:
    from lakehouse.ingest.sequence import remaining_gaps

    gap = Gap("BTCUSDT", 1, 10**12)
    assert remaining_gaps(gap, {5, 6}) == [Gap("BTCUSDT", 1, 4), Gap("BTCUSDT", 7, 10**12)]
    assert remaining_gaps(gap, {0, 10**12 + 1}) == [gap]  # ids outside the gap are ignored
