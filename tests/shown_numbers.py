"""Compare a number the app shows (formatted text) with the value a test computes.

A value that went through the network, resampling or BLAS differs in its last bits between
CPUs (vector extensions, kernel choices), and between two float paths on one CPU (float32
against float64, a fitted against an exact parameter). Formatted, its last shown digit can
then round either way, so comparing the strings fails on the next machine by luck.
:func:`assert_shows` reads the number back and allows exactly that rounding: half a unit in
the last digit the format keeps, plus a stated slack for any difference between the two
computations.

Example:
    >>> format(0.12345001, ".4f"), format(0.12344999, ".4f")  # one value, two CPUs
    ('0.1235', '0.1234')
    >>> assert_shows("0.1235", 0.12344999, ".4f", slack=1e-7)  # passes
"""
from __future__ import annotations

import math
import re

__all__ = ["assert_shows", "format_half_unit", "shown_number"]

_NUMBER = re.compile(r"[-+−]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_SPEC = re.compile(r"\.(\d+)([efg])")


def shown_number(text: str) -> float:
    """The first number in a shown text: ``"1,234.5 m"`` -> 1234.5, ``"12.5%"`` -> 12.5.

    Raises:
        ValueError: ``text`` holds no number.
    """
    match = _NUMBER.search(text)
    if match is None:
        raise ValueError(f"no number in {text!r}")
    return float(match.group().replace(",", "").replace("−", "-"))


def format_half_unit(value: float, spec: str) -> float:
    """Half a unit in the last digit ``format(value, spec)`` keeps: the most its rounding moves ``value``.

    Args:
        value: the value formatted.
        spec: a fixed, exponent or general format with a precision: ``".2f"``, ``".2e"``, ``".4g"``.

    Raises:
        ValueError: ``spec`` is not one of those forms.

    Example:
        >>> format_half_unit(12.34, ".4g"), format_half_unit(12.34, ".1f"), format_half_unit(0.00998, ".2e")
        (0.005, 0.05, 5e-06)
    """
    match = _SPEC.fullmatch(spec)
    if match is None:
        raise ValueError(f"spec must look like '.4g', '.2f' or '.2e', got {spec!r}")
    digits, kind = int(match.group(1)), match.group(2)
    if kind == "f":
        return 0.5 * 10.0**-digits
    exponent = math.floor(math.log10(abs(value))) if value else 0
    kept = digits if kind == "e" else max(digits, 1) - 1  # digits after the leading one
    return 0.5 * 10.0 ** (exponent - kept)


def assert_shows(text: str, value: float, spec: str, slack: float = 0.0) -> None:
    """Assert that ``text`` shows ``value`` as ``format(value, spec)`` does, up to the last digit's rounding.

    The app's own value lies within ``slack`` of ``value``, and its shown text within half a
    unit of its last digit of the app's value, so the shown number lies within their sum of
    ``value``. The half unit is taken at ``|value| + slack``, the larger of the two values'
    (they may sit on either side of a power of ten).

    Args:
        text: what the app shows, e.g. ``"1.23 m"``; its first number is read.
        value: the value the test computed.
        spec: the app's format for it, e.g. ``".2f"``.
        slack: how far the app's value may lie from ``value``; 0 when both come from the same
            computation in this process, and only the format's rounding is allowed.

    Raises:
        AssertionError: the shown number is farther from ``value`` than that.
    """
    shown = shown_number(text)
    bound = format_half_unit(abs(value) + slack, spec) + slack
    bound += 4 * math.ulp(max(abs(shown), abs(value), bound))  # the float arithmetic of this check
    assert abs(shown - value) <= bound, f"{text!r} does not show {value!r} as {spec} (within {bound:.3g})"
