"""Fixtures of the real-browser tests: one app server and one Chromium per test module.

Each test gets a new tab (``page``), which is a new Streamlit session: nothing a test set
carries into the next. A module that needs its own server settings defines its own ``server``.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser_support import chromium, open_app, streamlit_server


@pytest.fixture(scope="module")
def server(reference_weights, tmp_path_factory) -> Iterator[str]:
    """The URL of ``streamlit run dashboard.py`` on the reference checkpoint, for one module."""
    with streamlit_server(reference_weights, tmp_path_factory.mktemp("streamlit")) as running:
        yield running.url


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Chromium, started the project's one way (skips without it, see require_browser)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(server: str, browser) -> Iterator:
    """A new tab on the app, ready, at a laptop's window size."""
    tab = open_app(browser, server)
    try:
        yield tab
    finally:
        tab.close()
