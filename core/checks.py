"""Input checks shared by ``core``: scalars (ints, finite reals), real arrays and boolean masks."""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_bool_mask", "as_float64", "check_int", "check_real", "is_int", "is_real"]


def as_float64(x: np.ndarray, name: str) -> np.ndarray:
    """Check that ``x`` is a real numeric array and return it as float64.

    Raises:
        TypeError: ``x`` is bool, complex, object or another non-real dtype.
    """
    arr = np.asarray(x)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}.")
    return arr.astype(np.float64, copy=False)


def as_bool_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Check that ``mask`` is a bool array of the given shape.

    Raises:
        TypeError: not a bool array.
        ValueError: its shape differs from ``shape``.
    """
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"mask must be a bool array, got dtype {mask.dtype}.")
    if mask.shape != shape:
        raise ValueError(f"mask has shape {mask.shape} but the data has shape {shape}.")
    return mask


def is_int(value: object) -> bool:
    """True for a Python or NumPy integer, False for anything else, bools included.

    Example:
        >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
        (True, True, False, False)
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> bool:
    """True for a finite real number (Python or NumPy int or float), False otherwise, bools included.

    Example:
        >>> is_real(2.5), is_real(np.float32(1)), is_real(float("nan")), is_real(True), is_real("1")
        (True, True, False, False, False)
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        return False
    return bool(np.isfinite(value))


def _range_words(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"in [{low}, {high}]"
    return f">= {low}" if low is not None else f"<= {high}"


def check_int(value: object, name: str, *, low: int | None = None, high: int | None = None, hint: str = "") -> int:
    """Check that ``value`` is an int (not a bool) in [low, high] and return it as ``int``.

    Args:
        value: the argument to check.
        name: its name, for the message.
        low: smallest allowed value, if any.
        high: largest allowed value, if any.
        hint: appended to the message, to say what to pass instead (e.g. ``": pass e.g. 256."``).

    Raises:
        TypeError: not an int, or a bool.
        ValueError: outside [low, high].

    Example:
        >>> check_int(np.int32(4), "size", low=1)
        4
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}{hint}")
    number = int(value)  # type: ignore[call-overload]
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{name} must be {_range_words(low, high)}, got {number}{hint}")
    return number


def check_real(
    value: object, name: str, *, low: float | None = None, high: float | None = None, hint: str = ""
) -> float:
    """Check that ``value`` is a finite real number (not a bool) in [low, high] and return it as ``float``.

    Args:
        value: the argument to check.
        name: its name, for the message.
        low: smallest allowed value, if any.
        high: largest allowed value, if any.
        hint: appended to the message, to say what to pass instead.

    Raises:
        TypeError: not a real number, or a bool.
        ValueError: NaN or infinite, or outside [low, high].

    Example:
        >>> check_real(np.float32(0.5), "alpha", low=0.0, high=1.0)
        0.5
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}{hint}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}{hint}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{name} must be {_range_words(low, high)}, got {number}{hint}")
    return number
