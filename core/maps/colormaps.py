"""Colormaps for relative inverse depth: 256-entry lookup tables and fast colorizing.

Convention: near (large inverse depth) is drawn with the *high* end of a map, which is
the bright end of the perceptually uniform maps (inferno, magma, plasma, viridis,
cividis) and white for gray. Colorizing a 12-megapixel map is one quantisation pass to
an 8-bit index (:func:`core.maps.normalize.to_uint8`) and one table lookup.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import matplotlib
import numpy as np

from core.checks import check_int
from core.maps.normalize import to_uint8

__all__ = [
    "COLORMAPS",
    "colorbar",
    "colorize",
    "colormap_lut",
    "is_monotonic_luminance",
    "luminance_profile",
]

#: Colormap name (as matplotlib spells it) -> one-line note for the UI.
COLORMAPS: dict[str, str] = {
    "inferno": "Perceptually uniform, black to yellow; luminance rises steadily. Good default.",
    "magma": "Perceptually uniform, black to pale yellow; like inferno, softer at the top.",
    "plasma": "Perceptually uniform, blue to yellow; never reaches black.",
    "viridis": "Perceptually uniform, purple to yellow; colour-vision-deficiency friendly.",
    "cividis": "Perceptually uniform, blue to yellow; designed for colour-vision deficiency.",
    "gray": "Linear gray ramp, black (far) to white (near); uniform in value, not in lightness.",
    "turbo": "Rainbow with smoother lightness than jet; NOT perceptually uniform.",
    "jet": "Classic rainbow; NOT perceptually uniform: lightness peaks mid-map and invents edges.",
    "Spectral": "Diverging red-yellow-blue; NOT perceptually uniform and dark at both ends.",
}


def _check_name(name: str) -> None:
    if name not in COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}; expected one of {sorted(COLORMAPS)}")


@lru_cache(maxsize=None)
def colormap_lut(name: str) -> np.ndarray:
    """256-entry RGB lookup table of a colormap, from matplotlib's registry.

    Entry 0 is the low (far) end and entry 255 the high (near) end. The array is
    cached and shared, so it is read-only.

    Args:
        name: a key of :data:`COLORMAPS`.

    Returns:
        256x3 uint8 RGB.

    Example:
        >>> colormap_lut("gray")[[0, 255]]
        array([[  0,   0,   0],
               [255, 255, 255]], dtype=uint8)
    """
    _check_name(name)
    cmap = matplotlib.colormaps[name].resampled(256)
    rgba = cmap(np.arange(256))  # 256x4 float64 in [0, 1]
    lut = np.rint(rgba[:, :3] * 255.0).astype(np.uint8)  # -> 256x3 uint8
    lut.flags.writeable = False
    return lut


def colorize(
    depth: np.ndarray,
    cmap: str = "inferno",
    lo: float | None = None,
    hi: float | None = None,
    invert: bool = False,
) -> np.ndarray:
    """Render a depth map as an RGB image, near (large values) at the high end of the map.

    Exactly ``colormap_lut(cmap)[to_uint8(depth, lo, hi, invert)]``: values are clipped
    to [lo, hi], non-finite values are treated as in :func:`core.maps.normalize.sanitize`, and a
    constant map gives a flat image.

    Args:
        depth: HxW map (relative inverse depth).
        cmap: a key of :data:`COLORMAPS`.
        lo: value drawn with the low end; defaults to the finite minimum.
        hi: value drawn with the high end; defaults to the finite maximum.
        invert: draw far with the high (bright) end instead.

    Returns:
        HxWx3 uint8 RGB.

    Example:
        >>> colorize(np.array([[0.0, 1.0]], np.float32), "gray")
        array([[[  0,   0,   0],
                [255, 255, 255]]], dtype=uint8)
    """
    lut = colormap_lut(cmap)
    index = to_uint8(depth, lo, hi, invert=invert)  # HxW float -> HxW uint8
    # a user colormap in applyColorMap is a plain 3-channel lookup, so RGB in gives RGB out
    return cv2.applyColorMap(index, lut.reshape(256, 1, 3))  # -> HxWx3 uint8


def _srgb_to_lstar(rgb: np.ndarray) -> np.ndarray:
    """CIELAB L* (D65) of Nx3 uint8 sRGB colours; L* depends only on luminance Y."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    y = linear @ np.array([0.2126, 0.7152, 0.0722])  # relative luminance, Yn = 1
    delta = 6.0 / 29.0
    f = np.where(y > delta**3, np.cbrt(y), y / (3.0 * delta**2) + 4.0 / 29.0)
    return 116.0 * f - 16.0


def luminance_profile(name: str) -> np.ndarray:
    """Perceived lightness along a colormap.

    Args:
        name: a key of :data:`COLORMAPS`.

    Returns:
        256 float32 CIELAB L* values in [0, 100], one per LUT entry.

    Example:
        >>> luminance_profile("gray")[[0, 255]]
        array([  0., 100.], dtype=float32)
    """
    return _srgb_to_lstar(colormap_lut(name)).astype(np.float32)


def is_monotonic_luminance(name: str, tol: float = 0.1) -> bool:
    """Whether lightness never reverses along a colormap, so it can be read as an order.

    Args:
        name: a key of :data:`COLORMAPS`.
        tol: allowed step against the trend, in L* units. The default absorbs the 8-bit
            rounding of the LUT (viridis has -0.03 steps) and is far below a visible
            difference (about 1 L*).

    Returns:
        True if L* is non-decreasing or non-increasing within ``tol``.

    Example:
        >>> is_monotonic_luminance("inferno"), is_monotonic_luminance("jet")
        (True, False)
    """
    if not tol >= 0.0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    steps = np.diff(luminance_profile(name))
    return bool(np.all(steps >= -tol) or np.all(steps <= tol))


def colorbar(name: str, height: int = 256, width: int = 24, invert: bool = False) -> np.ndarray:
    """Vertical colorbar strip matching :func:`colorize`: near at the top.

    Args:
        name: a key of :data:`COLORMAPS`.
        height: rows, >= 2; the top row is the near end, the bottom row the far end.
        width: columns, >= 1.
        invert: match ``colorize(..., invert=True)``: the top (near) shows the low end.

    Returns:
        height x width x 3 uint8 RGB.

    Example:
        >>> colorbar("gray", height=2, width=1)[:, 0]
        array([[255, 255, 255],
               [  0,   0,   0]], dtype=uint8)
    """
    for value, label in ((height, "height"), (width, "width")):
        check_int(value, label)
    if height < 2 or width < 1:
        raise ValueError(f"colorbar needs height >= 2 and width >= 1, got {height}x{width}")
    lut = colormap_lut(name)
    index = np.floor(np.linspace(255.0, 0.0, height) + 0.5).astype(np.intp)  # top = 255
    if invert:
        index = 255 - index
    column = lut[index]  # height x 3
    return np.ascontiguousarray(np.broadcast_to(column[:, None, :], (height, width, 3)))
