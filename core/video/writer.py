"""Write RGB frames to an H.264 MP4 that browsers play.

:class:`Mp4Writer` encodes with libx264 in yuv420p (the only chroma layout every browser
decodes) into an MP4 whose index (``moov``) comes first (``+faststart``), so ``st.video`` and
a download both start playing before the whole file has arrived. yuv420p needs an even
width and height: an odd-sized frame is padded by one row or column that repeats the edge
pixels, so the picture is never stretched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

__all__ = ["Mp4Writer"]

_TIME_BASE = Fraction(1, 90000)  # MPEG's 90 kHz clock: exact for 24, 25, 30, 29.97, 50 and 60 fps

#: libx264 options besides crf. ``ultrafast``: 1280x720 inferno heatmaps encoded, 2 threads, in
#: 7.8 ms of CPU a frame for a smooth map and 22 for pixel noise (the random-weight checkpoint's, the
#: worst case), against 14 and 69 at ``superfast`` and 19 and 99 at ``veryfast``; at crf 20 they came
#: back as close to the drawn colours (mean error 1.3 levels on the smooth map, each preset) and the
#: smooth map's file was smaller (1.6 KB a frame against 2.3). x264 would also look 30 frames ahead
#: (``rc-lookahead``) and size its thread pool by the cores: the two writers of a 960x540 clip
#: (heatmap, and 1920x540 side by side) then held about 260 MB of frames; 10 frames ahead and 2
#: threads held about 150 MB, no slower.
X264_OPTIONS = {"preset": "ultrafast", "rc-lookahead": "10", "threads": "2"}


class Mp4Writer:
    """H.264 (libx264, yuv420p) MP4 writer; a context manager.

    Args:
        path: Where to write the .mp4 (overwritten).
        fps: Frame rate used when :meth:`write` gets no timestamp.
        width: Width of the frames that will be written, pixels.
        height: Height of the frames that will be written, pixels.
        crf: libx264 constant rate factor, 0 (lossless) to 51; 20 looks clean.
        metadata: container metadata, key -> text, e.g. what the video shows
            (:meth:`core.io.metadata.DepthFacts.text_fields`). The file keeps every key (MP4
            ``mdta`` tags, ``movflags=+use_metadata_tags``); ``av.open(path).metadata`` reads them back.

    Example:
        >>> with Mp4Writer("depth.mp4", fps=10, width=63, height=47) as out:  # doctest: +SKIP
        ...     out.write(np.zeros((47, 63, 3), np.uint8))  # stored as 64x48, edge repeated
    """

    def __init__(
        self, path: str | os.PathLike[str], fps: float, width: int, height: int, *, crf: int = 20,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(crf, bool) or not isinstance(crf, (int, np.integer)) or not 0 <= crf <= 51:
            raise ValueError(f"crf must be an integer from 0 to 51, got {crf!r}")
        if metadata is not None:
            if not isinstance(metadata, Mapping):
                raise TypeError(f"metadata must be a mapping of str to str or None, got {type(metadata).__name__}")
            for key, value in metadata.items():
                if not isinstance(key, str) or not key or not isinstance(value, str):
                    raise TypeError(f"metadata must map non-empty str keys to str values, got {key!r}: {value!r}")
        self.path = Path(path)
        self.fps = float(fps)
        self.width, self.height = int(width), int(height)
        self._coded = (self.width + self.width % 2, self.height + self.height % 2)  # even for yuv420p
        movflags = "+faststart+use_metadata_tags" if metadata else "+faststart"  # without it mp4 keeps a few keys
        self._container = av.open(str(self.path), mode="w", format="mp4", options={"movflags": movflags})
        self._container.metadata.update(metadata or {})
        self._stream = self._container.add_stream(
            "libx264", rate=Fraction(self.fps).limit_denominator(1001), options={"crf": str(int(crf)), **X264_OPTIONS}
        )
        self._stream.width, self._stream.height = self._coded
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = _TIME_BASE
        self._stream.time_base = _TIME_BASE
        self._count = 0
        self._last_pts: int | None = None
        self._closed = False

    def write(self, rgb: np.ndarray, timestamp_s: float | None = None) -> None:
        """Append one frame.

        Args:
            rgb: HxWx3 uint8 with H, W = the writer's height and width.
            timestamp_s: Presentation time in seconds (variable frame rate); None places the
                frame 1/fps after the previous one.

        Raises:
            ValueError: Wrong shape or dtype, timestamps not increasing, or the writer is closed.
        """
        if self._closed:
            raise ValueError(f"Mp4Writer for {self.path.name} is closed; open a new one to write more frames")
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.shape != (self.height, self.width, 3):
            got = f"{rgb.shape} {rgb.dtype}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
            raise ValueError(f"frame must be a ({self.height}, {self.width}, 3) uint8 RGB array, got {got}")
        if timestamp_s is None:
            pts = (self._last_pts + round(1 / (self.fps * _TIME_BASE))) if self._last_pts is not None else 0
        else:
            if not np.isfinite(timestamp_s) or timestamp_s < 0:
                raise ValueError(f"timestamp_s must be a finite number of seconds >= 0, got {timestamp_s!r}")
            pts = round(timestamp_s / _TIME_BASE)
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(
                f"timestamps must increase: frame {self._count} at {float(pts * _TIME_BASE):.6f} s "
                f"is not after {float(self._last_pts * _TIME_BASE):.6f} s"
            )
        pad_w, pad_h = self._coded[0] - self.width, self._coded[1] - self.height
        if pad_w or pad_h:
            rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")  # HxWx3 -> evenxevenx3
        # OpenCV's RGB -> I420 (BT.601, limited range, as swscale's default and as players assume) is
        # several times faster than PyAV's reformat and rounds closer to the source colours
        yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)  # HxWx3 -> (H*3/2)xW uint8
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = pts
        frame.time_base = _TIME_BASE
        self._container.mux(self._stream.encode(frame))
        self._last_pts = pts
        self._count += 1

    def close(self) -> None:
        """Flush the encoder and finish the file; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
