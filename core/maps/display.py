"""Preparing images and depth maps for the screen: downscaling, overlays, probes, crops.

The dashboard keeps full-resolution arrays for downloads and shows these smaller views.
Nothing here changes the data a download contains; every function returns new arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from PIL import Image

from core.checks import as_float64, check_int
from core.maps.colormaps import luminance_profile
from core.maps.normalize import normalize, to_uint8, to_uint16
from core.maps.stats import DepthHistogram

__all__ = [
    "DISPLAY_MAX_WIDTH",
    "BandingCrops",
    "PixelProbe",
    "banding_crops",
    "blend",
    "crop_box",
    "display_window",
    "downscale",
    "fit_width",
    "lightness_strip",
    "palette_indices",
    "percentile_from_histogram",
    "pixel_probe",
    "smoothest_crop",
]

#: Widest image the dashboard sends to the browser; larger photos are shown downscaled.
#: Streamlit's ``st.image`` shrinks anything wider than 1460 px again, on every rerun,
#: and rounds the new height down: a 1-px-tall strip becomes 0 px and the page fails.
#: At 1460 Streamlit never resizes what we send.
DISPLAY_MAX_WIDTH = 1460


def fit_width(height: int, width: int, max_width: int = DISPLAY_MAX_WIDTH) -> tuple[int, int]:
    """The (height, width) of an image shrunk to at most ``max_width`` columns, same aspect.

    Example:
        >>> fit_width(3000, 4000, 1600)
        (1200, 1600)
        >>> fit_width(300, 400, 1600)
        (300, 400)
    """
    height = check_int(height, "height", low=1)
    width = check_int(width, "width", low=1)
    max_width = check_int(max_width, "max_width", low=1)
    if width <= max_width:
        return height, width
    return max(1, round(height * max_width / width)), max_width


def downscale(image: np.ndarray, max_width: int = DISPLAY_MAX_WIDTH) -> np.ndarray:
    """Shrink an image or map to at most ``max_width`` columns by area averaging.

    Args:
        image: HxW or HxWx3 array (uint8 or float32).
        max_width: widest result, in pixels.

    Returns:
        The image itself when it is already narrow enough, else a resized copy.
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(
            f"image must be a non-empty HxW or HxWx3 numpy array, got {getattr(image, 'shape', type(image).__name__)}"
        )
    h, w = fit_width(image.shape[0], image.shape[1], max_width)
    if (h, w) == image.shape[:2]:
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)  # HxW(x3) -> hxw(x3)


