"""Why MiDaS is trained "up to scale and shift", as numbers a page can show.

MiDaS learns from many datasets whose depths have different, unknown units and offsets
(stereo disparities, laser scans, structure from motion). Before comparing its prediction
``d`` with a dataset's labels, each is brought to a common form with a scale ``alpha`` and
a shift ``beta``: ``d_hat = (d - beta) / alpha``. MiDaS uses ``beta = median(d)`` and
``alpha = mean(|d - beta|)`` (Ranftl et al., 2020, eq. 6), so the loss cannot see the
scale or the shift, and the network never has to guess them.

This module measures what such a transform does: nothing to a min-max normalised picture
(for ``alpha > 0``), a lot to the 3D geometry built from the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.measure.alignment import apply_scale_shift_demo, fit_scale_shift
from core.maps.normalize import inverse_to_depth, normalize

__all__ = ["ScaleShiftEffect", "midas_scale_shift", "scale_shift_effect"]


def midas_scale_shift(pred: np.ndarray) -> tuple[float, float]:
    """MiDaS's own scale and shift of a map: ``(alpha, beta) = (mean |d - median|, median)``.

    With these, ``(d - beta) / alpha`` has median 0 and mean absolute deviation 1, whatever
    units ``d`` was in: that is how MiDaS compares maps from datasets with different units.

    Args:
        pred: relative inverse depth, any shape; non-finite values are ignored.

    Returns:
        ``(alpha, beta)``; ``alpha`` is 0 for a constant map.

    Raises:
        ValueError: no finite value.
        TypeError: not a real numeric array.

    Example:
        >>> midas_scale_shift(np.array([1.0, 2.0, 3.0, 10.0]))
        (2.5, 2.5)
    """
    arr = np.asarray(pred)
    if arr.dtype == bool or arr.dtype.kind not in "fiu":
        raise TypeError(f"pred must be a real numeric array, got dtype {arr.dtype}")
    values = arr[np.isfinite(arr)].astype(np.float64) if arr.dtype.kind == "f" else arr.ravel().astype(np.float64)
    if values.size == 0:
        raise ValueError("pred has no finite value")
    beta = float(np.median(values))
    alpha = float(np.mean(np.abs(values - beta)))
    return alpha, beta


@dataclass(frozen=True)
class ScaleShiftEffect:
    """What ``d_hat = (d - beta) / alpha`` does to a map and to the 3D points built from it.

    The 3D reading treats ``d_hat`` as inverse depth, depth ``z = 1 / d_hat`` (unitless), as
    the point cloud does; pixels with ``d_hat <= 0`` would be at or beyond infinity.

    Attributes:
        alpha: the scale.
        beta: the shift.
        transformed_lo: smallest value of ``d_hat``.
        transformed_hi: largest value of ``d_hat``.
        heatmap_change: largest change of any pixel of the min-max normalised map, in [0, 1]:
            0 for any ``alpha > 0`` (up to float32 rounding), 1 when ``alpha < 0`` flips it.
        recovered_alpha: the scale a least-squares fit of ``d_hat`` onto ``d`` finds.
        recovered_beta: the shift it finds.
        valid_fraction: fraction of pixels with ``d_hat > 0``, i.e. a finite positive depth.
        depth_lo: 2nd percentile of the depth ``1 / d_hat`` over those pixels (0 if there are
            none): the near end, robust to a few extreme pixels.
        depth_hi: 98th percentile of that depth (0 if there are none): the far end. Pixels
            with ``d_hat`` just above 0 are nearly at infinity; the percentiles keep them from
            dominating.
    """

    alpha: float
    beta: float
    transformed_lo: float
    transformed_hi: float
    heatmap_change: float
    recovered_alpha: float
    recovered_beta: float
    valid_fraction: float
    depth_lo: float
    depth_hi: float

    @property
    def depth_ratio(self) -> float:
        """Far end over near end of the depth: the shape of the scene, which the shift changes (0 if undefined)."""
        return self.depth_hi / self.depth_lo if self.depth_lo > 0 else 0.0


def scale_shift_effect(pred: np.ndarray, alpha: float, beta: float) -> ScaleShiftEffect:
    """Apply ``d_hat = (pred - beta) / alpha`` and measure what changes and what does not.

    Args:
        pred: HxW relative inverse depth, not constant.
        alpha: non-zero finite scale.
        beta: finite shift.

    Returns:
        The measurements.

    Raises:
        ValueError: ``alpha`` is 0 or not finite, ``beta`` is not finite, ``pred`` is not a
            finite HxW map.
        core.measure.alignment.AlignmentError: ``pred`` is constant, so nothing can be recovered.

    Example:
        >>> e = scale_shift_effect(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), 2.0, 0.5)
        >>> e.heatmap_change, round(e.recovered_alpha, 6), round(e.recovered_beta, 6)
        (0.0, 2.0, 0.5)
    """
    p = np.asarray(pred)
    if p.ndim != 2 or p.size == 0:
        raise ValueError(f"pred must be a non-empty HxW map, got shape {p.shape}")
    if p.dtype.kind == "f" and not np.isfinite(p).all():
        raise ValueError("pred contains NaN or inf; pass the model's raw relative inverse depth")
    d_hat = apply_scale_shift_demo(p, alpha, beta)  # HxW float64, checks alpha and beta
    # The "pred = alpha * d_hat + beta" the page explains: least squares finds alpha and beta again.
    recovered = fit_scale_shift(d_hat, p)
    change = float(np.max(np.abs(normalize(d_hat.astype(np.float32)) - normalize(p.astype(np.float32)))))
    depth, valid = inverse_to_depth(d_hat.astype(np.float32))  # z = 1 / d_hat where d_hat > 0
    kept = depth[valid]
    near, far = (float(v) for v in np.percentile(kept, [2.0, 98.0])) if kept.size else (0.0, 0.0)
    return ScaleShiftEffect(
        alpha=float(alpha),
        beta=float(beta),
        transformed_lo=float(d_hat.min()),
        transformed_hi=float(d_hat.max()),
        heatmap_change=change,
        recovered_alpha=recovered.scale,
        recovered_beta=recovered.shift,
        valid_fraction=float(np.count_nonzero(valid) / valid.size),
        depth_lo=near,
        depth_hi=far,
    )
