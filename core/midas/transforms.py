"""Pre- and post-processing identical to the official MiDaS ``small_transform``.

Official pipeline: ``rgb / 255`` -> resize keeping the aspect ratio so the image fits
inside NxN ("upper_bound"), each side a multiple of 32, with ``cv2.INTER_CUBIC`` ->
ImageNet mean/std -> 1x3xhxw float32. The network output is upsampled back to the
input size with bicubic interpolation (``align_corners=False``).

Speed without changing a number:

- :func:`resize_cubic` reproduces ``cv2.resize(rgb / 255.0, ..., cv2.INTER_CUBIC)`` in
  float64 from only the source pixels the 4x4 cubic kernel touches (4 rows and 4 columns
  per output pixel, clamped at the border as OpenCV clamps), with OpenCV's own float32
  coefficients and summation order. A 12 MP photo never becomes a 288 MB float64 copy,
  and the result equals OpenCV's bit for bit (tests/midas/test_transforms.py checks it).
- :func:`upsample_to` upsamples with ``cv2.resize(..., INTER_CUBIC)`` in float32. It uses
  the same kernel (A = -0.75) and border clamping as torch's bicubic; the two differ
  only in how each computes the source coordinate in float32, about 1e-7 of the
  prediction's range on smooth maps (tests prove it within the reference tolerance on
  every golden case). :func:`upsample` stays the torch reference.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.checks import check_int, is_int
from core.midas.config import MIDAS_SMALL

__all__ = [
    "MAX_SIZE",
    "MIN_SIZE",
    "check_net_size",
    "network_input_size",
    "upscaling_note",
    "preprocess",
    "resize_cubic",
    "upsample",
    "upsample_to",
]

MIN_SIZE = 256
MAX_SIZE = 1024
_MULTIPLE = 32

_CUBIC_A = np.float32(-0.75)  # OpenCV's cubic kernel constant (torch's bicubic uses it too)
_MAX_GATHERED_VALUES = 8_000_000  # float64 taps resize_cubic gathers at most; beyond, OpenCV is faster
_MEAN = np.asarray(MIDAS_SMALL.mean, dtype=np.float64)
_STD = np.asarray(MIDAS_SMALL.std, dtype=np.float64)


def check_net_size(size: int, min_size: int = MIN_SIZE) -> int:
    """Validate the network size N: ``min_size`` (256 for photos; the live camera goes lower) to 1024, step 32."""
    check_int(size, "size")
    if not (min_size <= size <= MAX_SIZE) or size % _MULTIPLE:
        raise ValueError(f"size must be {min_size}-{MAX_SIZE} in steps of {_MULTIPLE}, got {size}")
    return int(size)


def _constrain_to_multiple(x: float, max_val: int) -> int:
    # The official rounding: nearest multiple of 32, or the one below if that exceeds max_val.
    y = int(np.round(x / _MULTIPLE) * _MULTIPLE)
    if y > max_val:
        y = int(np.floor(x / _MULTIPLE) * _MULTIPLE)
    # Where the official rounding gives 0 (extreme panoramas) use 32 rather than crash.
    return max(y, _MULTIPLE)


def network_input_size(
    height: int, width: int, size: int = MIDAS_SMALL.input_size, *, min_size: int = MIN_SIZE
) -> tuple[int, int]:
    """The (h, w) the network sees for an image of ``height`` x ``width`` pixels (N from ``min_size``).

    Example:
        >>> network_input_size(480, 640)
        (192, 256)
        >>> network_input_size(250, 1000)
        (64, 256)
    """
    size = check_net_size(size, min_size)
    if height < 1 or width < 1:
        raise ValueError(f"image must be at least 1x1, got {height}x{width}")
    scale = min(size / height, size / width)  # upper_bound: fit inside size x size
    return _constrain_to_multiple(scale * height, size), _constrain_to_multiple(scale * width, size)


def upscaling_note(height: int, width: int, size: int = MIDAS_SMALL.input_size) -> str | None:
    """Say so when an image is smaller than its network input, which enlarges it; else None.

    Example:
        >>> upscaling_note(20, 20)
        'at 20×20 px it was enlarged 12.8× to the 256×256 network input, so the depth map has no detail finer than the photo'
        >>> upscaling_note(480, 640) is None
        True
    """
    net_h, net_w = network_input_size(height, width, size)
    if net_h <= height and net_w <= width:
        return None
    factor = max(net_h / height, net_w / width)
    return (
        f"at {width}×{height} px it was enlarged {factor:.1f}× to the {net_w}×{net_h} network input, "
        "so the depth map has no detail finer than the photo"
    )


def _check_rgb(rgb: object) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        desc = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {desc}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"expected an image of at least 1x1 pixels, got shape {rgb.shape}")
    return rgb


def _cubic_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights of OpenCV's INTER_CUBIC resize along one axis.

    Mirrors ``cv::resize`` (imgproc/src/resize.cpp): ``fx = (float)((dx + 0.5) * scale - 0.5)``
    with ``scale = 1 / (dst / src)`` in double, ``sx = floor(fx)``, the four
    ``interpolateCubic`` coefficients in float32, and indices ``sx - 1 .. sx + 2``
    clamped to the image (OpenCV's border rule for resize).

    Returns:
        dstx4 int64 source indices and dstx4 float64 weights (float32 values).
    """
    scale = 1.0 / (dst / src)
    fx = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    sx = np.floor(fx)
    x = fx - sx  # float32 fraction in [0, 1)
    one, a = np.float32(1.0), _CUBIC_A
    x1, x2 = x + one, one - x
    c0 = ((a * x1 - np.float32(5.0) * a) * x1 + np.float32(8.0) * a) * x1 - np.float32(4.0) * a
    c1 = ((a + np.float32(2.0)) * x - (a + np.float32(3.0))) * x * x + one
    c2 = ((a + np.float32(2.0)) * x2 - (a + np.float32(3.0))) * x2 * x2 + one
    c3 = one - c0 - c1 - c2
    weights = np.stack([c0, c1, c2, c3], axis=1).astype(np.float64)  # dstx4
    index = np.clip(sx.astype(np.int64)[:, None] + np.arange(-1, 3), 0, src - 1)  # dstx4
    return index, weights


