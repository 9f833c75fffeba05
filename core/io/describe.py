"""What a depth file says it holds: ``python -m core describe FILE``.

Reads the facts of :mod:`core.io.metadata` back from every format we write: a PNG's text chunks,
an OpenEXR header's string attributes, a GLB's ``asset.extras``, a GIF's comment, an MP4's
container metadata, and the ``<name>.json`` sidecar of a ``.npy``, ``.npz`` or ``.pfm`` file,
together with what the file itself declares (format, dtype, shape). The format is sniffed from
the content, not the file name.

Example:
    >>> from core.io.exports import png16_bytes
    >>> from core.io.metadata import DepthFacts
    >>> facts = DepthFacts("MiDaS v2.1 small", "ab" * 32, 256, (2, 1))
    >>> fields = describe_bytes(png16_bytes(np.array([[0.0, 2.0]], np.float32), metadata=facts))
    >>> fields["file"], fields["value_at_max"]
    ('PNG, 16-bit grayscale, 2x1', '2.0')
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np

from core.io.float_maps import read_exr, read_pfm
from core.io.metadata import read_facts_text, read_png_text, read_sidecar, sidecar_name

__all__ = ["describe_bytes", "describe_file"]

_PNG_COLOR = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale + alpha", 6: "RGBA"}


def describe_file(path: str | os.PathLike) -> dict[str, str]:
    """The fields a depth file states, with its sidecar's when there is one.

    Args:
        path: a PNG, ``.npy``, ``.npz``, PFM, OpenEXR, GLB, GIF or MP4 file.

    Returns:
        Ordered name -> text: ``"file"`` (format, dtype, size) first, then the facts. When the
        file and its sidecar state none, ``"metadata"`` says so.

    Raises:
        OSError: the file cannot be read.
        ValueError: not one of the formats above, or a damaged file or sidecar.
    """
    path = Path(path)
    data = path.read_bytes()
    sidecar = path.with_name(sidecar_name(path.name))
    side = sidecar.read_bytes() if sidecar.is_file() else None
    fields = describe_bytes(data, side)
    if "metadata" in fields and _is_array_file(data):
        fields["metadata"] = f"none: no sidecar {sidecar.name} next to the file"
    return fields


def describe_bytes(data: bytes, sidecar: bytes | None = None) -> dict[str, str]:
    """:func:`describe_file` of a file's contents (and its sidecar's, if any)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        fields = {"file": _png_kind(data), **read_png_text(data)}
    elif data.startswith(b"\x76\x2f\x31\x01"):
        channels, attributes = read_exr(data)
        kinds = ", ".join(f"{name} {a.dtype} {a.shape[1]}x{a.shape[0]}" for name, a in channels.items())
        fields = {"file": f"OpenEXR, channels {kinds}", **attributes}
    elif data.startswith(b"\x93NUMPY"):
        dtype, shape = _npy_header(io.BytesIO(data))
        fields = {"file": f"NumPy .npy, {dtype} {_shape(shape)}"}
    elif data.startswith(b"PK"):
        fields = {"file": f"NumPy .npz, {_npz_members(data)}"}
    elif data[:2] in (b"Pf", b"PF"):
        pixels, scale = read_pfm(data)
        order = "little-endian" if data.split(maxsplit=3)[3].startswith(b"-") else "big-endian"
        kind = "colour" if data[:2] == b"PF" else "grayscale"
        fields = {"file": f"PFM, {kind} {pixels.shape[1]}x{pixels.shape[0]}, float32 {order}, rows bottom to top, "
                          f"scale {scale:g}"}
    elif data.startswith(b"glTF"):
        fields = _glb(data)
    elif data.startswith((b"GIF87a", b"GIF89a")):
        fields = _gif(data)
    elif data[4:8] == b"ftyp":
        fields = _mp4(data)
    elif data.lstrip().startswith(b"{"):  # a sidecar given on its own
        fields = {"file": "JSON sidecar"}
        sidecar = data if sidecar is None else sidecar
    else:
        raise ValueError("not a file this app writes: expected a PNG, .npy, .npz, PFM, OpenEXR, GLB, GIF or MP4 "
                         "file (or a .json sidecar)")
    if sidecar is not None:
        record = read_sidecar(sidecar)
        fields.update((key, _sidecar_text(value)) for key, value in record.items())
    if len(fields) == 1:
        fields["metadata"] = "none: the file states no fields"
    return fields


