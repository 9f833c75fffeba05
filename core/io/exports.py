"""Encoders for downloads and the screen: PNG, JPEG, 16-bit PNG, stereo PNG, .npy and PLY, all returned as ``bytes``.

Every export is finite: depth maps go through :func:`core.maps.normalize.sanitize` or
:func:`core.maps.normalize.to_uint16`, and a :class:`core.geometry.pointcloud.PointCloud` cannot hold NaN.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from concurrent.futures import Future

import cv2
import numpy as np

from core import workers
from core.checks import is_int
from core.io.metadata import DepthFacts, check_facts, png_with_text
from core.maps.normalize import sanitize, to_uint16
from core.geometry.pointcloud import PointCloud
from core.geometry.intrinsics import FieldOfView
from core.geometry.stereo import compose, stereo_pair

__all__ = [
    "file_stem",
    "jpeg_bytes",
    "jpeg_bytes_async",
    "npy_bytes",
    "ply_bytes",
    "png16_bytes",
    "png_bytes",
    "read_ply_vertices",
    "side_by_side",
    "stereo_png_bytes",
]

_PLY_VERTEX = np.dtype(
    [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
)
_PLY_PROPERTIES = [
    ("float", "x"),
    ("float", "y"),
    ("float", "z"),
    ("uchar", "red"),
    ("uchar", "green"),
    ("uchar", "blue"),
]


def file_stem(name: str) -> str:
    """A safe stem for download file names: the name without its extension, letters, digits, ``_``, ``-``.

    Every other run of characters becomes one ``_``; an empty result becomes ``"image"``.

    Args:
        name: a file name as uploaded, e.g. ``"my photo (1).JPG"``.

    Returns:
        The stem to put before ``_depth.png``, ``.npy``, ...

    Example:
        >>> file_stem("my photo (1).JPG")
        'my_photo_1'
        >>> file_stem("..jpg")
        'image'
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (a file name), got {type(name).__name__}")
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name.rsplit(".", 1)[0]).strip("_") or "image"


def png_bytes(image: np.ndarray, metadata: DepthFacts | None = None) -> bytes:
    """Encode an image as lossless PNG.

    Args:
        image: HxWx3 uint8 RGB, or HxW uint8 / uint16 grayscale.
        metadata: the facts to write as text chunks (:mod:`core.io.metadata`), e.g.
            ``facts.heatmap(cmap, lo, hi)`` for a heatmap; None for a PNG for the screen.

    Returns:
        The PNG file contents.
    """
    png = _encode(".png", image, [], (np.uint8, np.uint16))
    if metadata is None:
        return png
    check_facts(metadata, "metadata")
    return png_with_text(png, metadata.text_fields())


def jpeg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    """Encode an 8-bit image as JPEG, for the screen: smaller and quicker than PNG.

    A 1460x1095 heatmap takes about 8 ms and 0.6 MB at quality 90; Streamlit's own
    encoding of an array (Pillow, quality 100) takes about 15 ms and 1.5 MB.

    Args:
        image: HxWx3 uint8 RGB, or HxW uint8 grayscale.
        quality: 1-100.

    Returns:
        The JPEG file contents.
    """
    if not is_int(quality) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an int in 1-100, got {quality!r}")
    return _encode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)], (np.uint8,))


def jpeg_bytes_async(images: Sequence[np.ndarray], quality: int = 90) -> Future[list[bytes]]:
    """Start :func:`jpeg_bytes` of each image on the shared pool; ``.result()`` gives the list.

    OpenCV encodes without holding the GIL, so a caller that builds charts meanwhile (pure
    Python) gets the encodes for free on a second core. The work runs on
    :func:`core.workers.shared_pool`, the library's one pool. Errors surface at ``.result()``.
    """
    images = list(images)
    return workers.shared_pool().submit(lambda: [jpeg_bytes(image, quality) for image in images])


