"""The CPU MiDaS_small predictor used by the dashboard, the CLI and the benchmarks.

Example:
    >>> from core.predictor import load_predictor
    >>> p = load_predictor(weights=None, backend="torch", size=256)  # doctest: +SKIP
    >>> depth = p.predict(rgb)  # HxWx3 uint8 -> HxW float32 relative inverse depth  # doctest: +SKIP
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.model import MidasSmall, create_midas_small
from core.transforms import check_net_size, preprocess, upsample
from core.weights import MIDAS_SMALL, read_checkpoint, resolve_weights, sha256_file

__all__ = ["Prediction", "Predictor", "PredictorInfo", "load_predictor", "set_torch_threads"]

_threads_lock = threading.Lock()
_threads_set: int | None = None


def set_torch_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count once per process and return it.

    ``torch.set_num_threads`` is process-wide, so it is called only on the first use;
    later calls return the count already in force.
    """
    global _threads_set
    with _threads_lock:
        if _threads_set is None:
            _threads_set = max(1, threads or os.cpu_count() or 1)
            torch.set_num_threads(_threads_set)
        return _threads_set


@dataclass(frozen=True)
class PredictorInfo:
    """What the sidebar and ``python -m core info`` show about the loaded model."""

    weights_path: Path
    weights_source: str  # "explicit", "env", "cache", "download" or "upload"
    sha256: str
    backend: str
    size: int
    threads: int


@dataclass(frozen=True)
class Prediction:
    """Every stage of one prediction, for the teaching pages.

    Attributes:
        net_input: 1x3xhxw float32, the normalised network input.
        net_output: hxw float32, the raw network output.
        depth: HxW float32 relative inverse depth at the input size (larger = nearer).
        seconds: wall time per stage: "preprocess", "inference", "upsample".
    """

    net_input: np.ndarray
    net_output: np.ndarray
    depth: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)


class Predictor:
    """MiDaS_small on the CPU. Thread-safe: the model is shared and never mutated."""

    def __init__(self, model: MidasSmall, info: PredictorInfo) -> None:
        self._model = model
        self.info = info

    @property
    def size(self) -> int:
        return self.info.size

    def network_output(self, net_input: torch.Tensor) -> torch.Tensor:
        """Run the network: 1x3xhxw float32 -> hxw float32 raw relative inverse depth."""
        with torch.inference_mode():
            return self._model(net_input)[0]

    def run(self, rgb: np.ndarray) -> Prediction:
        """Predict and keep every intermediate stage.

        Args:
            rgb: HxWx3 uint8 RGB image.
        """
        t0 = time.perf_counter()
        x = preprocess(rgb, self.info.size)  # HxWx3 uint8 -> 1x3xhxw float32
        t1 = time.perf_counter()
        net = self.network_output(x)  # 1x3xhxw -> hxw
        t2 = time.perf_counter()
        with torch.inference_mode():
            depth = upsample(net, rgb.shape[0], rgb.shape[1])  # hxw -> HxW
        t3 = time.perf_counter()
        return Prediction(
            net_input=x.numpy(),
            net_output=net.numpy(),
            depth=depth,
            seconds={"preprocess": t1 - t0, "inference": t2 - t1, "upsample": t3 - t2},
        )

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 RGB -> HxW float32 relative inverse depth at the input size."""
        return self.run(rgb).depth


def load_predictor(
    weights: str | os.PathLike | None = None,
    backend: str = "torch",
    size: int = MIDAS_SMALL.input_size,
    *,
    threads: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Predictor:
    """Build the predictor.

    Args:
        weights: checkpoint path; ``None`` resolves it (``MIDAS_WEIGHTS``, the torch hub
            cache, then a verified download).
        backend: ``"torch"``.
        size: network size N, 256-1024 in steps of 32.
        threads: torch threads for the process (set once; default: all cores).
        progress: download progress callback ``(done_bytes, total_bytes)``.

    Raises:
        core.weights.WeightsError: the weights are missing, corrupt or not MiDaS small.
    """
    size = check_net_size(size)
    if backend != "torch":
        raise ValueError(f"backend must be 'torch', got {backend!r}")
    resolved = resolve_weights(weights, progress=progress)
    model = create_midas_small(read_checkpoint(resolved.path))
    info = PredictorInfo(
        weights_path=resolved.path,
        weights_source=resolved.source,
        sha256=sha256_file(resolved.path),
        backend=backend,
        size=size,
        threads=set_torch_threads(threads),
    )
    return Predictor(model, info)
