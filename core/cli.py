"""Command line: ``python -m core predict IMAGE... --out DIR``, ``python -m core video CLIP... --out DIR``
and ``python -m core info``.

Exit codes: 0 when every input succeeded, 1 when any input (or the weights) failed,
2 for usage errors.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from core.maps.colormaps import COLORMAPS, colorize
from core.io.exports import npy_bytes, png16_bytes, png_bytes
from core.io.images import ImageDecodeError, read_with_reduction
from core.midas.openvino_backend import FastBackendError
from core.midas.transforms import check_net_size
from core.midas.errors import WeightsError
from core.video.stable import MODES

__all__ = ["main"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif"})


class _UsageError(Exception):
    pass


def _net_size(text: str) -> int:
    try:
        return check_net_size(int(text))
    except (TypeError, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from e
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="MiDaS v2.1 small depth on the CPU.")
    sub = parser.add_subparsers(dest="command", required=True)

    predict = sub.add_parser("predict", help="predict relative inverse depth for images or folders of images")
    predict.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files and/or folders of images")
    predict.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created if missing)")
    _model_options(predict)
    predict.add_argument("--size", type=_net_size, default=256, metavar="N", help="network size, 256-1024 step 32")
    predict.add_argument("--colormap", default="inferno", choices=sorted(COLORMAPS), metavar="NAME",
                         help=f"heatmap colormap: {', '.join(sorted(COLORMAPS))} (default inferno)")

    video = sub.add_parser("video", help="depth videos (heatmap, side-by-side) and raw depth for video clips")
    video.add_argument("inputs", nargs="+", metavar="CLIP",
                       help=f"video files and/or folders of them ({', '.join(sorted(VIDEO_SUFFIXES))})")
    video.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created if missing)")
    _model_options(video)
    video.add_argument("--size", type=_net_size, default=256, metavar="N", help="network size, 256-1024 step 32")
    video.add_argument("--mode", default="stable", choices=MODES,
                       help="stable (default): frames aligned and drawn with one window; per-frame: each "
                       "frame min-max normalised on its own (flickers)")
    video.add_argument("--fps", type=_positive(float), default=None, metavar="F",
                       help="process at most F frames per second (default: every frame)")
    video.add_argument("--max-frames", type=_positive(int), default=None, metavar="K",
                       help="process at most the first K (sampled) frames")
    video.add_argument("--colormap", default="inferno", choices=sorted(COLORMAPS), metavar="NAME",
                       help=f"heatmap colormap: {', '.join(sorted(COLORMAPS))} (default inferno)")

    info = sub.add_parser("info", help="show which weights load, their SHA-256, and the runtime")
    _model_options(info)
    return parser


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, default=None, metavar="PATH", help="checkpoint (default: resolve)")
    parser.add_argument("--backend", default="auto", choices=("auto", "fast", "torch"),
                        help="auto (default): OpenVINO if installed and self-checked, else torch; "
                        "fast: OpenVINO or fail; torch: plain PyTorch")


def expand_inputs(
    inputs: Iterable[str], suffixes: frozenset[str] = IMAGE_SUFFIXES, kind: str = "images"
) -> list[Path]:
    """Files as given, plus the files with one of ``suffixes`` directly inside each folder (sorted by name)."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                raise _UsageError(f"folder {path} contains no {kind} ({', '.join(sorted(suffixes))})")
            paths.extend(found)
        else:
            paths.append(path)  # a missing file is reported per input, like any other bad input
    return paths


def _unique_stems(paths: Sequence[Path]) -> list[str]:
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        count = seen.get(path.stem, 0)
        seen[path.stem] = count + 1
        stems.append(path.stem if count == 0 else f"{path.stem}_{count + 1}")
    return stems


def _download_bar(done: int, total: int | None) -> None:
    if total:
        frac = done / total
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\rdownloading MiDaS small weights [{bar:<30}] {done / 1e6:5.1f}/{total / 1e6:.1f} MB")
    else:
        sys.stderr.write(f"\rdownloading MiDaS small weights {done / 1e6:5.1f} MB")
    if total and done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _load(args: argparse.Namespace, size: int = 256):
    """The predictor; a first run downloads the weights and converts the fast backend, on stderr."""
    from core.midas.predictor import load_predictor  # torch import deferred so `--help` is instant

    predictor = load_predictor(weights=args.weights, backend=args.backend, size=size, progress=_download_bar)
    if predictor.info.fallback:
        print(f"note: running on torch, about 2x slower; the fast backend is unavailable: {predictor.info.fallback}",
              file=sys.stderr)
    return predictor


def _write_outputs(out: Path, stem: str, depth: np.ndarray, colormap: str) -> None:
    (out / f"{stem}.npy").write_bytes(npy_bytes(depth))
    (out / f"{stem}_depth.png").write_bytes(png_bytes(colorize(depth, colormap)))
    (out / f"{stem}_depth16.png").write_bytes(png16_bytes(depth))


def _make_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _UsageError(f"cannot create output folder {out}: {e.strerror}") from e


def _report_failure(path: Path, error: Exception) -> None:
    """One ``error:`` line on stderr that names the input."""
    message = str(error)  # read errors already name the file; decode errors do not
    print(f"error: {message}" if str(path) in message else f"error: {path}: {message}", file=sys.stderr)


