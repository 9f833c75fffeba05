"""Framing a point cloud for a 3D view: padded axis ranges, true proportions, a camera per view.

A 3D chart draws its points inside a box and looks at the box from an eye point. From the
extent of the points alone, :func:`frame_cloud` gives the box (each axis's range, padded a
little, and the box's proportions, which are the data's own, so shapes are not stretched)
and, for each standard view, the eye at the distance where the whole box just fits a
perspective view. The box, its edges and their tick labels then stay inside the chart, and
the cloud is as large as that allows, whichever view is chosen.

Coordinates are the point cloud's camera frame (:mod:`core.geometry.pointcloud`: x right, y down,
z forward). Cameras are given in *box units*: the box is centred on 0 and its sides measure
``aspect`` (the longest is 1), which is how plotly places a scene camera.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["VIEWS", "CloudFraming", "ViewCamera", "frame_cloud"]

Vector = tuple[float, float, float]

#: The standard views: direction of sight and the direction shown upwards, camera frame.
#: "Front" looks along the optical axis from behind the camera, so the cloud reads as the
#: photo; "Top" looks down from above (far at the top of the screen); "Side" looks from the
#: right (far to the right).
VIEWS: dict[str, tuple[Vector, Vector]] = {
    "Front": ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),
    "Top": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "Side": ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
}

_PLOTLY_FOVY_DEG = 45.0  # plotly's scene cameras: perspective, 45° vertical field of view


@dataclass(frozen=True)
class ViewCamera:
    """Where a view's eye is, what it looks at and which way is up, in box units (camera frame).

    Attributes:
        eye: the eye point.
        center: the point looked at (the box's centre).
        up: the direction shown upwards on the screen (a unit vector).
    """

    eye: Vector
    center: Vector
    up: Vector


@dataclass(frozen=True)
class CloudFraming:
    """Axis ranges, box proportions and one camera per view for a cloud (camera frame x, y, z).

    Attributes:
        ranges: (low, high) of x, y and z, padded; low < high on every axis.
        aspect: the box's side along x, y and z, proportional to the ranges (largest = 1).
        cameras: a :class:`ViewCamera` per name of :data:`VIEWS`.
    """

    ranges: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    aspect: Vector
    cameras: dict[str, ViewCamera]


def _check_positive(value: float, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def frame_cloud(
    xyz: np.ndarray,
    *,
    pad: float = 0.02,
    viewport_aspect: float = 1.0,
    fovy_deg: float = _PLOTLY_FOVY_DEG,
    margin: float | Mapping[str, float] = 1.12,
) -> CloudFraming:
    """Frame the points: ranges, proportions, and each view's eye just far enough to see the box.

    The eye of a view lies on the line through the box's centre along the view's direction of
    sight, at the smallest distance from which all eight corners of the box fall inside the
    view's field (widened by ``margin``, which leaves room for the tick labels). An axis along
    which every point is equal gets a range of +-0.5 around that value, so the box never
    collapses; an empty cloud gets the unit cube.

    Args:
        xyz: Nx3 points, camera frame (x right, y down, z forward); finite.
        pad: fraction of each axis's span added at both ends of its range, >= 0.
        viewport_aspect: width / height of the chart the box is drawn in, > 0.
        fovy_deg: vertical field of view of the chart's perspective camera, in (0, 180).
        margin: how much wider than the box the view is, >= 1; one number for every view,
            or one per view name (a view seen edge-on needs more room for its tick labels).

    Returns:
        The ranges, the box's proportions and a camera for every view in :data:`VIEWS`.

    Example:
        >>> framing = frame_cloud(np.array([[-1.0, -1.0, 1.0], [1.0, 1.0, 3.0]], np.float32), pad=0.0)
        >>> framing.ranges, framing.aspect
        (((-1.0, 1.0), (-1.0, 1.0), (1.0, 3.0)), (1.0, 1.0, 1.0))
        >>> framing.cameras["Front"].eye[2] < 0.0  # behind the box, on the optical axis
        True
    """
    if not isinstance(xyz, np.ndarray):
        raise TypeError(f"xyz must be a numpy.ndarray of shape Nx3, got {type(xyz).__name__}")
    if xyz.ndim != 2 or xyz.shape[1] != 3 or xyz.dtype.kind not in "fiu":
        raise ValueError(f"xyz must be a real Nx3 array, got {xyz.dtype} shape {xyz.shape}")
    if not np.all(np.isfinite(xyz)):
        raise ValueError("xyz must be finite: drop NaN/inf points first (a PointCloud never has any)")
    if isinstance(pad, (bool, np.bool_)) or not isinstance(pad, (int, float)) or not (math.isfinite(pad) and pad >= 0):
        raise ValueError(f"pad must be a finite number >= 0, got {pad!r}")
    viewport_aspect = _check_positive(viewport_aspect, "viewport_aspect")
    fovy_deg = _check_positive(fovy_deg, "fovy_deg")
    if fovy_deg >= 180.0:
        raise ValueError(f"fovy_deg must be in (0, 180), got {fovy_deg}")
    margins = dict(margin) if isinstance(margin, Mapping) else dict.fromkeys(VIEWS, margin)
    if set(margins) != set(VIEWS):
        raise ValueError(f"margin must give a number for each of {list(VIEWS)}, got {list(margins)}")
    for name, value in margins.items():
        if _check_positive(value, f"margin[{name!r}]") < 1.0:
            raise ValueError(f"margin must be >= 1 (1 = the box touches the chart's edges), got {value} for {name}")

    if len(xyz):
        lows = xyz.min(axis=0).astype(np.float64)  # 3
        highs = xyz.max(axis=0).astype(np.float64)
    else:
        lows, highs = np.full(3, -0.5), np.full(3, 0.5)
    spans = highs - lows
    flat = ~(spans > 0)
    lows[flat] -= 0.5  # a flat axis: one unit around its value
    highs[flat] += 0.5
    spans = highs - lows
    lows, highs = lows - pad * spans, highs + pad * spans
    spans = highs - lows
    aspect = spans / spans.max()  # 3, largest = 1

    # the box's corners in box units, centred on 0: 8x3
    corners = np.array([[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (-0.5, 0.5)]) * aspect
    cameras = {}
    for name, (sight, up) in VIEWS.items():
        tan_y = math.tan(math.radians(fovy_deg) / 2.0) / float(margins[name])
        tan_x = tan_y * viewport_aspect
        d, u = np.array(sight), np.array(up)
        r = np.cross(d, u)  # screen right
        # corner c seen from eye = -distance * d: ahead by distance + c.d; inside when
        # |c.u| <= tan_y * (distance + c.d) and |c.r| <= tan_x * (distance + c.d)
        ahead = corners @ d
        distance = float(np.max(np.maximum(np.abs(corners @ u) / tan_y, np.abs(corners @ r) / tan_x) - ahead))
        eye = -distance * d
        cameras[name] = ViewCamera(eye=_vector(eye), center=(0.0, 0.0, 0.0), up=_vector(u))
    ranges = tuple((float(lo), float(hi)) for lo, hi in zip(lows, highs))
    return CloudFraming(ranges=ranges, aspect=_vector(aspect), cameras=cameras)  # type: ignore[arg-type]


def _vector(values: np.ndarray) -> Vector:
    x, y, z = (float(v) + 0.0 for v in values)  # + 0.0: no negative zeros in a chart's JSON
    return x, y, z
