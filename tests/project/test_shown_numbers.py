"""tests/shown_numbers.py: the comparison of shown (formatted) numbers the AppTests use."""
from __future__ import annotations

import pytest

from tests.shown_numbers import assert_shows, format_half_unit, shown_number


@pytest.mark.parametrize(
    ("text", "number"),
    [("0.4123", 0.4123), ("1,234.5 m", 1234.5), ("12.5%", 12.5), ("9.98e-03", 9.98e-3), ("−3 m", -3.0),
     ("differs by 1.00e-02 of", 1e-2), ("grey level 7", 7.0)],
)
def test_shown_number_reads_the_first_number(text: str, number: float) -> None:
    assert shown_number(text) == number


def test_shown_number_needs_a_number() -> None:
    with pytest.raises(ValueError, match="no number"):
        shown_number("–")


@pytest.mark.parametrize(
    ("value", "spec", "half"),
    [(12.34, ".4g", 0.005), (0.0012345, ".4g", 5e-7), (9.9996, ".4g", 5e-4), (0.0, ".6f", 5e-7),
     (123.0, ".2f", 0.005), (0.00998, ".2e", 5e-6), (0.01, ".2e", 5e-5), (1.0, ".4g", 5e-4)],
)
def test_format_half_unit(value: float, spec: str, half: float) -> None:
    assert format_half_unit(value, spec) == pytest.approx(half, rel=1e-12)
    assert abs(float(format(value, spec)) - value) <= half  # the bound holds for the format itself


@pytest.mark.parametrize("spec", ["4g", ".4", ".4d", "%.4g", ".g"])
def test_format_half_unit_refuses_other_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="spec"):
        format_half_unit(1.0, spec)


def test_a_last_digit_that_rounds_the_other_way_passes() -> None:
    # the same value computed on two CPUs, one rounding error apart, on either side of a half
    here, there = 0.12345001, 0.12344999
    assert format(here, ".4f") != format(there, ".4f")  # string equality would fail
    assert_shows(format(here, ".4f"), there, ".4f", slack=1e-7)
    assert_shows(format(there, ".4f"), here, ".4f", slack=1e-7)
    assert_shows(format(0.99999999, ".4g"), 1.00000001, ".4g", slack=1e-7)  # "1" across a power of ten


@pytest.mark.parametrize(
    ("text", "value", "spec", "slack"),
    [("0.1236", 0.12345, ".4f", 1e-7), ("1.24 m", 1.23, ".2f", 0.0), ("9.79e-03", 1e-2, ".2e", 1e-4),
     ("0.000001", 0.0, ".6f", 0.0)],
)
def test_a_real_difference_fails(text: str, value: float, spec: str, slack: float) -> None:
    with pytest.raises(AssertionError, match="does not show"):
        assert_shows(text, value, spec, slack)
