"""A calibrated depth map in metres: its histogram, statistics and downloads.

After a calibration (:mod:`core.measure.calibration`) a map is in metres, with a mask of the pixels
the fit puts at a finite positive depth. The views of :mod:`core.maps.stats` work on every pixel
and the exports of :mod:`core.io.exports` are min-max normalised, as a unitless map must be;
these keep the units and leave the masked pixels out.

A calibrated map has a long far tail wherever the model sees (almost) no inverse depth:
sky, a distant wall. ``1 / (s d + t)`` sends those pixels to thousands of metres, so the
views show a percentile window instead (:func:`metric_range`, 1st to 99th percentile, as
the heatmap's colours do) and say how many pixels lie outside it. The files are a float32 ``.npy`` in
metres and a 16-bit PNG in millimetres, both with 0 meaning "no depth", the convention of
depth-camera datasets and of :func:`core.measure.metrics.load_ground_truth`, which reads them back.

Example:
    >>> from core.measure.metrics import load_ground_truth
    >>> depth = np.array([[1.5, 2.0]], np.float32)
    >>> data = depth_png16_mm_bytes(depth, np.array([[True, False]]))
    >>> load_ground_truth(data, kind="png16", unit="mm").tolist()
    [[1.5, 0.0]]
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from core.maps.stats import DepthHistogram, histogram
from core.io.exports import png_bytes

__all__ = [
    "MAX_PNG16_METRES",
    "MetricRange",
    "depth_npy_m_bytes",
    "depth_png16_mm_bytes",
    "metric_histogram",
    "metric_range",
]

#: Farthest depth a 16-bit millimetre PNG can store.
MAX_PNG16_METRES = 65.535

# metric_range takes its percentiles from every k-th pixel, k = pixels // _RANGE_SAMPLE
# (every pixel of a map under half a megapixel): exact percentiles of a 12 MP map cost
# 0.6 s on every view change, and p1 of 2**18 samples is within ~2e-4 of the ranks.
_RANGE_SAMPLE = 1 << 18


@dataclass(frozen=True)
class MetricRange:
    """The depths a calibrated map's views show, and how many pixels lie outside them.

    Attributes:
        near_m: the low percentile of the valid depths: the near end of the views.
        far_m: the high percentile: the far end of the views.
        percentiles: the (low, high) percentiles the window spans.
        median_m: the median valid depth.
        nearest_m: the smallest valid depth.
        farthest_m: the largest valid depth.
        nearer: valid pixels nearer than ``near_m``.
        farther: valid pixels farther than ``far_m``.
        no_depth: pixels without a finite positive depth (beyond infinity for the fit).
        total: pixels in the map.
    """

    near_m: float
    far_m: float
    percentiles: tuple[float, float]
    median_m: float
    nearest_m: float
    farthest_m: float
    nearer: int
    farther: int
    no_depth: int
    total: int

    @property
    def outside(self) -> int:
        """Valid pixels outside the window, nearer or farther."""
        return self.nearer + self.farther


def _valid_mask(depth_m: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The map as an array and the mask of its valid positive finite pixels, both checked."""
    depth = np.asarray(depth_m)
    mask = np.asarray(valid)
    if depth.ndim != 2 or depth.size == 0 or depth.dtype.kind not in "fiu":
        raise ValueError(f"depth_m must be a non-empty real HxW map, got {depth.dtype} {depth.shape}")
    if mask.dtype != bool or mask.shape != depth.shape:
        raise ValueError(f"valid must be a bool mask of shape {depth.shape}, got {mask.dtype} {mask.shape}")
    with np.errstate(invalid="ignore"):
        ok = mask & np.isfinite(depth) & (depth > 0)
    return depth, ok


