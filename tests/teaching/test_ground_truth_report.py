from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core import __version__
from core.io.metadata import DepthFacts, png_with_text, read_png_text
from core.measure.alignment import AlignmentError
from core.measure.metric_depth import depth_png16_mm_bytes
from core.measure.metrics import load_ground_truth
from core.maps.colormaps import COLORMAPS, colorize, colormap_lut
from core.teaching.ground_truth_report import (
    ASPECT_TOLERANCE,
    ground_truth_report,
    measured_image,
    no_measurement_color,
    synthetic_ground_truth,
    synthetic_ground_truth_png,
)


def _pred(height: int = 60, width: int = 80) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return (50.0 + 3.0 * yy + 20.0 * np.sin(xx / 7.0)).astype(np.float32)


def test_an_exact_affine_ground_truth_scores_perfectly():
    pred = _pred()
    gt = (1.0 / (0.004 * pred + 0.05)).astype(np.float32)
    gt[::7, ::5] = 0.0  # no measurement

    report = ground_truth_report(pred, gt, max_points=500)

    m = report.metrics
    assert m.abs_rel < 1e-6 and m.rmse < 1e-5 and m.log10 < 1e-6
    assert m.delta1 == m.delta2 == m.delta3 == 1.0
    assert m.scale == pytest.approx(0.004, rel=1e-5) and m.shift == pytest.approx(0.05, rel=1e-4)
    assert m.n_valid == int((gt > 0).sum()) and not report.resized
    assert report.sample_true.size == report.sample_pred.size == 500
    assert (report.sample_true > 0).all()
    np.testing.assert_allclose(report.sample_pred, report.sample_true, rtol=1e-5)
    assert report.error.max() < 1e-5 and (report.error[~report.valid] == 0).all()


def test_a_lower_resolution_ground_truth_gets_the_prediction_resized():
    pred = _pred(120, 160)
    gt = np.full((60, 80), 2.0, np.float32)
    gt[:30] = 4.0

    report = ground_truth_report(pred, gt)

    assert report.resized and report.aligned_m.shape == (60, 80) and report.aspect_mismatch < 1e-9
    assert report.metrics.n_valid == 60 * 80
    assert report.metrics.abs_rel > 0.0  # a two-level truth is not an affine map of a smooth ramp


def test_a_different_aspect_ratio_is_measured():
    report = ground_truth_report(_pred(60, 80), np.full((60, 60), 3.0, np.float32) + np.eye(60, dtype=np.float32))
    assert report.aspect_mismatch == pytest.approx(80 / 60 - 1.0)
    assert report.misaligned and report.aspect_mismatch > ASPECT_TOLERANCE
    same_aspect = ground_truth_report(_pred(120, 160), np.full((60, 80), 2.0, np.float32) + np.eye(60, 80, dtype=np.float32))
    assert same_aspect.resized and not same_aspect.misaligned


def test_no_measurement_is_drawn_in_a_color_the_map_never_uses():
    # finding 2: a 0 ("no measurement") was clipped to the near end and drawn as the nearest depth
    depth = np.array([[1.0, 2.0, 0.0], [4.0, 0.0, 8.0]], np.float32)
    valid = depth > 0

    image = measured_image(depth, valid, "inferno", 1.0, 8.0, invert=True)

    name, rgb = no_measurement_color("inferno")
    assert name == "grey" and (image[~valid] == rgb).all()
    np.testing.assert_array_equal(image[valid], colorize(depth, "inferno", 1.0, 8.0, invert=True)[valid])
    near = colorize(np.array([[1.0]], np.float32), "inferno", 1.0, 8.0, invert=True)[0, 0]
    assert not (image[~valid] == near).all(axis=-1).any()  # the old rendering: holes as bright as the nearest pixel


@pytest.mark.parametrize("cmap", list(COLORMAPS))
def test_the_no_measurement_color_stands_apart_from_every_colormap(cmap):
    name, rgb = no_measurement_color(cmap)
    distance = np.sqrt(((colormap_lut(cmap).astype(np.float64) - rgb) ** 2).sum(axis=1)).min()
    assert distance >= 60.0, (name, distance)  # 60 of 441 (black to white): plainly another colour


def test_measured_image_checks_its_inputs():
    with pytest.raises(ValueError, match="bool mask"):
        measured_image(np.ones((2, 2)), np.ones((2, 2)), "inferno", 0.0, 1.0)
    with pytest.raises(ValueError, match="lo < hi"):
        measured_image(np.ones((2, 2)), np.ones((2, 2), bool), "inferno", 1.0, 1.0)
    with pytest.raises(ValueError, match="HxW"):
        measured_image(np.ones(4), np.ones(4, bool), "inferno", 0.0, 1.0)


