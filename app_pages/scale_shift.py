"""Scale and Shift: why MiDaS predicts depth only up to a scale and a shift, live on the current photo."""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from core.measure.alignment import AlignmentError, apply_scale_shift_demo
from core.maps.colormaps import colorize
from core.maps.display import downscale
from core.geometry.pointcloud import build_point_cloud
from core.teaching.scale_shift import midas_scale_shift, scale_shift_effect
from ui.charts import AXIS_LABEL, point_cloud_figure
from ui.current import CurrentPrediction, current_prediction
from ui.inline_image import data_url
from ui.settings import setting

st.title("Scale and Shift")
st.markdown(
    "MiDaS was trained on a **mix of datasets**: stereo films, laser scans, 3D reconstructions from photo "
    "collections. Their depths come in different, often unknown units and offsets: a stereo disparity depends "
    "on the camera baseline, a reconstruction from photos has no scale at all. To learn from all of them at "
    "once, MiDaS compares its prediction with each label only **after removing a scale α and a shift β** "
    "from both:"
)
st.latex(r"\hat d = \frac{d - \beta}{\alpha}, \qquad \beta = \operatorname{median}(d), \qquad "
         r"\alpha = \frac{1}{M}\sum_{i=1}^{M} \lvert d_i - \beta \rvert")
st.latex(r"\mathcal{L}_{\text{ssi}} = \frac{1}{2M} \sum_{i=1}^{M} \bigl\lvert \hat d_i - \hat d^{\,*}_i \bigr\rvert")
st.markdown(
    "Here $d$ is the prediction over the image's $M$ pixels and $\\hat d^{\\,*}$ the label brought to the same "
    "form. The loss cannot see α or β, so the network never learns them: its output is "
    f"**{AXIS_LABEL}**, defined only up to an unknown scale and shift. Move α and β below and watch what changes."
)

current = current_prediction()
if current is None:
    st.stop()

_SCALE_KEY, _SHIFT_KEY = "ss_alpha", "ss_beta"


