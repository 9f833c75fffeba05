"""3D photos: a "wiggle" GIF and an orbit MP4, from one photo and its depth.

Both move a virtual camera and re-render the photo for each position with
:func:`core.geometry.stereo.render_view` (depth-image-based rendering: pixels move by a
fraction of their disparity, nearer ones on top, holes filled from the background):

- the **wiggle** swings between the left and the right view of the stereo pair and back,
  eased (the camera's offset follows a cosine), and loops forever as a GIF;
- the **orbit** moves the camera once round a small circle in the image plane, radius half
  the stereo baseline, so the horizontal extremes are the left and right views and the
  vertical ones show the same parallax up and down; it is written as H.264 with
  :class:`core.video.writer.Mp4Writer`.

The depth at the convergence plane stays still (the pivot); with the default 0.5 that is
the middle of the map's range, so the background and the foreground move in opposite
directions. Photos wider than ``max_width`` (1920 by default) are rendered downscaled: a
GIF of a 12-megapixel photo would be hundreds of megabytes.

Given the prediction's facts (:func:`core.io.metadata.facts_for`), each file says what it
holds (:meth:`core.io.metadata.DepthFacts.stereo` with layout "wiggle" or "orbit"): the GIF
in its comment extension, as ``name: value`` lines (Pillow: ``Image.open(f).info["comment"]``),
the MP4 in its container metadata, one key per field (PyAV: ``av.open(f).metadata``).
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from core.checks import check_int, check_real
from core.geometry.intrinsics import FieldOfView
from core.geometry.stereo import disparity_map, render_view
from core.io.metadata import DepthFacts, check_facts, facts_text
from core.maps.display import downscale
from core.video.writer import Mp4Writer

__all__ = [
    "MAX_ANIMATION_WIDTH",
    "gif_bytes",
    "orbit_mp4_bytes",
    "orbit_shifts",
    "render_frames",
    "wiggle_gif",
    "wiggle_shifts",
    "write_orbit_mp4",
]

#: Widest frame of a wiggle GIF or an orbit video; wider photos are downscaled first.
MAX_ANIMATION_WIDTH = 1920

_LUT_BITS = 5  # the palette lookup is indexed by the top 5 bits of each channel (32768 cells)


def wiggle_shifts(frames: int = 6) -> list[tuple[float, float]]:
    """Camera offsets of a wiggle: ``0.5 * cos(2 pi k / frames)`` of the disparity, sideways.

    Frame 0 is the left view (+0.5), frame ``frames / 2`` the right view (-0.5); two frames
    give the classic two-view wiggle.

    Example:
        >>> [round(sx, 3) for sx, _ in wiggle_shifts(4)]
        [0.5, 0.0, -0.5, -0.0]
    """
    frames = check_int(frames, "frames", low=2, high=60, hint=": 2 (left, right) to 60")
    return [(0.5 * math.cos(2 * math.pi * k / frames), 0.0) for k in range(frames)]


def orbit_shifts(frames: int) -> list[tuple[float, float]]:
    """Camera offsets once round a circle of radius 0.5 (of the disparity), starting at the left view.

    Example:
        >>> [(round(sx, 3), round(sy, 3)) for sx, sy in orbit_shifts(4)]
        [(0.5, 0.0), (0.0, 0.5), (-0.5, 0.0), (-0.0, -0.5)]
    """
    frames = check_int(frames, "frames", low=2, high=10_000)
    return [(0.5 * math.cos(2 * math.pi * k / frames), 0.5 * math.sin(2 * math.pi * k / frames)) for k in range(frames)]


def _fit(rgb: np.ndarray, depth: np.ndarray, max_width: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo and its map downscaled to at most ``max_width`` columns (checked first)."""
    max_width = check_int(max_width, "max_width", low=2)
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or rgb.size == 0:
        raise ValueError(
            f"rgb must be a non-empty HxWx3 uint8 array, got {getattr(rgb, 'dtype', type(rgb).__name__)} "
            f"shape {getattr(rgb, 'shape', None)}"
        )
    if not isinstance(depth, np.ndarray) or depth.shape != rgb.shape[:2]:
        raise ValueError(
            f"depth must be the photo's HxW map {rgb.shape[:2]}, got shape {getattr(depth, 'shape', None)}"
        )
    if rgb.shape[1] <= max_width:
        return rgb, depth
    return downscale(rgb, max_width), downscale(depth.astype(np.float32, copy=False), max_width)


