"""core.video.pipeline's helpers for the Video page: the 16-bit PNG zip, depth over time, the .npz read lazily."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.video.pipeline import FramesOnDisk, depth_over_time, open_depth_npz, png16_zip, process_video
from tests.conftest import REPO
from tests.video.clips import make_clip


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_png16_zip_uses_one_window_for_the_clip(dtype):
    depth = np.array([[[0.0, 1.0]], [[2.0, 4.0]]], dtype)  # 2 frames of 1x2
    with zipfile.ZipFile(io.BytesIO(png16_zip(depth))) as zf:
        assert zf.namelist() == ["frame_00000.png", "frame_00001.png", "window.txt"]
        frames = [cv2.imdecode(np.frombuffer(zf.read(n), np.uint8), cv2.IMREAD_UNCHANGED) for n in zf.namelist()[:2]]
        assert zf.read("window.txt").decode().startswith("0 = 0.0, 65535 = 4.0")
    assert frames[0].dtype == np.uint16
    assert frames[0].tolist() == [[0, 16384]] and frames[1].tolist() == [[32768, 65535]]  # round(v / 4 * 65535)


def test_png16_zip_refuses_a_single_map():
    with pytest.raises(ValueError, match="frames, H, W"):
        png16_zip(np.zeros((4, 4), np.float32))


def test_depth_over_time_reads_each_point_in_each_frame():
    depth = np.arange(2 * 3 * 4, dtype=np.float16).reshape(2, 3, 4)
    series = depth_over_time(depth, [(0, 0), (3, 2)])
    assert series.dtype == np.float32 and series.tolist() == [[0.0, 11.0], [12.0, 23.0]]


def test_depth_over_time_names_a_point_outside_the_frame():
    with pytest.raises(ValueError, match=r"\(4, 0\) is outside the 4x3 frame"):
        depth_over_time(np.zeros((2, 3, 4), np.float32), [(4, 0)])


class _Brightness:
    """A stand-in predictor: each frame's grey level plus a ramp (fast, deterministic, differs per frame)."""

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        return rgb.mean(axis=2, dtype=np.float32) + np.linspace(0.0, 50.0, w, dtype=np.float32)[None, :]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("npz")
    clip = make_clip(out / "clip.mp4", 6, 10.0, (40, 30))
    result = process_video(clip, _Brightness(), out, "clip")
    with np.load(result.depth_npz, allow_pickle=False) as npz:
        return result, npz["depth"], npz["timestamps"]


def test_open_depth_npz_reads_the_frames_np_load_reads(written):
    result, depth, timestamps = written
    lazy, times = open_depth_npz(result.depth_npz)
    assert isinstance(lazy, FramesOnDisk) and lazy.shape == depth.shape == (6, 30, 40) and len(lazy) == 6
    np.testing.assert_array_equal(times, timestamps)
    for k in range(6):
        frame = lazy[k]
        assert frame.dtype == np.float32
        np.testing.assert_array_equal(frame, depth[k].astype(np.float32))
    np.testing.assert_array_equal(lazy[-1], depth[5].astype(np.float32))
    assert np.abs(depth[0].astype(np.float32) - depth[5]).max() > 1  # the frames differ: an offset error would show
    with pytest.raises(IndexError, match="frame 6 out of range for 6 frames"):
        lazy[6]


def test_depth_over_time_and_the_png_zip_from_disk_equal_those_of_the_array(written):
    result, depth, _ = written
    lazy, _ = open_depth_npz(result.depth_npz)
    points = [(0, 0), (39, 29), (17, 3)]
    np.testing.assert_array_equal(depth_over_time(lazy, points), depth_over_time(depth, points))
    assert png16_zip(lazy) == png16_zip(depth)
    with pytest.raises(ValueError, match=r"\(40, 0\) is outside the 40x30 frame"):
        depth_over_time(lazy, [(40, 0)])


def test_open_depth_npz_refuses_what_it_cannot_read_in_place(tmp_path):
    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(compressed, depth=np.zeros((2, 3, 4), np.float16), timestamps=np.zeros(2))
    text = tmp_path / "notes.npz"
    text.write_text("not a zip")
    plain = tmp_path / "plain.npz"
    np.savez(plain, depth=np.zeros((2, 3, 4), np.float16), timestamps=np.zeros(2))  # stored: readable
    assert open_depth_npz(plain)[0].shape == (2, 3, 4)
    for bad, why in ((compressed, "compressed"), (text, "not a depth .npz"), (tmp_path / "missing.npz", "process")):
        with pytest.raises(ValueError, match=why):
            open_depth_npz(bad)


_LAZY_RSS = """
import sys
from pathlib import Path
import numpy as np
from core.video.pipeline import depth_over_time, open_depth_npz
def peak_mb():
    return next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM")) / 1024
path = sys.argv[1]
before = peak_mb()
depth, times = open_depth_npz(path)
frames = [depth[k] for k in (0, len(depth) // 2, len(depth) - 1)]  # the scrubber: one frame at a time
series = depth_over_time(depth, [(1, 1), (600, 300), (1279, 719)])  # the chart
assert series.shape == (len(depth), 3) and float(series[-1, 2]) == float(len(depth) - 1)
print(peak_mb() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS (VmHWM) from Linux's /proc")
def test_scrubbing_and_charting_a_long_clip_loads_no_more_than_a_few_frames(tmp_path):
    frames, height, width = 120, 720, 1280  # 4 s at 30 fps of 720p: 221 MB of float16
    depth = np.lib.format.open_memmap(tmp_path / "depth.npy", "w+", np.float16, (frames, height, width))
    for k in range(frames):
        depth[k] = k
    depth.flush()
    del depth
    path = tmp_path / "clip_depth.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.write(tmp_path / "depth.npy", "depth.npy")
        with zf.open("timestamps.npy", "w") as member:
            np.lib.format.write_array(member, np.arange(frames) / 30.0)
    (tmp_path / "depth.npy").unlink()
    whole_mb = frames * height * width * 2 / 2**20
    run = subprocess.run([sys.executable, "-c", _LAZY_RSS, str(path)], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    grown = float(run.stdout.strip().splitlines()[-1])
    assert grown < whole_mb / 10, f"peak RSS grew by {grown:.0f} MB; np.load would read {whole_mb:.0f} MB"
