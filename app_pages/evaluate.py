"""Evaluate: score the prediction against a ground-truth depth map with the MiDaS protocol."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from core.measure.alignment import AlignmentError
from core.maps.colormaps import colorize
from core.io.exports import file_stem
from core.io.metadata import facts_for
from core.maps.display import display_window, downscale
from core.teaching.ground_truth_report import (
    GroundTruthReport,
    measured_image,
    no_measurement_color,
    synthetic_ground_truth_png,
)
from core.measure.metrics import DELTA_THRESHOLDS, ground_truth_kind, load_ground_truth
from ui import cache
from ui.current import CurrentPrediction, current_prediction
from ui.inline_image import data_url
from ui.teaching_charts import scatter_figure

st.title("Evaluate vs Ground Truth")
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
_D1, _D2, _D3 = DELTA_THRESHOLDS
st.caption(
    "Over the M pixels with a measurement: a ground-truth value of 0 means \"no measurement\" and is skipped. "
    "Lower AbsRel, RMSE and log10 are better. δ₁, δ₂ and δ₃ are the shares of pixels whose aligned depth is within "
    f"a factor 1.25, 1.25² = {_D2:.4f} and 1.25³ ≈ {_D3:.3f} of the truth, too near or too far: from "
    f"{1 / _D1:.2f}× to {_D1:.2f}×, from {1 / _D2:.2f}× to {_D2:.2f}× and from {1 / _D3:.2f}× to {_D3:.2f}× the true "
    "depth. Higher is better."
)

current = current_prediction()
if current is None:
    st.stop()

#: What one step of a 16-bit PNG is (label -> core.measure.metrics.UNIT_TO_METRES key).
_PNG_STEPS = {"1 mm (depth cameras, NYU Depth v2)": "mm", "1/256 m (KITTI)": "1/256 m"}
_STEP_NAMES = {"mm": "1 mm", "1/256 m": "1/256 m"}
_KEPT = "gt_kept"  # session key: {"name", "digest", "file_id", "photo"} of the ground truth in use
_VIEW = 640  # display width of the three maps
_KEEP_MAX_BYTES = 64 << 20  # larger files are not kept across pages: the cache holds 4 of them at most


def _keep_upload() -> None:
    """on_change of the uploader: remember a new file, forget a removed one."""
    upload = st.session_state.get("gt_upload")
    if upload is None:  # the user removed it (a page switch never calls this)
        st.session_state.pop(_KEPT, None)
        return
    _remember(upload, st.session_state.get("gt_photo_digest", ""))


def _remember(upload, photo_digest: str) -> str:
    """Keep the upload's digest (in the session) and its bytes (in the cache); returns the digest."""
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) <= _KEEP_MAX_BYTES:
        cache.kept_bytes(digest, data)
    st.session_state[_KEPT] = {"name": upload.name, "digest": digest, "file_id": upload.file_id,
                               "photo": photo_digest}
    return digest


def _forget() -> None:
    st.session_state.pop(_KEPT, None)


