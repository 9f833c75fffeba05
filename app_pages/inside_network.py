"""Inside the Network: MiDaS v2.1 small opened up, block by block, on the current photo and N."""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from core.maps.colormaps import colorize
from core.maps.display import downscale
from core.midas.inference_gate import InferenceBusyError
from core.midas.transforms import upsample_to
from core.teaching.network_anatomy import (
    BLOCKS,
    activation_grid,
    architecture_dot,
    block_table,
    exercise_snippets,
    mean_activation,
    module_census,
    transformer_parts,
)
from core.teaching.network_receptive_field import (
    effective_radius,
    heat_overlay,
    midas_deepest_path,
    photo_to_network,
    receptive_field_size,
)
from ui import cache
from ui.charts import AXIS_LABEL
from ui.click_image import Marker, clickable_image_figure, clicked_pixel
from ui.current import CurrentPrediction, current_prediction
from ui.inline_image import data_url
from ui.model_status import loaded_predictor
from ui.settings import setting

st.title("Inside the Network")
st.markdown(
    "What happens between the photo and the depth map, on **your** photo. MiDaS v2.1 *small* is **fully "
    "convolutional**: an EfficientNet-Lite3 encoder shrinks the image in four stages while widening it into "
    "more and more channels, and a RefineNet-style decoder fuses those stages back, coarse to fine, into one "
    "channel of relative inverse depth. There is no transformer, no attention and no patch embedding in it "
    "(that is MiDaS v3's DPT). Everything below is measured on a private copy of the network, so nobody "
    "else's prediction changes or waits longer than behind any other prediction."
)

current = current_prediction()
if current is None:
    st.stop()
predictor = loaded_predictor()
if predictor is None:
    st.stop()

_VIEW_WIDTH = 640  # widest photo-sized picture sent to the browser on this page
_X, _Y, _FOR, _CLICKS = "net_rf_x", "net_rf_y", "net_rf_for", "net_rf_clicks"
_BLOCK_KEYS = [b.key for b in BLOCKS]
_TITLES = {b.key: b.title for b in BLOCKS}

inspector = cache.network_inspector(str(current.info.weights_path), current.info.sha256, predictor.gate)
size = current.info.size
try:
    run = cache.network_run(current.digest, size, current.info.sha256, inspector, current.rgb)
except InferenceBusyError as e:
    st.error(str(e), icon=":material/hourglass_disabled:")
    st.button("Try again", key="net_busy_retry", icon=":material/refresh:")
    st.stop()

exercise = st.toggle("Student exercise mode: show the few lines of `core` behind each panel", key="net_exercise",
                     help="Run the snippets in order in a notebook, with your photo saved as photo.jpg, and you get "
                          "the same tables and pictures.")


def _snippet(key: str, block: str = "fusion1", x: int = 0, y: int = 0) -> None:
    if exercise:
        snippet = next(s for s in exercise_snippets(size, block, x, y) if s.key == key)
        st.code(snippet.code, language="python", wrap_lines=True)


# ---------------------------------------------------------------- 1. the architecture
st.header("1. The architecture, drawn from the model")
h, w = run.net_input.shape[2:]
st.markdown(
    f"The nine blocks of the network with what each produced for this photo at N = {size} (network input "
    f"{w}×{h}). Shapes are channels × height × width; the encoder halves the resolution at each stage (÷4, ÷8, "
    "÷16, ÷32), each fusion block doubles it and adds the encoder stage of that size (dashed: the skip "
    "connections), and the head doubles it once more to the input's size."
)
_snippet("setup")
st.graphviz_chart(architecture_dot(run), width="stretch")
st.dataframe(block_table(run), hide_index=True, key="net_blocks_table")
blocks_params = sum(b.params for b in run.blocks)
blocks_flops = sum(b.flops for b in run.blocks)
blocks_seconds = sum(b.seconds for b in run.blocks)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Parameters, sum of the blocks", f"{blocks_params:,}")
c2.metric("Parameters, the model's own count", f"{run.total_params:,}")
c3.metric("FLOPs, the whole pass", f"{run.total_flops / 1e9:.2f} GFLOP")
c4.metric("Network time, measured", f"{run.network_seconds * 1000:.0f} ms",
          delta=f"blocks: {blocks_seconds * 1000:.0f} ms", delta_color="off")
st.caption(
    "FLOPs are torch's own count (`torch.utils.flop_counter.FlopCounterMode`), which counts a multiply-add as "
    "**2** FLOPs and counts only the convolutions: batch norms, activations, residual additions and the bilinear "
    f"upsamplings are not in it. At 256×256 the whole network is 9.19 GFLOP, i.e. 4.60 G multiply-adds; the "
    f"blocks here add up to {blocks_flops / 1e9:.3f} GFLOP against {run.total_flops / 1e9:.3f} for the whole "
    "pass. Times come from one pass with a timer on each block (on a shared CPU they vary from run to run); "
    "the rest of the measured time is spent between blocks."
)
_snippet("architecture")


