"""Video: clip -> depth -> H.264, ours against the official per-frame loop (issue 13, speed).

    MIDAS_WEIGHTS=/path/to/weights.pt .venv/bin/python -m bench.video [--seconds 10] [--sizes 1280x720,640x360] [--dir /dev/shm]

For each size the bench makes a clip with PyAV (25 fps, H.264: a photo panning slowly, with a
square moving across it and film grain), then times, in this one process, N = 256:

* **official**: the per-frame loop of the official ``run.py``, re-implemented: ``cv2.VideoCapture``
  decode, BGR -> RGB, ``/ 255`` float64 and ``cv2.resize`` bicubic to the network size (the
  official transform), normalise, the eager torch model (a fresh one, default settings), torch
  bicubic upsample to the frame size, per-frame min-max, ``cv2.applyColorMap`` and two
  ``cv2.VideoWriter`` (mp4v): the heatmap and the side-by-side video;
* **ours**: :func:`core.video.pipeline.process_video` with the fast backend, stable mode (two
  passes: predict and align, then colour and encode), decode, inference and encode in threads
  of their own, writing the two H.264 MP4s and the ``.npz``.

fps = frames / wall seconds, decode to the last file closed. Prints a table; asserts nothing.
The issue's target is ours >= 2x the official fps. On a shared machine the load averages
printed say how far to trust the numbers.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from bench.run import _loadavg, _peak_rss_mb, _table

__all__ = ["main", "make_clip", "official_loop"]

_FPS = 25
_CMAP = "inferno"


def make_clip(path: Path, width: int, height: int, seconds: float, fps: int = _FPS) -> Path:
    """A photo-like H.264 clip: grace_hopper.jpg panning slowly, a square crossing it, film grain."""
    import av
    import matplotlib

    source = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    if source is None:
        raise FileNotFoundError("matplotlib's sample_data/grace_hopper.jpg is missing; reinstall matplotlib")
    wide = cv2.resize(cv2.cvtColor(source, cv2.COLOR_BGR2RGB), (width + width // 4, height),
                      interpolation=cv2.INTER_CUBIC)  # room to pan
    frames = int(round(seconds * fps))
    rng = np.random.default_rng(0)
    side = height // 5
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "20", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for k in range(frames):
            t = k / max(frames - 1, 1)
            x0 = int(t * (wide.shape[1] - width))
            rgb = wide[:, x0:x0 + width].astype(np.int16)
            sx, sy = int(t * (width - side)), height // 2 - side // 2
            rgb[sy:sy + side, sx:sx + side] = (40, 200, 60)
            rgb += rng.normal(0.0, 3.0, rgb.shape).astype(np.int16)
            frame = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def official_loop(path: Path, model, out_dir: Path, size: int = 256) -> int:
    """The official per-frame loop on one clip; returns the number of frames written."""
    import torch

    from core.midas.config import MIDAS_SMALL
    from core.midas.transforms import network_input_size, upsample

    mean, std = np.asarray(MIDAS_SMALL.mean), np.asarray(MIDAS_SMALL.std)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise RuntimeError(f"OpenCV cannot open {path}")
    fps = capture.get(cv2.CAP_PROP_FPS) or _FPS
    fourcc = cv2.VideoWriter_fourcc(*"mp4v")
    heat_out = side_out = None
    frames = 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            height, width = bgr.shape[:2]
            if heat_out is None:
                heat_out = cv2.VideoWriter(str(out_dir / "official_depth.mp4"), fourcc, fps, (width, height))
                side_out = cv2.VideoWriter(str(out_dir / "official_side_by_side.mp4"), fourcc, fps, (2 * width, height))
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) / 255.0  # HxWx3 uint8 -> float64
            h, w = network_input_size(height, width, size)
            img = (cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC) - mean) / std  # -> hxwx3 float64
            x = torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32))[None]  # -> 1x3xhxw
            with torch.no_grad():
                net = model(x)
            depth = upsample(net, height, width)  # torch bicubic -> HxW float32
            lo, hi = float(depth.min()), float(depth.max())
            gray = (255 * (depth - lo) / (hi - lo) if hi > lo else np.zeros_like(depth)).astype(np.uint8)
            heat = cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO)  # BGR
            heat_out.write(heat)
            side_out.write(np.concatenate([bgr, heat], axis=1))
            frames += 1
    finally:
        capture.release()
        for out in (heat_out, side_out):
            if out is not None:
                out.release()
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.video", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length, s (10 in the issue; less for a look)")
    parser.add_argument("--sizes", default="1280x720,640x360", help="clip sizes WxH, comma-separated")
    parser.add_argument("--weights", type=Path, default=None, help="checkpoint (default: resolve as the app does)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="fast-backend cache (default: the app's)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the clips and outputs go (default: the system's temp; /dev/shm: in memory, "
                        "to take a slow disk out: ours writes about 7 MB of maps a 720p frame, in two temporary "
                        "files and the .npz)")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        raise SystemExit("error: --seconds must be > 0")
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",") if s]

    import torch

    from core.midas.checkpoint import read_checkpoint
    from core.midas.download import resolve_weights
    from core.midas.model import create_midas_small
    from core.midas.predictor import load_predictor, set_torch_threads
    from core.video.pipeline import process_video

    threads = set_torch_threads(None)
    weights = resolve_weights(args.weights).path
    official_model = create_midas_small(read_checkpoint(weights))  # fresh, default settings
    fast = load_predictor(weights=weights, backend="fast", size=256, cache_dir=args.cache_dir)
    print("# Video: clip -> depth -> H.264 video, N = 256\n")
    print(f"- {threads} torch threads; torch {torch.__version__}, OpenCV {cv2.__version__}; ours: {fast.info.backend_note}")
    print(f"- load average (1, 5, 15 min) at start: {_loadavg()}\n", flush=True)

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_video_", dir=args.dir) as tmp:
        work = Path(tmp)
        for width, height in sizes:
            clip = make_clip(work / f"clip_{width}x{height}.mp4", width, height, args.seconds)
            warm = make_clip(work / f"warm_{width}x{height}.mp4", width, height, 0.2)
            official_loop(warm, official_model, work)  # warm-up: first-call allocations of each shape
            process_video(warm, fast, work / "warm", "warm")

            start = time.perf_counter()
            official_frames = official_loop(clip, official_model, work)
            official_s = time.perf_counter() - start
            result = process_video(clip, fast, work / "ours", "clip")
            ours_s = result.seconds
            official_fps, ours_fps = official_frames / official_s, result.frames / ours_s
            rows.append([f"{width}x{height}", f"{args.seconds:g}", result.frames, f"{official_s:.1f}",
                         f"{official_fps:.2f}", f"{ours_s:.1f}", f"{ours_fps:.2f}", f"{ours_fps / official_fps:.2f}x"])
            print(f"- {' | '.join(map(str, rows[-1]))} (load {_loadavg()})", flush=True)  # the row, as soon as known
    print()
    print(_table(["clip", "s", "frames", "official s", "official fps", "ours s", "ours fps", "ours / official"], rows))
    print(f"\n- target: ours >= 2x the official fps; peak RSS of this process {_peak_rss_mb():.0f} MB")
    print(f"- load average at end: {_loadavg()} (the machine is shared: other processes ran meanwhile)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
