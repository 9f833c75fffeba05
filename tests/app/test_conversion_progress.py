"""The sidebar's one-time conversion progress, and the fallback notice when OpenVINO fails."""
from __future__ import annotations

import pytest
from streamlit.delta_generator import DeltaGenerator
from streamlit.testing.v1 import AppTest

from core.midas.openvino_backend import FastBackendError
from tests.conftest import REPO


def _script(mode: str) -> None:
    import time

    from ui.conversion_progress import load_showing_conversion

    def load(status):
        if mode == "convert":
            status("converting MiDaS small to OpenVINO 2026.4.1 (one time, ~10-60 s) into /cache/entry")
            time.sleep(0.9)
            status("converted in 0.9 s; checking it against torch")
            time.sleep(0.3)
        if mode == "fail":
            raise RuntimeError("conversion exploded")
        return "the predictor"

    try:
        import streamlit as st

        st.write(f"got {load_showing_conversion(load)}")
    except RuntimeError as e:
        st.error(f"raised: {e}")


@pytest.fixture
def drawn_bars(monkeypatch) -> list[tuple[float, str]]:
    """Every progress bar update the script draws, (value, text)."""
    calls: list[tuple[float, str]] = []
    original = DeltaGenerator.progress

    def recording(self, value, text=None, **kwargs):
        calls.append((value, text))
        return original(self, value, text=text, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "progress", recording)
    return calls


def _run(mode: str) -> AppTest:
    app = AppTest.from_function(_script, args=(mode,), default_timeout=30)
    return app.run()


def test_a_conversion_shows_a_growing_bar_with_its_step_then_clears_it(drawn_bars) -> None:
    app = _run("convert")

    assert not app.exception and app.markdown[0].value == "got the predictor"
    assert len(drawn_bars) >= 3  # redrawn about every 0.25 s
    values = [v for v, _ in drawn_bars]
    assert values == sorted(values) and 0 <= values[0] and values[-1] < 1  # never claims to be done early
    first_text = drawn_bars[0][1]
    assert first_text.startswith("One-time setup of the fast CPU backend:")
    assert "later starts skip this" in first_text and "Converting MiDaS small to OpenVINO 2026.4.1." in first_text
    assert "/cache/entry" not in first_text  # the path is for the log, not the sidebar
    assert "Converted in 0.9 s." in drawn_bars[-1][1]
    assert not app.get("progress")  # gone once loaded


def test_a_cached_model_loads_without_a_bar(drawn_bars) -> None:
    app = _run("cached")
    assert app.markdown[0].value == "got the predictor"
    assert drawn_bars == [] and not app.get("progress")


def test_a_failed_load_raises_in_the_script_and_leaves_no_bar(drawn_bars) -> None:
    app = _run("fail")
    assert app.error[0].value == "raised: conversion exploded"
    assert not app.get("progress")


def test_the_sidebar_says_why_the_app_runs_on_torch(monkeypatch, reference_weights, tmp_path) -> None:
    import core.midas.predictor
    from ui.cache import get_predictor

    def broken(*args, **kwargs):
        raise FastBackendError("the OpenVINO model failed its self-check (error 0.5 of max)")

    monkeypatch.setattr(core.midas.predictor, "load_openvino_model", broken)
    monkeypatch.setenv("MIDAS_WEIGHTS", str(reference_weights))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # never the user's cache
    get_predictor.clear()
    try:
        app = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120).run()
    finally:
        get_predictor.clear()  # the torch fallback must not serve later tests

    assert not app.exception, app.exception
    warning = " ".join(w.value for w in app.sidebar.warning)
    assert "Running on plain torch" in warning and "failed its self-check (error 0.5 of max)" in warning
    assert "auto chose torch" in " ".join(c.value for c in app.sidebar.caption)