def render_frames(
    rgb: np.ndarray,
    depth: np.ndarray,
    shifts: Sequence[tuple[float, float]],
    strength_pct: float = 3.0,
    convergence: float = 0.5,
    *,
    fill: str = "background",
    max_width: int = MAX_ANIMATION_WIDTH,
) -> Iterator[np.ndarray]:
    """The photo re-rendered for each camera offset, one frame at a time.

    Args:
        rgb: HxWx3 uint8 photo.
        depth: HxW relative inverse depth of the photo (larger = nearer).
        shifts: (sx, sy) per frame, fractions of the disparity (see
            :func:`core.geometry.stereo.render_view`).
        strength_pct: disparity between the nearest and the farthest pixel, % of the width.
        convergence: the depth that stays still, 0 (farthest) to 1 (nearest).
        fill: hole filling, one of :data:`core.geometry.stereo.FILLS`.
        max_width: photos wider than this are downscaled first.

    Yields:
        hxwx3 uint8 frames (h x w = the photo's size, or its downscaled size).
    """
    rgb, depth = _fit(rgb, depth, max_width)
    disparity = disparity_map(depth, strength_pct, convergence)  # checked before the first frame
    shifts = list(shifts)
    if not shifts:
        raise ValueError("shifts must hold at least one (sx, sy) camera offset")
    for shift in shifts:
        yield render_view(rgb, disparity, shift, fill=fill).image


def _stated(
    facts: DepthFacts | None, layout: str, strength_pct: float, convergence: float, fill: str,
    fov: FieldOfView | float | None, baseline_m: float | None,
) -> dict[str, str] | None:
    """What an animation states: ``facts.stereo(layout, ...)`` as text fields, or None without facts."""
    if check_facts(facts) is None:
        return None
    return facts.stereo(layout, strength_pct, convergence, fill, fov=fov, baseline_m=baseline_m).text_fields()


def gif_bytes(frames: Sequence[np.ndarray], frame_ms: int = 110, *, comment: str | None = None) -> bytes:
    """An animated GIF that loops forever, all frames on one 256-colour palette.

    The palette is a fast octree of the first frame; every frame is mapped to it without
    dithering (dither patterns would crawl between frames) through a 32x32x32 lookup of
    the nearest palette colour. Pillow stores each frame after the first as the rectangle
    that changed.

    Args:
        frames: HxWx3 uint8 frames of one size.
        frame_ms: how long each frame shows, 20-10000 ms.
        comment: text for the GIF's comment extension (written once, UTF-8), or None.

    Returns:
        The GIF file contents.
    """
    frame_ms = check_int(frame_ms, "frame_ms", low=20, high=10_000)
    if comment is not None and not isinstance(comment, str):
        raise TypeError(f"comment must be a str or None, got {type(comment).__name__}")
    frames = list(frames)
    if not frames:
        raise ValueError("frames must hold at least one image")
    shape = frames[0].shape
    for k, frame in enumerate(frames):
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame {k} must be an HxWx3 uint8 array, got {getattr(frame, 'shape', type(frame).__name__)}")
        if frame.shape != shape:
            raise ValueError(f"frame {k} is {frame.shape[:2]} but frame 0 is {shape[:2]}: all frames need one size")
    palette, lookup = _palette(frames[0])
    images = []
    for frame in frames:
        image = Image.fromarray(lookup[_cells(frame)], mode="P")  # HxW uint8 palette indices
        image.putpalette(palette.ravel().tolist())
        images.append(image)
    buffer = io.BytesIO()
    extra = {} if comment is None else {"comment": comment}
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0, **extra)
    return buffer.getvalue()


def _cells(frame: np.ndarray) -> np.ndarray:
    """HxW uint16 lookup cell of each pixel: the top 5 bits of R, G and B."""
    top = (frame >> (8 - _LUT_BITS)).astype(np.uint16)  # HxWx3
    return (top[..., 0] << (2 * _LUT_BITS)) | (top[..., 1] << _LUT_BITS) | top[..., 2]


