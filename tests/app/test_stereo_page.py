"""The Stereo and 3D Photo page: AppTests of its previews, controls and downloads, and a browser journey.

The AppTests reuse the dashboard's fixtures (tests/app/test_dashboard.py) and read back the
pictures the page sends (``data:`` URLs); the journey drives the real app in Chromium: pick a
sample, open the page, move the strength, see the preview change, download the anaglyph, then
calibrate the photo on the Calibrate page and set the strength from a camera baseline.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core import __version__
from core.geometry.camera import focal_px_from_fov
from core.geometry.stereo import anaglyph, baseline_m, compose, depth_range, stereo_pair, strength_for_baseline
from core.io.images import decode_image
from core.measure.calibration import calibrate
from core.teaching.calibration_examples import example_points
from tests.app.test_dashboard import app, captions, image_by_caption  # noqa: F401 (fixtures)
from tests.app.test_journeys import _pick, _slide
from tests.app.test_teaching_pages import depth, open_page, predictor  # noqa: F401 (fixtures)
from tests.browser_support import SCREENSHOTS, UI_TIMEOUT, download, full_page_screenshot, go_to, wait_idle
from tests.conftest import REPO
from tests.shown_images import shown_image

PAGE = "app_pages/stereo.py"
SAMPLE_HW = (400, 600)  # samples/coffee.png, the default sample


def _open(at: AppTest) -> AppTest:
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _preview(at: AppTest, label: str = "Anaglyph (red-cyan)") -> np.ndarray:
    return shown_image(image_by_caption(at, f"{label}, preview").value[0]).astype(int)


def _camera(depth: np.ndarray, fov_deg: float = 60.0) -> tuple[int, float, float, float]:
    """(width, focal px, 1/Z near, 1/Z far) of a map calibrated with the Calibrate page's "good pair" example."""
    cal = calibrate(depth, example_points(depth, "good"))
    lo, hi = depth_range(depth)
    width = depth.shape[1]
    return width, focal_px_from_fov(width, fov_deg), cal.inverse_depth_at(hi), cal.inverse_depth_at(lo)


def _baseline_caption(strength: float, camera: tuple[int, float, float, float]) -> str:
    cm = baseline_m(strength, *camera) * 100
    return (f"Strength {strength:g} % = two cameras **{cm:.1f} cm** apart (field of view 60°, the default; metric "
            "scale from the Calibrate page).")


def test_the_page_shows_an_anaglyph_and_a_wiggle_preview_with_the_settings(app: AppTest) -> None:
    _open(app)
    assert [t.value for t in app.title] == ["Stereo and 3D Photo"]
    assert app.slider(key="stereo_strength").value == 3.0 and app.slider(key="stereo_convergence").value == 0.5
    preview = _preview(app)
    assert preview.shape == (*SAMPLE_HW, 3)
    # a red-cyan anaglyph, not the photo: red and cyan fringes where the views disagree
    assert np.abs(preview[..., 0] - preview[..., 1]).mean() > 5
    wiggle = image_by_caption(app, "Wiggle 3D photo").value[0]
    assert wiggle.startswith("data:image/gif;base64,")
    assert "18 px" in captions(app) and "600×400" in captions(app)  # 3 % of 600 px
    labels = [b.label for b in app.get("download_button")]
    assert labels == ["Anaglyph PNG", "Side by side PNG", "Cross-eyed PNG", "Top-bottom PNG", "Wiggle GIF",
                      "Orbit MP4"]


def test_moving_the_strength_changes_the_preview_and_a_layout_shows_both_views(app: AppTest) -> None:
    _open(app)
    before = _preview(app)
    app.slider(key="stereo_strength").set_value(8.0).run()
    assert not app.exception, app.exception
    after = _preview(app)
    assert np.abs(after - before).mean() > 1  # more disparity: wider fringes
    assert "48 px" in captions(app)
    app.radio(key="stereo_layout").set_value("Side by side (parallel)").run()
    pair = _preview(app, "Side by side (parallel)")
    assert pair.shape == (SAMPLE_HW[0], 2 * SAMPLE_HW[1], 3)
    left, right = pair[:, : SAMPLE_HW[1]], pair[:, SAMPLE_HW[1]:]
    assert np.abs(left - right).mean() > 1  # two different views
    # the anaglyph of these two views is the one shown before (up to the preview's JPEG)
    made = anaglyph(left.astype(np.uint8), right.astype(np.uint8)).astype(int)
    assert np.abs(made - after).mean() < 6
    assert compose(left.astype(np.uint8), right.astype(np.uint8), "cross").shape == pair.shape


