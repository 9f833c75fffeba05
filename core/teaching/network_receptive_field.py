"""Which input pixels an output pixel of MiDaS small can see, in theory and in fact.

Two answers to "how can the network know depth from context far away?":

- the **theoretical** receptive field: how far apart two input pixels can be and still both
  reach one output pixel, from the kernels and strides alone (:func:`receptive_field_size`,
  walked along the network's deepest path by :func:`midas_deepest_path`);
- the **effective** one: the gradient of one output value with respect to every input value
  (:func:`input_gradient`, one backward pass), which says how much each input pixel actually
  moves that output for this photo.

Example:
    >>> receptive_field_size([ConvLayer(3), ConvLayer(3, stride=2), ConvLayer(3)])
    7
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from core.checks import check_int, check_real
from core.maps.colormaps import colorize

__all__ = [
    "ConvLayer",
    "effective_radius",
    "heat_overlay",
    "influence_map",
    "input_gradient",
    "midas_deepest_path",
    "photo_to_network",
    "receptive_field_size",
]


@dataclass(frozen=True)
class ConvLayer:
    """One step of a path through a network, for receptive-field arithmetic.

    Attributes:
        kernel: kernel size (square), >= 1.
        stride: stride, >= 1.
        dilation: dilation, >= 1.
        upsample: 1 for a convolution; 2 for a bilinear x2 upsampling, which reads 2 input
            samples per axis (``kernel`` must then be 2) and halves the step between samples.
        name: where the layer sits in the model (for the page's list).
    """

    kernel: int
    stride: int = 1
    dilation: int = 1
    upsample: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        for field in ("kernel", "stride", "dilation", "upsample"):
            check_int(getattr(self, field), field, low=1)
        if self.upsample > 1 and (self.kernel != 2 or self.stride != 1):
            raise ValueError(f"a x{self.upsample} bilinear upsampling reads 2 samples per axis: use kernel=2, stride=1")


def receptive_field_size(layers: Sequence[ConvLayer]) -> int:
    """Side of the theoretical receptive field, in input pixels, of one output of a layer stack.

    The usual recurrence: ``r += (k - 1) * d * j`` then ``j *= s`` for a convolution, where
    ``j`` is the step between neighbouring samples in input pixels; an upsampling by ``u``
    adds ``(k - 1) * j`` and divides ``j`` by ``u``. Padding changes where the field sits,
    not its size, so it is ignored.

    Args:
        layers: the path from the input to the output, in order.

    Returns:
        The side length (the field is square for square kernels).

    Raises:
        TypeError: an item is not a :class:`ConvLayer`.

    Example:
        >>> receptive_field_size([ConvLayer(3, stride=2), ConvLayer(3, stride=2), ConvLayer(3)])
        15
    """
    r, j = 1.0, 1.0
    for layer in layers:
        if not isinstance(layer, ConvLayer):
            raise TypeError(f"layers must be ConvLayer items, got {type(layer).__name__}")
        r += (layer.kernel - 1) * layer.dilation * j
        j = j * layer.stride / layer.upsample
    return int(round(r))


def _convs(module: nn.Module, prefix: str) -> list[ConvLayer]:
    """The convolutions of ``module`` in registration order (= forward order in timm's blocks)."""
    layers = []
    for name, sub in module.named_modules():
        if isinstance(sub, nn.Conv2d):
            if sub.kernel_size[0] != sub.kernel_size[1] or sub.stride[0] != sub.stride[1]:
                raise ValueError(f"{prefix}.{name}: only square kernels and strides are supported")
            layers.append(ConvLayer(sub.kernel_size[0], sub.stride[0], sub.dilation[0], name=f"{prefix}.{name}".rstrip(".")))
    return layers


def midas_deepest_path(model: nn.Module) -> list[ConvLayer]:
    """The longest path through MiDaS small, read from the model's own modules.

    Input -> the four encoder stages -> the 3x3 projection of stage 4 -> fusion blocks 4 to 1
    (each: the residual unit on the path, bilinear x2, a 1x1 projection) -> the output head.
    The skip connections are shorter paths, so they add nothing to the field's size; timm's
    EfficientNet-Lite blocks have no squeeze-and-excitation (no global pooling).

    Args:
        model: a :class:`core.midas.model.MidasSmall`.

    Returns:
        The layers in order.

    Raises:
        TypeError: ``model`` has no ``pretrained`` and ``scratch`` parts.
    """
    if not (hasattr(model, "pretrained") and hasattr(model, "scratch")):
        raise TypeError(f"expected a MidasSmall, got {type(model).__name__}")
    up = ConvLayer(2, upsample=2, name="bilinear x2")
    path: list[ConvLayer] = []
    for i in range(1, 5):
        path += _convs(getattr(model.pretrained, f"layer{i}"), f"pretrained.layer{i}")
    path += _convs(model.scratch.layer4_rn, "scratch.layer4_rn")
    for i in (4, 3, 2, 1):
        block = getattr(model.scratch, f"refinenet{i}")
        path += _convs(block.resConfUnit2, f"scratch.refinenet{i}.resConfUnit2")
        path.append(up)
        path += _convs(block.out_conv, f"scratch.refinenet{i}.out_conv")
    head = model.scratch.output_conv
    for name, sub in head.named_children():
        if isinstance(sub, nn.Conv2d):
            path += _convs(sub, f"scratch.output_conv.{name}")
        elif type(sub).__name__ == "_Upsample2x":
            path.append(up)
    return path


def input_gradient(model: nn.Module, net_input: np.ndarray | torch.Tensor, y: int, x: int) -> np.ndarray:
    """d output[y, x] / d input: one backward pass through ``model``.

    Runs in the dtype of ``net_input`` (the model must have the same dtype); the model's own
    parameters are not asked for gradients, only the input.

    Args:
        model: maps 1x3xhxw to 1xhxw, e.g. a private copy of MiDaS small (never a shared one:
            this runs a forward pass with autograd on it).
        net_input: 1x3xhxw float array, the normalised network input.
        y: output row, 0 <= y < h.
        x: output column, 0 <= x < w.

    Returns:
        1x3xhxw array of the input's dtype.

    Raises:
        ValueError: wrong input shape, or (y, x) outside the output.
    """
    t = torch.as_tensor(net_input)
    if t.ndim != 4 or t.shape[:2] != (1, 3) or not t.is_floating_point():
        raise ValueError(f"net_input must be a 1x3xhxw float array, got {tuple(t.shape)} {t.dtype}")
    h, w = int(t.shape[2]), int(t.shape[3])
    check_int(y, "y", low=0, high=h - 1, hint="a row of the network output")
    check_int(x, "x", low=0, high=w - 1, hint="a column of the network output")
    with torch.inference_mode(False), torch.enable_grad():
        leaf = t.detach().clone().requires_grad_(True)
        out = model(leaf)  # 1x3xhxw -> 1xhxw
        out[0, int(y), int(x)].backward()
    return leaf.grad.numpy()


def influence_map(gradient: np.ndarray) -> np.ndarray:
    """How strongly each input pixel moves the output: ``sum over channels of |gradient|``.

    Args:
        gradient: 1x3xhxw (or 3xhxw) array from :func:`input_gradient`.

    Returns:
        hxw float32, >= 0.

    Example:
        >>> influence_map(np.array([[[[1.0]], [[-2.0]], [[0.5]]]])).tolist()
        [[3.5]]
    """
    g = np.asarray(gradient)
    if g.ndim == 4 and g.shape[0] == 1:
        g = g[0]
    if g.ndim != 3 or g.shape[0] != 3 or g.dtype.kind != "f":
        raise ValueError(f"gradient must be a 1x3xhxw float array, got {np.asarray(gradient).shape}")
    return np.abs(g).sum(axis=0, dtype=np.float64).astype(np.float32)  # 3xhxw -> hxw


def effective_radius(influence: np.ndarray, y: int, x: int, mass: float = 0.9) -> int:
    """Half-side of the smallest square around (y, x) that holds ``mass`` of the total influence.

    Args:
        influence: hxw non-negative map from :func:`influence_map`.
        y: centre row.
        x: centre column.
        mass: fraction in (0, 1].

    Returns:
        The radius in pixels (0: the pixel alone). With no influence at all, 0.

    Example:
        >>> effective_radius(np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], float), 1, 1, mass=0.5)
        0
    """
    inf = np.asarray(influence, dtype=np.float64)
    if inf.ndim != 2 or not np.isfinite(inf).all() or (inf < 0).any():
        raise ValueError(f"influence must be a finite, non-negative hxw map, got shape {inf.shape}")
    check_int(y, "y", low=0, high=inf.shape[0] - 1)
    check_int(x, "x", low=0, high=inf.shape[1] - 1)
    check_real(mass, "mass", low=0.0, high=1.0)
    total = inf.sum()
    if total <= 0 or mass <= 0:
        return 0
    rows, cols = np.indices(inf.shape)
    ring = np.maximum(np.abs(rows - y), np.abs(cols - x)).ravel()  # Chebyshev distance
    per_ring = np.bincount(ring, weights=inf.ravel())
    inside = np.cumsum(per_ring) / total
    return int(np.searchsorted(inside, mass * (1 - 1e-12)))


def photo_to_network(px: int, py: int, photo_hw: tuple[int, int], net_hw: tuple[int, int]) -> tuple[int, int]:
    """The network-output pixel (x, y) under photo pixel (px, py), pixel centres aligned.

    The upsampling back to the photo (``align_corners=False``) puts output pixel ``i`` of ``n``
    at photo coordinate ``(i + 0.5) * N / n - 0.5``; this inverts that and rounds.

    Example:
        >>> photo_to_network(3999, 0, (3000, 4000), (192, 256))
        (255, 0)
    """
    (big_h, big_w), (h, w) = photo_hw, net_hw
    check_int(px, "px", low=0, high=big_w - 1)
    check_int(py, "py", low=0, high=big_h - 1)
    nx = int(np.clip(np.floor((px + 0.5) * w / big_w), 0, w - 1))
    ny = int(np.clip(np.floor((py + 0.5) * h / big_h), 0, h - 1))
    return nx, ny


def heat_overlay(
    rgb: np.ndarray, influence: np.ndarray, mark: tuple[int, int] | None = None, cmap: str = "inferno",
    strength: float = 0.85,
) -> np.ndarray:
    """The influence map as heat over the photo: where it is strong the colour covers the photo.

    The map is stretched to ``rgb``'s size (bilinear), divided by its 99.9th percentile and
    clipped to 1, and drawn on a square-root scale (the gradient is heavy-tailed: a few pixels
    near the clicked one dominate), as ``cmap`` with that value as its opacity times ``strength``.

    Args:
        rgb: HxWx3 uint8 photo (e.g. the display-size one).
        influence: hxw non-negative map at the network's resolution.
        mark: (x, y) in ``rgb``'s pixels to ring in cyan, e.g. the clicked pixel.
        cmap: colormap of the heat.
        strength: largest opacity of the heat, in [0, 1].

    Returns:
        HxWx3 uint8.
    """
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an HxWx3 uint8 array, got {getattr(rgb, 'shape', type(rgb).__name__)}")
    inf = np.asarray(influence, dtype=np.float32)
    if inf.ndim != 2 or not np.isfinite(inf).all() or (inf < 0).any():
        raise ValueError(f"influence must be a finite, non-negative hxw map, got shape {inf.shape}")
    check_real(strength, "strength", low=0.0, high=1.0)
    height, width = rgb.shape[:2]
    top = float(np.percentile(inf, 99.9))
    level = np.sqrt(np.clip(inf / top, 0.0, 1.0)) if top > 0 else np.zeros_like(inf)  # hxw in [0, 1]
    level = cv2.resize(level, (width, height), interpolation=cv2.INTER_LINEAR)  # hxw -> HxW
    heat = colorize(level, cmap, lo=0.0, hi=1.0).astype(np.float32)  # HxWx3
    alpha = (strength * level)[..., None]
    out = np.rint(rgb * (1.0 - alpha) + heat * alpha).astype(np.uint8)
    if mark is not None:
        radius = max(4, width // 80)
        cv2.circle(out, (int(mark[0]), int(mark[1])), radius, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.circle(out, (int(mark[0]), int(mark[1])), radius, (0, 229, 255), 2, cv2.LINE_AA)
    return out
