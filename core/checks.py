"""Input checks shared by the maths modules: real arrays and boolean masks."""
from __future__ import annotations

import numpy as np

__all__ = ["as_bool_mask", "as_float64"]


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
