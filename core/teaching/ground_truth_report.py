"""Everything the Evaluate page shows about a prediction against a ground-truth depth map.

:func:`core.measure.metrics.evaluate` does the MiDaS protocol (least-squares scale and shift in
inverse-depth space, then AbsRel, delta, RMSE, log10). This module wraps it for a photo
whose ground truth may come at another resolution: the prediction is resized to the ground
truth (never the other way, so no depth is invented), a different aspect ratio is reported,
and the error map and an even sample of (true, predicted) pairs are prepared for the charts.
:func:`measured_image` colours a map with the pixels that have no measurement in a colour
of their own (:func:`no_measurement_colour`), never in one the colormap uses for a depth.

Example:
    >>> pred = np.array([[1.0, 2.0], [4.0, 8.0]], np.float32)
    >>> report = ground_truth_report(pred, 1.0 / (0.5 * pred + 0.25))
    >>> report.metrics.abs_rel < 1e-6, report.resized
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import is_real
from core.io.metadata import DepthFacts, check_facts, png_with_text
from core.measure.alignment import ScaleShift
from core.maps.colormaps import colorize, colormap_lut
from core.measure.metric_depth import depth_png16_mm_bytes
from core.measure.metrics import DepthMetrics, error_map, evaluate, resize_to

__all__ = [
    "ASPECT_TOLERANCE",
    "GroundTruthReport",
    "ground_truth_report",
    "measured_image",
    "no_measurement_color",
    "synthetic_ground_truth",
    "synthetic_ground_truth_png",
]

#: Relative difference of width/height ratios above which the two maps cannot show the same view.
ASPECT_TOLERANCE = 0.02

# Candidates for "no measurement", in order of preference: the first that is at least
# _MIN_COLOUR_DISTANCE (Euclidean, in 0-255 RGB) from every entry of the colormap is used.
_HOLE_COLOURS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("grey", (128, 128, 128)),
    ("cyan", (0, 255, 255)),
    ("magenta", (255, 0, 255)),
)
_MIN_COLOUR_DISTANCE = 60.0
_SCATTER_PAD = 0.05  # fraction of the data's span added on each side of the scatter's axes


@dataclass(frozen=True, eq=False)
class GroundTruthReport:
    """The metrics, and the arrays behind the charts, at the ground truth's resolution.

    Attributes:
        metrics: AbsRel, delta1-3, RMSE (m), log10, the fitted scale and shift, and n_valid.
        aligned_m: HxW float32 aligned prediction in metres.
        gt_m: HxW float32 ground truth in metres, 0 where invalid.
        valid: HxW bool, the pixels scored.
        error: HxW float32 ``|aligned - gt| / gt``, 0 outside ``valid``.
        sample_true: ground-truth metres of an even sample of valid pixels.
        sample_pred: aligned predicted metres of the same pixels.
        resized: True when the prediction was resized to the ground truth's resolution.
        aspect_mismatch: relative difference of the two width/height ratios.
    """

    metrics: DepthMetrics
    aligned_m: np.ndarray
    gt_m: np.ndarray
    valid: np.ndarray
    error: np.ndarray
    sample_true: np.ndarray
    sample_pred: np.ndarray
    resized: bool
    aspect_mismatch: float

    @property
    def misaligned(self) -> bool:
        """True when the aspect ratios differ by more than :data:`ASPECT_TOLERANCE`."""
        return self.aspect_mismatch > ASPECT_TOLERANCE

    @property
    def scatter_range(self) -> tuple[float, float]:
        """One axis range, in metres, that holds every sampled (true, predicted) value.

        The span of both samples, padded by 5 % on each side, so the scatter's two axes
        can share it and the line ``predicted = true`` runs corner to corner.
        """
        values = np.concatenate([self.sample_true.ravel(), self.sample_pred.ravel()]).astype(np.float64)
        lo, hi = float(values.min()), float(values.max())
        pad = _SCATTER_PAD * (hi - lo) if hi > lo else max(0.05 * abs(hi), 0.05)
        return max(lo - pad, 0.0), hi + pad


def no_measurement_color(cmap: str) -> tuple[str, tuple[int, int, int]]:
    """The colour, and its name, that marks "no measurement" on a map drawn with ``cmap``.

    Neutral grey unless the colormap has a colour close to it (gray, cividis); then the
    first of cyan or magenta that is far from all of its colours.

    Args:
        cmap: a colormap name of :mod:`core.maps.colormaps`.

    Returns:
        ``(name, (r, g, b))``.

    Example:
        >>> no_measurement_colour("inferno")
        ('grey', (128, 128, 128))
    """
    lut = colormap_lut(cmap).astype(np.float64)  # 256x3
    for name, rgb in _HOLE_COLOURS:
        if float(np.sqrt(((lut - rgb) ** 2).sum(axis=1)).min()) >= _MIN_COLOUR_DISTANCE:
            return name, rgb
    raise ValueError(f"no colour for 'no measurement' stands apart from colormap {cmap!r}")  # pragma: no cover


def measured_image(
    values: np.ndarray, valid: np.ndarray, cmap: str, lo: float, hi: float, invert: bool = False
) -> np.ndarray:
    """Colour a map between ``lo`` and ``hi``, and its pixels without a measurement apart.

    The valid pixels get exactly ``colorize(values, cmap, lo, hi, invert)``; the others get
    :func:`no_measurement_colour`, which the colormap never produces, so a hole can never
    be read as a depth (a 0 would otherwise be clipped to ``lo`` and drawn as the near end).

    Args:
        values: HxW map, e.g. depth in metres or the relative error.
        valid: HxW bool, True where there is a measurement.
        cmap: a colormap name of :mod:`core.maps.colormaps`.
        lo: value drawn with the low end of the colormap.
        hi: value drawn with the high end, > ``lo``.
        invert: draw ``lo`` with the high end instead (near = bright for a depth in metres).

    Returns:
        HxWx3 uint8 RGB.

    Raises:
        ValueError: ``values`` is not HxW, ``valid`` is not a bool mask of its shape, or
            the window is empty.

    Example:
        >>> measured_image(np.array([[1.0, 0.0]]), np.array([[True, False]]), "gray", 0.0, 1.0).tolist()
        [[[255, 255, 255], [0, 255, 255]]]
    """
    v = np.asarray(values)
    mask = np.asarray(valid)
    if v.ndim != 2 or v.size == 0:
        raise ValueError(f"values must be a non-empty HxW map, got shape {v.shape}")
    if mask.dtype != bool or mask.shape != v.shape:
        raise ValueError(f"valid must be a bool mask of shape {v.shape}, got {mask.dtype} {mask.shape}")
    if not (is_real(lo) and is_real(hi) and hi > lo):
        raise ValueError(f"need finite lo < hi, got lo={lo}, hi={hi}")
    image = colorize(v.astype(np.float32, copy=False), cmap, float(lo), float(hi), invert=invert)  # HxWx3 uint8
    image[~mask] = no_measurement_color(cmap)[1]
    return image


def ground_truth_report(pred: np.ndarray, gt_m: np.ndarray, max_points: int = 4000) -> GroundTruthReport:
    """Align ``pred`` to ``gt_m`` with the MiDaS protocol and gather what the page shows.

    Args:
        pred: HxW relative inverse depth of the photo, any resolution.
        gt_m: hxw ground-truth depth in metres, 0 (or non-positive, non-finite) where invalid,
            e.g. from :func:`core.measure.metrics.load_ground_truth`.
        max_points: most (true, predicted) pairs in the sample, >= 1.

    Returns:
        The report.

    Raises:
        ValueError: a map is not HxW, the ground truth has no valid pixel, ``pred`` is not
            finite, or ``max_points`` < 1.
        core.measure.alignment.AlignmentError: the prediction is constant over the valid pixels.
    """
    p = np.asarray(pred)
    g = np.asarray(gt_m)
    if p.ndim != 2 or g.ndim != 2 or p.size == 0 or g.size == 0:
        raise ValueError(f"pred and gt_m must be non-empty HxW maps, got shapes {p.shape} and {g.shape}")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    resized = p.shape != g.shape
    aspect_mismatch = abs((p.shape[1] / p.shape[0]) / (g.shape[1] / g.shape[0]) - 1.0)
    if resized:
        p = resize_to(p, (int(g.shape[0]), int(g.shape[1])))  # HxW -> hxw, the ground truth's grid
    metrics, aligned, valid = evaluate(p, g)
    gt = np.where(valid, g, 0.0).astype(np.float32)
    error = error_map(aligned, gt, valid)
    idx = np.flatnonzero(valid)
    if idx.size > max_points:  # evenly spread over the valid pixels, first and last included
        idx = idx[np.floor(np.linspace(0.0, idx.size - 1.0, max_points) + 0.5).astype(np.intp)]
    return GroundTruthReport(
        metrics=metrics,
        aligned_m=aligned,
        gt_m=gt,
        valid=valid,
        error=error,
        sample_true=gt.ravel()[idx],
        sample_pred=aligned.ravel()[idx],
        resized=resized,
        aspect_mismatch=float(aspect_mismatch),
    )


def synthetic_ground_truth(
    pred: np.ndarray, near_m: float = 1.0, far_m: float = 10.0
) -> tuple[np.ndarray, np.ndarray]:
    """A depth map in metres that is an exact scale and shift of ``pred`` in inverse depth.

    A self-check of the protocol, not of the model: evaluated against it, any prediction
    scores AbsRel = 0. The 99th percentile of ``pred`` is put at ``near_m`` and the 1st at
    ``far_m``; pixels the map puts at or beyond infinity have no depth.

    Args:
        pred: HxW relative inverse depth, not constant.
        near_m: depth of the 99th percentile, > 0.
        far_m: depth of the 1st percentile, > ``near_m``.

    Returns:
        ``(depth_m, valid)``: HxW float32 metres (0 where invalid) and the HxW bool mask.

    Raises:
        ValueError: bad distances, or a map that is not finite, HxW and varied.

    Example:
        >>> depth, valid = synthetic_ground_truth(np.linspace(0.0, 1.0, 101).reshape(1, 101))
        >>> round(float(depth[0, 99]), 6), round(float(depth[0, 1]), 6)
        (1.0, 10.0)
    """
    return _synthetic(pred, near_m, far_m)[1:]


def synthetic_ground_truth_png(pred: np.ndarray, facts: DepthFacts, near_m: float = 1.0, far_m: float = 10.0) -> bytes:
    """:func:`synthetic_ground_truth` as a 16-bit PNG of whole millimetres (0 = no depth) that says what it is.

    Its text chunks are ``facts.metric(s, t).millimetre_png16()`` with the synthetic fit's ``s``
    and ``t``, and a ``ground_truth`` field saying it is synthetic, not measured.

    Args:
        pred: HxW relative inverse depth, not constant.
        facts: the prediction's facts (:func:`core.io.metadata.facts_for`).
        near_m: depth of the 99th percentile, > 0.
        far_m: depth of the 1st percentile, > ``near_m``.

    Returns:
        The PNG file contents; :func:`core.measure.metrics.load_ground_truth` reads it back.

    Raises:
        TypeError: ``facts`` is not a DepthFacts.
        ValueError: as :func:`synthetic_ground_truth`.
    """
    check_facts(facts, optional=False)
    fit, depth, valid = _synthetic(pred, near_m, far_m)
    made = (f"synthetic: an exact scale and shift of the prediction in inverse depth (its 99th percentile at "
            f"{near_m:g} m, its 1st at {far_m:g} m), a self-check of the protocol, not a measurement")
    stated = facts.metric(fit.scale, fit.shift).with_extra(ground_truth=made).millimetre_png16()
    return png_with_text(depth_png16_mm_bytes(depth, valid), stated.text_fields())


def _synthetic(pred: np.ndarray, near_m: float, far_m: float) -> tuple[ScaleShift, np.ndarray, np.ndarray]:
    """The synthetic fit, and the HxW float32 depth in metres and the mask it gives."""
    if not 0 < near_m < far_m:
        raise ValueError(f"need 0 < near_m < far_m, got near_m={near_m}, far_m={far_m}")
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim != 2 or not np.isfinite(p).all():
        raise ValueError(f"pred must be a finite HxW map, got shape {p.shape}")
    lo, hi = np.percentile(p, [1.0, 99.0])
    if not hi > lo:
        raise ValueError("pred is (almost) constant: it has no depth order to scale")
    scale = (1.0 / near_m - 1.0 / far_m) / (hi - lo)
    fit = ScaleShift(scale=float(scale), shift=float(1.0 / far_m - scale * lo))
    depth, valid = fit.to_depth(p)
    return fit, depth.astype(np.float32), valid
