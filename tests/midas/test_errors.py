"""Tests for core.midas.errors: every failure to obtain or read the weights is one family."""

from __future__ import annotations

from core.midas.errors import (
    WeightsCorruptError,
    WeightsDownloadError,
    WeightsError,
    WeightsHashError,
    WeightsMismatchError,
    WeightsUnsafeError,
)


def test_every_error_is_a_weights_error() -> None:
    for cls in (
        WeightsDownloadError,
        WeightsCorruptError,
        WeightsHashError,
        WeightsMismatchError,
        WeightsUnsafeError,
    ):
        assert issubclass(cls, WeightsError)
    assert issubclass(WeightsError, RuntimeError)
