"""Widget keys and defaults of the view settings shared by the pages, kept for the session.

A widget of one of these settings is drawn with ``key=<its name>`` and
``persist_state="session"``, Streamlit's own way to keep a widget's value while it is not
drawn: across page switches, and whether it last changed in a full run or inside an
``st.fragment``. :func:`keep_settings` runs at the top of every full run (in
``dashboard.py``) and puts each default into ``st.session_state`` once, so a page can read
a setting (:func:`setting`) before its widget was ever drawn. Widgets take their value from
these keys only (no ``value=`` argument), so there is one source of truth.

Everything stored here is small: strings, numbers and tuples.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.maps.colormaps import COLORMAPS

__all__ = ["COLORMAP_NAMES", "DEFAULTS", "keep_settings", "setting"]

COLORMAP_NAMES: tuple[str, ...] = tuple(COLORMAPS)

DEFAULTS: dict[str, Any] = {
    # Depth Explorer
    "cmap": "inferno",
    "invert": False,
    "clip_pct": (1.0, 99.0),  # (far, near) percentiles of relative inverse depth
    "overlay_opacity": 0.5,
    "hist_log": False,
    # 3D Point Cloud
    "pc_fov": 60,
    "pc_scale": 1.0,
    "pc_shift": 0.1,
    "pc_keep_pct": (0.0, 100.0),  # (near, far) percentiles of depth kept
    "pc_budget": 20_000,  # points: a slider step redraws in ~2 s in software WebGL, not 4-7 s (python -m bench.cloud_view)
    "pc_colors": "Image RGB",
    # Camera intrinsics, shared by every 3D view (ui/intrinsics.py): pc_fov is the FOV override
    "fov_mode": "From the photo",
    "focal_px": None,  # a focal length in pixels, set when the user picks that mode
    # 3D Mesh
    "mesh_cut_on": True,
    "mesh_cut": 0.1,  # relative depth jump: core.geometry.mesh.DEFAULT_CUT
    "mesh_faces": 40_000,  # a slider step redraws in about a second; the downloads take their own budget
    "mesh_export_faces": 200_000,
    "mesh_width_mm": 100.0,
    "mesh_relief_mm": 5.0,
    "mesh_base_mm": 2.0,
    # Stereo and 3D Photo (the labels of app_pages/stereo.py's first layout and fill)
    "stereo_strength": 3.0,  # % of the width
    "stereo_convergence": 0.5,
    "stereo_layout": "Anaglyph (red-cyan)",
    "stereo_fill": "From the background",
    "stereo_baseline_cm": 6.3,  # the distance between human eyes; sets the strength after a calibration
    # Live Camera
    "live_view": "heatmap",
    "live_size": 192,  # N: between 128 (fastest) and 256 (what MiDaS small was trained at)
    "live_mode": "stable",
    # Colormap Lab
    "lab_crop_auto": True,
    "lab_crop_x": 0.5,
    "lab_crop_y": 0.5,
    "lab_crop_size": 32,
}


def keep_settings() -> None:
    """Give every setting its default the first time; never overwrite what the user chose."""
    for key, default in DEFAULTS.items():
        st.session_state.setdefault(key, default)


def setting(key: str) -> Any:
    """The current value of a shared setting (its default before the first run)."""
    return st.session_state.get(key, DEFAULTS[key])
