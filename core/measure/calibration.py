"""Calibrate relative inverse depth to metres from a few known distances, and measure.

MiDaS gives relative inverse depth: unitless, and only defined up to an unknown scale and
shift. If the user tells us the true distance to at least two pixels, we can fit that scale
and shift (in inverse-depth space, target ``1 / distance``) and turn the whole map into
metres. Two points give an exact fit; more points give a least-squares fit whose
per-point residuals show how well the model's relative depths agree with the user's.

Distances here are depths along the camera's optical axis (distance from the camera plane),
which is what a depth map stores. Near the image centre this is almost the same as the
straight-line distance from the camera.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from core.geometry.camera import unproject
from core.measure.alignment import AlignmentError, ScaleShift, fit_scale_shift

__all__ = ["Calibration", "CalibrationError", "CalibrationPoint", "calibrate", "check_points", "measure_distance"]

# Calibration points whose predicted values differ by less than this fraction of the
# prediction's range over the whole image are treated as being at the same depth.
_MIN_RELATIVE_SPREAD = 1e-3


class CalibrationError(ValueError):
    """The calibration points cannot determine a sensible scale and shift."""


@dataclass(frozen=True)
class CalibrationPoint:
    """A pixel whose true distance from the camera the user knows.

    Attributes:
        x: column of the pixel, 0 at the left.
        y: row of the pixel, 0 at the top.
        distance_m: depth of the pixel from the camera plane, in metres.
    """

    x: int
    y: int
    distance_m: float


@dataclass(frozen=True)
class Calibration:
    """A fitted map from relative inverse depth to metres.

    Attributes:
        scale: ``s`` in ``1 / depth_m = s * pred + b``.
        shift: ``b`` in ``1 / depth_m = s * pred + b``, in 1/metres.
        residuals_m: per point, the calibrated depth at its pixel minus the given distance,
            in metres, in the order of ``points``.
        points: the calibration points used.
    """

    scale: float
    shift: float
    residuals_m: tuple[float, ...]
    points: tuple[CalibrationPoint, ...]

    @property
    def rms_residual_m(self) -> float:
        """Root mean square of :attr:`residuals_m`, in metres (0 for an exact two-point fit).

        Example:
            >>> Calibration(1.0, 0.0, (0.3, -0.4), ()).rms_residual_m == math.sqrt(0.125)
            True
        """
        return float(np.sqrt(np.mean(np.square(self.residuals_m))))

    def depth_map(self, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Convert a relative inverse depth map to metres.

        Pixels that the fit puts at or beyond infinity (inverse depth ``<= 0``) have no
        depth in metres: they are False in the mask and 0 in the depth map (never NaN).

        Args:
            pred: HxW relative inverse depth (the map that was calibrated).

        Returns:
            ``(depth_m, valid)``: HxW float32 depth in metres, and an HxW bool mask.
        """
        pred = _check_image(pred, "pred")
        depth, valid = ScaleShift(self.scale, self.shift).to_depth(pred)
        return depth.astype(np.float32), valid

    def inverse_depth_at(self, pred_value: float) -> float:
        """One predicted value as inverse depth in 1/metres, ``scale * pred + shift``.

        Unlike :meth:`depth_at` it accepts values the fit puts at or beyond infinity (0 or
        less), which is what a disparity, linear in inverse depth, needs
        (:func:`core.geometry.stereo.baseline_m`).

        Raises:
            ValueError: ``pred_value`` is not finite.

        Example:
            >>> Calibration(0.5, -0.25, (), ()).inverse_depth_at(2.0)
            0.75
        """
        if not math.isfinite(pred_value):
            raise ValueError(f"pred_value must be finite, got {pred_value}.")
        return self.scale * float(pred_value) + self.shift

    def depth_at(self, pred_value: float) -> float:
        """Convert one predicted value to metres.

        Args:
            pred_value: a relative inverse depth value from the calibrated map.

        Returns:
            The depth in metres.

        Raises:
            ValueError: ``pred_value`` is not finite, or the fit puts it at or beyond
                infinity (inverse depth ``<= 0``).
        """
        inv = self.inverse_depth_at(pred_value)
        if inv <= 0:
            raise ValueError(
                f"predicted value {pred_value:.6g} is farther than this calibration can "
                f"express (inverse depth {inv:.3g} 1/m <= 0): add a calibration point "
                "further away."
            )
        return 1.0 / inv


