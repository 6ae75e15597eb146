from lakehouse.ml.gate import decide


def test_first_model_is_promoted_only_when_it_beats_the_baseline() -> None:
    assert decide(0.9, 1.0, None).promote
    rejected = decide(1.0, 1.0, None)
    assert not rejected.promote and "baseline" in rejected.reason


def test_a_challenger_must_strictly_beat_the_champion() -> None:
    assert decide(0.8, 1.0, 0.85).promote
    tie = decide(0.85, 1.0, 0.85)
    assert not tie.promote and "champion" in tie.reason
    assert not decide(0.9, 1.0, 0.85).promote


def test_reasons_name_the_metric_and_the_figures() -> None:
    reason = decide(12.5, 11.0, None).reason
    assert "12.5 bps" in reason and "11 bps" in reason
