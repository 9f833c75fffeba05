"""The facts about the pretrained weights, in one frozen config (as timm's ``_cfg``).

:data:`MIDAS_SMALL` holds the URL, file names, SHA-256 prefix, input size, mean/std and
interpolation of MiDaS v2.1 small; no caller hard-codes them.
"""

from __future__ import annotations

import dataclasses
import re

__all__ = ["MIDAS_SMALL", "WeightsConfig"]

_ENV_VAR = "MIDAS_WEIGHTS"  # names a weights file that overrides the search
_HEX = re.compile(r"[0-9a-f]{1,64}")


def _check_sha256_prefix(prefix: str) -> None:
    if not isinstance(prefix, str) or not _HEX.fullmatch(prefix):
        raise ValueError(f"sha256_prefix must be 1 to 64 lowercase hex digits, got {prefix!r}.")


@dataclasses.dataclass(frozen=True)
class WeightsConfig:
    """Everything the project knows about one set of pretrained weights.

    Attributes:
        name: Human-readable name used in messages.
        url: Where the official file is downloaded from.
        file_names: Official file names, looked up in the torch hub checkpoint folder in order.
        download_name: Name the downloaded file is stored under; one of ``file_names``.
        sha256_prefix: Leading hex digits of the file's SHA-256 (torch hub convention).
        input_size: Side of the square network input, in pixels.
        mean: Per-channel RGB mean used to normalise inputs in [0, 1].
        std: Per-channel RGB standard deviation used to normalise inputs in [0, 1].
        interpolation: Resampling used to resize the input.
    """

    name: str
    url: str
    file_names: tuple[str, ...]
    download_name: str
    sha256_prefix: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str

    def __post_init__(self) -> None:
        if self.download_name not in self.file_names:
            raise ValueError(
                f"download_name {self.download_name!r} must be one of file_names "
                f"{self.file_names!r}, or a downloaded file would never be found in the cache."
            )
        _check_sha256_prefix(self.sha256_prefix)
        if self.input_size <= 0:
            raise ValueError(
                f"input_size must be a positive number of pixels, got {self.input_size}."
            )
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(
                f"mean and std must hold 3 values with std > 0, "
                f"got mean={self.mean}, std={self.std}."
            )


MIDAS_SMALL = WeightsConfig(
    name="MiDaS v2.1 small",
    url="https://github.com/isl-org/MiDaS/releases/download/v2_1/model-small-70d6b9c8.pt",
    file_names=("midas_v21_small_256.pt", "model-small-70d6b9c8.pt"),
    download_name="model-small-70d6b9c8.pt",
    sha256_prefix="70d6b9c8",
    input_size=256,
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    interpolation="bicubic",
)
