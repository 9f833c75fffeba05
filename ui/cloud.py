"""The point cloud as the 3D page shows it, from the shared settings.

Used by the 3D Point Cloud page (chart and .ply) and by the Depth Explorer's .ply
download, so both export the same points for the same settings. :func:`build_cloud`
makes no Streamlit call: a deferred download runs it outside the script thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.colormaps import colorize
from core.depth import DepthHistogram, DepthStats
from core.pointcloud import PointCloud, build_point_cloud
from ui.settings import setting

__all__ = ["COLOR_MODES", "CloudSettings", "build_cloud", "cloud_settings", "inverse_depth_reference"]

COLOR_MODES = ("Image RGB", "Depth colormap")


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


def cloud_settings() -> CloudSettings:
    """The current settings from the session (defaults before the page was visited)."""
    return CloudSettings(
        fov_deg=float(setting("pc_fov")),
        scale=float(setting("pc_scale")),
        shift=float(setting("pc_shift")),
        keep_pct=tuple(setting("pc_keep_pct")),
        budget=int(setting("pc_budget")),
        colors=str(setting("pc_colors")),
        cmap=str(setting("cmap")),
        clip_pct=tuple(setting("clip_pct")),
        invert=bool(setting("invert")),
    )


def inverse_depth_reference(stats: DepthStats) -> float:
    """The value inverse depth is divided by before scaling: its 99th percentile (> 0)."""
    for value in (stats.percentiles.get(99, 0.0), stats.max):
        if value > 0:
            return float(value)
    return 1.0


def build_cloud(
    depth: np.ndarray, rgb: np.ndarray, stats: DepthStats, hist: DepthHistogram, settings: CloudSettings
) -> PointCloud:
    """Back-project the map with the page's settings.

    Args:
        depth: HxW relative inverse depth, full resolution.
        rgb: HxWx3 uint8 photo.
        stats: statistics of ``depth`` (for the reference value).
        hist: histogram of ``depth`` (for the clipping percentiles).
        settings: the page's settings.
    """
    scale = settings.scale / inverse_depth_reference(stats)  # applied to raw values

    def depth_of(inv: float) -> float | None:
        den = scale * inv + settings.shift
        return 1.0 / den if den > 0 else None

    near_pct, far_pct = settings.keep_pct
    # depth falls as inverse depth rises: the near end of depth is the high end of inverse depth
    inv_near, inv_far = hist.percentiles([100.0 - near_pct, 100.0 - far_pct])
    near_clip = depth_of(float(inv_near)) if near_pct > 0 else None
    far_clip = depth_of(float(inv_far)) if far_pct < 100 else None
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