def _checked(depth_m: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    depth, ok = _valid_mask(depth_m, valid)
    return depth.astype(np.float64), ok


def depth_npy_m_bytes(depth_m: np.ndarray, valid: np.ndarray) -> bytes:
    """A ``.npy`` of float32 depth in metres, 0 where there is no depth.

    Args:
        depth_m: HxW depth in metres.
        valid: HxW bool, False where the depth is not defined (e.g. beyond infinity).

    Returns:
        The file contents (loads with ``np.load(..., allow_pickle=False)``).
    """
    depth, ok = _checked(depth_m, valid)
    out = np.where(ok, depth, 0.0).astype(np.float32)  # HxW float64 -> float32 metres
    buffer = io.BytesIO()
    np.save(buffer, out, allow_pickle=False)
    return buffer.getvalue()


def depth_png16_mm_bytes(depth_m: np.ndarray, valid: np.ndarray) -> bytes:
    """A 16-bit grayscale PNG of depth in whole millimetres, 0 where there is no depth.

    Depths beyond :data:`MAX_PNG16_METRES` cannot be stored and are written as 0 too, as are
    depths that round to 0 mm.

    Args:
        depth_m: HxW depth in metres.
        valid: HxW bool, False where the depth is not defined.

    Returns:
        The PNG file contents.
    """
    depth, ok = _checked(depth_m, valid)
    mm = np.rint(np.where(ok, depth, 0.0) * 1000.0)  # HxW float64 millimetres
    mm[(mm > 65535) | (mm < 0)] = 0
    return png_bytes(mm.astype(np.uint16))


def _masked(depth_m: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """float32 copy with NaN outside the valid pixels: what core.maps.stats skips."""
    depth, ok = _checked(depth_m, valid)
    return np.where(ok, depth, np.nan).astype(np.float32)


def metric_histogram(
    depth_m: np.ndarray,
    valid: np.ndarray,
    bins: int = 128,
    lo: float | None = None,
    hi: float | None = None,
) -> DepthHistogram:
    """Histogram of the valid depths, in metres, optionally over a window only.

    Args:
        depth_m: HxW depth in metres.
        valid: HxW bool mask of pixels with a depth.
        bins: number of uniform bins.
        lo: near end of the bins (e.g. :attr:`MetricRange.near_m`); default the nearest
            valid depth. Depths outside ``[lo, hi]`` are not counted.
        hi: far end of the bins; default the farthest valid depth.

    Returns:
        The counts and edges (metres); zero counts when no pixel is valid.

    Example:
        >>> h = metric_histogram(np.array([[1.0, 2.0, 9.0]]), np.array([[True, True, False]]), bins=2)
        >>> h.counts.tolist(), h.edges.tolist()
        ([1, 1], [1.0, 1.5, 2.0])
    """
    return histogram(_masked(depth_m, valid), bins=bins, lo=lo, hi=hi)


def metric_range(
    depth_m: np.ndarray, valid: np.ndarray, percentiles: tuple[float, float] = (1.0, 99.0)
) -> MetricRange:
    """The percentile window of a calibrated map's valid depths, and what lies outside it.

    The percentiles are those of ``np.percentile`` over the valid depths (over an even
    sample of 2**18 of them on larger maps); the counts and extremes are exact.

    Args:
        depth_m: HxW depth in metres.
        valid: HxW bool mask of pixels with a depth (e.g. from ``Calibration.depth_map``).
        percentiles: (low, high) in [0, 100], low < high.

    Returns:
        The window, the median, the extremes and the counts.

    Raises:
        ValueError: bad shapes or percentiles, or no valid pixel at all.

    Example:
        >>> depth = np.array([[1.0, 2.0, 3.0, 4.0, 5000.0]])
        >>> r = metric_range(depth, depth > 0, (0.0, 75.0))
        >>> r.near_m, r.far_m, r.farther, r.farthest_m
        (1.0, 4.0, 1, 5000.0)
    """
    if len(percentiles) != 2 or not 0.0 <= percentiles[0] < percentiles[1] <= 100.0:
        raise ValueError(f"percentiles must be (low, high) with 0 <= low < high <= 100, got {percentiles}")
    depth, ok = _valid_mask(depth_m, valid)
    n_valid = int(np.count_nonzero(ok))
    if n_valid == 0:
        raise ValueError("no pixel has a finite positive depth: there is nothing to show in metres")
    step = max(1, depth.size // _RANGE_SAMPLE)
    flat, flat_ok = depth.ravel(), ok.ravel()
    sample = flat[::step][flat_ok[::step]]  # an even sample of the valid depths
    if sample.size == 0:  # the valid pixels all fall between the sampled ones
        sample = flat[flat_ok]
    near, median, far = (float(v) for v in np.percentile(sample.astype(np.float64),
                                                          [percentiles[0], 50.0, percentiles[1]]))
    with np.errstate(invalid="ignore"):
        nearer = int(np.count_nonzero((depth < near) & ok))
        farther = int(np.count_nonzero((depth > far) & ok))
    return MetricRange(
        near_m=near,
        far_m=far,
        percentiles=(float(percentiles[0]), float(percentiles[1])),
        median_m=median,
        nearest_m=float(np.min(depth, where=ok, initial=np.inf)),
        farthest_m=float(np.max(depth, where=ok, initial=-np.inf)),
        nearer=nearer,
        farther=farther,
        no_depth=int(depth.size - n_valid),
        total=int(depth.size),
    )
