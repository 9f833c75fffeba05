"""Float maps for VFX and 3D tools: PFM (as the official MiDaS ``run.py`` writes it) and OpenEXR float32.

- **PFM**: a ``Pf`` header (one channel), ``W H``, then the scale ``-1.000000`` (negative =
  little-endian), then float32 rows from the **bottom** row up, as ``run.py``'s ``write_pfm``.
  PFM has no room for metadata: its facts go into a JSON sidecar (:func:`core.io.metadata.sidecar_bytes`).
- **OpenEXR**: one float32 channel, ZIP-compressed, with the facts of :class:`core.io.metadata.DepthFacts`
  as string attributes of the header. Written with the ``openexr`` package (the OpenCV wheels
  have no EXR encoder). The channel is ``Y`` (grayscale, so viewers show near = bright) for
  relative inverse depth, and ``Z`` for depth in metres.

Both store the float32 values themselves: a map reads back bit for bit.

Example:
    >>> depth = np.array([[0.0, 1.5], [2.0, 3.0]], np.float32)
    >>> read_pfm(pfm_bytes(depth))[0].tolist()
    [[0.0, 1.5], [2.0, 3.0]]
"""

from __future__ import annotations

import io
import re

import numpy as np

from core.io.metadata import DepthFacts

__all__ = ["exr_bytes", "pfm_bytes", "read_exr", "read_pfm"]

_PFM_HEADER = re.compile(rb"(P[fF])\s+(\d+)\s+(\d+)\s+([-+0-9.eE]+)\s")
_EXR_MAGIC = b"\x76\x2f\x31\x01"


def _float_map(depth: np.ndarray) -> np.ndarray:
    """A checked HxW float32 copy-free view of ``depth``."""
    if not isinstance(depth, np.ndarray):
        raise TypeError(f"depth must be a numpy.ndarray, got {type(depth).__name__}")
    if depth.ndim != 2 or depth.size == 0 or depth.dtype.kind not in "fiu":
        raise ValueError(f"depth must be a non-empty real HxW map, got {depth.dtype} shape {depth.shape}")
    return depth.astype(np.float32, copy=False)


def pfm_bytes(depth: np.ndarray) -> bytes:
    """Encode an HxW map as a grayscale PFM exactly as the official ``run.py`` does.

    Args:
        depth: HxW map; stored as float32 (NaN and inf are kept: PFM readers expect raw floats).

    Returns:
        The file: ``b"Pf\\nW H\\n-1.000000\\n"`` then H rows of W little-endian float32, bottom row first.
    """
    arr = _float_map(depth)
    height, width = arr.shape
    header = b"Pf\n%d %d\n%f\n" % (width, height, -1.0)
    return header + np.ascontiguousarray(np.flipud(arr), "<f4").tobytes()  # HxW, rows bottom to top


def read_pfm(data: bytes) -> tuple[np.ndarray, float]:
    """Decode a PFM file (``Pf`` grayscale or ``PF`` colour, either byte order).

    Returns:
        (map, scale): HxW (or HxWx3) float32 with the top row first, and the header's absolute scale.

    Raises:
        ValueError: not a PFM file, or fewer pixel bytes than the header declares.
    """
    data = bytes(data)
    match = _PFM_HEADER.match(data)
    if match is None:
        raise ValueError("not a PFM file: expected 'Pf' or 'PF', the width and height, then the scale")
    kind, width, height, scale = match.group(1), int(match.group(2)), int(match.group(3)), float(match.group(4))
    channels = 3 if kind == b"PF" else 1
    dtype = np.dtype("<f4" if scale < 0 else ">f4")
    count = width * height * channels
    body = data[match.end():]
    if len(body) < count * 4:
        raise ValueError(f"truncated PFM: {width}x{height}x{channels} floats need {count * 4} bytes, got {len(body)}")
    pixels = np.frombuffer(body, dtype, count).reshape((height, width, channels) if channels == 3 else (height, width))
    return np.flipud(pixels).astype(np.float32), abs(scale)  # rows bottom-up -> top-down, native float32


def exr_bytes(depth: np.ndarray, facts: DepthFacts | None = None, channel: str | None = None) -> bytes:
    """Encode an HxW map as a one-channel float32 OpenEXR file (ZIP compression).

    Args:
        depth: HxW map, stored as float32.
        facts: written as string attributes of the header (:meth:`DepthFacts.text_fields`).
        channel: the channel name; default ``"Z"`` when ``facts`` say depth, else ``"Y"``.

    Returns:
        The file contents.
    """
    import OpenEXR  # imported here: only the EXR export needs it

    arr = np.ascontiguousarray(_float_map(depth), np.float32)
    if facts is not None and not isinstance(facts, DepthFacts):
        raise TypeError(f"facts must be a DepthFacts or None, got {type(facts).__name__}")
    if channel is None:
        channel = "Z" if facts is not None and facts.content == "depth" else "Y"
    if not isinstance(channel, str) or not channel:
        raise ValueError(f"channel must be a non-empty str such as 'Y' or 'Z', got {channel!r}")
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    if facts is not None:
        header.update(facts.text_fields())
    buffer = io.BytesIO()
    with OpenEXR.File(header, {channel: arr}) as f:
        f.write(buffer)
    return buffer.getvalue()


def read_exr(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Decode an OpenEXR file.

    Returns:
        (channels, attributes): channel name -> HxW array, and the header's string attributes
        (where :func:`exr_bytes` puts the facts).

    Raises:
        ValueError: not an OpenEXR file.
    """
    import OpenEXR

    data = bytes(data)
    if not data.startswith(_EXR_MAGIC):
        raise ValueError("not an OpenEXR file: the magic number 76 2f 31 01 is missing")
    try:
        with OpenEXR.File(io.BytesIO(data)) as f:
            channels = {name: np.array(ch.pixels) for name, ch in f.channels().items()}
            attributes = {key: value for key, value in f.header().items() if isinstance(value, str)}
    except Exception as e:  # OpenEXR raises RuntimeError / its own types on corrupt files
        raise ValueError(f"cannot read this OpenEXR file: {e}") from e
    return channels, attributes
