"""Calibrate to Metres: fit scale and shift from pixels of known distance, then measure in 3D."""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from core.measure.calibration import Calibration, CalibrationError, calibrate, check_points, measure_distance
from core.teaching.calibration_examples import EXAMPLE_KINDS, example_points
from core.io.exports import file_stem, ply_bytes
from core.io.metadata import facts_for, png_with_text, sidecar_bytes
from core.measure.metric_depth import MetricRange, depth_npy_m_bytes, depth_png16_mm_bytes, metric_histogram, metric_range
from core.geometry.pointcloud import build_point_cloud
from ui.calibration_table import (
    COLUMNS,
    FOR_KEY,
    POINTS_KEY,
    TableStatus,
    apply_editor_changes,
    frame_to_rows,
    owner,
    place_click,
    points_from_rows,
    rows_to_frame,
)
from ui.charts import CAMERA_PRESETS, point_cloud_figure
from ui.click_image import Marker, clickable_image_figure, clicked_pixel
from ui.current import CurrentPrediction, current_prediction
from ui.intrinsics import current_fov, fov_controls
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

# Session keys: the rows as the user sees them; the rows the current table was built from
# (its edits are relative to them); which photo they belong to; the table's and the
# photo chart's generation (a new one starts empty). The Stereo page reads the rows too.
_POINTS, _BASE, _FOR, _VERSION, _CLICKS = POINTS_KEY, "cal_base", FOR_KEY, "cal_version", "cal_clicks"
_MODES = ("Add a calibration point", "Set measuring point A", "Set measuring point B")
_MEASURE_KEYS = ("measure_ax", "measure_ay", "measure_bx", "measure_by")
_WINDOW = (1.0, 99.0)  # percentiles of the calibrated depth that the views show, as the heatmap's colours


def _editor_key() -> str:
    return f"cal_table_{st.session_state.get(_VERSION, 0)}"


def _store(rows: list[dict]) -> None:
    """Replace the points from outside the table (a click, an example, Clear): a new table shows them."""
    st.session_state[_POINTS] = rows
    st.session_state[_BASE] = rows
    st.session_state[_VERSION] = st.session_state.get(_VERSION, 0) + 1


def _rows_now() -> list[dict]:
    """The rows as the table shows them right now: its base plus the edits the user made."""
    return apply_editor_changes(st.session_state.get(_BASE, []), st.session_state.get(_editor_key()) or {})


def _set_distance(number: int, key: str) -> None:
    """on_change of the distance box under the photo: the typed distance goes into its row."""
    value = st.session_state.get(key)
    rows = _rows_now()
    if value is None or not 0 < number <= len(rows):
        return
    rows[number - 1] = {**rows[number - 1], "distance_m": float(value)}
    _store(rows)


def _load_example(depth: np.ndarray, kind: str) -> None:
    points = example_points(depth, kind)  # type: ignore[arg-type]
    _store([{"x": p.x, "y": p.y, "distance_m": p.distance_m} for p in points])


def _on_pick(chart_key: str, full_hw: tuple[int, int]) -> None:
    """on_select of the photo: the click is handled before the run, so one run shows its row.

    No second run follows that could rebuild the table under a distance being typed.
    """
    clicked = clicked_pixel(st.session_state.get(chart_key), full_hw)
    st.session_state[_CLICKS] = st.session_state.get(_CLICKS, 0) + 1  # a fresh chart: the pixel can be clicked again
    if clicked is None:
        return
    mode = st.session_state.get("cal_click_mode", _MODES[0])
    if mode == _MODES[0]:
        _store(place_click(_rows_now(), *clicked))
    else:
        prefix = "measure_a" if mode == _MODES[1] else "measure_b"
        st.session_state[f"{prefix}x"], st.session_state[f"{prefix}y"] = clicked


