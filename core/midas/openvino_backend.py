"""The fast CPU backend: our MidasSmall converted once to OpenVINO, cached on disk, checked against torch.

Why OpenVINO: on the project's 2-core CPU it ran MiDaS small faster than ONNX Runtime
and torch (see ``python -m bench``), it converts straight from the torch module (no
ONNX exporter needed), and it compiles one model per input shape.

The cache. :func:`load_openvino_model` keeps one entry per
``(weights SHA-256, OpenVINO version, cache format)`` under ``cache_dir`` (default
:func:`default_cache_dir`)::

    <cache_dir>/<key>/midas_small.xml, .bin   the network, float32, input 1x3x?x? (any h, w)
                      selfcheck.npz           fixed inputs and the torch outputs for them
                      meta.json               what the key stands for, in full

The first call converts (tens of seconds; it reports progress through ``status``);
later calls read the entry. A new checkpoint, a new OpenVINO or a new conversion
recipe gets a new entry. Entries are written to a temporary folder and renamed into
place, under a file lock, so concurrent processes never see half an entry.

The self-check. After a conversion, every stored input (square NxN and landscape
3N/4xN) runs through OpenVINO and must match the torch output stored with it within
``1e-3`` of its maximum (the reference tolerance); every later load repeats the check on
the landscape input, the shape of most photos. A failure raises
:class:`FastBackendError`; ``load_predictor(backend="auto")`` then uses torch and says why.

Shapes. The network input is 1x3xhxw with h, w multiples of 32 that depend on the
aspect ratio. Each (h, w) is compiled once per process, as a static shape (about 0.2-0.5 s),
and kept in a small LRU (:data:`MAX_COMPILED_SHAPES`). Measured on the 2-core dev box, a
static shape ran 5-15% faster than one dynamic-shape model and held ~125 MB against the
dynamic model's ~290 MB. Compiled blobs are not cached on disk: each is a 66 MB copy
of the weights, per shape.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from core.midas.download import hub_checkpoint_dir
from core.midas.errors import WeightsError

__all__ = [
    "CACHE_ENV_VAR",
    "MAX_COMPILED_SHAPES",
    "REQUIREMENT",
    "FastBackendError",
    "FastBackendUnavailableError",
    "OpenVinoModel",
    "default_cache_dir",
    "load_openvino_model",
]

#: What to install for this backend (also in requirements.txt).
REQUIREMENT = "openvino>=2026.4"
#: Compiled input shapes kept per model (90-125 MB of memory each, measured).
MAX_COMPILED_SHAPES = 4
#: Environment variable naming the cache folder (see :func:`default_cache_dir`).
CACHE_ENV_VAR = "MIDAS_FAST_CACHE"
#: Bump when the conversion recipe changes: old cache entries are then ignored.
CACHE_FORMAT = 1
#: The self-check bound: max |openvino - torch| <= SELF_CHECK_TOLERANCE * max |torch|.
SELF_CHECK_TOLERANCE = 1e-3

_MODEL_XML = "midas_small.xml"
_SELFCHECK = "selfcheck.npz"
_META = "meta.json"
# Ask for float32 explicitly: on CPUs with bf16 units OpenVINO would otherwise pick bf16.
_COMPILE_CONFIG = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}

StatusFn = Callable[[str], None]


class FastBackendError(RuntimeError):
    """The OpenVINO model could not be built, loaded, or failed its self-check against torch."""


class FastBackendUnavailableError(FastBackendError):
    """OpenVINO is not installed (or cannot be imported) in this Python environment."""


def _import_openvino() -> Any:
    try:
        import openvino
    except ImportError as e:
        raise FastBackendUnavailableError(
            f"The fast backend needs OpenVINO, which cannot be imported here ({e}). Install it with "
            f"`pip install '{REQUIREMENT}'`, or use backend='torch'."
        ) from e
    return openvino


def default_cache_dir() -> Path:
    """Where converted models live: ``$MIDAS_FAST_CACHE`` if set, else ``<torch hub dir>/midas_fast``.

    The hub dir honours ``TORCH_HOME``. ``MIDAS_FAST_CACHE`` lets several processes with
    different weights caches (e.g. test servers) share one conversion.
    """
    override = os.environ.get(CACHE_ENV_VAR)
    return Path(override).expanduser() if override else hub_checkpoint_dir().parent / "midas_fast"


def _stderr_status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _entry_key(sha256: str, ov_version: str) -> str:
    version_tag = hashlib.sha256(ov_version.encode()).hexdigest()[:8]
    # the IR takes every input shape (1x3x?x?); static shapes are compiled in memory only
    return f"{sha256[:16]}-ov{ov_version.split('-')[0]}-{version_tag}-1x3xhxw-f{CACHE_FORMAT}"


class OpenVinoModel:
    """MiDaS small compiled by OpenVINO, callable like the network: 1x3xhxw -> hxw.

    Thread-safe: each call borrows an infer request from a per-shape pool (creating one
    when all are busy), so concurrent calls never share a request.

    Attributes:
        entry_dir: the cache entry this model was read from.
        version: OpenVINO's version string.
        self_check_error: max |openvino - torch| / max |torch| over the stored check inputs.
    """

    def __init__(self, ov: Any, entry_dir: Path, threads: int | None = None) -> None:
        self.entry_dir = entry_dir
        self.version = str(ov.__version__)
        self._core = ov.Core()
        self._config = dict(_COMPILE_CONFIG)
        if threads:
            self._config["INFERENCE_NUM_THREADS"] = int(threads)
        self._model = self._core.read_model(str(entry_dir / _MODEL_XML))
        self._lock = threading.Lock()
        # (h, w) -> (compiled model, idle infer requests), least recently used first
        self._compiled: OrderedDict[tuple[int, int], tuple[Any, queue.SimpleQueue]] = OrderedDict()
        self.self_check_error = float("nan")

    @property
    def compiled_shapes(self) -> list[tuple[int, int]]:
        """The (h, w) currently compiled, least recently used first."""
        with self._lock:
            return list(self._compiled)

    def _for_shape(self, hw: tuple[int, int]) -> tuple[Any, queue.SimpleQueue, float]:
        """The compiled model and idle requests for ``hw``, and the seconds this call spent compiling it."""
        with self._lock:  # held while compiling: two threads never compile the same shape
            entry = self._compiled.get(hw)
            compile_seconds = 0.0
            if entry is None:
                start = time.perf_counter()
                model = self._model.clone()
                model.reshape([1, 3, *hw])
                try:
                    compiled = self._core.compile_model(model, "CPU", self._config)
                except RuntimeError as e:
                    raise FastBackendError(
                        f"OpenVINO could not compile MiDaS small for a 1x3x{hw[0]}x{hw[1]} input ({e}). "
                        "Use backend='torch'."
                    ) from e
                compile_seconds = time.perf_counter() - start
                entry = (compiled, queue.SimpleQueue())
                self._compiled[hw] = entry
                while len(self._compiled) > MAX_COMPILED_SHAPES:
                    self._compiled.popitem(last=False)  # in-flight calls keep their own reference
            else:
                self._compiled.move_to_end(hw)
            return (*entry, compile_seconds)

    def __call__(self, net_input: np.ndarray) -> np.ndarray:
        """Run the network.

        Args:
            net_input: 1x3xhxw float32, h and w multiples of 32.

        Returns:
            hxw float32 raw relative inverse depth (a new array).
        """
        return self.infer(net_input)[0]

    def infer(self, net_input: np.ndarray) -> tuple[np.ndarray, float]:
        """Run the network, and say how long this call spent compiling a new input shape.

        Args:
            net_input: 1x3xhxw float32, h and w multiples of 32.

        Returns:
            ``(output, compile_seconds)``: hxw float32 raw relative inverse depth (a new
            array), and the seconds spent compiling the network for this (h, w), which is
            0.0 when the shape was already compiled (the usual case after its first use).
        """
        if not isinstance(net_input, np.ndarray) or net_input.ndim != 4 or net_input.shape[:2] != (1, 3):
            raise ValueError(f"expected a 1x3xhxw numpy array, got {getattr(net_input, 'shape', type(net_input))}")
        h, w = int(net_input.shape[2]), int(net_input.shape[3])
        if h % 32 or w % 32 or h < 32 or w < 32:
            raise ValueError(f"h and w must be positive multiples of 32, got {h}x{w}")
        x = np.ascontiguousarray(net_input, dtype=np.float32)
        compiled, idle, compile_seconds = self._for_shape((h, w))
        try:
            request = idle.get_nowait()
        except queue.Empty:
            request = compiled.create_infer_request()
        try:
            result = request.infer({0: x}, share_inputs=True, share_outputs=False)
            out = np.asarray(result[0])  # 1xhxw float32, owned by us (share_outputs=False)
        finally:
            idle.put(request)
        return out.reshape(h, w), compile_seconds

    def check_against(self, inputs: list[np.ndarray], expected: list[np.ndarray]) -> float:
        """Largest relative error against torch outputs; raises when above the tolerance.

        Raises:
            FastBackendError: an output differs by more than ``SELF_CHECK_TOLERANCE`` of the
                torch output's maximum, or is not finite.
        """
        worst = 0.0
        for x, ref in zip(inputs, expected, strict=True):
            out = self(x)
            scale = float(np.abs(ref).max()) or 1.0
            err = float(np.abs(out.astype(np.float64) - ref).max() / scale) if np.isfinite(out).all() else np.inf
            worst = max(worst, err)
            if not err <= SELF_CHECK_TOLERANCE:
                raise FastBackendError(
                    f"the OpenVINO model failed its self-check: on a fixed 1x3x{x.shape[2]}x{x.shape[3]} input "
                    f"it differs from torch by {err:.2e} of the maximum (allowed {SELF_CHECK_TOLERANCE:.0e}). "
                    f"Delete {self.entry_dir} to rebuild it, or use backend='torch'."
                )
        self.self_check_error = worst
        return worst


def _selfcheck_inputs(size: int) -> list[np.ndarray]:
    """Two fixed network inputs, 3N/4xN landscape then NxN square, from a textured synthetic image."""
    from core.midas.transforms import preprocess  # local: keeps this module's import light

    rng = np.random.default_rng(20240605)
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    base = np.stack([xx / 640, yy / 480, 0.5 + 0.5 * np.sin(xx / 23) * np.cos(yy / 17)], axis=-1)
    image = np.clip(base * 200 + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)  # 480x640x3
    return [preprocess(image, size).numpy(), preprocess(image[:, :480], size).numpy()]  # 1x3x(3N/4)xN, 1x3xNxN


def _convert(weights_path: Path, tmp_dir: Path, sha256: str, size: int, ov: Any) -> None:
    """Trace our torch model, save it as OpenVINO IR (float32), and store torch's check outputs."""
    import torch

    from core.midas.model import create_midas_small
    from core.midas.checkpoint import read_checkpoint

    model = create_midas_small(read_checkpoint(weights_path))
    inputs = _selfcheck_inputs(size)
    with torch.inference_mode():
        expected = [model(torch.from_numpy(x))[0].numpy() for x in inputs]
    with warnings.catch_warnings():
        # tracing turns the model's Python-side shape checks into constants and torch marks
        # jit.trace deprecated; neither changes the traced graph, which the self-check verifies
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        ov_model = ov.convert_model(model, example_input=torch.from_numpy(inputs[0]), input=[1, 3, -1, -1])
    ov.save_model(ov_model, str(tmp_dir / _MODEL_XML), compress_to_fp16=False)
    np.savez(tmp_dir / _SELFCHECK, **{f"input{i}": x for i, x in enumerate(inputs)},
             **{f"torch{i}": y for i, y in enumerate(expected)})
    meta = {"weights_sha256": sha256, "openvino": str(ov.__version__), "cache_format": CACHE_FORMAT,
            "torch": torch.__version__, "input": "1x3xhxw, h and w multiples of 32",
            "selfcheck_shapes": [list(x.shape) for x in inputs], "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    (tmp_dir / _META).write_text(json.dumps(meta, indent=2))


def _read_selfcheck(entry_dir: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    with np.load(entry_dir / _SELFCHECK) as data:
        n = sum(1 for k in data.files if k.startswith("input"))
        return [data[f"input{i}"] for i in range(n)], [data[f"torch{i}"] for i in range(n)]


def _entry_is_complete(entry_dir: Path, sha256: str) -> bool:
    try:
        meta = json.loads((entry_dir / _META).read_text())
    except (OSError, ValueError):
        return False
    files = (entry_dir / _MODEL_XML, entry_dir / _MODEL_XML.replace(".xml", ".bin"), entry_dir / _SELFCHECK)
    return meta.get("weights_sha256") == sha256 and all(f.is_file() for f in files)


def load_openvino_model(
    weights_path: str | os.PathLike[str],
    sha256: str,
    size: int = 256,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    status: StatusFn | None = None,
) -> OpenVinoModel:
    """Load MiDaS small on OpenVINO, converting and caching it on first use, and self-check it.

    Args:
        weights_path: the MiDaS small checkpoint (read only when converting).
        sha256: its SHA-256, the cache key (``core.midas.download.sha256_file``).
        size: network size N; the self-check inputs are NxN and 3N/4xN.
        cache_dir: cache root; default :func:`default_cache_dir`.
        threads: OpenVINO inference threads (default: OpenVINO's choice, all cores).
        status: called with one line per step of a conversion (default: printed to stderr).

    Returns:
        The checked model; ``model.self_check_error`` holds the measured error.

    Raises:
        FastBackendUnavailableError: OpenVINO is not installed.
        FastBackendError: conversion, loading or the self-check failed.
    """
    ov = _import_openvino()
    say = status or _stderr_status
    if not (isinstance(sha256, str) and len(sha256) == 64):
        raise ValueError(f"sha256 must be the 64-hex-digit SHA-256 of the weights, got {sha256!r}")
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    entry_dir = root / _entry_key(sha256, str(ov.__version__))
    lock = FileLock(root / f".{entry_dir.name}.lock")  # a second process waits for the first conversion
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except OSError as e:
        raise FastBackendError(
            f"cannot write the OpenVINO model cache at {root} ({e}). Pass a writable cache_dir, or use backend='torch'."
        ) from e
    try:
        for attempt in (1, 2):
            converted = False
            if not _entry_is_complete(entry_dir, sha256):
                _build_entry(weights_path, sha256, size, root, entry_dir, ov, say)
                converted = True
            try:
                model = OpenVinoModel(ov, entry_dir, threads)
                inputs, expected = _read_selfcheck(entry_dir)
            except Exception as e:  # noqa: BLE001 - any unreadable file means a damaged entry
                if converted or attempt == 2:
                    raise FastBackendError(
                        f"the OpenVINO model at {entry_dir} cannot be read ({type(e).__name__}: {e}). "
                        "Use backend='torch'."
                    ) from e
                say(f"the cached OpenVINO model at {entry_dir} is damaged ({type(e).__name__}: {e}); rebuilding it")
                shutil.rmtree(entry_dir, ignore_errors=True)
                continue
            # every stored case right after converting, then the landscape one: a mismatch is
            # not rebuilt automatically (a runtime that computes wrongly would fail again)
            n = len(inputs) if converted else 1
            model.check_against(inputs[:n], expected[:n])
            return model
        raise AssertionError("unreachable")  # attempt 2 always returns or raises
    finally:
        lock.release()


def _build_entry(
    weights_path: str | os.PathLike[str], sha256: str, size: int, root: Path, entry_dir: Path, ov: Any, say: StatusFn
) -> None:
    say(f"converting MiDaS small to OpenVINO {ov.__version__.split('-')[0]} (one time, ~10-60 s) into {entry_dir}")
    start = time.perf_counter()
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{entry_dir.name}.", dir=root))
    try:
        try:
            _convert(Path(weights_path), tmp_dir, sha256, size, ov)
        except WeightsError:
            raise  # a bad checkpoint is not a backend problem: torch could not use it either
        except Exception as e:  # noqa: BLE001 - any conversion failure means "no fast backend"
            raise FastBackendError(
                f"converting MiDaS small to OpenVINO failed ({type(e).__name__}: {e}). Use backend='torch'."
            ) from e
        shutil.rmtree(entry_dir, ignore_errors=True)  # an incomplete or stale entry
        os.rename(tmp_dir, entry_dir)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    say(f"converted in {time.perf_counter() - start:.1f} s; checking it against torch")