def resize_cubic(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """``cv2.resize(rgb / 255.0, (width, height), interpolation=cv2.INTER_CUBIC)``, without the big copy.

    When shrinking a large image, only the source rows and columns the cubic kernel
    touches are read and converted to float64, and the two passes (horizontal, then
    vertical, as OpenCV runs them) use OpenCV's float32 coefficients in its summation
    order, so the result is the same float64 array. A 4000x3000 photo resized to 256x192
    reads 768 of its rows and 1024 of its columns. When the kernel's footprint is a large
    part of the image, OpenCV itself is called: it is then the cheaper way.

    Args:
        rgb: HxWx3 uint8 RGB image.
        height: output h.
        width: output w.

    Returns:
        hxwx3 float64, nominally in [0, 1] (bicubic overshoots slightly at sharp edges).

    Example:
        >>> rgb = np.random.default_rng(0).integers(0, 256, (1301, 1407, 3), dtype=np.uint8)
        >>> np.array_equal(resize_cubic(rgb, 96, 128),
        ...                cv2.resize(rgb / 255.0, (128, 96), interpolation=cv2.INTER_CUBIC))
        True
    """
    rgb = _check_rgb(rgb)
    for name, value in (("height", height), ("width", width)):
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    height, width = int(height), int(width)
    src_h, src_w = rgb.shape[:2]
    row_idx, row_w = _cubic_taps(src_h, height)  # hx4
    rows, row_of = np.unique(row_idx, return_inverse=True)  # the R <= 4h source rows read
    footprint = len(rows) * 4 * width  # source pixels the gathered taps hold
    # Measured: gathering wins when it reads under a third of the image and its float64 taps
    # stay small (<= 8M values); otherwise OpenCV's own pass over the whole image is faster.
    if 3 * footprint > src_h * src_w or 3 * footprint > _MAX_GATHERED_VALUES:
        return cv2.resize(rgb / 255.0, (width, height), interpolation=cv2.INTER_CUBIC)  # HxWx3 -> hxwx3 float64
    col_idx, col_w = _cubic_taps(src_w, width)  # wx4
    strip = rgb[rows]  # HxWx3 uint8 -> RxWx3 uint8
    taps = np.take(strip, col_idx.T.ravel(), axis=1).reshape(len(rows), 4, width * 3)  # Rx4x(w*3) uint8, tap-major
    taps = taps.astype(np.float64)
    taps /= 255.0  # == rgb / 255.0 on the pixels read
    col_w = np.repeat(col_w, 3, axis=0)  # (w*3)x4: one weight per channel value, for long inner loops
    # horizontal pass, summed left to right as OpenCV does: ((t0*a0 + t1*a1) + t2*a2) + t3*a3
    horizontal = taps[:, 0] * col_w[:, 0]  # Rx(w*3)
    for k in range(1, 4):
        horizontal += taps[:, k] * col_w[:, k]
    # vertical pass over the four source rows of each output row, in the same order
    row_of = row_of.reshape(height, 4)
    out = horizontal[row_of[:, 0]] * row_w[:, 0, None]  # hx(w*3)
    for k in range(1, 4):
        out += horizontal[row_of[:, k]] * row_w[:, k, None]
    return out.reshape(height, width, 3)


def preprocess(rgb: np.ndarray, size: int = MIDAS_SMALL.input_size, *, min_size: int = MIN_SIZE) -> torch.Tensor:
    """Turn an RGB image into the network input, exactly as ``small_transform`` does.

    Args:
        rgb: HxWx3 uint8 RGB image.
        size: network size N (``min_size``-1024, step 32).
        min_size: the smallest N accepted: 256 for photos, lower for the live camera's speed.

    Returns:
        1x3xhxw float32 tensor, h and w multiples of 32, ImageNet-normalised.
    """
    rgb = _check_rgb(rgb)
    h, w = network_input_size(rgb.shape[0], rgb.shape[1], size, min_size=min_size)
    # float64 as upstream (img / 255.0): cv2's float32 cubic resize differs by up to ~2e-5.
    img = resize_cubic(rgb, h, w)  # HxWx3 uint8 -> hxwx3 float64
    img = (img - _MEAN) / _STD
    img = img.transpose(2, 0, 1).astype(np.float32)  # hxwx3 float64 -> 3xhxw float32
    return torch.from_numpy(img)[None]  # 3xhxw -> 1x3xhxw


def _prediction_array(prediction: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(prediction, torch.Tensor):
        prediction = prediction.detach().cpu().numpy()
    if not isinstance(prediction, np.ndarray):
        raise TypeError(f"prediction must be a numpy array or torch tensor, got {type(prediction).__name__}")
    if prediction.ndim == 3 and prediction.shape[0] == 1:
        prediction = prediction[0]
    if prediction.ndim != 2 or prediction.size == 0:
        raise ValueError(f"expected an hxw (or 1xhxw) prediction, got shape {prediction.shape}")
    return np.ascontiguousarray(prediction, dtype=np.float32)


def _check_target(height: int, width: int) -> tuple[int, int]:
    for name, value in (("height", height), ("width", width)):
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(height), int(width)


def upsample(prediction: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Upsample a raw hxw prediction to HxW with torch bicubic (``align_corners=False``).

    The reference implementation, as the official examples do it. :func:`upsample_to`
    gives the same map within the reference tolerance, several times faster.

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


def upsample_to(prediction: torch.Tensor | np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a raw hxw prediction to any HxW with OpenCV's bicubic, the fast :func:`upsample`.

    Use it for the full-resolution map and for display-sized maps alike: both sample the
    same bicubic surface. It agrees with :func:`upsample` within about 1e-7 of the
    prediction's range on smooth maps (at most ~3e-5 on pixel noise), far inside the
    reference tolerance of 1e-3.

    Args:
        prediction: hxw (or 1xhxw) float32 network output, array or tensor.
        height: target H.
        width: target W.

    Returns:
        HxW float32 array (a new array).

    Example:
        >>> upsample_to(np.ones((2, 2), np.float32), 3, 5).shape
        (3, 5)
    """
    pred = _prediction_array(prediction)
    height, width = _check_target(height, width)
    if pred.shape == (height, width):
        return pred.copy()
    return cv2.resize(pred, (width, height), interpolation=cv2.INTER_CUBIC)  # hxw -> HxW float32