def _show(report: GroundTruthReport) -> None:
    m = report.metrics
    st.subheader("Scores")
    cols = st.columns(6)
    for column, (label, value, help_text) in zip(cols, (
        ("AbsRel", f"{m.abs_rel:.4f}", "Mean |z − z*| / z*. 0 is perfect."),
        ("δ < 1.25", f"{m.delta1:.4f}",
         f"Share of pixels within a factor {_D1:g} of the truth ({1 / _D1:.2f}× to {_D1:.2f}×). 1 is perfect."),
        ("δ < 1.25²", f"{m.delta2:.4f}", f"Within a factor {_D2:.4f} ({1 / _D2:.2f}× to {_D2:.2f}×)."),
        ("δ < 1.25³", f"{m.delta3:.4f}", f"Within a factor {_D3:.3f} ({1 / _D3:.2f}× to {_D3:.2f}×)."),
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

    lo, hi = display_window(report.gt_m[report.valid], (1.0, 99.0))
    hole, _ = no_measurement_color("inferno")
    holes = int(report.valid.size - np.count_nonzero(report.valid))
    st.subheader("Where it is wrong")
    c1, c2, c3 = st.columns(3)
    c1.image(data_url(downscale(measured_image(report.gt_m, report.valid, "inferno", lo, hi, invert=True), _VIEW)),
             width="stretch", output_format="PNG",
             caption=f"Ground truth, {lo:.2f}–{hi:.2f} m (near = bright; {hole} = no measurement, "
                     f"{holes:,} pixels)")
    c2.image(data_url(downscale(colorize(report.aligned_m, "inferno", lo, hi, invert=True), _VIEW)), width="stretch",
             output_format="PNG",
             caption="Aligned prediction, same colours (every pixel: the model predicts them all)")
    _, err_hi = display_window(report.error[report.valid], (0.0, 98.0), from_zero=True)
    c3.image(data_url(downscale(measured_image(report.error, report.valid, "inferno", 0.0, err_hi), _VIEW)), width="stretch",
             output_format="PNG",
             caption=f"Relative error |z − z*| / z*, black = 0 to bright = {err_hi:.3g} (98th percentile); "
                     f"{hole} = no measurement")
    st.plotly_chart(scatter_figure(report.sample_true, report.sample_pred, report.scatter_range), key="eval_scatter",
                    config={"displaylogo": False})
    st.caption("Points on the dashed line are perfect. A curve bending away from it is a depth-dependent bias that "
               "no scale and shift can remove; a wide cloud is noise.")


def _ground_truth_file(current: CurrentPrediction) -> tuple[str, bytes, str] | None:
    """(name, bytes, digest) of the ground truth to score: the upload, or the one kept from before."""
    upload = st.session_state.get("gt_upload")
    kept = st.session_state.get(_KEPT)
    if upload is not None:
        if kept is not None and kept.get("file_id") == upload.file_id:
            return upload.name, upload.getvalue(), kept["digest"]
        return upload.name, upload.getvalue(), _remember(upload, current.digest)
    if kept is None:
        return None
    if kept.get("photo") != current.digest:
        st.info(f"**{kept['name']}** was uploaded for another photo, so it is not scored against this one: upload "
                "the ground truth of this photo.", icon=":material/info:")
        return None
    try:
        data = cache.kept_bytes(kept["digest"])
    except KeyError:
        _forget()
        st.info(f"**{kept['name']}** is no longer in the server's memory: upload it again.", icon=":material/info:")
        return None
    left, right = st.columns([4, 1])
    left.caption(f"Scoring **{kept['name']}**, uploaded before you left this page (the upload box forgets its file "
                 "on a page switch; the app kept it). Upload another file to replace it.")
    right.button("Forget it", key="gt_forget", on_click=_forget, icon=":material/close:")
    return kept["name"], data, kept["digest"]


@st.fragment
def evaluation_view(current: CurrentPrediction) -> None:
    """Upload, unit and report; reruns alone, never the network."""
    st.session_state["gt_photo_digest"] = current.digest  # for the upload callback
    left, right = st.columns([3, 2])
    left.file_uploader("Ground-truth depth of this photo", type=["png", "npy"], key="gt_upload",
                       on_change=_keep_upload,
                       help="A single-channel 16-bit PNG, or a 2-D .npy array in metres. 0 = no measurement.")
    step_label = right.radio("One step of a 16-bit PNG is", tuple(_PNG_STEPS), key="gt_unit",
                             help="Depth cameras and NYU Depth v2 store millimetres; KITTI stores 256 × metres.")
    right.caption("A .npy file is read as metres.")
    found = _ground_truth_file(current)
    if found is None:
        st.info("Upload a ground-truth depth map to score the prediction. No depth camera at hand? See below.")
        return
    name, data, gt_digest = found
    try:
        kind = ground_truth_kind(data)
        unit = "m" if kind == "npy" else _PNG_STEPS[step_label]
        gt_m = load_ground_truth(data, kind=kind, unit=unit)  # type: ignore[arg-type]
    except ValueError as e:
        st.error(f"**{name}** cannot be read as ground truth: {e}", icon=":material/block:")
        return
    try:
        report = cache.ground_truth_report(current.digest, current.info.size, current.info.sha256, gt_digest, unit,
                                           current.depth, gt_m)
    except (ValueError, AlignmentError) as e:
        st.error(f"Cannot score against **{name}**: {e}", icon=":material/block:")
        return
    what = ("a .npy array in metres" if kind == "npy"
            else f"a 16-bit PNG, one step = {_STEP_NAMES[unit]}")
    described = (f"**{name}**: {what}, {gt_m.shape[1]}×{gt_m.shape[0]}, "
                 f"{report.metrics.n_valid:,} pixels with a measurement.")
    if report.misaligned:
        photo_h, photo_w = current.depth.shape
        st.warning(f"{described} Its width/height ratio is {gt_m.shape[1] / gt_m.shape[0]:.2f}, the photo's "
                   f"({photo_w}×{photo_h}) is {photo_w / photo_h:.2f}: is it really the depth of this photo? The "
                   "scores below compare misaligned pixels.", icon=":material/warning:")
    else:
        st.success(described)
    _show(report)


evaluation_view(current)

with st.expander("No ground truth at hand? A self-check"):
    st.markdown(
        "This makes a 16-bit PNG (millimetres) **from the prediction itself**: an exact scale and shift of it in "
        "inverse depth, spanning 1 m to 10 m. Uploading it must give AbsRel ≈ 0 and δ = 1: that checks the "
        "protocol, not the model. Real ground truth comes from a depth sensor."
    )
    stem = file_stem(current.name)
    depth = current.depth
    facts = facts_for(current.info, depth.shape[1], depth.shape[0])  # the PNG states them, with the fit
    st.download_button(
        "Synthetic ground truth (16-bit PNG, mm)",
        data=lambda: synthetic_ground_truth_png(depth, facts),
        file_name=f"{stem}_synthetic_gt_mm.png", mime="image/png", key="eval_dl_synthetic",
        on_click="ignore", icon=":material/download:",
    )
