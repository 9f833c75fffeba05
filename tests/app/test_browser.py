"""The real app in a real headless Chromium: upload a photo, see the heatmap and the 3D chart.

Starts ``streamlit run dashboard.py`` on a free port with the reference checkpoint, waits
for ``/_stcore/health``, drives the pages through the sidebar like a user, downloads the
point cloud and saves a screenshot of every page to ``artifacts/screenshots/<page>.png``.

Skips when /usr/bin/chromium (or the playwright package) is missing, unless
``REQUIRE_BROWSER=1``, which turns the skip into a failure (for CI).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from core.maps.normalize import to_uint16
from core.io.exports import read_ply_vertices
from tests.browser_support import UI_TIMEOUT, download, full_page_screenshot, go_to, wait_idle
from tests.conftest import REPO

pytestmark = pytest.mark.browser

PHOTO = REPO / "samples" / "grace_hopper.jpg"


def test_upload_heatmap_point_cloud_and_screenshots(page, tmp_path) -> None:
    page.get_by_role("heading", name="MiDaS depth explorer").wait_for(timeout=UI_TIMEOUT)
    full_page_screenshot(page, "home")

    go_to(page, "Depth Explorer")
    page.locator('[data-testid="stSidebar"] input[type="file"]').first.set_input_files(str(PHOTO))
    page.get_by_text(f"{PHOTO.name}").first.wait_for(timeout=UI_TIMEOUT)
    page.get_by_text("(upload)").wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    heatmap = page.locator('[data-testid="stImage"]').filter(has_text=re.compile("^Heatmap ·")).locator("img")
    heatmap.wait_for(state="visible", timeout=UI_TIMEOUT)
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=heatmap.element_handle())
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=UI_TIMEOUT)  # the probe and the histogram
    page.get_by_text("relative inverse depth (unitless, larger = nearer)").first.wait_for()
    assert page.get_by_text(PHOTO.name).count() >= 1
    full_page_screenshot(page, "explorer")
    files = {
        label: download(page, label, tmp_path)
        for label in ("Raw float32 .npy", "16-bit PNG", "Heatmap PNG", "Point cloud .ply")
    }
    depth = np.load(files["Raw float32 .npy"], allow_pickle=False)
    assert depth.shape == (600, 512) and depth.dtype == np.float32
    with Image.open(files["16-bit PNG"]) as png16:
        np.testing.assert_array_equal(np.asarray(png16).astype(np.int64), to_uint16(depth))
    with Image.open(files["Heatmap PNG"]) as heat:
        assert heat.size == (512, 600) and heat.mode == "RGB"
    explorer_ply, _ = read_ply_vertices(files["Point cloud .ply"].read_bytes())

    go_to(page, "3D Point Cloud")
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for(state="visible", timeout=UI_TIMEOUT)
    chart.locator("canvas").first.wait_for(state="visible", timeout=UI_TIMEOUT)  # WebGL
    assert page.get_by_text("(upload)").count() == 1  # still the uploaded photo
    shown_text = page.get_by_text(re.compile(r"Showing [\d,]+ points")).first.inner_text()
    shown = int(re.search(r"Showing ([\d,]+) points", shown_text).group(1).replace(",", ""))
    assert 0 < shown <= 50_000
    ply = download(page, re.compile("Point cloud .ply"), tmp_path / "3d")
    xyz, _ = read_ply_vertices(ply.read_bytes())
    assert len(xyz) == shown, "the .ply holds exactly the points shown"
    np.testing.assert_array_equal(xyz, explorer_ply)  # the explorer's .ply: the same cloud
    full_page_screenshot(page, "point_cloud")

    go_to(page, "Colormap Lab")
    page.get_by_text("8-bit vs 16-bit").wait_for(timeout=UI_TIMEOUT)
    page.locator('[data-testid="stImage"] img').nth(20).wait_for(state="visible", timeout=UI_TIMEOUT)
    full_page_screenshot(page, "colormap_lab")
