"""core.geometry.framing: ranges, proportions and each view's camera from the extent of a cloud."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.geometry.framing import VIEWS, frame_cloud

TAN_HALF_FOVY = math.tan(math.radians(45.0) / 2.0)


def _box_corners(aspect) -> np.ndarray:
    a = np.asarray(aspect)
    return np.array([[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (-0.5, 0.5)]) * a


def _projected(corners: np.ndarray, camera) -> np.ndarray:
    """Corners as seen by a 45° perspective camera: Nx2 (right, up) over the distance ahead."""
    eye, center, up = (np.array(v) for v in (camera.eye, camera.center, camera.up))
    sight = (center - eye) / np.linalg.norm(center - eye)
    right = np.cross(sight, up)
    rel = corners - eye
    ahead = rel @ sight
    assert np.all(ahead > 0), "a corner is behind the eye"
    return np.stack([rel @ right, rel @ up], axis=1) / ahead[:, None]


def _cloud(shape=(3000, 3), seed=0, scale=(2.0, 1.5, 3.0), offset=(0.0, 0.0, 5.0)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.uniform(-0.5, 0.5, shape) * scale + offset).astype(np.float32)


def test_hand_computed_ranges_and_proportions() -> None:
    xyz = np.array([[-2.0, -1.0, 1.0], [2.0, 1.0, 3.0]], np.float32)  # spans 4, 2, 2
    framing = frame_cloud(xyz, pad=0.0)
    assert framing.ranges == ((-2.0, 2.0), (-1.0, 1.0), (1.0, 3.0))
    assert framing.aspect == (1.0, 0.5, 0.5)
    padded = frame_cloud(xyz, pad=0.25)
    assert padded.ranges == ((-3.0, 3.0), (-1.5, 1.5), (0.5, 3.5))
    assert padded.aspect == (1.0, 0.5, 0.5)  # padding in proportion keeps the proportions


def test_hand_computed_front_eye_distance() -> None:
    # a cube seen along z: the near face (half-size 0.5, 0.5 ahead of the centre) must fit tan(22.5°)
    framing = frame_cloud(np.array([[0, 0, 0], [1, 1, 1]], np.float32), pad=0.0, margin=1.0)
    front = framing.cameras["Front"]
    assert front.center == (0.0, 0.0, 0.0) and front.up == (0.0, -1.0, 0.0)
    assert front.eye[0] == 0.0 and front.eye[1] == 0.0
    assert front.eye[2] == pytest.approx(-(0.5 + 0.5 / TAN_HALF_FOVY), rel=1e-12)


@pytest.mark.parametrize("viewport_aspect", [0.6, 1.0, 2.5])
@pytest.mark.parametrize("scale", [(2.0, 1.5, 3.0), (10.0, 0.5, 1.0), (0.2, 4.0, 0.3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_view_sees_the_whole_box_and_fills_the_chart(viewport_aspect, scale, dtype) -> None:
    margin = 1.1
    framing = frame_cloud(_cloud(scale=scale).astype(dtype), viewport_aspect=viewport_aspect, margin=margin)
    corners = _box_corners(framing.aspect)
    limit = np.array([TAN_HALF_FOVY * viewport_aspect, TAN_HALF_FOVY]) / margin
    for name in VIEWS:
        seen = np.abs(_projected(corners, framing.cameras[name])) / limit  # 1 = at the chart's edge less margin
        assert seen.max() == pytest.approx(1.0, abs=1e-9), f"{name}: the box does not just fit ({seen.max():.3f})"


def test_views_look_the_documented_way() -> None:
    framing = frame_cloud(_cloud())
    front, top, side = (framing.cameras[n] for n in ("Front", "Top", "Side"))
    assert front.eye[2] < 0 and front.up == (0.0, -1.0, 0.0)  # behind the camera, up is -y
    assert top.eye[1] < 0 and top.up == (0.0, 0.0, 1.0)  # above (y is down), far at the top
    assert side.eye[0] > 0 and side.up == (0.0, -1.0, 0.0)  # from the right
    for camera in (front, top, side):
        direction = np.array(camera.center) - np.array(camera.eye)
        assert abs(direction @ np.array(camera.up)) < 1e-12  # up is across the line of sight


def test_a_view_given_more_margin_sits_farther() -> None:
    xyz = _cloud()
    tight = frame_cloud(xyz, margin=1.0)
    loose = frame_cloud(xyz, margin={"Front": 1.0, "Top": 1.5, "Side": 1.0})
    assert loose.cameras["Front"] == tight.cameras["Front"]
    assert abs(loose.cameras["Top"].eye[1]) > abs(tight.cameras["Top"].eye[1])


@pytest.mark.parametrize("xyz", [np.zeros((0, 3), np.float32), np.full((5, 3), 2.0, np.float32)])
def test_empty_or_flat_clouds_get_a_unit_box(xyz) -> None:
    framing = frame_cloud(xyz, pad=0.0)
    for lo, hi in framing.ranges:
        assert hi - lo == pytest.approx(1.0)
    assert framing.aspect == (1.0, 1.0, 1.0)
    assert all(np.isfinite(framing.cameras[n].eye).all() for n in VIEWS)


def test_no_negative_zero_reaches_a_chart() -> None:
    framing = frame_cloud(_cloud())
    values = [v for c in framing.cameras.values() for vec in (c.eye, c.center, c.up) for v in vec]
    assert not any(v == 0.0 and math.copysign(1.0, v) < 0 for v in values)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"xyz": [[0.0, 0.0, 1.0]]}, TypeError, "numpy.ndarray"),
        ({"xyz": np.zeros((4, 2))}, ValueError, "Nx3"),
        ({"xyz": np.array([[0.0, np.nan, 1.0]])}, ValueError, "finite"),
        ({"pad": -0.1}, ValueError, "pad"),
        ({"viewport_aspect": 0.0}, ValueError, "viewport_aspect"),
        ({"fovy_deg": 180.0}, ValueError, "fovy_deg"),
        ({"margin": 0.9}, ValueError, "margin"),
        ({"margin": {"Front": 1.2}}, ValueError, "each of"),
        ({"margin": "wide"}, TypeError, "margin"),
    ],
)
def test_bad_inputs_name_the_problem(kwargs, error, words) -> None:
    arguments = {"xyz": _cloud(), **kwargs}
    with pytest.raises(error, match=words):
        frame_cloud(**arguments)