def test_the_settings_survive_a_page_switch(app: AppTest) -> None:
    _open(app)
    app.slider(key="stereo_strength").set_value(5.5).run()
    app.radio(key="stereo_fill").set_value("OpenCV inpainting (Telea)").run()
    app.switch_page("app_pages/explorer.py").run()
    _open(app)
    assert app.slider(key="stereo_strength").value == 5.5
    assert app.radio(key="stereo_fill").value == "OpenCV inpainting (Telea)"


def test_without_a_calibration_a_baseline_needs_the_calibrate_page(app: AppTest) -> None:
    _open(app)
    assert ("A baseline in centimetres needs a metric scale, and relative depth has none: calibrate this photo on "
            "the Calibrate to Metres page first.") in captions(app)
    (link,) = app.get("page_link")
    assert link.proto.label == "Calibrate to Metres" and link.proto.page.endswith("calibrate")
    assert not [n for n in app.number_input if n.key == "stereo_baseline_cm"]
    assert "two cameras" not in captions(app)


def test_after_a_calibration_the_strength_is_a_baseline_and_a_baseline_sets_it(open_page, depth) -> None:
    at = open_page("calibrate")
    at.button(key="cal_example_good").click().run()  # two pixels with known distances: metres
    assert not at.exception and not at.error
    _open(at)
    camera = _camera(depth)  # the test photo has no EXIF: 60°, the default
    assert _baseline_caption(3.0, camera) in captions(at)

    assert at.number_input(key="stereo_baseline_cm").value == 6.3  # human eyes, by default
    at.button(key="stereo_use_baseline").click().run()
    assert not at.exception, at.exception
    strength = round(strength_for_baseline(0.063, *camera), 1)  # to the slider's step
    assert at.slider(key="stereo_strength").value == strength and strength != 3.0
    assert _baseline_caption(strength, camera) in captions(at)
    assert f"Strength {strength:g} % = **{strength / 100 * camera[0]:.0f} px**" in captions(at)  # the views follow

    at.number_input(key="stereo_baseline_cm").set_value(2.5).run()  # typing a baseline sets the strength too
    assert at.slider(key="stereo_strength").value == round(strength_for_baseline(0.025, *camera), 1)
    most = baseline_m(10.0, *camera) * 100
    at.number_input(key="stereo_baseline_cm").set_value(round(3 * most, 1)).run()  # beyond what eyes can fuse
    (warning,) = at.warning
    assert warning.value.startswith("The strength stays as it is: a baseline of")
    assert "more than the 10 % allowed" in warning.value and f"at most {most:.3g} cm" in warning.value
    assert at.slider(key="stereo_strength").value == round(strength_for_baseline(0.025, *camera), 1)

    at.switch_page("app_pages/explorer.py").run()  # the baseline is a setting: it stays chosen
    _open(at)
    assert at.number_input(key="stereo_baseline_cm").value == round(3 * most, 1)


def test_the_orbit_video_is_made_on_request(app: AppTest) -> None:
    _open(app)
    assert not app.get("video")
    app.button(key="stereo_make_orbit").click().run()
    assert not app.exception, app.exception
    (video,) = app.get("video")
    assert video.proto.url
    app.slider(key="stereo_strength").set_value(4.0).run()  # other settings: the old video would be wrong
    assert not app.get("video")


