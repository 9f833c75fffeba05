"""The usual ways a MiDaS depth picture goes wrong, reproduced on real data.

Each function here either reproduces a common mistake exactly as it is usually written
(so the page can show what it does to the current photo's map) or measures the symptom.
The mistakes are named as such; the rest of ``core`` never makes them:
:func:`core.maps.normalize.normalize` never divides by zero and never returns NaN.

Example:
    >>> flat = np.full((2, 2), 7.0, np.float32)
    >>> bool(np.isnan(naive_minmax(flat)).all())
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import is_real
from core.measure.alignment import fit_scale_shift
from core.maps.colormaps import colormap_lut, luminance_profile

__all__ = [
    "ColorEnds",
    "aligned_difference",
    "color_ends",
    "constant_image",
    "grey_levels",
    "naive_minmax",
    "raw_as_image",
    "saturated_fractions",
    "wrong_maximum",
]


# Difference of the blue and red channels (0-255) above which a colour reads as cold or warm.
_HUE_MARGIN = 40


def _check_map(depth: np.ndarray, name: str = "depth") -> np.ndarray:
    arr = np.asarray(depth)
    if arr.dtype == bool or arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty HxW map, got shape {arr.shape}")
    return arr


def constant_image(height: int, width: int, value: int = 128) -> np.ndarray:
    """A flat grey photo: the input with no depth cue at all.

    Args:
        height: rows, >= 1.
        width: columns, >= 1.
        value: grey level 0-255.

    Returns:
        HxWx3 uint8 filled with ``value``.

    Example:
        >>> constant_image(1, 2, 9).tolist()
        [[[9, 9, 9], [9, 9, 9]]]
    """
    if min(height, width) < 1:
        raise ValueError(f"height and width must be >= 1, got {height}x{width}")
    if not 0 <= value <= 255:
        raise ValueError(f"value must be a grey level in 0-255, got {value}")
    return np.full((int(height), int(width), 3), int(value), dtype=np.uint8)


def naive_minmax(depth: np.ndarray) -> np.ndarray:
    """The textbook ``(d - d.min()) / (d.max() - d.min())``, mistakes included.

    On a constant map this is 0 / 0: every pixel is NaN, which an image library then draws
    as black (or refuses). Shown next to :func:`core.maps.normalize.normalize`, which returns zeros.

    Args:
        depth: HxW map.

    Returns:
        HxW float64, NaN everywhere when the map is constant.
    """
    d = _check_map(depth).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (d - d.min()) / (d.max() - d.min())


def raw_as_image(depth: np.ndarray) -> np.ndarray:
    """Raw relative inverse depth handed to an image function that expects [0, 1].

    Image libraries clip float images to [0, 1]; MiDaS values are mostly far above 1, so
    the picture comes out (almost) all white.

    Args:
        depth: HxW relative inverse depth.

    Returns:
        HxW float32, ``clip(depth, 0, 1)``: what the screen shows.
    """
    return np.clip(_check_map(depth).astype(np.float32), 0.0, 1.0)


def wrong_maximum(depth: np.ndarray, assumed_max: float = 65535.0) -> np.ndarray:
    """Normalising by a maximum the values never reach, e.g. a 16-bit range.

    Dividing by 65535 "to get [0, 1]" leaves MiDaS values (hundreds or thousands) near 0,
    so the picture comes out (almost) all black.

    Args:
        depth: HxW relative inverse depth.
        assumed_max: the wrong maximum, > 0.

    Returns:
        HxW float32, ``clip(depth / assumed_max, 0, 1)``.
    """
    if not (is_real(assumed_max) and assumed_max > 0):
        raise ValueError(f"assumed_max must be a positive number, got {assumed_max}")
    return np.clip(_check_map(depth).astype(np.float32) / np.float32(assumed_max), 0.0, 1.0)


def saturated_fractions(image01: np.ndarray) -> tuple[float, float, float]:
    """How much of a [0, 1] picture is black, white or NaN, as an 8-bit screen shows it.

    Args:
        image01: HxW float map in [0, 1] (NaN allowed).

    Returns:
        ``(black, white, nan)`` fractions of the pixels: values that round to 8-bit code 0,
        codes 255, and NaN.

    Example:
        >>> saturated_fractions(np.array([[0.0, 1.0], [0.5, np.nan]]))
        (0.25, 0.25, 0.25)
    """
    arr = _check_map(image01, "image01").astype(np.float64)
    nan = np.isnan(arr)
    codes = np.rint(np.clip(np.where(nan, 0.5, arr), 0.0, 1.0) * 255.0)
    n = arr.size
    return (
        float(np.count_nonzero((codes == 0) & ~nan) / n),
        float(np.count_nonzero((codes == 255) & ~nan) / n),
        float(np.count_nonzero(nan) / n),
    )


def grey_levels(image01: np.ndarray) -> tuple[int, int, int]:
    """Which of the 256 grey levels of an 8-bit screen a [0, 1] picture actually uses.

    Args:
        image01: HxW float map in [0, 1]; NaN pixels are left out.

    Returns:
        ``(darkest, brightest, distinct)`` 8-bit codes; ``(0, 0, 0)`` if every pixel is NaN.

    Example:
        >>> grey_levels(np.array([[0.0, 0.004], [0.006, np.nan]]))
        (0, 2, 3)
    """
    arr = _check_map(image01, "image01").astype(np.float64)
    values = arr[~np.isnan(arr)]
    if values.size == 0:
        return 0, 0, 0
    codes = np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.int64)
    return int(codes.min()), int(codes.max()), int(np.unique(codes).size)


@dataclass(frozen=True)
class ColorEnds:
    """The colours a rendering gives the nearest and the farthest pixels.

    Attributes:
        near_rgb: colour of the nearest pixel (largest relative inverse depth).
        far_rgb: colour of the farthest pixel.
        near_lightness: CIELAB L* of ``near_rgb`` (0 black - 100 white).
        far_lightness: L* of ``far_rgb``.
    """

    near_rgb: tuple[int, int, int]
    far_rgb: tuple[int, int, int]
    near_lightness: float
    far_lightness: float

    @property
    def near_hue(self) -> str:
        """``"cold"`` (clearly more blue than red), ``"warm"`` (clearly more red) or ``"neutral"``."""
        r, _, b = self.near_rgb
        if b - r > _HUE_MARGIN:
            return "cold"
        return "warm" if r - b > _HUE_MARGIN else "neutral"

    @property
    def near_is_cold(self) -> bool:
        """True when the nearest pixel is drawn in a cold colour."""
        return self.near_hue == "cold"

    @property
    def near_is_dark(self) -> bool:
        """True when the nearest pixel is darker than the farthest one."""
        return self.near_lightness < self.far_lightness


def color_ends(cmap: str, invert: bool = False) -> ColorEnds:
    """Colours of the near and far ends of a map drawn with ``colorize(depth, cmap, invert=...)``.

    Near (large relative inverse depth) is the high end of the colormap unless ``invert``,
    which is what treating the output as depth (larger = farther) amounts to.

    Args:
        cmap: a key of :data:`core.maps.colormaps.COLORMAPS`.
        invert: as in :func:`core.maps.colormaps.colorize`.

    Returns:
        The two colours and their lightness.

    Example:
        >>> colour_ends("jet", invert=True).near_is_cold
        True
    """
    lut, lightness = colormap_lut(cmap), luminance_profile(cmap)
    near, far = (0, 255) if invert else (255, 0)
    return ColorEnds(
        near_rgb=tuple(int(v) for v in lut[near]),  # type: ignore[arg-type]
        far_rgb=tuple(int(v) for v in lut[far]),  # type: ignore[arg-type]
        near_lightness=float(lightness[near]),
        far_lightness=float(lightness[far]),
    )


def aligned_difference(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, float]:
    """Where two predictions of the same photo disagree, after removing scale and shift.

    Predictions at different network sizes differ by an arbitrary scale and shift, so
    ``other`` is first fitted onto ``reference`` by least squares; the difference is then
    expressed as a fraction of the reference's range.

    Args:
        reference: HxW relative inverse depth, e.g. at N = 512.
        other: HxW relative inverse depth of the same photo, e.g. at N = 256.

    Returns:
        ``(diff, mean)``: HxW float32 ``|aligned(other) - reference| / range(reference)`` and
        its mean over the image.

    Raises:
        ValueError: shapes differ.
        core.measure.alignment.AlignmentError: ``other`` is constant.

    Example:
        >>> ref = np.array([[0.0, 1.0], [2.0, 3.0]])
        >>> diff, mean = aligned_difference(ref, 5.0 * ref + 7.0)
        >>> round(mean, 9)
        0.0
    """
    ref = _check_map(reference, "reference").astype(np.float64)
    oth = _check_map(other, "other").astype(np.float64)
    if ref.shape != oth.shape:
        raise ValueError(f"reference has shape {ref.shape} but other has shape {oth.shape}")
    fit = fit_scale_shift(oth, ref)
    span = float(ref.max() - ref.min()) or 1.0
    diff = (np.abs(fit.apply(oth) - ref) / span).astype(np.float32)
    return diff, float(diff.mean(dtype=np.float64))
