"""core.video.pipeline: the .npz holds predict() of every frame, the MP4s play, cancel leaves nothing."""
from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest

from core.maps.colormaps import colorize
from core.maps.normalize import normalize
from core.video.pipeline import VideoCancelled, VideoResult, process_video
from core.video.reader import Sampling, VideoDecodeError, read_frames
from core.video.stable import Aligner, clip_window, flicker, normalized
from tests.conftest import REPO, assert_close_to_max
from tests.video.clips import make_clip

# float16 keeps 11 significant bits: storing a map rounds each value by at most 2**-11 of
# itself, so frame k of the .npz is within 2**-11 (4.9e-4) of the maximum of predict(frame k),
# inside the golden tolerance of 1e-3 of the maximum (../shared/reference/README.md).
FLOAT16_REL = 2.0**-11
GOLDEN_REL = 1e-3

SIZE = (64, 48)  # coded (width, height) of the test clips: tiny, so each frame predicts fast
FPS = 10.0
FRAMES = 8


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "moving.mp4", FRAMES, FPS, SIZE)


def _decoded(path):
    """(frames as HxWx3 uint8, their times in s, container duration in s) decoded by PyAV directly."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.pts * frame.time_base))
        duration = container.duration / 1e6 if container.duration else None
    return frames, times, duration


def _predicted(predictor, clip, sampling=Sampling()):
    frames = list(read_frames(clip, sampling))
    return frames, [predictor.predict(f.rgb) for f in frames]


def _shown(predictor, clip, mode):
    """What the pipeline should draw: (frames, predictions, each prediction aligned, the window, the fits).

    Each frame is aligned by the scale and shift that fit its network output to the running
    reference (Aligner, at the network's size); the window is the percentiles of the aligned
    outputs. predict() upsamples the output bicubically, a linear map, so the aligned
    prediction is the fit applied to the prediction.
    """
    frames, expected = _predicted(predictor, clip)
    aligner = Aligner(mode)
    outputs, fits = [], []
    for frame in frames:
        outputs.append(aligner.align(predictor.run(frame.rgb, upsample=False).net_output))
        fit = aligner.last_fit
        fits.append((1.0, 0.0) if fit is None else (fit.scale, fit.shift))
    window = clip_window(outputs) if mode == "stable" else None
    aligned = [d * np.float32(scale) + np.float32(shift) for d, (scale, shift) in zip(expected, fits)]
    return frames, expected, aligned, window, fits


def test_frame_k_of_the_npz_is_predict_of_frame_k(predictor, clip, tmp_path):
    result = process_video(clip, predictor, tmp_path, "moving")
    assert isinstance(result, VideoResult) and result.frames == FRAMES
    assert result.depth_npz == tmp_path / "moving_depth.npz"
    frames, expected = _predicted(predictor, clip)
    with np.load(result.depth_npz, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["depth", "timestamps"]
        depth, timestamps = npz["depth"], npz["timestamps"]
    assert depth.dtype == np.float16 and depth.shape == (FRAMES, SIZE[1], SIZE[0])
    assert timestamps.dtype == np.float64
    np.testing.assert_allclose(timestamps, [f.timestamp_s for f in frames])
    np.testing.assert_allclose(timestamps, np.arange(FRAMES) / FPS, atol=1e-3)
    for k in range(FRAMES):
        err = assert_close_to_max(depth[k].astype(np.float32), expected[k], rel=FLOAT16_REL * 1.001)
        assert err <= GOLDEN_REL
    # the frames differ (the square moves): a pipeline that repeated one frame would fail above
    assert np.abs(expected[0] - expected[-1]).max() > 10 * FLOAT16_REL * np.abs(expected[0]).max()


@pytest.mark.parametrize("mode", ["stable", "per-frame"])
def test_the_mp4s_decode_with_the_right_frames_size_and_duration(predictor, clip, tmp_path, mode):
    result = process_video(clip, predictor, tmp_path, "moving", mode=mode, cmap="viridis")
    assert result.depth_mp4 == tmp_path / "moving_depth.mp4"
    assert result.side_by_side_mp4 == tmp_path / "moving_side_by_side.mp4"
    width, height = SIZE
    heat, heat_times, heat_duration = _decoded(result.depth_mp4)
    side, side_times, side_duration = _decoded(result.side_by_side_mp4)
    assert len(heat) == len(side) == FRAMES
    assert {f.shape for f in heat} == {(height, width, 3)}
    assert {f.shape for f in side} == {(height, 2 * width, 3)}
    for times, duration in ((heat_times, heat_duration), (side_times, side_duration)):
        np.testing.assert_allclose(np.array(times) - times[0], np.arange(FRAMES) / FPS, atol=2e-3)
        assert duration == pytest.approx(FRAMES / FPS, abs=1.01 / FPS)

    # what the videos show: the heatmap of the displayed map, and the photo beside it
    frames, _, aligned, window, _ = _shown(predictor, clip, mode)
    want = [colorize(normalized(a, mode, window), "viridis", 0.0, 1.0).astype(np.int16) for a in aligned]

    def error(shown, expected):
        return float(np.abs(shown.astype(np.int16) - expected).mean())

    # The reference weights are random, so each heatmap is fine-grained noise, which H.264 at
    # crf 20 keeps to within about 9 levels on average; another frame's heatmap is about 20 off.
    for k in range(FRAMES):
        others = min(error(heat[k], want[j]) for j in range(FRAMES) if j != k)
        assert error(heat[k], want[k]) < min(12.0, others / 2)
        assert error(side[k][:, width:], want[k]) < min(12.0, others / 2)
        assert error(side[k][:, :width], frames[k].rgb) < 4  # the photo: smooth, so nearly exact


def test_flicker_figures_are_those_of_the_shown_maps(predictor, clip, tmp_path):
    result = process_video(clip, predictor, tmp_path, "moving", mode="stable")
    frames, expected, _, window, fits = _shown(predictor, clip, "stable")
    with np.load(result.depth_npz) as npz:
        raw = npz["depth"].astype(np.float32)  # what the videos are drawn from: predict(), in float16

    def mean_flicker(maps):
        values = [flicker(maps[k - 1], maps[k], frames[k - 1].rgb, frames[k].rgb) for k in range(1, FRAMES)]
        return float(np.mean([v for v in values if v is not None]))

    assert result.flicker_per_frame == pytest.approx(mean_flicker([normalize(d) for d in raw]), rel=1e-6)
    assert result.flicker_per_frame == pytest.approx(mean_flicker([normalize(d) for d in expected]), rel=1e-2)
    stable = [normalized(d * np.float32(s) + np.float32(t), "stable", window) for d, (s, t) in zip(raw, fits)]
    assert result.flicker == pytest.approx(mean_flicker(stable), rel=1e-6)
    per_frame = process_video(clip, predictor, tmp_path / "pf", "moving", mode="per-frame")
    assert per_frame.flicker == per_frame.flicker_per_frame == pytest.approx(result.flicker_per_frame, rel=1e-6)


@pytest.mark.parametrize("mode", ["stable", "per-frame"])
def test_display_redraws_each_frame_as_the_heatmap_video_shows_it(predictor, clip, tmp_path, mode):
    result = process_video(clip, predictor, tmp_path, "moving", mode=mode)
    _, expected, aligned, window, _ = _shown(predictor, clip, mode)
    display = result.display
    assert display.mode == mode and display.window == (pytest.approx(window) if window else None)
    assert display.scale.shape == display.shift.shape == (FRAMES,)
    with np.load(result.depth_npz) as npz:
        depth = npz["depth"]
    tols = []
    for k in range(FRAMES):
        want = normalized(aligned[k], mode, window)
        shown = display.shown(k, depth[k])
        # the .npz rounds the raw map to float16 (by 2**-11 of its largest value, M), stretched by
        # the frame's scale over the window's width; per-frame, the frame's own min and max are
        # rounded too: (v - lo) / (hi - lo) then moves by up to 3 * 2**-11 * M / (hi - lo)
        lo, hi = window if window else (float(expected[k].min()), float(expected[k].max()))
        scale = display.scale[k] if window else 3.0
        tol = 1.01 * FLOAT16_REL * abs(scale) * np.abs(expected[k]).max() / (hi - lo) + 1e-6
        assert np.abs(shown - want).max() <= tol
        tols.append(tol)
    if mode == "stable":  # the fits are not all the identity: redrawing from the raw map alone would fail
        assert np.abs(display.scale - 1).max() + np.abs(display.shift).max() > 1e-3
        k = int(np.argmax(np.abs(display.scale - 1) + np.abs(display.shift)))
        on_its_own = normalize(depth[k].astype(np.float32))  # what the scrubber showed before
        assert np.abs(on_its_own - normalized(aligned[k], mode, window)).max() > 10 * tols[k]
    else:
        assert display.window is None and set(display.scale) == {1.0} and set(display.shift) == {0.0}
    with pytest.raises(IndexError):
        display.shown(FRAMES, depth[0])


def test_sampling_by_rate_and_cap_and_progress(predictor, clip, tmp_path):
    calls = []
    result = process_video(clip, predictor, tmp_path, "half", sampling=Sampling(fps=FPS / 2, max_frames=3),
                           progress=lambda done, total, elapsed, stage: calls.append((done, total, elapsed, stage)))
    assert result.frames == 3
    with np.load(result.depth_npz) as npz:
        assert npz["depth"].shape[0] == 3
        np.testing.assert_allclose(npz["timestamps"], [0.0, 0.2, 0.4], atol=1e-3)
    _, times, _ = _decoded(result.depth_mp4)
    np.testing.assert_allclose(np.array(times) - times[0], [0.0, 0.2, 0.4], atol=2e-3)
    # the predicting pass, then the encoding pass, each counting frames up to the total
    assert [(done, total, stage) for done, total, _, stage in calls] == (
        [(k, 3, "depth") for k in (1, 2, 3)] + [(k, 3, "encoding") for k in (1, 2, 3)])
    elapsed = [e for _, _, e, _ in calls]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    calls.clear()  # per-frame mode needs no window: one pass
    process_video(clip, predictor, tmp_path, "half", mode="per-frame", sampling=Sampling(max_frames=3),
                  progress=lambda done, total, elapsed, stage: calls.append((done, total, elapsed, stage)))
    assert [(done, total, stage) for done, total, _, stage in calls] == [(k, 3, "depth and encoding") for k in (1, 2, 3)]


@pytest.mark.parametrize("stop_after", [2, FRAMES + 3], ids=["while-predicting", "while-encoding"])
def test_cancel_stops_and_leaves_no_file(predictor, clip, tmp_path, stop_after):
    polls = []
    predicted = []

    class Counting:
        def predict(self, rgb):
            predicted.append(1)
            return predictor.predict(rgb)

    def cancel():
        polls.append(1)
        return len(polls) > stop_after

    out = tmp_path / "out"
    with pytest.raises(VideoCancelled, match="cancelled"):
        process_video(clip, Counting(), out, "moving", cancel=cancel)
    assert list(out.iterdir()) == []  # no video, no .npz, no temporary folder
    assert len(predicted) == min(stop_after, FRAMES)  # it stopped at once, not at the end of the clip


def test_a_failed_clip_leaves_no_file_and_keeps_earlier_outputs(predictor, clip, tmp_path):
    done = process_video(clip, predictor, tmp_path, "moving")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    data = clip.read_bytes()
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    for bad in (truncated, text):
        with pytest.raises(VideoDecodeError):
            process_video(bad, predictor, tmp_path, "moving")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("moving")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "cut.mp4", "notes.mp4"])
    assert done.frames == FRAMES


def test_bytes_in_odd_sizes_and_bad_arguments(predictor, tmp_path):
    odd = make_clip(tmp_path / "odd.mp4", 3, FPS, (33, 25))
    result = process_video(odd.read_bytes(), predictor, tmp_path / "out", "odd", mode="per-frame")
    with np.load(result.depth_npz) as npz:
        assert npz["depth"].shape == (3, 25, 33)  # the raw depth keeps the frame's own size
    heat, _, _ = _decoded(result.depth_mp4)
    side, _, _ = _decoded(result.side_by_side_mp4)
    assert len(heat) == len(side) == 3
    assert heat[0].shape[:2] == (26, 34) and side[0].shape[:2] == (26, 66)  # padded to even for H.264
    for kwargs, message in (({"mode": "smooth"}, "mode must be one of"), ({"cmap": "nope"}, "unknown colormap"),
                            ({"stem": "../x"}, "stem must be")):
        args = {"stem": "odd", **kwargs}
        stem = args.pop("stem")
        with pytest.raises(ValueError, match=message):
            process_video(odd, predictor, tmp_path / "bad", stem, **args)
    assert not (tmp_path / "bad").exists()


# Memory: the same frame size and rate at 5 s and 60 s. Were the frames kept in lists (RGB and
# float32 depth, 7 bytes a pixel), the 60 s clip would need (60 - 5) * MEMORY_FPS * 1.6 MB, about
# 270 MB more: over the 200 MB the issue allows, so a pipeline that holds all frames fails here.
# What does grow, and then levels off after about 50 frames, is the two H.264 encoders' lookahead
# (about 320 MB at 960x540, whose 5 s clip at 2 fps stayed far below it: 1051 -> 1236 MB).
# A low frame rate keeps the test to about 200 frames (N = 256 is the smallest network size).
MEMORY_SIZE = (640, 360)
MEMORY_FPS = 3.0
_RSS_SCRIPT = """
import resource, sys
from core.midas.predictor import load_predictor
from core.video.pipeline import process_video
predictor = load_predictor(weights=sys.argv[1], backend="torch", size=256)
result = process_video(sys.argv[2], predictor, sys.argv[3], "clip")
print(result.frames, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # kB on Linux
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kB on Linux only")
def test_a_60_s_clip_needs_no_more_memory_than_a_5_s_clip(reference_weights, tmp_path):
    width, height = MEMORY_SIZE
    leak_mb = (60 - 5) * MEMORY_FPS * (width * height * (3 + 4)) / 1e6
    assert leak_mb > 200  # the test can fail: keeping every frame would exceed the bound
    peaks = {}
    for seconds in (5, 60):
        frames = int(seconds * MEMORY_FPS)
        path = make_clip(tmp_path / f"clip{seconds}.mp4", frames, MEMORY_FPS, MEMORY_SIZE)
        run = subprocess.run(
            [sys.executable, "-c", _RSS_SCRIPT, str(reference_weights), str(path), str(tmp_path / f"out{seconds}")],
            cwd=REPO, capture_output=True, text=True, timeout=600,
        )
        assert run.returncode == 0, run.stderr
        done, peak_kb = map(int, run.stdout.split())
        assert done == frames
        peaks[seconds] = peak_kb / 1024
    print(f"peak RSS: {peaks[5]:.0f} MB for 5 s, {peaks[60]:.0f} MB for 60 s")
    assert peaks[60] - peaks[5] < 200, f"peak RSS {peaks[5]:.0f} MB for 5 s, {peaks[60]:.0f} MB for 60 s"
