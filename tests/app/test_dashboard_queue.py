"""What a user sees while the server is busy: a queue notice, then the heatmap; or a busy message.

The predictor lets only K inferences run at once and tells a waiting caller how many are
ahead (``Predictor.run(rgb, on_queued=...)``), or raises ``InferenceBusyError`` after its
timeout. Here ``Predictor.run`` goes through a test-held ``InferenceGate`` so the queue is
certain, and every alert the app sends during a run is recorded, because the queue notice
is gone by the time the run ends. Needs the reference checkpoint; skips without it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
from streamlit.testing.v1 import AppTest

from core.midas.inference_gate import InferenceGate
from core.midas.predictor import Predictor
from tests.conftest import REPO

DASHBOARD = str(REPO / "dashboard.py")
TIMEOUT = 180  # seconds per run: the first one loads the model
HOLD_LIMIT = 30  # seconds a test ever holds the gate


def _png(seed: int, shape: tuple[int, int] = (72, 96)) -> bytes:
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    small.resize(shape[::-1], Image.BICUBIC).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def app(monkeypatch, reference_weights, tmp_path) -> AppTest:
    monkeypatch.setenv("MIDAS_WEIGHTS", str(reference_weights))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/explorer.py").run()
    assert not at.exception, at.exception
    return at


class _Alerts:
    """The text of every st.info/st.error/... the app sends, mid-run ones too, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.hooks: list[Callable[[str], None]] = []

    def record(self, msg) -> None:
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            if element.WhichOneof("type") == "alert":
                self.seen.append(element.alert.body)
                for hook in self.hooks:
                    hook(element.alert.body)

    def queued(self) -> list[str]:
        return [body for body in self.seen if body.startswith("Queued:")]


@pytest.fixture
def alerts() -> Iterator[_Alerts]:
    recorder = _Alerts()
    ForwardMsgQueue.on_before_enqueue_msg(recorder.record)
    try:
        yield recorder
    finally:
        ForwardMsgQueue.on_before_enqueue_msg(None)


@pytest.fixture
def gate(monkeypatch) -> InferenceGate:
    """One slot, shared by every ``Predictor.run`` of the app, as the predictor's own gate is."""
    held = InferenceGate(1, timeout=HOLD_LIMIT)
    original = Predictor.run

    def gated_run(self, rgb, *, upsample: bool = True, on_queued=None):
        with held.slot(on_queued=on_queued):
            return original(self, rgb, upsample=upsample)

    monkeypatch.setattr(Predictor, "run", gated_run)
    return held


class _Holder:
    """Another user's inference: holds the gate's slot on its own thread until released."""

    def __init__(self, gate: InferenceGate) -> None:
        self.release = threading.Event()
        taken = threading.Event()

        def hold() -> None:
            with gate.slot():
                taken.set()
                self.release.wait(HOLD_LIMIT)

        self._thread = threading.Thread(target=hold, daemon=True)
        self._thread.start()
        assert taken.wait(HOLD_LIMIT)

    def stop(self) -> None:
        self.release.set()
        self._thread.join(HOLD_LIMIT)


def _heatmaps(at: AppTest) -> list:
    return [im for im in at.image if any(c.startswith("Heatmap") for c in im.captions)]


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.sidebar.file_uploader(key="upload").set_value((name, data, "image/png"))
    return at.run()


def test_a_queued_user_sees_how_many_are_ahead_then_the_heatmap(app: AppTest, alerts: _Alerts, gate) -> None:
    holder = _Holder(gate)
    # the other user finishes as soon as this one has been told it is queued
    alerts.hooks.append(lambda body: holder.release.set() if body.startswith("Queued:") else None)
    try:
        _upload(app, "queued.png", _png(1))
    finally:
        holder.stop()
    assert not app.exception, app.exception
    assert alerts.queued() == [
        "Queued: 1 ahead of you… The server runs only a few predictions at once; "
        "yours starts by itself, no need to click again."
    ]
    assert _heatmaps(app) and not app.error
    assert not [i.value for i in app.info if "Queued" in i.value], "the notice is gone once the heatmap is there"
    assert "queued.png" in " ".join(c.value for c in app.caption)

    # the cached prediction replays its elements: a page switch and back must draw cleanly
    for page in ("app_pages/point_cloud.py", "app_pages/explorer.py"):
        app.switch_page(page).run()
        assert not app.exception, app.exception
    assert _heatmaps(app) and not app.error
    assert not [i.value for i in app.info if "Queued" in i.value]


def test_a_user_kept_waiting_too_long_gets_the_busy_message_and_carries_on(
    app: AppTest, alerts: _Alerts, gate
) -> None:
    gate.timeout = 0.5  # seconds: the other user's inference outlasts it
    holder = _Holder(gate)
    try:
        _upload(app, "busy.png", _png(2))
        assert not app.exception, app.exception
        errors = [e.value for e in app.error]
        assert len(errors) == 1 and errors[0].startswith("The server is busy: no inference slot freed up")
        assert "Try again in a moment." in errors[0]
        assert [q[:23] for q in alerts.queued()] == ["Queued: 1 ahead of you…"], "the wait was announced first"
        assert not [i.value for i in app.info if "Queued" in i.value], "no queue notice left under the error"
        assert not _heatmaps(app) and not app.metric, "nothing stale from the previous image"
        assert app.sidebar.success and app.sidebar.file_uploader(key="upload").value is not None
    finally:
        holder.stop()

    app.button(key="busy_retry").click().run()  # the slot is free now
    assert not app.exception, app.exception
    assert not app.error
    assert _heatmaps(app)
    assert "busy.png" in " ".join(c.value for c in app.caption)


def test_the_pitfalls_page_explains_a_busy_server_and_retries(app: AppTest, gate) -> None:
    _upload(app, "pitfalls.png", _png(3))  # the photo itself is predicted while the gate is free
    assert _heatmaps(app)
    gate.timeout = 0.5
    holder = _Holder(gate)
    try:
        app.switch_page("app_pages/pitfalls.py").run()  # its flat-grey example needs a new prediction
        assert not app.exception, app.exception
        errors = [e.value for e in app.error]
        assert len(errors) == 1 and errors[0].startswith("The server is busy")
        assert app.button(key="pit_flat_retry")
    finally:
        holder.stop()
    app.button(key="pit_flat_retry").click().run()
    assert not app.exception, app.exception
    assert not app.error
    assert any("structure invented from nothing" in c for im in app.image for c in im.captions)
