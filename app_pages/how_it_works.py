"""How It Works: the pipeline for the current photo, stage by stage, with the code for each stage."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.maps.colormaps import colorize
from core.maps.normalize import normalize
from core.maps.display import downscale
from core.teaching.pipeline_stages import Stage, channel_histograms, walkthrough
from ui.charts import AXIS_LABEL
from ui.current import CurrentPrediction, current_prediction
from ui.inline_image import data_url
from ui.settings import setting
from ui.teaching_charts import channel_histogram_figure

st.title("How It Works")
st.markdown(
    "From a photo to a depth picture in seven steps, on **your** photo. Each step shows the real array: its "
    "shape, its dtype and its range of values, and next to it the lines of this project's `core` library "
    "that compute it. Run the snippets in order in a notebook (with your photo saved as `photo.jpg`) and "
    "you get the same arrays."
)

current = current_prediction()
if current is None:
    st.stop()

_VIEW_WIDTH = 720  # widest picture sent to the browser for a stage


def _code_and_facts(stage: Stage) -> None:
    st.code(stage.code, language="python", wrap_lines=True)
    st.markdown(f"**`{stage.variable}`** · {stage.summary}")
    st.caption(stage.note)


def _show_stage(stage: Stage, current: CurrentPrediction, cmap: str) -> None:
    st.subheader(stage.title)
    picture, text = st.columns([1, 1])
    with text:
        _code_and_facts(stage)
    with picture:
        if stage.key == "input":
            st.image(data_url(downscale(stage.array, _VIEW_WIDTH)), caption="The photo as decoded", width="content")
        elif stage.key == "resized":
            h, w = stage.array.shape[:2]
            st.image(data_url(np.clip(stage.array, 0.0, 1.0)), width=w,
                     caption=f"Drawn at its real size: {w}×{h} pixels (both multiples of 32)")
        elif stage.key == "tensor":
            x = stage.array[0]  # 3xhxw
            channels = st.columns(3)
            for column, name, plane in zip(channels, ("R", "G", "B"), x):
                column.image(data_url(normalize(plane)), caption=f"{name} channel (stretched for display)", width="stretch")
            st.plotly_chart(channel_histogram_figure(channel_histograms(stage.array)), key="hiw_channel_hist",
                            config={"displaylogo": False})
        elif stage.key == "raw":
            h, w = stage.array.shape
            st.image(data_url(colorize(stage.array, cmap)), width=w,
                     caption=f"Drawn at its real size, {w}×{h}, through min–max and {cmap} to make it visible")
        elif stage.key == "upsampled":
            st.image(data_url(colorize(downscale(stage.array, _VIEW_WIDTH), cmap)), width="content",
                     caption=f"{AXIS_LABEL}, drawn through min–max and {cmap}")
        elif stage.key == "normalised":
            st.image(data_url(downscale(stage.array, _VIEW_WIDTH)), width="content",
                     caption="The normalised values as gray levels: 0 black (farthest), 1 white (nearest)")
        else:
            st.image(data_url(downscale(stage.array, _VIEW_WIDTH)), width="content", caption=f"{cmap}: near = bright")


cmap = str(setting("cmap"))
stages = walkthrough(current.rgb, current.prediction, current.info.size, cmap)
for stage in stages:
    _show_stage(stage, current, cmap)
    st.divider()

seconds = current.prediction.seconds
st.subheader("Where the time went")
c1, c2, c3 = st.columns(3)
c1.metric("Preprocess (resize + normalise)", f"{seconds['preprocess'] * 1000:.0f} ms")
c2.metric("Inference (the network)", f"{seconds['inference'] * 1000:.0f} ms")
c3.metric("Upsample", f"{seconds['upsample'] * 1000:.0f} ms" if "upsample" in seconds else "–")
st.caption("Measured when this prediction was first computed. The **Performance Lab** measures every stage on demand.")

with st.expander("The whole pipeline as one script"):
    st.code("\n".join(stage.code for stage in stages), language="python")
    st.caption("Each line is the public API of `core/`; nothing here is specific to the app.")
