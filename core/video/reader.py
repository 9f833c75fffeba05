"""Decode untrusted video into RGB frames, one at a time: the gate every clip passes through.

:func:`read_frames` streams a clip (bytes or a path) as :class:`VideoFrame` objects, never
holding more than the frame in hand, so memory stays flat however long the clip. It:

* opens MP4, MOV, WebM, MKV, AVI and animated GIF by content (PyAV / FFmpeg), never by
  file extension;
* checks the frame size against a pixel budget (8K or larger is refused) and the length
  against a time limit before any frame is decoded;
* applies the container's display rotation (phone clips), so frames are what a player shows;
* takes each frame's time from its presentation timestamp (``pts * time_base``), starting at
  0, so variable-frame-rate clips get their real times;
* samples by time, not by frame count: ``Sampling(fps=2)`` keeps the first frame at or after
  each 0.5 s step, and ``max_frames`` stops reading after that many frames;
* composites transparency (animated GIF) on white, as :mod:`core.io.images` does for stills.

Every refusal is a :class:`VideoDecodeError` whose message is one sentence meant to be shown
to the user as-is. :func:`probe_video` runs the same checks and decodes only the first frame.

The display matrix's rotation is applied in quarter turns; a mirrored display matrix (rare,
front cameras of some phones) is shown unmirrored.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from core.io.images import pil_to_rgb

__all__ = [
    "MAX_VIDEO_PIXELS",
    "MAX_VIDEO_SECONDS",
    "Sampling",
    "VideoDecodeError",
    "VideoFrame",
    "VideoInfo",
    "probe_video",
    "read_frames",
]

MAX_VIDEO_PIXELS = 7680 * 4320 - 1  # 8K (7680x4320) or larger is refused before any frame is decoded
MAX_VIDEO_SECONDS = 600.0  # default clip-length limit, seconds

_CONVERT_HINT = "convert it to H.264 MP4 (for example `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`)"
_EPS = 1e-6  # seconds: timestamps are rationals, compare with a little slack


class VideoDecodeError(ValueError):
    """The video cannot be used; the message is one sentence for the user: what is wrong, what to do."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found.

    Attributes:
        width: Frame width as displayed, i.e. after rotation, pixels.
        height: Frame height as displayed, pixels.
        fps: Average frame rate (frames per second).
        duration_s: Length of the clip in seconds (0.0 if the container does not say).
        frames: Number of frames the container declares, or None if it does not say.
        rotation_deg: Display rotation applied to the frames, degrees counter-clockwise.
        codec: Video codec name, e.g. "h264", "vp9", "gif".
        container: Container name, e.g. "mp4", "mov", "matroska", "avi", "gif".
    """

    width: int
    height: int
    fps: float
    duration_s: float
    frames: int | None
    rotation_deg: int
    codec: str
    container: str


@dataclass(frozen=True)
class Sampling:
    """Which frames :func:`read_frames` yields.

    Attributes:
        fps: None keeps every frame; else at most this many frames per second, chosen by
            timestamp (the first frame at or after each 1/fps step), so variable frame
            rates sample evenly in time.
        max_frames: Stop after this many frames (None: no cap).
    """

    fps: float | None = None
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.fps is not None and not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"Sampling fps must be a positive number or None, got {self.fps!r}")
        if self.max_frames is not None and (
            isinstance(self.max_frames, bool) or not isinstance(self.max_frames, (int, np.integer)) or self.max_frames < 1
        ):
            raise ValueError(f"Sampling max_frames must be an integer >= 1 or None, got {self.max_frames!r}")


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame.

    Attributes:
        index: Position of the frame in the clip (0-based, counting every decoded frame,
            also the ones sampling skipped).
        timestamp_s: Presentation time in seconds, 0.0 for the clip's first frame.
        rgb: HxWx3 uint8, rotated as displayed, transparency composited on white.
    """

    index: int
    timestamp_s: float
    rgb: np.ndarray


def probe_video(
    data_or_path: bytes | str | os.PathLike[str],
    *,
    max_pixels: int = MAX_VIDEO_PIXELS,
    max_seconds: float | None = MAX_VIDEO_SECONDS,
) -> VideoInfo:
    """Check a clip and describe it, decoding only its first frame.

    Args:
        data_or_path: The file's bytes, or a path to it.
        max_pixels: Frames with more pixels than this are refused before decoding.
        max_seconds: Clips longer than this are refused (None: no limit). This checks the
            whole clip; :func:`read_frames` checks only the part its sampling reads.

    Returns:
        The clip's size as displayed, frame rate, length, frame count, rotation and codec.

    Raises:
        VideoDecodeError: The clip cannot be used (the message says why and what to do).

    Example:
        >>> info = probe_video("clip.mp4")  # doctest: +SKIP
        >>> info.width, info.height, info.rotation_deg  # doctest: +SKIP
        (1080, 1920, -90)
    """
    _check_limits(max_pixels, max_seconds)
    with _open(data_or_path) as container:
        stream = _video_stream(container, max_pixels)
        fps = _fps(stream)
        duration = _duration(container, stream)
        if max_seconds is not None and duration > max_seconds + _EPS:
            raise VideoDecodeError(_too_long(duration, max_seconds, fps))
        first = next(_decode(container, stream), None)
        if first is None:
            raise VideoDecodeError(_NO_FRAMES)
        rotation = _quarter_turns(first.rotation) * 90
        rotation = rotation - 360 if rotation > 180 else rotation  # in (-180, 180], as FFmpeg reports it
        width, height = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, -90):
            width, height = height, width
        return VideoInfo(
            width=width,
            height=height,
            fps=fps,
            duration_s=duration,
            frames=stream.frames or None,
            rotation_deg=rotation,
            codec=stream.codec_context.name,
            container=_container_name(container),
        )