# ---------------------------------------------------------------- 2. activations
@st.fragment
def activations_view(current: CurrentPrediction) -> None:
    """A block's channels and its mean activation; reruns alone."""
    st.header("2. Activations")
    block = st.selectbox("Block", _BLOCK_KEYS, format_func=_TITLES.__getitem__, index=len(_BLOCK_KEYS) - 2,
                         key="net_block", persist_state="session")
    report = run.block(block)
    activation = run.activations[block]
    c, bh, bw = activation.shape
    st.markdown(f"**{report.spec.title}**: {report.spec.about}. Output {c} × {bh} × {bw}.")
    grid_col, mean_col = st.columns([3, 2])
    with grid_col:
        count = min(16, c)
        st.image(data_url(activation_grid(activation, count=count)), width="stretch",
                 caption=f"The {count} strongest of its {c} channels (by mean |activation|), strongest first, "
                         "each stretched min–max on its own (viridis: bright = high). Drawn at the block's own "
                         f"{bw}×{bh} resolution.")
    with mean_col:
        photo_small, _ = current.display()
        mean = mean_activation(activation)
        ph, pw = downscale(photo_small, _VIEW_WIDTH).shape[:2]
        st.image(data_url(downscale(photo_small, _VIEW_WIDTH)), width="stretch", caption="The photo")
        st.image(data_url(colorize(upsample_to(mean, ph, pw), "viridis")), width="stretch",
                 caption=f"Mean over the {c} channels at each pixel, upsampled from {bw}×{bh} to the photo "
                         f"(range {float(mean.min()):.3g} … {float(mean.max()):.3g})")
    _snippet("activations", block=block)


activations_view(current)


# ---------------------------------------------------------------- 3. receptive field
def _reset_pixel(current: CurrentPrediction) -> None:
    """The pixel belongs to one photo: start at its centre when the photo changes."""
    height, width = current.rgb.shape[:2]
    owner = f"{current.digest}:{width}x{height}"
    if st.session_state.get(_FOR) != owner or _X not in st.session_state:
        st.session_state[_FOR] = owner
        st.session_state[_X], st.session_state[_Y] = width // 2, height // 2


def _on_click(chart_key: str, full_hw: tuple[int, int]) -> None:
    clicked = clicked_pixel(st.session_state.get(chart_key), full_hw)
    st.session_state[_CLICKS] = st.session_state.get(_CLICKS, 0) + 1  # a fresh chart: the pixel can be clicked again
    if clicked is not None:
        st.session_state[_X], st.session_state[_Y] = clicked


def _pick(where: str, depth: np.ndarray) -> None:
    index = np.argmax(depth) if where == "nearest" else np.argmin(depth)
    y, x = np.unravel_index(int(index), depth.shape)
    st.session_state[_X], st.session_state[_Y] = int(x), int(y)


