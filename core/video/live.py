"""Live depth from a camera stream: the latest frame wins, and a busy server lowers the frame rate.

The Live Camera page hands every camera frame to a :class:`LiveStream` (the object
streamlit-webrtc calls a video processor: ``recv(frame) -> frame`` and ``on_ended()``, duck-typed
here so that ``core`` never imports Streamlit). ``recv`` runs on the server's WebRTC event loop,
which every session shares, so it does no work: it puts the frame into a :class:`LatestSlot`
(one frame at most; a frame not yet taken is replaced, and counted as dropped) and returns the
newest depth picture made so far. A worker thread of its own takes the newest frame and runs
:class:`LiveDepth` on it:

1. the frame is resized to fit inside N x N (N from :data:`LIVE_SIZES`, 128 to 256: smaller
   is faster) and normalised as the official transform does (:func:`live_input`);
2. the network runs only if the process-wide inference gate (the predictor's, shared with every
   page) is free *now* and nobody is queued for it; otherwise the frame is dropped and the
   last picture stays on screen, so a photo or video prediction of another user never waits
   behind the camera: the camera's frame rate goes down instead;
3. in ``"stable"`` mode the raw map is aligned to a running reference
   (:class:`core.video.stable.Aligner`) and drawn with a window that follows slowly
   (:class:`core.video.stable.EmaWindow`); ``"per-frame"`` min-max normalises each frame;
4. the map is upsampled to the frame's size, coloured and laid out as a heatmap, a
   side-by-side picture or an overlay (:func:`compose_view`).

:class:`LiveStats` keeps what the page shows (depth fps, latency percentiles, dropped and
busy frames), thread-safe. :func:`rtc_configuration` builds the WebRTC configuration: no
outside STUN or TURN server unless :data:`ICE_SERVERS_ENV` names some.

Example:
    >>> stream = LiveStream(LiveDepth(predictor, LiveSettings(size=192)))  # doctest: +SKIP
    >>> stream.submit(rgb)         # HxWx3 uint8; returns the newest LiveOutput or None  # doctest: +SKIP
    >>> stream.stats.snapshot().fps                                        # doctest: +SKIP
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import av
import numpy as np

from core.checks import check_int, check_real
from core.io.exports import side_by_side
from core.maps.colormaps import COLORMAPS, colorize
from core.maps.display import blend
from core.midas.transforms import preprocess, upsample_to
from core.video.stable import MODES, Aligner, EmaWindow

__all__ = [
    "ICE_SERVERS_ENV",
    "LIVE_SIZES",
    "VIEWS",
    "LatestSlot",
    "LiveDepth",
    "LiveOutput",
    "LiveSettings",
    "LiveStats",
    "LiveStatsSnapshot",
    "LiveStream",
    "compose_view",
    "live_input",
    "rtc_configuration",
]

#: Network sizes N the live view allows: smaller than a photo's (256 and up) to keep up with a camera.
LIVE_SIZES = (128, 160, 192, 224, 256)
#: How a depth frame is shown: the heatmap alone, camera | heatmap, or the heatmap over the camera.
VIEWS = ("heatmap", "side-by-side", "overlay")
#: Environment variable with the ICE servers (STUN/TURN) as JSON, for deployments behind NAT.
ICE_SERVERS_ENV = "MIDAS_ICE_SERVERS"

#: The live EMA window's weight of each new frame (about ten frames to follow a change).
EMA_ALPHA = 0.1
#: Seconds of history behind the fps and latency figures.
STATS_WINDOW_S = 3.0
#: A worker thread with no frame for this long ends (a new frame starts another).
IDLE_EXIT_S = 10.0


_T = TypeVar("_T")


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveSettings:
    """What the user chose for the live view; replaced as a whole when a control changes.

    Attributes:
        view: one of :data:`VIEWS`.
        cmap: a key of :data:`core.maps.colormaps.COLORMAPS`.
        size: network size N, one of :data:`LIVE_SIZES`.
        mode: one of :data:`core.video.stable.MODES`.
        opacity: the heatmap's weight in the overlay view, in [0, 1].
    """

    view: str = "heatmap"
    cmap: str = "inferno"
    size: int = 256
    mode: str = "stable"
    opacity: float = 0.5

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {self.view!r}.")
        if self.cmap not in COLORMAPS:
            raise ValueError(f"unknown colormap {self.cmap!r}; expected one of {sorted(COLORMAPS)}.")
        if check_int(self.size, "size") not in LIVE_SIZES:
            raise ValueError(f"size must be one of {LIVE_SIZES} for the live view, got {self.size}.")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}.")
        check_real(self.opacity, "opacity", low=0.0, high=1.0, hint=": pass e.g. 0.5.")


# --- frame -> network input -> picture ---------------------------------------------------------


def live_input(rgb: np.ndarray, size: int) -> np.ndarray:
    """A camera frame as the network input at a live size N: :func:`core.midas.transforms.preprocess`, N from 128.

    Args:
        rgb: HxWx3 uint8 RGB frame.
        size: N, one of :data:`LIVE_SIZES`.

    Returns:
        1x3xhxw float32.

    Example:
        >>> live_input(np.zeros((480, 640, 3), np.uint8), 128).shape
        (1, 3, 96, 128)
    """
    if check_int(size, "size") not in LIVE_SIZES:
        raise ValueError(f"size must be one of {LIVE_SIZES} for the live view, got {size}.")
    return preprocess(rgb, size, min_size=LIVE_SIZES[0]).numpy()


def compose_view(rgb: np.ndarray, heatmap: np.ndarray, view: str, opacity: float = 0.5) -> np.ndarray:
    """Lay out one live picture.

    Args:
        rgb: HxWx3 uint8 camera frame.
        heatmap: HxWx3 uint8 coloured depth of that frame.
        view: one of :data:`VIEWS`.
        opacity: the heatmap's weight in ``"overlay"``, in [0, 1].

    Returns:
        HxWx3 uint8 (heatmap, overlay) or Hx2Wx3 uint8 (side-by-side).

    Example:
        >>> a = np.zeros((2, 3, 3), np.uint8)
        >>> [compose_view(a, a, v).shape for v in VIEWS]
        [(2, 3, 3), (2, 6, 3), (2, 3, 3)]
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}.")
    if view == "heatmap":
        return heatmap
    if view == "side-by-side":
        return side_by_side(rgb, heatmap)
    return blend(rgb, heatmap, check_real(opacity, "opacity", low=0.0, high=1.0))


