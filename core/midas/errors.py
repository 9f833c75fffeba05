"""What can go wrong in finding, downloading and reading the weights: one error family.

Every failure raises a subclass of :class:`WeightsError` whose message says what to do next;
:mod:`core.midas.config`, :mod:`core.midas.download` and :mod:`core.midas.checkpoint` all raise
these.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "WeightsCorruptError",
    "WeightsDownloadError",
    "WeightsError",
    "WeightsHashError",
    "WeightsMismatchError",
    "WeightsNotFoundError",
    "WeightsUnsafeError",
]


class WeightsError(RuntimeError):
    """Base class for every failure to obtain or read the weights."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """An explicit path or ``MIDAS_WEIGHTS`` names a file that does not exist (or a folder)."""


class WeightsDownloadError(WeightsError):
    """The file could not be downloaded (offline, refused, timed out, HTTP error)."""


class WeightsCorruptError(WeightsError):
    """The file is truncated or is not a torch checkpoint."""


class WeightsHashError(WeightsError):
    """The file's SHA-256 does not start with the expected prefix."""


class WeightsMismatchError(WeightsError):
    """The checkpoint does not hold the expected tensors (names, shapes or dtypes differ)."""


class WeightsUnsafeError(WeightsError):
    """The checkpoint contains code or objects that a weights-only load refuses to run."""


def _existing_file(path: str | os.PathLike[str], what: str, hint: str = "") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"A weights path must be a str or os.PathLike, got {type(path).__name__}.")
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        state = "is a folder, not a file" if resolved.is_dir() else "does not exist"
        raise WeightsNotFoundError(f"{what}, {resolved}, {state}. Check the path. {hint}".rstrip())
    return resolved
