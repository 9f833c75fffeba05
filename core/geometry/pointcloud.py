"""Point clouds from relative inverse depth, through the pinhole camera of :mod:`core.geometry.camera`.

Camera frame (OpenCV convention): x to the right, y DOWN, z forward along the optical
axis, so z is the depth. Units are those of the depth: relative inverse depth has none,
so the cloud's scale and shift are a choice (``scale`` and ``shift`` of
:func:`build_point_cloud`) unless they were calibrated. :func:`build_cloud` turns the 3D
page's settings (:class:`CloudSettings`) into such a cloud, for the chart and the .ply
downloads alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.geometry.camera import _check_fov, _check_int, unproject
from core.maps.colormaps import colorize
from core.maps.normalize import inverse_to_depth
from core.maps.stats import DepthHistogram, DepthStats

__all__ = [
    "COLOR_MODES",
    "MAX_BUDGET",
    "CloudSettings",
    "PointCloud",
    "build_cloud",
    "build_point_cloud",
    "even_subsample",
    "inverse_depth_reference",
]

#: What the 3D page can colour the points by: the photo, or the Depth Explorer's colormap.
COLOR_MODES = ("Image RGB", "Depth colormap")

#: Largest point budget :func:`build_point_cloud` accepts (what a browser 3D chart handles).
MAX_BUDGET = 300_000


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

    Depth is ``1 / (scale * inv_depth + shift)`` (:func:`core.maps.normalize.inverse_to_depth`).
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

    r_idx, c_idx = np.nonzero(valid)  # row-major order
    if len(r_idx) > budget:
        pick = np.floor(np.linspace(0.0, len(r_idx) - 1.0, budget) + 0.5).astype(np.intp)
        r_idx, c_idx = r_idx[pick], c_idx[pick]
    zs = z[r_idx, c_idx]  # N float32
    xyz = unproject(zs, fov_deg, pixels=(cols[c_idx], rows[r_idx]), image_size=(height, width))  # Nx3 float32
    source = rgb if colors is None else colors
    point_colors = source[rows[r_idx], cols[c_idx]]  # Nx3 uint8
    return PointCloud(xyz=xyz.astype(np.float32, copy=False), rgb=np.ascontiguousarray(point_colors))


@dataclass(frozen=True)
class CloudSettings:
    """What the 3D page's controls say (all small values).

    Attributes:
        fov_deg: assumed horizontal field of view.
        scale: multiplies inverse depth divided by its 99th percentile.
        shift: added after scaling; depth = 1 / (scale * d + shift).
        keep_pct: (near, far) percentiles of depth to keep; (0, 100) keeps all.
        budget: maximum number of points.
        colors: one of :data:`COLOR_MODES`.
        cmap, clip_pct, invert: the Depth Explorer's colour settings, for depth colours.
    """

    fov_deg: float
    scale: float
    shift: float
    keep_pct: tuple[float, float]
    budget: int
    colors: str
    cmap: str
    clip_pct: tuple[float, float]
    invert: bool


def inverse_depth_reference(stats: DepthStats) -> float:
    """The value inverse depth is divided by before scaling: its 99th percentile (> 0).

    Falls back to the maximum, then to 1.0, when the percentile is not positive.
    """
    for value in (stats.percentiles.get(99, 0.0), stats.max):
        if value > 0:
            return float(value)
    return 1.0


def _depth_of(inv: float, scale: float, shift: float) -> float | None:
    """Depth ``1 / (scale * inv + shift)`` of one inverse-depth value, None at or beyond infinity.

    Example:
        >>> _depth_of(0.5, 2.0, 0.0), _depth_of(0.0, 2.0, 0.0)
        (1.0, None)
    """
    den = scale * inv + shift
    return 1.0 / den if den > 0 else None


def build_cloud(
    depth: np.ndarray, rgb: np.ndarray, stats: DepthStats, hist: DepthHistogram, settings: CloudSettings
) -> PointCloud:
    """Back-project the map with the 3D page's settings, as its chart and the .ply downloads do.

    The scale applies to inverse depth divided by :func:`inverse_depth_reference`; the kept
    depth percentiles become near and far clips; "Depth colormap" colours the points with
    the Depth Explorer's colormap, clipping and invert. Pure: it reads no UI state, so a
    deferred download can run it outside the script thread.

    Args:
        depth: HxW relative inverse depth, full resolution.
        rgb: HxWx3 uint8 photo.
        stats: statistics of ``depth`` (for the reference value).
        hist: histogram of ``depth`` (for the clipping percentiles).
        settings: the page's settings.

    Returns:
        The cloud of :func:`build_point_cloud` for those settings.
    """
    scale = settings.scale / inverse_depth_reference(stats)  # applied to raw values
    near_pct, far_pct = settings.keep_pct
    # depth falls as inverse depth rises: the near end of depth is the high end of inverse depth
    inv_near, inv_far = hist.percentiles([100.0 - near_pct, 100.0 - far_pct])
    near_clip = _depth_of(float(inv_near), scale, settings.shift) if near_pct > 0 else None
    far_clip = _depth_of(float(inv_far), scale, settings.shift) if far_pct < 100 else None
    if near_clip is not None and far_clip is not None and near_clip > far_clip:
        near_clip = far_clip
    colors = None
    if settings.colors == COLOR_MODES[1]:
        lo, hi = hist.percentiles(settings.clip_pct)
        colors = colorize(depth, settings.cmap, float(lo), float(hi), settings.invert)  # HxWx3 uint8
    return build_point_cloud(
        depth,
        rgb,
        fov_deg=settings.fov_deg,
        scale=scale,
        shift=settings.shift,
        near_clip=near_clip,
        far_clip=far_clip,
        budget=settings.budget,
        colors=colors,
    )