@pytest.mark.browser
def test_browser_stereo_journey(page, tmp_path, app_predictor) -> None:
    _pick(page, "pick a sample", "Chelsea the cat")
    page.locator('[data-testid="stSidebar"]').get_by_text("Showing: Chelsea the cat (sample)").wait_for(
        timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    go_to(page, "Stereo and 3D Photo")
    preview = page.locator('[data-testid="stImage"] img').first
    preview.wait_for(timeout=UI_TIMEOUT)
    before = preview.get_attribute("src")
    full_page_screenshot(page, "stereo_page")

    _slide(page, "Strength", 0, 30)  # 3 % -> 6 % in 0.1 % steps, with the keyboard
    page.get_by_text("Strength 6 %").first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    after = page.locator('[data-testid="stImage"] img').first.get_attribute("src")
    assert after != before and after.startswith("data:image/jpeg")
    full_page_screenshot(page, "stereo_page_strength6")

    saved = download(page, "Anaglyph PNG", tmp_path)
    assert saved.name == "Chelsea_the_cat_anaglyph.png"
    with Image.open(saved) as image:
        assert image.format == "PNG"
        got = np.asarray(image.convert("RGB")).astype(int)
        text = dict(image.text)  # the file says what it is and how it was made
    assert text["content"] == "stereo views rendered from relative inverse depth" and text["layout"] == "anaglyph"
    assert text["strength"].startswith("6 % of the width") and text["convergence"].startswith("0.5 ")
    assert text["weights_sha256"] == app_predictor.info.sha256 and text["app_version"] == __version__
    # the full-resolution anaglyph of the sample at 6 %, as core makes it from the app's own prediction
    rgb = decode_image((REPO / "samples" / "chelsea.png").read_bytes())
    pair = stereo_pair(rgb, app_predictor.predict(rgb), 6.0, 0.5)
    expected = anaglyph(pair.left.image, pair.right.image).astype(int)
    assert got.shape == expected.shape
    assert np.abs(got - expected).mean() < 1.0  # the network's last bits may differ between processes
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_text("A baseline in centimetres needs a metric scale").wait_for(timeout=UI_TIMEOUT)

    # calibrate the photo, come back: the strength is a camera baseline, and a baseline sets it
    page.get_by_role("link", name="Calibrate to Metres").first.click()  # the page's own link
    page.get_by_role("heading", name="Calibrate to Metres").first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    page.get_by_role("button", name="Example: a good pair").click()
    page.get_by_text("RMS residual").first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    go_to(page, "Stereo and 3D Photo")
    camera = _camera(app_predictor.predict(rgb))  # the sample has no focal length in its EXIF: 60°
    page.get_by_text(re.compile(r"Strength 6 % = two cameras \d+\.\d cm apart")).wait_for(timeout=UI_TIMEOUT)
    box = page.get_by_label("Set the strength from a baseline (cm)", exact=True)
    box.fill("6.5")  # a baseline typed as a user does (6.3, the eyes' distance, is the default)
    box.press("Enter")
    strength = round(strength_for_baseline(0.065, *camera), 1)
    cm = baseline_m(strength, *camera) * 100
    shown = page.get_by_text(re.compile(rf"Strength {strength:g} % = two cameras \d+\.\d cm apart"))
    shown.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    text = shown.first.inner_text()
    assert abs(float(re.search(r"(\d+\.\d) cm", text)[1]) - cm) <= 0.1, text  # the server's bits may differ
    assert "field of view 60°, the default; metric scale from the Calibrate page" in text
    assert float(_slider_value(page)) == strength
    page.locator('[data-testid="stSlider"]').filter(has_text="Strength").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "stereo_baseline.png"))  # the strength and its baseline, in view
    full_page_screenshot(page, "stereo_page_baseline")
    saved = download(page, "Anaglyph PNG", tmp_path / "calibrated")
    with Image.open(saved) as image:
        text = dict(image.text)
    assert text["strength"].startswith(f"{strength:g} % of the width")
    assert text["field_of_view"].startswith("60° horizontal field of view: the default")
    assert abs(float(text["baseline"].split(" m ")[0]) - cm / 100) <= 0.001
    assert page.locator('[data-testid="stException"]').count() == 0


def _slider_value(page) -> str:
    return page.locator('[data-testid="stSlider"]').filter(has_text="Strength").locator('input[type="range"]').first \
        .input_value()

