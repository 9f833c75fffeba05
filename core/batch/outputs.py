"""The files one input yields: exactly the ones ``python -m core predict`` writes, with the same names.

``predict``'s writer (:func:`core.io.depth_files.write_depth_files`: the ``--format`` files and
their sidecars, each stating its facts) writes them into a private temporary folder; each is then moved into
the output :class:`~core.batch.storage.Storage` under its final name, atomically, unless a
file of that name is already there (writes are atomic, so an existing file is complete). So
an interrupted run leaves no half files, and deleting one output re-makes only that one.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.batch.storage import Storage
from core.io.depth_files import DEFAULT_FORMATS, FORMATS, parse_formats, write_depth_files

__all__ = ["DEFAULT_FORMATS", "FORMATS", "expected_names", "parse_formats", "write_outputs"]


def expected_names(stem: str, formats: Sequence[str]) -> list[str]:
    """The main file of each format for one input (sidecars are known once written).

    Example:
        >>> expected_names("cat", ["npy", "png16"])
        ['cat.npy', 'cat_depth16.png']
    """
    return [f"{stem}{FORMATS[fmt]}" for fmt in formats]


def write_outputs(
    storage: Storage, stem: str, depth: np.ndarray, info: Any, *, formats: Sequence[str], colormap: str,
    source_size: tuple[int, int], reduction: str = "",
) -> list[str]:
    """Write one input's files as ``predict`` would, each atomically, skipping names already present.

    Args:
        storage: The output folder (already created: :meth:`Storage.prepare`).
        stem: The input's output stem.
        depth: HxW float32 relative inverse depth.
        info: The predictor's :class:`~core.midas.predictor.PredictorInfo` (the files state its facts).
        formats: ``predict --format`` names.
        colormap: The heatmap's colormap.
        source_size: (width, height) of the decoded image.
        reduction: How a large JPEG was decoded smaller, as ``predict`` notes it, or ``""``.

    Returns:
        The full paths of all this input's files, sorted by name.
    """
    from core.io.metadata import facts_for

    facts = facts_for(info, *source_size)
    if reduction:
        facts = facts.with_extra(decoded=reduction)
    local = None if storage.remote else storage.location
    with tempfile.TemporaryDirectory(prefix=f".{stem}.", suffix=".part", dir=local) as tmp:
        write_depth_files(Path(tmp), stem, depth, colormap, tuple(formats), facts)
        names = sorted(os.listdir(tmp))
        for name in names:
            if not storage.exists(name):
                storage.put(os.path.join(tmp, name), name)
    return [storage.path(name) for name in names]