def test_the_scatter_range_fits_the_data_on_both_axes():
    # finding 11: the axis spanned -5..15 m for data in 1..8.7 m
    pred = _pred()
    gt = (1.0 / (0.004 * pred + 0.05)).astype(np.float32)
    report = ground_truth_report(pred, gt)

    lo, hi = report.scatter_range
    data_lo = min(report.sample_true.min(), report.sample_pred.min())
    data_hi = max(report.sample_true.max(), report.sample_pred.max())
    span = data_hi - data_lo
    assert lo == pytest.approx(max(data_lo - 0.05 * span, 0.0)) and hi == pytest.approx(data_hi + 0.05 * span)
    assert 0.0 <= lo < data_lo and hi > data_hi


def test_noise_lowers_delta1():
    pred = _pred()
    gt = 1.0 / (0.004 * pred.astype(np.float64) + 0.05)
    gt *= np.random.default_rng(0).choice([0.6, 1.0, 1.6], size=gt.shape)  # a third of pixels 40 % off each way

    m = ground_truth_report(pred, gt.astype(np.float32)).metrics

    assert 0.2 < m.delta1 < 0.9 and m.abs_rel > 0.1


def test_errors_are_specific():
    with pytest.raises(ValueError, match="no valid pixels"):
        ground_truth_report(_pred(), np.zeros((60, 80), np.float32))
    with pytest.raises(AlignmentError):
        ground_truth_report(np.ones((60, 80), np.float32), np.full((60, 80), 2.0, np.float32))
    with pytest.raises(ValueError, match="HxW"):
        ground_truth_report(_pred(), np.ones(5))
    with pytest.raises(ValueError, match="max_points"):
        ground_truth_report(_pred(), np.ones((60, 80)), max_points=0)


def test_synthetic_ground_truth_is_an_exact_affine_map_in_inverse_depth():
    pred = _pred()
    depth, valid = synthetic_ground_truth(pred, near_m=1.0, far_m=10.0)

    lo, hi = np.percentile(pred, [1, 99])
    inv = np.where(valid, 1.0 / np.where(valid, depth, 1.0), 0.0)
    fit = np.polyfit(pred[valid].astype(np.float64), inv[valid], 1)
    np.testing.assert_allclose(np.polyval(fit, pred[valid]), inv[valid], rtol=1e-5)
    near = np.argmin(np.abs(pred - hi))
    far = np.argmin(np.abs(pred - lo))
    assert depth.ravel()[near] == pytest.approx(1.0, rel=0.02)
    assert depth.ravel()[far] == pytest.approx(10.0, rel=0.05)
    assert ground_truth_report(pred, depth).metrics.abs_rel < 1e-5


def test_the_synthetic_ground_truth_png_states_its_fit_and_that_it_is_synthetic():
    pred = _pred()
    facts = DepthFacts("MiDaS v2.1 small", "5e" * 32, 256, (80, 60))
    data = synthetic_ground_truth_png(pred, facts)
    assert data == png_with_text(depth_png16_mm_bytes(*synthetic_ground_truth(pred)), read_png_text(data))
    with Image.open(io.BytesIO(data)) as im:
        text = dict(im.text)
    assert text["content"] == "depth" and text["units"] == "millimetres" and text["max_code"] == "65535"
    assert text["ground_truth"].startswith("synthetic:") and "not a measurement" in text["ground_truth"]
    lo, hi = np.percentile(pred.astype(np.float64), [1, 99])  # 1 / depth_m = s d + t puts hi at 1 m, lo at 10 m
    s, t = float(text["scale"]), float(text["shift"])
    assert (s * hi + t, s * lo + t) == (pytest.approx(1.0), pytest.approx(0.1))
    assert text["weights_sha256"] == "5e" * 32 and text["source_size"] == "80x60" and text["app_version"] == __version__
    assert ground_truth_report(pred, load_ground_truth(data, kind="png16", unit="mm")).metrics.abs_rel < 1e-3
    with pytest.raises(TypeError, match="DepthFacts"):
        synthetic_ground_truth_png(pred, None)


def test_synthetic_ground_truth_refuses_a_flat_map():
    with pytest.raises(ValueError, match="constant"):
        synthetic_ground_truth(np.ones((4, 4)))
    with pytest.raises(ValueError, match="near_m"):
        synthetic_ground_truth(_pred(), near_m=3.0, far_m=2.0)
