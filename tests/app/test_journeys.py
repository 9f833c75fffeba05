"""User journeys in the real app, in headless Chromium: what a person sees after several steps.

Each journey does what a new user did when the app let them down (issue 11): set controls, switch
pages, come back, re-pick; then it asserts what is on screen and in the files they download.
Screenshots go to ``artifacts/screenshots/journey_*.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.maps.colormaps import colorize, colormap_lut
from core.maps.stats import summarize
from core.io.exports import read_ply_vertices
from tests.conftest import REPO
from tests.browser_support import SCREENSHOTS, UI_TIMEOUT, download, full_page_screenshot, go_to, wait_idle
from ui.pages import HOME, PAGES

pytestmark = pytest.mark.browser

PHOTO = REPO / "samples" / "grace_hopper.jpg"


def _idle(page) -> None:
    wait_idle(page, UI_TIMEOUT)


HEADINGS = {"Home": "MiDaS depth explorer"}  # page title in the menu -> its heading, where they differ


def _open(page, title: str) -> None:
    go_to(page, title, HEADINGS.get(title, title))


def _slider(page, label: str):
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).locator('input[type="range"]')


def _slide(page, label: str, thumb: int, presses: int) -> None:
    """Move one thumb of a slider by ``presses`` steps with the keyboard, as a user can."""
    handle = _slider(page, label).nth(thumb)
    handle.focus()
    for _ in range(abs(presses)):
        handle.press("ArrowRight" if presses > 0 else "ArrowLeft")
    _idle(page)


def _values(page, label: str) -> list[float]:
    thumbs = _slider(page, label)
    return [float(thumbs.nth(i).input_value()) for i in range(thumbs.count())]


def _combobox(page, label: str):
    return page.locator('[data-testid="stSelectbox"]').filter(has_text=label).get_by_role("combobox")


def _pick(page, label: str, option: str) -> None:
    """Open a selectbox and choose ``option``; clicks again if the menu closed in a rerun, as a user would."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # only once a browser runs

    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(5):
        page.locator('[data-testid="stSelectbox"]').filter(has_text=label).get_by_role("button", name="Open").click()
        try:
            choice.wait_for(timeout=3000)
            break
        except PlaywrightTimeout:
            continue
    choice.click()
    _idle(page)


def _selected(page, label: str) -> str:
    return _combobox(page, label).input_value()


def test_view_settings_survive_page_switches(page, tmp_path: Path) -> None:
    # Finding 1: viridis, invert, clip 10-90 and opacity 0.8 in the Explorer, FOV 75 on the 3D page;
    # Home, then back: every value is still there, and the files and the 3D colours follow them.
    _open(page, "Depth Explorer")
    page.locator('[data-testid="stImage"]').filter(has_text=re.compile("^Heatmap ·")).wait_for(timeout=UI_TIMEOUT)
    _pick(page, "Colormap", "viridis")
    page.locator('[data-testid="stCheckbox"]').filter(has_text="Invert").locator("label").click()
    _idle(page)
    _slide(page, "Clip percentiles", 0, 18)  # 1.0 -> 10.0 in steps of 0.5
    _slide(page, "Clip percentiles", 1, -18)  # 99.0 -> 90.0
    _slide(page, "Overlay opacity", 0, 6)  # 0.5 -> 0.8 in steps of 0.05
    assert _values(page, "Clip percentiles") == [10.0, 90.0]

    _open(page, "Home")
    _open(page, "3D Point Cloud")
    _slide(page, "Field of view", 0, 15)  # 60 -> 75
    page.locator('[data-testid="stRadio"]').filter(has_text="Colour by").get_by_text("Depth colormap").click()
    _idle(page)
    cloud_xyz, colors = read_ply_vertices(download(page, re.compile("Point cloud .ply"), tmp_path).read_bytes())
    viridis = {tuple(c) for c in colormap_lut("viridis")}
    assert {tuple(c) for c in colors[:500]} <= viridis, "the 3D page's depth colours are not the chosen viridis"

    _open(page, "Home")
    _open(page, "Depth Explorer")
    caption = page.locator('[data-testid="stImage"]').filter(has_text=re.compile("^Heatmap ·"))
    caption.wait_for(timeout=UI_TIMEOUT)
    full_page_screenshot(page, "journey_settings_explorer_after_return")
    assert _selected(page, "Colormap") == "viridis"
    assert page.locator('[data-testid="stCheckbox"]').filter(has_text="Invert").locator("input").is_checked()
    assert _values(page, "Clip percentiles") == [10.0, 90.0]
    assert _values(page, "Overlay opacity") == [0.8]
    assert re.search(r"viridis · near = low \(dark\) end · clipped to p10–p90", caption.inner_text())
    depth = np.load(download(page, "Raw float32 .npy", tmp_path), allow_pickle=False)
    heat_png = download(page, "Heatmap PNG", tmp_path)
    assert heat_png.name.endswith("_heatmap_viridis.png")
    _, hist = summarize(depth)
    lo, hi = (float(v) for v in hist.percentiles((10.0, 90.0)))
    with Image.open(heat_png) as heat:
        np.testing.assert_array_equal(np.asarray(heat), colorize(depth, "viridis", lo, hi, invert=True))
    explorer_xyz, explorer_colors = read_ply_vertices(download(page, "Point cloud .ply", tmp_path).read_bytes())
    np.testing.assert_array_equal(explorer_xyz, cloud_xyz)  # FOV 75 and the depth colours, as on the 3D page
    np.testing.assert_array_equal(explorer_colors, colors)

    _open(page, "3D Point Cloud")
    assert _values(page, "Field of view") == [75.0]
    full_page_screenshot(page, "journey_settings_cloud_after_return")


