"""The CPU MiDaS_small predictor used by the dashboard, the CLI and the benchmarks.

Two backends run the same network:

- ``"torch"``: our :class:`core.midas.model.MidasSmall` in eager mode, channels-last (faster on
  CPU than the default layout; outputs within ~1e-4 of the maximum of the default layout's).
- ``"fast"``: the same model converted once to OpenVINO and cached on disk
  (:mod:`core.midas.openvino_backend`), checked against torch every time it loads.

``"auto"`` takes ``"fast"`` when OpenVINO is installed and the model passes its
self-check, and otherwise ``"torch"``; ``PredictorInfo.backend_note`` says which and why.

Example:
    >>> from core.midas.predictor import load_predictor
    >>> p = load_predictor(weights=None, backend="auto", size=256)  # doctest: +SKIP
    >>> depth = p.predict(rgb)  # HxWx3 uint8 -> HxW float32 relative inverse depth  # doctest: +SKIP
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from core.midas.inference_gate import InferenceGate, slots_for
from core.midas.openvino_backend import FastBackendError, load_openvino_model
from core.midas.transforms import check_net_size, preprocess, upsample_to
from core.midas.checkpoint import read_checkpoint
from core.midas.config import MIDAS_SMALL
from core.midas.download import resolve_weights, sha256_file

__all__ = ["BACKENDS", "Prediction", "Predictor", "PredictorInfo", "load_predictor", "set_torch_threads"]

#: Values accepted by ``load_predictor(backend=...)``.
BACKENDS = ("torch", "fast", "auto")

Network = Callable[[np.ndarray], np.ndarray]  # 1x3xhxw float32 -> hxw float32
# A Network may also offer ``infer(x) -> (hxw output, seconds spent compiling a new input shape)``,
# as core.midas.openvino_backend.OpenVinoModel does; Predictor.run then reports that time as "compile".

_threads_lock = threading.Lock()
_threads_set: int | None = None
_gate: InferenceGate | None = None


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


def _process_gate(threads: int) -> InferenceGate:
    """The gate shared by every predictor in this process (created on first use)."""
    global _gate
    with _threads_lock:
        if _gate is None:
            _gate = InferenceGate(slots_for(threads))
        return _gate


@dataclass(frozen=True)
class PredictorInfo:
    """What the sidebar and ``python -m core info`` show about the loaded model.

    Attributes:
        backend: the backend that runs, ``"torch"`` or ``"fast"`` (never ``"auto"``).
        backend_note: one line for the user: the runtime, and for ``"auto"`` why it chose it.
        fallback: why ``"auto"`` had to use torch (the fast backend's error), else ``""``.
    """

    weights_path: Path
    weights_source: str  # "explicit", "env", "cache", "download" or "upload"
    sha256: str
    backend: str
    size: int
    threads: int
    backend_note: str = ""
    fallback: str = ""


@dataclass(frozen=True, eq=False)
class Prediction:
    """Every stage of one prediction, for the teaching pages.

    The full-resolution map is computed on first access of :attr:`depth` (``Predictor.run``
    does it unless asked not to) and then kept; :meth:`depth_at` gives any other size,
    e.g. the display size, straight from the raw output without the full-size map.

    Attributes:
        net_input: 1x3xhxw float32, the normalised network input.
        net_output: hxw float32, the raw network output.
        image_size: (H, W) of the input image.
        seconds: wall time per stage: "preprocess", "inference", and "upsample" once
            :attr:`depth` has been computed. When the network had to be compiled for this
            input shape first (the fast backend, on a shape's first use), "compile" holds
            that one-time part of "inference".
    """

    net_input: np.ndarray
    net_output: np.ndarray
    image_size: tuple[int, int]
    seconds: dict[str, float] = field(default_factory=dict)

    @cached_property
    def depth(self) -> np.ndarray:
        """HxW float32 relative inverse depth at the input size (larger = nearer)."""
        start = time.perf_counter()
        depth = upsample_to(self.net_output, *self.image_size)  # hxw -> HxW
        self.seconds["upsample"] = time.perf_counter() - start
        return depth

    def depth_at(self, height: int, width: int) -> np.ndarray:
        """The map resampled to ``height`` x ``width`` (bicubic, from the raw output).

        Cheap at display sizes; at the input size it returns :attr:`depth`.
        """
        if (height, width) == tuple(self.image_size):
            return self.depth
        return upsample_to(self.net_output, height, width)


class _TorchNetwork:
    """MidasSmall as a ``Network``: channels-last weights and inputs, inference mode."""

    def __init__(self, model: torch.nn.Module) -> None:
        # converted once here, before the predictor is shared; never mutated afterwards
        self.model = model.to(memory_format=torch.channels_last)

    def __call__(self, net_input: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(net_input).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return self.model(x)[0].numpy()  # 1x3xhxw -> hxw


class Predictor:
    """MiDaS_small on the CPU. Thread-safe: the network is shared and never mutated.

    At most ``gate.slots`` predictions run at once; further callers queue, see :meth:`run`.
    By default every predictor in the process shares one gate with as many slots as fit
    the cores at ``info.threads`` threads each, since threads are a process-wide resource.
    """

    def __init__(
        self, network: Network | torch.nn.Module, info: PredictorInfo, gate: InferenceGate | None = None
    ) -> None:
        """Wrap a network: a ``Network`` callable, or a torch module such as ``MidasSmall``."""
        self._network: Network = _TorchNetwork(network) if isinstance(network, torch.nn.Module) else network
        self.info = info
        self.gate = gate or _process_gate(info.threads)

    @property
    def size(self) -> int:
        return self.info.size

    def network_output(self, net_input: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Run the network: 1x3xhxw float32 -> hxw float32 raw relative inverse depth."""
        x = net_input.detach().cpu().numpy() if isinstance(net_input, torch.Tensor) else net_input
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[:2] != (1, 3):
            raise ValueError(f"expected a 1x3xhxw network input, got shape {getattr(x, 'shape', type(x).__name__)}")
        return torch.from_numpy(np.ascontiguousarray(self._network(np.ascontiguousarray(x, dtype=np.float32))))

    def run(
        self, rgb: np.ndarray, *, upsample: bool = True, on_queued: Callable[[int], None] | None = None
    ) -> Prediction:
        """Predict and keep every intermediate stage.

        Args:
            rgb: HxWx3 uint8 RGB image.
            upsample: compute the full-resolution :attr:`Prediction.depth` now (timed as
                "upsample"); False leaves it to the first access.
            on_queued: called with the number of callers ahead if this call has to wait
                for an inference slot (e.g. to show "queued…").

        Raises:
            core.midas.inference_gate.InferenceBusyError: no slot freed up within the gate's timeout.
        """
        with self.gate.slot(on_queued):
            t0 = time.perf_counter()
            x = preprocess(rgb, self.info.size).numpy()  # HxWx3 uint8 -> 1x3xhxw float32
            t1 = time.perf_counter()
            infer = getattr(self._network, "infer", None)
            out, compile_seconds = infer(x) if infer is not None else (self._network(x), 0.0)
            net = np.ascontiguousarray(out)  # 1x3xhxw -> hxw
            t2 = time.perf_counter()
        seconds = {"preprocess": t1 - t0, "inference": t2 - t1}
        if compile_seconds > 0.0:
            seconds["compile"] = compile_seconds
        result = Prediction(
            net_input=x,
            net_output=net,
            image_size=(int(rgb.shape[0]), int(rgb.shape[1])),
            seconds=seconds,
        )
        if upsample:
            result.depth  # noqa: B018 - computes and caches the full-resolution map
        return result

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
    cache_dir: str | os.PathLike | None = None,
    status: Callable[[str], None] | None = None,
) -> Predictor:
    """Build the predictor.

    Args:
        weights: checkpoint path; ``None`` resolves it (``MIDAS_WEIGHTS``, the torch hub
            cache, then a verified download).
        backend: ``"torch"``, ``"fast"`` (OpenVINO; raises if it is unavailable) or
            ``"auto"`` (fast when available and self-checked, else torch; see
            ``info.backend_note``).
        size: network size N, 256-1024 in steps of 32.
        threads: inference threads (torch's are set once per process; default: all cores).
        progress: download progress callback ``(done_bytes, total_bytes)``.
        cache_dir: where the fast backend keeps converted models (default
            ``core.midas.openvino_backend.default_cache_dir()``).
        status: receives one line per step of a first-time conversion (default: stderr).

    Raises:
        ValueError: unknown backend or bad size.
        core.midas.errors.WeightsError: the weights are missing, corrupt or not MiDaS small.
        core.midas.openvino_backend.FastBackendError: ``backend="fast"`` and OpenVINO is missing,
            cannot convert the model, or fails the self-check.
    """
    size = check_net_size(size)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    resolved = resolve_weights(weights, progress=progress)
    sha256 = sha256_file(resolved.path)
    n_threads = set_torch_threads(threads)

    network: Network | None = None
    note = fallback = ""
    if backend in ("fast", "auto"):
        try:
            fast = load_openvino_model(
                resolved.path, sha256, size, cache_dir=cache_dir, threads=n_threads, status=status
            )
        except FastBackendError as e:
            if backend == "fast":
                raise
            fallback = str(e)
            note = f"auto chose torch: {e}"
        else:
            network = fast
            note = (
                f"OpenVINO {fast.version.split('-')[0]}, self-check vs torch {fast.self_check_error:.1e} of max"
                + (" (chosen by auto)" if backend == "auto" else "")
            )
    if network is None:
        from core.midas.model import create_midas_small  # timm is imported only when torch runs the model

        network = _TorchNetwork(create_midas_small(read_checkpoint(resolved.path)))
        note = note or f"torch {torch.__version__} eager, channels-last"

    info = PredictorInfo(
        weights_path=resolved.path,
        weights_source=resolved.source,
        sha256=sha256,
        backend="torch" if isinstance(network, _TorchNetwork) else "fast",
        size=size,
        threads=n_threads,
        backend_note=note,
        fallback=fallback,
    )
    return Predictor(network, info)
