"""Streamlit-side building blocks shared by the pages: caches, sidebar panels, state, charts.

Unlike ``core/``, these modules import streamlit. Unlike ``app_pages/``, they draw nothing
on import: a page imports what it needs and calls it.
"""
