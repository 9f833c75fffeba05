"""Tests for core.checks: the input checks every ``core`` module shares."""

from __future__ import annotations

import numpy as np
import pytest

from core.checks import as_bool_mask, as_float64, check_int, check_real, is_int, is_real


@pytest.mark.parametrize("value", [0, -3, 7, np.int8(1), np.int64(2**40), np.uint16(9)])
def test_is_int_accepts_python_and_numpy_integers(value: object) -> None:
    assert is_int(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, np.float32(1), "3", None, np.array(3)])
def test_is_int_refuses_bools_floats_and_the_rest(value: object) -> None:
    assert not is_int(value)


@pytest.mark.parametrize("value", [0, -2.5, 1e300, np.float32(0.5), np.int32(4), np.float64(-1.0)])
def test_is_real_accepts_finite_numbers(value: object) -> None:
    assert is_real(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -np.inf, np.float32("nan"), True, np.bool_(False),
                                   "1.0", None, 1j])
def test_is_real_refuses_non_finite_bools_and_the_rest(value: object) -> None:
    assert not is_real(value)


def test_check_int_returns_a_python_int_in_range() -> None:
    out = check_int(np.int16(12), "size", low=1, high=12)
    assert out == 12 and type(out) is int


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "message"),
    [
        (2.5, {}, TypeError, "size must be an int, got float"),
        (True, {}, TypeError, "size must be an int, got bool"),
        (0, {"low": 1}, ValueError, "size must be >= 1, got 0"),
        (9, {"high": 8}, ValueError, "size must be <= 8, got 9"),
        (0, {"low": 1, "high": 100}, ValueError, r"size must be in \[1, 100\], got 0"),
        ("8", {"hint": ": pass e.g. 256."}, TypeError, r"size must be an int, got str: pass e\.g\. 256\."),
    ],
)
def test_check_int_says_what_is_wrong(value: object, kwargs: dict, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{message}$"):
        check_int(value, "size", **kwargs)


def test_check_real_returns_a_float_in_range() -> None:
    out = check_real(np.int64(3), "alpha", low=0.0, high=3.0)
    assert out == 3.0 and type(out) is float


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "message"),
    [
        ("1", {}, TypeError, "alpha must be a real number, got str"),
        (np.bool_(True), {}, TypeError, "alpha must be a real number, got bool"),
        (float("nan"), {}, ValueError, "alpha must be finite, got nan"),
        (-0.5, {"low": 0.0}, ValueError, r"alpha must be >= 0.0, got -0.5"),
        (2.0, {"low": 0.0, "high": 1.0, "hint": "; use a fraction."}, ValueError,
         r"alpha must be in \[0.0, 1.0\], got 2.0; use a fraction\."),
    ],
)
def test_check_real_says_what_is_wrong(value: object, kwargs: dict, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{message}$"):
        check_real(value, "alpha", **kwargs)


def test_as_float64_and_as_bool_mask() -> None:
    assert as_float64(np.array([1, 2], np.int32), "x").dtype == np.float64
    with pytest.raises(TypeError, match="x must be a real numeric array, got dtype bool"):
        as_float64(np.array([True]), "x")
    mask = np.array([[True, False]])
    assert as_bool_mask(mask, (1, 2)) is mask
    with pytest.raises(TypeError, match="mask must be a bool array"):
        as_bool_mask(np.array([[1, 0]]), (1, 2))
    with pytest.raises(ValueError, match=r"mask has shape \(1, 2\) but the data has shape \(2, 1\)"):
        as_bool_mask(mask, (2, 1))
