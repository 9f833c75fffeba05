"""Phone photos above the 40 MP full-resolution limit: decoded reduced, and the page says so.

An AppTest uploads a 48 MP JPEG to the Depth Explorer; a real-browser journey does the same in
headless Chromium. The photo is 8000×6000 in four flat colours, which encodes to under 1 MB in
a fraction of a second. The decoding itself is tested in tests/io/test_images.py.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.browser_support import UI_TIMEOUT, full_page_screenshot, go_to, wait_idle
from tests.shown_images import shown_image
from tests.app.test_dashboard import app, image_by_caption, upload  # noqa: F401 - fixtures

NOTE = "decoded at 1/2 scale: 4000×3000 from 8000×6000 (48 MP, above the 40 MP limit for full resolution)"
QUADRANTS = ((230, 30, 30), (30, 200, 40), (40, 60, 220), (240, 240, 240))  # TL, TR, BL, BR


@pytest.fixture(scope="module")
def photo_48mp() -> bytes:
    """An 8000×6000 JPEG: red, green, blue and white quadrants."""
    im = Image.new("RGB", (8000, 6000), QUADRANTS[0])
    im.paste(QUADRANTS[1], (4000, 0, 8000, 3000))
    im.paste(QUADRANTS[2], (0, 3000, 4000, 6000))
    im.paste(QUADRANTS[3], (4000, 3000, 8000, 6000))
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_an_uploaded_48_mp_photo_is_shown_with_the_decoded_at_half_scale_note(
    app: AppTest, photo_48mp: bytes
) -> None:
    app.switch_page("app_pages/explorer.py").run()
    upload(app, "IMG_20250101_120000.jpg", photo_48mp, "image/jpeg")
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    notes = [i.value for i in app.info if "decoded at" in i.value]
    assert notes == [f"**IMG_20250101_120000.jpg**: {NOTE}, and the depth map and the downloads have that size."]
    assert "**IMG_20250101_120000.jpg** · 4000×3000 px" in app.caption[0].value
    # the photo is the reduced decode, quadrants in place (shown at the display width, JPEG: +-6)
    shown = shown_image(image_by_caption(app, "Original").value[0])
    h, w = shown.shape[:2]
    assert w / h == pytest.approx(4 / 3, abs=0.01)
    for (y, x), color in zip([(h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4),
                               (3 * h // 4, 3 * w // 4)], QUADRANTS):
        np.testing.assert_allclose(shown[y, x], color, atol=6)
    assert image_by_caption(app, "Heatmap")

    app.switch_page("app_pages/point_cloud.py").run()  # every page says so, not only the first
    assert not app.exception, app.exception
    assert [i.value for i in app.info if "decoded at" in i.value] == notes


@pytest.mark.browser
def test_browser_journey_a_48_mp_upload_shows_the_note_and_the_heatmap(page, tmp_path) -> None:
    path = tmp_path / "IMG_48MP.jpg"
    im = Image.new("RGB", (8000, 6000), QUADRANTS[0])
    im.paste(QUADRANTS[3], (4000, 3000, 8000, 6000))
    im.save(path, "JPEG", quality=90)
    go_to(page, "Depth Explorer")
    page.locator('[data-testid="stSidebar"] input[type="file"]').first.set_input_files(str(path))
    page.get_by_text("(upload)").wait_for(timeout=UI_TIMEOUT)
    note = page.locator('[data-testid="stAlert"]').filter(has_text="decoded at 1/2 scale")
    note.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    assert "IMG_48MP.jpg: decoded at 1/2 scale: 4000×3000 from 8000×6000" in note.inner_text()
    heatmap = page.locator('[data-testid="stImage"]').filter(has_text=re.compile("^Heatmap ·")).locator("img")
    heatmap.wait_for(state="visible", timeout=UI_TIMEOUT)
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=heatmap.element_handle())
    assert page.get_by_text(re.compile(r"4000×3000 px")).count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
    full_page_screenshot(page, "large_photo_explorer")
