"""Stereo and 3D Photo: stereo pairs, a red-cyan anaglyph, a wiggle GIF and an orbit video of the photo.

The strength is read with the shared intrinsics (:func:`ui.intrinsics.current_fov`): after a
calibration on the Calibrate page it is also a camera baseline in centimetres
(:func:`core.geometry.stereo.baseline_m`), and a baseline can set it.
"""

from __future__ import annotations

import streamlit as st

from core.geometry.camera import focal_px_from_fov
from core.geometry.intrinsics import FieldOfView
from core.geometry.stereo import baseline_m, compose, depth_range, stereo_pair, strength_for_baseline
from core.io.exports import file_stem, jpeg_bytes, stereo_png_bytes
from core.io.metadata import facts_for
from core.maps.display import downscale
from core.video.photo3d import MAX_ANIMATION_WIDTH, wiggle_gif
from ui import cache
from ui.calibration_table import owner, stored_calibration
from ui.current import CurrentPrediction, current_prediction
from ui.inline_image import data_url
from ui.intrinsics import current_fov

_LAYOUTS = {
    "Anaglyph (red-cyan)": "anaglyph",
    "Side by side (parallel)": "sbs",
    "Side by side (cross-eyed)": "cross",
    "Top-bottom": "tb",
}
_FILLS = {"From the background": "background", "OpenCV inpainting (Telea)": "telea"}
_PREVIEW_WIDTH = 720  # px per view on screen: a side-by-side pair stays within what st.image shows unscaled
_GIF_PREVIEW_WIDTH = 480
_ORBIT_PREVIEW_WIDTH = 640
_ORBIT_FOR = "stereo_orbit_for"  # session key: the settings the orbit preview was made for (a small tuple)
_STRENGTH = (0.5, 10.0, 0.1)  # the strength slider: min, max, step (% of the width)
_BASELINE_PROBLEM = "stereo_baseline_problem"  # session key: (photo, baseline in cm, why it set no strength)
_FOV_SOURCE = {"default": "the default", "exif": "from the photo's EXIF", "override": "your setting"}

st.title("Stereo and 3D Photo")
st.info(
    "**Depth-image-based rendering.** Each pixel moves sideways by a disparity proportional to its relative "
    "inverse depth, nearer pixels drawn over farther ones, and the holes this opens behind edges are filled. "
    "MiDaS's depth is relative, so the strength is a choice: the disparity between the nearest and the "
    "farthest pixel, as a percentage of the width. The convergence says which depth sits at the screen. "
    "Once the photo is calibrated to metres, the strength is also a distance between two cameras.",
    icon=":material/3d_rotation:",
)

current = current_prediction()
if current is None:
    st.stop()


