"""Scale-and-shift alignment of relative inverse depth.

MiDaS predicts *relative inverse depth*: larger means nearer, and the numbers are only
defined up to an unknown scale ``s`` and shift ``b``. Given a target in inverse-depth space
(``t = 1 / depth_metres``), the scale and shift that best explain it are

.. math::

    (s, b) = \\arg\\min_{s, b} \\sum_i (s\\,p_i + b - t_i)^2,

a linear least-squares problem with a closed-form solution (the 2x2 normal equations).
This is the alignment used to evaluate MiDaS, and the one used to calibrate it to metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import as_bool_mask, as_float64, is_real

__all__ = ["AlignmentError", "ScaleShift", "apply_scale_shift_demo", "fit_scale_shift"]


class AlignmentError(ValueError):
    """The scale and shift cannot be determined from the given samples."""


@dataclass(frozen=True)
class ScaleShift:
    """An affine map ``s * pred + b`` from relative inverse depth to inverse depth.

    Attributes:
        scale: multiplier ``s`` applied to the prediction.
        shift: offset ``b`` added after scaling, in the target's inverse-depth units.
    """

    scale: float
    shift: float

    def apply(self, pred: np.ndarray) -> np.ndarray:
        """Map a prediction to aligned inverse depth.

        Args:
            pred: relative inverse depth, any shape.

        Returns:
            ``scale * pred + shift`` as float64, same shape as ``pred``.
        """
        pred = as_float64(pred, "pred")
        return self.scale * pred + self.shift

    def to_depth(self, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map a prediction to depth (the reciprocal of the aligned inverse depth).

        An aligned inverse depth that is zero or negative has no finite, positive depth: it
        would be at or beyond infinity. Those pixels are reported through the mask, and the
        depth there is set to 0 so the result never contains NaN or inf.

        Args:
            pred: relative inverse depth, any shape.

        Returns:
            ``(depth, valid)``: float64 depth (0 where invalid) and a bool mask that is True
            where the aligned inverse depth is positive and finite.

        Example:
            >>> depth, valid = ScaleShift(scale=1.0, shift=-1.0).to_depth(np.array([3.0, 1.0]))
            >>> depth.tolist(), valid.tolist()
            ([0.5, 0.0], [True, False])
        """
        inv = self.apply(pred)
        valid = np.isfinite(inv) & (inv > 0)
        depth = np.zeros_like(inv)
        np.divide(1.0, inv, out=depth, where=valid)
        return depth, valid


def fit_scale_shift(
    pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
) -> ScaleShift:
    """Fit the scale and shift that map ``pred`` onto ``target`` in the least-squares sense.

    Solves ``min_{s,b} sum((s * pred + b - target)^2)`` over the valid samples in float64.
    The 2x2 normal equations are solved in closed form, written in centred form (mean
    removed) for numerical stability: ``s = cov(p, t) / var(p)``, ``b = mean(t) - s * mean(p)``.

    Args:
        pred: relative inverse depth, any shape.
        target: inverse depth to align to (e.g. ``1 / depth_metres``), same shape as ``pred``.
        mask: bool array of the same shape marking samples to use. Samples where ``pred`` or
            ``target`` is not finite are always left out. ``None`` uses every finite sample.

    Returns:
        The fitted :class:`ScaleShift`.

    Raises:
        AlignmentError: fewer than 2 valid samples, or ``pred`` is constant over them.
        ValueError: shapes do not match.
        TypeError: an input is not a real numeric array, or ``mask`` is not bool.

    Example:
        >>> p = np.array([1.0, 2.0, 3.0])
        >>> fit_scale_shift(p, 2.0 * p + 0.5)
        ScaleShift(scale=2.0, shift=0.5)
    """
    p = as_float64(pred, "pred")
    t = as_float64(target, "target")
    if p.shape != t.shape:
        raise ValueError(
            f"pred has shape {p.shape} but target has shape {t.shape}; they must match."
        )
    valid = np.isfinite(p) & np.isfinite(t)
    if mask is not None:
        valid &= as_bool_mask(mask, p.shape)

    p, t = p[valid], t[valid]
    n = p.size
    if n < 2:
        raise AlignmentError(
            f"need at least 2 valid samples to fit a scale and a shift, got {n}: "
            "mark more pixels as valid."
        )

    p_mean, t_mean = p.mean(), t.mean()
    dp = p - p_mean
    var_p = float(np.dot(dp, dp))
    # Relative test: the spread must be resolvable at float64 precision.
    if var_p <= (1e-12 * max(float(np.abs(p).max()), np.finfo(np.float64).tiny)) ** 2 * n:
        raise AlignmentError(
            f"all points have the same predicted value ({float(p_mean):.6g}), so the scale is "
            "undetermined: pick points at different depths."
        )
    scale = float(np.dot(dp, t - t_mean)) / var_p
    shift = float(t_mean - scale * p_mean)
    return ScaleShift(scale=scale, shift=shift)


def apply_scale_shift_demo(pred: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Undo a chosen scale ``alpha`` and shift ``beta``: ``d_hat = (pred - beta) / alpha``.

    Teaching aid: if ``pred = alpha * d + beta`` for some true ``d``, the right ``alpha`` and
    ``beta`` recover ``d`` exactly. Moving them shows how a wrong scale stretches the values
    and a wrong shift offsets them.

    Args:
        pred: values to transform, any shape.
        alpha: non-zero finite scale.
        beta: finite shift.

    Returns:
        ``(pred - beta) / alpha`` as float64, same shape as ``pred``.

    Raises:
        ValueError: ``alpha`` is zero, or ``alpha``/``beta`` is not finite.

    Example:
        >>> apply_scale_shift_demo(np.array([3.0, 5.0]), alpha=2.0, beta=1.0).tolist()
        [1.0, 2.0]
    """
    pred = as_float64(pred, "pred")
    if not (is_real(alpha) and is_real(beta)):
        raise ValueError(f"alpha and beta must be finite, got alpha={alpha}, beta={beta}.")
    if alpha == 0:
        raise ValueError("alpha must be non-zero (it divides the prediction); got alpha=0.")
    return (pred - float(beta)) / float(alpha)