def _nice_ceil(value: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above ``value`` (> 0)."""
    exponent = math.floor(math.log10(value))
    for mantissa in (1, 2, 5, 10):
        if mantissa * 10**exponent >= value:
            return float(mantissa * 10**exponent)
    return float(10 ** (exponent + 1))


def _ranges(current: CurrentPrediction) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(min, max, step) of the α and β sliders for this photo's values."""
    stats, _ = current.summary()
    alpha_midas, _ = midas_scale_shift(current.display()[1])
    span = max(stats.max - stats.min, 1e-6)
    alpha_max = _nice_ceil(max(10.0, 2.0 * alpha_midas))
    beta_step = _nice_ceil(span / 1000.0)
    beta_lo = math.floor((stats.min - span) / beta_step) * beta_step
    beta_hi = math.ceil(stats.max / beta_step) * beta_step
    return (alpha_max / 1000.0, alpha_max, alpha_max / 1000.0), (beta_lo, beta_hi, beta_step)


def _set(alpha: float, beta: float) -> None:
    st.session_state[_SCALE_KEY] = float(alpha)
    st.session_state[_SHIFT_KEY] = float(beta)


@st.fragment
def playground(current: CurrentPrediction) -> None:
    """The sliders and everything they change; reruns alone, never the network."""
    rgb_small, depth_small = current.display()
    (a_lo, a_hi, a_step), (b_lo, b_hi, b_step) = _ranges(current)
    alpha_midas, beta_midas = midas_scale_shift(depth_small)
    # keep stored values inside this photo's slider ranges (they may come from another photo)
    st.session_state[_SCALE_KEY] = min(max(float(st.session_state.get(_SCALE_KEY, 1.0)), a_lo), a_hi)
    st.session_state[_SHIFT_KEY] = min(max(float(st.session_state.get(_SHIFT_KEY, 0.0)), b_lo), b_hi)

    left, right = st.columns([3, 2], vertical_alignment="bottom")
    alpha = left.slider("α (scale)", a_lo, a_hi, step=a_step, key=_SCALE_KEY, format="%.4g")
    beta = left.slider("β (shift)", b_lo, b_hi, step=b_step, key=_SHIFT_KEY, format="%.4g")
    right.button("α = 1, β = 0 (the raw prediction)", key="ss_reset", on_click=_set, args=(1.0, 0.0),
                 width="stretch")
    right.button(f"MiDaS's own: α = {alpha_midas:.4g}, β = {beta_midas:.4g}", key="ss_midas", on_click=_set,
                 args=(alpha_midas, beta_midas), width="stretch",
                 help="β = the median of the map, α = the mean absolute deviation from it.")

    try:
        effect = scale_shift_effect(depth_small, alpha, beta)
    except AlignmentError as e:
        st.warning(f"This map is constant, so there is nothing to scale or shift: {e}")
        return

    st.markdown(
        f"$\\hat d = (d - {beta:.4g}) / {alpha:.4g}$ now runs from **{effect.transformed_lo:.4g}** to "
        f"**{effect.transformed_hi:.4g}** (the prediction $d$ from {float(depth_small.min()):.4g} to "
        f"{float(depth_small.max()):.4g})."
    )
    cmap = str(setting("cmap"))
    c1, c2 = st.columns(2)
    c1.image(data_url(colorize(downscale(depth_small, 640), cmap)), width="stretch",
             caption=f"Normalised heatmap of the prediction d ({cmap})")
    d_hat = apply_scale_shift_demo(depth_small, alpha, beta).astype(np.float32)  # hxw
    c2.image(data_url(colorize(downscale(d_hat, 640), cmap)), width="stretch",
             caption=f"Normalised heatmap of d̂ = (d − β) / α ({cmap})")
    m1, m2, m3 = st.columns(3)
    m1.metric("Largest change of the normalised heatmap", f"{effect.heatmap_change:.6f}",
              help="Max over all pixels of |normalise(d̂) − normalise(d)|, on a 0–1 scale.")
    m2.metric("Least squares recovers α", f"{effect.recovered_alpha:.4g}",
              help="Fit d ≈ α d̂ + β over all pixels: the closed-form least-squares solution.")
    m3.metric("…and β", f"{effect.recovered_beta:.4g}")
    st.success(
        "The min–max normalised picture is **identical** for every α > 0 and every β: it cannot tell you "
        "the scale or the shift. That is why every MiDaS picture looks plausible, whatever its units."
        if effect.heatmap_change < 1e-3
        else "The picture changed: that only happens when α is negative, which flips near and far."
    )

    st.subheader("…but the 3D shape does change")
    st.markdown(
        "A point cloud needs depth, $z = 1/\\hat d$ (reading $\\hat d$ as inverse depth). Now α and β matter: "
        "**α only resizes** the scene (look at the axes), **β bends it**: it changes the ratio of far to near, "
        "and pixels with $\\hat d \\le 0$ would be at or beyond infinity and are dropped."
    )
    fov = float(setting("pc_fov"))
    # z = 1 / d_hat, keeping the 2nd-98th percentiles: pixels with d_hat near 0 are nearly at infinity
    cloud = build_point_cloud(d_hat, rgb_small, fov_deg=fov, budget=30_000,
                              near_clip=effect.depth_lo or None, far_clip=effect.depth_hi or None)
    n1, n2, n3 = st.columns(3)
    n1.metric("Pixels with a finite depth", f"{effect.valid_fraction:.1%}")
    n2.metric("Depth range of the cloud (unitless)", f"{effect.depth_lo:.3g} – {effect.depth_hi:.3g}",
              help="2nd to 98th percentile of z = 1/d̂ over the pixels with d̂ > 0; the cloud shows this range.")
    n3.metric("Far / near ratio", f"{effect.depth_ratio:.3g}" if effect.depth_ratio else "–",
              help="Far end divided by the near end of the depth: the scene's shape. α leaves it alone, β changes it.")
    if len(cloud) == 0:
        st.warning("No pixel has d̂ > 0 with this β: every point is at or beyond infinity. Lower β.")
    else:
        st.plotly_chart(point_cloud_figure(cloud, "Side"), key="ss_cloud", config={"displaylogo": False})
        st.caption(f"{len(cloud):,} points, field of view {fov:g}° (the 3D Point Cloud page's setting), seen from the side.")


playground(current)

st.subheader("Aligning to real depth: scale-and-shift-invariant least squares")
st.markdown(
    "To compare a prediction with measured depth $z^*$ (in metres), or to calibrate it, we do the reverse: find "
    "the scale $s$ and shift $t$ that bring the prediction closest to the measurement. MiDaS does it in "
    "**inverse-depth space**, $d^* = 1/z^*$, where the prediction lives and the problem is linear:"
)
st.latex(r"(s, t) = \arg\min_{s,\,t} \sum_{i=1}^{M} \bigl(s\,d_i + t - d^*_i\bigr)^2")
st.latex(r"s = \frac{\sum_i (d_i - \bar d)(d^*_i - \bar d^*)}{\sum_i (d_i - \bar d)^2}, \qquad t = \bar d^* - s\,\bar d, "
         r"\qquad z = \frac{1}{s\,d + t}")
st.markdown(
    "Two pixels with known depth determine $s$ and $t$ exactly; more pixels give the least-squares compromise. "
    "It fails when all pixels have the same $d$ (the denominator is 0), and gives nonsense when $s \\le 0$ "
    "(nearer would mean *smaller* inverse depth). The **Calibrate to Metres** page fits $s$ and $t$ from pixels "
    "you know; **Evaluate** fits them against a whole ground-truth depth map, as the MiDaS paper does. The "
    "\"least squares recovers α\" numbers above are this fit, run between $\\hat d$ and $d$."
)
