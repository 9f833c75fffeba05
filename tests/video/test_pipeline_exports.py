"""core.video.pipeline's helpers for the Video page: the 16-bit PNG zip and depth over time."""

from __future__ import annotations

import io
import zipfile

import cv2
import numpy as np
import pytest

from core.video.pipeline import depth_over_time, png16_zip


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
