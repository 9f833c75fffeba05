"""Stereo views from one photo and its depth, by depth-image-based rendering (DIBR).

Each pixel is moved sideways by a disparity proportional to its relative inverse depth
(MiDaS's output is already inverse depth, so no division is needed), nearer pixels drawn
over farther ones (a z-buffer), and the holes this opens behind foreground edges are filled
from their background side.

The two controls, as in stereo photography:

- **strength**: the disparity between the nearest and the farthest pixel, as a percentage
  of the image width (3 % is comfortable on a screen; the Dubois anaglyph tolerates about 5 %);
- **convergence**: which depth sits at the screen, as a fraction of the map's range from
  0 (the farthest pixel: everything comes out of the screen) to 1 (the nearest pixel:
  everything lies behind it). That depth has zero disparity.

So the disparity of a pixel, in pixels, is ``strength_px * (n - convergence)`` with
``n = normalize(depth)`` in [0, 1] (1 = nearest), and ``x_left - x_right`` equals it: a
positive disparity is in front of the screen (crossed). The left view moves each pixel by
``+disparity / 2``, the right view by ``-disparity / 2``; :func:`render_view` takes any
other fraction (and a vertical one), which is how :mod:`core.video.photo3d` moves a
virtual camera.

The rendering needs no intrinsics: MiDaS's depth is relative, so the strength is a choice.
What the strength *means* does need them. Two pinhole cameras ``B`` metres apart with a
focal length of ``f`` pixels (:func:`core.geometry.camera.focal_px_from_fov` of the shared
field of view, :mod:`core.geometry.intrinsics`) see a point at depth ``Z`` with a disparity of
``f * B * (1 / Z - 1 / Z_c)`` pixels, ``Z_c`` the depth at the screen. That is linear in
inverse depth, as the rendering is, so a strength is one baseline exactly:
``B = strength_px / (f * (1 / Z_near - 1 / Z_far))``, with ``Z_near`` and ``Z_far`` the depths
of the values :func:`disparity_map` counts as the nearest and the farthest
(:func:`depth_range`). Those depths are in metres only after a calibration
(:class:`core.measure.calibration.Calibration`: ``1 / Z = scale * d + shift``);
:func:`baseline_m` and :func:`strength_for_baseline` convert between the two.

Example:
    >>> rgb = np.zeros((4, 20, 3), np.uint8); rgb[:, 10] = 255
    >>> depth = np.ones((4, 20), np.float32); depth[:, 10] = 2.0  # a near column
    >>> pair = stereo_pair(rgb, depth, strength_pct=10.0)  # 2 px between near and far
    >>> int(np.argmax(pair.left.image[0, :, 0])), int(np.argmax(pair.right.image[0, :, 0]))
    (11, 9)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from core.checks import check_int, check_real
from core.maps.normalize import normalize, sanitize

__all__ = [
    "FILLS",
    "LAYOUTS",
    "MAX_STRENGTH_PCT",
    "Disparity",
    "StereoPair",
    "View",
    "anaglyph",
    "baseline_m",
    "check_settings",
    "compose",
    "depth_range",
    "disparity_map",
    "render_view",
    "stereo_pair",
    "strength_for_baseline",
]

#: Stereo layouts of :func:`compose`: side by side for parallel viewing (left image on the
#: left), side by side for cross-eyed viewing (right image on the left), top-bottom (left on
#: top) and a red-cyan anaglyph.
LAYOUTS = ("sbs", "cross", "tb", "anaglyph")

#: Hole filling: "background" repeats the nearest pixel on the hole's farther side along the
#: camera's motion (disocclusions show background, so the foreground never smears into
#: them); "telea" is OpenCV's inpainting (``cv2.INPAINT_TELEA``), which blends both sides.
FILLS = ("background", "telea")

#: Largest strength accepted, % of the width; beyond about 10 % eyes cannot fuse the views.
MAX_STRENGTH_PCT = 20.0

_NEAR_LEVELS = (1 << 31) - 1  # nearness quantised to 31 bits, above a 32-bit source index
_INDEX_MASK = np.int64(0xFFFFFFFF)
_EMPTY = -(1 << 32)  # below every key; its low 32 bits read pixel 0, its high ones nearness -1
_MAX_PIXELS = 1 << 32  # the source index must fit its 32 bits

# Dubois (2009), least-squares red-cyan projection; rows give the anaglyph's R, G, B from a
# view's linear R, G, B. E. Dubois, "Conversion of a stereo pair to anaglyph with the
# least-squares projection method", University of Ottawa, 2009.
_DUBOIS_LEFT = np.array(
    [[0.437, 0.449, 0.164], [-0.062, -0.062, -0.024], [-0.048, -0.050, -0.017]], np.float32
)
_DUBOIS_RIGHT = np.array(
    [[-0.011, -0.032, -0.007], [0.377, 0.761, 0.009], [-0.026, -0.093, 1.234]], np.float32
)


def _srgb_to_linear_lut() -> np.ndarray:
    c = np.arange(256, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _linear_to_srgb_lut(levels: int = 65536) -> np.ndarray:
    v = np.arange(levels, dtype=np.float64) / (levels - 1)
    s = np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.rint(np.clip(s, 0.0, 1.0) * 255.0).astype(np.uint8)


_TO_LINEAR = _srgb_to_linear_lut().reshape(256, 1)  # 256 float32, a table for cv2.LUT
_TO_SRGB = _linear_to_srgb_lut()  # 65536 uint8, indexed by round(linear * 65535)


@dataclass(frozen=True, eq=False)
class Disparity:
    """The disparity of every pixel between the left and the right view.

    Attributes:
        pixels: HxW float32, ``x_left - x_right`` in pixels; > 0 in front of the screen,
            0 at the convergence plane, < 0 behind it.
        nearness: HxW float32 in [0, 1], the normalised inverse depth (1 = nearest); it
            decides which pixel is drawn when two land on the same place.
        strength_px: the disparity between the nearest and the farthest pixel.
        convergence: the nearness at the screen (zero disparity).
        note: why the views show no depth (a constant map), else None.
    """

    pixels: np.ndarray
    nearness: np.ndarray
    strength_px: float
    convergence: float
    note: str | None = None

    @cached_property
    def _keys(self) -> np.ndarray:
        """HxW int64 z-buffer keys: quantised nearness above the pixel's flat index (shared by every view)."""
        height, width = self.nearness.shape
        near = np.rint(self.nearness.astype(np.float64) * _NEAR_LEVELS).astype(np.int64)  # HxW
        return (near << 32) | np.arange(height * width, dtype=np.int64).reshape(height, width)


