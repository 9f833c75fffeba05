"""MidasNet_small: the MiDaS v2.1 small network, rebuilt on timm.

The layout follows the official ``MiDaS_small`` hub entry (isl-org/MiDaS): an
EfficientNet-Lite3 encoder cut into four stages, a 3x3 "scratch" projection per
stage, four fusion blocks and an output head ending in a ReLU (the prediction
is non-negative relative inverse depth). Module names are chosen so that the
official checkpoint loads with ``strict=True`` and no renaming.
"""
from __future__ import annotations

from collections.abc import Mapping

import timm
import torch
import torch.nn.functional as F
from torch import nn

from core.midas.checkpoint import check_state_dict, unwrap_training_checkpoint

__all__ = ["MidasSmall", "checkpoint_filter_fn", "create_midas_small"]

# Output channels of the four encoder stages of tf_efficientnet_lite3.
_ENCODER_CHANNELS = (32, 48, 136, 384)


def _efficientnet_lite3_stages() -> nn.Module:
    """Cut timm's tf_efficientnet_lite3 into the four stages MiDaS taps."""
    # pretrained=False: nothing is downloaded; the MiDaS checkpoint holds every encoder weight.
    effnet = timm.create_model("tf_efficientnet_lite3", pretrained=False)
    stages = nn.Module()
    # timm folds the stem activation into bn1 (BatchNormAct2d). The official model has a separate
    # act1 module at index 2, so an Identity keeps the checkpoint's "layer1.3", "layer1.4" names.
    stages.layer1 = nn.Sequential(effnet.conv_stem, effnet.bn1, nn.Identity(), *effnet.blocks[0:2])
    stages.layer2 = nn.Sequential(*effnet.blocks[2:3])
    stages.layer3 = nn.Sequential(*effnet.blocks[3:5])
    stages.layer4 = nn.Sequential(*effnet.blocks[5:7])
    return stages


class _ResidualConvUnit(nn.Module):
    """relu -> conv3x3 -> relu -> conv3x3, plus the input."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, kernel_size=3, padding=1, bias=True)
        self.conv2 = nn.Conv2d(features, features, kernel_size=3, padding=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(x))
        out = self.conv2(F.relu(out))
        return out + x


class _FusionBlock(nn.Module):
    """Fuse a coarser path with a skip connection, upsample x2, project channels."""

    def __init__(self, features: int, out_features: int) -> None:
        super().__init__()
        # Declared first so that state_dict order matches the official checkpoint.
        self.out_conv = nn.Conv2d(features, out_features, kernel_size=1, bias=True)
        self.resConfUnit1 = _ResidualConvUnit(features)
        self.resConfUnit2 = _ResidualConvUnit(features)

    def forward(self, path: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            path = path + self.resConfUnit1(skip)
        path = self.resConfUnit2(path)
        # The official decoder upsamples with align_corners=True here (the head uses False).
        path = F.interpolate(path, scale_factor=2, mode="bilinear", align_corners=True)
        return self.out_conv(path)


class _Upsample2x(nn.Module):
    """Bilinear x2 upsampling inside the output head (align_corners=False, as upstream)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class MidasSmall(nn.Module):
    """MiDaS v2.1 small (``features=64``, ``expand=True``, non-negative output).

    Input: Bx3xhxw float32, ImageNet-normalised, h and w multiples of 32.
    Output: Bxhxw float32 relative inverse depth (larger = nearer, unitless).
    """

    def __init__(self, features: int = 64) -> None:
        super().__init__()
        self.pretrained = _efficientnet_lite3_stages()
        widths = (features, features * 2, features * 4, features * 8)  # expand=True
        self.scratch = nn.Module()
        for i, (cin, cout) in enumerate(zip(_ENCODER_CHANNELS, widths), start=1):
            setattr(self.scratch, f"layer{i}_rn", nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False))
        # expand=True halves the channels at each fusion step, except the last.
        self.scratch.refinenet4 = _FusionBlock(widths[3], widths[3] // 2)
        self.scratch.refinenet3 = _FusionBlock(widths[2], widths[2] // 2)
        self.scratch.refinenet2 = _FusionBlock(widths[1], widths[1] // 2)
        self.scratch.refinenet1 = _FusionBlock(widths[0], widths[0])
        self.scratch.output_conv = nn.Sequential(
            nn.Conv2d(features, features // 2, kernel_size=3, padding=1),
            _Upsample2x(),
            nn.Conv2d(features // 2, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 1, kernel_size=1),
            nn.ReLU(),  # non_negative=True
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected a Bx3xhxw tensor, got shape {tuple(x.shape)}")
        if x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"h and w must be multiples of 32, got {x.shape[2]}x{x.shape[3]}")
        enc = self.pretrained
        layer1 = enc.layer1(x)  # Bx32x(h/4)x(w/4)
        layer2 = enc.layer2(layer1)  # Bx48x(h/8)x(w/8)
        layer3 = enc.layer3(layer2)  # Bx136x(h/16)x(w/16)
        layer4 = enc.layer4(layer3)  # Bx384x(h/32)x(w/32)

        s = self.scratch
        path = s.refinenet4(s.layer4_rn(layer4))
        path = s.refinenet3(path, s.layer3_rn(layer3))
        path = s.refinenet2(path, s.layer2_rn(layer2))
        path = s.refinenet1(path, s.layer1_rn(layer1))  # Bx64x(h/2)x(w/2)
        return s.output_conv(path).squeeze(1)  # Bx1xhxw -> Bxhxw


def checkpoint_filter_fn(state_dict: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map an official MiDaS small checkpoint onto :class:`MidasSmall` names.

    The official release stores the bare ``state_dict``; training checkpoints wrap it
    as ``{"model": ..., "optimizer": ...}``, which the official loader unwraps too (here by
    :func:`core.midas.checkpoint.unwrap_training_checkpoint`, as :func:`~core.midas.checkpoint.read_checkpoint` does).
    The names already match this module's, so nothing else is renamed.

    Args:
        state_dict: the object read from the checkpoint file.
        model: the model the weights are for (kept for timm's filter signature).

    Returns:
        A plain ``{name: tensor}`` dict ready for ``model.load_state_dict(..., strict=True)``.
    """
    del model  # names match already; the argument keeps the timm filter signature
    return dict(unwrap_training_checkpoint(state_dict))  # type: ignore[call-overload]


def create_midas_small(state_dict: Mapping[str, torch.Tensor] | None = None) -> MidasSmall:
    """Build the network in eval mode, optionally loading weights strictly.

    Args:
        state_dict: checkpoint contents; ``None`` keeps random weights.

    Raises:
        core.midas.errors.WeightsMismatchError: the names, shapes or dtypes are not MiDaS small's.
    """
    model = MidasSmall()
    if state_dict is not None:
        state_dict = checkpoint_filter_fn(state_dict, model)
        check_state_dict(state_dict, model.state_dict())
        model.load_state_dict(state_dict, strict=True)
    model.eval()
    model.requires_grad_(False)
    return model
