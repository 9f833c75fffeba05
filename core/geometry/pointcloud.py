"""Back-projection of depth maps to 3D point clouds with a pinhole camera.

Camera frame (OpenCV convention): x to the right, y DOWN, z forward along the optical
axis, so z is the depth. A viewer with y up should negate y. Units are those of the
depth: relative inverse depth has none, so the cloud's scale and shift are a choice
(``scale`` and ``shift`` of :func:`build_point_cloud`) unless they were calibrated.

Pixel (u, v) has its centre at integer coordinates; the principal point is the image
centre, ``(width / 2 - 0.5, height / 2 - 0.5)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.maps.depth import inverse_to_depth

__all__ = [
    "MAX_BUDGET",
    "PointCloud",
    "backproject",
    "backproject_pixels",
    "build_point_cloud",
    "even_subsample",
    "pinhole_intrinsics",
]

_REAL = (int, float, np.integer, np.floating)

#: Largest point budget :func:`build_point_cloud` accepts (what a browser 3D chart handles).
MAX_BUDGET = 300_000


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


def _grid_axis(size: int, count: int) -> np.ndarray:
    """``count`` distinct, evenly spaced indices in [0, size), first and last included."""
    if count == 1:
        return np.array([(size - 1) // 2], dtype=np.intp)
    # spacing >= 1, and rounding half up keeps neighbours distinct
    return np.floor(np.linspace(0.0, size - 1.0, count) + 0.5).astype(np.intp)


def even_subsample(height: int, width: int, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Choose an evenly spaced pixel grid with at most ``budget`` points.

    Rows and columns share one (real-valued) stride, the grid reaches all four image
    borders, and the stride is the smallest whose grid fits the budget, so the count is
    as close to ``budget`` as an even grid allows. With ``budget >= height * width``
    every pixel is kept.

    Args:
        height: image height in pixels.
        width: image width in pixels.
        budget: maximum number of grid points, >= 1.

    Returns:
        (rows, cols): 1D increasing intp index arrays; the grid is their outer product,
        ``len(rows) * len(cols) <= budget`` points (select with ``np.ix_(rows, cols)``).

    Example:
        >>> rows, cols = even_subsample(5, 5, 9)
        >>> rows, cols
        (array([0, 2, 4]), array([0, 2, 4]))
    """
    height = _check_int(height, "height", 1)
    width = _check_int(width, "width", 1)
    budget = _check_int(budget, "budget", 1)
    if height * width <= budget:
        return np.arange(height, dtype=np.intp), np.arange(width, dtype=np.intp)
    # The count ceil(H / t) * ceil(W / t) only changes at strides t = H / k or W / k:
    # try them all and keep the densest grid within the budget.
    ny = np.arange(1, height + 1, dtype=np.int64)
    nx_for_ny = np.minimum(width, np.ceil(width * ny / height - 1e-9)).astype(np.int64)
    nx = np.arange(1, width + 1, dtype=np.int64)
    ny_for_nx = np.minimum(height, np.ceil(height * nx / width - 1e-9)).astype(np.int64)
    rows_n = np.concatenate([ny, ny_for_nx])
    cols_n = np.concatenate([nx_for_ny, nx])
    counts = np.where(rows_n * cols_n <= budget, rows_n * cols_n, 0)
    best = int(np.argmax(counts))  # budget >= 1 makes the 1 x 1 grid always feasible
    return _grid_axis(height, int(rows_n[best])), _grid_axis(width, int(cols_n[best]))


