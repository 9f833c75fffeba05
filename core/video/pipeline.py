"""A video clip to depth: a heatmap MP4, a side-by-side MP4 and the raw depth as ``.npz``.

:func:`process_video` streams the clip, so memory stays flat however long it is (a few frames
in flight, never a list of all of them). Each frame's network output (at the network's size,
e.g. 256x128 for a 16:9 clip) is what everything is computed from:

- **per-frame** mode is one pass: decode -> network -> the full-size map (exactly
  ``predictor.predict(frame.rgb)``), normalised on its own -> heatmap -> H.264;
- **stable** mode is two: first decode -> network -> :class:`core.video.stable.Aligner`, which
  fits each frame's scale and shift at the network's size, the outputs appended to a small
  temporary file; then, once every fit is known, the display window is fixed
  (:func:`core.video.stable.clip_window` over the aligned outputs) and the clip is decoded
  again and drawn as in per-frame mode, with each frame's fit and the clip's window.

Decoding runs in a thread of its own, ahead of the main thread, and each of the two videos is
encoded in a thread of its own: PyAV, OpenVINO, torch and OpenCV release the GIL, so the
stages overlap. Every frame is drawn from its float16 raw map, as the ``.npz`` keeps it, by
:meth:`Display.shown`, so the videos and a redraw from the ``.npz`` (the Video page's scrubber)
are the same picture. Everything is written into a temporary folder inside ``out_dir`` and
renamed into place only when all the files are complete: an error or a cancel leaves no
half-written file behind.

The ``.npz`` holds ``depth``, float16 (frames, H, W), each frame exactly
``predictor.predict(frame.rgb)`` rounded to float16 (relative error at most 2**-11, about
4.9e-4), and ``timestamps``, float64 (frames,), in seconds from the first frame. Its members
are stored uncompressed, so :func:`open_depth_npz` reads one frame, or one pixel of every
frame, without loading the clip; :class:`Display` (on the result) redraws any frame exactly as
the heatmap video shows it, from that frame's scale and shift and the clip's window.
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import queue
import shutil
import struct
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from core.io.exports import png16_bytes, side_by_side
from core.io.metadata import DepthFacts, facts_for, sidecar_bytes, sidecar_name
from core.maps.colormaps import COLORMAPS, colorize
from core.midas.transforms import preprocess, upsample_to
from core.video.reader import MAX_VIDEO_SECONDS, Sampling, VideoDecodeError, VideoFrame, probe_video, read_frames
from core.video.stable import MODES, Aligner, clip_window, flicker, normalized
from core.video.writer import Mp4Writer

__all__ = [
    "STAGES", "Display", "FramesOnDisk", "VideoCancelled", "VideoResult", "depth_over_time", "open_depth_npz",
    "png16_zip", "process_video",
]

_T = TypeVar("_T")
_AHEAD = 4  # frames decoded (or waiting to be encoded) ahead of the main thread
_COPY_CHUNK = 8 << 20  # bytes copied at a time from the temporary depth file into the .npz


class VideoCancelled(Exception):
    """``cancel()`` returned True: processing stopped and no output file was left behind."""


@dataclass(frozen=True)
class Display:
    """How the heatmap video drew each frame from its raw depth: 16 bytes a frame, not the maps.

    Attributes:
        mode: one of :data:`core.video.stable.MODES`.
        scale: (frames,) float64, each frame's alignment ``scale`` (1 in per-frame mode).
        shift: (frames,) float64, each frame's alignment ``shift`` (0 in per-frame mode).
        window: the clip's display window ``(lo, hi)`` in stable mode, None in per-frame mode.
    """

    mode: str
    scale: np.ndarray
    shift: np.ndarray
    window: tuple[float, float] | None

    def shown(self, k: int, raw: np.ndarray) -> np.ndarray:
        """Frame ``k`` normalised as the heatmap video shows it: near = 1, far = 0.

        Args:
            k: frame index, 0 <= k < frames.
            raw: HxW raw depth of frame ``k`` (the ``.npz``'s, float16 or float32).

        Returns:
            HxW float32 in [0, 1]: ``scale[k] * raw + shift[k]`` in the clip's window (stable),
            or ``raw`` min-max normalised on its own (per-frame).

        Example:
            >>> d = Display("stable", np.array([2.0]), np.array([1.0]), (1.0, 5.0))
            >>> d.shown(0, np.array([[0.0, 1.0, 2.0]], np.float32)).tolist()
            [[0.0, 0.5, 1.0]]
        """
        if not 0 <= k < len(self.scale):
            raise IndexError(f"frame {k} out of range for {len(self.scale)} frames")
        aligned = np.asarray(raw, np.float32) * np.float32(self.scale[k])  # HxW float16 -> float32
        aligned += np.float32(self.shift[k])  # Aligner.align's float32 steps, on the full-size map
        return normalized(aligned, self.mode, self.window)  # process_video draws each frame with this


@dataclass(frozen=True)
class VideoResult:
    """What :func:`process_video` wrote and measured.

    Attributes:
        depth_mp4: the heatmap video, H.264 MP4.
        side_by_side_mp4: each frame next to its heatmap, H.264 MP4.
        depth_npz: ``depth`` float16 (frames, H, W) raw predictions, ``timestamps`` float64 (s).
        frames: number of frames processed (after sampling).
        flicker: mean change of the displayed (normalised) map between consecutive frames over
            static pixels, in the chosen mode; None when no pair of frames had a static pixel.
        flicker_per_frame: the same figure with per-frame min-max normalisation, the baseline.
        seconds: wall time of the whole run.
        display: each frame's scale and shift and the window: :meth:`Display.shown` redraws
            frame k of the heatmap video from frame k of the ``.npz``.
    """

    depth_mp4: Path
    side_by_side_mp4: Path
    depth_npz: Path
    frames: int
    flicker: float | None
    flicker_per_frame: float | None
    seconds: float
    display: Display | None = None


def process_video(
    data_or_path: bytes | str | os.PathLike,
    predictor,
    out_dir: str | os.PathLike,
    stem: str,
    *,
    mode: str = "stable",
    sampling: Sampling = Sampling(),
    cmap: str = "inferno",
    progress: Callable[[int, int | None, float, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    max_seconds: float | None = MAX_VIDEO_SECONDS,
) -> VideoResult:
    """Predict depth for every (sampled) frame of a clip and write three files.

    Writes ``out_dir/<stem>_depth.mp4``, ``<stem>_side_by_side.mp4`` and ``<stem>_depth.npz``
    (replacing files of those names), and ``<stem>_depth.npz.json``, the sidecar that says what
    the ``.npz`` holds (:mod:`core.io.metadata`; when the predictor has ``.info``), all at the
    clip's displayed size (the MP4s padded to even sizes as :class:`core.video.writer.Mp4Writer`
    does).

    Args:
        data_or_path: the clip's bytes, or a path to it.
        predictor: a :class:`core.midas.predictor.Predictor`, or anything with ``predict(rgb)``
            (then its full-size output stands for the network's).
        out_dir: output folder (created if missing).
        stem: file-name stem of the outputs, e.g. ``"clip"``.
        mode: one of :data:`core.video.stable.MODES`: ``"stable"`` aligns each frame to a running
            reference and draws the clip with one fixed window; ``"per-frame"`` normalises each
            frame on its own.
        sampling: which frames to process (every frame, a target fps, a frame cap).
        cmap: heatmap colormap, a key of :data:`core.maps.colormaps.COLORMAPS`.
        progress: called after each frame with ``(frames done, frames expected or None, seconds
            elapsed, stage)``, the stage a key of :data:`STAGES`: in stable mode ``"depth"``
            (the first pass) and then ``"encoding"`` (the second, counting from 1 again); in
            per-frame mode ``"depth and encoding"``.
        cancel: polled before each frame; when it returns True processing stops, the partial
            outputs are deleted and :class:`VideoCancelled` is raised.
        max_seconds: the clip-length limit (None: none). A longer clip is refused unless the
            sampling's frame cap stops within it (see :func:`core.video.reader.read_frames`).

    Raises:
        core.video.reader.VideoDecodeError: the clip cannot be read (before any output is kept).
        VideoCancelled: ``cancel()`` returned True.
        ValueError: bad ``mode``, ``cmap``, ``stem`` or ``sampling``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    if cmap not in COLORMAPS:
        raise ValueError(f"unknown colormap {cmap!r}; expected one of {sorted(COLORMAPS)}")
    if not isinstance(stem, str) or not stem or Path(stem).name != stem:
        raise ValueError(f"stem must be a plain file-name stem such as 'clip', got {stem!r}")
    if not isinstance(sampling, Sampling):
        raise TypeError(f"sampling must be a core.video.reader.Sampling, got {type(sampling).__name__}")
    start = time.perf_counter()
    info = probe_video(data_or_path, max_seconds=None)  # refuses an unreadable or too large clip up front
    frames_of = functools.partial(read_frames, data_or_path, sampling, max_seconds=max_seconds)
    total = _expected_frames(info.frames, info.duration_s, info.fps, sampling)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = {kind: out / f"{stem}{suffix}" for kind, suffix in _OUTPUTS.items()}
    work = Path(tempfile.mkdtemp(prefix=f".{stem}.", suffix=".partial", dir=out))
    staged = {kind: work / path.name for kind, path in final.items()}
    stop = _Stopper(cancel)
    report = _Reporter(progress, start)
    try:
        if mode == "per-frame":
            drawn = _one_pass(frames_of, predictor, cmap, _output_fps(info.fps, sampling, ()), staged, work, stop,
                              report.stage("depth and encoding", total))
            display = Display(mode, np.ones(drawn.frames), np.zeros(drawn.frames), None)
        else:
            net_path = work / "net.f32"
            nets, timestamps, fits = _predict_pass(frames_of, predictor, net_path, stop, report.stage("depth", total))
            display = Display(mode, fits[:, 0].copy(), fits[:, 1].copy(), clip_window(_AlignedOutputs(nets, fits)))
            drawn = _draw_pass(frames_of, nets, display, cmap, _output_fps(info.fps, sampling, timestamps), staged,
                               work, stop, report.stage("encoding", len(timestamps)))
            net_path.unlink()
        _write_npz(staged["npz"], drawn.raw_path, drawn.shape, np.asarray(drawn.timestamps, np.float64))
        drawn.raw_path.unlink()
        sidecar = _npz_sidecar(predictor, drawn.shape, drawn.frames)  # what the .npz holds, in <stem>_depth.npz.json
        if sidecar is not None:
            final["npz_json"] = out / sidecar_name(final["npz"].name)
            staged["npz_json"] = work / final["npz_json"].name
            staged["npz_json"].write_bytes(sidecar)
        for kind, path in staged.items():
            os.replace(path, final[kind])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return VideoResult(
        depth_mp4=final["depth"],
        side_by_side_mp4=final["side"],
        depth_npz=final["npz"],
        frames=drawn.frames,
        flicker=drawn.flicker.value(),
        flicker_per_frame=drawn.flicker_per_frame.value(),
        seconds=time.perf_counter() - start,
        display=display,
    )


_OUTPUTS = {"depth": "_depth.mp4", "side": "_side_by_side.mp4", "npz": "_depth.npz"}

#: The stages :func:`process_video` reports progress in, and what each is doing.
STAGES = {
    "depth": "Predicting depth",
    "encoding": "Encoding the videos",
    "depth and encoding": "Predicting depth and encoding the videos",
}


def _expected_frames(frames: int | None, duration_s: float, fps: float, sampling: Sampling) -> int | None:
    """The number of frames the sampling will give, when the container says enough to know."""
    expected = frames
    if sampling.fps is not None and duration_s > 0 and sampling.fps < fps:
        by_rate = int(np.ceil(duration_s * sampling.fps - 1e-9))
        expected = by_rate if expected is None else min(expected, by_rate)
    if sampling.max_frames is not None:
        expected = sampling.max_frames if expected is None else min(expected, sampling.max_frames)
    return expected


def _output_fps(fps: float, sampling: Sampling, timestamps: Sequence[float]) -> float:
    """Nominal frame rate of the output videos (the frames carry their own timestamps).

    The container's rate, capped by the sampling's; from the frames' times when the container
    gives none (0) and they are known (stable mode's first pass), else 25.
    """
    if fps <= 0 and len(timestamps) > 1 and timestamps[-1] > 0:
        fps = (len(timestamps) - 1) / timestamps[-1]
    fps = fps if fps > 0 else 25.0
    return min(fps, sampling.fps) if sampling.fps is not None else fps


class _Stopper:
    """``cancel`` polled between frames; also stops the helper threads on any error."""

    def __init__(self, cancel: Callable[[], bool] | None) -> None:
        self._cancel = cancel
        self.event = threading.Event()

    def check(self, done: int) -> None:
        if self._cancel is not None and self._cancel():
            self.event.set()
            raise VideoCancelled(f"cancelled after {done} frames; no file was written")


class _Reporter:
    """The ``progress`` callback of :func:`process_video`, bound to one stage and its total."""

    def __init__(self, progress, start: float) -> None:
        self._progress, self._start = progress, start

    def stage(self, name: str, total: int | None) -> Callable[[int], None]:
        def report(done: int) -> None:
            if self._progress is not None:
                self._progress(done, total, time.perf_counter() - self._start, name)
        return report


def _with_inputs(frames: Iterator[VideoFrame], predictor) -> Iterator[tuple[VideoFrame, np.ndarray | None]]:
    """Each frame with its network input, made here (in the decoding thread) to overlap the network.

    The input is None for a predictor with only ``predict(rgb)``.
    """
    prepare = hasattr(predictor, "network_output")
    for frame in frames:
        yield frame, (preprocess(frame.rgb, predictor.size).numpy() if prepare else None)  # -> 1x3xhxw float32


def _network_output(predictor, frame: VideoFrame, net_input: np.ndarray | None) -> np.ndarray:
    """The frame's raw network output (hxw float32), which ``predict`` upsamples to the frame's size.

    It waits for a slot of the predictor's inference gate, as ``predict`` does. A predictor
    with only ``predict(rgb)`` gives its full-size map, which stands for the output.
    """
    if net_input is None:
        return np.asarray(predictor.predict(frame.rgb), np.float32)
    with predictor.gate.slot():
        return np.ascontiguousarray(predictor.network_output(net_input).numpy())


def _predict_pass(
    frames_of: Callable[[], Iterator[VideoFrame]], predictor, net_path: Path, stop: _Stopper,
    report: Callable[[int], None],
) -> tuple[FramesOnDisk, list[float], np.ndarray]:
    """Stable mode's first pass: decode, run the network and align each frame's output.

    Returns the network outputs (on disk, in ``net_path``), the timestamps and each frame's
    (scale, shift), (frames, 2) float64.
    """
    aligner = Aligner("stable")
    timestamps: list[float] = []  # 8 bytes a frame: fine for any clip the reader accepts
    fits: list[tuple[float, float]] = []  # 16 bytes a frame
    shape = net_shape = (0, 0)
    with open(net_path, "wb") as nets:
        for frame, net_input in _ahead(_with_inputs(frames_of(), predictor), stop.event):
            stop.check(len(timestamps))
            shape = _check_size(frame, shape)
            net = _network_output(predictor, frame, net_input)  # hxw float32
            net_shape = net.shape
            nets.write(np.ascontiguousarray(net, "<f4").tobytes())
            aligner.align(net)
            fit = aligner.last_fit
            fits.append((fit.scale, fit.shift) if fit is not None else (1.0, 0.0))
            timestamps.append(frame.timestamp_s)
            report(len(timestamps))
    if not timestamps:
        raise VideoDecodeError("No frame of this video was left to process: pick another clip or sample more frames.")
    return FramesOnDisk(net_path, np.float32, net_shape, len(timestamps)), timestamps, np.asarray(fits, np.float64)


class _AlignedOutputs(Sequence):
    """The network outputs as :class:`core.video.stable.Aligner` aligned them: ``scale * net + shift``."""

    def __init__(self, nets: FramesOnDisk, fits: np.ndarray) -> None:
        self._nets, self._fits = nets, fits

    def __len__(self) -> int:
        return len(self._nets)

    def __getitem__(self, k: int) -> np.ndarray:
        aligned = self._nets[k] * np.float32(self._fits[k, 0])  # the same float32 steps as Aligner.align
        aligned += np.float32(self._fits[k, 1])
        return aligned


@dataclass
class _Drawn:
    """What drawing the frames made: the raw float16 maps' file and the flicker figures."""

    raw_path: Path
    flicker: _FlickerMean
    flicker_per_frame: _FlickerMean
    timestamps: list[float]
    shape: tuple[int, int] = (0, 0)

    @property
    def frames(self) -> int:
        return len(self.timestamps)


class _Drawing:
    """Draws frames into the two MP4s and the raw file, each video encoded in a thread of its own.

    A context manager: the videos are complete when it exits without an error.
    """

    def __init__(self, cmap: str, fps: float, staged: dict[str, Path], work: Path, stop: _Stopper) -> None:
        self._cmap, self._fps, self._staged, self._stop = cmap, fps, staged, stop
        self.drawn = _Drawn(work / "raw.f16", _FlickerMean(), _FlickerMean(), [])
        self._stack = contextlib.ExitStack()
        self._prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (shown, per-frame, rgb)

    def __enter__(self) -> _Drawing:
        self._raw = self._stack.enter_context(open(self.drawn.raw_path, "wb"))
        return self

    def _open_videos(self, height: int, width: int) -> None:
        enter, event = self._stack.enter_context, self._stop.event
        heat = enter(Mp4Writer(self._staged["depth"], self._fps, width, height))
        side = enter(Mp4Writer(self._staged["side"], self._fps, 2 * width, height))
        self._heat = enter(_Behind(lambda item: heat.write(*item), event))
        self._side = enter(_Behind(lambda item: side.write(*item), event))

    def draw(self, frame: VideoFrame, net: np.ndarray, shown: Callable[[np.ndarray], np.ndarray]) -> None:
        """One frame: its raw map from the network output, then ``shown(raw)`` as the heatmap."""
        drawn = self.drawn
        drawn.shape = _check_size(frame, drawn.shape)
        if not drawn.timestamps:
            self._open_videos(*drawn.shape)
        # predict(frame.rgb), rounded to float16 as the .npz keeps it (OpenCV's conversion: 5x numpy's speed)
        raw = cv2.multiply(upsample_to(net, *drawn.shape), 1.0, dtype=cv2.CV_16F)  # HxW float32 -> float16
        self._raw.write(raw.data)
        norm = shown(raw)  # HxW float32 in [0, 1]
        per_frame = norm if shown is _per_frame else _per_frame(raw)  # the baseline the stable mode is compared to
        heat = colorize(norm, self._cmap, 0.0, 1.0)  # -> HxWx3 uint8
        self._heat.put((heat, frame.timestamp_s))
        self._side.put((side_by_side(frame.rgb, heat), frame.timestamp_s))
        if self._prev is not None:
            prev_norm, prev_per_frame, prev_rgb = self._prev
            change = flicker(prev_norm, norm, prev_rgb, frame.rgb)
            drawn.flicker.add(change)
            drawn.flicker_per_frame.add(
                change if per_frame is norm else flicker(prev_per_frame, per_frame, prev_rgb, frame.rgb)
            )
        self._prev = (norm, per_frame, frame.rgb)
        drawn.timestamps.append(frame.timestamp_s)

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stack.__exit__(exc_type, exc, tb)


def _per_frame(raw: np.ndarray) -> np.ndarray:
    return normalized(raw.astype(np.float32), "per-frame", None)


def _one_pass(
    frames_of: Callable[[], Iterator[VideoFrame]], predictor, cmap: str, fps: float, staged: dict[str, Path],
    work: Path, stop: _Stopper, report: Callable[[int], None],
) -> _Drawn:
    """Per-frame mode: decode, run the network, draw and encode, frame by frame."""
    done = 0
    with _Drawing(cmap, fps, staged, work, stop) as drawing, \
            _Behind(lambda item: drawing.draw(*item, _per_frame), stop.event, depth=2) as drawer:
        for frame, net_input in _ahead(_with_inputs(frames_of(), predictor), stop.event):
            stop.check(done)
            drawer.put((frame, _network_output(predictor, frame, net_input)))  # drawn while the next one's runs
            done += 1
            report(done)
    if not drawing.drawn.frames:
        raise VideoDecodeError("No frame of this video was left to process: pick another clip or sample more frames.")
    return drawing.drawn


def _draw_pass(
    frames_of: Callable[[], Iterator[VideoFrame]], nets: FramesOnDisk, display: Display, cmap: str, fps: float,
    staged: dict[str, Path], work: Path, stop: _Stopper, report: Callable[[int], None],
) -> _Drawn:
    """Stable mode's second pass: decode again and draw each frame with its fit and the clip's window."""
    frames = len(nets)
    with _Drawing(cmap, fps, staged, work, stop) as drawing:
        for k, frame in enumerate(_ahead(frames_of(), stop.event)):
            if k >= frames:
                break  # never more frames than the first pass predicted
            stop.check(k)
            drawing.draw(frame, nets[k], functools.partial(display.shown, k))
            report(k + 1)
    if drawing.drawn.frames < frames:
        raise VideoDecodeError(
            f"The clip gave {drawing.drawn.frames} frames on the second read, {frames} on the first: "
            "copy it to a local disk, or re-encode it, and try again."
        )
    return drawing.drawn


def _check_size(frame: VideoFrame, shape: tuple[int, int]) -> tuple[int, int]:
    here = (int(frame.rgb.shape[0]), int(frame.rgb.shape[1]))
    if shape != (0, 0) and here != shape:
        raise VideoDecodeError(
            f"the frame size changes from {shape[1]}x{shape[0]} to {here[1]}x{here[0]} at frame {frame.index}; "
            "re-encode the clip at one size and try again"
        )
    return here


class _FlickerMean:
    """Mean of the per-pair flicker figures, skipping pairs with no static pixel."""

    def __init__(self) -> None:
        self._sum, self._n = 0.0, 0

    def add(self, value: float | None) -> None:
        if value is not None:
            self._sum += value
            self._n += 1

    def value(self) -> float | None:
        return self._sum / self._n if self._n else None


class FramesOnDisk(Sequence):
    """(frames, H, W) maps stored raw, little-endian, C order, in a file: read a frame per index.

    Plain reads, not a memory map: a mapped file's pages count towards the process's resident
    memory once touched, which would grow with the clip's length. Indexing gives one HxW
    float32 frame; :meth:`pixels` reads a few pixels of every frame. :func:`open_depth_npz`
    opens the ``depth`` of a :func:`process_video` ``.npz`` as one.

    Args:
        path: the file.
        dtype: the stored dtype, e.g. ``np.float16``.
        shape: (H, W) of a frame.
        frames: number of frames.
        offset: byte offset of frame 0 in the file.
    """

    def __init__(self, path: str | os.PathLike, dtype, shape: tuple[int, int], frames: int, offset: int = 0) -> None:
        self._path = Path(path)
        self._dtype = np.dtype(dtype).newbyteorder("<")
        self.shape = (int(frames), int(shape[0]), int(shape[1]))
        self._offset = int(offset)
        self._frame_bytes = self.shape[1] * self.shape[2] * self._dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if not -len(self) <= k < len(self):
            raise IndexError(f"frame {k} out of range for {len(self)} frames")
        with open(self._path, "rb") as f:
            f.seek(self._offset + (k % len(self)) * self._frame_bytes)
            data = f.read(self._frame_bytes)
        if len(data) != self._frame_bytes:
            raise ValueError(f"{self._path.name} ends inside frame {k}: the file is truncated, process the clip again")
        return np.frombuffer(data, self._dtype).reshape(self.shape[1:]).astype(np.float32)

    def pixels(self, points: Sequence[tuple[int, int]]) -> np.ndarray:
        """(frames, len(points)) float32: column j is pixel ``points[j] = (x, y)`` in every frame.

        Reads ``len(points)`` values a frame, not the frames: fast and small for a long clip.
        The points must lie inside the frame (:func:`depth_over_time` checks them).
        """
        size = self._dtype.itemsize
        within = [(int(y) * self.shape[2] + int(x)) * size for x, y in points]  # byte offsets inside a frame
        out = np.empty((len(self), len(within)), self._dtype)
        fd = os.open(self._path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            for k in range(len(self)):
                start = self._offset + k * self._frame_bytes
                for j, at in enumerate(within):
                    out[k, j] = np.frombuffer(_pread(fd, size, start + at), self._dtype)[0]
        finally:
            os.close(fd)
        return out.astype(np.float32)


def _pread(fd: int, size: int, offset: int) -> bytes:
    """``size`` bytes at ``offset`` (``os.pread`` where the OS has it, as on Windows it is not)."""
    if hasattr(os, "pread"):
        data = os.pread(fd, size, offset)
    else:  # pragma: no cover - Windows
        os.lseek(fd, offset, os.SEEK_SET)
        data = os.read(fd, size)
    if len(data) != size:
        raise ValueError("the depth file is truncated: process the clip again")
    return data


def open_depth_npz(path: str | os.PathLike) -> tuple[FramesOnDisk, np.ndarray]:
    """The ``depth`` and ``timestamps`` of a :func:`process_video` ``.npz``, depth left on disk.

    ``np.load(mmap_mode=...)`` cannot map an array inside a zip; this can, because the
    pipeline stores the members uncompressed: ``depth`` is read from its place in the file, one
    frame (or one pixel a frame) at a time. Only ``timestamps`` (8 bytes a frame) is loaded.

    Args:
        path: the ``<stem>_depth.npz``.

    Returns:
        ``(depth, timestamps)``: depth as a :class:`FramesOnDisk` of shape (frames, H, W) whose
        frames are float32, timestamps float64 (frames,) in seconds.

    Raises:
        ValueError: the file is not such an ``.npz`` (no ``depth``, a compressed member, ...).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("depth.npy")
            with zf.open("timestamps.npy") as member:
                timestamps = np.lib.format.read_array(member, allow_pickle=False)
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError("its depth is compressed")
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            signature, name_len, extra_len = struct.unpack("<4s22xHH", f.read(30))  # the member's local header
            if signature != b"PK\x03\x04":
                raise ValueError("its zip directory points at no member")
            f.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(f)
            offset = f.tell()
    except (OSError, KeyError, zipfile.BadZipFile, struct.error, ValueError) as e:
        raise ValueError(
            f"{path.name} is not a depth .npz written by core.video (uncompressed `depth` and `timestamps`): "
            f"process the clip again ({e})"
        ) from e
    if len(shape) != 3 or fortran_order or dtype.kind != "f" or len(timestamps) != shape[0]:
        raise ValueError(f"{path.name}: `depth` must be C-order float (frames, H, W) with one timestamp a frame, "
                         f"got {dtype} {shape} and {len(timestamps)} timestamps: process the clip again")
    return FramesOnDisk(path, dtype, shape[1:], shape[0], offset), timestamps


def _npz_sidecar(predictor, shape: tuple[int, int], frames: int) -> bytes | None:
    """The ``.npz``'s JSON sidecar (:mod:`core.io.metadata`), or None for a predictor without ``.info``."""
    info = getattr(predictor, "info", None)
    if info is None:
        return None
    facts = facts_for(info, shape[1], shape[0]).raw("float16", (frames, *shape))
    return sidecar_bytes(
        facts,
        depth="float16 (frames, H, W): each frame's raw prediction, relative inverse depth, larger = nearer",
        timestamps="float64 (frames,): seconds from the first frame",
    )


def _write_npz(path: Path, raw_path: Path, shape: tuple[int, int], timestamps: np.ndarray) -> None:
    """An ``np.load``-able .npz: ``depth`` streamed from the raw float16 file, then ``timestamps``."""
    header = {"descr": np.dtype("<f2").str, "fortran_order": False, "shape": (len(timestamps), *shape)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        with zf.open("depth.npy", "w", force_zip64=True) as member, open(raw_path, "rb") as raw:
            np.lib.format.write_array_header_1_0(member, header)
            while chunk := raw.read(_COPY_CHUNK):
                member.write(chunk)
        with zf.open("timestamps.npy", "w") as member:
            np.lib.format.write_array(member, timestamps, allow_pickle=False)


_DONE = object()


def _ahead(items: Iterable[_T], stop: threading.Event, depth: int = _AHEAD) -> Iterator[_T]:
    """Iterate ``items`` in a background thread, at most ``depth`` items ahead of the consumer.

    An exception in the producer is re-raised in the consumer; leaving the loop early (a
    break, an error, a cancel) sets ``stop`` and the producer ends at its next item.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop_here = threading.Event()

    def put(item) -> bool:
        while not (stop.is_set() or stop_here.is_set()):
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(item):
                    break
        except BaseException as e:  # handed over to the consumer
            put(e)
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        put(_DONE)

    thread = threading.Thread(target=produce, name="core.video.decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop_here.set()
        thread.join()


class _Behind:
    """Run ``fn`` on each put item in a background thread, at most ``depth`` items behind.

    On exit it waits for the queue to drain and re-raises the worker's exception, if any.
    """

    def __init__(self, fn: Callable[[_T], None], stop: threading.Event, depth: int = _AHEAD) -> None:
        self._fn, self._stop = fn, stop
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="core.video.encode", daemon=True)

    def __enter__(self) -> _Behind:
        self._thread.start()
        return self

    def _work(self) -> None:
        while (item := self._q.get()) is not _DONE:
            if self._error is None and not self._stop.is_set():
                try:
                    self._fn(item)
                except BaseException as e:  # re-raised by put() or __exit__
                    self._error = e

    def put(self, item: _T) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(item)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None:
            self._stop.set()
        self._q.put(_DONE)
        self._thread.join()
        if exc is None and self._error is not None:
            raise self._error


def png16_zip(depth: np.ndarray | FramesOnDisk, facts: DepthFacts | None = None) -> bytes:
    """A zip of one 16-bit grayscale PNG per frame, ``frame_00000.png``, ..., with one window for the clip.

    Every frame is quantised with the same window, the finite minimum and maximum over the whole
    clip (near = 65535), so a pixel's grey level can be compared from frame to frame; the window
    is written as ``window.txt`` so the values can be mapped back.

    Args:
        depth: (frames, H, W) relative inverse depth, as the ``depth`` array of the ``.npz``,
            or the :class:`FramesOnDisk` of :func:`open_depth_npz` (read a frame at a time).
        facts: the clip's facts (e.g. read from the ``.npz``'s sidecar); each PNG then states them
            in text chunks, with the clip's window and its ``frame`` number.

    Returns:
        The zip file contents.

    Example:
        >>> names = zipfile.ZipFile(io.BytesIO(png16_zip(np.zeros((2, 4, 4), np.float16)))).namelist()
        >>> names
        ['frame_00000.png', 'frame_00001.png', 'window.txt']
    """
    if not _is_frames(depth) or depth.shape[0] < 1:
        raise ValueError(f"depth must be a (frames, H, W) array with at least one frame, got {getattr(depth, 'shape', type(depth))}")
    lo, hi = np.inf, -np.inf
    for frame in depth:  # one frame at a time: no float32 copy of the clip
        finite = frame[np.isfinite(frame)]
        if finite.size:
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    if not np.isfinite(lo):
        lo = hi = 0.0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:  # PNGs are compressed already
        for k, frame in enumerate(depth):
            meta = None if facts is None else facts.with_extra(frame=str(k))
            zf.writestr(f"frame_{k:05d}.png", png16_bytes(frame.astype(np.float32), lo, hi, meta))  # HxW -> uint16
        zf.writestr("window.txt", f"0 = {lo!r}, 65535 = {hi!r} (relative inverse depth, unitless)\n")
    return buffer.getvalue()


def _is_frames(depth: object) -> bool:
    return isinstance(depth, FramesOnDisk) or (isinstance(depth, np.ndarray) and depth.ndim == 3)


def depth_over_time(depth: np.ndarray | FramesOnDisk, points: Sequence[tuple[int, int]]) -> np.ndarray:
    """The raw depth of a few pixels in every frame.

    Args:
        depth: (frames, H, W) relative inverse depth, or the :class:`FramesOnDisk` of
            :func:`open_depth_npz` (reads only those pixels).
        points: (x, y) pixel positions, 0 <= x < W, 0 <= y < H.

    Returns:
        (frames, len(points)) float32: column j is ``depth[:, y_j, x_j]``.

    Example:
        >>> depth_over_time(np.arange(8, dtype=np.float32).reshape(2, 2, 2), [(1, 0)]).tolist()
        [[1.0], [5.0]]
    """
    if not _is_frames(depth):
        raise ValueError(f"depth must be a (frames, H, W) array, got {getattr(depth, 'shape', type(depth))}")
    height, width = depth.shape[1:]
    for x, y in points:
        if not (0 <= int(x) < width and 0 <= int(y) < height):
            raise ValueError(f"point ({x}, {y}) is outside the {width}x{height} frame")
    if isinstance(depth, FramesOnDisk):
        return depth.pixels(points)
    columns = [depth[:, int(y), int(x)].astype(np.float32) for x, y in points]
    return np.stack(columns, axis=1) if columns else np.zeros((depth.shape[0], 0), np.float32)
