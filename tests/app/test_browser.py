"""The real app in a real headless Chromium: upload a photo, see the heatmap and the 3D chart.

Starts ``streamlit run dashboard.py`` on a free port with the reference checkpoint, waits
for ``/_stcore/health``, drives the pages through the sidebar like a user, downloads the
point cloud and saves a screenshot of every page to ``artifacts/screenshots/<page>.png``.

Skips when /usr/bin/chromium (or the playwright package) is missing, unless
``REQUIRE_BROWSER=1``, which turns the skip into a failure (for CI).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.maps.depth import to_uint16
from core.io.exports import read_ply_vertices
from tests.browser_support import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    full_page_screenshot,
    require_browser,
    streamlit_server,
    wait_idle,
)
from tests.conftest import REPO

pytestmark = pytest.mark.browser

PHOTO = REPO / "samples" / "grace_hopper.jpg"
UI_TIMEOUT = 180_000  # milliseconds for a page to finish (first model load and prediction included)


@pytest.fixture(scope="module")
def sync_playwright():
    return require_browser()


@pytest.fixture(scope="module")
def server(reference_weights, tmp_path_factory) -> Iterator[str]:
    with streamlit_server(reference_weights, tmp_path_factory.mktemp("streamlit")) as running:
        yield running.url


def _wait_idle(page) -> None:
    wait_idle(page, UI_TIMEOUT)


def _download(page, label: str, folder: Path) -> Path:
    with page.expect_download(timeout=UI_TIMEOUT) as download:
        page.get_by_role("button", name=label).click()
    path = folder / download.value.suggested_filename
    download.value.save_as(str(path))
    return path


def _open(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=UI_TIMEOUT)
    _wait_idle(page)


def test_upload_heatmap_point_cloud_and_screenshots(server: str, sync_playwright, tmp_path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
            page.goto(server)
            page.get_by_role("heading", name="MiDaS depth explorer").wait_for(timeout=UI_TIMEOUT)
            page.get_by_text("ready", exact=False).first.wait_for(timeout=UI_TIMEOUT)
            _wait_idle(page)
            full_page_screenshot(page, "home")

            _open(page, "Depth Explorer")
            page.locator('[data-testid="stSidebar"] input[type="file"]').first.set_input_files(str(PHOTO))
            page.get_by_text(f"{PHOTO.name}").first.wait_for(timeout=UI_TIMEOUT)
            page.get_by_text("(upload)").wait_for(timeout=UI_TIMEOUT)
            _wait_idle(page)
            heatmap = page.locator('[data-testid="stImage"]').filter(has_text=re.compile("^Heatmap ·")).locator("img")
            heatmap.wait_for(state="visible", timeout=UI_TIMEOUT)
            page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=heatmap.element_handle())
            page.locator(".js-plotly-plot").nth(1).wait_for(timeout=UI_TIMEOUT)  # the probe and the histogram
            page.get_by_text("relative inverse depth (unitless, larger = nearer)").first.wait_for()
            assert page.get_by_text(PHOTO.name).count() >= 1
            full_page_screenshot(page, "explorer")
            files = {
                label: _download(page, label, tmp_path)
                for label in ("Raw float32 .npy", "16-bit PNG", "Heatmap PNG", "Point cloud .ply")
            }
            depth = np.load(files["Raw float32 .npy"], allow_pickle=False)
            assert depth.shape == (600, 512) and depth.dtype == np.float32
            with Image.open(files["16-bit PNG"]) as png16:
                np.testing.assert_array_equal(np.asarray(png16).astype(np.int64), to_uint16(depth))
            with Image.open(files["Heatmap PNG"]) as heat:
                assert heat.size == (512, 600) and heat.mode == "RGB"
            explorer_ply, _ = read_ply_vertices(files["Point cloud .ply"].read_bytes())

            _open(page, "3D Point Cloud")
            chart = page.locator(".js-plotly-plot").first
            chart.wait_for(state="visible", timeout=UI_TIMEOUT)
            chart.locator("canvas").first.wait_for(state="visible", timeout=UI_TIMEOUT)  # WebGL
            assert page.get_by_text("(upload)").count() == 1  # still the uploaded photo
            shown_text = page.get_by_text(re.compile(r"Showing [\d,]+ points")).first.inner_text()
            shown = int(re.search(r"Showing ([\d,]+) points", shown_text).group(1).replace(",", ""))
            assert 0 < shown <= 50_000
            with page.expect_download(timeout=UI_TIMEOUT) as download:
                page.get_by_role("button", name=re.compile("Point cloud .ply")).click()
            ply = tmp_path / "cloud.ply"
            download.value.save_as(str(ply))
            xyz, _ = read_ply_vertices(ply.read_bytes())
            assert len(xyz) == shown, "the .ply holds exactly the points shown"
            np.testing.assert_array_equal(xyz, explorer_ply)  # the explorer's .ply: the same cloud
            full_page_screenshot(page, "point_cloud")

            _open(page, "Colormap Lab")
            page.get_by_text("8-bit vs 16-bit").wait_for(timeout=UI_TIMEOUT)
            page.locator('[data-testid="stImage"] img').nth(20).wait_for(state="visible", timeout=UI_TIMEOUT)
            full_page_screenshot(page, "colormap_lab")
        finally:
            browser.close()