@dataclass(frozen=True, eq=False)
class View:
    """One rendered view.

    Attributes:
        image: HxWx3 uint8, every pixel filled.
        holes: HxW bool, the pixels no source pixel landed on (filled in ``image``).
    """

    image: np.ndarray
    holes: np.ndarray


@dataclass(frozen=True, eq=False)
class StereoPair:
    """A left and a right view and the disparity between them."""

    left: View
    right: View
    disparity: Disparity


def _check_rgb(rgb: object, name: str = "rgb") -> np.ndarray:
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f"{name} must be an HxWx3 uint8 numpy array, got {type(rgb).__name__}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"{name} must be an HxWx3 uint8 RGB array, got {rgb.dtype} shape {rgb.shape}")
    if rgb.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {rgb.shape}")
    if rgb.shape[0] * rgb.shape[1] >= _MAX_PIXELS:
        raise ValueError(f"{name} has {rgb.shape[0] * rgb.shape[1]:,} pixels; downscale it below 4.29 billion")
    return rgb


def check_settings(strength_pct: float, convergence: float) -> tuple[float, float]:
    """The strength, % of the width in (0, ``MAX_STRENGTH_PCT``], and the convergence, 0-1, checked.

    Raises:
        TypeError: a setting is not a real number.
        ValueError: a setting is out of range (the message says the range).
    """
    strength_pct = check_real(strength_pct, "strength_pct", low=0.0, high=MAX_STRENGTH_PCT,
                              hint=": the disparity range as % of the width, e.g. 3")
    if strength_pct == 0.0:
        raise ValueError("strength_pct must be > 0: with 0 the two views are the photo itself")
    convergence = check_real(convergence, "convergence", low=0.0, high=1.0,
                             hint=": 0 puts the farthest depth at the screen, 1 the nearest")
    return strength_pct, convergence