@st.fragment
def stereo_view(current: CurrentPrediction) -> None:
    """The controls, the live previews and the downloads; reruns alone, never the network."""
    c1, c2, c3 = st.columns(3)
    strength = c1.slider("Strength (% of the width)", *_STRENGTH[:2], step=_STRENGTH[2], key="stereo_strength",
                         persist_state="session",
                         help="The disparity between the nearest and the farthest pixel. About 3 % is comfortable "
                         "on a screen; more looks deeper and is harder to fuse.")
    fov = current_fov()  # the shared intrinsics: EXIF, default or override
    baseline = _baseline(c1, current, strength, fov)
    convergence = c2.slider("Convergence plane", 0.0, 1.0, step=0.05, key="stereo_convergence",
                            persist_state="session",
                            help="Which depth sits at the screen (zero disparity), from 0 = the farthest (everything "
                            "comes out of the screen) to 1 = the nearest (everything behind it). The wiggle and "
                            "the orbit pivot about it.")
    layout_label = c3.radio("Preview", list(_LAYOUTS), key="stereo_layout", persist_state="session",
                            help="Parallel: the left eye looks at the left image. Cross-eyed: the right image is "
                            "on the left. Anaglyph: red filter on the left eye, cyan on the right.")
    fill_label = c3.radio("Fill holes", list(_FILLS), key="stereo_fill", persist_state="session",
                          help="From the background: the hole repeats the pixel on its far side, so the "
                          "foreground never smears into it. Telea blends both sides.")
    layout, fill = _LAYOUTS[layout_label], _FILLS[fill_label]

    rgb_small, depth_small = current.display()
    rgb_view, depth_view = downscale(rgb_small, _PREVIEW_WIDTH), downscale(depth_small, _PREVIEW_WIDTH)
    pair = stereo_pair(rgb_view, depth_view, strength, convergence, fill=fill)
    if pair.disparity.note:
        st.warning(pair.disparity.note, icon=":material/warning:")
    height, width = current.rgb.shape[:2]
    left, right = st.columns([2, 1])
    left.image(data_url(jpeg_bytes(compose(pair.left.image, pair.right.image, layout))),
               caption=f"{layout_label}, preview", width="stretch")
    left.caption(
        f"Strength {strength:g} % = **{strength / 100 * width:.0f} px** between the nearest and the farthest pixel "
        f"at full resolution ({width}×{height}); convergence {convergence:g}. "
        f"{pair.left.holes.mean():.1%} of the left view's pixels were holes, now filled."
    )
    gif = wiggle_gif(rgb_view, depth_view, strength, convergence, fill=fill, max_width=_GIF_PREVIEW_WIDTH)
    right.image(data_url(gif), caption="Wiggle 3D photo, preview", width="stretch")
    right.caption("The camera swings between the left and the right view; the convergence depth stays still.")

    _orbit(current, strength, convergence, fill)
    _downloads(current, strength, convergence, fill, fov, baseline)


def _camera(fov: FieldOfView) -> str:
    """The field of view in a few words: ``field of view 60°, the default``."""
    return f"field of view {round(fov.degrees, 1):g}°, {_FOV_SOURCE[fov.source]}"


def _set_strength_from_baseline(photo: str, width: int, focal_px: float, inv_near: float, inv_far: float) -> None:
    """on_change of the baseline box and on_click of its button: the strength of that baseline, or why not."""
    baseline_cm = st.session_state.get("stereo_baseline_cm")
    if baseline_cm is None:
        return
    try:
        pct = strength_for_baseline(float(baseline_cm) / 100.0, width, focal_px, inv_near, inv_far,
                                    min_pct=_STRENGTH[0], max_pct=_STRENGTH[1])
    except ValueError as e:
        st.session_state[_BASELINE_PROBLEM] = (photo, float(baseline_cm), f"The strength stays as it is: {e}.")
        return
    st.session_state[_BASELINE_PROBLEM] = None
    st.session_state["stereo_strength"] = round(pct, 1)  # the slider's step


def _baseline(box, current: CurrentPrediction, strength: float, fov: FieldOfView) -> float | None:
    """Under the strength: the camera baseline it means (after a calibration), and a baseline that sets it.

    Returns:
        The baseline in metres, or None without a calibration of this photo.
    """
    height, width = current.rgb.shape[:2]
    photo = owner(current.digest, width, height)
    cal = stored_calibration(st.session_state, current.depth, photo)  # the Calibrate page's points, fitted again
    if cal is None:
        box.caption("A baseline in centimetres needs a metric scale, and relative depth has none: calibrate this "
                    "photo on the Calibrate to Metres page first.")
        box.page_link("app_pages/calibrate.py", label="Calibrate to Metres", icon=":material/square_foot:")
        return None
    lo, hi = depth_range(current.depth)  # the values the views count as the farthest and the nearest
    focal = focal_px_from_fov(width, fov.degrees)
    inv_near, inv_far = cal.inverse_depth_at(hi), cal.inverse_depth_at(lo)  # 1/m
    try:
        baseline = baseline_m(strength, width, focal, inv_near, inv_far)
    except ValueError as e:
        box.caption(f"No camera baseline for this calibration: {e}.")
        return None
    box.caption(f"Strength {strength:g} % = two cameras **{baseline * 100:.1f} cm** apart ({_camera(fov)}; metric "
                "scale from the Calibrate page).")
    args = (photo, width, focal, inv_near, inv_far)
    box.number_input("Set the strength from a baseline (cm)", min_value=0.1, max_value=1000.0, step=0.1,
                     format="%.1f", key="stereo_baseline_cm", persist_state="session",
                     on_change=_set_strength_from_baseline, args=args,
                     help="The distance between the two cameras; 6.3 cm is the distance between human eyes. "
                     "The strength is rounded to the slider's 0.1 % step. Uses the calibration and the field of "
                     "view (set on the 3D Point Cloud, 3D Mesh or Calibrate page).")
    box.button("Use this baseline", key="stereo_use_baseline", icon=":material/straighten:",
               on_click=_set_strength_from_baseline, args=args)
    problem = st.session_state.get(_BASELINE_PROBLEM)
    if problem and problem[:2] == (photo, float(st.session_state.get("stereo_baseline_cm") or 0.0)):
        box.warning(problem[2], icon=":material/warning:")
    return baseline


