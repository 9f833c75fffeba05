from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core.maps.normalize import inverse_to_depth, normalize, sanitize, to_uint16, to_uint8
from core.maps.stats import depth_stats  # flat display results agree with DepthStats.constant
from tests.maps.depth_inputs import DEPTHS, DTYPES, SIZES, SMALL, random_map, tiny_range


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("fn", [sanitize, normalize, to_uint8, to_uint16])
def test_rejects_wrong_ndim(fn) -> None:
    with pytest.raises(ValueError, match="HxW"):
        fn(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="HxW"):
        fn(np.zeros(4, np.float32))


@pytest.mark.parametrize("fn", [sanitize, normalize, to_uint8, to_uint16])
@pytest.mark.parametrize("dtype", [np.bool_, np.complex64, object])
def test_rejects_wrong_dtype(fn, dtype) -> None:
    with pytest.raises(TypeError, match="dtype"):
        fn(np.zeros((2, 2), dtype=dtype))


@pytest.mark.parametrize("fn", [sanitize, normalize, to_uint16])
def test_rejects_non_arrays_and_empty(fn) -> None:
    with pytest.raises(TypeError, match="numpy.ndarray"):
        fn([[0.0, 1.0]])
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 3), np.float32))


@pytest.mark.parametrize("fn", [normalize, to_uint8, to_uint16])
def test_window_validation(fn) -> None:
    with pytest.raises(ValueError, match="lo must be <= hi"):
        fn(SMALL, lo=5.0, hi=1.0)
    with pytest.raises(ValueError, match="finite"):
        fn(SMALL, lo=float("nan"))
    with pytest.raises(ValueError, match="finite"):
        fn(SMALL, hi=float("inf"))
    with pytest.raises(TypeError, match="real number"):
        fn(SMALL, lo="0")


# ---------------------------------------------------------------- sanitize


def test_sanitize_replaces_non_finite_by_finite_extremes() -> None:
    x = np.array([[np.nan, 1.0, 5.0], [np.inf, -np.inf, 3.0]], np.float32)
    expected = np.array([[1.0, 1.0, 5.0], [5.0, 1.0, 3.0]], np.float32)
    out = sanitize(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_sanitize_all_non_finite_gives_zeros(value: float) -> None:
    np.testing.assert_array_equal(sanitize(np.full((2, 3), value, np.float32)), np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sanitize_finite_input_is_an_equal_new_array(dtype) -> None:
    x = SMALL.astype(dtype)
    out = sanitize(x)
    np.testing.assert_array_equal(out, SMALL.astype(np.float32))
    out[0, 0] = 99
    assert x[0, 0] == 0  # the input was not aliased


# ---------------------------------------------------------------- normalize


@pytest.mark.parametrize("dtype", DTYPES)
def test_normalize_hand_computed(dtype) -> None:
    out = normalize(SMALL.astype(dtype))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0.0, 0.25], [0.5, 1.0]])
    np.testing.assert_array_equal(normalize(SMALL.astype(dtype), invert=True), [[1.0, 0.75], [0.5, 0.0]])


def test_normalize_clips_to_window() -> None:
    np.testing.assert_array_equal(normalize(SMALL, lo=2.0, hi=6.0), [[0.0, 0.0], [0.5, 1.0]])
    np.testing.assert_array_equal(normalize(SMALL, lo=-8.0, hi=8.0), [[0.5, 0.625], [0.75, 1.0]])


