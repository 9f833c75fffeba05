"""Video: a clip to a heatmap video and a side-by-side video, stable or per-frame, with a frame scrubber."""

from __future__ import annotations

import functools
import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.io.exports import file_stem
from core.io.metadata import sidecar_facts, sidecar_name
from core.maps.colormaps import colorize
from core.maps.display import downscale
from core.maps.stats import histogram
from core.video.job import VideoJob
from core.video.pipeline import (
    Display, VideoCancelled, VideoResult, depth_over_time, open_depth_npz, png16_zip, process_video,
)
from core.video.reader import MAX_VIDEO_SECONDS, Sampling, VideoDecodeError, probe_video
from core.video.stable import MODES
from ui.charts import AXIS_LABEL, histogram_figure
from ui.click_image import Marker, clickable_image_figure, clicked_pixel
from ui.model_status import loaded_predictor
from ui.settings import setting

_TYPES = ["mp4", "m4v", "mov", "webm", "mkv", "avi", "gif"]
_JOB, _RESULT = "video_job", "video_result"  # session keys: the running job, the last finished run (small dict)
_SAMPLINGS = ("Every frame", "Target fps", "Frame cap")
_POLL_S = 0.25

st.title("Video")
st.markdown(
    f"Upload a clip: every (sampled) frame goes through MiDaS, and you get a heatmap video, a side-by-side video "
    f"and the raw {AXIS_LABEL} of every frame. **Stable** mode aligns each frame to a running reference by scale "
    "and shift and draws the whole clip with one colour window; **per-frame** normalises each frame on its own, "
    "which makes the picture pump brighter and darker as things move."
)

upload = st.file_uploader("Video clip (MP4, MOV, WebM, MKV, AVI or animated GIF)", type=_TYPES, key="video_upload")


def _show_run(job: VideoJob) -> None:
    """Poll the running job until it ends, with a progress bar and a Cancel button.

    The script blocks here, but a click on Cancel still reaches the server: Streamlit stops this
    run at its next progress update and reruns the script, whose first step is the button's
    ``on_click`` (``job.cancel``). The rerun comes back here and polls the same job, which stops
    before its next frame.
    """
    st.button("Cancel", key="video_cancel", icon=":material/stop_circle:", on_click=job.cancel,
              disabled=job.cancelling)
    bar = st.progress(0.0, text="Starting…")
    while not job.wait(_POLL_S):
        p = job.progress()
        bar.progress(p.fraction, text=("Cancelling… " if job.cancelling else "") + p.line())


def _finish(job: VideoJob, meta: dict) -> None:
    """Keep what a finished job made (or say why it made nothing)."""
    del st.session_state[_JOB]
    try:
        result: VideoResult = job.result()
    except VideoCancelled as e:
        shutil.rmtree(meta["dir"], ignore_errors=True)
        st.session_state["video_note"] = f"{str(e)[:1].upper()}{str(e)[1:]}."  # "Cancelled after 3 frames; ..."
        return
    except VideoDecodeError as e:
        shutil.rmtree(meta["dir"], ignore_errors=True)
        st.session_state["video_note"] = f"**{meta['name']}** cannot be used. {e}"
        return
    except Exception as e:  # e.g. the server stayed too busy: say so, the session carries on
        shutil.rmtree(meta["dir"], ignore_errors=True)
        st.session_state["video_note"] = f"Processing **{meta['name']}** failed: {e}"
        return
    st.session_state[_RESULT] = {
        **meta,
        "depth_mp4": str(result.depth_mp4),
        "side_mp4": str(result.side_by_side_mp4),
        "npz": str(result.depth_npz),
        "frames": result.frames,
        "flicker": result.flicker,
        "flicker_per_frame": result.flicker_per_frame,
        "seconds": result.seconds,
        "display": result.display,  # 16 bytes a frame: how the heatmap video drew each frame
    }


def _start(data: bytes, digest: str, name: str, mode: str, sampling: Sampling) -> None:
    predictor = loaded_predictor()
    if predictor is None:
        st.warning("The model is not loaded: the **Model** section of the sidebar says what to do.", icon=":material/warning:")
        return
    old = st.session_state.pop(_RESULT, None)
    if old is not None:
        shutil.rmtree(old["dir"], ignore_errors=True)
    out = tempfile.mkdtemp(prefix="midas_video_")
    stem = file_stem(name) or "clip"
    run = functools.partial(process_video, data, predictor, out, stem, mode=mode, sampling=sampling,
                            cmap=setting("cmap"), max_seconds=MAX_VIDEO_SECONDS)
    job = VideoJob(lambda progress, cancel: run(progress=progress, cancel=cancel))
    meta = {"dir": out, "stem": stem, "name": name, "digest": digest, "mode": mode, "size": predictor.size}
    st.session_state[_JOB] = (job, meta)
    st.session_state.pop("video_note", None)


