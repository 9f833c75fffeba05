"""Read a MiDaS checkpoint safely and check it holds the tensors the model expects.

:func:`read_checkpoint` reads it with ``weights_only=True``; :func:`unwrap_training_checkpoint`
is the one place a training checkpoint's ``state_dict`` is taken out; :func:`check_state_dict`
compares names, shapes and dtypes with what the model expects. Failures raise the
:class:`~core.midas.errors.WeightsError` family.
"""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from collections.abc import Mapping

import torch

from core.midas.config import _ENV_VAR, MIDAS_SMALL
from core.midas.errors import (
    WeightsCorruptError,
    WeightsMismatchError,
    WeightsUnsafeError,
    _existing_file,
)

__all__ = ["check_state_dict", "read_checkpoint", "unwrap_training_checkpoint"]

_MAX_LISTED = 5  # names shown per category in a mismatch message
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default (zip) format
_PICKLE_PROTO = b"\x80"  # torch's legacy format starts with a pickle PROTO opcode


def unwrap_training_checkpoint(obj: object) -> object:
    """The ``state_dict`` inside a training checkpoint ``{"model": state_dict, "optimizer": ...}``.

    The official MiDaS loader accepts such checkpoints too. Anything else is returned as is,
    for the caller to check.

    Example:
        >>> unwrap_training_checkpoint({"model": {"w": 1}, "optimizer": {}})
        {'w': 1}
        >>> unwrap_training_checkpoint({"w": 1})
        {'w': 1}
    """
    if isinstance(obj, Mapping) and "optimizer" in obj and isinstance(obj.get("model"), Mapping):
        return obj["model"]
    return obj


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` onto the CPU.

    A training checkpoint of the form ``{"model": state_dict, "optimizer": ...}`` (as the official
    MiDaS loader accepts) is unwrapped to its ``state_dict``.

    Args:
        path: The checkpoint file.

    Returns:
        The tensors by name, in file order.

    Raises:
        WeightsNotFoundError: ``path`` does not exist (also a ``FileNotFoundError``).
        WeightsCorruptError: The file is truncated or is not a torch checkpoint.
        WeightsUnsafeError: The file contains code or objects a weights-only load refuses.
        WeightsMismatchError: The file holds something other than a mapping of names to tensors.
    """
    path = _existing_file(path, "The checkpoint")
    with open(path, "rb") as f:
        head = f.read(len(_ZIP_MAGIC))
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_PROTO)):
        raise WeightsCorruptError(
            f"{path} is not a torch checkpoint (it starts with {head!r}; the file is empty, or a "
            "web page or other file was saved in its place). Delete it and download it again."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "GLOBAL" in str(e):  # torch names the refused global, e.g. "GLOBAL posix.system"
            raise WeightsUnsafeError(
                f"{path} contains code or Python objects, not only tensors, so it was refused for "
                "safety and nothing in it was run. Use the official checkpoint: delete this file "
                "and download it again."
            ) from e
        raise WeightsCorruptError(
            f"{path} is damaged or is not a torch checkpoint. Delete it and download it again."
        ) from e
    except (
        RuntimeError,
        EOFError,
        KeyError,
        IndexError,
        ValueError,
        struct.error,
        zipfile.BadZipFile,
    ) as e:
        raise WeightsCorruptError(
            f"{path} is truncated or damaged ({type(e).__name__}); it cannot be read as a torch "
            "checkpoint. Delete it and download it again."
        ) from e

    obj = unwrap_training_checkpoint(obj)
    if not isinstance(obj, Mapping):
        raise WeightsMismatchError(
            f"{path} holds a {type(obj).__name__}, not a state_dict (a mapping of names to "
            "tensors). "
            "Use the official MiDaS v2.1 small checkpoint."
        )
    bad = [
        str(k) for k, v in obj.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))
    ]
    if bad:
        raise WeightsMismatchError(
            f"{path} is not a state_dict: {len(bad)} entries are not name -> tensor pairs "
            f"({_first(bad)}). Use the official MiDaS v2.1 small checkpoint."
        )
    return dict(obj)


def check_state_dict(
    state_dict: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> None:
    """Check that a state_dict has exactly the names, shapes and dtypes of ``expected``.

    Args:
        state_dict: Tensors read from a checkpoint.
        expected: Tensors of the model to load into, e.g. ``model.state_dict()``.

    Raises:
        TypeError: Either argument is not a mapping of names to tensors.
        WeightsMismatchError: Names are missing or unexpected, or shapes or dtypes differ; the
            message lists the first few of each with counts.

    Example:
        >>> check_state_dict({"w": torch.zeros(2)}, {"w": torch.empty(2)})
        >>> check_state_dict({"w": torch.zeros(3)}, {"w": torch.empty(2)})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        core.midas.errors.WeightsMismatchError: ... 1 with the wrong shape (w: [3] instead of [2])...
    """
    for label, mapping in (("state_dict", state_dict), ("expected", expected)):
        if not isinstance(mapping, Mapping):
            raise TypeError(
                f"{label} must be a mapping of names to tensors, got {type(mapping).__name__}."
            )
        for key, value in mapping.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(
                    f"{label}[{key!r}] must be a torch.Tensor, got {type(value).__name__}."
                )

    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    common = [k for k in expected if k in state_dict]
    shapes = [
        f"{k}: {list(state_dict[k].shape)} instead of {list(expected[k].shape)}"
        for k in common
        if state_dict[k].shape != expected[k].shape
    ]
    dtypes = [
        f"{k}: {state_dict[k].dtype} instead of {expected[k].dtype}"
        for k in common
        if state_dict[k].dtype != expected[k].dtype
    ]
    problems = [
        f"{len(items)} {what} ({_first(items)})"
        for what, items in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("with the wrong shape", shapes),
            ("with the wrong dtype", dtypes),
        )
        if items
    ]
    if problems:
        raise WeightsMismatchError(
            f"Not a {MIDAS_SMALL.name} checkpoint: of {len(expected)} expected tensors, "
            + "; ".join(problems)
            + f". Use the official file ({MIDAS_SMALL.url}) or point {_ENV_VAR} at it."
        )


def _first(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (", ..." if len(items) > _MAX_LISTED else "")