def _reset_for(current: CurrentPrediction) -> None:
    """Points belong to one photo: start empty when the photo changes."""
    height, width = current.rgb.shape[:2]
    photo = owner(current.digest, width, height)
    fresh = st.session_state.get(_FOR) != photo
    if fresh:
        st.session_state[_FOR] = photo
        _store([])
    elif _editor_key() not in st.session_state and st.session_state.get(_POINTS) != st.session_state.get(_BASE):
        # back from another page: Streamlit forgot the table's edits, the rows remember them
        st.session_state[_BASE] = st.session_state[_POINTS]
    defaults = (width // 4, height // 2, (3 * width) // 4, height // 2)
    for key, value in zip(_MEASURE_KEYS, defaults):
        if fresh or key not in st.session_state:  # widget values are forgotten on other pages
            st.session_state[key] = value


def _fit(depth: np.ndarray, status: TableStatus) -> tuple[Calibration | None, str | None]:
    """The calibration of the complete rows (None below two), or why there is none."""
    try:
        check_points(status.points, depth.shape, numbers=status.row_numbers)
        if len(status.points) < 2:
            return None, None
        return calibrate(depth, status.points, numbers=status.row_numbers), None
    except CalibrationError as e:
        return None, str(e)


def _rows_list(numbers: list[int]) -> str:
    return ("row " if len(numbers) == 1 else "rows ") + ", ".join(str(n) for n in numbers)


def _residual_table(cal: Calibration, depth: np.ndarray, numbers: list[int]) -> None:
    rows = []
    for n, p, r in zip(numbers, cal.points, cal.residuals_m):
        d = float(depth[p.y, p.x])
        rows.append({
            "point": n, "x (px)": p.x, "y (px)": p.y, "relative inverse depth d": round(d, 6),
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

    st.subheader("1. Pixels with a known distance")
    st.radio("A click on the photo will…", _MODES, key="cal_click_mode", horizontal=True)
    picture = st.container()  # drawn once the fit is known: A and B only mean something with one
    prompt = st.container()  # the distance box of a picked pixel, under the photo
    st.caption("Hover to see each pixel's coordinates and value; click to pick it, then type its distance in the "
               "box under the photo and press Enter (or in the table). A distance typed on the table's empty last "
               "line waits for the next pixel you click. Numbered circles are the table's rows; the measuring "
               "tool's ends A and B appear once there is a calibration.")

    # No min_value or max_value: the grid would drop a typed minus sign or clamp a coordinate
    # without a word; check_points says what is wrong instead.
    edited = st.data_editor(
        rows_to_frame(st.session_state[_BASE]),
        key=_editor_key(),
        num_rows="dynamic",
        hide_index=True,
        column_config={
            COLUMNS[0]: st.column_config.NumberColumn(step=1, format="%d", help=f"Column, 0 to {width - 1}."),
            COLUMNS[1]: st.column_config.NumberColumn(step=1, format="%d", help=f"Row, 0 to {height - 1}."),
            COLUMNS[2]: st.column_config.NumberColumn(step=0.01, format="%.3f",
                                                      help="Distance from the camera, in metres."),
        },
    )
    rows = frame_to_rows(edited)  # the table as shown, edits included
    st.session_state[_POINTS] = rows
    status = points_from_rows(rows)
    cal, problem = _fit(current.depth, status)

    markers = [Marker(r["x"], r["y"], str(n)) for n, r in enumerate(rows, start=1)
               if r["x"] is not None and r["y"] is not None]
    if cal is not None:
        a = (int(st.session_state["measure_ax"]), int(st.session_state["measure_ay"]))
        b = (int(st.session_state["measure_bx"]), int(st.session_state["measure_by"]))
        markers += [Marker(*a, "A", "#ffd54f"), Marker(*b, "B", "#ff7043")]
    chart_key = f"cal_pick_{st.session_state.get(_CLICKS, 0)}"
    with picture:
        st.plotly_chart(clickable_image_figure(rgb_small, (height, width), markers, current.depth,
                                               "relative inverse depth"),
                        key=chart_key, on_select=functools.partial(_on_pick, chart_key, (height, width)),
                        selection_mode="points", config={"displaylogo": False})
    if status.need_distance:
        # a plain number box, not the table's cell editor: the grid loads its editor on the first key
        # pressed, and that key (and an Enter right after it) can be lost; this box never drops one
        number = status.need_distance[0]
        row = rows[number - 1]
        key = f"cal_distance_{number}_{row['x']}_{row['y']}"  # the same box while this pixel waits
        prompt.number_input(f"Distance of point {number} (x {row['x']}, y {row['y']}), in metres", value=None,
                            step=0.1, format="%.3f", key=key, on_change=_set_distance, args=(number, key),
                            placeholder="type it and press Enter",
                            help="Depth in front of the camera, in metres. It goes into the table's row "
                                 f"{number}.")

    examples = st.columns(len(EXAMPLE_KINDS) + 1)
    labels = {"good": "Example: a good pair", "same_depth": "Example: same depth", "wrong_order": "Example: wrong order"}
    for column, (kind, what) in zip(examples, EXAMPLE_KINDS.items()):
        column.button(labels[kind], key=f"cal_example_{kind}", help=what, on_click=_load_example,
                      args=(current.depth, kind), width="stretch")
    examples[-1].button("Clear the points", key="cal_clear", on_click=_store, args=([],), width="stretch")

    if status.need_distance:
        st.info(f"{len(status.need_distance)} picked pixel(s) still need a distance "
                f"({_rows_list(status.need_distance)}): type it in the box under the photo, or in the table's last "
                "column.")
    if status.need_pixel:
        st.info(f"{_rows_list(status.need_pixel)} of the table {'has' if len(status.need_pixel) == 1 else 'have'} "
                "a distance but no pixel: click the photo to place it, or type its x and y.")
    if problem is not None:
        st.error(f"**No calibration: {problem}**", icon=":material/block:")
        _explain_ill_posed(expanded=True)
        return
    if cal is None:
        st.info("Give at least **two** pixels with known distances, at clearly different depths: click the photo "
                "and type the distances, type whole rows into the table, or load an example.")
        _explain_ill_posed()
        return

    st.subheader("2. The fit")
    points = status.points
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Scale s", f"{cal.scale:.6g}", help="In 1/z = s·d + t, per unit of relative inverse depth, in 1/m.")
    m2.metric("Shift t (1/m)", f"{cal.shift:.6g}")
    m3.metric("Points used", f"{len(points)}", help="Two points give an exact fit: every residual is 0.")
    m4.metric("RMS residual", f"{cal.rms_residual_m:.4f} m")
    _residual_table(cal, current.depth, status.row_numbers)
    st.caption("Residual = calibrated distance at the pixel − your distance. "
               + ("With two points the fit is exact." if len(points) == 2 else
                  "Large residuals mean the model's relative depths disagree with yours at those pixels."))

    depth_m, valid = cal.depth_map(current.depth)  # HxW float32 metres, HxW bool
    _metric_views(current, cal, depth_m, valid)
    _measuring_tool(current, depth_m, valid)
    _explain_ill_posed()


def _range_caption(window: MetricRange) -> str:
    """Say which depths the views show and how many pixels lie beyond them."""
    lo_pct, hi_pct = (f"{p:g}" for p in window.percentiles)
    text = (f"The heatmap, the histogram and the point cloud show {window.near_m:,.2f}–{window.far_m:,.2f} m, "
            f"the {lo_pct}th to {hi_pct}th percentile of the calibrated depth. Beyond that range lie "
            f"{window.farther:,} pixels ({window.farther / window.total:.1%}) farther, up to "
            f"{window.farthest_m:,.2f} m, and {window.nearer:,} ({window.nearer / window.total:.1%}) nearer, down to "
            f"{window.nearest_m:,.2f} m: the heatmap draws them in its end colours, the histogram and the cloud leave "
            "them out.")
    if window.no_depth:
        text += (f" {window.no_depth:,} more pixels have no depth at all: the fit puts them at or beyond infinity "
                 "(blank in the heatmap).")
    return text


def _metric_views(current: CurrentPrediction, cal: Calibration, depth_m: np.ndarray, valid: np.ndarray) -> None:
    st.subheader("3. The depth map in metres")
    if not valid.any():
        st.warning("The fit puts every pixel at or beyond infinity: check the distances.")
        return
    window = metric_range(depth_m, valid, _WINDOW)
    near, far = window.near_m, max(window.far_m, window.near_m + 1e-6)
    cmap = str(setting("cmap"))
    s1, s2, s3, s4, s5 = st.columns(5)
    s1.metric(f"Near end (p{window.percentiles[0]:g})", f"{window.near_m:,.2f} m",
              help=f"{window.nearer:,} pixels are nearer; the nearest is {window.nearest_m:,.2f} m.")
    s2.metric("Median", f"{window.median_m:,.2f} m")
    s3.metric(f"Far end (p{window.percentiles[1]:g})", f"{window.far_m:,.2f} m",
              help=f"{window.farther:,} pixels are farther; the farthest is {window.farthest_m:,.2f} m.")
    s4.metric("Pixels beyond the range", f"{window.outside:,}",
              help="Nearer than the near end or farther than the far end: left out of the histogram and the cloud.")
    s5.metric("Pixels beyond infinity", f"{window.no_depth:,}",
              help="Where s·d + t ≤ 0: the fit has no finite depth there.")
    st.caption(_range_caption(window))
    _, depth_small = current.display()
    small_m, small_valid = cal.depth_map(depth_small)
    left, right = st.columns(2)
    left.plotly_chart(metres_heatmap_figure(small_m, small_valid, cmap, near, far), key="cal_heatmap",
                      config={"displaylogo": False})
    title = f"Histogram of the calibrated depth, p{window.percentiles[0]:g}–p{window.percentiles[1]:g}"
    right.plotly_chart(metres_histogram_figure(metric_histogram(depth_m, valid, lo=near, hi=far), cmap, title),
                       key="cal_histogram", config={"displaylogo": False})

    fov = current_fov().degrees  # the shared intrinsics (EXIF, default or override), set in step 4
    budget = int(setting("pc_budget"))
    cloud = build_point_cloud(current.depth, current.rgb, fov_deg=fov, scale=cal.scale, shift=cal.shift,
                              near_clip=near, far_clip=far, budget=budget)
    camera = st.radio("View the cloud from", tuple(CAMERA_PRESETS), index=2, key="cal_camera", horizontal=True)
    figure = point_cloud_figure(cloud, camera, unit="m")  # axes titled in metres
    st.plotly_chart(figure, key="cal_cloud", config={"displaylogo": False})
    st.caption(f"{len(cloud):,} points in metres, between {near:,.2f} and {far:,.2f} m, field of view {fov:.1f}° (set "
               "below, shared with the 3D Point Cloud page). Drag to rotate: the axes are in metres.")

    stem = file_stem(current.name)
    height, width = depth_m.shape
    facts = facts_for(current.info, width, height).metric(cal.scale, cal.shift)  # metres, the fitted s and t
    png_facts = facts.millimetre_png16().text_fields()
    d1, d2, d3, d4 = st.columns(4)
    d1.download_button("Depth in metres (.npy)", data=lambda: depth_npy_m_bytes(depth_m, valid),
                       file_name=f"{stem}_depth_metres.npy", mime="application/octet-stream", key="cal_dl_npy",
                       on_click="ignore", icon=":material/download:", width="stretch",
                       help="HxW float32, metres, every pixel (not only the range shown); 0 where the fit gives no "
                            "finite depth.")
    d2.download_button("Depth in millimetres (16-bit PNG)",
                       data=lambda: png_with_text(depth_png16_mm_bytes(depth_m, valid), png_facts),
                       file_name=f"{stem}_depth_millimetres.png", mime="image/png", key="cal_dl_png16",
                       on_click="ignore", icon=":material/download:", width="stretch",
                       help="uint16 millimetres (up to 65.535 m); 0 = no depth. Readable as ground truth; its text chunks "
                            "give the fitted scale s and shift t.")
    d3.download_button("Point cloud in metres (.ply)", data=lambda: ply_bytes(cloud),
                       file_name=f"{stem}_point_cloud_metres.ply", mime="application/octet-stream",
                       key="cal_dl_ply", on_click="ignore", icon=":material/download:", width="stretch",
                       help="The points shown, x y z in metres (camera frame, y down), with colours.")
    d4.download_button("The .npy's sidecar (.json)", data=lambda: sidecar_bytes(facts.raw("float32", depth_m.shape)),
                       file_name=f"{stem}_depth_metres.npy.json", mime="application/json", key="cal_dl_npy_json",
                       on_click="ignore", icon=":material/download:", width="stretch",
                       help="What the .npy holds: depth in metres, 0 = no depth, the fitted scale s and shift t, "
                            "the model, the weights' SHA-256, N, the image size, the app version.")


def _measuring_tool(current: CurrentPrediction, depth_m: np.ndarray, valid: np.ndarray) -> None:
    st.subheader("4. Measure between two points")
    height, width = depth_m.shape
    st.markdown("Set **A** and **B** by clicking the photo (choose *Set measuring point A/B* above) or type them. "
                "Each pixel is back-projected through a pinhole camera with this field of view; the straight-line "
                "distance between the two 3D points is in metres.")
    c0, c1, c2, c3, c4 = st.columns([2, 1, 1, 1, 1])
    fov = fov_controls(c0).degrees  # shared with the 3D Point Cloud and 3D Mesh pages
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