def _flicker_figures(r: dict) -> None:
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    left, right = st.columns(2)
    left.metric("Flicker, per-frame normalisation", fmt(r["flicker_per_frame"]))
    if r["mode"] == "stable":
        delta = None
        if r["flicker"] is not None and r["flicker_per_frame"]:
            delta = f"{(r['flicker'] / r['flicker_per_frame'] - 1):+.0%} vs per-frame"
        right.metric("Flicker, stable", fmt(r["flicker"]), delta=delta, delta_color="inverse")
    else:
        right.caption("Process the clip in **stable** mode to compare its flicker with this one.")
    st.caption(
        "Flicker: the mean change of the normalised map (0 to 1) between consecutive frames, over pixels whose "
        "colour did not change. Lower is steadier."
    )


def _downloads(r: dict) -> None:
    stem = r["stem"]
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.download_button("Heatmap video (.mp4)", Path(r["depth_mp4"]).read_bytes, f"{stem}_depth.mp4", "video/mp4",
                       key="video_dl_depth", on_click="ignore")
    c2.download_button("Side-by-side video (.mp4)", Path(r["side_mp4"]).read_bytes, f"{stem}_side_by_side.mp4",
                       "video/mp4", key="video_dl_side", on_click="ignore")
    c3.download_button("Raw depth (.npz)", Path(r["npz"]).read_bytes, f"{stem}_depth.npz", "application/zip",
                       key="video_dl_npz", on_click="ignore")  # files are read when clicked, not on every run
    npz_path = r["npz"]
    c4.download_button("16-bit PNGs (.zip)",
                       lambda: png16_zip(open_depth_npz(npz_path)[0], sidecar_facts(npz_path)),
                       f"{stem}_depth16.zip", "application/zip", key="video_dl_png16", on_click="ignore")
    sidecar = Path(npz_path).with_name(sidecar_name(Path(npz_path).name))
    if sidecar.is_file():  # what the .npz holds: model, weights' SHA-256, N, size, app version
        c5.download_button("What the .npz holds (.json)", sidecar.read_bytes(), f"{stem}_depth.npz.json",
                           "application/json", key="video_dl_npz_json", on_click="ignore")
    st.caption("The `.npz` holds `depth` (float16, frames × H × W, the raw prediction of every processed frame) and "
               "`timestamps` (seconds); its `.json` sidecar says so, with the model, the weights' SHA-256, N and the app "
               "version. The zip holds one 16-bit PNG a frame, near = bright, one window for the clip, the same facts "
               "in each PNG's text chunks.")


_POINTS, _POINTS_FOR, _PICKS = "video_points", "video_points_for", "video_picks"  # small session state
_MAX_POINTS = 5
_POINT_COLORS = ("#00e5ff", "#ffd54f", "#69f0ae", "#ff7043", "#e040fb")  # marker k and line k share a colour


def _points(r: dict) -> list[tuple[int, int]]:
    """The picked pixels of this result (a new result starts with none)."""
    owner = r["dir"] + r["digest"]
    if st.session_state.get(_POINTS_FOR) != owner:
        st.session_state[_POINTS_FOR], st.session_state[_POINTS] = owner, []
    return [tuple(p) for p in st.session_state[_POINTS]]


def _add_point(point: tuple[int, int] | None) -> None:
    """Follow one more pixel: a pixel already followed is not added twice; a sixth replaces the first."""
    if point is None:
        return
    points = [tuple(p) for p in st.session_state.get(_POINTS, [])]
    if point not in points:
        st.session_state[_POINTS] = (points + [point])[-_MAX_POINTS:]


def _on_pick(chart_key: str, full_hw: tuple[int, int]) -> None:
    """on_select of the frame: add the clicked pixel; a fresh chart key lets the same pixel be clicked again."""
    st.session_state[_PICKS] = st.session_state.get(_PICKS, 0) + 1
    _add_point(clicked_pixel(st.session_state.get(chart_key), full_hw))


def _on_type() -> None:
    _add_point((int(st.session_state["video_type_x"]), int(st.session_state["video_type_y"])))


def _on_clear() -> None:
    st.session_state[_POINTS] = []


