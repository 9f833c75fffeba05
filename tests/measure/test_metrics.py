from __future__ import annotations

import io
import math

import cv2
import numpy as np
import pytest

from core.measure.alignment import AlignmentError
from core.measure.metrics import (
    DELTA_THRESHOLDS,
    DepthMetrics,
    depth_metrics,
    error_map,
    evaluate,
    ground_truth_kind,
    load_ground_truth,
    resize_to,
)


def _encode_png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def _npy_bytes(arr: np.ndarray) -> bytes:
    f = io.BytesIO()
    np.save(f, arr)
    return f.getvalue()


# ---------------------------------------------------------------- depth_metrics


def test_hand_computed_metrics_on_2x2() -> None:
    d = np.array([[1.0, 2.0], [4.0, 8.0]])
    g = np.array([[1.0, 2.0], [2.0, 8.0]])
    # |d - g| / g = [0, 0, 1, 0]                       -> AbsRel = 1/4
    # max(d/g, g/d) = [1, 1, 2, 1]; 2 >= 1.25^3 = 1.95 -> delta1 = delta2 = delta3 = 3/4
    # (d - g)^2 = [0, 0, 4, 0]                          -> RMSE = sqrt(1) = 1
    # |log10 d - log10 g| = [0, 0, log10 2, 0]          -> log10 = log10(2) / 4

    m = depth_metrics(d, g, np.ones((2, 2), dtype=bool))

    assert m == DepthMetrics(
        abs_rel=0.25,
        delta1=0.75,
        delta2=0.75,
        delta3=0.75,
        rmse=1.0,
        log10=pytest.approx(math.log10(2.0) / 4),  # type: ignore[arg-type]
        n_valid=4,
        scale=1.0,
        shift=0.0,
    )


def test_delta_thresholds_separate() -> None:
    # Ratios 1.3 (in delta2, not delta1), 1/1.7 -> 1.7 (in delta3 only), 1, 1.
    d = np.array([1.3, 1.0 / 1.7, 1.0, 1.0])
    g = np.ones(4)

    m = depth_metrics(d, g)

    assert (m.delta1, m.delta2, m.delta3) == (0.5, 0.75, 1.0)
    assert DELTA_THRESHOLDS == (1.25, 1.5625, 1.953125)  # factors, not "within 25 %, 56 %, 95 %"


def test_depth_metrics_mask_restricts_pixels() -> None:
    d = np.array([1.0, 2.0, 100.0])
    g = np.array([1.0, 1.0, 1.0])
    m = depth_metrics(d, g, np.array([True, True, False]))
    assert m.n_valid == 2
    assert m.abs_rel == pytest.approx(0.5)
    assert m.rmse == pytest.approx(math.sqrt(0.5))


