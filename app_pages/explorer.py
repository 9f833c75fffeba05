"""Depth Explorer: the photo, its heatmap, an overlay, a pixel probe, a histogram, stats, downloads."""

from __future__ import annotations

import streamlit as st

from core.maps.colormaps import colorize
from core.maps.view import build_view
from core.io.exports import file_stem, npy_bytes, ply_bytes, png16_bytes, png_bytes, side_by_side
from core.io.float_maps import exr_bytes, pfm_bytes
from core.io.metadata import facts_for, sidecar_bytes
from core.geometry.pointcloud import build_cloud
from ui.charts import AXIS_LABEL, histogram_figure, probe_figure
from ui.cloud import cloud_settings
from ui.current import CurrentPrediction, current_prediction
from ui.inline_image import data_url
from ui.settings import COLORMAP_NAMES

st.title("Depth Explorer")

# Streamlit draws the prediction's spinner over whatever follows it (its slot has no height), which
# was the last run's caption: so the spinner gets a slot of its own, and the caption's slot is blank
# until the prediction is there
status = st.container()
caption_slot = st.space(44)  # px, the spinner's height; replaced below, never emptied, so nothing moves up under it
with status:
    current = current_prediction()
if current is None:
    st.stop()

height, width = current.rgb.shape[:2]
net_h, net_w = current.net_hw
caption_slot.caption(
    f"**{current.name}** · {width}×{height} px · network input {net_w}×{net_h} (N = {current.info.size}) · "
    f"values are {AXIS_LABEL}."
)


def _downloads(current: CurrentPrediction, cmap: str, lo: float, hi: float, invert: bool) -> None:
    """Download buttons whose files are built only when clicked (deferred callables)."""
    stats, hist = current.summary()
    rgb, depth = current.rgb, current.depth  # full resolution
    settings = cloud_settings()
    stem = file_stem(current.name)
    facts = facts_for(current.info, width, height)  # what every file says it holds (core.io.metadata)
    raw = facts.raw("float32", depth.shape)

    def heatmap_png() -> bytes:
        return png_bytes(colorize(depth, cmap, lo, hi, invert), facts.heatmap(cmap, lo, hi, invert))

    def side_by_side_png() -> bytes:
        shown = facts.heatmap(cmap, lo, hi, invert).with_extra(layout="left: the photo, right: the heatmap")
        return png_bytes(side_by_side(rgb, colorize(depth, cmap, lo, hi, invert)), shown)

    def cloud_ply() -> bytes:
        return ply_bytes(build_cloud(depth, rgb, stats, hist, settings))

    st.subheader("Downloads")
    st.caption(f"Full resolution ({width}×{height}); each file is made when you click its button.")
    buttons = (
        ("dl_heatmap", "Heatmap PNG", heatmap_png, f"{stem}_heatmap_{cmap}.png", "image/png",
         "The colour heatmap as shown: this colormap, clipping and invert."),
        ("dl_png16", "16-bit PNG", lambda: png16_bytes(depth, metadata=facts), f"{stem}_inverse_depth_16bit.png",
         "image/png",
         f"Grayscale, 0 = the map's minimum ({stats.min:.4g}, farthest) to 65535 = its maximum "
         f"({stats.max:.4g}, nearest); no clipping."),
        ("dl_npy", "Raw float32 .npy", lambda: npy_bytes(depth), f"{stem}_inverse_depth.npy", "application/octet-stream",
         "The raw relative inverse depth, HxW float32; load with numpy.load(path, allow_pickle=False)."),
        ("dl_side_by_side", "Side-by-side PNG", side_by_side_png, f"{stem}_side_by_side.png", "image/png",
         "The photo and the heatmap next to each other."),
        ("dl_ply", "Point cloud .ply", cloud_ply, f"{stem}_point_cloud.ply", "application/octet-stream",
         f"{settings.budget:,} points at most, with the 3D Point Cloud page's settings (relative geometry)."),
    )
    floats = (  # for VFX and 3D tools; the PNGs carry the same facts in text chunks
        ("dl_npy_json", "The .npy's sidecar (.json)", lambda: sidecar_bytes(raw), f"{stem}_inverse_depth.npy.json",
         "application/json", "What the .npy (and the PFM) hold: relative inverse depth, near = large, the model, the "
         "weights' SHA-256, N, the image size, the app version. Keep it next to the .npy."),
        ("dl_pfm", "PFM (float32)", lambda: pfm_bytes(depth), f"{stem}_inverse_depth.pfm", "application/octet-stream",
         "The raw map as the official MiDaS run.py writes it (little-endian, bottom row first)."),
        ("dl_exr", "OpenEXR (float32)", lambda: exr_bytes(depth, raw), f"{stem}_inverse_depth.exr", "image/x-exr",
         "The raw map as one float32 channel Y, the facts in the header."),
    )
    for row in (buttons, floats):
        for column, (key, label, data, file_name, mime, help_text) in zip(st.columns(len(buttons)), row):
            column.download_button(
                label, data=data, file_name=file_name, mime=mime, help=help_text, key=key,
                on_click="ignore", icon=":material/download:", width="stretch",
            )


