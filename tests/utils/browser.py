"""Run the dashboard as `streamlit run` on a free port and open it in headless Chromium (tests, bench).

Chromium is Debian's (/usr/bin/chromium), driven by Playwright; Playwright never downloads a browser here.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lakehouse.local.processes import free_port, serving
from lakehouse.paths import REPO_ROOT

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# A drawn candlestick: plotly renders each candle as a path in the chart's box layer.
CANDLE_SELECTOR = '[data-testid="stPlotlyChart"] .boxlayer .trace path'


class BrowserUnavailableError(RuntimeError):
    """No system Chromium to drive (scripts/bootstrap.sh installs it)."""


@contextmanager
def running_dashboard(env: dict[str, str], startup_s: float = 90) -> Iterator[str]:
    """`streamlit run dashboard.py` with `env` added, on a free port; yields its URL, stops it on exit."""
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "dashboard.py"),
        f"--server.port={port}", "--server.address=127.0.0.1", "--server.headless=true",
        "--browser.gatherUsageStats=false", "--server.fileWatcherType=none",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with (
        tempfile.TemporaryDirectory(prefix="streamlit-") as folder,
        # From the repository, where .streamlit/config.toml is.
        serving(command, f"{url}/_stcore/health", "streamlit", Path(folder) / "streamlit.log",
                env={**os.environ, **env}, cwd=REPO_ROOT, startup_s=startup_s),
    ):  # fmt: skip
        yield url


@dataclass(frozen=True)
class PageLoad:
    chart_visible_s: float  # navigation start to the first candle drawn
    candles_drawn: int
    title: str
    text: str  # the page's visible text when the chart appeared


def open_dashboard(
    url: str, screenshot: Path | None = None, expect_text: tuple[str, ...] = (), timeout_s: float = 120
) -> PageLoad:
    """Load the page in a fresh headless Chromium profile; time until the candlestick chart is drawn.

    Then wait for every `expect_text` (panels below the chart render after it) before the screenshot.
    """
    if not CHROMIUM.exists():
        raise BrowserUnavailableError(f"{CHROMIUM} is missing: install Debian's chromium (scripts/bootstrap.sh)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": 1440, "height": 1100},
        )
        try:
            page = context.new_page()
            started = time.monotonic()
            page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
            page.wait_for_selector(CANDLE_SELECTOR, state="attached", timeout=timeout_s * 1000)
            visible_s = time.monotonic() - started
            candles = page.locator(CANDLE_SELECTOR).count()
            if expect_text:
                page.wait_for_function(
                    "texts => texts.every(t => document.body.innerText.includes(t))",
                    arg=list(expect_text),
                    timeout=timeout_s * 1000,
                )
            text = page.inner_text("body")
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
            return PageLoad(chart_visible_s=visible_s, candles_drawn=candles, title=page.title(), text=text)
        finally:
            context.close()