def _check_map(depth: object) -> np.ndarray:
    if not isinstance(depth, np.ndarray):
        raise TypeError(f"depth must be an HxW numpy array, got {type(depth).__name__}")
    if depth.ndim != 2 or depth.dtype.kind not in "fiu" or depth.dtype == bool:
        raise ValueError(f"depth must be a real HxW map, got {depth.dtype} shape {depth.shape}")
    if depth.size == 0:
        raise ValueError(f"depth must not be empty, got shape {depth.shape}")
    return depth


def depth_range(depth: np.ndarray) -> tuple[float, float]:
    """The values :func:`disparity_map` counts as the farthest and the nearest by default.

    The map's minimum and maximum after :func:`core.maps.normalize.sanitize` (NaN and -inf
    count as the farthest value, +inf as the nearest), so a baseline computed from them
    (:func:`baseline_m`) describes the views as they are rendered.

    Args:
        depth: HxW relative inverse depth (larger = nearer).

    Returns:
        ``(lo, hi)``: the farthest and the nearest value; equal for a constant map.

    Example:
        >>> depth_range(np.array([[1.0, np.nan], [3.0, 2.0]]))
        (1.0, 3.0)
    """
    clean = sanitize(_check_map(depth))  # HxW float32, finite
    return float(clean.min()), float(clean.max())


def _check_inverse_range(width: int, focal_px: float, inv_depth_near: float, inv_depth_far: float) -> float:
    """Check the camera and the metric inverse depths; returns ``f * (1/Z_near - 1/Z_far)``, px per metre."""
    check_int(width, "width", low=1, hint=": the image width in pixels")
    focal_px = check_real(focal_px, "focal_px", hint=": the focal length in pixels, e.g. focal_px_from_fov(width, 60)")
    if focal_px <= 0.0:
        raise ValueError(f"focal_px must be > 0, got {focal_px}: the focal length in pixels, "
                         "e.g. focal_px_from_fov(width, 60)")
    near = check_real(inv_depth_near, "inv_depth_near", hint=": 1 / depth in 1/m of the nearest pixel")
    far = check_real(inv_depth_far, "inv_depth_far", hint=": 1 / depth in 1/m of the farthest pixel")
    if near <= 0.0:
        raise ValueError(f"inv_depth_near must be > 0 (1/m), got {near}: the calibration puts even the nearest "
                         "pixel at or beyond infinity; check its distances")
    if not near > far:
        raise ValueError(f"inv_depth_near ({near}) must be larger than inv_depth_far ({far}): the nearest pixel "
                         "has to be nearer than the farthest; a constant map has no depth range, so no baseline")
    return focal_px * (near - far)


def baseline_m(strength_pct: float, width: int, focal_px: float, inv_depth_near: float, inv_depth_far: float) -> float:
    """The camera baseline, in metres, that gives this strength: ``strength_px / (f * (1/Z_near - 1/Z_far))``.

    From the disparity of two pinhole cameras ``B`` apart, ``f * B * (1/Z - 1/Z_c)`` pixels:
    the strength is the disparity between the nearest and the farthest pixel.

    Args:
        strength_pct: the disparity between the nearest and the farthest pixel, % of the
            width, in (0, ``MAX_STRENGTH_PCT``].
        width: the image width in pixels (the one ``focal_px`` is of).
        focal_px: the focal length in pixels, > 0.
        inv_depth_near: ``1 / Z`` in 1/m of the nearest value (:func:`depth_range`'s ``hi``
            through the calibration), > 0.
        inv_depth_far: ``1 / Z`` in 1/m of the farthest value (``lo``), below ``inv_depth_near``;
            0 or less where the calibration puts it at or beyond infinity.

    Returns:
        The distance between the two cameras, in metres.

    Raises:
        TypeError: an argument is not a number (``width`` not an int).
        ValueError: an argument out of range, or a nearest pixel that is not nearer than the
            farthest (a constant map), with what to pass instead.

    Example:
        >>> round(baseline_m(3.0, 600, 500.0, 1 / 0.5, 1 / 4.0), 6)  # 18 px, 0.5 m and 4 m away
        0.020571
    """
    strength_pct, _ = check_settings(strength_pct, 0.0)
    px_per_m = _check_inverse_range(width, focal_px, inv_depth_near, inv_depth_far)
    return strength_pct / 100.0 * width / px_per_m


