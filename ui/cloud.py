"""The 3D page's point cloud settings, read from the session.

The cloud itself is :func:`core.geometry.pointcloud.build_cloud`: the 3D Point Cloud page
(chart and .ply) and the Depth Explorer's .ply download call it with these settings, so
both export the same points for the same settings.
"""

from __future__ import annotations

from core.geometry.pointcloud import CloudSettings
from ui.intrinsics import current_fov
from ui.settings import setting

__all__ = ["cloud_settings"]


def cloud_settings() -> CloudSettings:
    """The current settings from the session (defaults before the page was visited)."""
    return CloudSettings(
        fov_deg=current_fov().degrees,  # the shared intrinsics: EXIF, default or override
        scale=float(setting("pc_scale")),
        shift=float(setting("pc_shift")),
        keep_pct=tuple(setting("pc_keep_pct")),
        budget=int(setting("pc_budget")),
        colors=str(setting("pc_colors")),
        cmap=str(setting("cmap")),
        clip_pct=tuple(setting("clip_pct")),
        invert=bool(setting("invert")),
    )
