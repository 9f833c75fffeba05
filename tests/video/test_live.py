"""core/video/live.py: the latest frame wins, the figures, the pictures, and the shared gate under contention."""

from __future__ import annotations

import threading
import time

import av
import numpy as np
import pytest

from core.maps.colormaps import colormap_lut
from core.midas.inference_gate import InferenceGate
from core.midas.transforms import preprocess
from core.video.live import (
    LIVE_SIZES,
    VIEWS,
    LatestSlot,
    LiveDepth,
    LiveSettings,
    LiveStats,
    LiveStream,
    compose_view,
    live_input,
    rtc_configuration,
)

H, W = 48, 64  # a small camera frame: 4:3 like 640x480


class FakePredictor:
    """The predictor's interface with a network whose output is the input's first channel.

    So a frame's raw "depth" is its red channel (normalised, at the network size): tests choose
    the depth by painting the frame.
    """

    def __init__(self, delay: float = 0.0, gate: InferenceGate | None = None) -> None:
        self.gate = gate or InferenceGate(1, timeout=30.0)
        self.delay = delay
        self.shapes: list[tuple[int, int]] = []

    def network_output(self, x: np.ndarray) -> np.ndarray:
        self.shapes.append(tuple(x.shape[2:]))
        if self.delay:
            time.sleep(self.delay)
        return x[0, 0].copy()  # 1x3xhxw -> hxw


