"""Performance Lab: where the time goes for the current photo, and which CPU tips really help here."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.teaching.timing import STAGES, available_backends, cpu_cores, summarize_runs
from core.teaching.timing_evidence import DEFAULT_PASSES, MIN_STEADY_PASSES, cpu_tips, separation_chance
from core.midas.transforms import network_input_size
from ui.current import CurrentPrediction, current_prediction
from ui.image_source import selected_image
from ui.settings import setting
from ui.teaching_charts import pass_totals_figure, stage_bars_figure
from ui.timing_runs import Measurement, measure, plan, runs_of, verdict_markdown

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


def _cores(value: float | None) -> float | None:
    return None if value is None or value != value else round(value, 2)  # NaN -> None (an empty cell)


def _table(results: list[Measurement]) -> pd.DataFrame:
    rows = []
    for m in results:
        if m.error:
            continue
        runs = runs_of(m)
        summary = summarize_runs(runs)
        h, w = runs[0].net_hw
        spread = summary.spread
        row = {"setting": m.label, "network input": f"{w}×{h}", "first pass (ms)": round(summary.first * 1000, 1),
               "median (ms)": round(spread.median * 1000, 1), "fastest (ms)": round(spread.low * 1000, 1),
               "slowest (ms)": round(spread.high * 1000, 1), "passes after warm-up": spread.n,
               "this process (cores)": _cores(summary.own_cores),
               "other programs (cores)": _cores(summary.other_cores)}
        row.update({f"{s} (ms)": round(summary.steady_stages[s] * 1000, 1) for s in STAGES})
        rows.append(row)
    return pd.DataFrame(rows)


def _tips(results: list[Measurement], cores: int) -> None:
    st.subheader("CPU tips, tested on your numbers")
    measured = {(m.size, m.threads, m.backend): runs_of(m) for m in results if not m.error}
    steady = min(summarize_runs(runs).spread.n for runs in measured.values())
    for tip in cpu_tips(measured, cores):
        if tip.verdict is None:
            st.markdown(f"**{tip.title}** — {tip.note}")
        else:
            st.markdown(verdict_markdown(tip.verdict, tip.title))
    st.caption(
        "Each line times the tip's advice against one other setting, everything else equal. It draws a conclusion "
        f"only when the two ranges (fastest to slowest pass after the warm-up) do not overlap, with at least "
        f"{MIN_STEADY_PASSES} such passes per setting, and when other programs left each setting the cores it "
        f"needed; otherwise it says *inconclusive on this run* and why. If two settings were equally fast, "
        f"{steady} passes each would be fully apart by chance in {separation_chance(steady, steady):.1%} of runs. "
        "Warm-up: the first pass of a fresh process pays one-off costs (allocations, kernel selection, and for "
        "`fast` compiling the network for this image's shape); a long-running server pays them once."
    )


def _load_caption(results: list[Measurement], cores: int) -> None:
    """What else used the CPU while the passes ran: the figure every conclusion depends on."""
    others = [summarize_runs(runs_of(m)).other_cores for m in results if not m.error]
    known = [o for o in others if o is not None]
    if not known:
        st.caption("Other programs' CPU use is not measured on this system (no `/proc/stat`, and psutil is not "
                   "installed): a busy machine would go unnoticed. Close other programs before trusting a result.")
        return
    low, high = min(known), max(known)
    figure = f"{low:.2f}" if round(low, 2) == round(high, 2) else f"{low:.2f}–{high:.2f}"
    st.caption(
        f"**CPU busy with other programs:** {figure} of {cores} core(s) on average while the passes after the "
        "warm-up ran (the busy time of the CPUs, from `/proc/stat`, minus the timing process's own CPU time). "
        "That includes your browser and this app's server, which a load average does not separate out. Timings "
        "from a busy machine are real, but they do not test a tip."
    )


@st.fragment
def lab(current: CurrentPrediction) -> None:
    """Controls, the run button and the results; reruns alone, never the app's own prediction."""
    cores = cpu_cores()
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
    passes = c4.slider("Passes per setting", 2, 15, value=DEFAULT_PASSES, key="perf_passes",
                       help="The first pass is the warm-up; the others give the median and the range. A tip is "
                       f"tested only with at least {MIN_STEADY_PASSES + 1} passes (a warm-up and "
                       f"{MIN_STEADY_PASSES} more).")
    full = st.toggle("Every combination (otherwise one change at a time from the first setting)", key="perf_full")
    configs = plan(sizes, thread_counts, backends, full_grid=full)
    run = st.button(f"Run {len(configs)} measurement(s)", key="perf_run", type="primary", disabled=not configs)
    st.caption(f"{len(configs)} fresh process(es), each: load the model, then {passes} passes. Nothing runs until "
               "you press the button.")
    if run:
        choice = selected_image()
        if choice is not None:
            results = measure(choice.data, str(info.weights_path), configs, passes, str(setting("cmap")))
            st.session_state[_RESULTS] = {"digest": current.digest, "results": results}
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
    _load_caption(ok, cores)
    _tips(ok, cores)


lab(current)
