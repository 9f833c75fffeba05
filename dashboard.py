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
from ui.pages import HOME, PAGES  # noqa: E402
from ui.settings import keep_settings  # noqa: E402

st.set_page_config(
    page_title="MiDaS depth explorer",
    page_icon="🌗",
    layout="wide",
    initial_sidebar_state="auto",  # collapsed on a phone, open on a wider screen
)
keep_settings()

page = st.navigation(
    {
        section: [st.Page(e.path, title=e.title, icon=e.icon, default=e is HOME) for e in entries]
        for section, entries in PAGES.items()
    }
)

with st.sidebar:
    image_source_panel()  # first: where a new user starts, above the fold at any window height
    model_panel()
    last_prediction_slot = st.empty()

page.run()

show_last_prediction(last_prediction_slot)  # after the page, which may have just predicted
