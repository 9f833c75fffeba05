"""Small test clips made with PyAV: a static scene with a moving square, and hostile files.

Shared by the video tests (reader, writer, pipeline, stable depth). Every clip is tiny and
made in a few milliseconds, so tests build what they need in ``tmp_path``.

The scene (:func:`scene_frame`) is a static background (a horizontal red ramp plus a
vertical blue ramp, so any rotation or flip shows) with a green marker block in the top-left
corner and, if ``moving_object``, a white square that moves left to right across the frame.
Pixels the square never covers are static, which is what the flicker figure measures.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

__all__ = [
    "MARKER",
    "make_audio_only",
    "make_blank",
    "make_clip",
    "make_gif",
    "make_unknown_codec",
    "make_zero_frames",
    "scene_frame",
    "square_box",
]

MARKER = 8  # side of the green marker block in the top-left corner of the coded frame, pixels


def square_box(k: int, frames: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the moving square in frame ``k`` of ``frames`` (coded frame)."""
    width, height = size
    side = max(2, min(width, height) // 4)
    span = max(0, width - side)
    x0 = round(span * k / max(1, frames - 1))
    y0 = (height - side) // 2
    return x0, y0, x0 + side, y0 + side


def scene_frame(k: int, frames: int, size: tuple[int, int], *, moving_object: bool = True) -> np.ndarray:
    """Frame ``k`` of the scene as coded in the file (before any display rotation).

    Args:
        k: Frame index, 0-based.
        frames: Number of frames in the clip (the square crosses the frame once).
        size: (width, height) in pixels.
        moving_object: Draw the moving white square.

    Returns:
        HxWx3 uint8 RGB.
    """
    width, height = size
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = np.linspace(30, 200, width, dtype=np.float32)[None, :].round().astype(np.uint8)
    rgb[..., 2] = np.linspace(30, 200, height, dtype=np.float32)[:, None].round().astype(np.uint8)
    rgb[..., 1] = 40
    m = min(MARKER, width, height)
    rgb[:m, :m] = (0, 255, 0)
    if moving_object:
        x0, y0, x1, y1 = square_box(k, frames, size)
        rgb[y0:y1, x0:x1] = 255
    return rgb


def make_clip(
    path: str | os.PathLike[str],
    frames: int,
    fps: float,
    size: tuple[int, int],
    *,
    codec: str = "libx264",
    rotation: int | None = None,
    vfr_timestamps: Sequence[float] | None = None,
    moving_object: bool = True,
) -> Path:
    """Write a clip of :func:`scene_frame` frames and return its path.

    The container comes from the suffix (.mp4, .mov, .mkv, .webm, .avi).

    Args:
        path: Where to write.
        frames: Number of frames.
        fps: Nominal frame rate (the frame times are k / fps unless ``vfr_timestamps``).
        size: Coded (width, height). H.264/yuv420p needs even sizes; odd ones use yuv444p.
        codec: Encoder name, e.g. "libx264", "mpeg4", "libvpx-vp9".
        rotation: Display rotation in degrees counter-clockwise (as ``VideoFrame.rotation``
            reads it back), stored as the container's display matrix like a phone does.
            The displayed size is then (height, width) for +-90.
        vfr_timestamps: Each frame's time in seconds (variable frame rate), len == frames.
        moving_object: Draw the moving square (False: a fully static scene).
    """
    path = Path(path)
    if vfr_timestamps is not None and len(vfr_timestamps) != frames:
        raise ValueError(f"vfr_timestamps has {len(vfr_timestamps)} entries for {frames} frames")
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=_rate(fps))
        stream.width, stream.height = width, height
        odd = width % 2 or height % 2
        stream.pix_fmt = "yuv444p" if odd and codec == "libx264" else "yuv420p"
        if vfr_timestamps is not None:
            if codec == "libx264":
                # No B-frames: with them libx264's decode times squeeze the MP4 sample
                # durations, and the container under-reports the clip's length.
                stream.codec_context.options = {"bf": "0"}
            stream.codec_context.time_base = _time_base(1000)
            stream.time_base = _time_base(1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(scene_frame(k, frames, size, moving_object=moving_object), format="rgb24")
            if vfr_timestamps is not None:
                frame.pts = round(vfr_timestamps[k] * 1000)
                frame.time_base = _time_base(1000)
                step = vfr_timestamps[k + 1] - vfr_timestamps[k] if k + 1 < frames else 1 / fps
                frame.duration = round(step * 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_gif(
    path: str | os.PathLike[str] | None,
    frames: int,
    size: tuple[int, int],
    *,
    durations_ms: Sequence[int] | int = 100,
    transparent: bool = False,
) -> bytes:
    """An animated GIF of the scene (via Pillow); written to ``path`` if given; returns its bytes.

    With ``transparent``, the top-right quarter of every frame is transparent (it decodes
    to white).
    """
    from PIL import Image

    width, height = size
    images = []
    for k in range(frames):
        rgb = scene_frame(k, frames, size)
        im = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
        if transparent:
            px = np.array(im)
            px[: height // 2, width // 2 :] = 255  # palette index 255 is kept free for transparency
            im = Image.fromarray(px, mode="P")
            im.putpalette(Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=255).getpalette())
            im.info["transparency"] = 255
        images.append(im)
    buf = io.BytesIO()
    extra = {"transparency": 255, "disposal": 2} if transparent else {}
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations_ms, loop=0, **extra)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def make_blank(path: str | os.PathLike[str], size: tuple[int, int], frames: int = 1, *, scrub_pixels: bool = False) -> Path:
    """A black H.264 MP4 of any size, made fast (x264 ultrafast): e.g. an 8K clip in ~0.5 s.

    With ``scrub_pixels``, every byte of the coded pictures (the ``mdat`` payload) is then
    zeroed: the header still declares the size, but decoding any frame would fail. A reader
    that refuses such a file by its size did so before decoding a frame.
    """
    path = Path(path)
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=1, options={"preset": "ultrafast"})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        for _ in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    if scrub_pixels:
        data = bytearray(path.read_bytes())
        start = data.find(b"mdat") + 4  # the MP4 muxer writes mdat before moov
        end = data.rfind(b"moov") - 4
        assert 4 < start < end, "unexpected MP4 layout"
        data[start:end] = bytes(end - start)
        path.write_bytes(bytes(data))
    return path


