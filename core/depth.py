"""Numerics on relative inverse depth maps: sanitising, statistics, normalisation.

MiDaS predicts *relative inverse depth*: larger values are nearer, the values have no
unit and are defined only up to an unknown scale and shift. Nothing in this module
assumes metres; :func:`inverse_to_depth` is the one place where a (calibrated or
guessed) scale and shift turn inverse depth into depth.

Everything here is written for 12-megapixel float32 maps: no float64 temporaries of
the full map, no sorting (percentiles come from a 4096-bin histogram), and the
quantisation behind :func:`to_uint8` / :func:`to_uint16` is a single saturating
OpenCV pass whenever float32 precision allows it.

Non-finite values follow one rule everywhere: statistics and histograms ignore them,
and functions that must produce a value for every pixel treat them as
:func:`sanitize` does (NaN and -inf become the smallest finite value, +inf the
largest). So NaN and +-inf never reach an image, a file or a chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

__all__ = [
    "DepthHistogram",
    "DepthStats",
    "depth_stats",
    "histogram",
    "inverse_to_depth",
    "normalize",
    "percentile_of",
    "percentile_values",
    "sanitize",
    "to_uint16",
    "to_uint8",
]

_REAL = (int, float, np.integer, np.floating)

#: Bins used for histogram-based percentiles: accurate to 1/4096 of the value range.
PERCENTILE_BINS = 4096

# cv2.calcHist returns float32 counts, exact only up to 2**24 per bin; larger maps are
# counted in row chunks and summed as int64.
_CALCHIST_MAX_PIXELS = 1 << 24

# The one-pass quantiser computes x * alpha + gamma in float32. It is used only while
# its rounding error, about max(|lo|, |hi|) * alpha * 2**-24 output levels, stays
# below this many levels; otherwise x - lo is formed first (exact for nearby values).
_ONE_PASS_MAX_ERROR = 1.0 / 64.0


def _as_float32(depth: np.ndarray, name: str = "depth") -> np.ndarray:
    """Validate an HxW real-valued map and return it as float32 (no copy if it already is)."""
    if not isinstance(depth, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of shape HxW, got {type(depth).__name__}")
    if depth.ndim != 2:
        raise ValueError(f"{name} must have shape HxW (2 dims), got shape {depth.shape}")
    if depth.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {depth.shape}")
    if depth.dtype.kind not in "fiu":
        raise TypeError(f"{name} must have a float or integer dtype, got {depth.dtype}")
    return np.ascontiguousarray(depth, dtype=np.float32)


def _finite_range(arr: np.ndarray) -> tuple[float, float, np.ndarray | None]:
    """Min and max of the finite values of a float32 map, and the finite mask if needed.

    np.min/np.max propagate NaN and return +-inf when present, so two cheap reductions
    prove the map is all-finite; only then is a mask skipped. With no finite value at
    all, returns (nan, nan, mask).
    """
    lo, hi = float(arr.min()), float(arr.max())
    if np.isfinite(lo) and np.isfinite(hi):
        return lo, hi, None
    finite = np.isfinite(arr)
    if not finite.any():
        return float("nan"), float("nan"), finite
    lo = float(np.min(arr, where=finite, initial=np.inf))
    hi = float(np.max(arr, where=finite, initial=-np.inf))
    return lo, hi, finite


def _sanitized(arr: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The :func:`sanitize` rule on a float32 map, plus its finite min and max.

    Returns the input itself (not a copy) when it is already all-finite.
    """
    lo, hi, finite = _finite_range(arr)
    if finite is None:
        return arr, lo, hi
    if np.isnan(lo):  # nothing finite at all
        return np.zeros_like(arr), 0.0, 0.0
    return np.nan_to_num(arr, nan=lo, posinf=hi, neginf=lo), lo, hi


