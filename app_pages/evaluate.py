"""Evaluate: score the prediction against a ground-truth depth map with the MiDaS protocol."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import streamlit as st

from core.alignment import AlignmentError
from core.colormaps import colorize
from core.display import downscale
from core.ground_truth_report import ASPECT_TOLERANCE, GroundTruthReport, ground_truth_report, synthetic_ground_truth
from core.metric_depth import depth_png16_mm_bytes
from core.metrics import load_ground_truth
from ui.current import CurrentPrediction, current_prediction
from ui.inline_image import data_url
from ui.teaching_charts import scatter_figure

st.title("Evaluate against Ground Truth")
st.markdown(
    "If you have a measured depth map of the **same photo** (from a depth camera, a LiDAR scan or a dataset such as "
    "NYU or KITTI), upload it here. MiDaS predictions have no scale or shift, so they are first **aligned** to the "
    "ground truth by least squares in inverse-depth space (the MiDaS protocol, see **Scale and Shift**), then "
    "converted to metres and scored:"
)
st.latex(r"\text{AbsRel} = \frac{1}{M}\sum_i \frac{\lvert z_i - z^*_i\rvert}{z^*_i}, \qquad "
         r"\delta_k = \frac{1}{M}\,\#\Bigl\{ i : \max\Bigl(\tfrac{z_i}{z^*_i}, \tfrac{z^*_i}{z_i}\Bigr) < 1.25^k \Bigr\}")
st.latex(r"\text{RMSE} = \sqrt{\tfrac{1}{M}\textstyle\sum_i (z_i - z^*_i)^2}, \qquad "
         r"\log_{10} = \frac{1}{M}\sum_i \lvert \log_{10} z_i - \log_{10} z^*_i \rvert")
st.caption("Over the M pixels with a measurement: a ground-truth value of 0 means \"no measurement\" and is skipped. "
           "Lower AbsRel, RMSE and log10 are better; δ is the share of pixels within 25 % (δ < 1.25), "
           "56 % (δ < 1.25²) and 95 % (δ < 1.25³) of the truth, higher is better.")

current = current_prediction()
if current is None:
    st.stop()

_UNITS = {"millimetres (mm)": "mm", "metres (m)": "m"}


def _kind(name: str, data: bytes) -> str:
    """'npy' or 'png16', from the file's first bytes (falling back to its extension)."""
    if data.startswith(b"\x93NUMPY"):
        return "npy"
    if data.startswith(b"\x89PNG"):
        return "png16"
    return "npy" if name.lower().endswith(".npy") else "png16"


@st.cache_data(max_entries=4, show_spinner="Aligning and scoring…")
def _report(digest: str, size: int, weights_sha256: str, gt_digest: str, unit: str,
            _depth: np.ndarray, _gt_m: np.ndarray) -> GroundTruthReport:
    """The report, cached per (photo, network size, weights, ground-truth file, unit)."""
    del digest, size, weights_sha256, gt_digest, unit  # only cache keys
    return ground_truth_report(_depth, _gt_m)


