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

import re

import pytest

from tests.browser_support import UI_TIMEOUT, full_page_screenshot, go_to, metric_value, wait_idle

pytestmark = pytest.mark.browser


def _wait_idle(page) -> None:
    wait_idle(page, UI_TIMEOUT)
    page.wait_for_timeout(300)


def _open(page, nav_title: str, heading: str) -> None:
    go_to(page, nav_title, heading)
    page.wait_for_timeout(300)


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


def test_teaching_pages_in_a_real_browser(page, tmp_path) -> None:
    _wait_idle(page)

    _open(page, "How It Works", "How It Works")
    page.get_by_role("heading", name=re.compile(r"^7\. Colour heatmap")).wait_for(timeout=UI_TIMEOUT)
    page.locator('[data-testid="stCode"]').nth(6).wait_for(timeout=UI_TIMEOUT)  # a snippet per stage
    page.get_by_text("predictor.network_output(x)").first.wait_for()
    page.get_by_text(re.compile(r"1×3×\d+×\d+ float32")).first.wait_for()
    full_page_screenshot(page, "how_it_works")

    _open(page, "Scale and Shift", "Scale and Shift")
    assert metric_value(page, "Largest change of the normalised heatmap") == "0.000000"
    page.get_by_role("button", name=re.compile("^MiDaS's own")).click()
    _wait_idle(page)
    assert metric_value(page, "Largest change of the normalised heatmap") == "0.000000"
    page.locator(".js-plotly-plot canvas").first.wait_for(state="visible", timeout=UI_TIMEOUT)  # the 3D cloud
    full_page_screenshot(page, "scale_shift")

    _open(page, "Pitfalls, Live", "Pitfalls, Live")
    assert metric_value(page, "core.maps.normalize.normalize: NaN pixels") == "0"
    page.get_by_role("button", name="Run the photo at N = 256, 384 and 512").click()
    _wait_idle(page)
    assert metric_value(page, "Mean difference, N = 256 vs 512").endswith("of the range")
    full_page_screenshot(page, "pitfalls")

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
    assert metric_value(page, "RMS residual") == "0.0000 m"
    assert metric_value(page, "Distance A–B").endswith(" m")
    full_page_screenshot(page, "calibrate")

    _open(page, "Evaluate vs Ground Truth", "Evaluate vs Ground Truth")
    page.get_by_text("No ground truth at hand? A self-check").click()
    with page.expect_download(timeout=UI_TIMEOUT) as download:
        page.get_by_role("button", name=re.compile("Synthetic ground truth")).click()
    gt = tmp_path / "synthetic_gt.png"
    download.value.save_as(str(gt))
    page.locator('[data-testid="stMain"] input[type="file"]').first.set_input_files(str(gt))
    _wait_idle(page)
    assert float(metric_value(page, "AbsRel")) < 1e-3
    assert metric_value(page, "δ < 1.25") == "1.0000"
    full_page_screenshot(page, "evaluate")

    _open(page, "Performance Lab", "Performance Lab")
    page.get_by_role("button", name=re.compile(r"^Run \d+ measurement")).click()
    _wait_idle(page)
    page.get_by_text("CPU tips, tested on your numbers").wait_for(timeout=UI_TIMEOUT)
    assert page.locator(".js-plotly-plot").count() == 2
    full_page_screenshot(page, "performance_lab")
