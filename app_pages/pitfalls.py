"""Pitfalls, Live: the usual ways a MiDaS depth picture goes wrong, reproduced on the current photo."""

from __future__ import annotations

import cv2
import numpy as np
import streamlit as st

from core.measure.alignment import AlignmentError
from core.maps.colormaps import colorize
from core.maps.normalize import normalize
from core.maps.stats import depth_stats
from core.maps.display import banding_crops, display_window, downscale, smoothest_crop
from core.teaching.pitfalls import (
    aligned_difference,
    color_ends,
    constant_image,
    grey_levels,
    naive_minmax,
    raw_as_image,
    saturated_fractions,
    wrong_maximum,
)
from core.midas.predictor import Prediction
from core.teaching.timing import cpu_cores, steady_spread, summarize_runs
from core.teaching.timing_evidence import DEFAULT_PASSES, compare, threads_name
from ui import cache
from ui.charts import AXIS_LABEL
from ui.current import CurrentPrediction, current_prediction, predict_or_explain
from ui.image_source import selected_image
from ui.inline_image import data_url
from ui.timing_runs import Config, Measurement, measure, runs_of, verdict_markdown

st.title("Pitfalls, Live")
st.markdown(
    "The usual troubleshooting table, row by row, **demonstrated on your photo** rather than described. Each "
    "row: the symptom, the cause, the evidence measured just now, and the fix."
)

current = current_prediction()
if current is None:
    st.stop()

_VIEW = 480  # width of the small pictures
_SIZES = (256, 384, 512)
_RES_RAN, _RES_TIMING, _THREADS = "pit_res_for", "pit_res_timing", "pit_threads_result"


def _row(title: str, symptom: str, cause: str, fix: str) -> None:
    st.subheader(title)
    st.markdown(f"**Symptom:** {symptom}  \n**Cause:** {cause}  \n**Fix:** {fix}")


def _percent(x: float) -> str:
    return f"{x:.1%}"


def black_or_white(current: CurrentPrediction) -> None:
    _row("1. The output is all black or all white",
         "the depth picture is a flat white or black rectangle, or the file is full of NaN.",
         "the values are handed to code that expects [0, 1] or a known range. MiDaS values are "
         f"{AXIS_LABEL}, often in the hundreds or thousands; a flat input has (almost) no range to stretch.",
         "normalise with the map's own minimum and maximum (`core.maps.normalize.normalize`), which also turns a "
         "constant map into zeros instead of 0/0 = NaN.")
    _, depth_small = current.display()
    depth_view = downscale(depth_small, _VIEW)
    white = raw_as_image(depth_view)
    black = wrong_maximum(depth_view, 65535.0)
    right = normalize(depth_view)
    c1, c2, c3 = st.columns(3)
    _, w_white, _ = saturated_fractions(white)
    b_black, _, _ = saturated_fractions(black)
    c1.image(data_url(white), width="stretch", caption="Wrong: the raw values shown as an image (clipped to [0, 1])")
    c1.metric("White pixels", _percent(w_white))
    _, brightest, levels = grey_levels(black)
    c2.image(data_url(black), width="stretch", caption="Wrong: divided by 65535 \"to get [0, 1]\"")
    c2.metric("Brightest pixel", f"grey level {brightest} of 255", help=f"{levels} distinct grey levels used; "
              f"{b_black:.1%} of the pixels are exactly black.")
    c3.image(data_url(right), width="stretch", caption="Right: min–max normalised with the map's own range")
    c3.metric("NaN pixels", f"{int(np.isnan(right).sum())}", help=f"{grey_levels(right)[2]} distinct grey levels used.")

    st.markdown("**A photo with nothing in it.** A flat grey picture of the same shape, through the same network:")
    h, w = depth_view.shape
    flat_rgb = constant_image(h, w, 128)
    flat_pred = predict_or_explain(f"constant-128-{w}x{h}", _predictor_for(current, current.info.size), flat_rgb,
                                   retry_key="pit_flat_retry")
    if flat_pred is None:
        return
    flat_stats = depth_stats(flat_pred.depth)
    photo_stats, _ = current.summary()
    photo_span = max(photo_stats.max - photo_stats.min, 1e-12)
    constant_map = np.full((h, w), float(np.median(flat_pred.depth)), np.float32)
    naive_nan = float(np.isnan(naive_minmax(constant_map)).mean())
    ours = normalize(constant_map)
    f1, f2, f3 = st.columns(3)
    f1.image(data_url(colorize(flat_pred.depth, "inferno")), width="stretch",
             caption="Its prediction, min–max stretched: structure invented from nothing")
    f1.metric("Its range, relative to your photo's", _percent((flat_stats.max - flat_stats.min) / photo_span))
    f2.metric("Naive (d − min)/(max − min): NaN pixels", _percent(naive_nan),
              help="The textbook formula on a constant map (the prediction's median everywhere): 0/0.")
    f3.metric("core.maps.normalize.normalize: NaN pixels", f"{int(np.isnan(ours).sum())}",
              help="The same constant map through this project's normalisation.")
    f3.caption(f"…and it returns all zeros (max {float(ours.max()):g}): a black picture, flagged by "
               "`DepthStats.constant`, never NaN.")
    st.caption("Min–max stretching always fills the whole colour range, even when the range is tiny: check the raw "
               "range (Depth Explorer statistics) before trusting the contrast.")


