"""Performance Lab: where the time goes for the current photo, and which CPU tips really help here."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from core.timing import STAGES, available_backends, summarize_runs
from core.transforms import network_input_size
from ui.current import CurrentPrediction, current_prediction
from ui.image_source import selected_image
from ui.settings import setting
from ui.teaching_charts import pass_totals_figure, stage_bars_figure
from ui.timing_runs import Measurement, measure, plan, runs_of

st.title("Performance Lab")
st.markdown(
    "Stage-by-stage timings of the whole pipeline on **this photo**: decode the file, preprocess (resize and "
    "normalise), inference, upsample to the photo's size, colourise. Pick what to compare and press **Run**: the "
    "CPU tips below are then checked against your numbers instead of being taken on faith."
)
st.info(
    "Every setting is measured in a **fresh Python process**. `torch.set_num_threads` is process-wide, so "
    "changing it inside the app would slow down everyone else; a fresh process also makes the first pass a true "
    "warm-up. The app's own predictor is not touched.",
    icon=":material/science:",
)

current = current_prediction()
if current is None:
    st.stop()

_RESULTS = "perf_results"
_SIZES = (256, 384, 512)


def _load_average() -> float | None:
    """The 1-minute system load average, where the OS reports one."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def _table(results: list[Measurement]) -> pd.DataFrame:
    rows = []
    for m in results:
        if m.error:
            continue
        runs = runs_of(m)
        summary = summarize_runs(runs)
        h, w = runs[0].net_hw
        row = {"setting": m.label, "network input": f"{w}×{h}", "first pass (ms)": round(summary.first * 1000, 1),
               "steady (ms)": round(summary.steady * 1000, 1)}
        row.update({f"{s} (ms)": round(summary.steady_stages[s] * 1000, 1) for s in STAGES})
        rows.append(row)
    return pd.DataFrame(rows)


def _tips(results: list[Measurement]) -> None:
    st.subheader("CPU tips, tested on your numbers")
    ok = [m for m in results if not m.error]
    steady = {(m.size, m.threads, m.backend): summarize_runs(runs_of(m)).steady for m in ok}
    base = (ok[0].size, ok[0].threads, ok[0].backend)  # the plan measures the baseline first

    def verdict(title: str, change: tuple, what: str) -> None:
        if change in steady:
            ratio = steady[base] / steady[change]
            word = "faster" if ratio >= 1 else "slower"
            st.markdown(f"**{title}** — measured: {what} is **{max(ratio, 1 / ratio):.2f}× {word}** "
                        f"({steady[change] * 1000:.0f} ms vs {steady[base] * 1000:.0f} ms per pass).")
        else:
            st.markdown(f"**{title}** — not measured in this run: {what}.")

    n, t, b = base
    sizes = sorted({m.size for m in ok if m.size != n})
    threads = sorted({m.threads for m in ok if m.threads != t}, reverse=True)
    others = [m.backend for m in ok if m.backend != b and (m.size, m.threads) == (n, t)]
    if sizes:
        for other in sizes:
            verdict("Lower the resolution.", (other, t, b), f"N = {other} against N = {n}")
    else:
        st.markdown("**Lower the resolution.** — pick at least two network sizes to test it.")
    if threads:
        for other in threads:
            verdict("Use every core.", (n, other, b), f"{other} thread{'s' if other > 1 else ''} against {t}")
    else:
        st.markdown("**Use every core.** — pick at least two thread counts to test it.")
    if others:
        for other in others:
            verdict(f"Script / compile the model ({other} backend).", (n, t, other), f"{other} against {b}")
    elif len(available_backends()) < 2:
        st.markdown("**Script / compile the model.** — not testable in this build: only the plain `torch` backend "
                    "is available here (install OpenVINO for the compiled `fast` one). The claim is not asserted.")
    else:
        st.markdown("**Script / compile the model.** — pick the `fast` backend (OpenVINO, compiled) as well to test it.")
    st.caption("Each line compares one change against the first setting measured (the baseline), everything else "
               "equal. Warm-up: the first pass of a fresh process pays one-off costs (allocations, kernel selection, "
               "and for `fast` compiling the network for this image's shape); a long-running server pays them once.")


@st.fragment
def lab(current: CurrentPrediction) -> None:
    """Controls, the run button and the results; reruns alone, never the app's own prediction."""
    cores = os.cpu_count() or 1
    height, width = current.rgb.shape[:2]
    info = current.info
    st.caption(f"This app's predictor: backend **{info.backend}**, **{info.threads}** threads, N = {info.size} "
               f"(sidebar). This machine: {cores} CPU core(s). Photo: {width}×{height}.")
    c1, c2, c3, c4 = st.columns(4)
    sizes = c1.multiselect("Network sizes N", _SIZES, default=[256, 512], key="perf_sizes",
                           format_func=lambda n: f"{n} → {'×'.join(map(str, network_input_size(height, width, n)[::-1]))}")
    thread_counts = c2.multiselect("Thread counts", list(range(1, cores + 1)), default=sorted({1, cores}),
                                   key="perf_threads")
    backends = c3.multiselect("Backends", available_backends(), default=list(available_backends()),
                              key="perf_backends", help="torch: eager PyTorch. fast: the network compiled with "
                              "OpenVINO (the first load converts it and caches it on disk).")
    passes = c4.slider("Passes per setting", 2, 6, value=3, key="perf_passes",
                       help="The first pass is the warm-up; the steady state is the median of the others.")
    full = st.toggle("Every combination (otherwise one change at a time from the first setting)", key="perf_full")
    configs = plan(sizes, thread_counts, backends, full_grid=full)
    run = st.button(f"Run {len(configs)} measurement(s)", key="perf_run", type="primary", disabled=not configs)
    st.caption(f"{len(configs)} fresh process(es), each: load the model, then {passes} passes. Nothing runs until "
               "you press the button.")
    if run:
        choice = selected_image()
        if choice is not None:
            results = measure(choice.data, str(info.weights_path), configs, passes, str(setting("cmap")))
            st.session_state[_RESULTS] = {"digest": current.digest, "results": results, "load": _load_average()}
    stored = st.session_state.get(_RESULTS)
    if not stored or stored["digest"] != current.digest:
        return
    results: list[Measurement] = stored["results"]
    for m in results:
        if m.error:
            st.error(f"{m.label}: {m.error}")
    ok = [m for m in results if not m.error]
    if not ok:
        return
    st.subheader("Results")
    st.dataframe(_table(ok), hide_index=True, key="perf_table")
    summaries = [summarize_runs(runs_of(m)) for m in ok]
    st.plotly_chart(stage_bars_figure([m.label for m in ok], [s.steady_stages for s in summaries]),
                    key="perf_stage_bars", config={"displaylogo": False})
    st.plotly_chart(pass_totals_figure([m.label for m in ok], [runs_of(m) for m in ok]), key="perf_passes_chart",
                    config={"displaylogo": False})
    _tips(ok)
    load = stored.get("load")
    if load is not None:
        busy = "other programs were competing for the CPU, which hurts more threads most" if load > cores else \
            "the CPU was not oversubscribed"
        st.caption(f"System load right after the run: {load:.2f} (1-minute average) on {cores} core(s): {busy}. "
                   "Timings from a busy machine are real, but differ from a quiet one.")


lab(current)