def _orbit(current: CurrentPrediction, strength: float, convergence: float, fill: str) -> None:
    """The orbit video: made on request (it takes a few seconds), then kept for these settings."""
    st.subheader("Orbit video")
    settings = (current.digest, current.info.size, current.info.sha256, float(strength), float(convergence), fill)
    rgb_small, depth_small = current.display()
    if st.button("Make the orbit video", key="stereo_make_orbit", icon=":material/360:",
                 help=f"4 s, 25 fps, H.264, at most {_ORBIT_PREVIEW_WIDTH} px wide; the download below is full size."):
        st.session_state[_ORBIT_FOR] = settings
    if st.session_state.get(_ORBIT_FOR) != settings:
        st.caption("The camera goes once round a small circle: the left view, up, the right view, down.")
        return
    video = cache.orbit_video(*settings, _ORBIT_PREVIEW_WIDTH, rgb_small, depth_small)
    st.video(video, format="video/mp4", loop=True, autoplay=True, muted=True)


def _downloads(current: CurrentPrediction, strength: float, convergence: float, fill: str, fov: FieldOfView,
               baseline: float | None) -> None:
    """Full-resolution files, each made when its button is clicked."""
    rgb, depth = current.rgb, current.depth
    stem = file_stem(current.name)
    facts = facts_for(current.info, rgb.shape[1], rgb.shape[0])  # each file states them and its settings
    camera = {"fov": fov, "baseline_m": baseline}

    def layout_png(layout: str):
        return lambda: stereo_png_bytes(rgb, depth, layout, strength, convergence, fill, facts, **camera)

    def wiggle() -> bytes:
        return wiggle_gif(rgb, depth, strength, convergence, fill=fill, facts=facts, **camera)

    def orbit_mp4() -> bytes:
        from core.video.photo3d import orbit_mp4_bytes

        return orbit_mp4_bytes(rgb, depth, strength, convergence, fill=fill, facts=facts, **camera)

    st.subheader("Downloads")
    st.caption(f"Stereo images at full resolution; the GIF and the video at most {MAX_ANIMATION_WIDTH} px wide. "
               "Each file is made when you click its button.")
    buttons = (
        ("stereo_dl_anaglyph", "Anaglyph PNG", layout_png("anaglyph"), f"{stem}_anaglyph.png", "image/png"),
        ("stereo_dl_sbs", "Side by side PNG", layout_png("sbs"), f"{stem}_sbs.png", "image/png"),
        ("stereo_dl_cross", "Cross-eyed PNG", layout_png("cross"), f"{stem}_cross.png", "image/png"),
        ("stereo_dl_tb", "Top-bottom PNG", layout_png("tb"), f"{stem}_tb.png", "image/png"),
        ("stereo_dl_wiggle", "Wiggle GIF", wiggle, f"{stem}_wiggle.gif", "image/gif"),
        ("stereo_dl_orbit", "Orbit MP4", orbit_mp4, f"{stem}_orbit.mp4", "video/mp4"),
    )
    for column, (key, label, data, file_name, mime) in zip(st.columns(len(buttons)), buttons):
        column.download_button(label, data=data, file_name=file_name, mime=mime, key=key, on_click="ignore",
                               icon=":material/download:", width="stretch")


stereo_view(current)
