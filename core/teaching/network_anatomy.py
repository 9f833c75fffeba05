"""MiDaS v2.1 small opened up, block by block, on one photo: what the "Inside the Network" page shows.

The network (:class:`core.midas.model.MidasSmall`) is fully convolutional: an EfficientNet-Lite3
encoder in four stages, four RefineNet-style fusion blocks and an output head. This module
names those nine blocks (:data:`BLOCKS`) and measures each on a real input: its output shape,
its parameters, its FLOPs (torch's :class:`~torch.utils.flop_counter.FlopCounterMode`) and its
share of the measured run time, and keeps its activations for the page's grids.

All of it runs on a :class:`NetworkInspector`, which holds a **private copy** of the network:
hooks and autograd only ever touch that copy, never the predictor the app shares between
sessions, and each pass waits for a slot of the process's inference gate like any prediction.

FLOPs follow torch's convention: :class:`FlopCounterMode` counts a multiply-add as 2 FLOPs and
counts only convolutions and matrix products (batch norms, activations, residual additions and
the bilinear upsamplings are not counted). So MiDaS small at 256x256 is 9.19 GFLOP, i.e.
4.60 G multiply-adds.

Example:
    >>> inspector = NetworkInspector.from_weights()  # doctest: +SKIP
    >>> run = inspector.run(rgb, size=256)  # doctest: +SKIP
    >>> [row["block"] for row in block_table(run)][:2]  # doctest: +SKIP
    ['Encoder stage 1', 'Encoder stage 2']
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core.checks import check_int
from core.maps.colormaps import colorize
from core.midas.checkpoint import read_checkpoint
from core.midas.download import resolve_weights
from core.midas.inference_gate import InferenceGate
from core.midas.transforms import check_net_size, preprocess

__all__ = [
    "BLOCKS",
    "BlockReport",
    "BlockSpec",
    "NetworkInspector",
    "NetworkRun",
    "Snippet",
    "activation_grid",
    "architecture_dot",
    "block_table",
    "channel_order",
    "exercise_snippets",
    "mean_activation",
    "module_census",
    "transformer_parts",
]


@dataclass(frozen=True)
class BlockSpec:
    """One of the nine blocks the page shows.

    Attributes:
        key: short identifier, e.g. ``"stage1"``.
        title: what the page calls it.
        kind: ``"encoder"``, ``"decoder"`` or ``"head"``.
        modules: dotted names of the model's modules it is made of, in forward order; the
            last one's output is the block's output.
        about: one line on what it does.
    """

    key: str
    title: str
    kind: str
    modules: tuple[str, ...]
    about: str

    @property
    def output_module(self) -> str:
        return self.modules[-1]


#: The blocks in forward order. A fusion block includes the 3x3 projection of its encoder stage
#: (``scratch.layerN_rn``), so the nine blocks hold every parameter of the network.
BLOCKS: tuple[BlockSpec, ...] = (
    BlockSpec("stage1", "Encoder stage 1", "encoder", ("pretrained.layer1",),
              "stem 3×3 conv, stride 2, then EfficientNet-Lite3 blocks 1–2 (depthwise separable, inverted residual)"),
    BlockSpec("stage2", "Encoder stage 2", "encoder", ("pretrained.layer2",), "EfficientNet-Lite3 block 3: 5×5 depthwise convs"),
    BlockSpec("stage3", "Encoder stage 3", "encoder", ("pretrained.layer3",), "EfficientNet-Lite3 blocks 4–5"),
    BlockSpec("stage4", "Encoder stage 4", "encoder", ("pretrained.layer4",), "EfficientNet-Lite3 blocks 6–7"),
    BlockSpec("fusion4", "Fusion block 4", "decoder", ("scratch.layer4_rn", "scratch.refinenet4"),
              "3×3 projection of stage 4, a residual conv unit, bilinear ×2, 1×1 conv"),
    BlockSpec("fusion3", "Fusion block 3", "decoder", ("scratch.layer3_rn", "scratch.refinenet3"),
              "adds the projected stage 3 (skip), residual conv units, bilinear ×2, 1×1 conv"),
    BlockSpec("fusion2", "Fusion block 2", "decoder", ("scratch.layer2_rn", "scratch.refinenet2"),
              "adds the projected stage 2 (skip), residual conv units, bilinear ×2, 1×1 conv"),
    BlockSpec("fusion1", "Fusion block 1", "decoder", ("scratch.layer1_rn", "scratch.refinenet1"),
              "adds the projected stage 1 (skip), residual conv units, bilinear ×2, 1×1 conv"),
    BlockSpec("head", "Output head", "head", ("scratch.output_conv",),
              "3×3 conv, bilinear ×2, 3×3 conv, ReLU, 1×1 conv, ReLU: one channel of relative inverse depth"),
)
_BY_KEY = {b.key: b for b in BLOCKS}
_ATTENTION_TYPES = (nn.MultiheadAttention, nn.LayerNorm, nn.Linear, nn.TransformerEncoderLayer)


@dataclass(frozen=True)
class BlockReport:
    """One block measured on one input.

    Attributes:
        spec: which block.
        shape: its output's (channels, height, width).
        params: its parameter count.
        flops: its FLOPs (torch's count: a multiply-add is 2).
        seconds: wall time of its modules in the measured pass.
    """

    spec: BlockSpec
    shape: tuple[int, int, int]
    params: int
    flops: int
    seconds: float


@dataclass(frozen=True, eq=False)
class NetworkRun:
    """One hooked forward pass of the inspector's copy.

    Attributes:
        net_input: 1x3xhxw float32, the normalised network input (the predictor's preprocessing).
        output: hxw float32 raw network output (relative inverse depth, unitless).
        blocks: the nine blocks in forward order.
        activations: block key -> its output, CxH'xW' float32.
        network_seconds: wall time of the whole forward pass.
        total_params: every parameter of the model, counted on the model itself.
        total_flops: FlopCounterMode's total for the whole forward pass.
    """

    net_input: np.ndarray
    output: np.ndarray
    blocks: tuple[BlockReport, ...]
    activations: dict[str, np.ndarray] = field(repr=False)
    network_seconds: float
    total_params: int
    total_flops: int

    def block(self, key: str) -> BlockReport:
        """The report of the block ``key`` (one of :data:`BLOCKS`' keys)."""
        _check_block(key)
        return next(b for b in self.blocks if b.spec.key == key)


@dataclass
class _Recording:
    """What the hooks collect during one forward pass."""

    starts: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)


def _check_block(key: str) -> BlockSpec:
    if key not in _BY_KEY:
        raise ValueError(f"block must be one of {', '.join(_BY_KEY)}, got {key!r}")
    return _BY_KEY[key]


def _block_parameters(model: nn.Module) -> dict[str, int]:
    modules = dict(model.named_modules())
    return {b.key: sum(p.numel() for m in b.modules for p in modules[m].parameters()) for b in BLOCKS}


@contextmanager
def _recording(model: nn.Module) -> Iterator[_Recording]:
    """Timing and output hooks on the blocks' modules, removed on exit whatever happens."""
    record = _Recording()
    modules = dict(model.named_modules())
    outputs = {b.output_module for b in BLOCKS}
    handles = []

    def pre(name: str):
        def hook(module: nn.Module, args: object) -> None:
            record.starts[name] = time.perf_counter()
        return hook

    def post(name: str):
        def hook(module: nn.Module, args: object, output: torch.Tensor) -> None:
            record.seconds[name] = time.perf_counter() - record.starts[name]
            if name in outputs:
                record.outputs[name] = output.detach()
        return hook

    try:
        for block in BLOCKS:
            for name in block.modules:
                handles.append(modules[name].register_forward_pre_hook(pre(name)))
                handles.append(modules[name].register_forward_hook(post(name)))
        yield record
    finally:
        for handle in handles:
            handle.remove()


def _flops(model: nn.Module, x: torch.Tensor) -> tuple[dict[str, int], int]:
    """FlopCounterMode's count per block and in total for one forward pass of ``x``."""
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(x)
    counts = counter.get_flop_counts()
    root = type(model).__name__
    per_module = {name: int(sum(ops.values())) for name, ops in counts.items()}
    per_block = {b.key: sum(per_module.get(f"{root}.{m}", 0) for m in b.modules) for b in BLOCKS}
    return per_block, int(counter.get_total_flops())


class NetworkInspector:
    """A private copy of MiDaS small for looking inside: hooks, FLOP counts and gradients.

    Thread-safe: one pass at a time on the copy (a lock), and each pass also holds a slot of
    ``gate`` (the process's inference gate when given) so it queues behind and beside the
    app's predictions like any other. The model passed in is deep-copied, so the caller's
    module (e.g. the shared predictor's) never gets a hook.

    Args:
        model: a :class:`core.midas.model.MidasSmall` with its weights.
        gate: the inference gate to hold during each pass, or None.
    """

    def __init__(self, model: nn.Module, gate: InferenceGate | None = None, *, _private: bool = False) -> None:
        if not (hasattr(model, "pretrained") and hasattr(model, "scratch")):
            raise TypeError(f"expected a MidasSmall model, got {type(model).__name__}")
        own = model if _private else copy.deepcopy(model)
        self._model = own.to(memory_format=torch.contiguous_format).eval()
        self.gate = gate
        self._lock = threading.Lock()
        self._flops_by_shape: dict[tuple[int, int], tuple[dict[str, int], int]] = {}
        self.block_params = _block_parameters(self._model)
        self.total_params = sum(p.numel() for p in self._model.parameters())

    @classmethod
    def from_weights(
        cls, weights: str | os.PathLike | None = None, gate: InferenceGate | None = None
    ) -> NetworkInspector:
        """Build the copy from a checkpoint, found as the predictor finds it (``MIDAS_WEIGHTS``, the cache…).

        Raises:
            core.midas.errors.WeightsError: the weights are missing, corrupt or not MiDaS small.
        """
        from core.midas.model import create_midas_small  # timm is imported only when a model is built

        model = create_midas_small(read_checkpoint(resolve_weights(weights).path))
        return cls(model, gate, _private=True)

    @property
    def model(self) -> nn.Module:
        """The private copy (for the exercises: count its modules, read its layers; do not hook it)."""
        return self._model

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """The copy to oneself (lock first, so a waiting student never holds an inference slot)."""
        with self._lock, (self.gate.slot() if self.gate is not None else nullcontext()):
            yield

    def run(self, rgb: np.ndarray, size: int) -> NetworkRun:
        """One hooked forward pass on a photo, preprocessed exactly as the predictor does.

        Args:
            rgb: HxWx3 uint8 RGB photo.
            size: network size N (256-1024, step 32).

        Raises:
            ValueError: bad photo or size.
            core.midas.inference_gate.InferenceBusyError: no inference slot in time.
        """
        x = preprocess(rgb, check_net_size(size))  # HxWx3 uint8 -> 1x3xhxw float32
        return self.run_input(x)

    def run_input(self, net_input: torch.Tensor | np.ndarray) -> NetworkRun:
        """:meth:`run` from a 1x3xhxw float32 network input (h and w multiples of 32)."""
        x = torch.as_tensor(net_input, dtype=torch.float32).contiguous()
        if x.ndim != 4 or x.shape[:2] != (1, 3):
            raise ValueError(f"net_input must be 1x3xhxw, got {tuple(x.shape)}")
        hw = (int(x.shape[2]), int(x.shape[3]))
        with self._turn():
            with _recording(self._model) as record, torch.inference_mode():
                t0 = time.perf_counter()
                out = self._model(x)  # 1x3xhxw -> 1xhxw
                network_seconds = time.perf_counter() - t0
            if hw not in self._flops_by_shape:
                self._flops_by_shape[hw] = _flops(self._model, x)
        flops, total_flops = self._flops_by_shape[hw]
        activations = {b.key: record.outputs[b.output_module][0].numpy() for b in BLOCKS}  # 1xCxhxw -> Cxhxw
        reports = tuple(
            BlockReport(
                spec=b,
                shape=tuple(int(d) for d in activations[b.key].shape),  # type: ignore[arg-type]
                params=self.block_params[b.key],
                flops=flops[b.key],
                seconds=sum(record.seconds[m] for m in b.modules),
            )
            for b in BLOCKS
        )
        return NetworkRun(
            net_input=x.numpy(),
            output=out[0].numpy(),
            blocks=reports,
            activations=activations,
            network_seconds=network_seconds,
            total_params=self.total_params,
            total_flops=total_flops,
        )

    def gradient(self, net_input: np.ndarray, y: int, x: int) -> np.ndarray:
        """d output[y, x] / d input on the copy: one backward pass (see :func:`~core.teaching.network_receptive_field.input_gradient`)."""
        from core.teaching.network_receptive_field import input_gradient

        with self._turn():
            return input_gradient(self._model, np.asarray(net_input, dtype=np.float32), y, x)


def block_table(run: NetworkRun) -> list[dict[str, object]]:
    """The page's per-block table, with a last row of totals.

    Columns: block, output (C × h × w), parameters, GFLOP, ms, time share (% of the measured
    network time). The totals row compares the sums with the model's own parameter count and
    FlopCounterMode's total; its time share is the blocks' sum over the whole pass.
    """
    rows: list[dict[str, object]] = []
    for b in run.blocks:
        c, h, w = b.shape
        rows.append({
            "block": b.spec.title,
            "output (C × h × w)": f"{c} × {h} × {w}",
            "parameters": b.params,
            "GFLOP": round(b.flops / 1e9, 3),
            "ms": round(b.seconds * 1000, 1),
            "time share (%)": round(100 * b.seconds / run.network_seconds, 1),
        })
    seconds = sum(b.seconds for b in run.blocks)
    rows.append({
        "block": "Total (the model's own count)",
        "output (C × h × w)": "",
        "parameters": sum(b.params for b in run.blocks),
        "GFLOP": round(sum(b.flops for b in run.blocks) / 1e9, 3),
        "ms": round(seconds * 1000, 1),
        "time share (%)": round(100 * seconds / run.network_seconds, 1),
    })
    return rows


def channel_order(activation: np.ndarray) -> np.ndarray:
    """Channel indices, strongest first: by mean absolute activation over the map.

    Example:
        >>> channel_order(np.stack([np.zeros((2, 2)), np.full((2, 2), -3.0), np.ones((2, 2))])).tolist()
        [1, 2, 0]
    """
    a = _check_activation(activation)
    strength = np.abs(a).mean(axis=(1, 2), dtype=np.float64)  # C
    return np.argsort(-strength, kind="stable")


def _check_activation(activation: np.ndarray) -> np.ndarray:
    a = np.asarray(activation)
    if a.ndim != 3 or a.dtype.kind != "f" or 0 in a.shape:
        raise ValueError(f"activation must be a non-empty Cxhxw float array, got {a.dtype} {a.shape}")
    return a


def mean_activation(activation: np.ndarray) -> np.ndarray:
    """The block's mean activation at each pixel: Cxhxw -> hxw float32."""
    return _check_activation(activation).mean(axis=0, dtype=np.float64).astype(np.float32)


def activation_grid(
    activation: np.ndarray, count: int = 16, columns: int = 4, tile_width: tuple[int, int] = (96, 192),
    cmap: str = "viridis",
) -> np.ndarray:
    """The strongest channels of a block as one picture, each stretched min–max on its own.

    Tiles are drawn row by row, strongest first (see :func:`channel_order`), 2 white pixels
    apart. Each tile is scaled to a width within ``tile_width`` (nearest-neighbour when
    enlarged, so a 8x6 map shows its 48 values; area-averaged when shrunk), so the picture
    stays small whatever the photo and N.

    Args:
        activation: Cxhxw float array, a block's output.
        count: how many channels (at most C).
        columns: tiles per row.
        tile_width: (smallest, largest) tile width in pixels.
        cmap: colormap of :func:`core.maps.colormaps.colorize`.

    Returns:
        An RGB uint8 picture.
    """
    a = _check_activation(activation)
    check_int(count, "count", low=1)
    check_int(columns, "columns", low=1)
    lo_w, hi_w = tile_width
    check_int(lo_w, "tile_width[0]", low=1)
    check_int(hi_w, "tile_width[1]", low=lo_w)
    c, h, w = a.shape
    picked = channel_order(a)[: min(count, c)]
    tw = int(np.clip(w, lo_w, hi_w))
    th = max(1, int(round(h * tw / w)))
    interp = cv2.INTER_NEAREST if tw >= w else cv2.INTER_AREA
    cols = min(columns, len(picked))
    rows = -(-len(picked) // cols)
    gap = 2
    out = np.full((rows * th + (rows - 1) * gap, cols * tw + (cols - 1) * gap, 3), 255, np.uint8)
    for i, ch in enumerate(picked):
        tile = cv2.resize(colorize(a[ch], cmap), (tw, th), interpolation=interp)  # hxw -> thxtwx3 uint8
        r, q = divmod(i, cols)
        out[r * (th + gap): r * (th + gap) + th, q * (tw + gap): q * (tw + gap) + tw] = tile
    return out


def module_census(model: nn.Module) -> dict[str, int]:
    """How many layers of each type the model has: modules with their own parameters, and leaf modules.

    Containers (``Sequential``, timm's blocks) and ``Identity`` placeholders are not counted.

    Example:
        >>> module_census(nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 1)))
        {'Conv2d': 2, 'ReLU': 1}
    """
    census: dict[str, int] = {}
    for module in model.modules():
        own_params = any(True for _ in module.parameters(recurse=False))
        leaf = not any(True for _ in module.children())
        if isinstance(module, nn.Identity) or not (own_params or leaf):
            continue
        name = type(module).__name__
        census[name] = census.get(name, 0) + 1
    return dict(sorted(census.items(), key=lambda kv: (-kv[1], kv[0])))


def transformer_parts(model: nn.Module) -> list[str]:
    """Names of the modules a transformer would need: attention, layer norms, linear layers, patch embeddings.

    MiDaS v2.1 small has none (it is fully convolutional): this returns ``[]``. The DPT
    models of MiDaS v3 would list their attention blocks and patch embedding here.
    """
    found = []
    for name, module in model.named_modules():
        kind = type(module).__name__
        if isinstance(module, _ATTENTION_TYPES) or "Attention" in kind or "PatchEmbed" in kind:
            found.append(f"{name} ({kind})")
    return found


def architecture_dot(run: NetworkRun) -> str:
    """The architecture as a Graphviz DOT graph drawn from a run, in a U: encoder down, decoder up.

    Each node is a block with its real output shape, parameters, GFLOP and time share. Rows are
    resolutions: encoder stage i sits beside fusion block i, which takes stage i's features
    through the dashed skip edge and works at its resolution before upsampling.
    """
    colours = {"encoder": "#dbeafe", "decoder": "#dcfce7", "head": "#fef9c3"}
    h, w = run.net_input.shape[2:]
    lines = [
        "digraph midas {",
        "  rankdir=TB; nodesep=0.5; ranksep=0.3; newrank=true;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8];',
        f'  input [label="input\\n3 × {h} × {w}", fillcolor="#f3f4f6"];',
        f'  output [label="relative inverse depth\\n{run.output.shape[0]} × {run.output.shape[1]}", fillcolor="#f3f4f6"];',
    ]
    for b in run.blocks:
        c, bh, bw = b.shape
        share = 100 * b.seconds / run.network_seconds
        label = (f"{b.spec.title}\\n{c} × {bh} × {bw}\\n{b.params / 1e6:.2f} M params · "
                 f"{b.flops / 1e9:.2f} GFLOP\\n{share:.0f} % of the time")
        lines.append(f'  {b.spec.key} [label="{label}", fillcolor="{colours[b.spec.kind]}"];')
    lines += [
        "  { rank=same; input; head; output; }",
        *(f"  {{ rank=same; stage{i}; fusion{i}; }}" for i in (1, 2, 3, 4)),
        "  input -> stage1 -> stage2 -> stage3 -> stage4;",
        "  stage4 -> fusion4;",
        "  head -> fusion1 -> fusion2 -> fusion3 -> fusion4 [dir=back];",
        "  head -> output;",
    ]
    for i in (1, 2, 3):
        lines.append(f'  stage{i} -> fusion{i} [style=dashed, color="#6b7280", label="skip"];')
    lines.append("}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Snippet:
    """The few lines of ``core`` that produce one panel of the page (student exercise mode).

    Attributes:
        key: the panel, e.g. ``"activations"``.
        title: what the page calls the exercise.
        code: run the snippets in order in one namespace, with ``photo.jpg`` in the folder.
        variable: the name the panel's main result is assigned to.
    """

    key: str
    title: str
    code: str
    variable: str


def exercise_snippets(size: int, block: str, x: int, y: int) -> list[Snippet]:
    """The snippets of every panel, for network size ``size``, block ``block`` and output pixel (x, y).

    Raises:
        ValueError: bad size, unknown block or negative pixel.
    """
    size = check_net_size(size)
    _check_block(block)
    check_int(x, "x", low=0)
    check_int(y, "y", low=0)
    return [
        Snippet("setup", "Load the photo and a private copy of the network",
                "from core.io.images import read_image\n"
                "from core.teaching.network_anatomy import NetworkInspector\n"
                'rgb = read_image("photo.jpg")  # HxWx3 uint8 RGB\n'
                "inspector = NetworkInspector.from_weights()  # its own copy: hooks never touch a shared model",
                "inspector"),
        Snippet("architecture", "Shapes, parameters, FLOPs and time of every block",
                "from core.teaching.network_anatomy import block_table\n"
                f"run = inspector.run(rgb, size={size})  # one forward pass with hooks\n"
                "table = block_table(run)  # one row per block, then the totals",
                "table"),
        Snippet("activations", "A block's strongest channels and its mean activation",
                "from core.teaching.network_anatomy import activation_grid, mean_activation\n"
                f'grid = activation_grid(run.activations["{block}"])  # strongest channels first, RGB uint8\n'
                f'mean = mean_activation(run.activations["{block}"])  # h\'xw\' float32',
                "grid"),
        Snippet("receptive_field", "Which input pixels move one output pixel",
                "from core.teaching.network_receptive_field import influence_map, midas_deepest_path, receptive_field_size\n"
                f"influence = influence_map(inspector.gradient(run.net_input, y={y}, x={x}))  # one backward pass\n"
                "field = receptive_field_size(midas_deepest_path(inspector.model))  # in input pixels",
                "influence"),
        Snippet("misconceptions", "Is there a transformer inside?",
                "from core.teaching.network_anatomy import module_census, transformer_parts\n"
                "census = module_census(inspector.model)  # module type -> how many\n"
                "attention = transformer_parts(inspector.model)  # [] : no attention, no patch embedding",
                "census"),
    ]
