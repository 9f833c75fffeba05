"""Command line: ``python -m core predict IMAGE... --out DIR`` and ``python -m core info``.

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

__all__ = ["main"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})


class _UsageError(Exception):
    pass


def _net_size(text: str) -> int:
    try:
        return check_net_size(int(text))
    except (TypeError, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e)) from e


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

    info = sub.add_parser("info", help="show which weights load, their SHA-256, and the runtime")
    _model_options(info)
    return parser


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, default=None, metavar="PATH", help="checkpoint (default: resolve)")
    parser.add_argument("--backend", default="auto", choices=("auto", "fast", "torch"),
                        help="auto (default): OpenVINO if installed and self-checked, else torch; "
                        "fast: OpenVINO or fail; torch: plain PyTorch")


def expand_inputs(inputs: Iterable[str]) -> list[Path]:
    """Files as given, plus the images directly inside each folder (sorted by name)."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise _UsageError(f"folder {path} contains no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
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


def _predict(args: argparse.Namespace) -> int:
    paths = expand_inputs(args.inputs)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _UsageError(f"cannot create output folder {args.out}: {e.strerror}") from e
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
            message = str(e)  # read errors already name the file; decode errors do not
            print(f"error: {message}" if str(path) in message else f"error: {path}: {message}", file=sys.stderr)
            continue
        h, w = depth.shape
        print(f"[{i}/{len(paths)}] {path} ({w}x{h}) -> {args.out / stem}.npy, _depth.png, _depth16.png "
              f"in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    ok = len(paths) - failures
    print(f"done: {ok} of {len(paths)} images written to {args.out}", file=sys.stderr)
    return 1 if failures else 0


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
        return _predict(args) if args.command == "predict" else _info(args)
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