def test_a_sample_can_be_picked_again_after_an_upload(page) -> None:
    # Finding 3: after an upload the picker named "Coffee cup" while the upload was shown, and
    # choosing "Coffee cup" did nothing. Now the picker is empty while an upload is shown, and
    # any pick, the first sample included, takes effect.
    sidebar = page.locator('[data-testid="stSidebar"]')
    _open(page, "Depth Explorer")
    sidebar.get_by_text("Showing: Coffee cup (sample)").wait_for(timeout=UI_TIMEOUT)
    sidebar.locator('input[type="file"]').first.set_input_files(str(PHOTO))
    sidebar.get_by_text(f"Showing: {PHOTO.name} (upload)").wait_for(timeout=UI_TIMEOUT)
    _idle(page)
    assert _selected(page, "pick a sample") == ""  # names no sample while the upload is shown
    assert _combobox(page, "pick a sample").get_attribute("placeholder") == "Pick a sample"
    assert page.get_by_text(re.compile(rf"^{re.escape(PHOTO.name)} · ")).count() == 1  # the Explorer's caption
    full_page_screenshot(page, "journey_repick_upload_shown")

    _pick(page, "pick a sample", "Coffee cup")
    sidebar.get_by_text("Showing: Coffee cup (sample)").wait_for(timeout=UI_TIMEOUT)
    page.get_by_text(re.compile(r"^Coffee cup · 600×400 px")).wait_for(timeout=UI_TIMEOUT)
    assert _selected(page, "pick a sample") == "Coffee cup"
    _open(page, "Home")
    _open(page, "Depth Explorer")
    assert _selected(page, "pick a sample") == "Coffee cup"
    page.get_by_text(re.compile(r"^Coffee cup · 600×400 px")).wait_for(timeout=UI_TIMEOUT)
    full_page_screenshot(page, "journey_repick_sample_again")


def test_a_new_user_sees_where_to_start_without_scrolling(page) -> None:
    # Finding 13: at 1000 px of height the image controls were below the sidebar's fold, and the
    # model panel showed paths and self-check figures to everyone.
    sidebar = page.locator('[data-testid="stSidebar"]')
    for control in (sidebar.locator('[data-testid="stFileUploader"]'), _combobox(page, "pick a sample")):
        box = control.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 1000, f"below the fold: {box}"
    assert sidebar.get_by_text("ready").first.is_visible()
    assert not sidebar.get_by_text("SHA-256").first.is_visible()  # inside the closed "Model details"
    sidebar.get_by_text("Model details").click()
    sidebar.get_by_text("SHA-256").first.wait_for(state="visible")
    main = page.locator('[data-testid="stMain"]')
    others = sum(entry is not HOME for entries in PAGES.values() for entry in entries)
    assert others >= 10 and main.locator('[data-testid="stPageLink"]').count() == others  # Home links every other page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "journey_first_view.png"))  # the viewport, as the user sees it


def test_quick_clicks_never_leave_a_stale_image_reference(page) -> None:
    # Finding 15: changing N in the sidebar while the Explorer's fragment reran made the browser
    # ask for a /media/*.jpg that a newer run had already deleted (a 404). Images now travel
    # inside the page message, so the browser never asks for a /media file at all.
    media_requests: list[str] = []  # the app's /media/ files, not the fonts under /static/media/
    page.on("request", lambda r: media_requests.append(r.url) if re.match(r"https?://[^/]+/media/", r.url) else None)
    _open(page, "Depth Explorer")
    page.locator('[data-testid="stImage"]').filter(has_text=re.compile("^Heatmap ·")).wait_for(timeout=UI_TIMEOUT)
    size = _slider(page, "Network size N").first
    for _ in range(2):
        size.focus()
        for _ in range(3):
            size.press("ArrowRight")
            page.wait_for_timeout(400)
        opacity = _slider(page, "Overlay opacity").first
        opacity.focus()
        opacity.press("ArrowRight")
        page.wait_for_timeout(100)
        opacity.press("ArrowRight")
        _idle(page)
    _open(page, "Colormap Lab")
    _open(page, "Depth Explorer")
    heatmap = page.locator('[data-testid="stImage"]').filter(has_text=re.compile("^Heatmap ·")).locator("img")
    heatmap.wait_for(state="visible", timeout=UI_TIMEOUT)
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=heatmap.element_handle())
    assert media_requests == []