def strength_for_baseline(
    baseline_m: float,
    width: int,
    focal_px: float,
    inv_depth_near: float,
    inv_depth_far: float,
    *,
    min_pct: float = 0.0,
    max_pct: float = MAX_STRENGTH_PCT,
) -> float:
    """The strength, % of the width, of two cameras ``baseline_m`` apart: the inverse of :func:`baseline_m`.

    Args:
        baseline_m: the distance between the two cameras in metres, > 0 (6.3 cm: human eyes).
        width: the image width in pixels.
        focal_px: the focal length in pixels, > 0.
        inv_depth_near: ``1 / Z`` in 1/m of the nearest value, as for :func:`baseline_m`.
        inv_depth_far: ``1 / Z`` in 1/m of the farthest value.
        min_pct: the smallest strength the caller accepts (e.g. a slider's minimum), >= 0.
        max_pct: the largest, at most ``MAX_STRENGTH_PCT`` (what :func:`check_settings` allows).

    Returns:
        The strength in % of the width, in ``[min_pct, max_pct]``.

    Raises:
        TypeError: an argument is not a number.
        ValueError: an argument out of range, or a baseline whose strength falls outside
            ``[min_pct, max_pct]``; the message gives the baselines that fit.

    Example:
        >>> round(strength_for_baseline(0.020571, 600, 500.0, 1 / 0.5, 1 / 4.0), 3)
        3.0
    """
    baseline = check_real(baseline_m, "baseline_m", hint=": the distance between the cameras in metres, e.g. 0.063")
    if baseline <= 0.0:
        raise ValueError(f"baseline_m must be > 0, got {baseline}: the distance between the cameras in metres, "
                         "e.g. 0.063 (human eyes)")
    max_pct = check_real(max_pct, "max_pct", low=0.0, high=MAX_STRENGTH_PCT)
    min_pct = check_real(min_pct, "min_pct", low=0.0, high=max_pct)
    px_per_m = _check_inverse_range(width, focal_px, inv_depth_near, inv_depth_far)
    pct = baseline * px_per_m / width * 100.0

    def cm(pct_: float) -> str:
        return f"{pct_ / 100.0 * width / px_per_m * 100.0:.3g} cm"

    if pct > max_pct:
        raise ValueError(f"a baseline of {baseline * 100:.3g} cm needs a strength of {pct:.3g} % of the width, more "
                         f"than the {max_pct:g} % allowed (beyond about 10 % eyes cannot fuse the views): choose a "
                         f"baseline of at most {cm(max_pct)}")
    if pct < min_pct:
        raise ValueError(f"a baseline of {baseline * 100:.3g} cm needs a strength of {pct:.3g} % of the width, less "
                         f"than the {min_pct:g} % allowed: choose a baseline of at least {cm(min_pct)}")
    return pct


def disparity_map(
    depth: np.ndarray,
    strength_pct: float = 3.0,
    convergence: float = 0.0,
    *,
    lo: float | None = None,
    hi: float | None = None,
) -> Disparity:
    """Per-pixel disparity, in pixels, from a relative inverse depth map.

    Args:
        depth: HxW relative inverse depth (larger = nearer); NaN and inf are treated as in
            :func:`core.maps.normalize.sanitize`.
        strength_pct: disparity between the nearest and the farthest pixel, as % of the
            width, in (0, ``MAX_STRENGTH_PCT``].
        convergence: the depth at the screen, from 0 (the farthest) to 1 (the nearest).
        lo: value counted as the farthest (default: the map's minimum, :func:`depth_range`);
            values below clip.
        hi: value counted as the nearest (default: the map's maximum); values above clip.

    Returns:
        The :class:`Disparity`. A constant map gives zero disparity everywhere and a note.

    Raises:
        TypeError: ``depth`` is not a real numpy array, or a setting is not a number.
        ValueError: ``depth`` is not a non-empty HxW map, or a setting is out of range.

    Example:
        >>> d = disparity_map(np.array([[0.0, 1.0, 2.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]), 20.0)  # 2 px
        >>> d.pixels[0, :4].tolist()
        [0.0, 0.5, 1.0, 2.0]
    """
    _check_map(depth)
    strength_pct, convergence = check_settings(strength_pct, convergence)
    strength_px = strength_pct / 100.0 * depth.shape[1]
    clean = sanitize(depth)  # HxW float32, finite
    lo_ = float(clean.min()) if lo is None else check_real(lo, "lo")  # the range of depth_range
    hi_ = float(clean.max()) if hi is None else check_real(hi, "hi")
    if not hi_ > lo_:
        zeros = np.zeros(depth.shape, np.float32)
        return Disparity(zeros, zeros, strength_px, convergence,
                         note="The depth map is constant: there is no depth to show, so both views are the photo.")
    nearness = normalize(clean, lo_, hi_)  # HxW float32 in [0, 1]
    pixels = (nearness - np.float32(convergence)) * np.float32(strength_px)  # HxW px
    return Disparity(pixels, nearness, strength_px, convergence)