class _Queued(Exception):
    """Raised from the gate's queue notice: the live view does not wait for a slot."""


def _refuse_to_wait(ahead: int) -> None:
    raise _Queued(ahead)


def _run_if_free(gate: Any, fn: Callable[[], _T]) -> tuple[bool, _T | None]:
    """``(True, fn())`` if ``gate`` has a free slot now and nobody waits for one, else ``(False, None)``.

    :meth:`core.midas.inference_gate.InferenceGate.slot` calls its ``on_queued`` before it
    would wait; raising there withdraws this caller from the queue at once (the gate undoes
    its waiting count), so the live view never waits and never delays a queued prediction.
    """
    if gate.waiting > 0:  # others are queued: let them go first
        return False, None
    try:
        with gate.slot(on_queued=_refuse_to_wait):
            return True, fn()
    except _Queued:
        return False, None


class LiveDepth:
    """One camera's frames to depth pictures; used by one thread, configured from any.

    Args:
        predictor: a :class:`core.midas.predictor.Predictor` (anything with ``gate``, an
            :class:`~core.midas.inference_gate.InferenceGate`, and ``network_output(x)``:
            1x3xhxw float32 -> hxw). Its gate is the process-wide one, shared with the pages.
        settings: the initial :class:`LiveSettings`.
        ema_alpha: weight of each frame in the stable mode's window, in (0, 1].

    Attributes:
        last_seconds: wall time of the last processed frame's stages: "preprocess",
            "inference", "render" (empty before the first).
    """

    def __init__(self, predictor: Any, settings: LiveSettings | None = None, *, ema_alpha: float = EMA_ALPHA) -> None:
        for name in ("gate", "network_output"):
            if not hasattr(predictor, name):
                raise TypeError(f"predictor must have .{name} (a core.midas.predictor.Predictor), got "
                                f"{type(predictor).__name__}.")
        self._predictor = predictor
        self._settings = settings if settings is not None else LiveSettings()
        if not isinstance(self._settings, LiveSettings):
            raise TypeError(f"settings must be a LiveSettings, got {type(self._settings).__name__}.")
        self._alpha = check_real(ema_alpha, "ema_alpha", low=0.0, high=1.0)
        self._key: tuple | None = None  # (mode, size, frame shape) the aligner and window belong to
        self._aligner: Aligner | None = None
        self._window: EmaWindow | None = None
        self.last_seconds: dict[str, float] = {}

    @property
    def settings(self) -> LiveSettings:
        """The settings the next frame is made with."""
        return self._settings

    def configure(self, settings: LiveSettings) -> None:
        """Use ``settings`` from the next frame on (one reference swap: safe from any thread)."""
        if not isinstance(settings, LiveSettings):
            raise TypeError(f"settings must be a LiveSettings, got {type(settings).__name__}.")
        self._settings = settings

    def process(self, rgb: np.ndarray) -> np.ndarray | None:
        """The depth picture of one frame, or None when the inference gate is busy (frame dropped).

        Args:
            rgb: HxWx3 uint8 RGB camera frame.

        Returns:
            The picture :func:`compose_view` lays out (HxWx3 or Hx2Wx3 uint8), or None.
        """
        s = self._settings  # one read: every stage of this frame uses the same settings
        t0 = time.perf_counter()
        x = live_input(rgb, s.size)  # HxWx3 uint8 -> 1x3xhxw float32
        t1 = time.perf_counter()
        ok, out = _run_if_free(self._predictor.gate, lambda: self._predictor.network_output(x))
        if not ok:
            return None
        t2 = time.perf_counter()
        raw = np.ascontiguousarray(np.asarray(out), dtype=np.float32)  # hxw float32
        key = (s.mode, s.size, rgb.shape[:2])
        if key != self._key:  # a new mode, N or camera size: start the reference and window again
            self._key = key
            self._aligner = Aligner(s.mode)
            self._window = EmaWindow(alpha=self._alpha)
        assert self._aligner is not None and self._window is not None
        lo = hi = None
        aligned = self._aligner.align(raw)  # hxw float32 (unchanged in per-frame mode)
        if s.mode == "stable":
            lo, hi = self._window.update(aligned)
        depth = upsample_to(aligned, rgb.shape[0], rgb.shape[1])  # hxw -> HxW float32
        heatmap = colorize(depth, s.cmap, lo, hi)  # HxW -> HxWx3 uint8
        picture = compose_view(rgb, heatmap, s.view, s.opacity)
        t3 = time.perf_counter()
        self.last_seconds = {"preprocess": t1 - t0, "inference": t2 - t1, "render": t3 - t2}
        return picture


