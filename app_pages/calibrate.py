"""Calibrate to Metres: fit scale and shift from pixels of known distance, then measure in 3D."""

from __future__ import annotations

import re

import numpy as np
import streamlit as st

from core.calibration import Calibration, CalibrationError, calibrate, measure_distance
from core.calibration_examples import EXAMPLE_KINDS, example_points
from core.exports import ply_bytes
from core.metric_depth import depth_npy_m_bytes, depth_png16_mm_bytes, metric_histogram, metric_stats
from core.pointcloud import build_point_cloud
from ui.calibration_table import COLUMNS, apply_editor_changes, frame_to_rows, points_from_rows, rows_to_frame
from ui.charts import CAMERA_PRESETS, point_cloud_figure
from ui.click_image import Marker, clickable_image_figure, clicked_pixel
from ui.current import CurrentPrediction, current_prediction
from ui.settings import setting
from ui.teaching_charts import metres_heatmap_figure, metres_histogram_figure

st.title("Calibrate to Metres")
st.markdown(
    "MiDaS gives **relative inverse depth** $d$: no unit, unknown scale and shift. Tell the app the true "
    "distance of two or more pixels and it fits the scale $s$ and shift $t$ in inverse-depth space, by least "
    "squares, so the whole map becomes metres:"
)
st.latex(r"\frac{1}{z_i} \approx s\,d_i + t \quad\Rightarrow\quad z = \frac{1}{s\,d + t}\ \text{metres}")
st.caption(
    "A distance here is the depth along the camera's axis (how far in front of the camera), which is what a "
    "depth map stores; near the image centre it is the straight-line distance. Two points give an exact fit; "
    "with more, the residuals show how well the model's relative depths agree with yours."
)

current = current_prediction()
if current is None:
    st.stop()

_POINTS, _FOR, _VERSION, _CLICKS = "cal_points", "cal_for", "cal_version", "cal_clicks"
_MODES = ("Add a calibration point", "Set measuring point A", "Set measuring point B")
_MEASURE_KEYS = ("measure_ax", "measure_ay", "measure_bx", "measure_by")


def _stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name.rsplit(".", 1)[0]).strip("_") or "image"


def _store(rows: list[dict]) -> None:
    """Replace the points; a new editor key makes the table start from them."""
    st.session_state[_POINTS] = rows
    st.session_state[_VERSION] = st.session_state.get(_VERSION, 0) + 1


def _load_example(depth: np.ndarray, kind: str) -> None:
    points = example_points(depth, kind)  # type: ignore[arg-type]
    _store([{"x": p.x, "y": p.y, "distance_m": p.distance_m} for p in points])


def _fold_edits(editor_key: str) -> None:
    """on_change of the table: keep its edits in the stored rows, then start a fresh table."""
    _store(apply_editor_changes(st.session_state.get(_POINTS, []), st.session_state.get(editor_key) or {}))