def _frame(seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    """A left-to-right red ramp (the fake depth: near on the right) with a little noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(20, 235, w)[None, :].repeat(h, 0)
    rgb = np.stack([ramp, np.full((h, w), 90.0), np.full((h, w), 60.0)], axis=2)
    return np.clip(rgb + rng.normal(0, 2, rgb.shape), 0, 255).astype(np.uint8)


def _wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# --- the slot -----------------------------------------------------------------------------------


def test_slot_keeps_only_the_newest_item_and_counts_the_dropped_ones():
    slot: LatestSlot[int] = LatestSlot()
    assert [slot.put(i) for i in range(5)] == [False, True, True, True, True]
    assert slot.dropped == 4 and slot.pending
    assert slot.take(timeout=0) == 4
    assert not slot.pending and slot.take(timeout=0.01) is None


def test_slot_close_wakes_a_waiting_taker():
    slot: LatestSlot[int] = LatestSlot()
    got = []
    taker = threading.Thread(target=lambda: got.append(slot.take()))
    taker.start()
    time.sleep(0.05)
    slot.close()
    taker.join(2.0)
    assert not taker.is_alive() and got == [None]


def test_a_slow_consumer_sees_only_ever_newer_items_and_the_last_one():
    slot: LatestSlot[int] = LatestSlot()
    seen: list[int] = []
    n = 300

    def consume() -> None:
        while (item := slot.take(timeout=2.0)) is not None:
            seen.append(item)
            if item == n - 1:
                return
            time.sleep(0.003)  # slower than the producer

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(n):
        slot.put(i)
        time.sleep(0.0002)
    consumer.join(10.0)
    assert seen[-1] == n - 1, "the newest item always gets through"
    assert seen == sorted(set(seen)), "never an older item after a newer one"
    assert len(seen) < n / 2, "the slow consumer skipped most items"
    assert slot.dropped + len(seen) == n, "every item was either taken or counted as dropped"


# --- the figures ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_stats_rates_and_percentiles_over_the_window():
    clock = Clock()
    stats = LiveStats(window_s=2.0, clock=clock)
    assert stats.snapshot().fps == 0 and stats.snapshot().latency_p50_ms is None
    latencies = [0.010 * (k + 1) for k in range(20)]  # 10..200 ms
    for k in range(40):  # 40 frames in at 20 fps over 2 s; every other one becomes a picture
        stats.note_input()
        if k % 2:
            stats.record(latencies[k // 2], {"inference": 0.05})
        clock.t += 0.05
    snap = stats.snapshot()
    assert snap.input_fps == pytest.approx(20.0, rel=0.05) and snap.fps == pytest.approx(10.0, rel=0.1)
    assert snap.frames == 20
    expected = np.percentile(np.array(latencies[-len(range(1, 40, 2)):]) * 1000, [50, 95])
    assert snap.latency_p50_ms == pytest.approx(expected[0]) and snap.latency_p95_ms == pytest.approx(expected[1])
    assert snap.seconds == {"inference": 0.05}
    clock.t += 5.0  # nothing for longer than the window: the rates fall to zero, the totals stay
    later = stats.snapshot()
    assert later.fps == 0 and later.input_fps == 0 and later.latency_p95_ms is None and later.frames == 20


def test_stats_count_dropped_busy_and_keep_the_last_error_until_a_frame_succeeds():
    stats = LiveStats()
    stats.note_dropped(3)
    stats.note_busy()
    stats.note_error("ValueError: bad frame")
    snap = stats.snapshot()
    assert (snap.dropped, snap.busy, snap.error) == (3, 1, "ValueError: bad frame")
    stats.record(0.01)
    assert stats.snapshot().error == ""


# --- frames to pictures ---------------------------------------------------------------------


@pytest.mark.parametrize("size", LIVE_SIZES)
def test_live_input_fits_the_frame_inside_n_with_sides_multiples_of_32(size):
    x = live_input(np.zeros((480, 640, 3), np.uint8), size)
    assert x.dtype == np.float32 and x.shape[:2] == (1, 3)
    h, w = x.shape[2:]
    assert w == size and h % 32 == 0 and h <= size
    assert abs(h - 0.75 * w) <= 16, "the aspect ratio, within the rounding to a multiple of 32"


def test_live_input_at_256_is_the_official_transform():
    rgb = _frame(1, 120, 160)
    np.testing.assert_array_equal(live_input(rgb, 256), preprocess(rgb, 256).numpy())


@pytest.mark.parametrize("bad", [96, 288, 200])
def test_live_input_refuses_sizes_outside_the_live_range(bad):
    with pytest.raises(ValueError, match="one of"):
        live_input(np.zeros((8, 8, 3), np.uint8), bad)


def test_compose_view_shapes_and_overlay_blend():
    rgb = np.zeros((4, 6, 3), np.uint8)
    heat = np.full((4, 6, 3), 200, np.uint8)
    assert compose_view(rgb, heat, "heatmap") is heat
    assert compose_view(rgb, heat, "side-by-side").shape == (4, 12, 3)
    assert compose_view(rgb, heat, "overlay", 0.25)[0, 0].tolist() == [50, 50, 50]
    with pytest.raises(ValueError, match="view must be one of"):
        compose_view(rgb, heat, "3d")


def test_settings_refuse_bad_values_with_what_is_allowed():
    for kwargs, words in [({"view": "x"}, "view"), ({"cmap": "nope"}, "colormap"), ({"size": 384}, "size"),
                          ({"mode": "ema"}, "mode"), ({"opacity": 2.0}, "opacity")]:
        with pytest.raises(ValueError, match=words):
            LiveSettings(**kwargs)


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("mode", ["stable", "per-frame"])
def test_processor_pictures_have_the_frame_size_in_every_view_and_mode(view, mode):
    depth = LiveDepth(FakePredictor(), LiveSettings(view=view, mode=mode, size=128))
    picture = depth.process(_frame())
    width = 2 * W if view == "side-by-side" else W
    assert picture.shape == (H, width, 3) and picture.dtype == np.uint8
    assert set(depth.last_seconds) == {"preprocess", "inference", "render"}


def test_processor_runs_the_network_at_the_chosen_n_and_follows_a_change():
    fake = FakePredictor()
    depth = LiveDepth(fake, LiveSettings(size=256))
    depth.process(_frame(0, 480, 640))
    depth.configure(LiveSettings(size=128, view="side-by-side"))
    picture = depth.process(_frame(0, 480, 640))
    assert fake.shapes == [(192, 256), (96, 128)]
    assert picture.shape == (480, 1280, 3)


def test_per_frame_spans_the_colormap_while_stable_holds_its_window_when_a_near_object_enters():
    lut = colormap_lut("gray")
    background = _frame(0)
    with_object = background.copy()
    with_object[:12, :12, 0] = 255  # a small near (bright red = large fake depth) patch enters

    def second_picture(mode: str) -> tuple[np.ndarray, np.ndarray]:
        depth = LiveDepth(FakePredictor(), LiveSettings(cmap="gray", mode=mode, size=128))
        first = depth.process(background)
        return first, depth.process(with_object)

    first, second = second_picture("per-frame")
    assert first.min() == lut[0].min() and first.max() == lut[255].max(), "per-frame: min to max"
    change_per_frame = np.abs(second[24:, 20:].astype(int) - first[24:, 20:]).mean()  # the background
    first_s, second_s = second_picture("stable")
    change_stable = np.abs(second_s[24:, 20:].astype(int) - first_s[24:, 20:]).mean()
    # per-frame rescales the whole picture to the object's new maximum; stable aligns the frame
    # (the object is trimmed) and its window moves by only EMA_ALPHA of the change
    assert change_per_frame > 5.0, change_per_frame
    assert change_stable < change_per_frame / 3, (change_stable, change_per_frame)


# --- the shared gate --------------------------------------------------------------------------


def _hold(gate: InferenceGate, held: threading.Event, release: threading.Event) -> threading.Thread:
    def run() -> None:
        with gate.slot():
            held.set()
            release.wait(10.0)

    thread = threading.Thread(target=run)
    thread.start()
    assert held.wait(5.0)
    return thread


def test_a_busy_gate_drops_the_frame_at_once_instead_of_waiting():
    gate = InferenceGate(1, timeout=30.0)
    depth = LiveDepth(FakePredictor(gate=gate))
    held, release = threading.Event(), threading.Event()
    holder = _hold(gate, held, release)
    try:
        start = time.perf_counter()
        assert depth.process(_frame()) is None
        assert time.perf_counter() - start < 1.0, "returned long before the gate's 30 s timeout"
        assert gate.waiting == 0, "the live view left no waiter behind"
    finally:
        release.set()
        holder.join(5.0)
    assert depth.process(_frame()) is not None, "a free gate: the frame is processed"


def test_the_live_view_never_cuts_in_front_of_a_queued_prediction():
    gate = InferenceGate(1, timeout=30.0)
    fake = FakePredictor(gate=gate)
    depth = LiveDepth(fake)
    held, release = threading.Event(), threading.Event()
    holder = _hold(gate, held, release)
    order: list[str] = []

    def queued_user() -> None:  # another page's prediction, queued behind the holder
        with gate.slot():
            order.append("user")

    user = threading.Thread(target=queued_user)
    user.start()
    _wait_for(lambda: gate.waiting == 1)
    assert depth.process(_frame()) is None, "someone is queued: the live frame is dropped"
    assert gate.waiting == 1 and fake.shapes == []
    release.set()
    holder.join(5.0)
    user.join(5.0)
    assert order == ["user"], "the queued prediction ran, not delayed by the live view"
    assert depth.process(_frame()) is not None


# --- the stream -------------------------------------------------------------------------------


def test_stream_with_a_slow_network_drops_stale_frames_and_shows_the_newest():
    fake = FakePredictor(delay=0.03)
    stream = LiveStream(LiveDepth(fake, LiveSettings(size=128)))
    frames = [_frame(k) for k in range(4)]
    try:
        n = 80
        for k in range(n):  # 200 fps in, ~30 fps out
            stream.submit(frames[k % 4])
            time.sleep(0.005)
        _wait_for(lambda: stream.output is not None and stream.output.source_index == n)
        snap = stream.stats.snapshot()
        assert snap.frames < n / 2 and snap.dropped > n / 2
        assert snap.frames + snap.dropped + snap.busy == n, "each frame: a picture, dropped or busy"
        assert snap.latency_p95_ms is not None and snap.latency_p95_ms < 1000
    finally:
        stream.stop()
    assert stream.submit(frames[0]) is stream.output, "after stop() frames are ignored"


def test_stream_counts_busy_frames_and_keeps_the_last_picture():
    gate = InferenceGate(1, timeout=30.0)
    stream = LiveStream(LiveDepth(FakePredictor(gate=gate), LiveSettings(size=128)))
    try:
        stream.submit(_frame())
        _wait_for(lambda: stream.output is not None)
        last = stream.output
        held, release = threading.Event(), threading.Event()
        holder = _hold(gate, held, release)
        try:
            for k in range(5):
                stream.submit(_frame(k))
                _wait_for(lambda: not stream._slot.pending)
            _wait_for(lambda: stream.stats.snapshot().busy >= 1)
            assert stream.output is last, "a busy server: the last picture stays"
        finally:
            release.set()
            holder.join(5.0)
        stream.submit(_frame(9))
        _wait_for(lambda: stream.output is not last)
    finally:
        stream.stop()


def test_stream_takes_settings_while_running():
    stream = LiveStream(LiveDepth(FakePredictor(), LiveSettings(size=128)))
    try:
        stream.submit(_frame())
        _wait_for(lambda: stream.output is not None)
        assert stream.output.picture.shape == (H, W, 3)
        stream.configure(LiveSettings(size=128, view="side-by-side"))
        stream.submit(_frame(1))
        _wait_for(lambda: stream.output.picture.shape == (H, 2 * W, 3))
    finally:
        stream.stop()


def test_recv_passes_the_camera_through_until_the_first_depth_frame_then_sends_depth():
    stream = LiveStream(LiveDepth(FakePredictor(delay=0.05), LiveSettings(size=128, cmap="gray")))
    camera = av.VideoFrame.from_ndarray(_frame(), format="rgb24")
    try:
        assert stream.recv(camera) is camera
        _wait_for(lambda: stream.output is not None)
        out = stream.recv(camera)
        assert out is not camera and (out.width, out.height) == (W, H)
        gray = out.to_ndarray(format="rgb24").astype(int)
        assert np.abs(gray[..., 0] - gray[..., 2]).max() <= 2, "the gray heatmap, not the reddish camera"
    finally:
        stream.on_ended()


def test_a_failing_frame_is_reported_and_the_stream_goes_on():
    stream = LiveStream(LiveDepth(FakePredictor(), LiveSettings(size=128)))
    try:
        stream.submit(np.zeros((4, 4), np.uint8))  # not HxWx3
        _wait_for(lambda: stream.stats.snapshot().error != "")
        assert "HxWx3" in stream.stats.snapshot().error
        stream.submit(_frame())
        _wait_for(lambda: stream.output is not None)
        assert stream.stats.snapshot().error == ""
    finally:
        stream.stop()


def test_the_real_network_at_live_sizes(app_predictor):
    depth = LiveDepth(app_predictor, LiveSettings(size=128))
    rgb = _frame(3, 120, 160)
    small = depth.process(rgb)
    depth.configure(LiveSettings(size=256, view="overlay"))
    full = depth.process(rgb)
    assert small.shape == full.shape == (120, 160, 3)
    lut = colormap_lut("inferno").astype(int)
    distance = np.abs(small.reshape(-1, 1, 3).astype(int) - lut[None]).sum(axis=2).min(axis=1)
    assert distance.max() <= 3, "the heatmap's colours come from the colormap"


# --- WebRTC configuration -----------------------------------------------------------------------


def test_no_ice_server_by_default_and_given_ones_are_passed_through():
    assert rtc_configuration(None) == {"iceServers": []} == rtc_configuration("  ")
    servers = [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]
    import json

    assert rtc_configuration(json.dumps(servers)) == {"iceServers": servers}


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ('{"urls": "stun:x"}', "must be a JSON list"),
    ('[{"url": "stun:x"}]', "with \"urls\""),
    ('[{"urls": 3}]', "urls must be a string"),
    ('[{"urls": "stun:x", "password": "p"}]', "may hold only"),
])
def test_bad_ice_server_settings_say_what_to_set(text, words):
    with pytest.raises(ValueError, match=words) as e:
        rtc_configuration(text)
    assert "MIDAS_ICE_SERVERS" in str(e.value)