def calibrate(
    pred: np.ndarray, points: Sequence[CalibrationPoint], *, numbers: Sequence[int] | None = None
) -> Calibration:
    """Fit the scale and shift that turn ``pred`` into metres at the given points.

    The fit is least squares in inverse-depth space: ``s * pred[y, x] + b ~ 1 / distance_m``.
    With two points it is exact; with more, ``residuals_m`` reports the mismatch in metres.

    Args:
        pred: HxW relative inverse depth (larger = nearer).
        points: at least two :class:`CalibrationPoint`, inside the image, at different depths.
        numbers: what the messages call each point, e.g. its row in a table; default 1, 2, ...

    Returns:
        The fitted :class:`Calibration`.

    Raises:
        CalibrationError: any problem :func:`check_points` finds (a point outside the image,
            a distance that is not a positive finite number, a pixel given twice); fewer
            than two points; points that the model puts at (nearly) the same depth; a fit
            where the model disagrees with the user about which point is nearer (scale
            ``<= 0``); or a fit that puts a calibration point at or beyond infinity.
        TypeError: a point is not a :class:`CalibrationPoint` with integer pixel
            coordinates, or ``pred`` is not a real numeric array.
        ValueError: ``pred`` is not a finite HxW array.

    Example:
        >>> pred = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> cal = calibrate(pred, [CalibrationPoint(0, 0, 1.0), CalibrationPoint(1, 1, 0.25)])
        >>> round(cal.scale, 9), round(cal.shift, 9)
        (1.0, 0.0)
    """
    pred = _check_image(pred, "pred")
    if not np.isfinite(pred).all():
        raise ValueError("pred contains NaN or inf; pass the model's raw relative inverse depth.")
    points = tuple(points)
    names = _numbers(numbers, len(points))
    check_points(points, pred.shape, numbers=names)
    if len(points) < 2:
        raise CalibrationError(
            f"need at least 2 calibration points to fix both scale and shift, got "
            f"{len(points)}: click another pixel and enter its distance."
        )

    p = np.array([pred[pt.y, pt.x] for pt in points], dtype=np.float64)
    dist = np.array([pt.distance_m for pt in points], dtype=np.float64)

    image_range = float(pred.max() - pred.min())
    if float(p.max() - p.min()) <= _MIN_RELATIVE_SPREAD * image_range or image_range == 0:
        raise CalibrationError(
            "the model predicts (nearly) the same depth at all calibration points "
            f"(values {', '.join(f'{v:.4g}' for v in p)}), so the scale is undetermined: "
            "pick points at clearly different depths."
        )

    try:
        fit = fit_scale_shift(p, 1.0 / dist)
    except AlignmentError as e:
        raise CalibrationError(f"cannot fit the calibration points: {e}") from e

    if fit.scale <= 0:
        raise CalibrationError(_explain_nonpositive_scale(p, dist, names))

    inv = fit.apply(p)
    bad = np.flatnonzero(inv <= 0)
    if bad.size:
        which = ", ".join(str(names[i]) for i in bad)
        raise CalibrationError(
            f"the best fit puts calibration point(s) {which} at or beyond infinity "
            "(inverse depth <= 0): the distances are inconsistent with the model's relative "
            "depths. Check the distances, or remove the outlying point."
        )

    residuals = 1.0 / inv - dist
    return Calibration(
        scale=fit.scale,
        shift=fit.shift,
        residuals_m=tuple(float(r) for r in residuals),
        points=points,
    )


