"""Live Camera: the browser's camera in, depth out in real time (streamlit-webrtc), with an fps readout."""

from __future__ import annotations

import os

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from core.video.live import ICE_SERVERS_ENV, LIVE_SIZES, VIEWS, LiveDepth, LiveSettings, LiveStream, rtc_configuration
from core.video.stable import MODES
from ui.model_status import loaded_predictor
from ui.settings import COLORMAP_NAMES, setting

_STREAM = "live_camera"  # the webrtc_streamer's key (its context lives in st.session_state under it)
_VIEW_LABELS = {"heatmap": "Heatmap", "side-by-side": "Side by side", "overlay": "Overlay"}
_REFRESH_S = 1.0  # how often the readout reads the stream's figures while it plays

st.title("Live Camera")
st.markdown(
    "Point your camera at the room and watch MiDaS's relative inverse depth (near = bright, unitless) as you move. "
    "Press **START** and allow the camera. The controls below apply while it runs. **Stable** aligns each frame to a "
    "running reference and lets the colour window follow slowly, so the picture does not pump; **per-frame** "
    "normalises every frame on its own. A smaller N is faster and coarser."
)

try:
    rtc_config = rtc_configuration(os.environ.get(ICE_SERVERS_ENV))
except ValueError as e:
    st.error(str(e), icon=":material/settings_ethernet:")
    st.stop()

predictor = loaded_predictor()
if predictor is None:
    st.warning("The model is not loaded: the **Model** section of the sidebar says what to do.", icon=":material/warning:")
    st.stop()

c1, c2, c3, c4 = st.columns([3, 2, 3, 2])
c1.radio("View", VIEWS, key="live_view", persist_state="session", format_func=_VIEW_LABELS.get, horizontal=True)
c2.selectbox("Colormap", COLORMAP_NAMES, key="cmap", persist_state="session")
c3.select_slider("Network size N (live)", options=LIVE_SIZES, key="live_size", persist_state="session",
                 help="The frame is resized to fit inside N×N. 256 is what MiDaS small was trained at; "
                 "128 is about four times faster. Photos use the sidebar's N, from 256.")
c4.radio("Mode", MODES, key="live_mode", persist_state="session", horizontal=True)
opacity = setting("overlay_opacity")
if st.session_state["live_view"] == "overlay":
    opacity = st.slider("Overlay opacity", 0.0, 1.0, step=0.05, key="overlay_opacity", persist_state="session")

settings = LiveSettings(view=st.session_state["live_view"], cmap=st.session_state["cmap"],
                        size=int(st.session_state["live_size"]), mode=st.session_state["live_mode"],
                        opacity=float(opacity))

ctx = webrtc_streamer(
    key=_STREAM,
    mode=WebRtcMode.SENDRECV,
    rtc_configuration=rtc_config,
    media_stream_constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}, "audio": False},
    video_processor_factory=lambda: LiveStream(LiveDepth(predictor, settings)),
    async_processing=False,  # LiveStream hands frames to its own thread: the shared event loop never waits
    video_html_attrs={"autoPlay": True, "controls": False, "muted": True, "playsInline": True,
                      "style": {"width": "100%"}},
    translations={
        "device_access_denied": "Camera access denied: allow the camera for this site (the camera icon in the "
                                "address bar), then press START again",
        "device_not_available": "No camera found: connect one, or use the Video page with a recorded clip",
        "media_api_not_available": "This page cannot use a camera here: open the app at https:// or at "
                                   "localhost / 127.0.0.1",
    },
)
stream: LiveStream | None = ctx.video_processor
if stream is not None:
    stream.configure(settings)  # applies from the next frame; the stream keeps running


@st.fragment(run_every=_REFRESH_S if ctx.state.playing else None)
def _readout() -> None:
    live = ctx.video_processor
    if not ctx.state.playing or live is None:
        if ctx.state.signalling:
            st.info("Connecting to the server… If this takes more than a few seconds, the browser and the server "
                    f"cannot reach each other directly: see {ICE_SERVERS_ENV} in the README.",
                    icon=":material/sync:")
        else:
            st.info(
                "Press **START** and allow the camera. **No camera, or permission denied?** The box above then says "
                "so (*NotFoundError*, *NotAllowedError*): allow the camera for this site in the address bar and "
                "press START again, or use the **Video** page with a recorded clip. Browsers give the camera only "
                "to pages at https:// or at localhost.",
                icon=":material/videocam:",
            )
        return
    s = live.stats.snapshot()
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Depth fps", f"{s.fps:.1f}", help="Depth pictures made per second, measured on the server over the "
              "last 3 s.")
    m2.metric("Camera fps", f"{s.input_fps:.1f}", help="Camera frames reaching the server per second.")
    m3.metric("Latency p50", "–" if s.latency_p50_ms is None else f"{s.latency_p50_ms:.0f} ms",
              help="From a frame's arrival at the server to its depth picture (median over the last 3 s).")
    m4.metric("Latency p95", "–" if s.latency_p95_ms is None else f"{s.latency_p95_ms:.0f} ms")
    stages = " · ".join(f"{name} {sec * 1000:.0f} ms" for name, sec in s.seconds.items())
    st.caption(
        f"{s.frames} depth frames · {s.dropped} stale camera frames dropped (the newest frame always wins) · "
        f"{s.busy} skipped while another user's prediction ran" + (f" · per frame: {stages}" if stages else "")
    )
    if s.error:
        st.warning(f"The last frame failed: {s.error}", icon=":material/error:")


_readout()