def read_frames(
    data_or_path: bytes | str | os.PathLike[str],
    sampling: Sampling = Sampling(),
    *,
    max_pixels: int = MAX_VIDEO_PIXELS,
    max_seconds: float | None = MAX_VIDEO_SECONDS,
) -> Iterator[VideoFrame]:
    """Stream a clip's frames as RGB, rotated as displayed, with their timestamps.

    The checks (readable, has video, size, length) run on the first ``next()``, before any
    frame is decoded. The file is closed when the iterator ends or is closed.

    Args:
        data_or_path: The file's bytes, or a path to it.
        sampling: Every frame, a target fps (by timestamps) and/or a frame cap.
        max_pixels: Frames with more pixels than this are refused before decoding.
        max_seconds: Never read past this time (None: no limit). A longer clip is refused up
            front, unless the sampling's frame cap stops reading within the limit.

    Yields:
        :class:`VideoFrame` objects in presentation order.

    Raises:
        VideoDecodeError: The clip cannot be used (the message says why and what to do).

    Example:
        >>> for frame in read_frames("clip.mp4", Sampling(fps=2, max_frames=10)):  # doctest: +SKIP
        ...     frame.index, frame.timestamp_s, frame.rgb.shape
        (0, 0.0, (1920, 1080, 3))
    """
    if not isinstance(sampling, Sampling):
        raise TypeError(f"sampling must be a Sampling, got {type(sampling).__name__}")
    _check_limits(max_pixels, max_seconds)
    return _frames(data_or_path, sampling, max_pixels, max_seconds)


def _frames(
    data_or_path: bytes | str | os.PathLike[str], sampling: Sampling, max_pixels: int, max_seconds: float | None
) -> Iterator[VideoFrame]:
    with _open(data_or_path) as container:
        stream = _video_stream(container, max_pixels)
        fps = _fps(stream)
        duration = _duration(container, stream)
        if max_seconds is not None and duration > max_seconds + _EPS:
            rate = min(sampling.fps, fps) if sampling.fps and fps else (sampling.fps or fps)
            capped_span = sampling.max_frames / rate if sampling.max_frames and rate else math.inf
            if capped_span > max_seconds + _EPS:
                raise VideoDecodeError(_too_long(duration, max_seconds, sampling.fps or fps))
        declared = stream.frames  # 0 when the container does not say
        decoded = kept = 0
        next_slot = 0  # sampling by fps: index of the next 1/fps step a frame may fill
        t0: float | None = None
        for index, frame in enumerate(_decode(container, stream)):
            decoded = index + 1
            t = _frame_time(frame, index, fps)
            t0 = t if t0 is None else t0
            t -= t0
            if max_seconds is not None and t > max_seconds + _EPS:
                raise VideoDecodeError(_too_long(max(duration, t), max_seconds, sampling.fps or fps))
            if sampling.fps is not None:
                if t * sampling.fps < next_slot - _EPS * sampling.fps:
                    continue
                next_slot = math.floor(t * sampling.fps + _EPS) + 1
            yield VideoFrame(index=index, timestamp_s=t, rgb=_to_array(frame))
            kept += 1
            if sampling.max_frames is not None and kept >= sampling.max_frames:
                return
        if t0 is None:
            raise VideoDecodeError(_NO_FRAMES)
        if decoded < declared:  # the data ended at a packet boundary: no decoder error, frames missing
            raise VideoDecodeError(
                f"This video is truncated: it declares {declared} frames but its data ends after {decoded}; "
                "download or export it again and upload the complete file."
            )


_NO_FRAMES = "This video contains no frames: record or export it again and upload the new file."


def _check_limits(max_pixels: object, max_seconds: object) -> None:
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    if max_seconds is not None and not (
        isinstance(max_seconds, (int, float)) and not isinstance(max_seconds, bool) and max_seconds > 0
    ):
        raise ValueError(f"max_seconds must be a positive number of seconds or None, got {max_seconds!r}")


