"""The Live Camera page (issue 13, item 4) as a user meets it.

AppTests: the page draws its controls and, with no camera stream, the message that says what to do
(no camera, permission denied); with a stand-in for ``webrtc_streamer`` that "plays", the readout
shows the stream's figures and a changed control reaches the running processor; a bad ICE-server
setting gets one message. AppTest has no browser, so streamlit-webrtc's session lookup is pointed
at "no session", as outside a server.

The browser test (marked ``browser``) starts Chromium with a fake camera playing a ``.y4m`` clip
this module writes (a gray scene: the depth heatmap is the only colour), presses START, checks
that the depth stream plays in the page and that the page reports fps > 0, switches to side by
side while it runs, and saves ``artifacts/screenshots/live_camera.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.video.live import ICE_SERVERS_ENV, LIVE_SIZES, LiveSettings, LiveStats, LiveStream
from tests.app.test_teaching_pages import DASHBOARD, TIMEOUT
from tests.browser_support import (
    UI_TIMEOUT,
    chromium,
    full_page_screenshot,
    go_to,
    metric_value,
    open_app,
)

CAMERA = (640, 480)


@pytest.fixture
def live_page(monkeypatch, reference_weights, tmp_path):
    monkeypatch.setenv("MIDAS_WEIGHTS", str(reference_weights))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # never the user's cache
    monkeypatch.delenv(ICE_SERVERS_ENV, raising=False)
    # AppTest's runtime is a stub without sessions: let streamlit-webrtc see none, as in bare mode
    monkeypatch.setattr("streamlit_webrtc.component.get_this_session_info", lambda: None)
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    at.run()
    return at


def _open(at: AppTest) -> AppTest:
    at.switch_page("app_pages/live_camera.py").run()
    assert not at.exception, at.exception
    return at


def test_the_page_draws_its_controls_and_says_what_to_do_without_a_camera(live_page):
    at = _open(live_page)
    assert at.title[0].value == "Live Camera"
    assert at.radio(key="live_view").options == ["Heatmap", "Side by side", "Overlay"]
    assert at.radio(key="live_mode").options == ["stable", "per-frame"]
    assert [int(o) for o in at.select_slider(key="live_size").options] == list(LIVE_SIZES)
    assert at.selectbox(key="cmap").value == "inferno"
    shown = " ".join(i.value for i in at.info)
    assert "Press **START**" in shown and "No camera, or permission denied?" in shown
    assert "NotAllowedError" in shown and "Video" in shown
    assert not at.metric, "no fps readout before the camera plays"


def test_controls_keep_their_values_and_overlay_adds_its_opacity(live_page):
    at = _open(live_page)
    assert not [s for s in at.slider if s.key == "overlay_opacity"]
    at.radio(key="live_view").set_value("overlay").run()
    at.select_slider(key="live_size").set_value(128).run()
    at.radio(key="live_mode").set_value("per-frame").run()
    assert not at.exception, at.exception
    assert [s.key for s in at.slider if s.key == "overlay_opacity"] == ["overlay_opacity"]
    at.switch_page("app_pages/video.py").run()
    at = _open(at)
    assert at.radio(key="live_view").value == "overlay" and at.radio(key="live_mode").value == "per-frame"
    assert int(at.select_slider(key="live_size").value) == 128


class _PlayingStreamer:
    """Stands in for ``webrtc_streamer`` as if the camera played: builds the page's processor once."""

    def __init__(self) -> None:
        self.kwargs: dict = {}
        self.stream: LiveStream | None = None
        self.clock = [50.0]

    def __call__(self, **kwargs):
        self.kwargs = kwargs
        if self.stream is None:
            self.stream = kwargs["video_processor_factory"]()
            self.stream.stats = LiveStats(clock=lambda: self.clock[0])  # figures the test knows
            for k in range(30):  # 30 camera frames in 1.5 s, 12 pictures at 40..150 ms
                self.stream.stats.note_input()
                if k % 5 < 2:
                    self.stream.stats.record(0.040 + 0.010 * (k // 2.5), {"inference": 0.03})
                self.clock[0] += 0.05
            self.stream.stats.note_dropped(18)
        return SimpleNamespace(state=SimpleNamespace(playing=True, signalling=False), video_processor=self.stream)


def test_while_playing_the_readout_shows_the_streams_figures_and_controls_reach_it(live_page, monkeypatch):
    streamer = _PlayingStreamer()
    monkeypatch.setattr("streamlit_webrtc.webrtc_streamer", streamer)
    at = _open(live_page)
    assert streamer.kwargs["rtc_configuration"] == {"iceServers": []}, "no outside STUN/TURN by default"
    assert streamer.kwargs["async_processing"] is False
    assert streamer.kwargs["media_stream_constraints"]["audio"] is False
    stream = streamer.stream
    assert isinstance(stream, LiveStream) and stream.depth.settings == LiveSettings(size=192)
    snap = stream.stats.snapshot()
    shown = {m.label: m.value for m in at.metric}
    assert shown["Depth fps"] == f"{snap.fps:.1f}" and float(shown["Depth fps"]) > 0
    assert shown["Camera fps"] == f"{snap.input_fps:.1f}"
    assert shown["Latency p95"] == f"{snap.latency_p95_ms:.0f} ms"
    assert any("18 stale camera frames dropped" in c.value for c in at.caption)
    assert not [i for i in at.info if "Press **START**" in i.value]

    at.radio(key="live_view").set_value("side-by-side").run()
    at.radio(key="live_mode").set_value("per-frame").run()
    at.selectbox(key="cmap").set_value("viridis").run()
    assert not at.exception, at.exception
    assert stream.depth.settings == LiveSettings(view="side-by-side", cmap="viridis", size=192, mode="per-frame")
    stream.stop()


def test_a_bad_ice_server_setting_gets_one_message(live_page, monkeypatch):
    monkeypatch.setenv(ICE_SERVERS_ENV, '{"urls": "stun:stun.example.org"}')
    at = live_page.switch_page("app_pages/live_camera.py").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and ICE_SERVERS_ENV in errors[0] and "JSON list" in errors[0]


# --- the real browser, with a fake camera ---------------------------------------------------


def write_y4m(path: Path, frames: int = 60, size: tuple[int, int] = CAMERA, fps: int = 30) -> Path:
    """A gray clip (a ramp with a bright disc moving across it) as YUV4MPEG2, Chromium's fake-camera format."""
    width, height = size
    ramp = np.linspace(40, 200, width, dtype=np.float32)[None, :].repeat(height, 0)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for k in range(frames):
            gray = ramp.copy()
            cv2.circle(gray, (int(80 + k * (width - 160) / frames), height // 2), 60, 250.0, -1)
            rgb = np.repeat(gray.astype(np.uint8)[..., None], 3, axis=2)
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())  # Y, then U, then V planes
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator:
    """Chromium with a fake camera (this module's own: the shared fixture has none)."""
    clip = write_y4m(tmp_path_factory.mktemp("camera") / "camera.y4m")
    with chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  f"--use-file-for-fake-video-capture={clip}") as launched:
        yield launched


_PLAYING = """v => v.readyState >= 2 && !v.paused && v.currentTime > 0.5 && v.videoWidth > 0"""

# the share of the shown frame's pixels that are coloured (the gray camera has none)
_COLOURED = """v => {
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let coloured = 0;
  for (let i = 0; i < d.length; i += 4) {
    const hi = Math.max(d[i], d[i + 1], d[i + 2]), lo = Math.min(d[i], d[i + 1], d[i + 2]);
    if (hi - lo > 40) coloured++;
  }
  return coloured / (d.length / 4);
}"""


def _fps(page) -> float:
    return float(metric_value(page, "Depth fps"))


@pytest.mark.browser
def test_browser_fake_camera_in_depth_out_with_fps(server, browser):
    page = open_app(browser, server)
    try:
        go_to(page, "Live Camera")
        frame = page.frame_locator('iframe[title*="webrtc"]').first
        frame.get_by_role("button", name="START").click()
        video = frame.locator("video").first
        video.wait_for(timeout=UI_TIMEOUT)
        video.evaluate(f"v => new Promise(r => {{ const t = () => ({_PLAYING})(v) ? r() : setTimeout(t, 200); t(); }})",
                       timeout=120_000)
        # the fps readout refreshes every second; the first depth frames follow the connection
        page.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="stMetric"]')]
                 .some(m => m.innerText.includes('Depth fps') && parseFloat(m.querySelector(
                   '[data-testid="stMetricValue"]').innerText) > 0)""",
            timeout=UI_TIMEOUT,
        )
        assert _fps(page) > 0
        # the stream shows depth: a colour heatmap, where the fake camera (passed through until the
        # first depth frame arrives) is gray; the depth frames reach the browser after the
        # encoder's and the jitter buffer's delay, so wait for them
        coloured = 0.0
        for _ in range(120):
            coloured = video.evaluate(_COLOURED)
            if coloured > 0.2:
                break
            page.wait_for_timeout(500)
        if coloured <= 0.2:
            full_page_screenshot(page, "live_camera_failed")
        assert coloured > 0.2, f"only {coloured:.0%} of the shown pixels are coloured: not the heatmap"
        assert (video.evaluate("v => [v.videoWidth, v.videoHeight]")) == list(CAMERA)
        full_page_screenshot(page, "live_camera")

        # a control changed while it runs applies to the running stream: side by side is twice as wide
        page.locator('[data-testid="stRadio"]').filter(has_text="View").get_by_text("Side by side").click()
        video.evaluate("v => new Promise(r => { const t = () => v.videoWidth === 2 * 640 ? r() : setTimeout(t, 200); t(); })",
                       timeout=60_000)
        page.wait_for_timeout(2500)
        assert _fps(page) > 0, "still running after the change"
        full_page_screenshot(page, "live_camera_side_by_side")
        frame.get_by_role("button", name="STOP").click()
        page.get_by_text("Press START", exact=False).first.wait_for(timeout=60_000)
    finally:
        page.close()
