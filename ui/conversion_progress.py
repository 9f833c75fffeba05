"""Load the predictor while showing the fast backend's one-time conversion as it happens.

The first load on a machine converts MiDaS small to OpenVINO (about 10 s on a quiet
2-core CPU, a minute under load) and caches it; every later load reads the cache in
well under a second. The conversion is one opaque call, so the load runs on a worker
thread and the script thread redraws a progress bar with the elapsed time and the
latest step until it finishes.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import streamlit as st

from core.midas.predictor import Predictor

__all__ = ["load_showing_conversion"]

_TYPICAL_SECONDS = 30.0  # where the bar reaches about two thirds; it never claims to be done
_REDRAW_SECONDS = 0.25


def load_showing_conversion(load: Callable[[Callable[[str], None]], Predictor]) -> Predictor:
    """Call ``load(status)`` on a worker thread; show its status lines with a progress bar.

    ``load`` receives the ``status`` callback that ``core.midas.predictor.load_predictor``
    calls once per conversion step. Nothing is drawn when there is no conversion; the
    bar is removed when the load returns. Exceptions from ``load`` are re-raised here.
    """
    steps: queue.SimpleQueue[str] = queue.SimpleQueue()
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["predictor"] = load(steps.put)
        except BaseException as e:  # noqa: BLE001 - handed to the script thread below
            outcome["error"] = e

    worker = threading.Thread(target=work, name="midas-load", daemon=True)
    worker.start()
    slot = st.empty()
    started: float | None = None
    step = ""
    try:
        while worker.is_alive():
            worker.join(_REDRAW_SECONDS)
            while not steps.empty():
                step = steps.get()
                started = started or time.monotonic()
            if started is not None and worker.is_alive():
                elapsed = time.monotonic() - started
                slot.progress(
                    elapsed / (elapsed + _TYPICAL_SECONDS / 2),  # approaches 1, never reaches it
                    text=f"One-time setup of the fast CPU backend: {elapsed:.0f} s "
                    f"(usually 10–60 s; later starts skip this). {_first_clause(step)}",
                )
    finally:
        slot.empty()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["predictor"]  # type: ignore[return-value]


def _first_clause(step: str) -> str:
    """'converting MiDaS small to OpenVINO 2026.4 (one time…) into /path' -> 'Converting MiDaS small to OpenVINO 2026.4.'"""
    text = step.split(" (", 1)[0].split(";", 1)[0].strip()
    return text[:1].upper() + text[1:] + "." if text else ""