def _check_bound(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, _REAL):
        raise TypeError(f"{name} must be a real number or None, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def _window(
    lo: float | None, hi: float | None, data_lo: float, data_hi: float
) -> tuple[float, float]:
    """Resolve an optional [lo, hi] window against the data range and validate it."""
    lo_ = _check_bound(lo, "lo")
    hi_ = _check_bound(hi, "hi")
    lo_ = data_lo if lo_ is None else lo_
    hi_ = data_hi if hi_ is None else hi_
    if lo_ > hi_:
        raise ValueError(f"lo must be <= hi, got lo={lo_} and hi={hi_}")
    return lo_, hi_


def _degenerate(lo: float, hi: float) -> bool:
    """True when [lo, hi] is too narrow to stretch: empty, or 65536 / width overflows float32.

    The one threshold behind ``DepthStats.constant`` and every flat display result.
    """
    span = hi - lo
    if not span > 0.0:
        return True
    with np.errstate(over="ignore"):
        return not np.isfinite(np.float32(65536.0 / span))


def _quantize(
    arr: np.ndarray,
    lo: float,
    hi: float,
    data_lo: float,
    data_hi: float,
    levels: int,
    dtype: int,
    invert: bool,
) -> np.ndarray:
    """Map a finite float32 map onto integers round((x - lo) / (hi - lo) * levels).

    Values outside [lo, hi] saturate to 0 or ``levels``. A degenerate window gives a
    step: 0 for x <= lo and ``levels`` above (flipped when ``invert``). ``data_lo`` and
    ``data_hi`` bound the values of ``arr``.
    """
    out_dtype = np.uint8 if dtype == cv2.CV_8U else np.uint16
    if _degenerate(lo, hi):
        out = np.zeros(arr.shape, dtype=out_dtype)
        above = arr > np.float32(lo)
        out[~above if invert else above] = levels
        return out
    alpha = levels / (hi - lo)
    # OpenCV's saturating cast sends values beyond the int32 range to 0, not to the
    # nearest end: clip first if any value lies that far outside the window.
    if max(hi - data_lo, data_hi - lo) * alpha >= 2.0**30:
        arr = np.clip(arr, np.float32(lo), np.float32(hi))
    if max(abs(lo), abs(hi)) * alpha * 2.0**-24 <= _ONE_PASS_MAX_ERROR:
        # one saturating pass, x * alpha - lo * alpha (or its mirror) rounded to nearest
        if invert:
            return cv2.addWeighted(arr, -alpha, arr, 0.0, hi * alpha, dtype=dtype)
        return cv2.addWeighted(arr, alpha, arr, 0.0, -lo * alpha, dtype=dtype)
    # a large offset relative to the window: subtract first (exact for nearby float32s)
    shifted = np.subtract(np.float32(hi), arr) if invert else np.subtract(arr, np.float32(lo))
    return cv2.addWeighted(shifted, alpha, shifted, 0.0, 0.0, dtype=dtype)


def sanitize(depth: np.ndarray) -> np.ndarray:
    """Return a finite float32 copy of a depth map.

    NaN and -inf become the smallest finite value, +inf the largest finite value. A map
    with no finite value at all becomes zeros. For inverse depth this sends NaN to the
    far end, where a missing value is least conspicuous. The map is cast to float32
    first, so float64 values beyond the float32 range count as +-inf.

    Args:
        depth: HxW map of any float or integer dtype.

    Returns:
        HxW float32 array with only finite values (always a new array).

    Example:
        >>> sanitize(np.array([[np.nan, 1.0], [np.inf, -np.inf]]))
        array([[1., 1.],
               [1., 1.]], dtype=float32)
    """
    out, _, _ = _sanitized(_as_float32(depth))
    return out.copy() if np.may_share_memory(out, depth) else out