def cold_near(current: CurrentPrediction) -> None:
    _row("2. Near things are drawn in cold colours",
         "the person in front is blue or dark, the far wall glows red or bright.",
         "inverse depth is *largest for near things*. Normalising it as if it were depth (largest = far), or "
         "inverting the colormap, draws near with the low (cold, dark) end. With `jet`, the high end is red.",
         "keep near = the high end (`colorize(depth, cmap)`, no `invert`); prefer a map whose lightness rises "
         "steadily (inferno, viridis) over jet. The **Colormap Lab** compares every map.")
    _, depth_small = current.display()
    depth_view = downscale(depth_small, _VIEW)
    panels = (("inferno", False, "Right"), ("inferno", True, "Wrong"), ("jet", False, "Right but misleading"),
              ("jet", True, "Wrong"))
    for column, (cmap, invert, verdict) in zip(st.columns(4), panels):
        ends = color_ends(cmap, invert)
        column.image(data_url(colorize(depth_view, cmap, invert=invert)), width="stretch",
                     caption=f"{verdict}: {cmap}{', inverted' if invert else ''}")
        r, g, b = ends.near_rgb
        column.markdown(
            f"Nearest pixel: <span style='background:rgb({r},{g},{b});padding:0 1.2em;border:1px solid #888'></span> "
            f"rgb({r}, {g}, {b}), lightness L* {ends.near_lightness:.0f} "
            f"({ends.near_hue}, {'darker' if ends.near_is_dark else 'brighter'} than far)",
            unsafe_allow_html=True,
        )


def banding(current: CurrentPrediction) -> None:
    _row("3. Stripes in smooth areas (8-bit banding)",
         "a smooth wall or floor shows contour-like steps in the exported depth.",
         "an 8-bit PNG has 256 levels for the whole scene; a smooth region spans only a few of them.",
         "export 16 bits (65,536 levels: the Depth Explorer's 16-bit PNG) or the raw float32 .npy.")
    _, depth_small = current.display()
    box = smoothest_crop(depth_small, 48)  # quantised over the map's own range, as the crops are
    crops = banding_crops(depth_small, box)
    y0, y1, x0, x1 = box
    zoom = 288
    c1, c2, c3 = st.columns(3)
    c1.image(data_url(cv2.resize(crops.crop8, (zoom, zoom), interpolation=cv2.INTER_NEAREST)), width=zoom,
             caption="8-bit export of the region, stretched to full contrast")
    c1.metric("8-bit levels in the region", f"{crops.levels8}")
    c2.image(data_url(cv2.resize(crops.crop16, (zoom, zoom), interpolation=cv2.INTER_NEAREST)), width=zoom,
             caption="16-bit export of the same region, same stretch")
    c2.metric("16-bit levels in the region", f"{crops.levels16:,}")
    c3.markdown(f"The {x1 - x0}×{y1 - y0}-pixel region at x {x0}–{x1}, y {y0}–{y1} of the displayed map: the "
                "smoothest spot that still crosses a few 8-bit levels, chosen automatically. Steps there are "
                "quantisation, not depth.")