@pytest.mark.parametrize("shape", SIZES)
def test_normalize_spans_unit_interval_and_keeps_order(shape) -> None:
    x = random_map(shape)
    out = normalize(x)
    if x.size > 1:
        assert out.min() == 0.0 and out.max() == 1.0
    order = np.argsort(x, axis=None, kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("invert", [False, True])
def test_constant_map_is_flat_and_finite(shape, invert: bool) -> None:
    x = np.full(shape, 3.25, np.float32)
    for out in (normalize(x, invert=invert), to_uint8(x, invert=invert), to_uint16(x, invert=invert)):
        assert np.all(out == out.flat[0])
    assert normalize(x).max() == 0.0
    assert depth_stats(x).constant


def test_degenerate_window_is_a_step() -> None:
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_array_equal(normalize(x, lo=2.0, hi=2.0), [[0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(to_uint8(x, lo=2.0, hi=2.0), [[0, 0, 255]])


def test_normalize_treats_non_finite_like_sanitize() -> None:
    x = np.array([[np.nan, 0.0], [4.0, np.inf]], np.float32)
    np.testing.assert_array_equal(normalize(x), [[0.0, 0.0], [1.0, 1.0]])


# ---------------------------------------------------------------- to_uint8 / to_uint16


@pytest.mark.parametrize("dtype", DTYPES)
def test_to_uint_hand_computed(dtype) -> None:
    x = SMALL.astype(dtype)
    np.testing.assert_array_equal(to_uint16(x), np.array([[0, 16384], [32768, 65535]], np.uint16))
    np.testing.assert_array_equal(to_uint8(x), np.array([[0, 64], [128, 255]], np.uint8))
    # 0.5 * 65535 = 32767.5 rounds to even either way round
    np.testing.assert_array_equal(to_uint16(x, invert=True), [[65535, 49151], [32768, 0]])
    assert to_uint16(x).dtype == np.uint16 and to_uint8(x).dtype == np.uint8


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("invert", [False, True])
def test_to_uint_matches_rounded_normalize(shape, invert: bool) -> None:
    x = random_map(shape, seed=3)
    lo, hi = (-1.0, 1.5) if x.size > 4 else (None, None)
    n = normalize(x, lo, hi, invert=invert).astype(np.float64)
    for fn, levels in ((to_uint8, 255), (to_uint16, 65535)):
        diff = fn(x, lo, hi, invert=invert).astype(np.int64) - np.rint(n * levels)
        assert np.abs(diff).max() <= 1  # float32 vs float64 rounding at .5 ties only


def test_to_uint_precise_with_large_offset() -> None:
    # float32 x * alpha would lose whole levels here; the quantiser must subtract first
    k = np.arange(16, dtype=np.float32)
    x = (np.float32(1e6) + k * np.float32(0.0625))[None, :]
    expected = np.rint(k / 15 * 255).astype(np.uint8)
    np.testing.assert_array_equal(to_uint8(x)[0], expected)
    np.testing.assert_array_equal(to_uint16(x)[0], np.rint(k / 15 * 65535).astype(np.uint16))


def test_far_outliers_saturate_to_the_correct_end() -> None:
    # OpenCV casts values beyond int32 to 0; they must still land on the right end
    x = np.array([[-3e38, -1e10, 0.0, 0.5, 1.0, 1e10, 3e38]], np.float32)
    np.testing.assert_array_equal(to_uint16(x, 0.0, 1.0), [[0, 0, 0, 32768, 65535, 65535, 65535]])
    np.testing.assert_array_equal(to_uint8(x, 0.0, 1.0, invert=True), [[255, 255, 255, 128, 0, 0, 0]])


def test_to_uint_non_finite_follow_sanitize() -> None:
    x = np.array([[np.nan, 0.0, 2.0, np.inf, -np.inf]], np.float32)
    np.testing.assert_array_equal(to_uint8(x), [[0, 0, 255, 255, 0]])


# ---------------------------------------------------------------- properties


@settings(deadline=None, max_examples=150)
@given(DEPTHS, st.booleans())
def test_outputs_are_finite_and_in_range_for_any_input(x: np.ndarray, invert: bool) -> None:
    n = normalize(x, invert=invert)
    assert n.dtype == np.float32 and n.shape == x.shape
    assert np.all(np.isfinite(n)) and n.min() >= 0.0 and n.max() <= 1.0
    u16 = to_uint16(x, invert=invert)
    assert u16.dtype == np.uint16 and u16.shape == x.shape
    s = sanitize(x)
    assert np.all(np.isfinite(s))


@settings(deadline=None, max_examples=150)
@given(DEPTHS)
def test_quantisation_preserves_order(x: np.ndarray) -> None:
    # larger (nearer) never maps darker: monotone after sanitize, for every input
    order = np.argsort(sanitize(x), axis=None, kind="stable")
    for out in (normalize(x), to_uint8(x), to_uint16(x)):
        assert np.all(np.diff(out.ravel()[order].astype(np.float64)) >= 0)


@settings(deadline=None)
@given(tiny_range())
def test_tiny_but_real_ranges_are_stretched(x: np.ndarray) -> None:
    lo, hi = float(x.min()), float(x.max())
    with np.errstate(over="ignore"):
        stretchable = hi - lo > 0 and math.isfinite(np.float32(65536.0 / (hi - lo)))
    if stretchable:
        n = normalize(x)
        assert n.min() == 0.0 and n.max() == 1.0
        u = to_uint16(x)
        assert u.min() == 0 and u.max() == 65535


@st.composite
def _map_and_window(draw: st.DrawFn) -> tuple[np.ndarray, float | None, float | None]:
    """A finite map of any dtype, and a window: the default, two of its values, or any floats."""
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.uint16]))
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8))
    if np.dtype(dtype).kind == "f":
        elements = st.floats(width=min(32, np.dtype(dtype).itemsize * 8), allow_nan=False, allow_infinity=False)
    else:
        elements = st.integers(int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    kind = draw(st.sampled_from(["default", "from data", "any"]))
    if kind == "default":
        return x, None, None
    if kind == "from data":
        a, b = sorted(float(np.float32(v)) for v in draw(st.lists(st.sampled_from(x.ravel().tolist()), min_size=2, max_size=2)))
    else:
        a, b = sorted(draw(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=2, max_size=2)))
    return x, a, b