def _finish(ok: int, total: int, what: str, out: Path) -> int:
    """The closing line, and the exit code: 0 if every input was written, else 1."""
    print(f"done: {ok} of {total} {what} written to {out}", file=sys.stderr)
    return 1 if ok < total else 0


def _predict(args: argparse.Namespace) -> int:
    paths = expand_inputs(args.inputs)
    _make_out(args.out)
    predictor = _load(args, args.size)
    failures = 0
    for i, (path, stem) in enumerate(zip(paths, _unique_stems(paths)), start=1):
        start = time.perf_counter()
        try:
            decoded = read_with_reduction(path)  # a JPEG above the pixel limit comes back reduced
            if decoded.reduction is not None:
                print(f"note: {path}: {decoded.reduction}", file=sys.stderr)
            depth = predictor.predict(decoded.rgb)
            _write_outputs(args.out, stem, depth, args.colormap)
        except (ImageDecodeError, OSError) as e:
            failures += 1
            _report_failure(path, e)
            continue
        h, w = depth.shape
        print(f"[{i}/{len(paths)}] {path} ({w}x{h}) -> {args.out / stem}.npy, _depth.png, _depth16.png "
              f"in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    return _finish(len(paths) - failures, len(paths), "images", args.out)


class _VideoProgress:
    """Progress of :func:`core.video.pipeline.process_video` on stderr.

    On a terminal, one line updated in place; in a log (not a terminal), a line at each quarter
    of the clip's frames, so that the log stays short and every line reads on its own.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.live = sys.stderr.isatty()
        self._stage, self._last, self._quarter, self._since, self._elapsed = "depth", 0, 0, 0.0, 0.0

    def __call__(self, done: int, total: int | None, elapsed: float) -> None:
        if done <= self._last:  # the second pass (encoding the videos) counts from 1 again
            self._stage, self._quarter, self._since = "encoding", 0, self._elapsed
        self._last, self._elapsed = done, elapsed
        seconds = max(elapsed - self._since, 1e-9)  # in this pass
        of = f"/{total}" if total else ""
        left = f", about {seconds / done * max(0, total - done):.0f} s left" if total and self._stage == "depth" else ""
        line = f"{self.label} {self._stage}: frame {done}{of}, {done / seconds:.1f} fps{left}"
        if self.live:
            sys.stderr.write(f"\r\033[K{line}")
            sys.stderr.flush()
            return
        quarter = 4 * done // total if total else done // 100
        if quarter > self._quarter:
            self._quarter = quarter
            print(line, file=sys.stderr)

    def clear(self) -> None:
        if self.live:
            sys.stderr.write("\r\033[K")


def _video(args: argparse.Namespace) -> int:
    paths = expand_inputs(args.inputs, VIDEO_SUFFIXES, "videos")
    _make_out(args.out)
    predictor = _load(args, args.size)
    from core.video.pipeline import process_video  # PyAV imported only for this command
    from core.video.reader import Sampling, VideoDecodeError

    sampling = Sampling(fps=args.fps, max_frames=args.max_frames)
    failures = 0
    for i, (path, stem) in enumerate(zip(paths, _unique_stems(paths)), start=1):
        label = f"[{i}/{len(paths)}] {path}"
        progress = _VideoProgress(label)
        try:
            result = process_video(path, predictor, args.out, stem, mode=args.mode, sampling=sampling,
                                   cmap=args.colormap, progress=progress)
        except (VideoDecodeError, OSError) as e:
            failures += 1
            progress.clear()
            _report_failure(path, e)
            continue
        progress.clear()
        print(f"{label}: {result.frames} frames -> {args.out / stem}_depth.mp4, _side_by_side.mp4, _depth.npz "
              f"in {result.seconds:.1f} s", file=sys.stderr)
        print(f"{path}: {_flicker_line(result.flicker_per_frame, result.flicker, args.mode)}")
    return _finish(len(paths) - failures, len(paths), "videos", args.out)


def _flicker_line(per_frame: float | None, shown: float | None, mode: str) -> str:
    """The flicker figure: mean change of the normalised map between frames on static pixels."""
    if per_frame is None:
        return "flicker: not measured (no two consecutive frames share a static pixel)"
    line = f"flicker (mean change of the normalised map on static pixels, lower is steadier): per-frame {per_frame:.4f}"
    if mode == "per-frame":
        return line + " (run with --mode stable to compare)"
    line += f", stable {shown:.4f}" if shown is not None else ", stable not measured"
    if shown is not None and 0 < shown < per_frame:
        line += f" ({per_frame / shown:.1f}x steadier)"
    return line


def _info(args: argparse.Namespace) -> int:
    import torch

    info = _load(args).info
    print(f"weights: {info.weights_path} (found via {info.weights_source})")
    print(f"sha256:  {info.sha256}")
    print(f"backend: {info.backend}, torch {torch.__version__}, {info.threads} threads")
    print(f"backend note: {info.backend_note}")
    print(f"network size: {info.size}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = _parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors
    try:
        return {"predict": _predict, "video": _video, "info": _info}[args.command](args)
    except _UsageError as e:
        parser.print_usage(sys.stderr)
        print(f"error: {e}", file=sys.stderr)
        return 2
    except WeightsError as e:
        print(f"error: weights: {e}", file=sys.stderr)
        return 1
    except FastBackendError as e:  # only with --backend fast; auto falls back to torch
        print(f"error: fast backend: {e}", file=sys.stderr)
        return 1