def _glb(data: bytes) -> dict[str, str]:
    """A GLB's kind (meshes, vertices, faces, images) and its ``asset.extras``."""
    try:
        version, _, json_length, kind = struct.unpack("<4I", data[4:20])
        if kind != 0x4E4F534A:  # "JSON": the first chunk of every GLB
            raise ValueError("its first chunk is not JSON")
        tree = json.loads(data[20:20 + json_length])
        accessors = tree.get("accessors", [])
        primitives = [p for mesh in tree.get("meshes", []) for p in mesh.get("primitives", [])]
        vertices = sum(int(accessors[p["attributes"]["POSITION"]]["count"]) for p in primitives)
        faces = sum(int(accessors[p["indices"]]["count"]) // 3 for p in primitives if "indices" in p)
    except (struct.error, json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError, ValueError) as e:
        raise ValueError(f"damaged GLB: {e}") from e
    images = ", ".join(image.get("mimeType", "?") for image in tree.get("images", [])) or "none"
    meshes = len(tree.get("meshes", []))
    fields = {"file": f"GLB (binary glTF {version}), {meshes} mesh{'es' if meshes != 1 else ''}, {vertices} vertices, "
                      f"{faces} faces, images: {images}"}
    extras = tree.get("asset", {}).get("extras")
    if isinstance(extras, dict):
        fields.update((str(key), _sidecar_text(value)) for key, value in extras.items())
    return fields


def _gif(data: bytes) -> dict[str, str]:
    """A GIF's kind (size, frames) and the fields of its comment (:func:`core.io.metadata.facts_text`)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            frames = getattr(im, "n_frames", 1)
            comment = im.info.get("comment")
    except (UnidentifiedImageError, OSError, ValueError, EOFError) as e:
        raise ValueError(f"damaged GIF: {e}") from e
    fields = {"file": f"GIF, {width}x{height}, {frames} frame{'s' if frames != 1 else ''}"}
    if comment:
        fields.update(read_facts_text(comment))
    return fields


#: Keys every MP4 muxer writes by itself: not facts.
_MP4_OWN_KEYS = ("major_brand", "minor_version", "compatible_brands", "encoder")


def _mp4(data: bytes) -> dict[str, str]:
    """An MP4's kind (codec, size, duration) and its container metadata (PyAV)."""
    import av  # imported here: only this format needs it

    try:
        with av.open(io.BytesIO(data)) as container:
            metadata = dict(container.metadata)
            streams = container.streams.video
            kind = "no video stream"
            if streams:
                stream = streams[0]
                seconds = float(container.duration) / av.time_base if container.duration else 0.0
                kind = f"{stream.codec_context.name} {stream.width}x{stream.height}, {seconds:.2f} s"
    except (av.FFmpegError, OSError, ValueError) as e:
        raise ValueError(f"damaged MP4: {e}") from e
    fields = {"file": f"MP4, {kind}"}
    fields.update((key, str(value)) for key, value in metadata.items() if key not in _MP4_OWN_KEYS)
    return fields


def _is_array_file(data: bytes) -> bool:
    return data.startswith((b"\x93NUMPY", b"PK", b"Pf", b"PF"))


def _png_kind(data: bytes) -> str:
    if data[12:16] != b"IHDR":
        raise ValueError("damaged PNG: the first chunk is not IHDR")
    width, height, bits, color = struct.unpack(">IIBB", data[16:26])
    return f"PNG, {bits}-bit {_PNG_COLOR.get(color, f'colour type {color}')}, {width}x{height}"


def _npy_header(f) -> tuple[np.dtype, tuple[int, ...]]:
    try:
        version = np.lib.format.read_magic(f)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(f)
    except ValueError as e:
        raise ValueError(f"damaged .npy header: {e}") from e
    return dtype, shape


def _npz_members(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            parts = []
            for name in zf.namelist():
                with zf.open(name) as member:
                    dtype, shape = _npy_header(member)
                parts.append(f"{name.removesuffix('.npy')} {dtype} {_shape(shape)}")
    except zipfile.BadZipFile as e:
        raise ValueError(f"not a .npz file: {e}") from e
    return ", ".join(parts)


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(n) for n in shape))  # numpy's spelling: (3,), (480, 640)


def _sidecar_text(value: object) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return repr(value) if isinstance(value, float) else str(value)
