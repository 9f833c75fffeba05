"""Evaluate a relative inverse depth prediction against metric ground truth.

The protocol follows MiDaS: the prediction is only defined up to scale and shift, so it is
first aligned to the ground truth in inverse-depth space by least squares, converted to
depth and clamped to a sensible range, and only then compared with the standard metrics:

- AbsRel: ``mean(|d - g| / g)``
- delta_k: fraction of pixels with ``max(d / g, g / d) < 1.25 ** k`` (:data:`DELTA_THRESHOLDS`):
  within a factor 1.25, 1.5625 or about 1.953 of the truth, either way
- RMSE: ``sqrt(mean((d - g) ** 2))`` in metres
- log10: ``mean(|log10(d) - log10(g)|)``

Ground truth uses 0 (or any non-positive or non-finite value) for "no measurement".
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from core.measure.alignment import fit_scale_shift
from core.checks import as_bool_mask, as_float64, is_int, is_real

__all__ = [
    "DELTA_THRESHOLDS",
    "UNIT_TO_METRES",
    "DepthMetrics",
    "depth_metrics",
    "error_map",
    "evaluate",
    "ground_truth_kind",
    "load_ground_truth",
    "resize_to",
]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NPY_MAGIC = b"\x93NUMPY"

#: The ratios of delta1, delta2 and delta3: ``1.25 ** k`` for k = 1, 2, 3.
DELTA_THRESHOLDS: tuple[float, float, float] = (1.25, 1.25**2, 1.25**3)

#: Metres per stored unit: millimetres (depth cameras, NYU Depth v2), 1/256 m (KITTI's
#: 16-bit PNGs), metres (a float array).
UNIT_TO_METRES: dict[str, float] = {"mm": 1e-3, "1/256 m": 1.0 / 256.0, "m": 1.0}


@dataclass(frozen=True)
class DepthMetrics:
    """Standard monocular depth metrics over the valid pixels.

    Attributes:
        abs_rel: mean absolute relative error, ``mean(|d - g| / g)``; 0 is perfect.
        delta1: fraction of pixels with ``max(d/g, g/d) < 1.25``; 1 is perfect.
        delta2: same with threshold ``1.25 ** 2``.
        delta3: same with threshold ``1.25 ** 3``.
        rmse: root mean squared error in metres.
        log10: mean absolute difference of base-10 logarithms.
        n_valid: number of pixels the metrics were computed over.
        scale: fitted scale of the inverse-depth alignment (1.0 if none was fitted).
        shift: fitted shift of the inverse-depth alignment, in 1/metres (0.0 if none).
    """

    abs_rel: float
    delta1: float
    delta2: float
    delta3: float
    rmse: float
    log10: float
    n_valid: int
    scale: float
    shift: float


def ground_truth_kind(data: bytes) -> Literal["png16", "npy"]:
    """What a ground-truth file is, from its first bytes (never from its name).

    Args:
        data: the file's bytes.

    Returns:
        ``"png16"`` for a PNG, ``"npy"`` for a NumPy ``.npy`` file.

    Raises:
        ValueError: the bytes are neither, in words for the person who chose the file.

    Example:
        >>> ground_truth_kind(b"\\x93NUMPY\\x01\\x00")
        'npy'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise ValueError("the file is empty: choose the ground-truth depth map itself.")
    head = bytes(data[:8])
    if head.startswith(_PNG_SIGNATURE):
        return "png16"
    if head.startswith(_NPY_MAGIC):
        return "npy"
    text = head.isascii() and all(32 <= c < 127 or c in b"\t\r\n" for c in head)
    raise ValueError(
        "this file is neither a PNG image nor a NumPy array"
        + (" (it starts like a text file)" if text else "")
        + ", whatever its name says. Save the ground truth as a single-channel 16-bit PNG, "
        "or as a 2-D array with numpy.save (a .npy file)."
    )