def _encode(ext: str, image: np.ndarray, params: list[int], gray_dtypes: tuple[type, ...]) -> bytes:
    """Check and encode an HxWx3 uint8 RGB or HxW grayscale image with OpenCV."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy.ndarray, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # HxWx3 RGB -> BGR for OpenCV
    elif not (image.ndim == 2 and image.dtype in gray_dtypes):
        gray = "/".join(np.dtype(d).name for d in gray_dtypes)
        raise TypeError(
            f"image must be HxWx3 uint8 RGB or HxW {gray}, got {image.dtype} shape {image.shape}; "
            "use core.maps.colormaps.colorize or core.maps.normalize.to_uint16 for float maps"
        )
    if image.size == 0:
        raise ValueError(f"image must not be empty, got shape {image.shape}")
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise RuntimeError(f"OpenCV failed to encode a {image.dtype} {image.shape} image as {ext}")
    return buf.tobytes()


def png16_bytes(
    depth: np.ndarray, lo: float | None = None, hi: float | None = None, metadata: DepthFacts | None = None
) -> bytes:
    """Encode a depth map as a 16-bit grayscale PNG, near (large values) = 65535.

    Args:
        depth: HxW map (relative inverse depth).
        lo: value stored as 0; defaults to the finite minimum.
        hi: value stored as 65535; defaults to the finite maximum.
        metadata: the prediction's facts (:func:`core.io.metadata.facts_for`); written as text
            chunks with the window actually used (``metadata.png16(lo, hi)``).

    Returns:
        The PNG file contents; decodes (cv2.IMREAD_UNCHANGED) to ``to_uint16(depth, lo, hi)``.
    """
    codes = to_uint16(depth, lo, hi)  # HxW float -> HxW uint16
    if metadata is None:
        return png_bytes(codes)
    if lo is None or hi is None:
        data_lo, data_hi = _finite_extent(depth)
        lo, hi = data_lo if lo is None else lo, data_hi if hi is None else hi
    return png_bytes(codes, metadata.png16(float(lo), float(hi)))


def stereo_png_bytes(rgb: np.ndarray, depth: np.ndarray, layout: str, strength_pct: float, convergence: float,
                     fill: str, metadata: DepthFacts, *, fov: FieldOfView | float | None = None,
                     baseline_m: float | None = None) -> bytes:
    """A stereo picture of the photo as a PNG that says what it is (:meth:`DepthFacts.stereo`).

    Args:
        rgb: HxWx3 uint8 photo.
        depth: HxW relative inverse depth of it.
        layout: one of :data:`core.geometry.stereo.LAYOUTS` ("sbs", "cross", "tb", "anaglyph").
        strength_pct: the disparity between the nearest and the farthest pixel, % of the width.
        convergence: the depth at the screen, 0 (the farthest pixel) to 1 (the nearest).
        fill: one of :data:`core.geometry.stereo.FILLS`.
        metadata: the prediction's facts (:func:`core.io.metadata.facts_for`); written as text
            chunks with the rendering's settings.
        fov: the field of view the strength was read with, stated with them.
        baseline_m: the camera baseline the strength means, in metres, when known.

    Returns:
        The PNG file contents: ``compose`` of :func:`core.geometry.stereo.stereo_pair`'s two views.
    """
    check_facts(metadata, "metadata", optional=False)
    facts = metadata.stereo(layout, strength_pct, convergence, fill, fov=fov,
                            baseline_m=baseline_m)  # checks the settings before the rendering
    pair = stereo_pair(rgb, depth, strength_pct, convergence, fill=fill)
    return png_bytes(compose(pair.left.image, pair.right.image, layout), facts)


def _finite_extent(depth: np.ndarray) -> tuple[float, float]:
    """The finite minimum and maximum of the map as float32 (0, 0 when nothing is finite), as to_uint16 uses."""
    arr = np.asarray(depth, dtype=np.float32)
    finite = np.isfinite(arr)
    if not finite.any():
        return 0.0, 0.0
    return float(arr.min(where=finite, initial=np.inf)), float(arr.max(where=finite, initial=-np.inf))


def npy_bytes(depth: np.ndarray) -> bytes:
    """Serialise a depth map as a float32 ``.npy`` file (loads with allow_pickle=False).

    Args:
        depth: HxW map; non-finite values are replaced as in :func:`core.maps.normalize.sanitize`.

    Returns:
        The .npy file contents.
    """
    buffer = io.BytesIO()
    np.save(buffer, sanitize(depth), allow_pickle=False)
    return buffer.getvalue()


def ply_bytes(cloud: PointCloud, binary: bool = True) -> bytes:
    """Serialise a point cloud as PLY with float x y z and uchar red green blue.

    Args:
        cloud: the points; all are written, in order.
        binary: write ``binary_little_endian 1.0`` (default) or ``ascii 1.0``.

    Returns:
        The PLY file contents.
    """
    if not isinstance(cloud, PointCloud):
        raise TypeError(f"cloud must be a PointCloud, got {type(cloud).__name__}")
    n = len(cloud)
    header = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        "comment camera frame: x right, y down, z forward; units as in the depth map",
        f"element vertex {n}",
        *(f"property {kind} {name}" for kind, name in _PLY_PROPERTIES),
        "end_header",
    ]
    head = ("\n".join(header) + "\n").encode("ascii")
    vertices = np.empty(n, dtype=_PLY_VERTEX)
    vertices["x"], vertices["y"], vertices["z"] = cloud.xyz.T
    vertices["red"], vertices["green"], vertices["blue"] = cloud.rgb.T
    if binary:
        return head + vertices.tobytes()
    lines = (
        f"{x!r} {y!r} {z!r} {r} {g} {b}"
        for x, y, z, r, g, b in zip(
            cloud.xyz[:, 0].tolist(), cloud.xyz[:, 1].tolist(), cloud.xyz[:, 2].tolist(),
            *cloud.rgb.T.tolist(),
        )
    )
    return head + "".join(line + "\n" for line in lines).encode("ascii")


def read_ply_vertices(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Read the vertices of a PLY file in the layout :func:`ply_bytes` writes.

    A minimal reader (for round-trip tests and re-imports): one ``vertex`` element with
    float x y z and uchar red green blue, binary little-endian or ascii.

    Args:
        data: PLY file contents.

    Returns:
        (xyz, rgb): Nx3 float32 and Nx3 uint8.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    marker = b"end_header\n"
    end = data.find(marker)
    if not data.startswith(b"ply\n") or end < 0:
        raise ValueError("not a PLY file: expected 'ply' first and an 'end_header' line")
    lines = [line.strip() for line in data[:end].decode("ascii").splitlines()[1:]]
    lines = [line for line in lines if line and not line.startswith(("comment", "obj_info"))]
    fmt = next((line.split()[1:] for line in lines if line.startswith("format")), None)
    if fmt not in (["binary_little_endian", "1.0"], ["ascii", "1.0"]):
        raise ValueError(
            f"unsupported PLY format {fmt}; expected binary_little_endian 1.0 or ascii 1.0"
        )
    elements = [line.split() for line in lines if line.startswith("element")]
    if len(elements) != 1 or elements[0][1] != "vertex":
        raise ValueError(f"expected exactly one 'element vertex N', got {elements}")
    n = int(elements[0][2])
    properties = [tuple(line.split()[1:]) for line in lines if line.startswith("property")]
    if properties != _PLY_PROPERTIES:
        raise ValueError(f"expected vertex properties {_PLY_PROPERTIES}, got {properties}")
    body = data[end + len(marker) :]
    if fmt[0] == "ascii":
        text = body.decode("ascii")
        values = np.empty((0, 6))
        if text.strip():
            values = np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2)
        if values.shape != (n, 6):
            raise ValueError(f"expected {n} vertex lines of 6 values, got shape {values.shape}")
        return values[:, :3].astype(np.float32), values[:, 3:].astype(np.uint8)
    expected = n * _PLY_VERTEX.itemsize
    if len(body) != expected:
        raise ValueError(f"expected {expected} bytes of vertex data for {n} vertices, got {len(body)}")
    vertices = np.frombuffer(body, dtype=_PLY_VERTEX, count=n)
    xyz = np.stack([vertices["x"], vertices["y"], vertices["z"]], axis=1).astype(np.float32)
    rgb = np.stack([vertices["red"], vertices["green"], vertices["blue"]], axis=1)
    return xyz, rgb


def side_by_side(rgb: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """Place an image and its heatmap next to each other at the image's height.

    Args:
        rgb: HxWx3 uint8.
        heatmap: hxwx3 uint8, resized to height H (keeping its aspect ratio) if h != H.

    Returns:
        Hx(W + W')x3 uint8, with W' = round(w * H / h).
    """
    for image, name in ((rgb, "rgb"), (heatmap, "heatmap")):
        is_rgb = isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3
        if not is_rgb or image.dtype != np.uint8:
            got = f"{getattr(image, 'dtype', type(image).__name__)} shape {getattr(image, 'shape', None)}"
            raise ValueError(f"{name} must be an HxWx3 uint8 array, got {got}")
        if image.size == 0:
            raise ValueError(f"{name} must not be empty, got shape {image.shape}")
    height = rgb.shape[0]
    if heatmap.shape[0] != height:
        width = max(1, round(heatmap.shape[1] * height / heatmap.shape[0]))
        interpolation = cv2.INTER_AREA if height < heatmap.shape[0] else cv2.INTER_LINEAR
        heatmap = cv2.resize(heatmap, (width, height), interpolation=interpolation)
    return np.concatenate([rgb, heatmap], axis=1)  # H x (W + W') x 3
