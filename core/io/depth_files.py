"""The files one prediction yields: ``python -m core predict --format``'s names, and their one writer.

``predict``, ``batch`` and anything else that writes a depth map's files call
:func:`write_depth_files`, so every command writes the same files under the same names, each
stating what it holds (:mod:`core.io.metadata`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.io.exports import npy_bytes, png16_bytes, png_bytes
from core.io.metadata import DepthFacts, sidecar_bytes, sidecar_name
from core.maps.colormaps import colorize
from core.maps.normalize import sanitize

__all__ = ["DEFAULT_FORMATS", "FORMATS", "parse_formats", "write_depth_files"]

#: Format name -> the suffix of the file it writes after the stem.
FORMATS: dict[str, str] = {"npy": ".npy", "png": "_depth.png", "png16": "_depth16.png", "pfm": ".pfm", "exr": ".exr"}
#: What ``predict`` writes when no format is given.
DEFAULT_FORMATS: tuple[str, ...] = ("npy", "png", "png16")
_ALIASES = {"heatmap": "png"}


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """Format names from ``"npy,png16"`` (or a sequence): checked, ``heatmap`` read as ``png``, order kept.

    Raises:
        ValueError: a name is not one of :data:`FORMATS`, or none is given.

    Example:
        >>> parse_formats("png16, heatmap,png16")
        ('png16', 'png')
    """
    names = text.split(",") if isinstance(text, str) else list(text)
    names = [_ALIASES.get(str(n).strip().lower(), str(n).strip().lower()) for n in names if str(n).strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise ValueError(f"unknown output format {', '.join(unknown) or '(none given)'}: give a comma-separated "
                         f"list of {', '.join(FORMATS)} (heatmap is png)")
    return tuple(dict.fromkeys(names))


def write_depth_files(
    out: Path, stem: str, depth: np.ndarray, colormap: str, formats: Sequence[str], facts: DepthFacts
) -> list[str]:
    """Write the chosen files of one prediction into ``out``, each stating ``facts``.

    Args:
        out: An existing folder.
        stem: The file names' stem.
        depth: HxW relative inverse depth; its min and max are the PNGs' window.
        colormap: The heatmap's colormap.
        formats: Names from :data:`FORMATS`.
        facts: What the files hold (:func:`core.io.metadata.facts_for`).

    Returns:
        The suffixes written, one per format (sidecars not included).
    """
    from core.io.float_maps import exr_bytes, pfm_bytes  # OpenEXR imported only when asked for

    depth = sanitize(depth)  # HxW float32, finite
    lo, hi = float(depth.min()), float(depth.max())
    raw = facts.raw("float32", depth.shape)
    for fmt in formats:
        path = out / f"{stem}{FORMATS[fmt]}"
        if fmt == "png":
            path.write_bytes(png_bytes(colorize(depth, colormap, lo, hi), facts.heatmap(colormap, lo, hi)))
        elif fmt == "png16":
            path.write_bytes(png16_bytes(depth, lo, hi, metadata=facts))
        elif fmt == "exr":
            path.write_bytes(exr_bytes(depth, raw))
        else:  # npy, pfm: the facts go into a sidecar
            path.write_bytes(npy_bytes(depth) if fmt == "npy" else pfm_bytes(depth))
            path.with_name(sidecar_name(path.name)).write_bytes(sidecar_bytes(raw))
    return [FORMATS[fmt] for fmt in formats]