def load_ground_truth(
    data: bytes,
    *,
    kind: Literal["png16", "npy", "auto"],
    unit: Literal["mm", "1/256 m", "m"] = "mm",
) -> np.ndarray:
    """Decode a ground-truth depth map to metres.

    Args:
        data: the file's bytes.
        kind: ``"png16"`` for a single-channel 16-bit PNG (as in NYU / KITTI style
            exports), ``"npy"`` for a 2-D NumPy array saved with ``np.save``, ``"auto"``
            to tell them apart by content (:func:`ground_truth_kind`).
        unit: what one stored unit is, a key of :data:`UNIT_TO_METRES`: ``"mm"``,
            ``"1/256 m"`` (KITTI) or ``"m"``.

    Returns:
        HxW float32 depth in metres. Pixels without a measurement (stored as 0, negative or
        non-finite) are 0.

    Raises:
        ValueError: unknown ``kind`` or ``unit``; bytes that are not the expected format; a
            PNG that is not single-channel 16-bit; an array that is not 2-D and real-valued.
    """
    if unit not in UNIT_TO_METRES:
        raise ValueError(f"unit must be one of {sorted(UNIT_TO_METRES)}, got {unit!r}.")
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise ValueError("data must be the non-empty bytes of the ground-truth file.")
    data = bytes(data)
    if kind == "auto":
        kind = ground_truth_kind(data)
    if kind == "png16":
        raw = _decode_png16(data)
    elif kind == "npy":
        raw = _decode_npy(data)
    else:
        raise ValueError(f"kind must be 'png16', 'npy' or 'auto', got {kind!r}.")

    with np.errstate(over="ignore", invalid="ignore"):
        depth = (raw.astype(np.float64) * UNIT_TO_METRES[unit]).astype(np.float32)
    depth[~(np.isfinite(depth) & (depth > 0))] = 0.0
    return depth


def depth_metrics(
    depth: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None
) -> DepthMetrics:
    """Compute the depth metrics directly, without any alignment.

    Args:
        depth: predicted depth in metres, any shape.
        gt: ground-truth depth in metres, same shape.
        mask: bool array of pixels to evaluate. ``None`` uses every pixel where ``gt`` is
            positive and finite. Inside the mask both maps must be positive and finite.

    Returns:
        The metrics, with ``scale=1.0`` and ``shift=0.0``.

    Raises:
        ValueError: shapes differ, the mask is empty, or a masked pixel has a depth that is
            not positive and finite.
        TypeError: an input is not a real numeric array, or ``mask`` is not bool.

    Example:
        >>> d = np.array([[1.0, 2.0], [4.0, 8.0]])
        >>> g = np.array([[1.0, 2.0], [2.0, 8.0]])
        >>> m = depth_metrics(d, g)
        >>> m.abs_rel, m.delta1, m.rmse
        (0.25, 0.75, 1.0)
    """
    d = as_float64(depth, "depth")
    g = as_float64(gt, "gt")
    if d.shape != g.shape:
        raise ValueError(f"depth has shape {d.shape} but gt has shape {g.shape}; they must match.")
    if mask is None:
        valid = np.isfinite(g) & (g > 0)
    else:
        valid = as_bool_mask(mask, g.shape)
    n = int(valid.sum())
    if n == 0:
        raise ValueError("no valid pixels to evaluate: the mask (or the ground truth) is empty.")
    d, g = d[valid], g[valid]
    for name, values in (("depth", d), ("gt", g)):
        bad = int((~(np.isfinite(values) & (values > 0))).sum())
        if bad:
            raise ValueError(
                f"{name} has {bad} pixel(s) inside the mask that are not positive and finite: "
                "leave them out of the mask."
            )

    ratio = np.maximum(d / g, g / d)
    t1, t2, t3 = DELTA_THRESHOLDS
    return DepthMetrics(
        abs_rel=float(np.mean(np.abs(d - g) / g)),
        delta1=float(np.mean(ratio < t1)),
        delta2=float(np.mean(ratio < t2)),
        delta3=float(np.mean(ratio < t3)),
        rmse=float(np.sqrt(np.mean((d - g) ** 2))),
        log10=float(np.mean(np.abs(np.log10(d) - np.log10(g)))),
        n_valid=n,
        scale=1.0,
        shift=0.0,
    )