@settings(deadline=None, max_examples=300)
@given(_map_and_window(), st.booleans())
def test_window_ends_land_exactly_on_the_output_ends(case, invert: bool) -> None:
    # Whatever the data, dtype and window: a pixel equal to the window's low end is exactly 0
    # (0, 0), one equal to its high end exactly 1 (255, 65535), swapped by invert. The default
    # window is the map's own min and max, so those always reach both ends.
    x, lo, hi = case
    x32 = sanitize(x)
    lo32 = np.float32(x32.min() if lo is None else lo)
    hi32 = np.float32(x32.max() if hi is None else hi)
    with np.errstate(over="ignore"):
        stretchable = hi32 > lo32 and np.isfinite(np.float32(65536.0 / (float(hi32) - float(lo32))))
    if not stretchable:
        return  # a flat window: a documented step, tested elsewhere
    at_lo, at_hi = x32 == lo32, x32 == hi32
    low_end, high_end = (1, 0) if invert else (0, 1)
    for out, top in ((normalize(x, lo, hi, invert), 1), (to_uint8(x, lo, hi, invert), 255), (to_uint16(x, lo, hi, invert), 65535)):
        assert np.all(out[at_lo] == low_end * top), (out.dtype, out[at_lo])
        assert np.all(out[at_hi] == high_end * top), (out.dtype, out[at_hi])
        inside = (x32 > lo32) & (x32 < hi32)
        assert np.all((out[inside] >= 0) & (out[inside] <= top))
    if lo is None:
        n = normalize(x, invert=invert)
        assert (n.min(), n.max()) == (0.0, 1.0)


def test_the_reported_case_reaches_one_exactly() -> None:
    # the map: 1/(hi - lo) rounded in float32 put the maximum at 0.99999994
    x = np.array([[0.0, 0.7], [0.3, 0.1]], np.float32) * np.float32(3.3)
    assert all(normalize(x * np.float32(k)).max() == 1.0 for k in np.linspace(0.1, 10, 997, dtype=np.float32))


# ---------------------------------------------------------------- inverse_to_depth


def test_inverse_to_depth_hand_computed() -> None:
    inv = np.array([0.5, 0.0, -1.0, np.nan, np.inf, 1e-45], np.float32)
    depth, valid = inverse_to_depth(inv)
    np.testing.assert_array_equal(depth, [2.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(valid, [True, False, False, False, False, False])
    assert depth.dtype == np.float32 and valid.dtype == np.bool_


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_inverse_to_depth_scale_and_shift(dtype) -> None:
    inv = np.array([[1.0, 2.0], [0.0, -0.25]], dtype)
    depth, valid = inverse_to_depth(inv, scale=2.0, shift=0.5)
    np.testing.assert_allclose(depth, [[0.4, 0.2222222], [2.0, 0.0]], rtol=1e-6)
    np.testing.assert_array_equal(valid, [[True, True], [True, False]])


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf")])
def test_inverse_to_depth_rejects_bad_scale(scale: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        inverse_to_depth(np.ones((2, 2), np.float32), scale=scale)