def check_points(
    points: Sequence[CalibrationPoint], shape: tuple[int, int], *, numbers: Sequence[int] | None = None
) -> None:
    """Check what a user typed or clicked, before any fit: each point, then the set.

    Needs no second point, so a page can say at once that a distance is wrong.

    Args:
        points: the points, in the user's order.
        shape: (height, width) of the map the points index.
        numbers: what the messages call each point, e.g. its row in a table; default 1, 2, ...

    Raises:
        CalibrationError: a point outside the image, a distance that is not a positive
            finite number (a typed "-4" stays -4 and is refused, never turned into 4), or
            the same pixel given twice, with conflicting distances or the same one.
        TypeError: a point is not a :class:`CalibrationPoint` with integer coordinates.
        ValueError: ``shape`` is not a (height, width) pair, or ``numbers`` does not name
            every point.

    Example:
        >>> try:
        ...     check_points([CalibrationPoint(3, 3, 3.0), CalibrationPoint(3, 3, 5.0)], (8, 8))
        ... except CalibrationError as e:
        ...     print(e)
        points 1 and 2 are the same pixel (x=3, y=3) twice, with conflicting distances 3 m and 5 m: keep the right one and remove the other.
    """
    if len(shape) != 2 or min(int(shape[0]), int(shape[1])) < 1:
        raise ValueError(f"shape must be (height, width) of a non-empty map, got {shape!r}.")
    height, width = int(shape[0]), int(shape[1])
    names = _numbers(numbers, len(points))
    first_at: dict[tuple[int, int], int] = {}
    for i, (pt, name) in enumerate(zip(points, names)):
        _check_point(pt, name, width, height)
        earlier = first_at.setdefault((int(pt.x), int(pt.y)), i)
        if earlier == i:
            continue
        a, b = float(points[earlier].distance_m), float(pt.distance_m)
        where = f"points {names[earlier]} and {name} are the same pixel (x={pt.x}, y={pt.y}) twice"
        if a != b:
            raise CalibrationError(
                f"{where}, with conflicting distances {a:g} m and {b:g} m: keep the right one and "
                "remove the other."
            )
        raise CalibrationError(
            f"{where}, with the same distance {a:g} m: remove one of them (a repeated pixel "
            "would count twice in the fit)."
        )


def measure_distance(
    depth_m: np.ndarray,
    p1: tuple[int, int],
    p2: tuple[int, int],
    fov_deg: float,
) -> float:
    """Straight-line 3D distance between two pixels of a metric depth map.

    Each pixel is back-projected through the same pinhole camera as the point cloud
    (:func:`core.geometry.camera.unproject`): the given *horizontal* field of view,
    square pixels and the principal point at the image centre ``(W/2 - 0.5, H/2 - 0.5)``;
    the focal length is ``fx = fy = (W/2) / tan(fov/2)``.

    Args:
        depth_m: HxW depth in metres (depth along the optical axis).
        p1: first pixel as ``(x, y)``.
        p2: second pixel as ``(x, y)``.
        fov_deg: horizontal field of view in degrees, in ``(0, 180)``.

    Returns:
        The Euclidean distance between the two 3D points, in metres.

    Raises:
        ValueError: ``depth_m`` is not HxW, ``fov_deg`` is out of range, a pixel is outside
            the image, or the depth at a pixel is not a positive finite number.
        TypeError: a pixel is not an ``(x, y)`` pair of integers.

    Example:
        >>> depth = np.full((50, 100), 2.0)
        >>> round(measure_distance(depth, (19, 24), (80, 24), fov_deg=90.0), 9)
        2.44
    """
    depth_m = _check_image(depth_m, "depth_m")
    if not (math.isfinite(fov_deg) and 0.0 < fov_deg < 180.0):
        raise ValueError(f"fov_deg must be in (0, 180) degrees, got {fov_deg}.")
    (xa, ya, za), (xb, yb, zb) = _depth_at(depth_m, p1, "p1"), _depth_at(depth_m, p2, "p2")
    # The point cloud's camera, so a measured distance matches the 3D view; in float64,
    # as float32 points are too coarse for distances checked to 1e-9.
    a, b = unproject(np.array([za, zb]), fov_deg, pixels=([xa, xb], [ya, yb]), image_size=depth_m.shape,
                     dtype=np.float64)  # 2x3
    return float(np.linalg.norm(a - b))


