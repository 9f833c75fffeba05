"""What the Depth Explorer computes for one view of a predicted photo, without Streamlit.

A photo is shown at most :data:`~core.maps.display.DISPLAY_MAX_WIDTH` columns wide
(:func:`display_arrays`, once per photo). Each view change (colormap, clipping, invert,
overlay opacity) then needs :func:`build_view`: the clip window read off the histogram,
the display map coloured, the overlay blended, both JPEG-encoded on the shared pool while
the caller builds its charts, and the pixel probe sampled. The page
(``app_pages/explorer.py``) lays these out; ``bench/run.py`` times the same call.

Example:
    >>> from core.maps.stats import histogram
    >>> depth = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    >>> rgb = np.zeros((3, 4, 3), np.uint8)
    >>> view = build_view(depth, depth, rgb, histogram(depth), "inferno", (0.0, 100.0))
    >>> view.heatmap.shape, view.empty_window_share_above, len(view.jpegs.result())
    ((3, 4, 3), None, 2)
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.io.exports import jpeg_bytes_async
from core.maps.colormaps import colorize
from core.maps.display import DISPLAY_MAX_WIDTH, PixelProbe, blend, downscale, pixel_probe
from core.maps.stats import DepthHistogram

if TYPE_CHECKING:  # the predictor pulls in torch; a map's view does not need it
    from core.midas.predictor import Prediction

__all__ = ["HISTOGRAM_BINS", "SUMMARY_PERCENTILES", "ExplorerView", "build_view", "display_arrays"]

#: Percentiles of the full map in the Explorer's statistics; the clip handles read the histogram.
SUMMARY_PERCENTILES: tuple[float, ...] = (1, 5, 25, 50, 75, 95, 99)
#: Bins of the full map's histogram: percentiles and probe percentages to 1/4096 of the range.
HISTOGRAM_BINS = 4096


def display_arrays(rgb: np.ndarray, prediction: Prediction) -> tuple[np.ndarray, np.ndarray]:
    """The photo and its map at most ``DISPLAY_MAX_WIDTH`` columns wide, for the screen.

    The photo is area-averaged; the map is resampled from the raw network output at that
    size (the same bicubic surface as the full-resolution map, without shrinking it).

    Args:
        rgb: HxWx3 uint8 photo.
        prediction: its :class:`core.midas.predictor.Prediction`.

    Returns:
        (hxwx3 uint8 photo, hxw float32 map), h x w fitting ``DISPLAY_MAX_WIDTH``.
    """
    rgb_small = downscale(rgb, DISPLAY_MAX_WIDTH)  # HxWx3 -> hxwx3
    return rgb_small, prediction.depth_at(*rgb_small.shape[:2])  # raw output -> hxw


@dataclass(frozen=True, eq=False)
class ExplorerView:
    """One view of a predicted photo, as the Depth Explorer draws it.

    Attributes:
        lo: value drawn with the far end of the colormap (the far clip percentile).
        hi: value drawn with the near end.
        heatmap: hxwx3 uint8, the display map coloured.
        empty_window_share_above: when the clip window is empty (``hi <= lo``), the share of
            display pixels above ``lo`` (they get the near colour); None otherwise.
        probe: the pixel probe of the full-resolution map.
        jpegs: the heatmap's and the overlay's JPEG bytes, being encoded; ``.result()``.
    """

    lo: float
    hi: float
    heatmap: np.ndarray
    empty_window_share_above: float | None
    probe: PixelProbe
    jpegs: Future[list[bytes]]


def build_view(
    depth: np.ndarray,
    depth_small: np.ndarray,
    rgb_small: np.ndarray,
    hist: DepthHistogram,
    cmap: str,
    clip: tuple[float, float],
    invert: bool = False,
    opacity: float = 0.5,
) -> ExplorerView:
    """Compute one Explorer view; the JPEGs keep encoding after it returns.

    Args:
        depth: HxW full-resolution map (for the probe).
        depth_small: hxw display map (:func:`display_arrays`).
        rgb_small: hxwx3 uint8 display photo, the overlay's background.
        hist: histogram of ``depth``; the clip percentiles are read off it.
        cmap: colormap name.
        clip: (far, near) percentiles in [0, 100].
        invert: draw near with the low end of the colormap.
        opacity: the heatmap's weight in the overlay, in [0, 1].

    Returns:
        The view. Errors of the JPEG encodes surface at ``view.jpegs.result()``.
    """
    lo, hi = (float(v) for v in hist.percentiles(clip))
    heat = colorize(depth_small, cmap, lo, hi, invert)  # hxw float32 -> hxwx3 uint8
    # an empty window is a threshold, not one colour: pixels above it get the near end's colour
    share_above = float(np.mean(depth_small > np.float32(lo))) if hi <= lo else None
    # quality-90 JPEGs, encoded on the shared pool while the caller builds its charts
    jpegs = jpeg_bytes_async([heat, blend(rgb_small, heat, opacity)])
    probe = pixel_probe(depth, hist, lo, hi, invert)
    return ExplorerView(lo=lo, hi=hi, heatmap=heat, empty_window_share_above=share_above, probe=probe, jpegs=jpegs)
