"""3D Point Cloud: the photo back-projected through a pinhole camera, in WebGL."""

from __future__ import annotations


import streamlit as st

from core.io.exports import file_stem, ply_bytes
from core.geometry.pointcloud import COLOR_MODES, MAX_BUDGET, build_cloud, inverse_depth_reference
from ui.camera_keeper import keep_camera
from ui.charts import AXIS_LABEL, point_cloud_figure
from ui.cloud import cloud_settings
from ui.current import CurrentPrediction, current_prediction
from ui.intrinsics import fov_controls

st.title("3D Point Cloud")
st.info(
    "**The geometry is relative until calibrated.** MiDaS predicts relative inverse depth, known only up to "
    "an unknown scale and shift, and the camera's field of view is a guess. Shapes and orderings are "
    "meaningful; sizes and distances are not metres.",
    icon=":material/straighten:",
)

current = current_prediction()
if current is None:
    st.stop()


@st.fragment
def cloud_view(current: CurrentPrediction) -> None:
    """The controls and the chart; reruns alone, never the network."""
    stats, hist = current.summary()
    reference = inverse_depth_reference(stats)

    c1, c2, c3 = st.columns(3)
    fov_controls(c1)  # the photo's EXIF, the default or the user's: shared with the mesh and the measuring tool
    c1.slider("Point budget", 5_000, MAX_BUDGET, step=5_000, key="pc_budget", persist_state="session",
              help="Points are taken on an even pixel grid, then thinned evenly to this number.")
    c2.slider("Scale", 0.1, 10.0, step=0.1, key="pc_scale", persist_state="session")
    c2.slider("Shift", 0.0, 2.0, step=0.01, key="pc_shift", persist_state="session",
              help="Added after scaling. 0 sends the farthest pixels to infinity (they are dropped).")
    c3.slider("Keep depth percentiles (near, far)", 0.0, 100.0, step=0.5, key="pc_keep_pct", persist_state="session",
              help="Near/far clipping: drop the nearest and farthest points by depth percentile.")
    c3.radio("Colour by", COLOR_MODES, key="pc_colors", persist_state="session", horizontal=True,
             help="Depth colours use the Depth Explorer's colormap, clipping and invert.")

    settings = cloud_settings()
    st.latex(r"\text{depth} = \dfrac{1}{\text{scale} \times d \,/\, %s + \text{shift}}" % f"{reference:.4g}")
    st.caption(
        f"d is the {AXIS_LABEL}; {reference:.4g} is its 99th percentile, so d/{reference:.4g} runs from about "
        "0 (far) to 1 (near). The resulting depth has no unit."
    )
    cloud = build_cloud(current.depth, current.rgb, stats, hist, settings)
    if len(cloud) == 0:
        st.warning("No point survives these settings: raise the shift or widen the kept percentiles.")
        return
    # the views and "Reset view" are buttons in the chart: they move the camera in the browser, and the
    # camera the user chose is kept when a slider redraws the chart, until another photo is shown
    st.plotly_chart(point_cloud_figure(cloud, "Front", uirevision=current.digest), key="cloud_chart",
                    config={"displaylogo": False})
    keep_camera("cloud_chart")

    stem = file_stem(current.name)
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.caption(
        f"Showing **{len(cloud):,} points** of {current.rgb.shape[0] * current.rgb.shape[1]:,} pixels · "
        f"field of view {settings.fov_deg:.1f}° · drag to rotate, scroll to zoom, or pick a view above the chart."
    )
    right.download_button(
        "Point cloud .ply", data=lambda: ply_bytes(cloud), file_name=f"{stem}_point_cloud.ply",
        mime="application/octet-stream", key="pc_download_ply", on_click="ignore", icon=":material/download:",
        help="Exactly the points shown (binary little-endian PLY: x y z, red green blue; camera frame, y down).",
        width="stretch",
    )


cloud_view(current)
