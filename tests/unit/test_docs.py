"""The docs stay true: generated pages are current, links resolve, benchmark figures come from the results."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench.common import RESULTS_DIR
from bench.report import DOCS_PAGE, render
from lakehouse.paths import REPO_ROOT

GENERATED = {"benchmarks.md", "configuration.md"}
WRITTEN = [REPO_ROOT / "README.md", *(p for p in (REPO_ROOT / "docs").glob("*.md") if p.name not in GENERATED)]
# A figure with one of these units, in a paragraph that cites a benchmark, must be one of its results.
FIGURE = re.compile(r"(-?\d[\d,]*(?:\.\d+)?)\s?(trades/s|messages/s|ms|bps)\b")
CITES_BENCHMARK = re.compile(r"bench[./]|benchmarks\.md")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    if isinstance(value, str):  # e.g. a gate reason quoting the figures it compared
        return [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", value)]
    return []


def results_numbers() -> list[float]:
    return [n for path in RESULTS_DIR.glob("*.json") for n in _numbers(json.loads(path.read_text()))]


def quoted_as_measured(text: str, measured: list[float]) -> bool:
    """True when some result, rounded to the digits the text shows, reads as the text."""
    shown = float(text.replace(",", ""))
    decimals = len(text.split(".")[1]) if "." in text else 0
    return any(round(value, decimals) == shown for value in measured)


def test_the_benchmarks_page_is_what_the_results_say() -> None:
    assert DOCS_PAGE.read_text() == render(), "regenerate it: uv run python -m bench.report"


@pytest.mark.parametrize("page", WRITTEN, ids=lambda p: p.name)
def test_benchmark_figures_quoted_in_the_docs_are_the_measured_ones(page: Path) -> None:
    measured = results_numbers()
    wrong = []
    for paragraph in re.split(r"\n\s*\n", page.read_text()):
        if not CITES_BENCHMARK.search(paragraph):
            continue
        wrong += [f"{n} {unit}" for n, unit in FIGURE.findall(paragraph) if not quoted_as_measured(n, measured)]
    assert not wrong, f"{page.name} quotes figures no result in bench/results/ has: {wrong}"


def test_the_figure_check_catches_a_stale_figure() -> None:
    assert quoted_as_measured("9.14", [9.14]) and quoted_as_measured("213,379", [213379.0])
    assert quoted_as_measured("10.21", [10.212484]) and not quoted_as_measured("6", [8.8])


@pytest.mark.parametrize("page", [*WRITTEN, *(REPO_ROOT / "docs" / name for name in GENERATED)], ids=lambda p: p.name)
def test_links_point_to_files_in_the_repository(page: Path) -> None:
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.exists(), f"{page.name} links to {target}, which does not exist"
        assert resolved.is_relative_to(REPO_ROOT), f"{page.name} links outside the repository: {target}"


def test_the_readme_stays_short() -> None:
    assert len((REPO_ROOT / "README.md").read_text().splitlines()) <= 200