# --- hand-off and statistics ------------------------------------------------------------------


class LatestSlot(Generic[_T]):
    """A one-item hand-off between threads: a new item replaces one not yet taken.

    Memory never grows with a fast producer and a slow consumer: at most one item waits.

    Example:
        >>> slot = LatestSlot()
        >>> slot.put(1), slot.put(2), slot.take(timeout=0), slot.dropped
        (False, True, 2, 1)
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: _T | None = None
        self._full = False
        self._closed = False
        self.dropped = 0

    def put(self, item: _T) -> bool:
        """Offer ``item``; True if it replaced (dropped) an item nobody had taken."""
        with self._cond:
            replaced = self._full
            if replaced:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> _T | None:
        """The newest item, waiting up to ``timeout`` seconds (None: forever); None on timeout or close."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    @property
    def pending(self) -> bool:
        """An item is waiting to be taken."""
        with self._cond:
            return self._full

    def close(self) -> None:
        """Wake every waiting :meth:`take` (it returns None) and drop the waiting item."""
        with self._cond:
            self._closed = True
            self._item, self._full = None, False
            self._cond.notify_all()


@dataclass(frozen=True)
class LiveStatsSnapshot:
    """The live figures at one moment.

    Attributes:
        fps: depth pictures made per second over the last :data:`STATS_WINDOW_S` seconds.
        input_fps: camera frames received per second over the same window.
        latency_p50_ms: median time from a frame's arrival to its picture, over the window
            (None before the first picture).
        latency_p95_ms: 95th percentile of the same.
        frames: depth pictures made since the start.
        dropped: frames replaced by a newer one before the worker took them.
        busy: frames skipped because the inference gate was busy (another user predicting).
        seconds: median seconds per stage ("preprocess", "inference", "render") over the window.
        error: the last processing error, or "".
    """

    fps: float
    input_fps: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    frames: int
    dropped: int
    busy: int
    seconds: dict[str, float] = field(default_factory=dict)
    error: str = ""


