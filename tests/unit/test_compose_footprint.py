"""The compose footprint benchmark's pure parts: reading `docker stats` and summing it up."""

from __future__ import annotations

import json

import pytest

from bench.compose_footprint import mib, parse_stats, summarise


def _line(name: str, memory: str, cpu: str) -> str:
    return json.dumps({"Name": name, "MemUsage": f"{memory} / 2GiB", "CPUPerc": cpu})


def test_docker_sizes_read_in_mib() -> None:
    assert mib("512MiB") == 512
    assert mib("1.5GiB") == 1536
    assert mib("2048KiB") == 2
    assert mib("0B") == 0
    with pytest.raises(KeyError):
        mib("3TiB")  # an unknown unit fails loudly instead of counting as MiB


def test_stats_lines_become_memory_and_cpu_per_container() -> None:
    stats = parse_stats([_line("kafka", "400MiB", "12.5%"), "", _line("mlflow", "1.25GiB", "0.30%")])
    assert stats == {"kafka": (400, 12.5), "mlflow": (1280, 0.3)}


def test_summary_takes_the_peak_of_the_sum_not_the_sum_of_the_peaks() -> None:
    samples = [{"a": (100.0, 10.0), "b": (300.0, 0.0)}, {"a": (200.0, 30.0), "b": (100.0, 2.0)}]
    summary = summarise(samples)
    assert summary["containers"]["a"] == {"peak_mib": 200, "mean_mib": 150, "mean_cpu_pct": 20.0}
    assert summary["peak_total_mib"] == 400  # 100 + 300, although the peaks add up to 500
    assert summary["mean_total_mib"] == 350
    assert summary["mean_total_cpu_pct"] == 21.0