def render_view(
    rgb: np.ndarray, disparity: Disparity, shift: tuple[float, float] = (0.5, 0.0), *, fill: str = "background"
) -> View:
    """Forward-warp the photo: each pixel moves by ``shift * disparity``, nearer pixels on top.

    A pixel at (x, y) lands at ``(round(x + sx * d), round(y + sy * d))`` with halves
    rounded up; where several land on one place the nearest is kept (a z-buffer over the
    quantised nearness); what nothing lands on is a hole, filled as ``fill`` says.

    Args:
        rgb: HxWx3 uint8 photo.
        disparity: from :func:`disparity_map` of the photo's depth (same HxW).
        shift: (sx, sy), the fraction of the disparity each pixel moves right and down;
            (0.5, 0) is the left view, (-0.5, 0) the right view.
        fill: one of :data:`FILLS`.

    Returns:
        The :class:`View`: the image and its holes before filling.

    Raises:
        TypeError, ValueError: bad ``rgb``, a disparity of another size, a bad shift or fill.
    """
    rgb = _check_rgb(rgb)
    if not isinstance(disparity, Disparity):
        raise TypeError(f"disparity must be a Disparity (from disparity_map), got {type(disparity).__name__}")
    if disparity.pixels.shape != rgb.shape[:2]:
        raise ValueError(f"disparity is {disparity.pixels.shape} but rgb is {rgb.shape[:2]}: use the photo's own depth")
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
    if not isinstance(shift, (tuple, list)) or len(shift) != 2:
        raise ValueError(f"shift must be a pair (sx, sy), got {shift!r}")
    sx = check_real(shift[0], "shift[0]", low=-4.0, high=4.0)
    sy = check_real(shift[1], "shift[1]", low=-4.0, high=4.0)
    height, width = rgb.shape[:2]
    if disparity.note is not None or (sx == 0.0 and sy == 0.0):
        return View(rgb.copy(), np.zeros((height, width), bool))

    winner = _zbuffer(disparity, sx, sy)  # HxW int64: nearness << 32 | source index; < 0 = hole
    holes = winner < 0
    image = _gather(rgb, winner & _INDEX_MASK)  # holes read pixel 0 until filled below
    if holes.any():
        if fill == "telea":
            image = cv2.inpaint(image, holes.astype(np.uint8), 3, cv2.INPAINT_TELEA)
        else:
            near = winner >> 32  # HxW int64, the nearness that landed; -1 in holes
            _fill_from_background(image, near, holes, rgb, vertical_first=abs(sy) > abs(sx))
    return View(image, holes)


def _zbuffer(disparity: Disparity, sx: float, sy: float) -> np.ndarray:
    """For each target pixel, the key of the nearest source pixel landing there (< 0 for none).

    The buffer has a spare row and column on each side: a pixel that lands outside the
    picture is clipped onto them, so no mask is needed, and they are dropped at the end.
    """
    height, width = disparity.pixels.shape
    d = disparity.pixels
    # x + sx * d + 0.5, plus 1 for the spare column; clipped, then truncation is floor
    tx = d * np.float32(sx)  # HxW float32
    tx += np.arange(width, dtype=np.float32) + np.float32(1.5)
    np.clip(tx, 0.0, width + 1.0, out=tx)
    target = tx.astype(np.intp)  # HxW column in the padded buffer
    if sy != 0.0:
        ty = d * np.float32(sy)
        ty += np.arange(height, dtype=np.float32)[:, None] + np.float32(1.5)
        np.clip(ty, 0.0, height + 1.0, out=ty)
        target += ty.astype(np.intp) * (width + 2)
        rows = height + 2
    else:
        target += (np.arange(height, dtype=np.intp) * (width + 2))[:, None]
        rows = height
    buffer = np.full(rows * (width + 2), _EMPTY, np.int64)
    np.maximum.at(buffer, target.ravel(), disparity._keys.ravel())
    buffer = buffer.reshape(rows, width + 2)
    return buffer[1:-1, 1:-1] if sy != 0.0 else buffer[:, 1:-1]