def _open(data_or_path: bytes | str | os.PathLike[str]) -> av.container.InputContainer:
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        data = bytes(data_or_path)
        if not data:
            raise VideoDecodeError("The file is empty: choose the video file again.")
        head, source = data[:512], io.BytesIO(data)
    elif isinstance(data_or_path, (str, os.PathLike)):
        path = Path(data_or_path)
        try:
            with path.open("rb") as f:
                head = f.read(512)
        except OSError as e:
            raise VideoDecodeError(f"Cannot read {path.name}: {e.strerror or e}; check the path.") from e
        if not head:
            raise VideoDecodeError(f"{path.name} is empty: choose the video file again.")
        source = str(path)
    else:
        raise TypeError(f"data_or_path must be bytes or a path, got {type(data_or_path).__name__}")
    try:
        return av.open(source, mode="r")
    except av.error.FFmpegError as e:
        raise VideoDecodeError(_unreadable(head)) from e


def _unreadable(head: bytes) -> str:
    if _looks_like_text(head):
        return "This file is text, not a video: choose an MP4, MOV, WebM, MKV, AVI or animated GIF file."
    if head[4:8] == b"ftyp":
        return (
            "This MP4/MOV file is truncated or corrupt (its index is missing or damaged): "
            "download or export it again and upload the complete file."
        )
    return (
        "This file is not a video that can be read, or it is truncated or corrupt: "
        "upload an MP4, MOV, WebM, MKV, AVI or animated GIF file."
    )


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:  # a multi-byte character cut at the end of the sample
        if e.start < len(head) - 3:
            return False
        text = head[: e.start].decode("utf-8")
    return all(c.isprintable() or c in "\t\n\r\f" for c in text)


def _video_stream(container: av.container.InputContainer, max_pixels: int) -> av.video.stream.VideoStream:
    if not container.streams.video:
        if container.streams.audio:
            raise VideoDecodeError(
                "This file holds only audio, no video: choose a file with a video track."
            )
        raise VideoDecodeError(_NO_FRAMES)
    stream = container.streams.video[0]
    cc = stream.codec_context
    if cc is None:
        raise VideoDecodeError(f"This video uses a codec that cannot be decoded here: {_CONVERT_HINT}.")
    width, height = cc.width, cc.height
    if width <= 0 or height <= 0:
        raise VideoDecodeError(
            "This video does not say its frame size, so it is corrupt or truncated: export it again."
        )
    if width * height > max_pixels:
        if max_pixels == MAX_VIDEO_PIXELS:
            limit = "8K (7680x4320) or larger videos are refused"
        else:
            limit = f"the limit is {max_pixels:,} pixels per frame"
        raise VideoDecodeError(
            f"This video is {width}x{height} pixels and {limit}: scale it down (4K, 3840x2160, "
            "or smaller is plenty) and upload it again."
        )
    stream.thread_type = "AUTO"
    return stream


def _decode(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
    try:
        yield from container.decode(stream)
    except av.error.DecoderNotFoundError as e:
        raise VideoDecodeError(
            f"This video uses a codec ({stream.codec_context.name}) that cannot be decoded here: {_CONVERT_HINT}."
        ) from e
    except av.error.FFmpegError as e:
        raise VideoDecodeError(
            "This video is truncated or corrupt (decoding it failed part-way): "
            "download or export it again and upload the complete file."
        ) from e


def _fps(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _frame_time(frame: av.VideoFrame, index: int, fps: float) -> float:
    t = frame.time  # pts * time_base; None when the container gives no timestamp
    if t is not None:
        return float(t)
    return index / fps if fps else float(index)


def _quarter_turns(rotation: float) -> int:
    return round(rotation / 90) % 4


def _to_array(frame: av.VideoFrame) -> np.ndarray:
    fmt = frame.format
    if fmt.has_palette or any(c.is_alpha for c in fmt.components):  # GIF decodes to bgra
        rgb = pil_to_rgb(Image.fromarray(frame.to_ndarray(format="rgba"), "RGBA"))  # HxWx4 -> HxWx3 on white
    else:
        rgb = frame.to_ndarray(format="rgb24")  # HxWx3 uint8
    turns = _quarter_turns(frame.rotation)
    if turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, turns))  # counter-clockwise, as the display matrix says
    return rgb


def _container_name(container: av.container.InputContainer) -> str:
    names = container.format.name.split(",")
    if "mp4" in names:
        return "mov" if container.metadata.get("major_brand", "").strip() == "qt" else "mp4"
    if "matroska" in names:
        return "matroska"
    return names[0]


def _too_long(duration: float, max_seconds: float, fps: float) -> str:
    rate = fps if fps else 1.0
    cap = max(1, math.floor(max_seconds * rate + _EPS))
    return (
        f"This video is {_clock(duration)} long, over the {_clock(max_seconds)} limit: trim it, "
        f"or read only its start with a frame cap, e.g. at most {cap} frames at {rate:g} fps."
    )


def _clock(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
