"""The MiDaS pipeline stage by stage, with the lines of this library that produce each stage.

The "How it works" page shows, for the current photo, every array between the file and the
colour heatmap: its shape, dtype and value range, and the one to three lines of ``core``
that compute it. Those lines are data here (:attr:`Stage.code`), so a test can run them
in order and check that they give the arrays the page shows.

Example:
    >>> from core.teaching.pipeline_stages import network_resize
    >>> network_resize(np.zeros((480, 640, 3), np.uint8), size=256).shape
    (192, 256, 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import is_int
from core.maps.colormaps import colorize
from core.maps.normalize import normalize
from core.midas.predictor import Prediction
from core.midas.transforms import check_net_size, preprocess
from core.midas.config import MIDAS_SMALL

__all__ = [
    "ArraySummary",
    "ChannelHistograms",
    "Stage",
    "channel_histograms",
    "network_resize",
    "summarize",
    "walkthrough",
]

_MEAN = np.asarray(MIDAS_SMALL.mean, dtype=np.float32)
_STD = np.asarray(MIDAS_SMALL.std, dtype=np.float32)


@dataclass(frozen=True)
class ArraySummary:
    """What the page prints next to an array.

    Attributes:
        shape: the array's shape.
        dtype: its dtype name, e.g. ``"float32"``.
        lo: smallest finite value (0.0 when there is none).
        hi: largest finite value (0.0 when there is none).
        nonfinite: number of NaN or infinite values.
    """

    shape: tuple[int, ...]
    dtype: str
    lo: float
    hi: float
    nonfinite: int = 0

    def __str__(self) -> str:
        dims = "×".join(str(d) for d in self.shape)
        text = f"{dims} {self.dtype}, values {_fmt(self.lo)} … {_fmt(self.hi)}"
        return text + (f", {self.nonfinite} non-finite" if self.nonfinite else "")


def summarize(array: np.ndarray) -> ArraySummary:
    """Shape, dtype and finite value range of an array (NumPy or anything ``np.asarray`` takes).

    Args:
        array: any real numeric array, e.g. a stage of the pipeline.

    Returns:
        The summary.

    Raises:
        TypeError: ``array`` is not real numeric.

    Example:
        >>> str(summarize(np.array([[0, 255]], np.uint8)))
        '1×2 uint8, values 0 … 255'
    """
    arr = np.asarray(array)
    if arr.dtype == bool or arr.dtype.kind not in "fiu":
        raise TypeError(f"array must be real numeric, got dtype {arr.dtype}")
    finite = np.isfinite(arr) if arr.dtype.kind == "f" else None
    nonfinite = 0 if finite is None else int(arr.size - np.count_nonzero(finite))
    values = arr if finite is None or nonfinite == 0 else arr[finite]
    if values.size == 0:
        lo = hi = 0.0
    else:
        lo, hi = float(values.min()), float(values.max())
    return ArraySummary(tuple(int(d) for d in arr.shape), str(arr.dtype), lo, hi, nonfinite)


def network_resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """The photo as the network sees it, before the ImageNet normalisation.

    :func:`core.midas.transforms.preprocess` scales to [0, 1], resizes with bicubic interpolation
    so the image fits inside ``size`` x ``size`` with both sides multiples of 32, then
    normalises. This runs ``preprocess`` and undoes only the normalisation, so the picture
    is exactly what the network received (up to float32 rounding), at its real size.

    Args:
        rgb: HxWx3 uint8 RGB image.
        size: network size N (256-1024, step 32).

    Returns:
        hxwx3 float32, nominally in [0, 1]; bicubic interpolation can overshoot slightly
        at sharp edges.

    Raises:
        ValueError: ``rgb`` is not HxWx3 uint8, or ``size`` is not a valid network size.
    """
    x = preprocess(rgb, check_net_size(size))[0].numpy()  # HxWx3 uint8 -> 3xhxw float32
    img = x.transpose(1, 2, 0) * _STD + _MEAN  # 3xhxw -> hxwx3, normalisation undone
    return img.astype(np.float32)


@dataclass(frozen=True, eq=False)
class ChannelHistograms:
    """Histograms of the three channels of the network input over shared bins.

    Attributes:
        edges: ``bins + 1`` float64 bin edges from the tensor's min to its max.
        counts: 3 x bins int64 counts, channels in R, G, B order.
        means: the three channel means.
        stds: the three channel standard deviations.
    """

    edges: np.ndarray
    counts: np.ndarray
    means: tuple[float, float, float]
    stds: tuple[float, float, float]


def channel_histograms(net_input: np.ndarray, bins: int = 64) -> ChannelHistograms:
    """Per-channel histograms of the normalised 1x3xhxw network input.

    After ImageNet normalisation each channel of a typical photo is centred near 0 with a
    spread near 1; a constant or very dark photo shows up as a spike far from 0.

    Args:
        net_input: 1x3xhxw (or 3xhxw) float array, e.g. ``Prediction.net_input``.
        bins: number of bins, >= 1.

    Returns:
        The counts, the shared edges and each channel's mean and standard deviation.

    Raises:
        ValueError: wrong shape, non-finite values or ``bins < 1``.

    Example:
        >>> h = channel_histograms(np.zeros((1, 3, 2, 2), np.float32), bins=2)
        >>> h.counts.tolist(), h.means
        ([[4, 0], [4, 0], [4, 0]], (0.0, 0.0, 0.0))
    """
    x = np.asarray(net_input)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]  # 1x3xhxw -> 3xhxw
    if x.ndim != 3 or x.shape[0] != 3 or x.dtype.kind != "f":
        raise ValueError(f"net_input must be a 1x3xhxw float array, got {x.dtype} {np.asarray(net_input).shape}")
    if not np.isfinite(x).all():
        raise ValueError("net_input contains NaN or inf")
    if not is_int(bins) or bins < 1:
        raise ValueError(f"bins must be an int >= 1, got {bins!r}")
    lo, hi = float(x.min()), float(x.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, int(bins) + 1)
    counts = np.stack([np.histogram(x[c], bins=edges)[0] for c in range(3)]).astype(np.int64)  # 3 x bins
    means = tuple(float(x[c].mean(dtype=np.float64)) for c in range(3))
    stds = tuple(float(x[c].std(dtype=np.float64)) for c in range(3))
    return ChannelHistograms(edges=edges, counts=counts, means=means, stds=stds)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class Stage:
    """One step of the pipeline as the page shows it.

    Attributes:
        key: short identifier, e.g. ``"raw"``.
        title: heading on the page.
        variable: the name :attr:`code` assigns the stage's array to.
        code: the lines of ``core`` that compute the array from the earlier stages' names
            (run them in order, in one namespace, from ``rgb`` read off ``photo.jpg``).
        note: one or two sentences on what happens at this stage.
        array: the stage's array for the current photo.
        summary: its shape, dtype and value range.
    """

    key: str
    title: str
    variable: str
    code: str
    note: str
    array: np.ndarray
    summary: ArraySummary


def walkthrough(rgb: np.ndarray, prediction: Prediction, size: int, cmap: str = "inferno") -> list[Stage]:
    """Every stage from the decoded photo to the colour heatmap, for one prediction.

    The network stages are taken from ``prediction`` (so a cached prediction is shown
    as is); the cheap ones (resize, normalise, colourise) are recomputed.

    Args:
        rgb: HxWx3 uint8 RGB photo the prediction was made from.
        prediction: the result of ``Predictor.run(rgb)``.
        size: the predictor's network size N.
        cmap: colormap of the heatmap stage.

    Returns:
        Seven stages: input, resized, tensor, raw, upsampled, normalised, heatmap.

    Raises:
        ValueError: ``prediction`` does not belong to ``rgb`` at network size ``size``.
    """
    resized = network_resize(rgb, size)  # HxWx3 uint8 -> hxwx3 float32
    net_input = np.asarray(prediction.net_input)  # 1x3xhxw float32
    if net_input.shape[2:] != resized.shape[:2] or prediction.depth.shape != rgb.shape[:2]:
        raise ValueError(
            f"prediction (input {net_input.shape}, depth {prediction.depth.shape}) was not made from this "
            f"{rgb.shape[0]}x{rgb.shape[1]} photo at network size {size}"
        )
    norm = normalize(prediction.depth)  # HxW float32 in [0, 1]
    heat = colorize(prediction.depth, cmap)  # HxWx3 uint8
    h, w = resized.shape[:2]
    height, width = rgb.shape[:2]
    rows = [
        (
            "input",
            "1. The photo",
            "rgb",
            'from core.io.images import read_image\nrgb = read_image("photo.jpg")  # HxWx3 uint8 RGB',
            "Decoded as a photo viewer shows it (EXIF rotation applied, transparency on white).",
            rgb,
        ),
        (
            "resized",
            f"2. Resized for the network: h×w = {h}×{w}",
            "resized",
            "from core.teaching.pipeline_stages import network_resize\n"
            f"resized = network_resize(rgb, size={size})  # HxWx3 uint8 -> hxwx3 float32 in [0, 1]",
            f"Scaled to [0, 1], then resized with bicubic interpolation to fit inside {size}×{size} "
            f"(N = {size}) keeping the aspect ratio, each side a multiple of 32: {height}×{width} → {h}×{w}.",
            resized,
        ),
        (
            "tensor",
            "3. Normalised tensor",
            "x",
            "from core.midas.transforms import preprocess\n"
            f"x = preprocess(rgb, size={size})  # -> 1x3xhxw float32 torch tensor",
            "Each channel minus the ImageNet mean, divided by the ImageNet std, reordered to "
            "channels-first with a batch axis: what the network was trained on.",
            net_input,
        ),
        (
            "raw",
            "4. Raw network output",
            "net",
            "from core.midas.predictor import load_predictor\n"
            f"predictor = load_predictor(size={size})\n"
            "net = predictor.network_output(x)  # 1x3xhxw -> hxw float32 tensor",
            "Relative inverse depth at the network's resolution: larger = nearer, unitless, "
            "defined only up to an unknown scale and shift.",
            np.asarray(prediction.net_output),
        ),
        (
            "upsampled",
            f"5. Upsampled to the photo's size: H×W = {height}×{width}",
            "depth",
            "from core.midas.transforms import upsample_to\n"
            "depth = upsample_to(net, rgb.shape[0], rgb.shape[1])  # hxw -> HxW float32",
            "Bicubic interpolation back to the photo's pixels, as the predictor does it. Still relative "
            "inverse depth: the values can even overshoot the raw range's ends at sharp edges.",
            prediction.depth,
        ),
        (
            "normalised",
            "6. Min–max normalised",
            "norm",
            "from core.maps.normalize import normalize\nnorm = normalize(depth)  # HxW float32 in [0, 1], near = 1",
            "(value − min) / (max − min): the unknown scale and shift cancel out, which is why "
            "every MiDaS picture looks plausible whatever the units. A constant map gives zeros, never NaN.",
            norm,
        ),
        (
            "heatmap",
            "7. Colour heatmap",
            "heat",
            f'from core.maps.colormaps import colorize\nheat = colorize(depth, "{cmap}")  # HxWx3 uint8 RGB, near = bright',
            f"The normalised map looked up in the {cmap} colormap's 256 colours: near is drawn with "
            "the bright end.",
            heat,
        ),
    ]
    return [
        Stage(key=key, title=title, variable=var, code=code, note=note, array=arr, summary=summarize(arr))
        for key, title, var, code, note, arr in rows
    ]


def _fmt(value: float) -> str:
    """A compact number for the page: 4 significant digits, no exponent for everyday sizes."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return f"{value:.3e}"