@st.fragment
def receptive_field_view(current: CurrentPrediction) -> None:
    """Click the depth map, see which input pixels moved that output; reruns alone."""
    st.header("3. Receptive field: what one output pixel looks at")
    _reset_pixel(current)
    height, width = current.rgb.shape[:2]
    photo_small, depth_small = current.display()
    cmap = str(setting("cmap"))
    picked = (int(st.session_state[_X]), int(st.session_state[_Y]))
    nx, ny = photo_to_network(picked[0], picked[1], (height, width), (h, w))

    left, right = st.columns(2)
    with left:
        chart_key = f"net_rf_pick_{st.session_state.get(_CLICKS, 0)}"
        st.plotly_chart(
            clickable_image_figure(colorize(depth_small, cmap), (height, width), [Marker(*picked, "")], current.depth,
                                   AXIS_LABEL, height=420),
            key=chart_key, on_select=functools.partial(_on_click, chart_key, (height, width)),
            selection_mode="points", config={"displaylogo": False},
        )
        st.caption(f"Click a pixel of the depth map ({AXIS_LABEL}, {cmap}).")
        a, b, c, d = st.columns(4)
        a.number_input("x (photo pixels)", 0, width - 1, step=1, key=_X, persist_state="session")
        b.number_input("y (photo pixels)", 0, height - 1, step=1, key=_Y, persist_state="session")
        c.button("Nearest pixel", key="net_rf_nearest", on_click=_pick, args=("nearest", current.depth),
                 help="The pixel with the largest relative inverse depth.", width="stretch")
        d.button("Farthest pixel", key="net_rf_farthest", on_click=_pick, args=("farthest", current.depth),
                 help="The pixel with the smallest relative inverse depth.", width="stretch")
    try:
        influence = cache.network_influence(current.digest, size, current.info.sha256, nx, ny, inspector,
                                            run.net_input)
    except InferenceBusyError as e:
        right.error(str(e), icon=":material/hourglass_disabled:")
        return
    photo_view = downscale(photo_small, _VIEW_WIDTH)
    sx = photo_view.shape[1] / width
    sy = photo_view.shape[0] / height
    with right:
        st.image(data_url(heat_overlay(photo_view, influence, mark=(int(picked[0] * sx), int(picked[1] * sy)))),
                 width="stretch", caption="The photo under the heat of the clicked pixel's receptive field")
        st.caption(f"|d output(x {nx}, y {ny}) / d input|, summed over R, G, B: bright = that input pixel moves "
                   "this output most (square-root scale, clipped at the 99.9th percentile); the cyan ring is the "
                   "clicked pixel.")
    field = receptive_field_size(midas_deepest_path(inspector.model))
    radius = effective_radius(influence, ny, nx, mass=0.9)
    reached = float(np.count_nonzero(influence) / influence.size)
    m1, m2, m3 = st.columns(3)
    m1.metric("Theoretical receptive field", f"{field} px", help="From the kernels and strides of the deepest path "
              "(encoder, stage 4's projection, the four fusion blocks, the head), in network-input pixels.")
    m2.metric("Radius holding 90 % of the influence", f"{radius} px",
              help="The smallest square around the pixel (clipped to the input) that holds 90 % of the summed "
                   "|gradient| reaches this far from it, in network-input pixels.")
    m3.metric("Input pixels with any influence", f"{reached:.0%}")
    st.markdown(
        f"Output pixel (x {nx}, y {ny}) of the {w}×{h} network output sits under photo pixel (x {picked[0]}, "
        f"y {picked[1]}). In theory it can see a square of **{field} px** of the network input, "
        f"{'more than the whole' if field >= max(h, w) else 'part of the'} {w}×{h} input: the stride-32 stage 4 "
        "and the 3×3 convolutions after it let every output reach far-away context, such as the horizon line, "
        f"the floor's perspective or a wall's size. In fact 90 % of its influence comes from within **{radius} px** "
        "of it: the effective field is smaller than the theoretical one, and it changes with the photo and the "
        "pixel."
    )
    _snippet("receptive_field", x=nx, y=ny)


receptive_field_view(current)


# ---------------------------------------------------------------- 4. misconceptions
st.header("4. Misconceptions, corrected with evidence")
census = module_census(inspector.model)
parts = transformer_parts(inspector.model)
convs = census.get("Conv2d", 0) + census.get("Conv2dSame", 0)
st.subheader("“MiDaS v2.1 small is a transformer”")
st.markdown(
    f"No. Its modules, counted on the model itself: **{convs} convolutions**, "
    + ", ".join(f"{n} {k}" for k, n in census.items() if k not in ("Conv2d", "Conv2dSame"))
    + f" (the fusion blocks upsample with a function call, not a module), and **{len(parts)}** attention, "
    "layer-norm, linear or patch-embedding modules. A transformer "
    "(MiDaS v3's DPT) cuts the image into 16×16 patches and mixes them with attention; this network slides small "
    "kernels over the image and reaches far through its strides, as section 3 shows."
)
st.dataframe([{"module type": k, "how many": n} for k, n in census.items()], hide_index=True, key="net_census")
with st.expander("The full module list"):
    st.code(str(inspector.model), language="text")
_snippet("misconceptions")

st.subheader("“The output is in metres”")
st.markdown(
    f"No: the output is **{AXIS_LABEL}**, defined only up to an unknown scale and shift. The head ends in a ReLU "
    "that makes it non-negative, nothing more. Turn it into metres with known distances:"
)
st.page_link("app_pages/calibrate.py", label="Calibrate to Metres", icon=":material/square_foot:")

st.subheader("“Larger N is always better”")
st.markdown(
    f"No. N only resizes the input; the network and its receptive field ({receptive_field_size(midas_deepest_path(inspector.model))} "
    "px) stay the same, so at a larger N each output sees a smaller part of the scene, while the cost grows "
    "with the pixel count (about 4× the FLOPs from N = 256 to 512). The model was trained at 256. Measure the "
    "trade-off on this CPU with the Performance Lab's N sweep:"
)
st.page_link("app_pages/performance_lab.py", label="Performance Lab: the N sweep", icon=":material/speed:")

st.subheader("“The scale and shift are learned per dataset at inference”")
st.markdown(
    "No. At inference the network gets only the image: one set of weights, no dataset input, no per-dataset "
    "layer (the module list above has none). The scale and shift are removed in the **training loss**, which is "
    "why the output has neither:"
)
st.page_link("app_pages/scale_shift.py", label="Scale and Shift", icon=":material/straighten:")

if exercise:
    with st.expander("Every snippet as one script", expanded=False):
        x, y = photo_to_network(int(st.session_state[_X]), int(st.session_state[_Y]), current.rgb.shape[:2], (h, w))
        block = str(st.session_state.get("net_block", "fusion1"))
        st.code("\n".join(s.code for s in exercise_snippets(size, block, x, y)), language="python")
