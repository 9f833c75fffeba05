"""Pre- and post-processing identical to the official MiDaS ``small_transform``.

Official pipeline: ``rgb / 255`` -> resize keeping the aspect ratio so the image fits
inside NxN ("upper_bound"), each side a multiple of 32, with ``cv2.INTER_CUBIC`` ->
ImageNet mean/std -> 1x3xhxw float32. The network output is upsampled back to the
input size with bicubic interpolation (``align_corners=False``).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.weights import MIDAS_SMALL

__all__ = ["MAX_SIZE", "MIN_SIZE", "check_net_size", "network_input_size", "preprocess", "upsample"]

MIN_SIZE = 256
MAX_SIZE = 1024
_MULTIPLE = 32


def check_net_size(size: int) -> int:
    """Validate the network size N: 256-1024 in steps of 32."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an int, got {type(size).__name__}")
    if not (MIN_SIZE <= size <= MAX_SIZE) or size % _MULTIPLE:
        raise ValueError(f"size must be {MIN_SIZE}-{MAX_SIZE} in steps of {_MULTIPLE}, got {size}")
    return int(size)


def _constrain_to_multiple(x: float, max_val: int) -> int:
    # The official rounding: nearest multiple of 32, or the one below if that exceeds max_val.
    y = int(np.round(x / _MULTIPLE) * _MULTIPLE)
    if y > max_val:
        y = int(np.floor(x / _MULTIPLE) * _MULTIPLE)
    # Where the official rounding gives 0 (extreme panoramas) use 32 rather than crash.
    return max(y, _MULTIPLE)


def network_input_size(height: int, width: int, size: int = MIDAS_SMALL.input_size) -> tuple[int, int]:
    """The (h, w) the network sees for an image of ``height`` x ``width`` pixels.

    Example:
        >>> network_input_size(480, 640)
        (192, 256)
        >>> network_input_size(250, 1000)
        (64, 256)
    """
    size = check_net_size(size)
    if height < 1 or width < 1:
        raise ValueError(f"image must be at least 1x1, got {height}x{width}")
    scale = min(size / height, size / width)  # upper_bound: fit inside size x size
    return _constrain_to_multiple(scale * height, size), _constrain_to_multiple(scale * width, size)


def preprocess(rgb: np.ndarray, size: int = MIDAS_SMALL.input_size) -> torch.Tensor:
    """Turn an RGB image into the network input, exactly as ``small_transform`` does.

    Args:
        rgb: HxWx3 uint8 RGB image.
        size: network size N (256-1024, step 32).

    Returns:
        1x3xhxw float32 tensor, h and w multiples of 32, ImageNet-normalised.
    """
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        desc = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {desc}")
    h, w = network_input_size(rgb.shape[0], rgb.shape[1], size)
    # float64 as upstream (img / 255.0): cv2's float32 cubic resize differs by up to ~2e-5.
    img = cv2.resize(rgb / 255.0, (w, h), interpolation=cv2.INTER_CUBIC)  # HxWx3 uint8 -> hxwx3 float64
    img = (img - np.asarray(MIDAS_SMALL.mean)) / np.asarray(MIDAS_SMALL.std)
    img = img.transpose(2, 0, 1).astype(np.float32)  # hxwx3 float64 -> 3xhxw float32
    return torch.from_numpy(img)[None]  # 3xhxw -> 1x3xhxw


def upsample(prediction: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Upsample a raw hxw prediction to HxW with bicubic interpolation (``align_corners=False``).

    Args:
        prediction: hxw (or 1xhxw) float32 network output.
        height: target H.
        width: target W.

    Returns:
        HxW float32 array.
    """
    if prediction.ndim == 3:
        prediction = prediction[0]
    if prediction.ndim != 2:
        raise ValueError(f"expected an hxw prediction, got shape {tuple(prediction.shape)}")
    out = F.interpolate(prediction[None, None], size=(height, width), mode="bicubic", align_corners=False)
    return out[0, 0].numpy()  # 1x1xHxW -> HxW
