"""Tests for core.maps.view: what the Depth Explorer computes for one view of a prediction."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.io import exports
from core.io.exports import jpeg_bytes
from core.maps.colormaps import colorize
from core.maps.display import DISPLAY_MAX_WIDTH, blend, pixel_probe
from core.maps.stats import histogram
from core.maps.view import build_view, display_arrays


def _photo(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(h * 31 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("shape", [(4, 6), (30, 50)])
@pytest.mark.parametrize("cmap", ["inferno", "viridis", "turbo"])
@pytest.mark.parametrize("invert", [False, True])
def test_build_view_is_the_explorers_heatmap_overlay_and_probe(shape, cmap, invert):
    depth = np.linspace(0.0, 1.0, shape[0] * shape[1], dtype=np.float32).reshape(shape)
    rgb = _photo(*shape)
    hist = histogram(depth, bins=4096)
    clip, opacity = (5.0, 95.0), 0.3

    view = build_view(depth, depth, rgb, hist, cmap, clip, invert, opacity)

    lo, hi = (float(v) for v in hist.percentiles(clip))
    assert (view.lo, view.hi) == (lo, hi) and 0.0 < lo < hi < 1.0
    np.testing.assert_array_equal(view.heatmap, colorize(depth, cmap, lo, hi, invert))
    assert view.empty_window_share_above is None
    expected_probe = pixel_probe(depth, hist, lo, hi, invert)
    np.testing.assert_array_equal(view.probe.normalized, expected_probe.normalized)
    np.testing.assert_array_equal(view.probe.raw, depth)  # a small map is probed pixel by pixel
    heat_jpeg, overlay_jpeg = view.jpegs.result(timeout=30)
    assert heat_jpeg == jpeg_bytes(view.heatmap, 90)
    assert overlay_jpeg == jpeg_bytes(blend(rgb, view.heatmap, opacity), 90)


def test_build_view_reports_what_an_empty_window_draws():
    depth = np.array([[0.0, 0.0, 0.0, 1.0]], np.float32)  # three far pixels, one near
    hist = histogram(depth, bins=4096)

    view = build_view(depth, depth, _photo(1, 4), hist, "inferno", (50.0, 50.0))

    assert view.hi <= view.lo
    assert view.empty_window_share_above == pytest.approx(0.25)  # the one pixel above gets the near colour
    assert len(view.jpegs.result(timeout=30)) == 2


def test_build_view_encodes_on_the_shared_pool(monkeypatch):
    threads: list[str] = []
    real = exports.jpeg_bytes

    def recording(image, quality=90):
        threads.append(threading.current_thread().name)
        return real(image, quality)

    monkeypatch.setattr(exports, "jpeg_bytes", recording)
    depth = np.linspace(0.0, 1.0, 12, dtype=np.float32).reshape(3, 4)
    hist = histogram(depth)
    before = threading.active_count()
    for _ in range(5):
        build_view(depth, depth, _photo(3, 4), hist, "magma", (1.0, 99.0)).jpegs.result(timeout=30)

    assert len(threads) == 10 and all(name.startswith("core.workers") for name in threads)
    assert threading.active_count() <= before  # no thread of its own per call


def test_build_view_names_a_bad_opacity():
    depth = np.linspace(0.0, 1.0, 12, dtype=np.float32).reshape(3, 4)
    with pytest.raises(ValueError, match="opacity"):
        build_view(depth, depth, _photo(3, 4), histogram(depth), "inferno", (1.0, 99.0), opacity=1.5)


class _Prediction:
    """Records the sizes it is asked for, as Prediction.depth_at resamples the raw output."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []

    def depth_at(self, height: int, width: int) -> np.ndarray:
        self.asked.append((height, width))
        return np.zeros((height, width), np.float32)


@pytest.mark.parametrize(("h", "w", "expected"), [(30, 40, (30, 40)), (1000, 2 * DISPLAY_MAX_WIDTH, (500, DISPLAY_MAX_WIDTH))])
def test_display_arrays_fit_the_screen(h, w, expected):
    prediction = _Prediction()
    rgb_small, depth_small = display_arrays(_photo(h, w), prediction)

    assert rgb_small.shape == (*expected, 3) and depth_small.shape == expected
    assert prediction.asked == [expected]  # the map comes from the raw output at display size
