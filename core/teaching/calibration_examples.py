"""Ready-made calibration points for a map: one that works, two that must be refused.

A teacher can show, on the audience's own photo, that two points fix the scale and shift,
and what makes the problem ill-posed. The points are chosen from the map itself:

- ``"good"``: a far pixel (5th percentile of relative inverse depth) and a near one (95th),
  given distances in the right order;
- ``"same_depth"``: two different pixels the model puts at (almost) the same depth, given
  different distances: the scale is undetermined;
- ``"wrong_order"``: the good pixels with their distances swapped: the only line through
  them has a negative scale, i.e. nearer would mean smaller inverse depth.

Example:
    >>> pred = np.arange(100, dtype=np.float32).reshape(10, 10)
    >>> [(p.x, p.y, p.distance_m) for p in example_points(pred, "good")]
    [(5, 0, 5.0), (4, 9, 1.5)]
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from core.measure.calibration import CalibrationPoint

__all__ = ["EXAMPLE_KINDS", "example_points"]

#: The examples, with what each demonstrates.
EXAMPLE_KINDS: dict[str, str] = {
    "good": "a far and a near pixel with plausible distances: an exact fit",
    "same_depth": "two pixels the model puts at the same depth, with different distances: refused",
    "wrong_order": "the near pixel said to be farther than the far one: negative scale, refused",
}


def _pixel_nearest_value(pred: np.ndarray, value: float) -> tuple[int, int]:
    """(x, y) of the first pixel whose value is closest to ``value``, away from the border.

    Pixels within 5 % of the image's smaller side from an edge are skipped when the image is
    large enough: an example point on the very edge is hard to see and to click.
    """
    margin = min(pred.shape) // 20
    inner = pred[margin : pred.shape[0] - margin, margin : pred.shape[1] - margin] if margin else pred
    y, x = np.unravel_index(int(np.argmin(np.abs(inner - value))), inner.shape)
    return int(x) + margin, int(y) + margin


def example_points(
    pred: np.ndarray,
    kind: Literal["good", "same_depth", "wrong_order"],
    near_m: float = 1.5,
    far_m: float = 5.0,
) -> list[CalibrationPoint]:
    """Two calibration points for ``pred`` of the given kind (see the module docstring).

    Args:
        pred: HxW relative inverse depth with at least 2 pixels and some spread.
        kind: a key of :data:`EXAMPLE_KINDS`.
        near_m: distance given to the near pixel.
        far_m: distance given to the far pixel, > ``near_m``.

    Returns:
        Two points.

    Raises:
        ValueError: unknown ``kind``, distances out of order, or a map too small or flat.
    """
    if kind not in EXAMPLE_KINDS:
        raise ValueError(f"kind must be one of {sorted(EXAMPLE_KINDS)}, got {kind!r}")
    if not 0 < near_m < far_m:
        raise ValueError(f"need 0 < near_m < far_m, got near_m={near_m}, far_m={far_m}")
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim != 2 or p.size < 2 or not np.isfinite(p).all():
        raise ValueError(f"pred must be a finite HxW map with at least 2 pixels, got shape {p.shape}")
    lo, hi = np.percentile(p, [5.0, 95.0])
    if not hi > lo:
        raise ValueError("pred is (almost) constant: no pixel is nearer than another")
    far_xy, near_xy = _pixel_nearest_value(p, lo), _pixel_nearest_value(p, hi)
    if kind == "good":
        return [CalibrationPoint(*far_xy, far_m), CalibrationPoint(*near_xy, near_m)]
    if kind == "wrong_order":
        return [CalibrationPoint(*far_xy, near_m), CalibrationPoint(*near_xy, far_m)]
    # same_depth: the two pixels closest in value, among the middle half of the map
    flat = p.ravel()
    order = np.argsort(flat, kind="stable")
    n = order.size
    middle = order[n // 4 : max(n // 4 + 2, 3 * n // 4)]
    gaps = np.diff(flat[middle])
    i = int(np.argmin(gaps))
    (y1, x1), (y2, x2) = (np.unravel_index(int(k), p.shape) for k in middle[i : i + 2])
    mid = (near_m + far_m) / 2
    return [CalibrationPoint(int(x1), int(y1), mid - 0.5), CalibrationPoint(int(x2), int(y2), mid + 0.5)]