def _empty_window_warning(share_above: float, value: float, clip: tuple[float, float]) -> None:
    """Say what an empty clipping window draws: two colours split at ``value``, or one."""
    window = f"p{clip[0]:g}–p{clip[1]:g} is the single value {value:.4g}"
    if 0.0 < share_above < 1.0:
        st.warning(f"The clipping range is empty ({window}): the heatmap has only two colours. The "
                   f"{share_above:.1%} of pixels above it get the near colour, the rest the far colour. "
                   "Widen the range to see the depth in between.")
    else:
        st.warning(f"The clipping range is empty ({window}): every pixel gets the "
                   f"{'near' if share_above else 'far'} colour. Widen the range.")


@st.fragment
def explorer_view(current: CurrentPrediction) -> None:
    """Everything a view control changes; reruns alone, never the network."""
    stats, hist = current.summary()
    rgb_small, depth_small = current.display()

    c1, c2, c3, c4 = st.columns([2, 1, 3, 2], vertical_alignment="bottom")
    cmap = c1.selectbox("Colormap", COLORMAP_NAMES, key="cmap", persist_state="session", help="Notes on each map: Colormap Lab.")
    invert = c2.toggle("Invert", key="invert", persist_state="session", help="Draw near with the LOW end of the colormap instead.")
    clip = c3.slider(
        "Clip percentiles (far, near)", 0.0, 100.0, step=0.5, key="clip_pct", persist_state="session",
        help="Values below the far percentile get the far colour, above the near percentile the near colour.",
    )
    opacity = c4.slider("Overlay opacity", 0.0, 1.0, step=0.05, key="overlay_opacity", persist_state="session")

    # the heatmap and overlay JPEGs encode on the shared pool while the charts are built, drawn into their slots last
    view = build_view(current.depth, depth_small, rgb_small, hist, cmap, clip, invert, opacity)
    lo, hi = view.lo, view.hi
    if view.empty_window_share_above is not None:
        _empty_window_warning(view.empty_window_share_above, lo, clip)
    near_end = "low (dark)" if invert else "high (bright)"

    left, right = st.columns(2)
    left.image(data_url(current.photo_jpeg(rgb_small)), caption="Original", width="stretch")
    heat_slot = right.empty()
    left, right = st.columns(2)
    overlay_slot = left.empty()
    right.plotly_chart(probe_figure(view.probe, cmap, height, width), key="probe_chart", config={"displaylogo": False})
    right.caption("Hover the probe for a pixel's x, y, raw value, normalised value and percentile.")

    log_counts = st.toggle("Log-scale counts", key="hist_log", persist_state="session", help="Shows the sparse tails next to a tall peak.")
    st.plotly_chart(histogram_figure(hist, lo, hi, clip, cmap, invert, log_counts), key="histogram_chart",
                    config={"displaylogo": False})
    st.caption("Bars are coloured as the heatmap colours those values; the colour range is the unshaded band.")
    heat_jpeg, overlay_jpeg = view.jpegs.result()
    heat_slot.image(data_url(heat_jpeg), width="stretch",
                    caption=f"Heatmap · {cmap} · near = {near_end} end · clipped to p{clip[0]:g}–p{clip[1]:g}")
    overlay_slot.image(data_url(overlay_jpeg), caption=f"Overlay · heatmap at {opacity:.0%} opacity", width="stretch")

    st.subheader("Statistics")
    metrics = (
        ("Min (farthest)", f"{stats.min:.4g}"),
        ("Max (nearest)", f"{stats.max:.4g}"),
        ("Mean", f"{stats.mean:.4g}"),
        ("Median", f"{stats.percentiles[50]:.4g}"),
        ("Network input", f"{net_w}×{net_h}"),
        ("Inference", f"{current.prediction.seconds['inference'] * 1000:.0f} ms"),
    )
    for column, (label, value) in zip(st.columns(len(metrics)), metrics):
        column.metric(label, value)
    # two columns, one row per percentile: seven side by side ran off a phone's screen
    st.dataframe(
        {"percentile": [f"p{q:g}" for q in stats.percentiles], "value": [f"{v:.4g}" for v in stats.percentiles.values()]},
        hide_index=True,
        key="percentile_table",
    )
    st.caption(f"Percentiles of the {AXIS_LABEL}, over all {width * height:,} pixels. Std {stats.std:.4g}.")
    _downloads(current, cmap, lo, hi, invert)


explorer_view(current)
