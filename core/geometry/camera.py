"""The pinhole camera: its intrinsics, and back-projection of depth to camera-frame points.

Camera frame (OpenCV convention): x to the right, y DOWN, z forward along the optical
axis, so z is the depth. A viewer with y up should negate y.

Pixel (u, v) has its centre at integer coordinates; the principal point is the image
centre, ``(width / 2 - 0.5, height / 2 - 0.5)``; pixels are square and the focal length
follows from the HORIZONTAL field of view. The point cloud, the measuring tool and
anything else that turns depth into 3D use this one camera (:func:`unproject`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["fov_from_focal_px", "focal_px_from_fov", "pinhole_intrinsics", "unproject"]

_REAL = (int, float, np.integer, np.floating)
_OUT_DTYPES = (np.float32, np.float64)


def _check_int(value: int, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_fov(fov_deg: float) -> float:
    if isinstance(fov_deg, (bool, np.bool_)) or not isinstance(fov_deg, _REAL):
        raise TypeError(f"fov_deg must be a real number, got {type(fov_deg).__name__}")
    if not 0.0 < fov_deg < 180.0:
        raise ValueError(f"fov_deg must be in (0, 180) degrees, got {fov_deg}")
    return float(fov_deg)


def pinhole_intrinsics(
    width: int, height: int, fov_deg: float
) -> tuple[float, float, float, float]:
    """Intrinsics of a centred pinhole camera with square pixels.

    Args:
        width: image width in pixels.
        height: image height in pixels.
        fov_deg: HORIZONTAL field of view in degrees, in (0, 180).

    Returns:
        (fx, fy, cx, cy) in pixels, with fx = fy = (width / 2) / tan(fov / 2) and the
        principal point at the image centre in pixel-centre coordinates.

    Example:
        >>> [round(v, 6) for v in pinhole_intrinsics(4, 2, 90.0)]
        [2.0, 2.0, 1.5, 0.5]
    """
    width = _check_int(width, "width", 1)
    height = _check_int(height, "height", 1)
    fov = _check_fov(fov_deg)
    f = (width / 2.0) / math.tan(math.radians(fov) / 2.0)
    return f, f, width / 2.0 - 0.5, height / 2.0 - 0.5


def focal_px_from_fov(width: int, fov_deg: float) -> float:
    """Focal length in pixels of a camera ``width`` pixels wide with this horizontal field of view.

    The ``fx`` of :func:`pinhole_intrinsics`: ``(width / 2) / tan(fov / 2)``.

    Example:
        >>> round(focal_px_from_fov(4, 90.0), 6)
        2.0
    """
    width = _check_int(width, "width", 1)
    return (width / 2.0) / math.tan(math.radians(_check_fov(fov_deg)) / 2.0)


def fov_from_focal_px(width: int, focal_px: float) -> float:
    """Horizontal field of view in degrees of a camera ``width`` pixels wide with focal length ``focal_px``.

    The inverse of :func:`focal_px_from_fov`: ``2 * atan((width / 2) / focal_px)``.

    Raises:
        TypeError: a non-int width or a non-real focal length.
        ValueError: a width below 1 or a focal length that is not a positive finite number.

    Example:
        >>> round(fov_from_focal_px(4, 2.0), 6)
        90.0
    """
    width = _check_int(width, "width", 1)
    if isinstance(focal_px, (bool, np.bool_)) or not isinstance(focal_px, _REAL):
        raise TypeError(f"focal_px must be a real number, got {type(focal_px).__name__}")
    if not (math.isfinite(focal_px) and focal_px > 0.0):
        raise ValueError(f"focal_px must be a positive finite number of pixels, got {focal_px}")
    return math.degrees(2.0 * math.atan((width / 2.0) / float(focal_px)))


def _check_axis(index: np.ndarray | None, size: int, name: str) -> np.ndarray:
    if index is None:
        return np.arange(size, dtype=np.intp)
    index = np.asarray(index)
    if index.ndim != 1 or index.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be a 1D integer index array, got {index.dtype} shape {index.shape}"
        )
    if index.size and (index.min() < 0 or index.max() >= size):
        raise ValueError(
            f"{name} must lie in [0, {size}), got range [{index.min()}, {index.max()}]"
        )
    return index.astype(np.intp, copy=False)


def _check_real(values: object, name: str, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == bool or arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array ({what}), got dtype {arr.dtype}")
    return arr


def _check_image_size(image_size: tuple[int, int] | None) -> tuple[int, int]:
    if image_size is None:
        raise ValueError(
            "image_size=(height, width) is needed with pixels=: the depths alone do not say "
            "where the principal point is"
        )
    if len(image_size) != 2:
        raise ValueError(f"image_size must be (height, width), got {image_size!r}")
    return _check_int(image_size[0], "height", 1), _check_int(image_size[1], "width", 1)


def unproject(
    depth: np.ndarray,
    fov_deg: float,
    *,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
    pixels: tuple[np.ndarray, np.ndarray] | None = None,
    image_size: tuple[int, int] | None = None,
    dtype: type = np.float32,
) -> np.ndarray:
    """Back-project depth (z per pixel) to camera-frame points, as kornia's ``depth_to_3d``.

    Two ways to say which pixels:

    - a depth MAP: ``depth`` is HxW and every pixel is back-projected, or only the grid
      ``np.ix_(rows, cols)`` when ``rows`` and/or ``cols`` (e.g. from
      :func:`core.geometry.pointcloud.even_subsample`) are given;
    - explicit PIXELS: ``pixels=(xs, ys)`` are N column and row coordinates (sub-pixel
      allowed), ``depth`` holds their N depths, and ``image_size=(height, width)`` gives
      the image they belong to.

    Each point is ``((u - cx) / fx * z, (v - cy) / fy * z, z)`` with the intrinsics of
    :func:`pinhole_intrinsics`; the ray slope ``(u - cx) / fx`` is computed in float64 and
    rounded once to ``dtype``. Pure geometry: a non-finite depth gives a non-finite point.

    Args:
        depth: HxW depth map, or N depths with ``pixels`` (along the optical axis, not
            along the ray).
        fov_deg: horizontal field of view in degrees, in (0, 180).
        rows: optional 1D row indices into the map; default all rows.
        cols: optional 1D column indices into the map; default all columns.
        pixels: optional ``(xs, ys)``, N finite column and row coordinates each.
        image_size: ``(height, width)`` of the image, needed with ``pixels`` only.
        dtype: ``np.float32`` (default) or ``np.float64`` for the result.

    Returns:
        Nx3 (x right, y down, z forward). For a map N = len(rows) * len(cols), in
        row-major order over the grid; for pixels, one point per pixel in their order.

    Raises:
        TypeError: a non-array or non-real depth, non-integer ``rows``/``cols``, or an
            unsupported ``dtype``.
        ValueError: a depth that is not HxW (or N with ``pixels``), indices outside the
            image, pixels and depths of different lengths, non-finite pixel coordinates,
            ``pixels`` mixed with ``rows``/``cols`` or without ``image_size``, or a bad
            ``fov_deg``.

    Example:
        >>> unproject(np.full((3, 3), 2.0, np.float32), 90.0)[4]  # the centre pixel
        array([0., 0., 2.], dtype=float32)
        >>> unproject(np.array([1.0]), 90.0, pixels=([3.0], [2.0]), image_size=(3, 4))
        array([[0.75, 0.5 , 1.  ]], dtype=float32)
    """
    if dtype not in _OUT_DTYPES:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}")
    if pixels is None:
        if image_size is not None:
            raise ValueError("image_size is only for pixels=; a depth map gives its own HxW")
        if not isinstance(depth, np.ndarray):
            raise TypeError(f"depth must be a numpy.ndarray of shape HxW, got {type(depth).__name__}")
        if depth.ndim != 2 or depth.dtype.kind not in "fiu":
            raise ValueError(f"depth must be a real HxW array, got {depth.dtype} shape {depth.shape}")
        height, width = depth.shape
        v = _check_axis(rows, height, "rows")  # R
        u = _check_axis(cols, width, "cols")  # C
        fx, fy, cx, cy = pinhole_intrinsics(width, height, fov_deg)
        z = depth[np.ix_(v, u)].astype(dtype, copy=False)  # R x C
        sx = ((u - cx) / fx).astype(dtype)  # C
        sy = ((v - cy) / fy).astype(dtype)  # R
        xyz = np.empty((*z.shape, 3), dtype=dtype)  # R x C x 3
        xyz[..., 0] = sx[None, :] * z
        xyz[..., 1] = sy[:, None] * z
        xyz[..., 2] = z
        return xyz.reshape(-1, 3)  # (R*C) x 3

    if rows is not None or cols is not None:
        raise ValueError("give either pixels= or rows=/cols=, not both")
    if len(pixels) != 2:
        raise ValueError(f"pixels must be a pair (xs, ys), got {len(pixels)} items")
    height, width = _check_image_size(image_size)
    xs = _check_real(pixels[0], "xs", "column coordinates")
    ys = _check_real(pixels[1], "ys", "row coordinates")
    zs = _check_real(depth, "depth", "one depth per pixel")
    if xs.ndim != 1 or not xs.shape == ys.shape == zs.shape:
        raise ValueError(
            f"pixels (xs, ys) and depth must be 1D of equal length N, got {xs.shape}, {ys.shape}, {zs.shape}"
        )
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("pixel coordinates xs and ys must be finite")
    fx, fy, cx, cy = pinhole_intrinsics(width, height, fov_deg)
    z = zs.astype(dtype, copy=False)  # N
    xyz = np.empty((len(z), 3), dtype=dtype)  # N x 3
    xyz[:, 0] = ((xs - cx) / fx).astype(dtype) * z
    xyz[:, 1] = ((ys - cy) / fy).astype(dtype) * z
    xyz[:, 2] = z
    return xyz
