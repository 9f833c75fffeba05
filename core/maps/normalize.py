"""Depth maps as images: sanitising, windowing, normalisation, quantisation, depth.

MiDaS predicts *relative inverse depth*: larger values are nearer, the values have no
unit and are defined only up to an unknown scale and shift. Nothing in this module
assumes metres; :func:`inverse_to_depth` is the one place where a (calibrated or
guessed) scale and shift turn inverse depth into depth.

Everything here is written for 12-megapixel float32 maps: no float64 temporaries of
the full map, and the quantisation behind :func:`to_uint8` / :func:`to_uint16` is a
single saturating OpenCV pass whenever float32 precision allows it.

Non-finite values follow one rule everywhere: functions that must produce a value for
every pixel treat them as :func:`sanitize` does (NaN and -inf become the smallest finite
value, +inf the largest), and the statistics of :mod:`core.maps.stats` ignore them. So
NaN and +-inf never reach an image, a file or a chart.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "inverse_to_depth",
    "normalize",
    "sanitize",
    "to_uint16",
    "to_uint8",
]

_REAL = (int, float, np.integer, np.floating)


# The one-pass quantiser computes x * alpha + gamma in float32. It is used only while
# its rounding error, about max(|lo|, |hi|) * alpha * 2**-24 output levels, stays
# below this many levels; otherwise x - lo is formed first (exact for nearby values).
_ONE_PASS_MAX_ERROR = 1.0 / 64.0
_F32_MAX = float(np.finfo(np.float32).max)


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
        HxW float32 in [0, 1]. A pixel equal to ``lo`` (both as float32) gives exactly 0 and
        one equal to ``hi`` exactly 1, on any data and any CPU; ``invert`` swaps them.

    Example:
        >>> normalize(np.array([[0.0, 2.0], [4.0, 8.0]], np.float32))
        array([[0.  , 0.25],
               [0.5 , 1.  ]], dtype=float32)
    """
    arr, data_lo, data_hi = _sanitized(_as_float32(depth))
    # the window's ends as the float32 values the map's pixels can equal
    lo32, hi32 = np.clip(np.array(_window(lo, hi, data_lo, data_hi)), -_F32_MAX, _F32_MAX).astype(np.float32)
    if _degenerate(float(lo32), float(hi32)):
        out = (arr > lo32).astype(np.float32)  # a step; all zeros when constant
    else:
        with np.errstate(over="ignore"):
            halve = not np.isfinite(hi32 - lo32)  # a window wider than float32 can hold
        if halve:  # halving is exact here: both ends are huge, so no value is lost that matters
            arr, lo32, hi32 = arr * np.float32(0.5), lo32 * np.float32(0.5), hi32 * np.float32(0.5)
        # a true division, not a multiply by a rounded reciprocal: x == hi gives exactly
        # (hi - lo) / (hi - lo) == 1 and x == lo exactly 0, on any data and any CPU
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = np.subtract(arr, lo32)  # HxW float32
            np.divide(out, hi32 - lo32, out=out)
        # fmax/fmin saturate what lies outside the window, and send any NaN to the low end
        np.fmax(out, np.float32(0.0), out=out)
        np.fmin(out, np.float32(1.0), out=out)
    if invert:
        np.subtract(np.float32(1.0), out, out=out)
    return out


def to_uint8(
    depth: np.ndarray, lo: float | None = None, hi: float | None = None, invert: bool = False
) -> np.ndarray:
    """Quantise a map to 8 bits: ``round(normalize(depth, lo, hi, invert) * 255)``.

    Also the colormap index used by :func:`core.maps.colormaps.colorize`. One saturating
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
