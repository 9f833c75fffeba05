"""The teaching pages in a real headless Chromium: a click on the photo, a calibration, a ground truth.

Starts ``streamlit run dashboard.py`` on a free port with the reference checkpoint, waits for
``/_stcore/health``, then visits How It Works, Scale and Shift, Pitfalls, Calibrate, Evaluate
and the Performance Lab like a user, checks what only a browser can (a Plotly click adds a
calibration point; a downloaded file uploads back) and saves each page to
``artifacts/screenshots/<page>.png``.

Skips when /usr/bin/chromium (or the playwright package) is missing, unless
``REQUIRE_BROWSER=1``, which turns the skip into a failure (for CI).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
HEALTH_TIMEOUT = 60  # seconds for the server to answer /_stcore/health
UI_TIMEOUT = 300_000  # milliseconds for a page to finish (model loads, predictions, timing processes)


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_factory():
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser test")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(reference_weights, tmp_path_factory) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("streamlit-teaching") / "server.log"
    env = {
        **os.environ,
        "MIDAS_WEIGHTS": str(reference_weights),
        "TORCH_HOME": str(tmp_path_factory.mktemp("torch")),
    }
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard.py",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no answer from {url}/_stcore/health within {HEALTH_TIMEOUT} s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_idle(page) -> None:
    """Wait until Streamlit has finished running the script (no 'Running…' status)."""
    page.wait_for_timeout(700)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=UI_TIMEOUT)
    page.wait_for_timeout(300)


def _screenshot(page, name: str) -> Path:
    """Save the whole page: Streamlit scrolls inside its main section, so grow the viewport."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0)")
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1500, "height": max(1000, min(int(height), 12000))})
    page.wait_for_timeout(2000)  # let the charts re-layout to the new size
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1500, "height": 1000})
    return path


def _open(page, nav_title: str, heading: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(nav_title, exact=True).click()
    page.get_by_role("heading", name=heading).first.wait_for(timeout=UI_TIMEOUT)
    _wait_idle(page)


def _metric(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    metric.wait_for(timeout=UI_TIMEOUT)
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def _click_photo(page, fx: float, fy: float) -> None:
    """Click the calibration photo at a fraction of its plot area (hover first, as a mouse does)."""
    area = page.locator('[data-testid="stPlotlyChart"]').first.locator(".nsewdrag").first
    area.wait_for(state="visible", timeout=UI_TIMEOUT)
    box = area.bounding_box()
    x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
    page.mouse.move(x, y)
    page.wait_for_timeout(600)
    page.mouse.click(x, y)
    _wait_idle(page)


def test_teaching_pages_in_a_real_browser(server: str, playwright_factory, tmp_path) -> None:
    with playwright_factory() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
            page.goto(server)
            page.get_by_text("ready", exact=False).first.wait_for(timeout=UI_TIMEOUT)
            _wait_idle(page)

            _open(page, "How It Works", "How It Works")
            page.get_by_role("heading", name=re.compile(r"^7\. Colour heatmap")).wait_for(timeout=UI_TIMEOUT)
            page.locator('[data-testid="stCode"]').nth(6).wait_for(timeout=UI_TIMEOUT)  # a snippet per stage
            page.get_by_text("predictor.network_output(x)").first.wait_for()
            page.get_by_text(re.compile(r"1×3×\d+×\d+ float32")).first.wait_for()
            _screenshot(page, "how_it_works")

            _open(page, "Scale and Shift", "Scale and Shift")
            assert _metric(page, "Largest change of the normalised heatmap") == "0.000000"
            page.get_by_role("button", name=re.compile("^MiDaS's own")).click()
            _wait_idle(page)
            assert _metric(page, "Largest change of the normalised heatmap") == "0.000000"
            page.locator(".js-plotly-plot canvas").first.wait_for(state="visible", timeout=UI_TIMEOUT)  # the 3D cloud
            _screenshot(page, "scale_shift")

            _open(page, "Pitfalls, Live", "Pitfalls, Live")
            assert _metric(page, "core.depth.normalize: NaN pixels") == "0"
            page.get_by_role("button", name="Run the photo at N = 256, 384 and 512").click()
            _wait_idle(page)
            assert _metric(page, "Mean difference, N = 256 vs 512").endswith("of the range")
            _screenshot(page, "pitfalls")

            _open(page, "Calibrate to Metres", "Calibrate to Metres")
            # a real Plotly click on the photo adds a numbered calibration point
            _click_photo(page, 0.5, 0.3)
            page.get_by_text("1 picked pixel(s) still need a distance").wait_for(timeout=UI_TIMEOUT)
            _click_photo(page, 0.2, 0.8)
            page.get_by_text("2 picked pixel(s) still need a distance").wait_for(timeout=UI_TIMEOUT)
            page.get_by_role("button", name="Example: same depth").click()
            _wait_idle(page)
            page.get_by_text(re.compile("No calibration: .*same depth")).wait_for(timeout=UI_TIMEOUT)
            page.get_by_role("button", name="Example: a good pair").click()
            _wait_idle(page)
            assert _metric(page, "RMS residual") == "0.0000 m"
            assert _metric(page, "Distance A–B").endswith(" m")
            _screenshot(page, "calibrate")

            _open(page, "Evaluate vs Ground Truth", "Evaluate against Ground Truth")
            page.get_by_text("No ground truth at hand? A self-check").click()
            with page.expect_download(timeout=UI_TIMEOUT) as download:
                page.get_by_role("button", name=re.compile("Synthetic ground truth")).click()
            gt = tmp_path / "synthetic_gt.png"
            download.value.save_as(str(gt))
            page.locator('[data-testid="stMain"] input[type="file"]').first.set_input_files(str(gt))
            _wait_idle(page)
            assert float(_metric(page, "AbsRel")) < 1e-3
            assert _metric(page, "δ < 1.25") == "1.0000"
            _screenshot(page, "evaluate")

            _open(page, "Performance Lab", "Performance Lab")
            page.get_by_role("button", name=re.compile(r"^Run \d+ measurement")).click()
            _wait_idle(page)
            page.get_by_text("CPU tips, tested on your numbers").wait_for(timeout=UI_TIMEOUT)
            assert page.locator(".js-plotly-plot").count() == 2
            _screenshot(page, "performance_lab")
        finally:
            browser.close()