def _show(report: GroundTruthReport) -> None:
    m = report.metrics
    st.subheader("Scores")
    cols = st.columns(6)
    for column, (label, value, help_text) in zip(cols, (
        ("AbsRel", f"{m.abs_rel:.4f}", "Mean |z − z*| / z*. 0 is perfect."),
        ("δ < 1.25", f"{m.delta1:.4f}", "Share of pixels within a factor 1.25 of the truth. 1 is perfect."),
        ("δ < 1.25²", f"{m.delta2:.4f}", "Within a factor 1.5625."),
        ("δ < 1.25³", f"{m.delta3:.4f}", "Within a factor 1.953."),
        ("RMSE", f"{m.rmse:.4f} m", "Root mean squared error, in metres."),
        ("log10", f"{m.log10:.4f}", "Mean |log10 z − log10 z*|."),
    )):
        column.metric(label, value, help=help_text)
    st.caption(f"Over {m.n_valid:,} pixels with a measurement. Alignment 1/z = s·d + t with s = {m.scale:.6g}, "
               f"t = {m.shift:.6g} 1/m (least squares in inverse-depth space), depth clamped to the ground "
               "truth's range.")
    if report.resized:
        h, w = report.gt_m.shape
        st.info(f"The ground truth is {w}×{h}; the prediction was resized to it (bilinear) before scoring.")
    if report.aspect_mismatch > ASPECT_TOLERANCE:
        st.warning(f"The ground truth's aspect ratio differs from the photo's by {report.aspect_mismatch:.0%}: "
                   "is it really the depth of this photo? The scores compare misaligned pixels.")

    lo, hi = (float(v) for v in np.percentile(report.gt_m[report.valid], [1, 99]))
    view = 640
    st.subheader("Where it is wrong")
    c1, c2, c3 = st.columns(3)
    c1.image(data_url(downscale(colorize(report.gt_m, "inferno", lo, hi, invert=True), view)), width="stretch",
             caption=f"Ground truth, {lo:.2f}–{hi:.2f} m (near = bright; no measurement = darkest)")
    c2.image(data_url(downscale(colorize(report.aligned_m, "inferno", lo, hi, invert=True), view)), width="stretch",
             caption="Aligned prediction, same colours")
    err_hi = max(float(np.percentile(report.error[report.valid], 98)), 1e-6)
    c3.image(data_url(downscale(colorize(report.error, "inferno", 0.0, err_hi), view)), width="stretch",
             caption=f"Relative error |z − z*| / z*, black = 0 to bright = {err_hi:.3g} (98th percentile); "
                     "no measurement = black")
    st.plotly_chart(scatter_figure(report.sample_true, report.sample_pred), key="eval_scatter",
                    config={"displaylogo": False})
    st.caption("Points on the dashed line are perfect. A curve bending away from it is a depth-dependent bias that "
               "no scale and shift can remove; a wide cloud is noise.")


@st.fragment
def evaluation_view(current: CurrentPrediction) -> None:
    """Upload, unit and report; reruns alone, never the network."""
    left, right = st.columns([3, 2])
    upload = left.file_uploader("Ground-truth depth of this photo", type=["png", "npy"], key="gt_upload",
                                help="A single-channel 16-bit PNG, or a 2-D .npy array in metres. 0 = no measurement.")
    unit_label = right.radio("Unit of the 16-bit PNG", tuple(_UNITS), key="gt_unit",
                             help="Depth cameras and NYU/KITTI exports store millimetres (KITTI: 1/256 m, rescale first).")
    right.caption("A .npy file is read as metres.")
    if upload is None:
        st.info("Upload a ground-truth depth map to score the prediction. No depth camera at hand? See below.")
        return
    data = upload.getvalue()
    kind = _kind(upload.name, data)
    unit = "m" if kind == "npy" else _UNITS[unit_label]
    try:
        gt_m = load_ground_truth(data, kind=kind, unit=unit)  # type: ignore[arg-type]
    except ValueError as e:
        st.error(f"**{upload.name}** cannot be read as ground truth: {e}", icon="🚫")
        return
    try:
        report = _report(current.digest, current.info.size, current.info.sha256,
                         hashlib.sha256(data).hexdigest(), unit, current.depth, gt_m)
    except (ValueError, AlignmentError) as e:
        st.error(f"Cannot score against **{upload.name}**: {e}", icon="🚫")
        return
    st.success(f"**{upload.name}**: {'.npy in metres' if kind == 'npy' else f'16-bit PNG in {unit}'}, "
               f"{gt_m.shape[1]}×{gt_m.shape[0]}, {report.metrics.n_valid:,} pixels with a measurement.")
    _show(report)


evaluation_view(current)

with st.expander("No ground truth at hand? A self-check"):
    st.markdown(
        "This makes a 16-bit PNG (millimetres) **from the prediction itself**: an exact scale and shift of it in "
        "inverse depth, spanning 1 m to 10 m. Uploading it must give AbsRel ≈ 0 and δ = 1: that checks the "
        "protocol, not the model. Real ground truth comes from a depth sensor."
    )
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", current.name.rsplit(".", 1)[0]).strip("_") or "image"
    depth = current.depth
    st.download_button(
        "Synthetic ground truth (16-bit PNG, mm)",
        data=lambda: depth_png16_mm_bytes(*synthetic_ground_truth(depth)),
        file_name=f"{stem}_synthetic_gt_mm.png", mime="image/png", key="eval_dl_synthetic",
        on_click="ignore", icon=":material/download:",
    )