class LiveStats:
    """Thread-safe counters and a sliding window of frame latencies.

    Args:
        window_s: seconds of history for the rates and percentiles, > 0.
        clock: the time source (``time.perf_counter``; tests pass their own).
    """

    def __init__(self, window_s: float = STATS_WINDOW_S, clock: Callable[[], float] = time.perf_counter) -> None:
        self.window_s = check_real(window_s, "window_s", low=0.0)
        if not self.window_s > 0:
            raise ValueError("window_s must be > 0 seconds: pass e.g. 3.0.")
        self._clock = clock
        self._lock = threading.Lock()
        self._done: collections.deque[tuple[float, float, dict[str, float]]] = collections.deque()
        self._arrived: collections.deque[float] = collections.deque()
        self._start: float | None = None
        self._frames = self._dropped = self._busy = 0
        self._error = ""

    def _trim(self, now: float) -> None:
        old = now - self.window_s
        while self._done and self._done[0][0] < old:
            self._done.popleft()
        while self._arrived and self._arrived[0] < old:
            self._arrived.popleft()

    def note_input(self) -> None:
        """A camera frame arrived."""
        with self._lock:
            now = self._clock()
            self._start = now if self._start is None else self._start
            self._arrived.append(now)
            self._trim(now)

    def note_dropped(self, n: int = 1) -> None:
        """``n`` frames were replaced before the worker took them."""
        with self._lock:
            self._dropped += n

    def note_busy(self) -> None:
        """A frame was skipped: the inference gate was busy."""
        with self._lock:
            self._busy += 1

    def note_error(self, message: str) -> None:
        """A frame failed; the message is kept for the page."""
        with self._lock:
            self._error = message

    def record(self, latency_s: float, seconds: dict[str, float] | None = None) -> None:
        """A picture was made ``latency_s`` seconds after its frame arrived."""
        with self._lock:
            now = self._clock()
            self._start = now if self._start is None else self._start
            self._frames += 1
            self._error = ""
            self._done.append((now, float(latency_s), dict(seconds or {})))
            self._trim(now)

    def snapshot(self) -> LiveStatsSnapshot:
        """The current figures (rates over the window, or since the start when that is shorter)."""
        with self._lock:
            now = self._clock()
            self._trim(now)
            span = self.window_s if self._start is None else min(self.window_s, max(now - self._start, 1e-3))
            latencies = np.array([d[1] for d in self._done], dtype=np.float64)
            stages: dict[str, float] = {}
            for name in ("preprocess", "inference", "render"):
                values = [d[2][name] for d in self._done if name in d[2]]
                if values:
                    stages[name] = float(np.median(values))
            p50 = p95 = None
            if latencies.size:
                p50, p95 = (float(v) * 1000.0 for v in np.percentile(latencies, [50, 95]))
            return LiveStatsSnapshot(
                fps=len(self._done) / span,
                input_fps=len(self._arrived) / span,
                latency_p50_ms=p50,
                latency_p95_ms=p95,
                frames=self._frames,
                dropped=self._dropped,
                busy=self._busy,
                seconds=stages,
                error=self._error,
            )


# --- the stream -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveOutput:
    """The newest depth picture: the array, and as a video frame when the input was one."""

    picture: np.ndarray
    frame: av.VideoFrame | None = None
    source_index: int = 0  # the submit() count of the frame it was made from (1 = the first)