def _gather(rgb: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``rgb`` at the flat pixel indices ``source`` (HxW), as an HxWx3 uint8 image.

    Gathering one uint32 per pixel (RGBA packed) is about 4x faster than 3-byte rows.
    """
    packed = cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA).view(np.uint32).reshape(-1)  # H*W uint32
    picked = np.take(packed, source)  # HxW uint32
    return cv2.cvtColor(picked.view(np.uint8).reshape(*source.shape, 4), cv2.COLOR_RGBA2RGB)


def _fill_from_background(
    image: np.ndarray, near: np.ndarray, holes: np.ndarray, rgb: np.ndarray, *, vertical_first: bool
) -> None:
    """Fill ``holes`` in place from the farther of the two filled pixels that bound each hole's run.

    Along rows first (columns first when the motion is mostly vertical); a run that
    reaches both ends of its line is filled along the other axis; a pixel still empty
    after both (nothing landed on its row nor its column) keeps the photo's own pixel.
    """
    image_flat, near_flat = image.reshape(-1, 3), near.reshape(-1)  # views: C-contiguous HxW(x3)
    remaining = holes
    for along_columns in ((True, False) if vertical_first else (False, True)):
        remaining = _fill_runs(image_flat, near_flat, remaining, along_columns)
        if not remaining.any():
            return
    image[remaining] = rgb[remaining]


def _fill_runs(image_flat: np.ndarray, near_flat: np.ndarray, holes: np.ndarray, along_columns: bool) -> np.ndarray:
    """Fill each run of holes along a row (or column) with the pixel just past its farther end.

    ``image_flat`` (H*Wx3) and ``near_flat`` (H*W) are updated in place, so a later pass
    along the other axis sees these pixels as filled. Returns the HxW mask of the holes left:
    the runs that span a whole line.
    """
    height, width = holes.shape
    lines = np.ascontiguousarray(holes.T) if along_columns else holes  # one line per row of `lines`
    count, length = lines.shape

    def flat(line: np.ndarray, pos: np.ndarray) -> np.ndarray:  # (line, position) -> index into H*W
        return pos * width + line if along_columns else line * width + pos

    padded = np.zeros((count, length + 2), bool)  # a False cell at each end: runs never span two lines
    padded[:, 1:-1] = lines
    marks = padded.ravel()
    edges = np.flatnonzero(marks[1:] != marks[:-1]) + 1  # alternately a run's first cell and one past its last
    starts, ends = edges[0::2], edges[1::2]
    line = starts // (length + 2)
    first = starts - line * (length + 2) - 1  # the run's first position on its line
    stop = ends - line * (length + 2) - 1  # one past its last
    has_before, has_after = first > 0, stop < length
    big = np.iinfo(np.int64).max
    before = flat(line, np.maximum(first - 1, 0))
    after = flat(line, np.minimum(stop, length - 1))
    near_before = np.where(has_before, near_flat[before], big)  # per run
    near_after = np.where(has_after, near_flat[after], big)
    source = np.where(near_before <= near_after, before, after)  # the farther neighbour
    lengths = stop - first
    take = np.repeat(has_before | has_after, lengths)  # per hole, in run order
    cells = np.flatnonzero(lines)  # run order
    pixels = flat(cells // length, cells % length)
    done, source = pixels[take], np.repeat(source, lengths)[take]
    image_flat[done] = image_flat[source]
    near_flat[done] = near_flat[source]
    left = np.zeros(height * width, bool)
    left[pixels[~take]] = True
    return left.reshape(height, width)


def stereo_pair(
    rgb: np.ndarray,
    depth: np.ndarray,
    strength_pct: float = 3.0,
    convergence: float = 0.0,
    *,
    fill: str = "background",
) -> StereoPair:
    """The left and right views of a photo from its relative inverse depth.

    Args:
        rgb: HxWx3 uint8 photo.
        depth: HxW relative inverse depth of the photo (larger = nearer).
        strength_pct: disparity between the nearest and the farthest pixel, % of the width.
        convergence: the depth at the screen, 0 (farthest) to 1 (nearest).
        fill: hole filling, one of :data:`FILLS`.

    Returns:
        The :class:`StereoPair`; ``x_left - x_right`` of a pixel is its
        ``disparity.pixels`` within half a pixel of rounding per view.

    Raises:
        TypeError, ValueError: as :func:`disparity_map` and :func:`render_view`, or an
            ``rgb`` and ``depth`` of different sizes.
    """
    rgb = _check_rgb(rgb)
    if isinstance(depth, np.ndarray) and depth.shape != rgb.shape[:2]:
        raise ValueError(f"depth is {depth.shape} but rgb is {rgb.shape[:2]}: pass the photo's own depth map")
    disparity = disparity_map(depth, strength_pct, convergence)
    return StereoPair(
        render_view(rgb, disparity, (0.5, 0.0), fill=fill),
        render_view(rgb, disparity, (-0.5, 0.0), fill=fill),
        disparity,
    )


def anaglyph(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """A red-cyan anaglyph by Dubois's least-squares matrices, in linear light.

    Both views go from sRGB to linear RGB, each through its 3x3 matrix, are summed, clipped
    to [0, 1] and go back to sRGB. The red channel comes (almost) only from the left view and
    green and blue from the right view; the small negative cross terms only darken, so a
    black right view leaves green and blue at 0, and a black left view leaves red at 0.

    Args:
        left: HxWx3 uint8, seen through the red filter.
        right: HxWx3 uint8, seen through the cyan filter.

    Returns:
        HxWx3 uint8 RGB.

    Example:
        >>> white, black = np.full((1, 1, 3), 255, np.uint8), np.zeros((1, 1, 3), np.uint8)
        >>> anaglyph(white, black).tolist(), anaglyph(black, white).tolist()
        ([[[255, 0, 0]]], [[[0, 255, 255]]])
    """
    left, right = _check_rgb(left, "left"), _check_rgb(right, "right")
    if left.shape != right.shape:
        raise ValueError(f"left and right views must have the same size, got {left.shape} and {right.shape}")
    mixed = cv2.transform(cv2.LUT(left, _TO_LINEAR), _DUBOIS_LEFT)  # HxWx3 float32, linear light
    mixed += cv2.transform(cv2.LUT(right, _TO_LINEAR), _DUBOIS_RIGHT)
    # round(clip(mixed, 0, 1) * 65535) in one saturating pass
    index = cv2.addWeighted(mixed, 65535.0, mixed, 0.0, 0.0, dtype=cv2.CV_16U)  # HxWx3 uint16
    return _TO_SRGB[index]


def compose(left: np.ndarray, right: np.ndarray, layout: str) -> np.ndarray:
    """Lay out a stereo pair as one image.

    Args:
        left: HxWx3 uint8 left view.
        right: HxWx3 uint8 right view.
        layout: one of :data:`LAYOUTS`: "sbs" (left | right, for parallel viewing),
            "cross" (right | left, for cross-eyed viewing), "tb" (left over right) or
            "anaglyph" (:func:`anaglyph`).

    Returns:
        Hx2Wx3, 2HxWx3 or HxWx3 uint8.
    """
    left, right = _check_rgb(left, "left"), _check_rgb(right, "right")
    if left.shape != right.shape:
        raise ValueError(f"left and right views must have the same size, got {left.shape} and {right.shape}")
    if layout == "sbs":
        return np.concatenate([left, right], axis=1)  # H x 2W x 3
    if layout == "cross":
        return np.concatenate([right, left], axis=1)
    if layout == "tb":
        return np.concatenate([left, right], axis=0)  # 2H x W x 3
    if layout == "anaglyph":
        return anaglyph(left, right)
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
