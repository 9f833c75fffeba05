"""Home: what the app does, what relative inverse depth is, where to start."""

from __future__ import annotations

import streamlit as st

from ui.pages import PAGES

st.title("MiDaS depth explorer")
st.markdown(
    "This app runs **MiDaS v2.1 small** on your CPU to estimate, from one ordinary photo, "
    "how near every pixel is. "
    "It predicts **relative inverse depth**: unitless numbers where *larger means nearer*, "
    "known only up to an unknown scale and shift, so they are not metres until you calibrate them. "
    "To start, pick a sample or upload a photo in the sidebar, then open the **Depth Explorer**."
)

for section, entries in PAGES.items():
    if section:
        st.subheader(section)
        for entry in entries:
            st.page_link(entry.path, label=f"{entry.title}: {entry.about}", icon=entry.icon)