@dataclass(frozen=True, eq=False)
class DepthHistogram:
    """Counts of a depth map over uniform bins.

    Attributes:
        counts: ``bins`` int64 counts. Bin ``i`` holds ``edges[i] <= x < edges[i + 1]``;
            the last bin also holds ``x == edges[-1]`` (as in ``np.histogram``).
        edges: ``bins + 1`` float64 bin edges, uniform between lo and hi.
    """

    counts: np.ndarray
    edges: np.ndarray

    @property
    def total(self) -> int:
        """Number of values counted."""
        return int(self.counts.sum())

    def percentiles(self, q: Sequence[float]) -> np.ndarray:
        """Estimate percentiles of the counted values, as ``np.percentile`` defines them.

        ``np.percentile`` interpolates linearly between the order statistics at ranks
        ``floor(r)`` and ``floor(r) + 1`` where ``r = q / 100 * (n - 1)``. Each order
        statistic is located in its bin and placed as if the bin's values were spread
        evenly inside it, so every estimate is within one bin width of the exact value.

        Args:
            q: percentiles in [0, 100].

        Returns:
            float64 array with one value per entry of ``q``; all equal to ``edges[0]``
            when nothing was counted.
        """
        qs = np.asarray(q, dtype=np.float64).reshape(-1)
        if not np.all((qs >= 0.0) & (qs <= 100.0)):
            raise ValueError(f"percentiles must lie in [0, 100], got {list(qs)}")
        n = self.total
        if n == 0:
            return np.full(qs.shape, float(self.edges[0]))
        cum = np.cumsum(self.counts)  # bins int64
        rank = qs / 100.0 * (n - 1)
        below = np.floor(rank)
        frac = rank - below

        def order_statistic(k: np.ndarray) -> np.ndarray:
            b = np.searchsorted(cum, k, side="right")  # bin holding the k-th smallest value
            before = np.where(b > 0, cum[b - 1], 0)
            pos = (k - before + 0.5) / self.counts[b]  # in (0, 1): even spread within the bin
            # the extremes sit on the outer edges, which are the min and max when the
            # histogram spans the data range: percentiles 0 and 100 are then exact
            pos = np.where((k == 0) & (b == 0), 0.0, pos)
            pos = np.where((k == n - 1) & (b == len(self.counts) - 1), 1.0, pos)
            return self.edges[b] * (1.0 - pos) + self.edges[b + 1] * pos  # exact at pos 0, 1

        v0 = order_statistic(below)
        v1 = order_statistic(np.minimum(below + 1, n - 1))
        return np.clip(v0 + frac * (v1 - v0), self.edges[0], self.edges[-1])