class LiveStream:
    """Camera frames in, the newest depth picture out, never a queue (streamlit-webrtc's processor).

    Frames go into a :class:`LatestSlot`; a worker thread (started on the first frame, ended
    after :data:`IDLE_EXIT_S` without one, or by :meth:`stop`) runs :class:`LiveDepth` on the
    newest. Use :meth:`submit` with arrays, or :meth:`recv` with ``av.VideoFrame`` as
    streamlit-webrtc does (``video_processor_factory=lambda: LiveStream(...)`` with
    ``async_processing=False``: ``recv`` only hands the frame over, so the shared event loop
    never runs the network).

    Args:
        depth: the :class:`LiveDepth` that makes the pictures.
        stats: where the figures go (a new :class:`LiveStats` by default).
    """

    def __init__(self, depth: LiveDepth, stats: LiveStats | None = None) -> None:
        if not isinstance(depth, LiveDepth):
            raise TypeError(f"depth must be a LiveDepth, got {type(depth).__name__}.")
        self.depth = depth
        self.stats = stats if stats is not None else LiveStats()
        self._slot: LatestSlot[tuple[Any, float, int]] = LatestSlot()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._submitted = 0
        self._output: LiveOutput | None = None

    @property
    def output(self) -> LiveOutput | None:
        """The newest picture, None before the first."""
        return self._output

    def configure(self, settings: LiveSettings) -> None:
        """Change view, colormap, N or mode from the next frame on (see :meth:`LiveDepth.configure`)."""
        self.depth.configure(settings)

    def submit(self, frame: np.ndarray | av.VideoFrame) -> LiveOutput | None:
        """Hand a frame over (it replaces one still waiting) and return the newest picture so far.

        Never blocks on the network. After :meth:`stop` the frame is ignored.
        """
        if self._stopped:
            return self._output
        with self._lock:
            self._submitted += 1
            index = self._submitted
        self.stats.note_input()
        if self._slot.put((frame, time.perf_counter(), index)):
            self.stats.note_dropped()
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._work, name="live-depth", daemon=True)
                self._thread.start()
        return self._output

    def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
        """streamlit-webrtc's per-frame call: the newest depth frame (the camera frame until the first)."""
        out = self.submit(frame)
        return out.frame if out is not None and out.frame is not None else frame

    def on_ended(self) -> None:
        """streamlit-webrtc's call when the camera track ends (on the shared event loop: it does not wait)."""
        self.stop(timeout=0.0)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker (after the frame it is on) and ignore further frames."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._slot.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _work(self) -> None:
        while True:
            item = self._slot.take(timeout=IDLE_EXIT_S)
            if item is None:
                with self._lock:  # submit() starts a new worker under this lock if it sees none
                    if self._stopped or not self._slot.pending:
                        self._thread = None
                        return
                continue
            frame, arrived, index = item
            try:
                is_array = isinstance(frame, np.ndarray)
                rgb = frame if is_array else frame.to_ndarray(format="rgb24")  # -> HxWx3 uint8
                picture = self.depth.process(rgb)
                if picture is None:
                    self.stats.note_busy()
                    continue
                video = None if is_array else av.VideoFrame.from_ndarray(picture, format="rgb24")
            except Exception as e:  # one bad frame must not end the stream: say so, go on
                self.stats.note_error(f"{type(e).__name__}: {e}")
                continue
            self._output = LiveOutput(picture=picture, frame=video, source_index=index)
            self.stats.record(time.perf_counter() - arrived, self.depth.last_seconds)


# --- WebRTC configuration ---------------------------------------------------------------------


def rtc_configuration(ice_servers_json: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The WebRTC configuration for browser and server: no ICE server unless some are given.

    With none, the browser and the server connect directly: loopback and the LAN work and no
    request leaves the machine (streamlit-webrtc would otherwise ask Google's public STUN
    server). Behind NAT, set :data:`ICE_SERVERS_ENV` to a JSON list of ICE servers.

    Args:
        ice_servers_json: the JSON text, e.g. ``'[{"urls": "stun:stun.example.org:3478"}]'``,
            ``'[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]'``;
            None or blank for none.

    Returns:
        ``{"iceServers": [...]}``.

    Raises:
        ValueError: not JSON, or not a list of objects with ``urls`` (a string or a list of
            strings) and optional string ``username`` and ``credential``.

    Example:
        >>> rtc_configuration(None)
        {'iceServers': []}
        >>> rtc_configuration('[{"urls": "stun:stun.example.org"}]')
        {'iceServers': [{'urls': 'stun:stun.example.org'}]}
    """
    hint = (f" Set {ICE_SERVERS_ENV} to a JSON list such as "
            '[{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}], or unset it.')
    if ice_servers_json is None or not ice_servers_json.strip():
        return {"iceServers": []}
    try:
        servers = json.loads(ice_servers_json)
    except json.JSONDecodeError as e:
        raise ValueError(f"{ICE_SERVERS_ENV} is not valid JSON ({e}).{hint}") from e
    if not isinstance(servers, list):
        raise ValueError(f"{ICE_SERVERS_ENV} must be a JSON list, got {type(servers).__name__}.{hint}")
    for i, server in enumerate(servers):
        if not isinstance(server, dict) or "urls" not in server:
            raise ValueError(f"{ICE_SERVERS_ENV}[{i}] must be an object with \"urls\", got {server!r}.{hint}")
        urls = server["urls"]
        if not (isinstance(urls, str) or (isinstance(urls, list) and urls and all(isinstance(u, str) for u in urls))):
            raise ValueError(f"{ICE_SERVERS_ENV}[{i}].urls must be a string or a list of strings, got {urls!r}.{hint}")
        extra = set(server) - {"urls", "username", "credential"}
        if extra or not all(isinstance(server.get(k, ""), str) for k in ("username", "credential")):
            raise ValueError(f"{ICE_SERVERS_ENV}[{i}] may hold only urls and string username and credential, "
                             f"got {server!r}.{hint}")
    return {"iceServers": servers}

