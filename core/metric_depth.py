"""A calibrated depth map in metres: its histogram, statistics and downloads.

After a calibration (:mod:`core.calibration`) a map is in metres, with a mask of the pixels
the fit puts at a finite positive depth. The views of :mod:`core.depth` work on every pixel
and the exports of :mod:`core.exports` are min-max normalised, as a unitless map must be;
these keep the units and leave the masked pixels out. The files are a float32 ``.npy`` in
metres and a 16-bit PNG in millimetres, both with 0 meaning "no depth", the convention of
depth-camera datasets and of :func:`core.metrics.load_ground_truth`, which reads them back.

Example:
    >>> from core.metrics import load_ground_truth
    >>> depth = np.array([[1.5, 2.0]], np.float32)
    >>> data = depth_png16_mm_bytes(depth, np.array([[True, False]]))
    >>> load_ground_truth(data, kind="png16", unit="mm").tolist()
    [[1.5, 0.0]]
"""

from __future__ import annotations

import io

import numpy as np

from core.depth import DepthHistogram, DepthStats, depth_stats, histogram
from core.exports import png_bytes

__all__ = [
    "MAX_PNG16_METRES",
    "depth_npy_m_bytes",
    "depth_png16_mm_bytes",
    "metric_histogram",
    "metric_stats",
]

#: Farthest depth a 16-bit millimetre PNG can store.
MAX_PNG16_METRES = 65.535


def _checked(depth_m: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    depth = np.asarray(depth_m)
    mask = np.asarray(valid)
    if depth.ndim != 2 or depth.size == 0 or depth.dtype.kind not in "fiu":
        raise ValueError(f"depth_m must be a non-empty real HxW map, got {depth.dtype} {depth.shape}")
    if mask.dtype != bool or mask.shape != depth.shape:
        raise ValueError(f"valid must be a bool mask of shape {depth.shape}, got {mask.dtype} {mask.shape}")
    with np.errstate(invalid="ignore"):
        ok = mask & np.isfinite(depth) & (depth > 0)
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
    """float32 copy with NaN outside the valid pixels: what core.depth's statistics skip."""
    depth, ok = _checked(depth_m, valid)
    return np.where(ok, depth, np.nan).astype(np.float32)


def metric_histogram(depth_m: np.ndarray, valid: np.ndarray, bins: int = 128) -> DepthHistogram:
    """Histogram of the valid depths, in metres.

    Args:
        depth_m: HxW depth in metres.
        valid: HxW bool mask of pixels with a depth.
        bins: number of uniform bins between the nearest and farthest valid depth.

    Returns:
        The counts and edges (metres); zero counts when no pixel is valid.

    Example:
        >>> h = metric_histogram(np.array([[1.0, 2.0, 9.0]]), np.array([[True, True, False]]), bins=2)
        >>> h.counts.tolist(), h.edges.tolist()
        ([1, 1], [1.0, 1.5, 2.0])
    """
    return histogram(_masked(depth_m, valid), bins=bins)


def metric_stats(depth_m: np.ndarray, valid: np.ndarray) -> DepthStats:
    """Statistics of the valid depths, in metres (``nonfinite`` counts the invalid pixels).

    Args:
        depth_m: HxW depth in metres.
        valid: HxW bool mask of pixels with a depth.

    Returns:
        Min (nearest), max (farthest), mean, std and percentiles in metres.
    """
    return depth_stats(_masked(depth_m, valid), percentiles=(1, 50, 99))