def blend(rgb: np.ndarray, overlay: np.ndarray, opacity: float) -> np.ndarray:
    """Alpha-blend ``overlay`` over ``rgb``: ``(1 - opacity) * rgb + opacity * overlay``.

    Args:
        rgb: HxWx3 uint8.
        overlay: HxWx3 uint8 of the same shape, e.g. a colorized depth map.
        opacity: overlay weight in [0, 1].

    Returns:
        HxWx3 uint8.

    Example:
        >>> a, b = np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 200, np.uint8)
        >>> blend(a, b, 0.5)[0, 0].tolist()
        [100, 100, 100]
    """
    for arr, name in ((rgb, "rgb"), (overlay, "overlay")):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"{name} must be an HxWx3 uint8 array, got {getattr(arr, 'shape', type(arr).__name__)}")
    if rgb.shape != overlay.shape:
        raise ValueError(f"rgb and overlay must have the same shape, got {rgb.shape} and {overlay.shape}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    return cv2.addWeighted(rgb, 1.0 - float(opacity), overlay, float(opacity), 0.0)


def percentile_from_histogram(hist: DepthHistogram, values: np.ndarray) -> np.ndarray:
    """Percentage of the counted pixels at or below each value, read off a histogram.

    Within a bin the counts are taken as evenly spread, so the result is within one bin's
    share of pixels of the exact :func:`core.maps.stats.percentile_of`.

    Args:
        hist: histogram of the whole map (e.g. 4096 bins between min and max).
        values: array of any shape, in depth-map units.

    Returns:
        float32 array shaped like ``values``, in [0, 100].

    Example:
        >>> from core.maps.stats import histogram
        >>> h = histogram(np.array([[0.0, 1.0], [2.0, 3.0]], np.float32), bins=4)
        >>> percentile_from_histogram(h, np.array([3.0, -1.0])).tolist()
        [100.0, 0.0]
    """
    total = hist.total
    values = np.asarray(values, dtype=np.float64)
    if total == 0:
        return np.zeros(values.shape, dtype=np.float32)
    cdf = np.concatenate([[0.0], np.cumsum(hist.counts) / total * 100.0])  # at each edge
    return np.interp(values, hist.edges, cdf).astype(np.float32)


@dataclass(frozen=True, eq=False)
class PixelProbe:
    """A grid of exact pixels of a depth map, with what a hover tooltip shows.

    Attributes:
        x: w int column indices in the full-resolution map.
        y: h int row indices in the full-resolution map.
        raw: hxw float32 raw values at those pixels.
        normalized: hxw float32 in [0, 1], as the heatmap colours them (clipping, invert).
        percentile: hxw float32, percentage of the map's pixels at or below each value.
    """

    x: np.ndarray
    y: np.ndarray
    raw: np.ndarray
    normalized: np.ndarray
    percentile: np.ndarray


def pixel_probe(
    depth: np.ndarray,
    hist: DepthHistogram,
    lo: float,
    hi: float,
    invert: bool = False,
    max_width: int = 200,
) -> PixelProbe:
    """Sample an even grid of real pixels (no averaging) for a hover probe.

    Args:
        depth: HxW full-resolution relative inverse depth.
        hist: histogram of ``depth`` for the percentiles.
        lo: value drawn with the low end of the colormap.
        hi: value drawn with the high end.
        invert: as in :func:`core.maps.normalize.normalize`.
        max_width: columns of the grid at most; rows keep the aspect ratio. The Depth Explorer
            draws the probe about 400 CSS px wide whatever the photo's shape, so 200 columns
            make cells of about 2 px, which look like the heatmap; every view change resends
            the grid (12 bytes a cell, base64 in JSON), and 320 columns cost 2.6 times as
            much to build, serialise and send.

    Returns:
        The sampled grid.
    """
    if not isinstance(depth, np.ndarray) or depth.ndim != 2 or depth.size == 0:
        raise ValueError(f"depth must be a non-empty HxW array, got {getattr(depth, 'shape', type(depth).__name__)}")
    height, width = depth.shape
    h, w = fit_width(height, width, max_width)
    rows = np.floor(np.linspace(0.0, height - 1.0, h) + 0.5).astype(np.intp)
    cols = np.floor(np.linspace(0.0, width - 1.0, w) + 0.5).astype(np.intp)
    raw = np.ascontiguousarray(depth[np.ix_(rows, cols)], dtype=np.float32)  # h x w
    return PixelProbe(
        x=cols,
        y=rows,
        raw=raw,
        normalized=normalize(raw, lo, hi, invert),
        percentile=percentile_from_histogram(hist, raw),
    )


def display_window(
    values: np.ndarray,
    percentiles: tuple[float, float] = (1.0, 99.0),
    *,
    from_zero: bool = False,
    min_span: float = 1e-6,
) -> tuple[float, float]:
    """The value window [lo, hi] a view maps onto its colormap: robust percentiles, never empty.

    Exact ``np.percentile`` over the finite values, for the few-megapixel arrays of a report;
    a full-resolution map's window comes from its cached histogram
    (:meth:`core.maps.stats.DepthHistogram.percentiles`) instead.

    Args:
        values: array of any shape, e.g. the measured pixels ``gt_m[valid]``.
        percentiles: (low, high) in [0, 100], low <= high.
        from_zero: start the window at 0 (an error or difference map, where 0 is "no
            error"); only the high percentile is then used.
        min_span: smallest ``hi - lo``: a flat array still gets a usable window.

    Returns:
        ``(lo, hi)`` with ``hi >= lo + min_span``.

    Raises:
        ValueError: bad percentiles, or no finite value at all.

    Example:
        >>> display_window(np.arange(101.0), (1.0, 99.0))
        (1.0, 99.0)
        >>> display_window(np.zeros(4), (0.0, 98.0), from_zero=True)
        (0.0, 1e-06)
    """
    if len(percentiles) != 2 or not 0.0 <= percentiles[0] <= percentiles[1] <= 100.0:
        raise ValueError(f"percentiles must be (low, high) with 0 <= low <= high <= 100, got {percentiles}")
    arr = as_float64(values, "values")
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        raise ValueError("values has no finite value: there is no window to show")
    if from_zero:
        lo, hi = 0.0, float(np.percentile(finite, percentiles[1]))
    else:
        lo, hi = (float(v) for v in np.percentile(finite, list(percentiles)))
    return lo, max(hi, lo + min_span)


def crop_box(
    height: int, width: int, center_x: float, center_y: float, size: int
) -> tuple[int, int, int, int]:
    """A square crop of side ``size`` (shrunk to fit) centred as close as possible to a point.

    Args:
        height: image height.
        width: image width.
        center_x: centre column as a fraction of the width, in [0, 1].
        center_y: centre row as a fraction of the height, in [0, 1].
        size: side in pixels.

    Returns:
        (y0, y1, x0, x1) with 0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width.

    Example:
        >>> crop_box(100, 200, 0.5, 0.5, 20)
        (40, 60, 90, 110)
        >>> crop_box(100, 200, 1.0, 0.0, 20)
        (0, 20, 180, 200)
    """
    height = check_int(height, "height", low=1)
    width = check_int(width, "width", low=1)
    size = min(check_int(size, "size", low=1), height, width)
    for value, name in ((center_x, "center_x"), (center_y, "center_y")):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {value}")
    x0 = int(np.clip(round(center_x * width - size / 2), 0, width - size))
    y0 = int(np.clip(round(center_y * height - size / 2), 0, height - size))
    return y0, y0 + size, x0, x0 + size


def smoothest_crop(
    depth: np.ndarray,
    size: int,
    lo: float | None = None,
    hi: float | None = None,
    steps: tuple[float, float] = (3.0, 24.0),
) -> tuple[int, int, int, int]:
    """A square crop where 8-bit quantisation shows banding best: a smooth, gentle slope.

    Candidates are crops of side ``2 * (size // 2)`` on a grid with half that stride. Those
    whose value range spans ``steps`` 8-bit steps of the window [lo, hi] qualify; among the
    64 with the smallest ranges, the one holding the most distinct 16-bit codes wins (a
    slope that fills the crop, not a flat patch with one busy corner). Without a qualifying
    crop, the narrowest one above the lower bound is returned, else the widest.

    Args:
        depth: HxW finite map.
        size: wanted side in pixels (>= 2); shrunk to fit the map.
        lo: low end of the quantisation window; defaults to the map's finite minimum, as
            the exports (and :func:`banding_crops`) quantise.
        hi: high end of the window; defaults to the finite maximum.
        steps: (min, max) range of a crop, in 8-bit steps of (hi - lo) / 255.

    Returns:
        (y0, y1, x0, x1) as :func:`crop_box` returns.

    Example:
        >>> ramp = np.tile(np.arange(16, dtype=np.float32) ** 2, (16, 1))  # gentler on the left
        >>> smoothest_crop(ramp, 4, 0.0, 225.0, steps=(3.0, 24.0))
        (0, 4, 0, 4)
    """
    if not isinstance(depth, np.ndarray) or depth.ndim != 2 or depth.size == 0:
        raise ValueError(f"depth must be a non-empty HxW array, got {getattr(depth, 'shape', type(depth).__name__)}")
    height, width = depth.shape
    half = max(1, min(check_int(size, "size", low=1), height, width) // 2)
    if lo is None or hi is None:
        finite = depth[np.isfinite(depth)]
        lo = (float(finite.min()) if finite.size else 0.0) if lo is None else lo
        hi = (float(finite.max()) if finite.size else 0.0) if hi is None else hi
    ny, nx = height // half, width // half
    if ny < 2 or nx < 2 or not hi > lo:
        return crop_box(height, width, 0.5, 0.5, 2 * half)
    blocks = depth[: ny * half, : nx * half].reshape(ny, half, nx, half)  # ny x half x nx x half
    bmax, bmin = blocks.max(axis=(1, 3)), blocks.min(axis=(1, 3))  # ny x nx
    wmax = np.maximum.reduce([bmax[:-1, :-1], bmax[1:, :-1], bmax[:-1, 1:], bmax[1:, 1:]])  # 2x2 blocks
    wmin = np.minimum.reduce([bmin[:-1, :-1], bmin[1:, :-1], bmin[:-1, 1:], bmin[1:, 1:]])
    spread = ((wmax - wmin) / ((hi - lo) / 255.0)).astype(np.float64).ravel()  # in 8-bit steps
    spread[~np.isfinite(spread)] = -1.0
    cols = spread.reshape(wmax.shape)[0].size

    def box(flat: int) -> tuple[int, int, int, int]:
        y0, x0 = (flat // cols) * half, (flat % cols) * half
        return y0, y0 + 2 * half, x0, x0 + 2 * half

    qualifying = np.flatnonzero((spread >= steps[0]) & (spread <= steps[1]))
    if qualifying.size:
        narrowest = qualifying[np.argsort(spread[qualifying], kind="stable")[:64]]
        codes = [np.unique(to_uint16(depth[y0:y1, x0:x1], lo, hi)).size for y0, y1, x0, x1 in map(box, narrowest)]
        return box(int(narrowest[int(np.argmax(codes))]))
    above = np.flatnonzero(spread >= steps[0])
    if above.size:
        return box(int(above[np.argmin(spread[above])]))
    return box(int(np.argmax(spread)))


@dataclass(frozen=True, eq=False)
class BandingCrops:
    """The same crop quantised to 8 and to 16 bits, each stretched to [0, 1] for viewing.

    Attributes:
        crop8: hxw float32, the 8-bit codes of the crop stretched to [0, 1].
        crop16: hxw float32, the 16-bit codes stretched to [0, 1].
        levels8: distinct 8-bit codes inside the crop.
        levels16: distinct 16-bit codes inside the crop.
    """

    crop8: np.ndarray
    crop16: np.ndarray
    levels8: int
    levels16: int


def banding_crops(
    depth: np.ndarray, box: tuple[int, int, int, int], lo: float | None = None, hi: float | None = None
) -> BandingCrops:
    """Quantise a whole-map window [lo, hi] to 8 and 16 bits and cut out ``box``.

    An 8-bit export keeps 256 levels for the whole map, so a small, smooth region has only
    a handful: stretched to full contrast, it shows bands that the 16-bit version does not.

    Args:
        depth: HxW map.
        box: (y0, y1, x0, x1), e.g. from :func:`crop_box`.
        lo: value quantised to 0; defaults to the map's finite minimum.
        hi: value quantised to the top code; defaults to the finite maximum.

    Returns:
        The two stretched crops and their numbers of distinct levels.
    """
    if not isinstance(depth, np.ndarray) or depth.ndim != 2:
        raise ValueError(f"depth must be an HxW array, got {getattr(depth, 'shape', type(depth).__name__)}")
    y0, y1, x0, x1 = box
    if not (0 <= y0 < y1 <= depth.shape[0] and 0 <= x0 < x1 <= depth.shape[1]):
        raise ValueError(f"box {box} must lie inside the {depth.shape[0]}x{depth.shape[1]} map")
    if lo is None or hi is None:
        finite = depth[np.isfinite(depth)]
        lo = float(finite.min()) if lo is None and finite.size else (0.0 if lo is None else lo)
        hi = float(finite.max()) if hi is None and finite.size else (0.0 if hi is None else hi)
    crop = depth[y0:y1, x0:x1]
    q8 = to_uint8(crop, lo, hi)  # quantised with the whole map's window, as an export would
    q16 = to_uint16(crop, lo, hi)
    return BandingCrops(
        crop8=normalize(q8.astype(np.float32)),
        crop16=normalize(q16.astype(np.float32)),
        levels8=int(np.unique(q8).size),
        levels16=int(np.unique(q16).size),
    )


def palette_indices(colors: np.ndarray, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Approximate N colours by a palette of at most ``size``, for charts that colour by number.

    A plotly chart validates every colour string it is given, which takes seconds for a
    50k-point cloud; a numeric index into a ``size``-entry colorscale takes milliseconds.
    Median cut keeps the error small for photos and exact when there are few colours.

    Args:
        colors: Nx3 uint8 RGB.
        size: palette entries, 2 to 256.

    Returns:
        (index, palette): N uint8 indices and Kx3 uint8 palette, K <= size, with
        ``palette[index]`` close to ``colors``.

    Example:
        >>> index, palette = palette_indices(np.array([[255, 0, 0], [0, 0, 255], [255, 0, 0]], np.uint8))
        >>> palette[index].tolist()
        [[255, 0, 0], [0, 0, 255], [255, 0, 0]]
    """
    if not isinstance(colors, np.ndarray) or colors.dtype != np.uint8 or colors.ndim != 2 or colors.shape[1] != 3:
        raise ValueError(f"colors must be an Nx3 uint8 array, got {getattr(colors, 'shape', type(colors).__name__)}")
    if not 2 <= size <= 256:
        raise ValueError(f"size must be in [2, 256], got {size}")
    if len(colors) == 0:
        return np.zeros(0, np.uint8), np.zeros((1, 3), np.uint8)
    strip = Image.fromarray(np.ascontiguousarray(colors[None]))  # 1 x N x 3
    quantised = strip.quantize(colors=size, method=Image.Quantize.MEDIANCUT)
    index = np.asarray(quantised, dtype=np.uint8)[0]  # N
    palette = np.asarray(quantised.getpalette()[: 3 * (int(index.max()) + 1)], np.uint8).reshape(-1, 3)
    return index, palette


def lightness_strip(name: str, width: int = 256, height: int = 12) -> np.ndarray:
    """A gray strip whose brightness is the perceived lightness (L*) along a colormap.

    Left is the far (low) end, right the near (high) end. A perceptually ordered map gives
    a steady ramp; a rainbow map gives bright bands in the middle.

    Args:
        name: a key of :data:`core.maps.colormaps.COLORMAPS`.
        width: columns.
        height: rows.

    Returns:
        height x width x 3 uint8 RGB.
    """
    width = check_int(width, "width", low=1)
    height = check_int(height, "height", low=1)
    lstar = luminance_profile(name)  # 256 float32 in [0, 100]
    idx = np.floor(np.linspace(0.0, 255.0, width) + 0.5).astype(np.intp)
    gray = np.rint(lstar[idx] * 2.55).clip(0, 255).astype(np.uint8)  # width
    return np.ascontiguousarray(np.broadcast_to(gray[None, :, None], (height, width, 3)))