def histogram(
    depth: np.ndarray, bins: int = 256, lo: float | None = None, hi: float | None = None
) -> DepthHistogram:
    """Histogram of the finite values of a depth map over ``bins`` uniform bins.

    Like ``np.histogram`` with ``range=(lo, hi)``: values outside [lo, hi] and non-finite
    values are not counted. Counting is one OpenCV pass (no sorting, no float64 copy).
    Bin assignment is exact up to floating-point rounding for values lying on a bin edge;
    lo and hi are rounded to float32 like the data.

    Args:
        depth: HxW map.
        bins: number of bins, 1 to 65536.
        lo: lower edge; defaults to the finite minimum.
        hi: upper edge; defaults to the finite maximum.

    Returns:
        The counts and edges. A one-value window (lo == hi) counts the values equal to
        it in the first bin; a map with no finite value gives zero counts over [0, 0].

    Example:
        >>> histogram(np.array([[0.0, 1.0], [2.0, 3.0]], np.float32), bins=3).counts
        array([1, 1, 2])
    """
    arr = _as_float32(depth)
    if isinstance(bins, (bool, np.bool_)) or not isinstance(bins, (int, np.integer)):
        raise TypeError(f"bins must be an int, got {type(bins).__name__}")
    if not 1 <= bins <= 65536:
        raise ValueError(f"bins must be in [1, 65536], got {bins}")
    data_lo, data_hi, finite = _finite_range(arr)
    if np.isnan(data_lo):  # nothing finite: an empty histogram over [0, 0]
        data_lo = data_hi = 0.0
    lo_, hi_ = _window(lo, hi, data_lo, data_hi)
    lo32, hi32 = np.float32(lo_), np.float32(hi_)  # compare in the data's precision
    edges = np.linspace(float(lo32), float(hi32), bins + 1)
    counts = np.zeros(bins, dtype=np.int64)
    if not hi32 > lo32:
        counts[0] = np.count_nonzero(arr == lo32)  # a one-value window
        return DepthHistogram(counts=counts, edges=edges)
    mask = None if finite is None else finite.view(np.uint8)  # calcHist would bin NaN
    rows = max(1, _CALCHIST_MAX_PIXELS // arr.shape[1])
    for start in range(0, arr.shape[0], rows):
        part = slice(start, start + rows)
        # calcHist counts lo <= x < hi, binning in float64
        part_mask = None if mask is None else mask[part]
        h = cv2.calcHist([arr[part]], [0], part_mask, [bins], [float(lo32), float(hi32)])
        counts += np.rint(h.reshape(-1)).astype(np.int64)  # bins (x 1) float32 -> bins int64
    counts[-1] += np.count_nonzero(arr == hi32)  # the closed top edge
    return DepthHistogram(counts=counts, edges=edges)


def percentile_values(
    depth: np.ndarray, q: tuple[float, float] = (2.0, 98.0), bins: int = PERCENTILE_BINS
) -> tuple[float, float]:
    """Two percentiles of the finite values, e.g. a robust display window.

    Histogram-based (see :meth:`DepthHistogram.percentiles`): accurate to
    ``(max - min) / bins``. For interactive use, cache ``histogram(depth, 4096)`` and
    call its ``percentiles`` method instead; that costs microseconds.

    Args:
        depth: HxW map.
        q: (low, high) percentiles in [0, 100], low <= high.
        bins: histogram resolution.

    Returns:
        (lo, hi) values in depth-map units.

    Example:
        >>> percentile_values(np.array([[0.0, 1.0], [2.0, 3.0]], np.float32), (0, 100))
        (0.0, 3.0)
    """
    if len(q) != 2:
        raise ValueError(f"q must be a pair (low, high), got {q}")
    if not q[0] <= q[1]:
        raise ValueError(f"q must satisfy low <= high, got {q}")
    lo, hi = histogram(depth, bins=bins).percentiles(q)
    return float(lo), float(hi)


def percentile_of(depth: np.ndarray, value: float) -> float:
    """Percentage of finite pixels whose value is <= ``value`` (exact, for a pixel probe).

    Args:
        depth: HxW map.
        value: a value in depth-map units.

    Returns:
        A percentage in [0, 100]; 0 when the map has no finite value.

    Example:
        >>> percentile_of(np.array([[0.0, 1.0], [2.0, 3.0]], np.float32), 1.0)
        50.0
    """
    arr = _as_float32(depth)
    v = _check_bound(value, "value")
    _, _, finite = _finite_range(arr)
    le = arr <= np.float32(v)
    if finite is None:
        return float(100.0 * np.count_nonzero(le) / arr.size)
    n = np.count_nonzero(finite)
    return float(100.0 * np.count_nonzero(le & finite) / n) if n else 0.0


@dataclass(frozen=True)
class DepthStats:
    """Summary of the finite values of a depth map, in depth-map units.

    Attributes:
        min: smallest finite value.
        max: largest finite value.
        mean: mean of the finite values.
        std: population standard deviation of the finite values.
        percentiles: percentile -> value, histogram-based, accurate to (max - min) / 4096.
        constant: True when the finite values span no usable range (a flat map);
            display functions then return a flat image.
        nonfinite: number of NaN or +-inf pixels (ignored above).
    """

    min: float
    max: float
    mean: float
    std: float
    percentiles: dict[float, float] = field(default_factory=dict)
    constant: bool = False
    nonfinite: int = 0


def depth_stats(
    depth: np.ndarray, percentiles: Sequence[float] = (1, 5, 25, 50, 75, 95, 99)
) -> DepthStats:
    """Compute :class:`DepthStats` of a depth map without sorting it.

    Percentiles come from a 4096-bin histogram between min and max, so each is within
    (max - min) / 4096 of ``np.percentile``. Mean and std accumulate in float64.

    Args:
        depth: HxW map.
        percentiles: percentiles in [0, 100] to report.

    Returns:
        The statistics. A map with no finite value gives zeros, constant=True.

    Example:
        >>> s = depth_stats(np.array([[0.0, 2.0], [4.0, 8.0]], np.float32), (50,))
        >>> s.min, s.max, s.mean, s.constant
        (0.0, 8.0, 3.5, False)
    """
    arr = _as_float32(depth)
    qs = list(percentiles)
    lo, hi, finite = _finite_range(arr)
    nonfinite = 0 if finite is None else int(arr.size - np.count_nonzero(finite))
    if np.isnan(lo):
        return DepthStats(0.0, 0.0, 0.0, 0.0, {q: 0.0 for q in qs}, True, nonfinite)
    constant = _degenerate(lo, hi)
    if constant:
        return DepthStats(lo, hi, lo, 0.0, {q: lo for q in qs}, True, nonfinite)
    mean = float(np.mean(arr, dtype=np.float64, where=True if finite is None else finite))
    # centre first so the single-pass variance does not cancel catastrophically
    centred = np.subtract(arr, np.float32(mean))  # HxW float32
    mask = None if finite is None else finite.view(np.uint8)
    dmean, dstd = cv2.meanStdDev(centred, mask=mask)
    mean += float(dmean[0, 0])
    values = histogram(arr, bins=PERCENTILE_BINS, lo=lo, hi=hi).percentiles(qs) if qs else []
    return DepthStats(
        min=lo,
        max=hi,
        mean=mean,
        std=float(dstd[0, 0]),
        percentiles={q: float(v) for q, v in zip(qs, values)},
        constant=False,
        nonfinite=nonfinite,
    )


def normalize(
    depth: np.ndarray, lo: float | None = None, hi: float | None = None, invert: bool = False
) -> np.ndarray:
    """Rescale a map linearly to [0, 1], clipping to the window [lo, hi].

    Non-finite values are first replaced as in :func:`sanitize`. A constant map (or
    lo == hi) gives zeros, never a division by zero; check ``DepthStats.constant``.

    Args:
        depth: HxW map.
        lo: value mapped to 0; defaults to the finite minimum.
        hi: value mapped to 1; defaults to the finite maximum.
        invert: map lo to 1 and hi to 0 instead (for inverse depth: far = 1).

    Returns:
        HxW float32 in [0, 1].

    Example:
        >>> normalize(np.array([[0.0, 2.0], [4.0, 8.0]], np.float32))
        array([[0.  , 0.25],
               [0.5 , 1.  ]], dtype=float32)
    """
    arr, data_lo, data_hi = _sanitized(_as_float32(depth))
    lo_, hi_ = _window(lo, hi, data_lo, data_hi)
    if _degenerate(lo_, hi_):
        out = (arr > np.float32(lo_)).astype(np.float32)  # a step; all zeros when constant
    else:
        out = np.subtract(arr, np.float32(lo_))  # HxW float32
        with np.errstate(over="ignore", invalid="ignore"):
            np.multiply(out, np.float32(1.0 / (hi_ - lo_)), out=out)
        # fmax/fmin also send any NaN from float32 overflow to the low end
        np.fmax(out, np.float32(0.0), out=out)
        np.fmin(out, np.float32(1.0), out=out)
    if invert:
        np.subtract(np.float32(1.0), out, out=out)
    return out


def to_uint8(
    depth: np.ndarray, lo: float | None = None, hi: float | None = None, invert: bool = False
) -> np.ndarray:
    """Quantise a map to 8 bits: ``round(normalize(depth, lo, hi, invert) * 255)``.

    Also the colormap index used by :func:`core.colormaps.colorize`. One saturating
    OpenCV pass when float32 precision allows (the usual case), so it is cheap on
    12-megapixel maps.

    Args:
        depth: HxW map.
        lo: value mapped to 0; defaults to the finite minimum.
        hi: value mapped to 255; defaults to the finite maximum.
        invert: map lo to 255 and hi to 0.

    Returns:
        HxW uint8; near (large inverse depth) is bright unless ``invert``.

    Example:
        >>> to_uint8(np.array([[0.0, 2.0], [4.0, 8.0]], np.float32))
        array([[  0,  64],
               [128, 255]], dtype=uint8)
    """
    arr, data_lo, data_hi = _sanitized(_as_float32(depth))
    lo_, hi_ = _window(lo, hi, data_lo, data_hi)
    return _quantize(arr, lo_, hi_, data_lo, data_hi, 255, cv2.CV_8U, invert)


def to_uint16(
    depth: np.ndarray, lo: float | None = None, hi: float | None = None, invert: bool = False
) -> np.ndarray:
    """Quantise a map to 16 bits: ``round(normalize(depth, lo, hi, invert) * 65535)``.

    The format of the 16-bit PNG export: near (large inverse depth) = 65535 = bright.

    Args:
        depth: HxW map.
        lo: value mapped to 0; defaults to the finite minimum.
        hi: value mapped to 65535; defaults to the finite maximum.
        invert: map lo to 65535 and hi to 0.

    Returns:
        HxW uint16.

    Example:
        >>> to_uint16(np.array([[0.0, 2.0], [4.0, 8.0]], np.float32))
        array([[    0, 16384],
               [32768, 65535]], dtype=uint16)
    """
    arr, data_lo, data_hi = _sanitized(_as_float32(depth))
    lo_, hi_ = _window(lo, hi, data_lo, data_hi)
    return _quantize(arr, lo_, hi_, data_lo, data_hi, 65535, cv2.CV_16U, invert)


def inverse_to_depth(
    inv_depth: np.ndarray, scale: float = 1.0, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Turn relative inverse depth into depth: ``1 / (scale * inv_depth + shift)``.

    The result is in the units implied by scale and shift: metres only if they come from
    a calibration, otherwise arbitrary. Where the denominator is not a positive finite
    number (or the depth overflows float32) the pixel is invalid: its depth is 0 and
    its mask entry False. The output never contains NaN or inf.

    Args:
        inv_depth: array of any shape, float or integer.
        scale: positive finite scale applied to inverse depth.
        shift: finite shift added after scaling.

    Returns:
        (depth, valid): float32 depth and bool mask, both shaped like ``inv_depth``.

    Example:
        >>> d, ok = inverse_to_depth(np.array([0.5, 0.0, -1.0], np.float32))
        >>> d, ok
        (array([2., 0., 0.], dtype=float32), array([ True, False, False]))
    """
    if not isinstance(inv_depth, np.ndarray):
        raise TypeError(f"inv_depth must be a numpy.ndarray, got {type(inv_depth).__name__}")
    if inv_depth.dtype.kind not in "fiu":
        raise TypeError(f"inv_depth must have a float or integer dtype, got {inv_depth.dtype}")
    scale_ = _check_bound(scale, "scale")
    shift_ = _check_bound(shift, "shift")
    if scale_ is None or not scale_ > 0.0:
        raise ValueError(f"scale must be a positive finite number, got {scale}")
    if shift_ is None:
        raise ValueError("shift must be a finite number, got None")
    inv = np.asarray(inv_depth, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        den = inv * np.float32(scale_) + np.float32(shift_)  # float32
        valid = np.isfinite(den) & (den > 0.0)
        depth = np.divide(np.float32(1.0), den, out=np.zeros_like(den), where=valid)
    valid &= np.isfinite(depth)
    depth[~valid] = 0.0
    return depth, valid