def test_depth_metrics_refuses_bad_pixels_in_mask() -> None:
    with pytest.raises(ValueError, match="depth has 1 pixel"):
        depth_metrics(np.array([1.0, 0.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="no valid pixels"):
        depth_metrics(np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        depth_metrics(np.ones(2), np.ones(3))


# ---------------------------------------------------------------- evaluate


@pytest.mark.parametrize("shape", [(4, 5), (31, 17)])
@pytest.mark.parametrize("gt_dtype", [np.float32, np.float64])
def test_evaluate_exact_recovery(shape: tuple[int, int], gt_dtype: type) -> None:
    rng = np.random.default_rng(0)
    pred = rng.uniform(0.0, 1000.0, size=shape).astype(np.float32)
    s, b = 0.004, 0.1  # 1 / gt = s * pred + b is in (0.1, 4.1]: depths 0.24 m .. 10 m
    gt = (1.0 / (s * pred.astype(np.float64) + b)).astype(gt_dtype)

    metrics, aligned, valid = evaluate(pred, gt)

    assert metrics.abs_rel < 1e-6
    assert metrics.delta1 == 1.0
    assert metrics.rmse < 1e-5
    assert metrics.log10 < 1e-6
    assert metrics.n_valid == pred.size
    assert metrics.scale == pytest.approx(s, rel=1e-5)
    assert metrics.shift == pytest.approx(b, rel=1e-5)
    assert aligned.dtype == np.float32 and aligned.shape == shape
    assert valid.all()
    np.testing.assert_allclose(aligned, gt, rtol=1e-5)


def test_evaluate_ignores_zeros_and_non_finite_gt() -> None:
    rng = np.random.default_rng(3)
    pred = rng.uniform(1.0, 50.0, size=(6, 7))
    gt = 1.0 / (0.05 * pred + 0.2)
    gt[0, :] = 0.0  # no measurement
    gt[1, 2] = np.nan
    gt[2, 3] = np.inf
    # Corrupt the prediction where GT is missing: if those pixels were used, the fit would
    # be ruined.
    pred[0, :] = 1e4

    metrics, _, valid = evaluate(pred, gt)

    assert metrics.n_valid == 6 * 7 - 7 - 2
    assert not valid[0].any() and not valid[1, 2] and not valid[2, 3]
    assert metrics.abs_rel < 1e-9
    assert metrics.scale == pytest.approx(0.05)
    assert metrics.shift == pytest.approx(0.2)


def test_evaluate_clamps_to_depth_range() -> None:
    # GT depths 1, 2, 4 (inverse 1, 0.5, 0.25) and one pixel the fit puts beyond infinity.
    pred = np.array([[4.0, 2.0, 1.0, -3.0]])
    gt = np.array([[1.0, 2.0, 4.0, 0.0]])  # last pixel has no GT

    metrics, aligned, valid = evaluate(pred, gt)

    assert metrics.scale == pytest.approx(0.25) and metrics.shift == pytest.approx(0.0)
    # Inverse depth 0.25 * -3 = -0.75 <= 0: clamped to max_depth = largest GT depth.
    np.testing.assert_allclose(aligned, [[1.0, 2.0, 4.0, 4.0]], rtol=1e-6)
    np.testing.assert_array_equal(valid, [[True, True, True, False]])

    _, aligned_capped, _ = evaluate(pred, gt, min_depth=1.5, max_depth=3.0)
    np.testing.assert_allclose(aligned_capped, [[1.5, 2.0, 3.0, 3.0]], rtol=1e-6)


def test_evaluate_shape_mismatch_points_to_resize_to() -> None:
    with pytest.raises(ValueError, match="resize_to"):
        evaluate(np.ones((4, 4)), np.ones((8, 8)))


def test_evaluate_refusals() -> None:
    pred = np.arange(12.0).reshape(3, 4)
    with pytest.raises(ValueError, match="no valid pixels"):
        evaluate(pred, np.zeros((3, 4)))
    with pytest.raises(AlignmentError, match="at least 2"):
        evaluate(pred, np.where(pred == 5.0, 2.0, 0.0))
    with pytest.raises(AlignmentError, match="same predicted value"):
        evaluate(np.ones((3, 4)), pred + 1.0)
    with pytest.raises(ValueError, match="min_depth"):
        evaluate(pred, pred + 1.0, min_depth=0.0)
    with pytest.raises(ValueError, match="clamp range"):
        evaluate(pred, pred + 1.0, min_depth=1.0, max_depth=0.5)
    with pytest.raises(ValueError, match="NaN or inf"):
        evaluate(np.full((3, 4), np.nan), pred + 1.0)


# ---------------------------------------------------------------- error_map, resize_to


def test_error_map_values_and_zero_outside_mask() -> None:
    d = np.array([[1.0, 3.0], [2.0, 9.0]])
    g = np.array([[2.0, 3.0], [1.0, 0.0]])
    mask = np.array([[True, True], [True, False]])

    err = error_map(d, g, mask)

    assert err.dtype == np.float32
    np.testing.assert_allclose(err, [[0.5, 0.0], [1.0, 0.0]])


def test_error_map_refuses_invalid_gt_inside_mask() -> None:
    with pytest.raises(ValueError, match="positive and finite"):
        error_map(np.ones((1, 2)), np.array([[1.0, 0.0]]), np.ones((1, 2), dtype=bool))


def test_resize_to_is_bilinear_and_keeps_constants() -> None:
    const = np.full((3, 5), 7.0)
    out = resize_to(const, (6, 10))
    assert out.shape == (6, 10) and out.dtype == np.float32
    np.testing.assert_allclose(out, 7.0)

    # A horizontal ramp stays a ramp: upsampling 2x puts interior samples halfway
    # between neighbours (half-pixel-centre convention).
    ramp = np.tile(np.array([0.0, 4.0, 8.0, 12.0]), (2, 1))
    up = resize_to(ramp, (2, 8))
    np.testing.assert_allclose(up[0], [0.0, 1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 12.0])


@pytest.mark.parametrize("shape", [(0, 4), (4,), (2.5, 3), (-1, 3)])
def test_resize_to_rejects_bad_shape(shape: tuple) -> None:
    with pytest.raises(ValueError, match="shape must be"):
        resize_to(np.ones((3, 3)), shape)


# ---------------------------------------------------------------- load_ground_truth


@pytest.mark.parametrize(("unit", "factor"), [("mm", 1e-3), ("1/256 m", 1.0 / 256.0), ("m", 1.0)])
def test_png16_round_trip(unit: str, factor: float) -> None:
    raw = np.array([[0, 1, 1500], [65535, 250, 0]], dtype=np.uint16)

    depth = load_ground_truth(_encode_png(raw), kind="png16", unit=unit)  # type: ignore[arg-type]

    assert depth.dtype == np.float32 and depth.shape == (2, 3)
    np.testing.assert_allclose(depth, raw.astype(np.float64) * factor, rtol=1e-7)
    assert depth[0, 0] == 0.0 and depth[1, 2] == 0.0  # zeros stay "invalid"


@pytest.mark.parametrize(
    ("img", "described"),
    [
        (np.zeros((4, 4, 3), dtype=np.uint8), "8-bit RGB"),
        (np.zeros((4, 4), dtype=np.uint8), "8-bit single-channel"),
        (np.zeros((4, 4, 3), dtype=np.uint16), "16-bit RGB"),
        (np.zeros((4, 4, 4), dtype=np.uint8), "8-bit RGBA"),
    ],
)
def test_png16_rejects_other_pngs(img: np.ndarray, described: str) -> None:
    with pytest.raises(ValueError, match=f"expected a single-channel 16-bit PNG, got {described}"):
        load_ground_truth(_encode_png(img), kind="png16")


def test_png16_rejects_non_png_bytes() -> None:
    ok, jpg = cv2.imencode(".jpg", np.zeros((4, 4, 3), dtype=np.uint8))
    assert ok
    with pytest.raises(ValueError, match="PNG signature"):
        load_ground_truth(jpg.tobytes(), kind="png16")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_ground_truth(_encode_png(np.ones((8, 8), dtype=np.uint16))[:20], kind="png16")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
@pytest.mark.parametrize(("unit", "factor"), [("mm", 1e-3), ("m", 1.0)])
def test_npy_round_trip(dtype: type, unit: str, factor: float) -> None:
    arr = np.array([[0.0, 2.0], [3.0, 4000.0]], dtype=dtype)

    depth = load_ground_truth(_npy_bytes(arr), kind="npy", unit=unit)  # type: ignore[arg-type]

    assert depth.dtype == np.float32
    np.testing.assert_allclose(depth, arr.astype(np.float64) * factor, rtol=1e-7)


def test_npy_invalid_values_become_zero() -> None:
    arr = np.array([[np.nan, -1.0], [np.inf, 2.5]])
    depth = load_ground_truth(_npy_bytes(arr), kind="npy", unit="m")
    np.testing.assert_array_equal(depth, [[0.0, 0.0], [0.0, 2.5]])


@pytest.mark.parametrize(
    ("arr", "match"),
    [
        (np.ones((2, 3, 1)), r"2-D \(HxW\).*\(2, 3, 1\).*Squeeze"),
        (np.ones(5), r"2-D \(HxW\)"),
        (np.ones((2, 2), dtype=bool), "real-valued"),
        (np.ones((2, 2), dtype=np.complex64), "real-valued"),
        (np.array([[None]], dtype=object), "could not read"),
    ],
)
def test_npy_rejects_wrong_arrays(arr: np.ndarray, match: str) -> None:
    data = _npy_bytes(arr) if arr.dtype != object else _pickled_npy(arr)
    with pytest.raises(ValueError, match=match):
        load_ground_truth(data, kind="npy")


def _pickled_npy(arr: np.ndarray) -> bytes:
    f = io.BytesIO()
    np.save(f, arr, allow_pickle=True)
    return f.getvalue()


def test_the_kind_of_file_comes_from_its_content() -> None:
    png, npy = _encode_png(np.ones((2, 2), dtype=np.uint16)), _npy_bytes(np.ones((2, 2)))
    assert ground_truth_kind(png) == "png16" and ground_truth_kind(npy) == "npy"
    np.testing.assert_array_equal(load_ground_truth(npy, kind="auto", unit="m"), np.ones((2, 2)))
    assert load_ground_truth(png, kind="auto", unit="mm")[0, 0] == pytest.approx(1e-3)


@pytest.mark.parametrize("data", [b"depth,x,y\n1.5,0,0\n", b"\xff\xd8\xff\xe0 a JPEG"])
def test_a_file_that_is_neither_says_so_in_plain_words(data: bytes) -> None:
    # finding 11: a text file renamed .npy got "for kind='npy'; for a 16-bit PNG use kind='png16'"
    with pytest.raises(ValueError) as info:
        load_ground_truth(data, kind="auto", unit="m")
    message = str(info.value)
    assert message.startswith("this file is neither a PNG image nor a NumPy array")
    assert "numpy.save" in message and "kind=" not in message
    assert ("text file" in message) == data.startswith(b"depth")


def test_loader_argument_errors() -> None:
    png = _encode_png(np.ones((2, 2), dtype=np.uint16))
    with pytest.raises(ValueError, match="kind must be"):
        load_ground_truth(png, kind="tiff")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unit must be"):
        load_ground_truth(png, kind="png16", unit="cm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty bytes"):
        load_ground_truth(b"", kind="png16")
    with pytest.raises(ValueError, match="kind='png16'"):
        load_ground_truth(png, kind="npy")


def test_loaded_png_feeds_evaluate() -> None:
    # End to end: a 16-bit mm PNG with holes, exactly affine in inverse depth.
    rng = np.random.default_rng(5)
    pred = rng.uniform(0.0, 100.0, size=(12, 16)).astype(np.float32)
    gt_mm = np.round(1000.0 / (0.01 * pred.astype(np.float64) + 0.3)).astype(np.uint16)
    gt_mm[::3, ::4] = 0

    gt_m = load_ground_truth(_encode_png(gt_mm), kind="png16", unit="mm")
    metrics, _, valid = evaluate(pred, gt_m)

    assert metrics.n_valid == int((gt_mm > 0).sum())
    np.testing.assert_array_equal(valid, gt_mm > 0)
    assert metrics.abs_rel < 1e-3  # only millimetre rounding remains
    assert metrics.delta1 == 1.0