def _predictor_for(current: CurrentPrediction, size: int):
    path = current.info.weights_path
    return cache.get_predictor(str(path), path.stat().st_mtime_ns, size)


def resolution(current: CurrentPrediction) -> None:
    _row("4. Blurry edges, or slow predictions (input resolution)",
         "thin objects vanish and edges are soft; or one prediction takes seconds.",
         "the photo is resized to fit inside N×N before the network sees it. Larger N keeps more detail and "
         "costs roughly N² time; MiDaS small was trained at N = 256, so larger N can also change the layout.",
         "pick N in the sidebar: 256 for speed, 384–512 for detail. Compare below.")
    owner = (current.digest, current.info.sha256)
    if st.button("Run the photo at N = 256, 384 and 512", key="pit_res_run"):
        st.session_state[_RES_RAN] = owner
    if st.session_state.get(_RES_RAN) != owner:
        st.caption("Three predictions (up to a few seconds each on a small CPU); each is kept for later visits.")
        return
    bar = st.progress(0.0, text="Predicting…")
    results: dict[int, Prediction] = {}
    for i, size in enumerate(_SIZES):
        bar.progress(i / len(_SIZES), text=f"N = {size}: predicting…")
        result = predict_or_explain(current.digest, _predictor_for(current, size), current.rgb,
                                    retry_key="pit_res_retry")
        if result is None:  # busy: the message and a "Try again" button are on the page
            break
        results[size] = result
    bar.empty()
    if len(results) < len(_SIZES):
        return
    compiled = []
    for column, size in zip(st.columns(len(_SIZES)), _SIZES):
        pred = results[size]
        h, w = pred.net_input.shape[2:]
        column.image(data_url(colorize(downscale(pred.depth, _VIEW), "inferno")), width="stretch",
                     caption=f"N = {size}: network input {w}×{h}")
        compile_ms = pred.seconds.get("compile", 0.0) * 1000
        if compile_ms:
            compiled.append(f"N = {size}")
        column.metric(f"Inference at N = {size}", f"{pred.seconds['inference'] * 1000:.0f} ms",
                      help=f"One prediction, including a one-time compile for {w}×{h} ({compile_ms:.0f} ms)."
                      if compile_ms else "One prediction, made when it was first needed.")
    try:
        diff, mean = aligned_difference(results[512].depth, results[256].depth)
    except AlignmentError as e:
        st.warning(f"No difference map: {e}")
        return
    left, right = st.columns([2, 1])
    window = display_window(diff, (0.0, 99.0), from_zero=True)  # 0 = no difference
    left.image(data_url(colorize(downscale(diff, 2 * _VIEW), "inferno", *window)),
               width="stretch", caption="Where N = 256 and N = 512 disagree (bright = more), after aligning their "
                                        "scale and shift")
    right.metric("Mean difference, N = 256 vs 512", f"{mean:.2%} of the range")
    _resolution_timing(current, compiled)


def _listed(items: list[str]) -> str:
    return " and ".join(items) if len(items) < 3 else f"{', '.join(items[:-1])} and {items[-1]}"


def _timed(column, label: str, runs) -> None:
    """One setting's inference time: the median, the range, and what else used the CPU meanwhile."""
    spread, summary = steady_spread(runs, "inference"), summarize_runs(runs)
    column.metric(label, f"{spread.median * 1000:.0f} ms inference",
                  help="Median of the passes after the warm-up, each in a fresh process.")
    other = "not measured on this system" if summary.other_cores is None else f"{summary.other_cores:.2f} cores"
    column.caption(f"fastest–slowest {spread.low * 1000:.0f}–{spread.high * 1000:.0f} ms over {spread.n} passes "
                   f"after the warm-up · this process {summary.own_cores:.2f} cores · other programs {other}")


