"""The camera's field of view in the app: one choice, shared by every 3D view.

The point cloud (its chart and every .ply), the 3D Mesh page and the Calibrate page's
measuring tool read :func:`current_fov`; :func:`fov_controls` draws the choice. Three modes
(the ``fov_mode`` setting): the photo's EXIF (or the 60° default, and the page says which),
an FOV in degrees (the ``pc_fov`` slider), or a focal length in pixels (``focal_px``). Moving
the FOV slider is an override, so it switches the mode to "Field of view"; in the photo mode
the slider shows the photo's value, rounded.
"""

from __future__ import annotations

import streamlit as st

from core.geometry.camera import focal_px_from_fov
from core.geometry.intrinsics import DEFAULT_FOV_DEG, FieldOfView, resolve_fov
from core.io.images import ImageDecodeError
from ui import cache
from ui.image_source import selected_image
from ui.settings import setting

__all__ = ["FOV_MODES", "current_fov", "fov_controls"]

#: What the field of view comes from: the photo (EXIF or default), an FOV, a focal length in pixels.
FOV_MODES = ("From the photo", "Field of view", "Focal length (px)")

_SLIDER = (20, 120)  # the pc_fov slider's range, degrees


def _photo() -> tuple[FieldOfView, int | None]:
    """The current photo's EXIF field of view and its decoded width (None without a usable photo)."""
    choice = selected_image()
    if choice is None:
        return FieldOfView(DEFAULT_FOV_DEG, "default", f"{DEFAULT_FOV_DEG:g}° horizontal field of view: the default"), None
    photo = cache.exif_fov(choice.digest, choice.data)
    try:
        width = int(cache.decode(choice.digest, choice.data).shape[1])
    except ImageDecodeError:
        width = None
    return photo, width


def current_fov() -> FieldOfView:
    """The field of view every 3D view uses now, with its ``note`` for the page."""
    photo, width = _photo()
    mode = setting("fov_mode")
    if mode == FOV_MODES[1]:
        return resolve_fov(photo, width or 1, fov_deg=float(setting("pc_fov")))
    focal = setting("focal_px")
    if mode == FOV_MODES[2] and focal and width:
        return resolve_fov(photo, width, focal_px=float(focal))
    return photo


def _to_fov_mode() -> None:
    st.session_state["fov_mode"] = FOV_MODES[1]


def fov_controls(container=None, *, compact: bool = False) -> FieldOfView:
    """Draw the field-of-view choice (mode, FOV slider, focal length) and return the result.

    Args:
        container: where to draw (a column); default the page.
        compact: put the note in the slider's help instead of a caption.

    Returns:
        :func:`current_fov` after the widgets' values.
    """
    box = container if container is not None else st
    photo, width = _photo()
    mode = setting("fov_mode")
    if mode == FOV_MODES[2] and not setting("focal_px") and width:
        # start the focal length at what the field of view shown now gives
        st.session_state["focal_px"] = round(focal_px_from_fov(width, float(setting("pc_fov"))), 1)
    if mode != FOV_MODES[1]:  # the slider shows what is used; moving it overrides
        shown = current_fov().degrees
        st.session_state["pc_fov"] = int(min(max(round(shown), _SLIDER[0]), _SLIDER[1]))
    box.radio("Field of view from", FOV_MODES, key="fov_mode", persist_state="session", horizontal=True,
              help="The photo's EXIF (FocalLengthIn35mmFilm, or FocalLength with the sensor size) when it has "
              "them, else 60°. Or set it: in degrees, or as a focal length in pixels.")
    fov = current_fov()
    box.slider("Field of view (horizontal, degrees)", *_SLIDER, step=1, key="pc_fov", persist_state="session",
               on_change=_to_fov_mode,
               help="Of the camera that took the photo; phones: about 65–75°. Moving it overrides the photo's. "
               "Shared by the point cloud, the mesh and the measuring tool.")
    if setting("fov_mode") == FOV_MODES[2]:
        box.number_input("Focal length (pixels of this image)", min_value=1.0, max_value=1e6, step=10.0,
                         key="focal_px", persist_state="session",
                         help="fx in pixels of the image as shown; the field of view is 2·atan(W / 2 / fx).")
        fov = current_fov()
    box.caption(f"Camera: {fov.note}.")
    return fov