def _palette(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Kx3 uint8 palette, 32768 uint8 lookup from a cell to its nearest palette entry)."""
    sample = frame
    step = max(1, int(math.sqrt(frame.shape[0] * frame.shape[1] / 250_000)))  # the palette from ~250k pixels
    if step > 1:
        sample = np.ascontiguousarray(frame[::step, ::step])
    quantized = Image.fromarray(sample).quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    used = int(np.asarray(quantized).max()) + 1
    palette = np.asarray(quantized.getpalette()[: 3 * used], np.uint8).reshape(-1, 3)  # Kx3
    levels = 1 << _LUT_BITS
    centre = (np.arange(levels, dtype=np.float32) + 0.5) * (256 / levels)  # each cell's centre value
    grid = np.stack(np.meshgrid(centre, centre, centre, indexing="ij"), axis=-1).reshape(-1, 3)  # 32768x3
    p = palette.astype(np.float32)
    distance = (p * p).sum(axis=1)[None, :] - 2.0 * grid @ p.T  # + |grid|^2, the same for every entry
    return palette, np.argmin(distance, axis=1).astype(np.uint8)


def wiggle_gif(
    rgb: np.ndarray,
    depth: np.ndarray,
    strength_pct: float = 3.0,
    convergence: float = 0.5,
    *,
    frames: int = 6,
    frame_ms: int = 110,
    fill: str = "background",
    max_width: int = MAX_ANIMATION_WIDTH,
    facts: DepthFacts | None = None,
    fov: FieldOfView | float | None = None,
    baseline_m: float | None = None,
) -> bytes:
    """A wiggle 3D photo: the camera swings between the stereo pair's views, as a looping GIF.

    Args:
        rgb: HxWx3 uint8 photo.
        depth: HxW relative inverse depth of the photo.
        strength_pct: disparity between the nearest and the farthest pixel, % of the width.
        convergence: the depth that stays still, 0 (farthest) to 1 (nearest).
        frames: frames per swing and back (:func:`wiggle_shifts`), 2-60.
        frame_ms: how long each frame shows.
        fill: hole filling, one of :data:`core.geometry.stereo.FILLS`.
        max_width: photos wider than this are downscaled first.
        facts: the prediction's facts; the GIF's comment then states
            ``facts.stereo("wiggle", ...)`` of these settings. None writes no comment.
        fov: the field of view the strength was read with, stated with the facts.
        baseline_m: the camera baseline in metres, when known, stated with the facts.

    Returns:
        The GIF file contents.
    """
    shifts = wiggle_shifts(frames)
    fields = _stated(facts, "wiggle", strength_pct, convergence, fill, fov, baseline_m)  # checked before rendering
    return gif_bytes(list(render_frames(rgb, depth, shifts, strength_pct, convergence, fill=fill,
                                        max_width=max_width)), frame_ms,
                     comment=None if fields is None else facts_text(fields))


def write_orbit_mp4(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    depth: np.ndarray,
    strength_pct: float = 3.0,
    convergence: float = 0.5,
    *,
    seconds: float = 4.0,
    fps: int = 25,
    fill: str = "background",
    max_width: int = MAX_ANIMATION_WIDTH,
    progress: Callable[[int, int], None] | None = None,
    facts: DepthFacts | None = None,
    fov: FieldOfView | float | None = None,
    baseline_m: float | None = None,
) -> Path:
    """An orbit 3D photo: the camera goes once round a small circle, as an H.264 MP4.

    Args:
        path: where to write the .mp4 (overwritten).
        rgb: HxWx3 uint8 photo.
        depth: HxW relative inverse depth of the photo.
        strength_pct: disparity between the nearest and the farthest pixel, % of the width.
        convergence: the depth that stays still, 0 (farthest) to 1 (nearest).
        seconds: length of one loop, 1-30 s.
        fps: frame rate, 10-60.
        fill: hole filling, one of :data:`core.geometry.stereo.FILLS`.
        max_width: photos wider than this are downscaled first.
        progress: called with (frames done, frames in all) after each frame.
        facts: the prediction's facts; the MP4's metadata then states
            ``facts.stereo("orbit", ...)`` of these settings, one key per field. None writes none.
        fov: the field of view the strength was read with, stated with the facts.
        baseline_m: the camera baseline in metres, when known, stated with the facts.

    Returns:
        ``path`` as a :class:`~pathlib.Path`. A failed write leaves no file behind.
    """
    seconds = check_real(seconds, "seconds", low=1.0, high=30.0)
    fps = check_int(fps, "fps", low=10, high=60)
    fields = _stated(facts, "orbit", strength_pct, convergence, fill, fov, baseline_m)
    total = max(2, round(seconds * fps))
    frames = render_frames(rgb, depth, orbit_shifts(total), strength_pct, convergence, fill=fill, max_width=max_width)
    first = next(frames)  # checks the inputs before the file is created
    path = Path(path)
    try:
        with Mp4Writer(path, fps, first.shape[1], first.shape[0], metadata=fields) as out:
            out.write(first)
            if progress is not None:
                progress(1, total)
            for done, frame in enumerate(frames, start=2):
                out.write(frame)
                if progress is not None:
                    progress(done, total)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def orbit_mp4_bytes(
    rgb: np.ndarray,
    depth: np.ndarray,
    strength_pct: float = 3.0,
    convergence: float = 0.5,
    *,
    seconds: float = 4.0,
    fps: int = 25,
    fill: str = "background",
    max_width: int = MAX_ANIMATION_WIDTH,
    facts: DepthFacts | None = None,
    fov: FieldOfView | float | None = None,
    baseline_m: float | None = None,
) -> bytes:
    """:func:`write_orbit_mp4` into memory (through a temporary file); the MP4's contents."""
    with tempfile.TemporaryDirectory(prefix="midas_orbit_") as work:
        path = write_orbit_mp4(Path(work) / "orbit.mp4", rgb, depth, strength_pct, convergence, seconds=seconds,
                               fps=fps, fill=fill, max_width=max_width, facts=facts, fov=fov, baseline_m=baseline_m)
        return path.read_bytes()