def _depth_at(depth_m: np.ndarray, pixel: tuple[int, int], name: str) -> tuple[int, int, float]:
    """Check pixel ``(x, y)`` and return ``(x, y, depth)``, the depth positive and finite."""
    height, width = depth_m.shape
    if len(pixel) != 2 or not all(_is_int(c) for c in pixel):
        raise TypeError(f"{name} must be an (x, y) pair of integers, got {pixel!r}.")
    x, y = int(pixel[0]), int(pixel[1])
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(
            f"{name}=({x}, {y}) is outside the {width}x{height} image "
            f"(x must be in 0..{width - 1}, y in 0..{height - 1})."
        )
    z = float(depth_m[y, x])
    if not (math.isfinite(z) and z > 0):
        raise ValueError(
            f"depth at {name}=({x}, {y}) is {z}, not a positive finite distance: "
            "pick a pixel with a valid depth."
        )
    return x, y, z


def _numbers(numbers: Sequence[int] | None, n: int) -> list[int]:
    """The names of n points in messages: ``numbers`` if given (one per point), else 1..n."""
    if numbers is None:
        return list(range(1, n + 1))
    names = [int(v) for v in numbers]
    if len(names) != n:
        raise ValueError(f"numbers must name each of the {n} points, got {len(names)} names.")
    return names


def _explain_nonpositive_scale(p: np.ndarray, dist: np.ndarray, names: Sequence[int]) -> str:
    """Say in plain words why no positive scale fits the points (named by ``names``)."""
    worst: tuple[float, int, int] | None = None
    for i in range(p.size):
        for j in range(p.size):
            # The user says i is nearer than j; the model says i is farther.
            if dist[i] < dist[j] and p[i] < p[j] and (worst is None or p[j] - p[i] > worst[0]):
                worst = (float(p[j] - p[i]), i, j)
    if worst is None:
        return (
            f"all calibration points were given the same distance ({dist[0]:g} m), but the "
            "model puts them at different depths, so no positive scale fits: give points at "
            "different distances."
        )
    _, near, far = worst
    return (
        f"the model disagrees with your distances about which point is nearer: by your "
        f"distances point {names[near]} ({dist[near]:g} m) is nearer than point {names[far]} "
        f"({dist[far]:g} m), but the model predicts it farther (relative inverse depth "
        f"{p[near]:.4g} vs {p[far]:.4g}; larger means nearer). Check the distances, or pick "
        "points where the model's depth ordering looks right."
    )


def _check_point(pt: CalibrationPoint, index: int, width: int, height: int) -> None:
    """Validate the calibration point named ``index`` in messages against a WxH image."""
    if not isinstance(pt, CalibrationPoint):
        raise TypeError(f"point {index} must be a CalibrationPoint, got {type(pt).__name__}.")
    if not (_is_int(pt.x) and _is_int(pt.y)):
        raise TypeError(
            f"point {index} needs integer pixel coordinates, got x={pt.x!r}, y={pt.y!r}."
        )
    if not (0 <= pt.x < width and 0 <= pt.y < height):
        raise CalibrationError(
            f"point {index} at (x={pt.x}, y={pt.y}) is outside the {width}x{height} image "
            f"(x must be in 0..{width - 1}, y in 0..{height - 1}): click inside the picture."
        )
    try:
        d = float(pt.distance_m)
    except (TypeError, ValueError) as e:
        raise CalibrationError(
            f"point {index} has distance {pt.distance_m!r}, which is not a number."
        ) from e
    if not (math.isfinite(d) and d > 0):
        raise CalibrationError(
            f"point {index} at (x={pt.x}, y={pt.y}) has distance {d:g} m: a distance must be "
            "a positive number of metres, the depth in front of the camera."
        )


def _is_int(value: object) -> bool:
    """True for Python and NumPy integers, False for bools and everything else."""
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _check_image(arr: np.ndarray, name: str) -> np.ndarray:
    """Check that ``arr`` is a real numeric HxW array and return it as float64."""
    arr = np.asarray(arr)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}.")
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty HxW array, got shape {arr.shape}.")
    return arr.astype(np.float64, copy=False)