def evaluate(
    pred: np.ndarray,
    gt_m: np.ndarray,
    *,
    min_depth: float = 1e-3,
    max_depth: float | None = None,
) -> tuple[DepthMetrics, np.ndarray, np.ndarray]:
    """Align a relative inverse depth prediction to ground truth and score it (MiDaS protocol).

    1. Valid pixels are those where ``gt_m`` is positive and finite.
    2. Scale and shift are fitted by least squares between ``pred`` and ``1 / gt_m`` over
       the valid pixels (:func:`core.measure.alignment.fit_scale_shift`).
    3. The aligned inverse depth is converted to depth and clamped to
       ``[min_depth, max_depth]`` (``max_depth`` defaults to the largest ground-truth depth);
       pixels the fit puts at or beyond infinity get ``max_depth``.
    4. The metrics of :func:`depth_metrics` are computed over the valid pixels.

    Args:
        pred: HxW relative inverse depth (larger = nearer), at the ground truth's size; use
            :func:`resize_to` first if it is not.
        gt_m: HxW ground-truth depth in metres, 0 where there is no measurement.
        min_depth: lower clamp for the aligned depth, in metres.
        max_depth: upper clamp in metres; ``None`` uses the largest valid ground-truth depth.

    Returns:
        ``(metrics, aligned_depth_m, valid)``: the metrics (with the fitted scale and shift),
        the HxW float32 aligned depth in metres for every pixel, and the HxW bool mask of
        pixels the metrics were computed over.

    Raises:
        ValueError: shapes differ or are not HxW, ``pred`` is not finite, the clamp range
            is empty, or the ground truth has no valid pixels.
        AlignmentError: the alignment is ill-posed (fewer than 2 valid pixels, or a
            constant prediction over them).
    """
    p = as_float64(pred, "pred")
    g = as_float64(gt_m, "gt_m")
    if p.ndim != 2 or g.ndim != 2:
        raise ValueError(
            f"pred and gt_m must both be HxW arrays, got shapes {p.shape} and {g.shape}."
        )
    if p.shape != g.shape:
        raise ValueError(
            f"pred has shape {p.shape} but gt_m has shape {g.shape}: resize the prediction "
            "first with resize_to(pred, gt_m.shape)."
        )
    if not np.isfinite(p).all():
        raise ValueError("pred contains NaN or inf; pass the model's raw relative inverse depth.")
    if not (is_real(min_depth) and min_depth > 0):
        raise ValueError(f"min_depth must be a positive finite number of metres, got {min_depth}.")

    valid = np.isfinite(g) & (g > 0)
    if not valid.any():
        raise ValueError("gt_m has no valid pixels (all are 0, negative or non-finite).")
    upper = float(g[valid].max()) if max_depth is None else float(max_depth)
    if not (is_real(upper) and upper > min_depth):
        raise ValueError(
            f"the clamp range [min_depth, max_depth] = [{min_depth}, {upper}] is empty: "
            "max_depth must be finite and larger than min_depth."
        )

    target = np.zeros_like(g)  # inverse depth in 1/m; 0 where invalid (masked out)
    np.divide(1.0, g, out=target, where=valid)
    fit = fit_scale_shift(p, target, mask=valid)

    inv = np.clip(fit.apply(p), 1.0 / upper, 1.0 / min_depth)  # HxW float64, > 0
    depth = 1.0 / inv

    metrics = dataclasses.replace(
        depth_metrics(depth, g, valid), scale=fit.scale, shift=fit.shift
    )
    return metrics, depth.astype(np.float32), valid


