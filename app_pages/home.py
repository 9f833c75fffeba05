"""Home: what the app does, what relative inverse depth is, where to start."""

from __future__ import annotations

import streamlit as st

st.title("MiDaS depth explorer")
st.markdown(
    "This app runs **MiDaS v2.1 small** on your CPU to estimate, from one ordinary photo, "
    "how near every pixel is. "
    "It predicts **relative inverse depth**: unitless numbers where *larger means nearer*, "
    "known only up to an unknown scale and shift, so they are not metres until you calibrate them. "
    "To start, pick a sample or upload a photo in the sidebar, then open the **Depth Explorer**."
)

st.page_link("app_pages/explorer.py", label="Depth Explorer: heatmap, histogram, pixel probe, downloads", icon=":material/search:")
st.page_link("app_pages/point_cloud.py", label="3D Point Cloud: the photo back-projected through a pinhole camera", icon=":material/view_in_ar:")
st.page_link("app_pages/colormap_lab.py", label="Colormap Lab: the same map in nine colormaps, and their pitfalls", icon=":material/palette:")
