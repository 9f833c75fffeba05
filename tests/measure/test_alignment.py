from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.measure.alignment import AlignmentError, ScaleShift, apply_scale_shift_demo, fit_scale_shift


@pytest.mark.parametrize("shape", [(2,), (3, 4), (17, 23)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_recovers_exact_scale_and_shift(shape: tuple[int, ...], dtype: type) -> None:
    rng = np.random.default_rng(0)
    pred = rng.uniform(0.0, 500.0, size=shape).astype(dtype)
    target = 0.003 * pred.astype(np.float64) + 0.25

    fit = fit_scale_shift(pred, target)

    assert fit.scale == pytest.approx(0.003, rel=1e-9)
    assert fit.shift == pytest.approx(0.25, rel=1e-9)


def test_fit_matches_numpy_lstsq_on_noisy_data() -> None:
    rng = np.random.default_rng(1)
    pred = rng.uniform(-3.0, 7.0, size=(8, 9))
    target = -1.7 * pred + 4.0 + rng.normal(0.0, 0.5, size=pred.shape)

    fit = fit_scale_shift(pred, target)

    a = np.stack([pred.ravel(), np.ones(pred.size)], axis=1)
    (s, b), *_ = np.linalg.lstsq(a, target.ravel(), rcond=None)
    assert fit.scale == pytest.approx(s, rel=1e-10)
    assert fit.shift == pytest.approx(b, rel=1e-10)


def test_mask_and_non_finite_samples_are_left_out() -> None:
    pred = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    target = 2.0 * pred - 1.0
    target[4] = 1000.0  # corrupt, masked out
    target[5] = np.nan  # non-finite, always left out
    mask = np.array([True, True, True, True, False, True])

    fit = fit_scale_shift(pred, target, mask)

    assert fit.scale == pytest.approx(2.0)
    assert fit.shift == pytest.approx(-1.0)


@settings(max_examples=50, deadline=None)
@given(
    a=st.floats(min_value=1e-3, max_value=1e3) | st.floats(min_value=-1e3, max_value=-1e-3),
    c=st.floats(min_value=-1e3, max_value=1e3),
)
def test_aligned_result_is_invariant_to_affine_change_of_prediction(a: float, c: float) -> None:
    # The whole point of scale-and-shift alignment: any affine re-parametrisation of the
    # prediction aligns to the same values.
    rng = np.random.default_rng(2)
    pred = rng.uniform(0.0, 10.0, size=50)
    target = 0.5 * pred + 1.0 + rng.normal(0.0, 0.3, size=50)

    ref = fit_scale_shift(pred, target).apply(pred)
    other = fit_scale_shift(a * pred + c, target).apply(a * pred + c)

    np.testing.assert_allclose(other, ref, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("n_valid", [0, 1])
def test_fewer_than_two_samples_is_refused(n_valid: int) -> None:
    pred = np.array([1.0, 2.0, 3.0])
    mask = np.arange(3) < n_valid
    with pytest.raises(AlignmentError, match="at least 2 valid samples"):
        fit_scale_shift(pred, pred, mask)


def test_constant_prediction_is_refused_with_advice() -> None:
    pred = np.full((4, 4), 7.5, dtype=np.float32)
    target = np.linspace(0.1, 1.0, 16).reshape(4, 4)
    with pytest.raises(AlignmentError, match="same predicted value.*different depths"):
        fit_scale_shift(pred, target)


def test_alignment_error_is_a_value_error() -> None:
    assert issubclass(AlignmentError, ValueError)


def test_shape_and_type_errors() -> None:
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(4,\)"):
        fit_scale_shift(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="mask has shape"):
        fit_scale_shift(np.arange(3.0), np.arange(3.0), np.ones(2, dtype=bool))
    with pytest.raises(TypeError, match="mask must be a bool"):
        fit_scale_shift(np.arange(3.0), np.arange(3.0), np.ones(3))
    with pytest.raises(TypeError, match="pred must be a real numeric"):
        fit_scale_shift(np.array(["a", "b"]), np.arange(2.0))


def test_apply_and_to_depth() -> None:
    ss = ScaleShift(scale=0.5, shift=-1.0)
    pred = np.array([[4.0, 6.0], [2.0, 0.0]])

    np.testing.assert_allclose(ss.apply(pred), [[1.0, 2.0], [0.0, -1.0]])
    depth, valid = ss.to_depth(pred)

    np.testing.assert_allclose(depth, [[1.0, 0.5], [0.0, 0.0]])
    np.testing.assert_array_equal(valid, [[True, True], [False, False]])
    assert np.isfinite(depth).all()


def test_demo_undoes_scale_and_shift() -> None:
    d = np.array([[0.5, 1.0], [2.0, 4.0]], dtype=np.float32)
    pred = 3.0 * d + 10.0

    np.testing.assert_allclose(apply_scale_shift_demo(pred, alpha=3.0, beta=10.0), d)
    # A wrong shift offsets every value by the same amount; a wrong scale stretches them.
    np.testing.assert_allclose(apply_scale_shift_demo(pred, alpha=3.0, beta=7.0), d + 1.0)
    np.testing.assert_allclose(apply_scale_shift_demo(pred, alpha=1.5, beta=10.0), 2.0 * d)


@pytest.mark.parametrize(
    ("alpha", "beta", "match"),
    [(0.0, 1.0, "non-zero"), (np.inf, 0.0, "finite"), (1.0, np.nan, "finite")],
)
def test_demo_rejects_bad_parameters(alpha: float, beta: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        apply_scale_shift_demo(np.ones(3), alpha, beta)