def error_map(aligned_depth_m: np.ndarray, gt_m: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-pixel absolute relative error ``|d - g| / g``, for display.

    Args:
        aligned_depth_m: HxW depth in metres (e.g. from :func:`evaluate`).
        gt_m: HxW ground-truth depth in metres.
        mask: HxW bool mask of pixels to score; ``gt_m`` must be positive and finite there.

    Returns:
        HxW float32 error, 0 outside the mask.

    Raises:
        ValueError: shapes differ, or ``gt_m`` is not positive and finite inside the mask.
        TypeError: an input is not a real numeric array, or ``mask`` is not bool.

    Example:
        >>> d = np.array([[1.0, 3.0]]); g = np.array([[2.0, 3.0]])
        >>> error_map(d, g, np.array([[True, False]])).tolist()
        [[0.5, 0.0]]
    """
    d = as_float64(aligned_depth_m, "aligned_depth_m")
    g = as_float64(gt_m, "gt_m")
    if d.shape != g.shape or d.ndim != 2:
        raise ValueError(
            f"aligned_depth_m and gt_m must be HxW arrays of the same shape, got {d.shape} "
            f"and {g.shape}."
        )
    valid = as_bool_mask(mask, g.shape)
    if not (np.isfinite(g[valid]) & (g[valid] > 0)).all():
        raise ValueError("gt_m must be positive and finite wherever mask is True.")
    err = np.zeros(g.shape, dtype=np.float32)
    err[valid] = np.abs(d[valid] - g[valid]) / g[valid]
    return err


def resize_to(pred: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize an HxW map to ``shape = (height, width)`` with bilinear interpolation.

    Args:
        pred: HxW map, e.g. relative inverse depth.
        shape: target ``(height, width)``, e.g. ``gt_m.shape``.

    Returns:
        The resized float32 map with the given shape.

    Raises:
        ValueError: ``pred`` is not HxW, or ``shape`` is not two positive integers.
    """
    p = as_float64(pred, "pred")
    if p.ndim != 2 or 0 in p.shape:
        raise ValueError(f"pred must be a non-empty HxW array, got shape {p.shape}.")
    if (
        len(shape) != 2
        or not all(is_int(v) for v in shape)
        or min(shape) <= 0
    ):
        raise ValueError(f"shape must be (height, width) with positive integers, got {shape!r}.")
    height, width = int(shape[0]), int(shape[1])
    # cv2 takes (width, height).
    return cv2.resize(p.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def _decode_png16(data: bytes) -> np.ndarray:
    """Decode bytes that must be a single-channel 16-bit PNG into an HxW uint16 array."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError(
            "this is not a PNG file: its first bytes are not the PNG signature. "
            "A NumPy array saved with numpy.save is read with kind='npy'."
        )
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError("could not decode the PNG: the file may be truncated or corrupt.")
    if img.dtype != np.uint16 or img.ndim != 2:
        raise ValueError(f"expected a single-channel 16-bit PNG, got {_describe_image(img)}.")
    return img


def _decode_npy(data: bytes) -> np.ndarray:
    """Load bytes that must be a ``.npy`` file holding a 2-D real-valued array."""
    if not data.startswith(_NPY_MAGIC):
        raise ValueError(
            "this is not a NumPy .npy file (one written by numpy.save): its first bytes are "
            "not the .npy signature. A 16-bit PNG is read with kind='png16'."
        )
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"could not read the .npy file: {e}") from e
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"expected a real-valued depth array in the .npy, got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(
            f"expected a 2-D (HxW) depth array in the .npy, got shape {arr.shape}."
            + (" Squeeze the single-channel axis before saving." if arr.ndim == 3 else "")
        )
    return arr


def _describe_image(img: np.ndarray) -> str:
    """Describe a decoded image's bit depth and channels, e.g. '8-bit RGB'."""
    bits = f"{img.dtype.itemsize * 8}-bit"
    channels = 1 if img.ndim == 2 else img.shape[2]
    layout = {1: "single-channel", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels}-channel")
    return f"{bits} {layout}"