def _reset_for(current: CurrentPrediction) -> None:
    """Points belong to one photo: start empty when the photo changes."""
    height, width = current.rgb.shape[:2]
    owner = f"{current.digest}:{width}x{height}"
    fresh = st.session_state.get(_FOR) != owner
    if fresh:
        st.session_state[_FOR] = owner
        _store([])
    defaults = (width // 4, height // 2, (3 * width) // 4, height // 2)
    for key, value in zip(_MEASURE_KEYS, defaults):
        if fresh or key not in st.session_state:  # widget values are forgotten on other pages
            st.session_state[key] = value


def _residual_table(cal: Calibration, depth: np.ndarray) -> None:
    rows = []
    for i, (p, r) in enumerate(zip(cal.points, cal.residuals_m), start=1):
        d = float(depth[p.y, p.x])
        rows.append({
            "point": i, "x (px)": p.x, "y (px)": p.y, "relative inverse depth d": round(d, 6),
            "your distance (m)": p.distance_m, "calibrated (m)": round(cal.depth_at(d), 6),
            "residual (m)": round(r, 6),
        })
    st.dataframe(rows, hide_index=True, key="cal_residuals")


@st.fragment
def calibration_view(current: CurrentPrediction) -> None:
    """Picking, fitting and everything in metres; reruns alone, never the network."""
    _reset_for(current)
    height, width = current.rgb.shape[:2]
    rgb_small, _ = current.display()
    rows: list[dict] = st.session_state[_POINTS]
    version = st.session_state.get(_VERSION, 0)

    st.subheader("1. Pixels with a known distance")
    mode = st.radio("A click on the photo will…", _MODES, key="cal_click_mode", horizontal=True)
    markers = [Marker(r["x"], r["y"], str(i)) for i, r in enumerate(rows, start=1)]
    a = (int(st.session_state["measure_ax"]), int(st.session_state["measure_ay"]))
    b = (int(st.session_state["measure_bx"]), int(st.session_state["measure_by"]))
    markers += [Marker(*a, "A", "#ffd54f"), Marker(*b, "B", "#ff7043")]
    figure = clickable_image_figure(rgb_small, (height, width), markers, current.depth, "relative inverse depth")
    clicks = st.session_state.get(_CLICKS, 0)
    event = st.plotly_chart(figure, key=f"cal_pick_{clicks}", on_select="rerun", selection_mode="points",
                            config={"displaylogo": False})
    st.caption("Hover to see each pixel's coordinates and value; click to pick it. Numbered circles are your "
               "calibration points, A and B the ends of the measuring tool.")

    editor_key = f"cal_table_{version}"
    edited = st.data_editor(
        rows_to_frame(rows),
        key=editor_key,
        on_change=_fold_edits,
        args=(editor_key,),
        num_rows="dynamic",
        hide_index=True,
        column_config={
            COLUMNS[0]: st.column_config.NumberColumn(min_value=0, max_value=width - 1, step=1, format="%d"),
            COLUMNS[1]: st.column_config.NumberColumn(min_value=0, max_value=height - 1, step=1, format="%d"),
            COLUMNS[2]: st.column_config.NumberColumn(min_value=0.001, step=0.01, format="%.3f",
                                                      help="Distance from the camera, in metres."),
        },
    )
    rows = frame_to_rows(edited)  # the table as shown, edits included

    clicked = clicked_pixel(event, (height, width))
    if clicked is not None:
        if mode == _MODES[0]:
            _store([*rows, {"x": clicked[0], "y": clicked[1], "distance_m": None}])
        else:
            prefix = "measure_a" if mode == _MODES[1] else "measure_b"
            st.session_state[f"{prefix}x"], st.session_state[f"{prefix}y"] = clicked
        st.session_state[_CLICKS] = clicks + 1  # a fresh chart: the same pixel can be clicked again
        st.rerun(scope="fragment")

    examples = st.columns(len(EXAMPLE_KINDS) + 1)
    labels = {"good": "Example: a good pair", "same_depth": "Example: same depth", "wrong_order": "Example: wrong order"}
    for column, (kind, what) in zip(examples, EXAMPLE_KINDS.items()):
        column.button(labels[kind], key=f"cal_example_{kind}", help=what, on_click=_load_example,
                      args=(current.depth, kind), width="stretch")
    examples[-1].button("Clear the points", key="cal_clear", on_click=_store, args=([],), width="stretch")

    points, waiting = points_from_rows(rows)
    if waiting:
        st.info(f"{waiting} picked pixel(s) still need a distance: type it in the table's last column.")
    if len(points) < 2:
        st.info("Give at least **two** pixels with known distances, at clearly different depths: click the photo "
                "and type the distances, type whole rows into the table, or load an example.")
        _explain_ill_posed()
        return

    st.subheader("2. The fit")
    try:
        cal = calibrate(current.depth, points)
    except CalibrationError as e:
        st.error(f"**No calibration: {e}**", icon="🚫")
        _explain_ill_posed(expanded=True)
        return

    rms = float(np.sqrt(np.mean(np.square(cal.residuals_m))))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Scale s", f"{cal.scale:.6g}", help="In 1/z = s·d + t, per unit of relative inverse depth, in 1/m.")
    m2.metric("Shift t (1/m)", f"{cal.shift:.6g}")
    m3.metric("Points used", f"{len(points)}", help="Two points give an exact fit: every residual is 0.")
    m4.metric("RMS residual", f"{rms:.4f} m")
    _residual_table(cal, current.depth)
    st.caption("Residual = calibrated distance at the pixel − your distance. "
               + ("With two points the fit is exact." if len(points) == 2 else
                  "Large residuals mean the model's relative depths disagree with yours at those pixels."))

    depth_m, valid = cal.depth_map(current.depth)  # HxW float32 metres, HxW bool
    _metric_views(current, cal, depth_m, valid)
    _measuring_tool(current, depth_m, valid)
    _explain_ill_posed()


def _metric_views(current: CurrentPrediction, cal: Calibration, depth_m: np.ndarray, valid: np.ndarray) -> None:
    st.subheader("3. The depth map in metres")
    stats = metric_stats(depth_m, valid)
    if not valid.any():
        st.warning("The fit puts every pixel at or beyond infinity: check the distances.")
        return
    invalid = int(valid.size - np.count_nonzero(valid))
    cmap = str(setting("cmap"))
    s1, s2, s3, s4 = st.columns(4)
    s1.metric("Nearest", f"{stats.min:.2f} m")
    s2.metric("Median", f"{stats.percentiles[50]:.2f} m")
    s3.metric("Farthest", f"{stats.max:.2f} m")
    s4.metric("Pixels beyond infinity", f"{invalid:,}", help="Where s·d + t ≤ 0: the fit has no finite depth there.")
    _, depth_small = current.display()
    small_m, small_valid = cal.depth_map(depth_small)
    lo, hi = stats.percentiles[1], stats.percentiles[99]
    left, right = st.columns(2)
    left.plotly_chart(metres_heatmap_figure(small_m, small_valid, cmap, lo, max(hi, lo + 1e-6)), key="cal_heatmap",
                      config={"displaylogo": False})
    right.plotly_chart(metres_histogram_figure(metric_histogram(depth_m, valid), cmap), key="cal_histogram",
                       config={"displaylogo": False})

    fov = float(setting("pc_fov"))
    budget = int(setting("pc_budget"))
    cloud = build_point_cloud(current.depth, current.rgb, fov_deg=fov, scale=cal.scale, shift=cal.shift,
                              budget=budget)
    camera = st.radio("View the cloud from", tuple(CAMERA_PRESETS), index=2, key="cal_camera", horizontal=True)
    figure = point_cloud_figure(cloud, camera)
    figure.update_layout(scene={"xaxis": {"title": {"text": "x (m)"}}, "yaxis": {"title": {"text": "depth (m)"}},
                                "zaxis": {"title": {"text": "up (m)"}}})
    st.plotly_chart(figure, key="cal_cloud", config={"displaylogo": False})
    st.caption(f"{len(cloud):,} points in metres, field of view {fov:g}° (set below, shared with the 3D Point "
               "Cloud page). Drag to rotate: the axes are in metres.")

    stem = _stem(current.name)
    d1, d2, d3 = st.columns(3)
    d1.download_button("Depth in metres (.npy)", data=lambda: depth_npy_m_bytes(depth_m, valid),
                       file_name=f"{stem}_depth_metres.npy", mime="application/octet-stream", key="cal_dl_npy",
                       on_click="ignore", icon=":material/download:", width="stretch",
                       help="HxW float32, metres; 0 where the fit gives no finite depth.")
    d2.download_button("Depth in millimetres (16-bit PNG)", data=lambda: depth_png16_mm_bytes(depth_m, valid),
                       file_name=f"{stem}_depth_millimetres.png", mime="image/png", key="cal_dl_png16",
                       on_click="ignore", icon=":material/download:", width="stretch",
                       help="uint16 millimetres (up to 65.535 m); 0 = no depth. Readable as ground truth.")
    d3.download_button("Point cloud in metres (.ply)", data=lambda: ply_bytes(cloud),
                       file_name=f"{stem}_point_cloud_metres.ply", mime="application/octet-stream",
                       key="cal_dl_ply", on_click="ignore", icon=":material/download:", width="stretch",
                       help="The points shown, x y z in metres (camera frame, y down), with colours.")


def _measuring_tool(current: CurrentPrediction, depth_m: np.ndarray, valid: np.ndarray) -> None:
    st.subheader("4. Measure between two points")
    height, width = depth_m.shape
    st.markdown("Set **A** and **B** by clicking the photo (choose *Set measuring point A/B* above) or type them. "
                "Each pixel is back-projected through a pinhole camera with this field of view; the straight-line "
                "distance between the two 3D points is in metres.")
    c0, c1, c2, c3, c4 = st.columns([2, 1, 1, 1, 1])
    fov = c0.slider("Field of view (horizontal, degrees)", 20, 120, step=1, key="pc_fov", persist_state="session",
                    help="Of the camera that took the photo. Phones: about 65–75°. Shared with the 3D Point Cloud page.")
    for column, key, label, top in zip((c1, c2, c3, c4), _MEASURE_KEYS, ("A: x", "A: y", "B: x", "B: y"),
                                       (width, height, width, height)):
        st.session_state[key] = min(max(int(st.session_state[key]), 0), top - 1)
        column.number_input(label, min_value=0, max_value=top - 1, step=1, key=key)
    a = (int(st.session_state["measure_ax"]), int(st.session_state["measure_ay"]))
    b = (int(st.session_state["measure_bx"]), int(st.session_state["measure_by"]))
    try:
        distance = measure_distance(depth_m, a, b, float(fov))
    except ValueError as e:
        st.error(f"Cannot measure: {e}")
        return
    r1, r2, r3 = st.columns(3)
    r1.metric("Distance A–B", f"{distance:.3f} m")
    r2.metric("Depth at A", f"{float(depth_m[a[1], a[0]]):.3f} m")
    r3.metric("Depth at B", f"{float(depth_m[b[1], b[0]]):.3f} m")
    st.caption("Only as good as the calibration and the field of view: a wrong FOV stretches sideways distances.")


def _explain_ill_posed(expanded: bool = False) -> None:
    with st.expander("When is a calibration ill-posed?", expanded=expanded):
        st.markdown(
            "- **Points at the same depth.** If the model gives all your pixels (nearly) the same $d$, the line "
            "$1/z = s\\,d + t$ through them is vertical: no scale fits. Pick pixels at clearly different depths, "
            "one near and one far.\n"
            "- **A negative fitted scale.** If you say pixel 1 is nearer than pixel 2 but the model gives pixel 1 "
            "the *smaller* inverse depth, the only fit has $s \\le 0$: nearer would mean smaller $d$, the "
            "opposite of what MiDaS predicts. Either a distance is wrong, or the model has the order wrong there.\n"
            "- **A point at or beyond infinity.** With three or more points the least-squares line can give one "
            "of them $s\\,d + t \\le 0$: no finite distance. The distances are inconsistent with the model.\n\n"
            "In each case the app refuses to produce metres and says why. Try the example buttons above."
        )


calibration_view(current)