@st.fragment
def _scrubber(r: dict) -> None:
    depth, timestamps = open_depth_npz(r["npz"])  # a frame, or a pixel a frame, read when needed
    frames, height, width = depth.shape
    display: Display = r["display"]
    points = _points(r)
    st.subheader("Frame by frame")
    k = st.slider("Frame", 0, frames - 1, 0, key="video_frame") if frames > 1 else 0
    k = min(k, frames - 1)
    d = depth[k]  # HxW float32, from the .npz's float16
    cmap = setting("cmap")
    heat = colorize(display.shown(k, d), cmap, 0.0, 1.0)  # as the heatmap video draws frame k
    markers = [Marker(x, y, f"P{j + 1}", _POINT_COLORS[j]) for j, (x, y) in enumerate(points)]
    chart_key = f"video_pick_{st.session_state.get(_PICKS, 0)}"
    left, right = st.columns(2)
    with left:
        st.plotly_chart(
            clickable_image_figure(downscale(heat), (height, width), markers, d, "relative inverse depth (raw)",
                                   height=max(240, min(520, round(460 * height / width)) + 60)),
            key=chart_key, on_select=functools.partial(_on_pick, chart_key, (height, width)),
            selection_mode="points", config={"displaylogo": False},
        )
        how = "aligned, in the clip's window" if display.mode == "stable" else "normalised on its own"
        st.caption(f"Frame {k} at {timestamps[k]:.2f} s · as the heatmap video shows it ({how}) · {cmap} · "
                   f"click a pixel to follow it over time (up to {_MAX_POINTS})")
    finite = d[np.isfinite(d)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    right.plotly_chart(histogram_figure(histogram(d, bins=128), lo, hi, (0.0, 100.0), cmap, False),
                       key="video_histogram", config={"displaylogo": False})
    right.caption(f"Histogram of frame {k}'s raw prediction ({AXIS_LABEL})")

    st.subheader("Depth over time")
    with st.expander("Add a pixel by its coordinates"):
        c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
        c1.number_input("x (from the left)", 0, width - 1, width // 2, key="video_type_x")
        c2.number_input("y (from the top)", 0, height - 1, height // 2, key="video_type_y")
        c3.button("Add", key="video_type_add", on_click=_on_type, icon=":material/add:")
    if not points:
        st.info(f"Click up to {_MAX_POINTS} pixels on the frame above to chart their depth over the clip.",
                icon=":material/ads_click:")
        return
    st.button("Clear the points", key="video_points_clear", on_click=_on_clear, icon=":material/clear_all:")
    series = depth_over_time(depth, points)  # (frames, points) float32, read pixel by pixel
    names = [f"P{j + 1} ({x}, {y})" for j, (x, y) in enumerate(points)]  # no ":" (Altair reads it as a type)
    table = pd.DataFrame(series, columns=names, index=pd.Index(timestamps, name="seconds"))
    st.line_chart(table, x_label="time (s)", y_label="relative inverse depth (raw, unitless)",
                  color=list(_POINT_COLORS[: len(points)]))


if upload is None:
    st.info("Upload a clip above to start (a few seconds at 640×360 take about a minute on a CPU).",
            icon=":material/upload:")
    st.stop()

data = upload.getvalue()
digest = hashlib.sha256(data).hexdigest()
try:
    info = probe_video(data)
except VideoDecodeError as e:
    st.error(f"**{upload.name}** cannot be used. {e}", icon=":material/block:")
    st.caption("Choose another file: the rest of the app keeps working.")
    st.stop()

st.caption(
    f"**{upload.name}**: {info.width}×{info.height}, {info.fps:.3g} fps, {info.duration_s:.1f} s"
    + (f", {info.frames} frames" if info.frames else "") + f" · {info.codec} in {info.container}"
)
net_size = int(st.session_state.get("net_size", 256))
c1, c2, c3 = st.columns(3)
c1.markdown(f"Network size **N = {net_size}** (set in the sidebar)")
how = c2.radio("Frames", _SAMPLINGS, key="video_sampling", horizontal=True)
sampling = Sampling()
if how == "Target fps":
    sampling = Sampling(fps=float(c2.number_input("Frames per second", 0.5, 60.0, 5.0, 0.5, key="video_fps")))
elif how == "Frame cap":
    sampling = Sampling(max_frames=int(c2.number_input("At most this many frames", 1, 100_000, 60, key="video_max_frames")))
mode = c3.radio("Mode", MODES, key="video_mode", horizontal=True,
                help="stable: aligned to a running reference, one colour window for the clip; per-frame: each frame alone.")

controls = st.empty()  # the Process button, or the progress bar and Cancel while a job runs
running = st.session_state.get(_JOB)
if running is None and controls.button("Process", key="video_process", type="primary", icon=":material/play_arrow:"):
    _start(data, digest, upload.name, mode, sampling)
    running = st.session_state.get(_JOB)
if running is not None:
    job, meta = running
    with controls.container():
        _show_run(job)
    _finish(job, meta)
    st.rerun()  # a clean page: the Process button again, and the result or the note

note = st.session_state.get("video_note")
if note:
    (st.info if note.startswith("Cancelled") else st.error)(note)

result = st.session_state.get(_RESULT)
if result is None:
    st.stop()
if result["digest"] != digest:
    st.caption(f"Showing the last processed clip, **{result['name']}**: press Process for this one.")
st.subheader("Result")
st.caption(f"{result['frames']} frames in {result['seconds']:.1f} s · mode {result['mode']} · N = {result['size']}")
left, right = st.columns(2)
left.video(result["depth_mp4"])
left.caption("Heatmap video (H.264)")
right.video(result["side_mp4"])
right.caption("Side by side: photo | heatmap")
_flicker_figures(result)
_downloads(result)
_scrubber(result)
