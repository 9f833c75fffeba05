"""Import the heavy libraries once per server process, on one session's thread at a time.

Streamlit runs each session's script on its own thread. When several users open a cold
server at the same moment, their threads make the first imports at the same time, and
Python's import-deadlock avoidance can hand a thread a module that another thread is
still initialising. The load test (``python -m bench.load_test --sessions 8``) hit it:
``AttributeError: partially initialized module 'pandas' has no attribute 'Series'`` in
``st.dataframe``, which imports pandas lazily, while another session's Plotly figure
imported it as an optional dependency (tests/app/test_warmup.py reproduces it without a
server). ``st.cache_resource`` computes a value under one lock per key, so the first
session imports and the others wait for it.
"""

from __future__ import annotations

import importlib

import streamlit as st

__all__ = ["HEAVY_MODULES", "import_heavy_modules"]

#: Imported by the first session before any page runs. pandas and pyarrow are imported
#: lazily by Streamlit itself (``st.dataframe``); the others by our modules.
HEAVY_MODULES: tuple[str, ...] = (
    "numpy", "pandas", "pyarrow", "pyarrow.pandas_compat", "plotly.graph_objects", "plotly.io",
    "PIL.Image", "cv2", "torch",
)


@st.cache_resource(show_spinner=False)
def import_heavy_modules() -> tuple[str, ...]:
    """Import :data:`HEAVY_MODULES` once; return their names (the value is only a marker)."""
    for name in HEAVY_MODULES:
        importlib.import_module(name)
    return HEAVY_MODULES
