"""Tests for core.midas.config: the frozen facts about the MiDaS small weights."""

from __future__ import annotations

import dataclasses

import pytest

from core.midas.config import MIDAS_SMALL, WeightsConfig


def test_midas_small_config_holds_the_official_facts() -> None:
    assert isinstance(MIDAS_SMALL, WeightsConfig)
    assert (
        MIDAS_SMALL.url
        == "https://github.com/isl-org/MiDaS/releases/download/v2_1/model-small-70d6b9c8.pt"
    )
    assert MIDAS_SMALL.file_names == ("midas_v21_small_256.pt", "model-small-70d6b9c8.pt")
    assert MIDAS_SMALL.download_name == "model-small-70d6b9c8.pt"
    assert MIDAS_SMALL.url.endswith("/" + MIDAS_SMALL.download_name)
    assert MIDAS_SMALL.sha256_prefix == "70d6b9c8"
    assert MIDAS_SMALL.sha256_prefix in MIDAS_SMALL.download_name  # torch hub naming convention
    assert (MIDAS_SMALL.input_size, MIDAS_SMALL.interpolation) == (256, "bicubic")
    assert MIDAS_SMALL.mean == (0.485, 0.456, 0.406)
    assert MIDAS_SMALL.std == (0.229, 0.224, 0.225)
    with pytest.raises(dataclasses.FrozenInstanceError):
        MIDAS_SMALL.url = "http://example.invalid/x.pt"  # type: ignore[misc]


@pytest.mark.parametrize(
    "change, match",
    [
        ({"download_name": "other.pt"}, "download_name"),
        ({"sha256_prefix": "70D6B9C8"}, "sha256_prefix"),
        ({"sha256_prefix": ""}, "sha256_prefix"),
        ({"input_size": 0}, "input_size"),
        ({"std": (0.2, 0.0, 0.2)}, "std"),
    ],
)
def test_config_rejects_inconsistent_facts(change: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(MIDAS_SMALL, **change)
