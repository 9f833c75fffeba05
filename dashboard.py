"""MiDaS depth dashboard: the router.

Run it with ``streamlit run dashboard.py``. This file sets up the page, lays out the
shared sidebar (model status, network size, image source, last timing) and hands over
to the page the user picked. Pages only render; the maths lives in ``core/``.
"""

from __future__ import annotations

import streamlit as st

from ui.warmup import import_heavy_modules

import_heavy_modules()  # one thread at a time, before the imports below: see ui/warmup.py

from ui.image_source import image_source_panel  # noqa: E402
from ui.model_status import model_panel, show_last_prediction  # noqa: E402
from ui.settings import keep_settings  # noqa: E402

st.set_page_config(
    page_title="MiDaS depth explorer",
    page_icon="🌗",
    layout="wide",
    initial_sidebar_state="expanded",
)
keep_settings()

pages = {
    "": [
        st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    ],
    "Explore": [
        st.Page("app_pages/explorer.py", title="Depth Explorer", icon=":material/search:"),
        st.Page("app_pages/point_cloud.py", title="3D Point Cloud", icon=":material/view_in_ar:"),
        st.Page("app_pages/colormap_lab.py", title="Colormap Lab", icon=":material/palette:"),
    ],
    "Teach and measure": [
        st.Page("app_pages/how_it_works.py", title="How It Works", icon=":material/school:"),
        st.Page("app_pages/scale_shift.py", title="Scale and Shift", icon=":material/straighten:"),
        st.Page("app_pages/pitfalls.py", title="Pitfalls, Live", icon=":material/report:"),
        st.Page("app_pages/calibrate.py", title="Calibrate to Metres", icon=":material/square_foot:"),
        st.Page("app_pages/evaluate.py", title="Evaluate vs Ground Truth", icon=":material/fact_check:"),
        st.Page("app_pages/performance_lab.py", title="Performance Lab", icon=":material/speed:"),
    ],
}
page = st.navigation(pages)

with st.sidebar:
    model_panel()
    last_prediction_slot = st.empty()
    image_source_panel()

page.run()

show_last_prediction(last_prediction_slot)  # after the page, which may have just predicted
