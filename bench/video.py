"""Video: clip -> depth -> H.264, ours against the official per-frame loop (issue 13, speed).

    MIDAS_WEIGHTS=/path/to/weights.pt .venv/bin/python -m bench.video [--seconds 10] [--sizes 1280x720,640x360] [--dir /dev/shm]

For each size the bench makes a clip with PyAV (25 fps, H.264: a photo panning slowly, with a
square moving across it and film grain), then times, in this one process, N = 256:

* **official**: the per-frame loop of the official ``run.py``, re-implemented: ``cv2.VideoCapture``
  decode, BGR -> RGB, ``/ 255`` float64 and ``cv2.resize`` bicubic to the network size (the
  official transform), normalise, the eager torch model (a fresh one, default settings), torch
  bicubic upsample to the frame size, per-frame min-max, ``cv2.applyColorMap`` and two
  ``cv2.VideoWriter`` (mp4v): the heatmap and the side-by-side video;
* **ours**: :func:`core.video.pipeline.process_video` with the fast backend, writing the two
  H.264 MP4s and the ``.npz``, decode, inference, drawing and encode in threads of their own: in
  **per-frame** mode (one pass, per-frame min-max as the official loop draws) and in **stable**
  mode (two passes: predict and align, then draw and encode; the product's default).

fps = frames / wall seconds, decode to the last file closed. Each timing runs in a process of
its own: in one process, ours after the official loop ran about 15 % slower than alone (at 720p,
11.0 against 13.2 fps). Prints a table; asserts nothing.
The issue's target is ours >= 2x the official fps. On a shared machine the load averages
printed say how far to trust the numbers.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from bench.run import _loadavg, _table

__all__ = ["main", "make_clip", "measure", "official_loop"]

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


_KINDS = ("official", "per-frame", "stable")


def measure(kind: str, clip: Path, warm: Path, out: Path, weights: Path, cache_dir: Path | None) -> tuple[int, float]:
    """One timing, in this process: (frames, wall seconds) of ``kind`` on ``clip``, after a warm-up on ``warm``."""
    from core.midas.predictor import set_torch_threads

    set_torch_threads(None)
    if kind == "official":
        from core.midas.checkpoint import read_checkpoint
        from core.midas.model import create_midas_small

        model = create_midas_small(read_checkpoint(weights))  # fresh, default settings
        official_loop(warm, model, out)  # warm-up: first-call allocations of each shape
        start = time.perf_counter()
        frames = official_loop(clip, model, out)
        return frames, time.perf_counter() - start
    from core.midas.predictor import load_predictor
    from core.video.pipeline import process_video

    fast = load_predictor(weights=weights, backend="fast", size=256, cache_dir=cache_dir)
    process_video(warm, fast, out / "warm", "warm", mode=kind)
    result = process_video(clip, fast, out / "ours", "clip", mode=kind)
    return result.frames, result.seconds


def _in_own_process(kind: str, clip: Path, warm: Path, out: Path, weights: Path, cache_dir: Path | None) -> tuple[int, float]:
    """:func:`measure` in a fresh process, so that no run inherits another's threads or heap."""
    argv = [sys.executable, "-m", "bench.video", "--measure", kind, "--clip", str(clip), "--warm", str(warm),
            "--out", str(out), "--weights", str(weights)] + (["--cache-dir", str(cache_dir)] if cache_dir else [])
    run = subprocess.run(argv, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"{kind} on {clip.name} failed:\n{run.stderr[-2000:]}")
    frames, seconds = run.stdout.split()[-2:]
    return int(frames), float(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.video", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length, s (10 in the issue; less for a look)")
    parser.add_argument("--sizes", default="1280x720,640x360", help="clip sizes WxH, comma-separated")
    parser.add_argument("--weights", type=Path, default=None, help="checkpoint (default: resolve as the app does)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="fast-backend cache (default: the app's)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the clips and outputs go (default: the system's temp; /dev/shm: in memory, "
                        "to take a slow disk out)")
    parser.add_argument("--measure", choices=_KINDS, help=argparse.SUPPRESS)  # one timing (run by main itself)
    parser.add_argument("--clip", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warm", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(*measure(args.measure, args.clip, args.warm, args.out, args.weights, args.cache_dir))
        return 0
    if args.seconds <= 0:
        raise SystemExit("error: --seconds must be > 0")
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",") if s]

    import torch

    from core.midas.download import resolve_weights
    from core.midas.predictor import load_predictor, set_torch_threads

    threads = set_torch_threads(None)
    weights = resolve_weights(args.weights).path
    fast = load_predictor(weights=weights, backend="fast", size=256, cache_dir=args.cache_dir)  # converts it once
    print("# Video: clip -> depth -> H.264 video, N = 256\n")
    print(f"- {threads} torch threads; torch {torch.__version__}, OpenCV {cv2.__version__}; ours: {fast.info.backend_note}")
    print("- each timing in a process of its own, after a 0.2 s warm-up clip in it")
    print(f"- load average (1, 5, 15 min) at start: {_loadavg()}\n", flush=True)
    del fast

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_video_", dir=args.dir) as tmp:
        work = Path(tmp)
        for width, height in sizes:
            clip = make_clip(work / f"clip_{width}x{height}.mp4", width, height, args.seconds)
            warm = make_clip(work / f"warm_{width}x{height}.mp4", width, height, 0.2)
            fps = {}
            for kind in _KINDS:
                frames, seconds = _in_own_process(kind, clip, warm, work, weights, args.cache_dir)
                fps[kind] = frames / seconds
            rows.append([f"{width}x{height}", f"{args.seconds:g}", frames, f"{fps['official']:.2f}",
                         f"{fps['per-frame']:.2f}", f"{fps['per-frame'] / fps['official']:.2f}x",
                         f"{fps['stable']:.2f}", f"{fps['stable'] / fps['official']:.2f}x"])
            print(f"- {' | '.join(map(str, rows[-1]))} (load {_loadavg()})", flush=True)  # the row, as soon as known
    print()
    print(_table(["clip", "s", "frames", "official fps", "ours per-frame fps", "per-frame / official",
                  "ours stable fps", "stable / official"], rows))
    print("\n- target: ours >= 2x the official fps")
    print(f"- load average at end: {_loadavg()} (the machine is shared: other processes ran meanwhile)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