def _ray_slopes(
    rows: np.ndarray, cols: np.ndarray, width: int, height: int, fov_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """x/z per column and y/z per row, float32."""
    fx, fy, cx, cy = pinhole_intrinsics(width, height, fov_deg)
    return ((cols - cx) / fx).astype(np.float32), ((rows - cy) / fy).astype(np.float32)


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


def backproject(
    depth: np.ndarray,
    fov_deg: float,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
) -> np.ndarray:
    """Back-project a depth map (z per pixel) to camera-frame points.

    Pure geometry: non-finite depths give non-finite points; use
    :func:`build_point_cloud` to get a cleaned cloud from inverse depth.

    Args:
        depth: HxW depth (distance along the optical axis, not along the ray).
        fov_deg: horizontal field of view in degrees.
        rows: optional 1D row indices (e.g. from :func:`even_subsample`); default all.
        cols: optional 1D column indices; default all.

    Returns:
        Nx3 float32 (x right, y down, z forward), N = len(rows) * len(cols), in
        row-major order over the grid ``np.ix_(rows, cols)``.

    Example:
        >>> backproject(np.full((3, 3), 2.0, np.float32), 90.0)[4]  # the centre pixel
        array([0., 0., 2.], dtype=float32)
    """
    if not isinstance(depth, np.ndarray):
        raise TypeError(f"depth must be a numpy.ndarray of shape HxW, got {type(depth).__name__}")
    if depth.ndim != 2 or depth.dtype.kind not in "fiu":
        raise ValueError(f"depth must be a real HxW array, got {depth.dtype} shape {depth.shape}")
    height, width = depth.shape
    rows_ = _check_axis(rows, height, "rows")
    cols_ = _check_axis(cols, width, "cols")
    z = depth[np.ix_(rows_, cols_)].astype(np.float32, copy=False)  # len(rows) x len(cols)
    sx, sy = _ray_slopes(rows_, cols_, width, height, fov_deg)
    xyz = np.empty((*z.shape, 3), dtype=np.float32)  # n_rows x n_cols x 3
    xyz[..., 0] = sx[None, :] * z
    xyz[..., 1] = sy[:, None] * z
    xyz[..., 2] = z
    return xyz.reshape(-1, 3)


def backproject_pixels(
    xs: np.ndarray, ys: np.ndarray, depths: np.ndarray, width: int, height: int, fov_deg: float
) -> np.ndarray:
    """Back-project individual (possibly sub-pixel) pixels, e.g. for a measuring tool.

    Args:
        xs: N column coordinates (pixel centres at integers).
        ys: N row coordinates.
        depths: N finite depths (z) of those pixels.
        width: image width in pixels.
        height: image height in pixels.
        fov_deg: horizontal field of view in degrees.

    Returns:
        Nx3 float32 camera-frame points (x right, y down, z forward).

    Example:
        >>> backproject_pixels([3.0], [2.0], [1.0], 4, 3, 90.0)
        array([[0.75, 0.5 , 1.  ]], dtype=float32)
    """
    x = np.atleast_1d(np.asarray(xs, dtype=np.float64))
    y = np.atleast_1d(np.asarray(ys, dtype=np.float64))
    z = np.atleast_1d(np.asarray(depths, dtype=np.float64))
    if x.ndim != 1 or not x.shape == y.shape == z.shape:
        raise ValueError(
            f"xs, ys and depths must be 1D of equal length, got {x.shape}, {y.shape}, {z.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(np.isfinite(z))):
        raise ValueError("xs, ys and depths must be finite")
    fx, fy, cx, cy = pinhole_intrinsics(width, height, fov_deg)
    return np.stack([(x - cx) / fx * z, (y - cy) / fy * z, z], axis=1).astype(np.float32)


@dataclass(frozen=True, eq=False)
class PointCloud:
    """Coloured points in the camera frame (x right, y down, z forward).

    Construction validates shapes and dtypes and that every coordinate is finite, so a
    PointCloud never carries NaN or inf to a chart or a PLY file.

    Attributes:
        xyz: Nx3 float32 coordinates.
        rgb: Nx3 uint8 colours.
    """

    xyz: np.ndarray
    rgb: np.ndarray

    def __post_init__(self) -> None:
        for arr, name, dtype in ((self.xyz, "xyz", np.float32), (self.rgb, "rgb", np.uint8)):
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
                got = getattr(arr, "dtype", type(arr).__name__)
                raise TypeError(f"{name} must be a {np.dtype(dtype)} numpy.ndarray, got {got}")
            if arr.ndim != 2 or arr.shape[1] != 3:
                raise ValueError(f"{name} must have shape Nx3, got {arr.shape}")
        if len(self.xyz) != len(self.rgb):
            raise ValueError(
                f"xyz and rgb must have the same N, got {len(self.xyz)} and {len(self.rgb)}"
            )
        if not np.all(np.isfinite(self.xyz)):
            raise ValueError("xyz must be finite; drop NaN/inf points before building a PointCloud")

    def __len__(self) -> int:
        return len(self.xyz)


def _check_image(image: np.ndarray, shape: tuple[int, int], name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        got = getattr(image, "dtype", type(image).__name__)
        raise TypeError(f"{name} must be a uint8 numpy.ndarray, got {got}")
    if image.shape != (*shape, 3):
        raise ValueError(
            f"{name} must have shape {shape[0]}x{shape[1]}x3 to match the depth map, got {image.shape}"
        )


def build_point_cloud(
    inv_depth: np.ndarray,
    rgb: np.ndarray,
    *,
    fov_deg: float = 60.0,
    scale: float = 1.0,
    shift: float = 0.0,
    near_clip: float | None = None,
    far_clip: float | None = None,
    budget: int = 50_000,
    colors: np.ndarray | None = None,
) -> PointCloud:
    """Build a coloured point cloud from relative inverse depth.

    Depth is ``1 / (scale * inv_depth + shift)`` (:func:`core.maps.depth.inverse_to_depth`).
    Pixels whose depth is invalid (non-positive or non-finite denominator) or outside
    [near_clip, far_clip] are dropped. The kept points come from an even pixel grid
    (:func:`even_subsample`) sized so that about ``budget`` of them survive, then thinned
    evenly to at most ``budget``. Only the sampled pixels are converted, so the cost
    scales with the budget, not with the image.

    Args:
        inv_depth: HxW relative inverse depth (larger = nearer).
        rgb: HxWx3 uint8 image the depth was predicted from.
        fov_deg: assumed horizontal field of view in degrees.
        scale: positive scale applied to inverse depth.
        shift: shift added after scaling.
        near_clip: drop points with depth < near_clip (same units as depth).
        far_clip: drop points with depth > far_clip.
        budget: maximum number of points, in [1, MAX_BUDGET].
        colors: optional HxWx3 uint8 image to colour the points with instead of
            ``rgb`` (e.g. a colorized depth map).

    Returns:
        The cloud; empty (N = 0) when no pixel is valid.
    """
    if not isinstance(inv_depth, np.ndarray) or inv_depth.ndim != 2:
        got = getattr(inv_depth, "shape", type(inv_depth).__name__)
        raise ValueError(f"inv_depth must be an HxW numpy.ndarray, got {got}")
    height, width = inv_depth.shape
    _check_image(rgb, (height, width), "rgb")
    if colors is not None:
        _check_image(colors, (height, width), "colors")
    budget = _check_int(budget, "budget", 1)
    if budget > MAX_BUDGET:
        raise ValueError(f"budget must be in [1, {MAX_BUDGET}], got {budget}")
    _check_fov(fov_deg)
    for value, name in ((near_clip, "near_clip"), (far_clip, "far_clip")):
        if value is not None and not (np.isfinite(value) and value >= 0.0):
            raise ValueError(f"{name} must be a finite number >= 0 or None, got {value}")
    if near_clip is not None and far_clip is not None and near_clip > far_clip:
        raise ValueError(f"near_clip must be <= far_clip, got {near_clip} > {far_clip}")

    def sample(n_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        rows, cols = even_subsample(height, width, n_points)
        z, valid = inverse_to_depth(inv_depth[np.ix_(rows, cols)], scale, shift)  # grid f32, bool
        if near_clip is not None:
            valid &= z >= near_clip
        if far_clip is not None:
            valid &= z <= far_clip
        return rows, cols, z, valid

    rows, cols, z, valid = sample(budget)
    kept, grid = int(np.count_nonzero(valid)), valid.size
    if kept < grid and grid < height * width:
        # denser grid so that about `budget` valid points remain (all pixels if none seen)
        dense = height * width if kept == 0 else min(height * width, budget * grid // kept)
        rows, cols, z, valid = sample(dense)

    sx, sy = _ray_slopes(rows, cols, width, height, fov_deg)
    r_idx, c_idx = np.nonzero(valid)  # row-major order
    if len(r_idx) > budget:
        pick = np.floor(np.linspace(0.0, len(r_idx) - 1.0, budget) + 0.5).astype(np.intp)
        r_idx, c_idx = r_idx[pick], c_idx[pick]
    zs = z[r_idx, c_idx]  # N float32
    xyz = np.stack([sx[c_idx] * zs, sy[r_idx] * zs, zs], axis=1)  # Nx3 float32
    source = rgb if colors is None else colors
    colours = source[rows[r_idx], cols[c_idx]]  # Nx3 uint8
    return PointCloud(xyz=xyz.astype(np.float32, copy=False), rgb=np.ascontiguousarray(colours))
