"""Tests of core/video/photo3d.py: the wiggle GIF and the orbit MP4 of a synthetic plane-and-box scene."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from core.io.metadata import DepthFacts, read_facts_text

from core.video.photo3d import (
    gif_bytes,
    orbit_mp4_bytes,
    orbit_shifts,
    render_frames,
    wiggle_gif,
    wiggle_shifts,
    write_orbit_mp4,
)
from core.video.reader import probe_video, read_frames
from tests.geometry.test_stereo import scene


def gif_frames(data: bytes) -> tuple[list[np.ndarray], dict]:
    with Image.open(io.BytesIO(data)) as image:
        info = dict(image.info)
        frames = []
        for k in range(image.n_frames):
            image.seek(k)
            frames.append(np.asarray(image.convert("RGB")))
    return frames, info


def box_left_column(frame: np.ndarray, tolerance: int = 40) -> int:
    """The first column of the red box (red well above green and blue)."""
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    red = (r > 255 - tolerance) & (g < tolerance) & (b < tolerance)
    return int(np.flatnonzero(red.any(axis=0))[0])


def box_top_row(frame: np.ndarray, tolerance: int = 40) -> int:
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    red = (r > 255 - tolerance) & (g < tolerance) & (b < tolerance)
    return int(np.flatnonzero(red.any(axis=1))[0])


def test_the_camera_paths_swing_and_circle_by_half_the_disparity():
    wiggle = wiggle_shifts(6)
    assert wiggle[0] == (0.5, 0.0) and wiggle[3][0] == pytest.approx(-0.5) and all(sy == 0 for _, sy in wiggle)
    assert [sx for sx, _ in wiggle_shifts(2)] == pytest.approx([0.5, -0.5])  # the classic two-view wiggle
    orbit = np.array(orbit_shifts(40))
    assert np.allclose(np.hypot(orbit[:, 0], orbit[:, 1]), 0.5)  # a circle: gentle, never beyond the stereo views
    with pytest.raises(ValueError, match="frames must be in"):
        wiggle_shifts(1)


def test_the_wiggle_gif_loops_between_the_left_and_right_views():
    rgb, depth, mask = scene()
    data = wiggle_gif(rgb, depth, strength_pct=10.0, convergence=0.0, frames=4, frame_ms=120)
    frames, info = gif_frames(data)
    assert len(frames) == 4 and frames[0].shape == rgb.shape
    assert info.get("loop") == 0 and info.get("duration") == 120
    strength_px = 0.10 * rgb.shape[1]  # 24 px
    c0 = int(np.flatnonzero(mask.any(axis=0))[0])
    # frame 0 is the left view (+half), frame 2 the right view (-half), frames 1 and 3 the photo's own place
    assert abs(box_left_column(frames[0]) - box_left_column(frames[2]) - strength_px) <= 1
    assert box_left_column(frames[1]) == c0 == box_left_column(frames[3])
    # one palette for all: the photo's few colours come back almost exactly
    still = ~mask
    still[:, :30] = False  # away from the holes and their fill
    assert np.abs(frames[1][still].astype(int) - rgb[still]).mean() < 8


def test_a_wide_photo_is_rendered_at_the_animation_width():
    rgb, depth, _ = scene(60, 400, (20, 40, 150, 250))
    frames, _ = gif_frames(wiggle_gif(rgb, depth, frames=2, max_width=200))
    assert frames[0].shape == (30, 200, 3)


def test_the_orbit_mp4_plays_one_circle_of_the_camera(tmp_path):
    rgb, depth, mask = scene(96, 160, (30, 60, 60, 100))
    path = write_orbit_mp4(tmp_path / "orbit.mp4", rgb, depth, 10.0, 0.0, seconds=1.0, fps=12)
    info = probe_video(path)
    assert (info.width, info.height, info.codec) == (160, 96, "h264")
    frames = [f.rgb for f in read_frames(path)]
    assert len(frames) == 12
    half = 0.10 * 160 / 2  # 8 px
    c0, r0 = int(np.flatnonzero(mask.any(axis=0))[0]), int(np.flatnonzero(mask.any(axis=1))[0])
    # frame 0: the left view (box 8 px right); frame 3: a quarter turn (box 8 px down); frame 6: the right view
    assert abs(box_left_column(frames[0], 70) - (c0 + half)) <= 1.5
    assert abs(box_top_row(frames[3], 70) - (r0 + half)) <= 1.5
    assert abs(box_left_column(frames[6], 70) - (c0 - half)) <= 1.5
    assert orbit_mp4_bytes(rgb, depth, 10.0, 0.0, seconds=1.0, fps=10)[4:8] == b"ftyp"


def test_bad_input_is_refused_before_any_file_is_written(tmp_path):
    rgb, depth, _ = scene(20, 30, (5, 10, 5, 10))
    target = tmp_path / "orbit.mp4"
    with pytest.raises(ValueError, match="strength_pct"):
        write_orbit_mp4(target, rgb, depth, strength_pct=50.0)
    with pytest.raises(ValueError, match="photo's HxW map"):
        write_orbit_mp4(target, rgb, depth[:5])
    with pytest.raises(ValueError, match="seconds"):
        write_orbit_mp4(target, rgb, depth, seconds=0.1)
    assert not target.exists()
    with pytest.raises(ValueError, match="at least one"):
        list(render_frames(rgb, depth, []))
    with pytest.raises(ValueError, match="all frames need one size"):
        gif_bytes([rgb, rgb[:10]])
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        gif_bytes([rgb.astype(np.float32)])


def test_a_constant_map_gives_a_still_wiggle():
    rgb, _, _ = scene(20, 30, (5, 10, 5, 10))
    frames, info = gif_frames(wiggle_gif(rgb, np.zeros((20, 30), np.float32), frames=2, frame_ms=110))
    assert len(frames) == 1 and info["duration"] == 220  # Pillow merges identical frames into one


FACTS = DepthFacts("MiDaS v2.1 small", "5e" * 32, 256, (64, 48))


def test_the_wiggle_gif_says_what_it_holds_in_its_comment():
    rgb, depth, _ = scene(48, 64, (10, 30, 20, 40))
    data = wiggle_gif(rgb, depth, 4.0, 0.25, frames=4, fill="telea", facts=FACTS, fov=60.0, baseline_m=0.063)
    frames, info = gif_frames(data)
    assert len(frames) == 4 and info["loop"] == 0  # still the same animation
    fields = read_facts_text(info["comment"])  # Pillow gives the comment extension's bytes
    assert fields == FACTS.stereo("wiggle", 4.0, 0.25, "telea", fov=60.0, baseline_m=0.063).text_fields()
    assert fields["layout"] == "wiggle" and fields["strength"].startswith("4 % of the width")
    assert fields["hole_fill"].startswith("telea") and fields["weights_sha256"] == "5e" * 32
    assert fields["field_of_view"] == "60.0° horizontal field of view" and fields["baseline"].startswith("0.063 m")
    assert "comment" not in gif_frames(wiggle_gif(rgb, depth, 4.0, frames=2))[1]  # no facts, no comment
    with pytest.raises(TypeError, match="DepthFacts"):
        wiggle_gif(rgb, depth, facts={"model": "x"})


def test_the_orbit_mp4_says_what_it_holds_in_its_container_metadata(tmp_path):
    rgb, depth, _ = scene(48, 64, (10, 30, 20, 40))
    path = write_orbit_mp4(tmp_path / "o.mp4", rgb, depth, 4.0, 0.5, seconds=1.0, fps=10, facts=FACTS, fov=48.0)
    with av.open(str(path)) as container:
        metadata = dict(container.metadata)
    expected = FACTS.stereo("orbit", 4.0, 0.5, "background", fov=48.0).text_fields()
    assert {key: metadata.get(key) for key in expected} == expected
    assert metadata["encoding"].startswith("H.264 video") and metadata["field_of_view"].startswith("48.0°")
    assert probe_video(path).codec == "h264" and len(list(read_frames(path))) == 10
    with av.open(io.BytesIO(orbit_mp4_bytes(rgb, depth, 4.0, seconds=1.0, fps=10, facts=FACTS))) as container:
        assert container.metadata["layout"] == "orbit" and "field_of_view" not in container.metadata