def make_audio_only(path: str | os.PathLike[str], seconds: float = 0.5) -> Path:
    """An MP4 with one AAC audio stream (a sine) and no video."""
    path = Path(path)
    rate = 44100
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        n = int(seconds * rate)
        t = np.arange(n, dtype=np.float32) / rate
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]  # 1xN fltp
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, n, frame_size):
            chunk = samples[:, start : start + frame_size]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_zero_frames(path: str | os.PathLike[str], size: tuple[int, int] = (32, 24)) -> Path:
    """A clip with an H.264 video stream that holds no frame.

    Use an .avi path: it keeps the empty stream (MP4/MOV muxers drop an empty track and
    write a file with no stream at all, Matroska writes a header FFmpeg cannot open).
    """
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        container.start_encoding()  # writes the header although no packet follows
    return path


def make_unknown_codec(path: str | os.PathLike[str], frames: int = 5, size: tuple[int, int] = (32, 24)) -> Path:
    """An MP4 whose video sample entry names a codec no decoder knows (fourcc ``zzzz``).

    Made by writing an H.264 clip and renaming its ``avc1`` sample entry, as a file from
    an exotic camera codec looks to FFmpeg.
    """
    path = Path(path)
    make_clip(path, frames, 10, size)
    data = path.read_bytes()
    stsd = data.find(b"stsd")
    entry = data.find(b"avc1", stsd)
    assert stsd >= 0 and entry > stsd, "no avc1 sample entry found"
    path.write_bytes(data[:entry] + b"zzzz" + data[entry + 4 :])
    return path


def _rate(fps: float):
    from fractions import Fraction

    return Fraction(fps).limit_denominator(1001)


def _time_base(den: int):
    from fractions import Fraction

    return Fraction(1, den)
