"""One input of a batch job, bytes in, files and a result row out: the same code on every engine.

The three stages are separate so that the local engine can run them on different threads:
:func:`read_input` (the file's bytes), :func:`decode` (the one image decoder) with
:func:`infer` (the predictor), and :func:`write` (the formats of :mod:`core.batch.outputs`,
written atomically by :class:`core.batch.storage.Storage`). A bad input never raises: its
row says ``failed`` with a one-line reason.
"""
from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.batch.outputs import write_outputs
from core.batch.results import Task, row
from core.batch.storage import Storage
from core.io.images import decode_with_reduction

__all__ = ["Done", "decode", "infer", "read_input", "unreadable", "write"]


@dataclass
class Done:
    """An input on its way through the stages; :attr:`row` is its result once written."""

    task: Task
    data: bytes | None = None
    rgb: np.ndarray | None = None
    depth: np.ndarray | None = None
    note: str = ""
    error: str = ""
    info: Any = None  # the predictor's PredictorInfo
    outputs: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def row(self) -> dict[str, Any]:
        status = "failed" if self.error else "ok"
        return row(path=self.task.path, stem=self.task.stem, status=status, reason=self.error or self.note,
                   outputs=[] if self.error else self.outputs, **self.values)


def _one_line(error: BaseException) -> str:
    """The error as one line; the decoder's messages as they are, others with their type."""
    from core.io.images import ImageDecodeError

    text = " ".join(str(error).split())
    return text if isinstance(error, ImageDecodeError) and text else f"{type(error).__name__}: {text}".rstrip(": ")


def unreadable(path: str) -> str | None:
    """Why ``path`` cannot be read as a file (missing, a folder, a device), or None if it can."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return f"Cannot read {path} ({e.strerror or e}): check the path and its permissions."
    if not stat.S_ISREG(mode):
        return f"Cannot read {path}: it is not a regular file; pass the path of an image file."
    return None


def read_input(done: Done) -> Done:
    """Read the input file's bytes (local paths)."""
    start = time.perf_counter()
    reason = unreadable(done.task.path)
    if reason is None:
        try:
            with open(done.task.path, "rb") as f:
                done.data = f.read()
        except OSError as e:
            reason = f"Cannot read {done.task.path} ({e.strerror or e}): check the path and its permissions."
    done.error = reason or ""
    done.values["decode_s"] = time.perf_counter() - start
    return done


def decode(done: Done) -> Done:
    """Decode :attr:`Done.data` into RGB (a JPEG above the pixel budget comes back reduced)."""
    if done.error:
        return done
    start = time.perf_counter()
    done.values["input_bytes"] = len(done.data)
    try:
        decoded = decode_with_reduction(done.data)
    except Exception as e:  # noqa: BLE001 - a bad file is a row, never the end of the job
        done.error = _one_line(e)
    else:
        done.rgb = decoded.rgb
        done.note = str(decoded.reduction) if decoded.reduction is not None else ""
        h, w = decoded.rgb.shape[:2]
        done.values.update(width=w, height=h)
    done.data = None  # the bytes are not needed any more
    done.values["decode_s"] = done.values.get("decode_s", 0.0) + time.perf_counter() - start
    return done


def infer(done: Done, predictor: Any) -> Done:
    """Run the predictor on :attr:`Done.rgb` (HxWx3 uint8 -> HxW float32)."""
    info = done.info = predictor.info
    done.values.update(weights_sha256=info.sha256, backend=info.backend, threads=info.threads)
    if done.error:
        return done
    start = time.perf_counter()
    try:
        prediction = predictor.run(done.rgb)
        done.depth = prediction.depth
    except Exception as e:  # noqa: BLE001 - e.g. an image the network cannot take
        done.error = _one_line(e)
    else:
        _, _, net_h, net_w = prediction.net_input.shape  # 1x3xhxw
        done.values.update(net_width=int(net_w), net_height=int(net_h))
    done.rgb = None
    done.values["inference_s"] = time.perf_counter() - start
    return done


def write(done: Done, storage: Storage, formats: Sequence[str], colormap: str) -> dict[str, Any]:
    """Write the input's missing files (as ``predict`` writes them, each atomically) and return its row."""
    start = time.perf_counter()
    if not done.error:
        try:
            done.outputs = write_outputs(
                storage, done.task.stem, done.depth, done.info, formats=formats, colormap=colormap,
                source_size=(done.values["width"], done.values["height"]), reduction=done.note)
        except Exception as e:  # noqa: BLE001 - e.g. a full disk: this input failed, the job goes on
            done.error = _one_line(e)
    done.depth = None
    seconds = time.perf_counter() - start
    done.values["write_s"] = seconds
    done.values["total_s"] = sum(done.values.get(k, 0.0) for k in ("decode_s", "inference_s")) + seconds
    return done.row

