"""Statistics of relative inverse depth maps: histograms, percentiles, mean and spread.

Written for 12-megapixel float32 maps: no sorting (percentiles come from a 4096-bin
histogram) and no float64 temporaries of the full map. Histograms and statistics sweep
the map in cache-sized blocks shared between the threads of :mod:`core.workers`;
:func:`summarize` gets both from one sweep.

Non-finite values are ignored by every statistic and histogram here, and counted in
``DepthStats.nonfinite``; :func:`core.maps.normalize.sanitize` is the rule for functions
that need a value at every pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence, TypeVar, cast

import cv2
import numpy as np

from core import workers
from core.maps.normalize import _as_float32, _check_bound, _degenerate, _finite_range, _window

__all__ = [
    "DepthHistogram",
    "DepthStats",
    "depth_stats",
    "histogram",
    "percentile_of",
    "percentile_values",
    "summarize",
]

#: Bins used for histogram-based percentiles: accurate to 1/4096 of the value range.
PERCENTILE_BINS = 4096

# cv2.calcHist returns float32 counts, exact only up to 2**24 per bin; counts are moved
# into int64 at least every this many pixels.
_CALCHIST_MAX_PIXELS = 1 << 24

# The summaries (histogram, depth_stats, summarize) sweep the map in blocks of this many
# consecutive pixels: each block is read from memory once and stays in the CPU cache
# (512 KB, plus 1 MB of float64 centred values) for the few passes over it. A map of at
# least _PARALLEL_MIN_PIXELS is shared between workers.WORKERS threads of the shared pool
# (OpenCV and NumPy release the GIL); a smaller one stays on the caller.
_BLOCK_PIXELS = 1 << 17
_PARALLEL_MIN_PIXELS = 1 << 19


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


# ---------------------------------------------------------------- the block sweep
#
# histogram, depth_stats and summarize share one sweep of the map. Pass 1 finds each
# block's finite range (and its finite mask, only where something is not finite); pass
# 2 counts every block into the requested histograms with cv2.calcHist and, for
# statistics, takes each block's mean and spread about its own mean. Both passes run on
# contiguous shares of the blocks, one share per worker thread.

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Block:
    """A run of consecutive pixels of a map and the range of its finite values."""

    data: np.ndarray  # 1xL float32 view into the map
    mask: np.ndarray | None  # 1xL uint8, 1 where finite; None when every value is finite
    count: int  # number of finite values
    lo: float  # finite min and max; nan when count == 0
    hi: float


def _scan(data: np.ndarray) -> _Block:
    """The finite range of one 1xL block, with its finite mask if it needs one."""
    lo, hi = float(data.min()), float(data.max())  # nan or +-inf when anything is not finite
    if math.isfinite(lo) and math.isfinite(hi):
        return _Block(data, None, data.size, lo, hi)
    finite = np.isfinite(data)  # 1xL bool
    count = int(np.count_nonzero(finite))
    if count:
        lo = float(np.min(data, where=finite, initial=np.inf))
        hi = float(np.max(data, where=finite, initial=-np.inf))
    else:
        lo = hi = math.nan
    return _Block(data, finite.view(np.uint8), count, lo, hi)


def _on_workers(fn: Callable[[range], _T], n_items: int, n_pixels: int) -> list[_T]:
    """``fn`` over contiguous shares of ``range(n_items)``, the first share on the caller.

    One share per worker for a large map, a single share otherwise; results in order.
    """
    n_shares = max(1, min(workers.WORKERS if n_pixels >= _PARALLEL_MIN_PIXELS else 1, n_items))
    cuts = [n_items * i // n_shares for i in range(n_shares + 1)]
    shares = [range(a, b) for a, b in zip(cuts, cuts[1:])]
    futures = [workers.shared_pool().submit(fn, share) for share in shares[1:]]
    first = fn(shares[0])
    return [first, *(f.result() for f in futures)]


def _blocks(arr: np.ndarray) -> list[_Block]:
    """Pass 1: split a contiguous float32 map into blocks and find their finite ranges."""
    flat = arr.reshape(-1)  # HxW -> H*W, a view
    size = max(1, min(_BLOCK_PIXELS, _CALCHIST_MAX_PIXELS))
    n = -(-flat.size // size)

    def scan(share: range) -> list[_Block]:
        return [_scan(flat[i * size : (i + 1) * size].reshape(1, -1)) for i in share]

    return [b for part in _on_workers(scan, n, flat.size) for b in part]


def _finite_extent(blocks: Sequence[_Block]) -> tuple[float, float, int]:
    """(min, max, count) of the finite values of all blocks; (nan, nan, 0) if none."""
    counted = [b for b in blocks if b.count]
    if not counted:
        return math.nan, math.nan, 0
    return min(b.lo for b in counted), max(b.hi for b in counted), sum(b.count for b in counted)


# A histogram request: (bins, lo, hi) with lo and hi float32 values.
_Window = tuple[int, float, float]
# One block's moments: (count, mean, count * variance).
_Moments = tuple[int, float, float]


def _tally(
    blocks: Sequence[_Block], windows: Sequence[_Window], moments: bool
) -> tuple[list[np.ndarray], list[_Moments]]:
    """Pass 2 over a run of blocks: int64 counts for each window, and each block's moments.

    Counts follow :func:`histogram`: bin ``i`` holds ``edges[i] <= x < edges[i + 1]``,
    the top edge goes to the last bin, and a one-value window counts its value in bin 0.
    """
    counts = [np.zeros(bins, dtype=np.int64) for bins, _, _ in windows]
    pending = [np.zeros((bins, 1), dtype=np.float32) for bins, _, _ in windows]  # calcHist's
    unflushed = 0  # pixels counted into ``pending`` since it was last moved into ``counts``
    width = max((b.data.size for b in blocks), default=0)
    scratch = np.empty((1, width if moments else 0), dtype=np.float64)  # 1xL centred values
    found: list[_Moments] = []

    def flush() -> None:
        for c, p in zip(counts, pending):
            c += np.rint(p.reshape(-1)).astype(np.int64)  # bins x 1 float32 -> bins int64
            p.fill(0.0)

    for b in blocks:
        if not b.count:
            continue
        if unflushed + b.data.size > _CALCHIST_MAX_PIXELS:
            flush()
            unflushed = 0
        unflushed += b.data.size
        for k, (bins, lo, hi) in enumerate(windows):
            if hi > lo and b.hi >= lo and b.lo < hi:
                # calcHist counts lo <= x < hi, binning in float64; it ignores masked pixels
                pending[k] = cv2.calcHist(
                    [b.data], [0], b.mask, [bins], [lo, hi], hist=pending[k], accumulate=True
                )
            if b.lo <= hi <= b.hi:  # the closed top edge, or all of a one-value window
                counts[k][-1 if hi > lo else 0] += np.count_nonzero(b.data == np.float32(hi))
        if moments:
            found.append(_moments(b, scratch))
    flush()
    return counts, found


def _moments(b: _Block, scratch: np.ndarray) -> _Moments:
    """(count, mean, count * variance) of the finite values of a block.

    The values are centred on the block's mean in float64 (exact but for one rounding
    to 53 bits), so the float64 sums of the centred values and of their squares cannot
    cancel, whatever the offset. ``scratch`` is a float64 buffer of at least 1xL.
    """
    finite = None if b.mask is None else b.mask.view(np.bool_)  # 1xL
    if finite is None:
        total = cv2.sumElems(b.data)[0]  # float64 sums (cv2.mean keeps float32 partial sums)
    else:
        total = float(np.sum(b.data, dtype=np.float64, where=finite))
    centre = total / b.count
    d = np.subtract(b.data, centre, out=scratch[:, : b.data.size], dtype=np.float64)  # 1xL
    if finite is not None:
        d[~finite] = 0.0  # leave NaN and +-inf out of the sums
    s1 = cv2.sumElems(d)[0]
    s2 = cv2.norm(d, cv2.NORM_L2SQR)
    return b.count, centre + s1 / b.count, max(s2 - s1 * s1 / b.count, 0.0)


def _sweep(
    blocks: Sequence[_Block], windows: Sequence[_Window], moments: bool, n_pixels: int
) -> tuple[list[np.ndarray], list[_Moments]]:
    """:func:`_tally` over all blocks, on the workers, with the results combined exactly."""

    def tally(share: range) -> tuple[list[np.ndarray], list[_Moments]]:
        return _tally(blocks[share.start : share.stop], windows, moments)

    parts = _on_workers(tally, len(blocks), n_pixels)
    counts = [sum(part[0][k] for part in parts) for k in range(len(windows))]
    return counts, [m for part in parts for m in part[1]]


def _mean_std(found: Sequence[_Moments], lo: float, hi: float) -> tuple[float, float]:
    """Mean and population std of the union of blocks, from each block's moments.

    Two-level two-pass: the grand mean from exactly summed block sums, then the spread
    of the block means about it (Chan et al.'s pairwise update, done all at once).
    """
    n = sum(k for k, _, _ in found)
    mean = math.fsum(k * m for k, m, _ in found) / n
    m2 = math.fsum(s for _, _, s in found) + math.fsum(k * (m - mean) ** 2 for k, m, _ in found)
    return min(max(mean, lo), hi), math.sqrt(m2 / n)  # the mean lies in [lo, hi]


def _check_bins(bins: int) -> None:
    if isinstance(bins, (bool, np.bool_)) or not isinstance(bins, (int, np.integer)):
        raise TypeError(f"bins must be an int, got {type(bins).__name__}")
    if not 1 <= bins <= 65536:
        raise ValueError(f"bins must be in [1, 65536], got {bins}")


def _check_percentiles(percentiles: Sequence[float]) -> list[float]:
    qs = list(percentiles)
    values = np.asarray(qs, dtype=np.float64).reshape(-1)
    if not np.all((values >= 0.0) & (values <= 100.0)):
        raise ValueError(f"percentiles must lie in [0, 100], got {qs}")
    return qs


def _histogram(counts: np.ndarray, lo: float, hi: float) -> DepthHistogram:
    return DepthHistogram(counts=counts, edges=np.linspace(lo, hi, len(counts) + 1))


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
    _check_bins(bins)
    blocks = _blocks(arr)
    data_lo, data_hi, count = _finite_extent(blocks)
    if not count:  # nothing finite: an empty histogram over [0, 0]
        data_lo = data_hi = 0.0
    lo_, hi_ = _window(lo, hi, data_lo, data_hi)
    lo32, hi32 = float(np.float32(lo_)), float(np.float32(hi_))  # compare in the data's precision
    (counts,), _ = _sweep(blocks, [(bins, lo32, hi32)], False, arr.size)
    return _histogram(counts, lo32, hi32)


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
    (max - min) / 4096 of ``np.percentile``. Mean and std are summed in float64 about
    local means, so they match ``np.mean`` / ``np.std`` in float64 to about 1e-15 of
    the std, whatever the offset. For a histogram too, call :func:`summarize`.

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
    stats, _ = _summarize(_as_float32(depth), _check_percentiles(percentiles), None)
    return stats


def summarize(
    depth: np.ndarray,
    percentiles: Sequence[float] = (1, 5, 25, 50, 75, 95, 99),
    bins: int = PERCENTILE_BINS,
) -> tuple[DepthStats, DepthHistogram]:
    """Statistics and a histogram of a depth map in one sweep of it.

    Returns exactly what ``(depth_stats(depth, percentiles), histogram(depth, bins))``
    returns, about 3x faster than those two calls on a 12-megapixel map: the map is
    read from memory twice (a min/max pass, then a pass that counts the histogram and
    sums the moments, block by block, on a few threads), and the histogram doubles as
    the percentiles' one when ``bins`` is :data:`PERCENTILE_BINS`.

    Args:
        depth: HxW map.
        percentiles: percentiles in [0, 100] to report in the statistics.
        bins: number of histogram bins, 1 to 65536, between the finite min and max.

    Returns:
        (stats, histogram), equal to those of :func:`depth_stats` and :func:`histogram`.

    Example:
        >>> stats, hist = summarize(np.array([[0.0, 2.0], [4.0, 8.0]], np.float32), (50,), bins=4)
        >>> stats.mean, hist.counts
        (3.5, array([1, 1, 1, 1]))
    """
    arr = _as_float32(depth)
    qs = _check_percentiles(percentiles)
    _check_bins(bins)
    stats, hist = _summarize(arr, qs, bins)
    return stats, cast(DepthHistogram, hist)  # always there when bins is given


def _summarize(
    arr: np.ndarray, qs: list[float], bins: int | None
) -> tuple[DepthStats, DepthHistogram | None]:
    """:class:`DepthStats` of a float32 map, and its ``bins``-bin histogram unless None."""
    blocks = _blocks(arr)
    lo, hi, count = _finite_extent(blocks)
    nonfinite = arr.size - count
    window = (lo, hi) if count else (0.0, 0.0)  # histogram's range; [0, 0] if nothing finite
    windows: list[_Window] = [] if bins is None else [(bins, *window)]
    constant = not count or _degenerate(lo, hi)
    if qs and not constant and bins != PERCENTILE_BINS:
        windows.append((PERCENTILE_BINS, lo, hi))
    counts, found = _sweep(blocks, windows, not constant, arr.size)
    hist = None if bins is None else _histogram(counts[0], *window)
    if not count:
        return DepthStats(0.0, 0.0, 0.0, 0.0, {q: 0.0 for q in qs}, True, nonfinite), hist
    if constant:
        return DepthStats(lo, hi, lo, 0.0, {q: lo for q in qs}, True, nonfinite), hist
    mean, std = _mean_std(found, lo, hi)
    values = _histogram(counts[-1], lo, hi).percentiles(qs) if qs else []
    return (
        DepthStats(
            min=lo,
            max=hi,
            mean=mean,
            std=std,
            percentiles={q: float(v) for q, v in zip(qs, values)},
            constant=False,
            nonfinite=nonfinite,
        ),
        hist,
    )
