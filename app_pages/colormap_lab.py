"""Colormap Lab: one prediction in every colormap, their lightness, a pitfall and banding."""

from __future__ import annotations

import cv2
import numpy as np
import streamlit as st

from core.maps.colormaps import COLORMAPS, colorbar, colorize, is_monotonic_luminance
from core.maps.display import banding_crops, crop_box, downscale, lightness_strip, smoothest_crop
from ui.charts import AXIS_LABEL, lightness_figure
from ui.current import CurrentPrediction, current_prediction
from ui.inline_image import data_url
from ui.settings import setting

st.title("Colormap Lab")
st.markdown(
    f"The same prediction drawn with each colormap. Values are {AXIS_LABEL}; near is drawn with the "
    "**high end** of every map (right end of the strips, top of the colorbars). Under each map, the gray strip "
    "is its perceived lightness (CIELAB L\\*): a steady ramp means the map can be read as an order; bright "
    "bands in the middle invent edges that are not in the data."
)

current = current_prediction()
if current is None:
    st.stop()

_GRID_WIDTH = 480  # columns of each small map
_ZOOM = 320  # side of the zoomed crops, in screen pixels


def _with_colorbar(image: np.ndarray, cmap: str, invert: bool = False) -> np.ndarray:
    """The heatmap with its colorbar (near at the top) on the right."""
    h = image.shape[0]
    gap = np.full((h, 6, 3), 14, np.uint8)
    bar = colorbar(cmap, height=h, width=max(12, h // 16), invert=invert)
    return np.concatenate([image, gap, bar], axis=1)


def _legend(cmap: str, width: int) -> np.ndarray:
    """The colormap far -> near, above its lightness strip."""
    bar = np.ascontiguousarray(colorbar(cmap, height=width, width=14).transpose(1, 0, 2)[:, ::-1])  # far left
    gap = np.full((3, width, 3), 14, np.uint8)
    return np.concatenate([bar, gap, lightness_strip(cmap, width=width, height=14)], axis=0)


def _zoom(image: np.ndarray) -> np.ndarray:
    """Enlarge with nearest-neighbour so each pixel stays a sharp square."""
    return cv2.resize(image, (_ZOOM, _ZOOM), interpolation=cv2.INTER_NEAREST)


def colormap_grid(current: CurrentPrediction, lo: float, hi: float) -> None:
    _, depth_small = current.display()
    depth_small = downscale(depth_small, _GRID_WIDTH)
    names = list(COLORMAPS)
    for start in range(0, len(names), 3):
        for column, name in zip(st.columns(3), names[start : start + 3]):
            uniform = is_monotonic_luminance(name)
            badge = ":green[:material/check_circle: lightness rises steadily]" if uniform else ":orange[:material/warning: lightness goes up and down]"
            with column.container(border=True):
                st.markdown(f"**{name}** · {badge}")
                st.image(data_url(_with_colorbar(colorize(depth_small, name, lo, hi), name)), width="stretch")
                st.image(data_url(_legend(name, 256)), width="stretch",
                         caption="colormap far → near, and its lightness (gray)")
                st.caption(COLORMAPS[name])


def pitfall(current: CurrentPrediction, lo: float, hi: float) -> None:
    st.subheader("Pitfall: near in cold colours")
    st.markdown(
        "Inverse depth is **largest for near things**. Normalise it as if it were depth (largest = far), or use a "
        "map whose high end is cold, and near objects turn blue while the background glows red: the picture "
        "reads backwards. Both panels below show the same numbers with `jet`."
    )
    _, depth_small = current.display()
    depth_small = downscale(depth_small, 640)
    left, right = st.columns(2)
    left.image(data_url(_with_colorbar(colorize(depth_small, "jet", lo, hi), "jet")), width="stretch",
               caption="Right: near = high end = warm (red)")
    wrong = colorize(depth_small, "jet", lo, hi, invert=True)
    right.image(data_url(_with_colorbar(wrong, "jet", invert=True)), width="stretch",
                caption="Pitfall: normalised as if it were depth, near = cold (blue)")


@st.fragment
def banding_demo(current: CurrentPrediction) -> None:
    st.subheader("8-bit vs 16-bit: banding on a zoomed crop")
    st.markdown(
        "An 8-bit image keeps 256 levels for the whole map, so a small smooth region has only a few. "
        "Stretched to full contrast, the 8-bit crop shows flat bands; the 16-bit crop (the 16-bit PNG "
        "download) keeps the gradient."
    )
    height, width = current.depth.shape
    stats, _ = current.summary()
    c0, c1, c2, c3 = st.columns([2, 2, 2, 2], vertical_alignment="bottom")
    auto = c0.toggle("Find a smooth region", key="lab_crop_auto", persist_state="session",
                     help="Picks a gentle slope that spans only a few 8-bit steps: where banding shows.")
    c1.slider("Crop centre x", 0.0, 1.0, step=0.01, key="lab_crop_x", persist_state="session", disabled=auto)
    c2.slider("Crop centre y", 0.0, 1.0, step=0.01, key="lab_crop_y", persist_state="session", disabled=auto)
    c3.slider("Crop size (pixels)", 8, 256, step=8, key="lab_crop_size", persist_state="session")
    size = setting("lab_crop_size")
    if auto:
        box = smoothest_crop(current.depth, size, stats.min, stats.max)
    else:
        box = crop_box(height, width, setting("lab_crop_x"), setting("lab_crop_y"), size)
    cmap = setting("cmap")
    crops = banding_crops(current.depth, box)  # quantised with the whole map's min..max, as the exports are

    rgb_small, depth_small = current.display()
    where = colorize(depth_small, cmap).copy()
    s = where.shape[1] / width
    y0, y1, x0, x1 = box
    cv2.rectangle(where, (int(x0 * s), int(y0 * s)), (max(int(x1 * s) - 1, int(x0 * s) + 1),
                  max(int(y1 * s) - 1, int(y0 * s) + 1)), (0, 255, 255), max(2, where.shape[1] // 300))

    a, b, c = st.columns(3)
    a.image(data_url(where), caption=f"Crop location ({x1 - x0}×{y1 - y0} px)", width="stretch")
    b.image(data_url(_zoom(colorize(crops.crop8, cmap, 0.0, 1.0))), width="stretch",
            caption="8-bit, stretched to full contrast")
    c.image(data_url(_zoom(colorize(crops.crop16, cmap, 0.0, 1.0))), width="stretch",
            caption="16-bit, stretched to full contrast")
    m1, m2 = st.columns(2)
    m1.metric("8-bit levels in the crop", f"{crops.levels8}")
    m2.metric("16-bit levels in the crop", f"{crops.levels16:,}")


stats, hist = current.summary()
lo, hi = (float(v) for v in hist.percentiles(setting("clip_pct")))
st.caption(f"**{current.name}** · clipped to the Depth Explorer's percentiles p{setting('clip_pct')[0]:g}–"
           f"p{setting('clip_pct')[1]:g}.")
colormap_grid(current, lo, hi)
st.plotly_chart(lightness_figure(), key="lightness_chart", config={"displaylogo": False})
pitfall(current, lo, hi)
banding_demo(current)
