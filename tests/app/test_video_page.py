"""The Video page (issue 13, items 3 and 6) as a user meets it.

AppTests upload clips made by :func:`tests.video.clips.make_clip`, press Process and check what
the page shows: both videos, the flicker figures, the downloads, the frame scrubber (the frame as
the stable heatmap video draws it) and the depth-over-time chart of typed pixels; a text file
named ``.mp4`` gets the reader's one message and the next good upload works. The browser journey
(marked ``browser``) does the same in headless Chromium, clicks two pixels on the frame and finds
two markers and two named lines, and saves ``artifacts/screenshots/video_page.png`` and
``video_depth_over_time.png``.
"""

from __future__ import annotations

import io
import json
import zipfile

import av
import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.maps.colormaps import colorize
from core.video.reader import VideoDecodeError, probe_video
from core.video.stable import normalized
from tests.app.test_dashboard import image_by_caption
from tests.app.test_measure_pages import _values
from tests.shown_images import shown_image
from tests.app.test_teaching_pages import DASHBOARD, TIMEOUT
from tests.browser_support import SCREENSHOTS, UI_TIMEOUT, chart_eval, click_chart, full_page_screenshot, go_to, wait_idle
from tests.video.clips import make_clip

FRAMES, SIZE = 6, (64, 48)  # a tiny clip: six predictions at N=256


@pytest.fixture
def video_page(monkeypatch, reference_weights, tmp_path):
    monkeypatch.setenv("MIDAS_WEIGHTS", str(reference_weights))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # never the user's cache
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/video.py").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def clip_bytes(tmp_path) -> bytes:
    return make_clip(tmp_path / "walk.mp4", FRAMES, 10, SIZE).read_bytes()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="video_upload").set_value((name, data, "video/mp4"))
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_text_file_named_mp4_gets_one_message_and_the_next_upload_works(video_page, clip_bytes):
    text = b"this is not a video, only some words\n" * 20
    with pytest.raises(VideoDecodeError) as expected:
        probe_video(text)
    at = _upload(video_page, "notes.mp4", text)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "notes.mp4" in errors[0] and str(expected.value) in errors[0]
    assert not any(b.key == "video_process" for b in at.button), "no Process button for an unusable file"

    at = _upload(at, "walk.mp4", clip_bytes)
    assert not at.error
    shown = " ".join(c.value for c in at.caption)
    assert f"**walk.mp4**: {SIZE[0]}×{SIZE[1]}" in shown and f"{FRAMES} frames" in shown
    assert any(b.key == "video_process" for b in at.button)