def _resolution_timing(current: CurrentPrediction, compiled: list[str]) -> None:
    """The "costs roughly N² time" claim, timed properly: fresh processes, several passes, the spread."""
    st.caption("The times above are one prediction each, made in this server when first needed, under whatever "
               "load it had" + (f" ({_listed(compiled)} included compiling the network for "
                                f"{'its' if len(compiled) == 1 else 'each'} shape)" if compiled else "")
               + ": single times are not evidence. Timing the claim takes several passes, in fresh processes:")
    info = current.info
    if st.button(f"Time N = 256 against N = 512 ({DEFAULT_PASSES} passes each, fresh processes)",
                 key="pit_res_time"):
        choice = selected_image()
        if choice is not None:
            configs = [Config(n, info.threads, info.backend) for n in (256, 512)]
            st.session_state[_RES_TIMING] = (current.digest, measure(choice.data, str(info.weights_path), configs,
                                                                     passes=DEFAULT_PASSES))
    stored = st.session_state.get(_RES_TIMING)
    if not stored or stored[0] != current.digest:
        return
    results: list[Measurement] = stored[1]
    for m in results:
        if m.error:
            st.error(m.error)
    if any(m.error for m in results):
        return
    runs = [runs_of(m) for m in results]
    for column, m, r in zip(st.columns(2), results, runs):
        h, w = r[0].net_hw
        _timed(column, f"N = {m.size} ({w}×{h}), timed", r)
    (h1, w1), (h2, w2) = runs[0][0].net_hw, runs[1][0].net_hw
    verdict = compare(runs[0], runs[1], subject_name="N = 256", reference_name="N = 512", cores=cpu_cores(),
                      stage="inference")
    st.markdown(f"{verdict_markdown(verdict)} The pixel count predicts about {(h2 * w2) / (h1 * w1):.1f}× "
                f"({w1}×{h1} against {w2}×{h2}).")


def threads(current: CurrentPrediction) -> None:
    cores = cpu_cores()
    _row("5. Slow on a multi-core CPU (thread count)",
         "inference is slower than expected, or gets slower when several people use the app.",
         "PyTorch runs each inference on several threads. Too few leave cores idle; more threads than cores, or "
         "several inferences sharing the cores, make the threads fight for them.",
         f"one inference at a time with threads = cores ({cores} here); the app queues predictions for that reason.")
    st.caption("`torch.set_num_threads` is process-wide, so the app never changes its own: each thread count is "
               f"measured in a fresh Python process, {DEFAULT_PASSES} passes, of which the first (warm-up) is left "
               "out of the median and the range.")
    counts = sorted({1, cores})
    if st.button(f"Measure with {' and '.join(str(c) for c in counts)} thread(s)", key="pit_threads_run"):
        choice = selected_image()
        if choice is not None:
            configs = [Config(current.info.size, c) for c in counts]
            st.session_state[_THREADS] = (current.digest, measure(choice.data, str(current.info.weights_path),
                                                                  configs, passes=DEFAULT_PASSES))
    stored = st.session_state.get(_THREADS)
    if not stored or stored[0] != current.digest:
        return
    results: list[Measurement] = stored[1]
    for column, m in zip(st.columns(len(results)), results):
        if m.error:
            column.error(m.error)
            continue
        _timed(column, m.label, runs_of(m))
    ok = [m for m in results if not m.error]
    if len(ok) == 2:
        fewer, more = ok  # the counts are sorted: 1 thread first
        verdict = compare(runs_of(more), runs_of(fewer), subject_name=threads_name(more.threads),
                          reference_name=threads_name(fewer.threads), cores=cores, stage="inference")
        st.markdown(verdict_markdown(verdict))


black_or_white(current)
st.divider()
cold_near(current)
st.divider()
banding(current)
st.divider()
resolution(current)
st.divider()
threads(current)