def test_processing_a_clip_shows_both_videos_flicker_downloads_and_scrubber(video_page, clip_bytes):
    at = _upload(video_page, "walk.mp4", clip_bytes)
    at.radio(key="video_mode").set_value("stable")
    at.button(key="video_process").click()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]

    keys = [b.key for b in at.button]
    assert "video_process" in keys and "video_cancel" not in keys  # ready for the next clip
    videos = at.get("video")
    assert len(videos) == 2 and all(v.proto.url for v in videos)
    result = at.session_state["video_result"]
    for key, width in (("depth_mp4", SIZE[0]), ("side_mp4", 2 * SIZE[0])):
        with av.open(result[key]) as container:
            frames = [f for f in container.decode(video=0)]
        assert len(frames) == FRAMES and (frames[0].width, frames[0].height) == (width, SIZE[1])

    metrics = {m.label: m.value for m in at.metric}
    per_frame, stable = float(metrics["Flicker, per-frame normalisation"]), float(metrics["Flicker, stable"])
    assert per_frame > 0 and stable >= 0
    assert (per_frame, stable) == pytest.approx((result["flicker_per_frame"], result["flicker"]), abs=1e-4)

    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert set(buttons) >= {"Heatmap video (.mp4)", "Side-by-side video (.mp4)", "Raw depth (.npz)", "16-bit PNGs (.zip)"}
    with np.load(result["npz"]) as npz:
        depth, timestamps = npz["depth"], npz["timestamps"]
    assert depth.shape == (FRAMES, SIZE[1], SIZE[0]) and depth.dtype == np.float16
    assert np.allclose(timestamps, np.arange(FRAMES) / 10, atol=1e-3)

    from core.video.pipeline import png16_zip

    with zipfile.ZipFile(io.BytesIO(png16_zip(depth))) as zf:
        pngs = [n for n in zf.namelist() if n.endswith(".png")]
        assert len(pngs) == FRAMES
        png = cv2.imdecode(np.frombuffer(zf.read(pngs[0]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == (SIZE[1], SIZE[0])

    # the scrubber: frame 3's heatmap, drawn as the stable heatmap video draws it, and its histogram
    at.slider(key="video_frame").set_value(3).run()
    assert not at.exception, at.exception
    assert any("Frame 3 at 0.30 s · as the heatmap video shows it (aligned" in c.value for c in at.caption)
    picture, hist = _charts(at)
    image = picture["data"][0]
    assert image["type"] == "image"
    z = image["z"]  # the picture's pixels: a typed array, or nested lists
    shape = tuple(int(n) for n in str(z.get("shape", "")).split(",")) if isinstance(z, dict) else None
    shown = np.asarray(_values(z), np.uint8).reshape(shape) if shape else np.asarray(z, np.uint8)
    display = result["display"]
    want = colorize(display.shown(3, depth[3]), "inferno", 0.0, 1.0)
    assert np.array_equal(shown, want)  # lossless PNG
    on_its_own = colorize(normalized(depth[3].astype(np.float32), "per-frame", None), "inferno", 0.0, 1.0)
    assert not np.array_equal(shown, on_its_own)  # the raw frame normalised alone is not what the video shows
    assert sum(_values(hist["data"][0]["y"])) == depth[3].size

    # depth over time: no pixel yet; two typed pixels give two named lines, with markers on the frame
    assert not at.get("vega_lite_chart") and any("Click up to 5 pixels" in i.value for i in at.info)
    for x, y in ((5, 7), (60, 40)):
        at.number_input(key="video_type_x").set_value(x)
        at.number_input(key="video_type_y").set_value(y)
        at.button(key="video_type_add").click().run()
        assert not at.exception, at.exception
    (chart,) = at.get("vega_lite_chart")
    assert "relative inverse depth" in chart.proto.spec
    assert "P1 (5, 7)" in str(chart.proto) and "P2 (60, 40)" in str(chart.proto)
    picture, _ = _charts(at)
    (picked,) = [t for t in picture["data"] if t.get("name") == "picked"]
    assert list(_values(picked["x"])) == [5, 60] and list(_values(picked["y"])) == [7, 40]
    assert at.session_state["video_points"] == [(5, 7), (60, 40)]

    at.button(key="video_points_clear").click().run()
    assert not at.get("vega_lite_chart") and at.session_state["video_points"] == []


def _charts(at: AppTest) -> list[dict]:
    """The scrubber's Plotly figures as JSON: the clickable frame, then the histogram."""
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(figures) == 2, [f["data"][0]["type"] for f in figures]
    return sorted(figures, key=lambda f: f["data"][0]["type"] != "image")


@pytest.mark.browser
def test_browser_cancel_then_process_a_clip_and_scrub(page, tmp_path):
    long_clip = make_clip(tmp_path / "long.mp4", 200, 25, SIZE)
    clip = make_clip(tmp_path / "walk.mp4", FRAMES, 10, SIZE)
    go_to(page, "Video")
    uploader = page.locator('[data-testid="stMain"] [data-testid="stFileUploader"] input[type="file"]')
    process = page.get_by_role("button", name="Process")

    uploader.set_input_files(str(long_clip))  # long enough to be cancelled mid-way
    process.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    process.click()
    page.get_by_text("Predicting depth: frame").first.wait_for(timeout=UI_TIMEOUT)
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Cancelled after").first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    assert page.locator("video").count() == 0

    uploader.set_input_files(str(clip))  # the session carries on
    page.get_by_text(f"{FRAMES} frames").first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    process.click()
    page.locator("video").first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    assert page.locator("video").count() == 2
    # the browser can play them: H.264 MP4 is decoded far enough to know its length (a 0.6 s clip)
    page.wait_for_function(
        "() => [...document.querySelectorAll('video')].every(v => v.readyState >= 1 && v.duration > 0.5)",
        timeout=60_000,
    )
    assert page.locator('[data-testid="stSlider"]').filter(has_text="Frame").count() == 1
    page.get_by_text("Frame 0 at 0.00 s").first.wait_for(timeout=UI_TIMEOUT)

    # depth over time: click two pixels on the frame; two markers, two named lines
    page.get_by_text("Click up to 5 pixels").first.wait_for(timeout=UI_TIMEOUT)
    for n, (x, y) in enumerate(((10, 20), (50, 30)), start=1):
        _click_frame(page, x, y)
        page.wait_for_function(
            "n => { const gd = document.querySelector('[data-testid=\"stPlotlyChart\"] .js-plotly-plot');"
            " const t = gd && gd.data.find(d => d.name === 'picked'); return t && t.x.length === n; }",
            arg=n, timeout=UI_TIMEOUT,
        )
        wait_idle(page, UI_TIMEOUT)
    picked = chart_eval(page, 0, "const t = gd.data.find(d => d.name === 'picked'); return [Array.from(t.x), Array.from(t.y)];")
    assert picked == [[10, 50], [20, 30]]
    chart = page.locator('[data-testid="stVegaLiteChart"]')
    chart.first.wait_for(timeout=UI_TIMEOUT)
    lines = page.evaluate(
        "() => { const v = [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')];"
        " return v.map(e => e.innerText + ' ' + (e.querySelector('svg') ? e.querySelector('svg').textContent : '')); }"
    )
    chart.first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / "video_depth_over_time.png"))
    assert len(lines) == 1 and "P1 (10, 20)" in lines[0] and "P2 (50, 30)" in lines[0], lines
    full_page_screenshot(page, "video_page")


def _click_frame(page, x: int, y: int) -> None:
    """Click pixel (x, y) of the scrubber's frame through the axes Plotly drew (hover first, as a mouse does)."""
    frame = page.locator('[data-testid="stPlotlyChart"]').first
    frame.locator(".nsewdrag").first.wait_for(state="visible", timeout=UI_TIMEOUT)
    frame.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    click_chart(page, x, y)
