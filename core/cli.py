"""Command line: ``python -m core predict IMAGE... --out DIR``, ``python -m core video CLIP... --out DIR``
``python -m core info`` and ``python -m core describe FILE...`` (what a depth file says it holds).

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

from core import __version__
from core.maps.colormaps import COLORMAPS
from core.io.exports import stereo_png_bytes
from core.io.depth_files import DEFAULT_FORMATS, FORMATS, parse_formats, write_depth_files
from core.io.metadata import DepthFacts, facts_for
from core.io.images import ImageDecodeError, read_with_reduction
from core.geometry.intrinsics import FieldOfView, fov_from_exif, resolve_fov  # issue 14: meshes, stereo
from core.geometry.mesh import DEFAULT_CUT, MAX_FACES
from core.io.mesh_exports import MeshFileSettings, mesh_file
from core.midas.openvino_backend import FastBackendError
from core.midas.transforms import check_net_size
from core.midas.errors import WeightsError
from core.video.stable import MODES
from core.batch.inputs import IMAGE_SUFFIXES, InputsError, unique_stems as _unique_stems  # issue 16: shared with batch
from core.batch.inputs import expand_inputs as _expand_inputs

__all__ = ["main"]

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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    predict = sub.add_parser("predict", help="predict relative inverse depth for images or folders of images")
    predict.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files and/or folders of images")
    predict.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created if missing)")
    _model_options(predict)
    predict.add_argument("--size", type=_net_size, default=256, metavar="N", help="network size, 256-1024 step 32")
    predict.add_argument("--colormap", default="inferno", choices=sorted(COLORMAPS), metavar="NAME",
                         help=f"heatmap colormap: {', '.join(sorted(COLORMAPS))} (default inferno)")
    predict.add_argument("--format", type=_formats, default=DEFAULT_FORMATS, metavar="LIST", dest="formats",
                         help=f"comma-separated files to write per image, of {','.join(FORMATS)} "
                         f"(default {','.join(DEFAULT_FORMATS)}); .npy and .pfm get a <name>.json sidecar")

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

    describe = sub.add_parser("describe", help="print what files say they hold (PNG, .npy, .npz, PFM, EXR, GLB, GIF, "
                              "MP4)")
    describe.add_argument("files", nargs="+", metavar="FILE", help="files written by this app (or any such file)")

    mesh = sub.add_parser("mesh", help="textured meshes (GLB, OBJ zip, PLY) or printable reliefs (STL) of images")
    mesh.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files and/or folders of images")
    mesh.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created if missing)")
    _model_options(mesh)
    mesh.add_argument("--size", type=_net_size, default=256, metavar="N", help="network size, 256-1024 step 32")
    mesh.add_argument("--format", default="glb", choices=("glb", "obj", "ply", "stl"), dest="mesh_format",
                      help="glb (default, texture embedded), obj (a zip with .mtl and .png), ply (vertex "
                      "colours) or stl (a watertight relief in mm, near = raised)")
    _lens_options(mesh)
    mesh.add_argument("--cut", type=_cut, default=DEFAULT_CUT, metavar="T",
                      help=f"cut triangles whose relative depth jump exceeds T (default {DEFAULT_CUT:g}; 0 or off: "
                      "keep every triangle)")
    mesh.add_argument("--faces", type=_positive(int), default=200_000, metavar="K",
                      help=f"face budget (default 200000; above {MAX_FACES} it is clamped)")
    mesh.add_argument("--width-mm", type=_positive(float), default=100.0, metavar="MM", help="stl: width (default 100)")
    mesh.add_argument("--relief-mm", type=_positive(float), default=5.0, metavar="MM",
                      help="stl: relief height above the base (default 5)")
    mesh.add_argument("--base-mm", type=_positive(float), default=2.0, metavar="MM", help="stl: base thickness (default 2)")

    _stereo_parser(sub)  # issue 14: stereo views and 3D photos

    # issue 16: predict for a whole collection, here or on a Ray cluster
    batch = sub.add_parser("batch", help="depth for many images (files, folders, list files), here or on Ray")
    batch.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="image files, folders of images, and .txt/.lst files listing paths (one a line)")
    batch.add_argument("--out", required=True, metavar="OUT",
                       help="output folder, or a pyarrow filesystem URI (s3://..., gs://...)")
    batch.add_argument("--engine", default="local", choices=("local", "ray"),
                       help="local (default): this process; ray: a Ray cluster (pip install 'ray[data]')")
    batch.add_argument("--address", default=None, metavar="ADDR",
                       help="ray: auto (a running cluster) or ray://HOST:PORT; default: start Ray on this machine")
    _model_options(batch)
    batch.add_argument("--size", type=_net_size, default=256, metavar="N", help="network size, 256-1024 step 32")
    batch.add_argument("--formats", "--format", type=_formats, default=DEFAULT_FORMATS, metavar="LIST",
                       dest="formats", help=f"comma-separated, of {','.join(FORMATS)} (heatmap = png; "
                       f"default {','.join(DEFAULT_FORMATS)}), the files predict writes")
    batch.add_argument("--colormap", default="inferno", choices=sorted(COLORMAPS), metavar="NAME",
                       help="heatmap colormap (default inferno)")
    batch.add_argument("--workers", type=_positive(int), default=None, metavar="K",
                       help="ray: actors, each holding one model (default: the cluster's CPUs / T)")
    batch.add_argument("--threads", type=_positive(int), default=None, metavar="T",
                       help="inference threads per model (default: all cores but one locally, 1 per Ray actor)")
    batch.add_argument("--retry-failed", action="store_true", help="process again the inputs that failed before")

    info = sub.add_parser("info", help="show which weights load, their SHA-256, and the runtime")
    _model_options(info)
    return parser


def _lens_options(parser: argparse.ArgumentParser) -> None:
    """``--fov DEG`` or ``--focal-px F``: the field of view, for :func:`_fov` (``mesh`` and ``stereo``)."""
    lens = parser.add_mutually_exclusive_group()
    lens.add_argument("--fov", type=_positive(float), default=None, metavar="DEG",
                      help="horizontal field of view in degrees (default: from the photo's EXIF, else 60)")
    lens.add_argument("--focal-px", type=_positive(float), default=None, metavar="F",
                      help="focal length in pixels of the image, instead of --fov")


def _fov(args: argparse.Namespace, path: Path, width: int) -> FieldOfView:
    """The field of view of one image: ``--fov`` or ``--focal-px`` if given, else its EXIF's, else the default."""
    return resolve_fov(fov_from_exif(path.read_bytes()), width, fov_deg=args.fov, focal_px=args.focal_px)


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, default=None, metavar="PATH", help="checkpoint (default: resolve)")
    parser.add_argument("--backend", default="auto", choices=("auto", "fast", "torch"),
                        help="auto (default): OpenVINO if installed and self-checked, else torch; "
                        "fast: OpenVINO or fail; torch: plain PyTorch")


def expand_inputs(
    inputs: Iterable[str], suffixes: frozenset[str] = IMAGE_SUFFIXES, kind: str = "images"
) -> list[Path]:
    """:func:`core.batch.inputs.expand_inputs`, an empty folder being a usage error."""
    try:
        return _expand_inputs(inputs, suffixes, kind)
    except InputsError as e:
        raise _UsageError(str(e)) from e


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


def _formats(text: str) -> tuple[str, ...]:
    try:
        return parse_formats(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


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


def _facts(predictor, decoded, depth: np.ndarray) -> DepthFacts:
    """What the files of one prediction state (:mod:`core.io.metadata`), with the decoder's reduction, if any."""
    facts = facts_for(predictor.info, depth.shape[1], depth.shape[0])
    return facts if decoded.reduction is None else facts.with_extra(decoded=str(decoded.reduction))


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
            facts = _facts(predictor, decoded, depth)
            written = write_depth_files(args.out, stem, depth, args.colormap, args.formats, facts)
        except (ImageDecodeError, OSError) as e:
            failures += 1
            _report_failure(path, e)
            continue
        h, w = depth.shape
        print(f"[{i}/{len(paths)}] {path} ({w}x{h}) -> {args.out / stem}{', '.join(written)} "
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
        self._stage, self._quarter, self._since, self._elapsed = "depth", 0, 0.0, 0.0

    def __call__(self, done: int, total: int | None, elapsed: float, stage: str) -> None:
        if stage != self._stage:  # stable mode's second pass, encoding the videos
            self._stage, self._quarter, self._since = stage, 0, self._elapsed
        self._elapsed = elapsed
        seconds = max(elapsed - self._since, 1e-9)  # in this pass
        of = f"/{total}" if total else ""
        left = f", about {seconds / done * max(0, total - done):.0f} s left" if total and self._stage != "encoding" else ""
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


def _describe(args: argparse.Namespace) -> int:
    """Print each file's fields, ``name: value`` under the file's path; one ``error:`` line per unreadable file."""
    from core.io.describe import describe_file

    failures = 0
    for name in args.files:
        try:
            fields = describe_file(name)
        except (OSError, ValueError) as e:
            failures += 1
            _report_failure(Path(name), e)
            continue
        print(f"{name}:")
        width = max(len(key) for key in fields)
        for key, value in fields.items():
            print(f"  {key + ':':<{width + 1}} {value}")
    return 1 if failures else 0


def _cut(text: str) -> float | None:
    """``--cut``: a relative depth jump >= 0; 0 or ``off`` keeps every triangle (None)."""
    if text.strip().lower() == "off":
        return None
    try:
        value = float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or 'off', got {text!r}") from e
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or 'off', got {text!r}")
    return value or None


def _mesh(args: argparse.Namespace) -> int:
    """``mesh``: one mesh file per image, with the field of view's source and any notes on stderr."""
    paths = expand_inputs(args.inputs)
    _make_out(args.out)
    predictor = _load(args, args.size)
    settings = MeshFileSettings(fmt=args.mesh_format, faces=args.faces, cut=args.cut, width_mm=args.width_mm,
                                relief_mm=args.relief_mm, base_mm=args.base_mm)
    failures = 0
    for i, (path, stem) in enumerate(zip(paths, _unique_stems(paths)), start=1):
        start = time.perf_counter()
        try:
            decoded = read_with_reduction(path)
            if decoded.reduction is not None:
                print(f"note: {path}: {decoded.reduction}", file=sys.stderr)
            fov = _fov(args, path, decoded.rgb.shape[1])
            depth = predictor.predict(decoded.rgb)
            name, data, notes = mesh_file(depth, decoded.rgb, stem, fov.degrees, settings,
                                          _facts(predictor, decoded, depth))
            (args.out / name).write_bytes(data)
        except (ImageDecodeError, OSError, ValueError) as e:
            failures += 1
            _report_failure(path, e)
            continue
        for note in notes:
            print(f"note: {path}: {note}", file=sys.stderr)
        print(f"[{i}/{len(paths)}] {path} ({fov.note}) -> {args.out / name} in {time.perf_counter() - start:.2f} s",
              file=sys.stderr)
    return _finish(len(paths) - failures, len(paths), "meshes", args.out)


# ---- issue 14: stereo views and 3D photos (python -m core stereo) ----

_STEREO_FILES = {"sbs": "_sbs.png", "cross": "_cross.png", "tb": "_tb.png", "anaglyph": "_anaglyph.png",
                 "wiggle": "_wiggle.gif", "orbit": "_orbit.mp4"}


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from e
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _strength(text: str) -> float:
    from core.geometry.stereo import MAX_STRENGTH_PCT

    try:
        value = float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a percentage of the width, e.g. 3, got {text!r}") from e
    if not 0.0 < value <= MAX_STRENGTH_PCT:
        raise argparse.ArgumentTypeError(f"expected a percentage of the width in (0, {MAX_STRENGTH_PCT:g}], got {text!r}")
    return value


def _stereo_parser(sub) -> None:
    stereo = sub.add_parser("stereo", help="stereo pairs, anaglyphs, wiggle GIFs and orbit videos of images")
    stereo.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files and/or folders of images")
    stereo.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (created if missing)")
    _model_options(stereo)
    stereo.add_argument("--size", type=_net_size, default=256, metavar="N", help="network size, 256-1024 step 32")
    stereo.add_argument("--mode", default="sbs", choices=tuple(_STEREO_FILES),
                        help="sbs (default: side by side, parallel), cross (cross-eyed), tb (top-bottom), "
                        "anaglyph (red-cyan, Dubois), wiggle (a looping GIF), orbit (an H.264 MP4)")
    stereo.add_argument("--strength", type=_strength, default=3.0, metavar="P",
                        help="disparity between the nearest and the farthest pixel, %% of the width (default 3)")
    stereo.add_argument("--convergence", type=_fraction, default=0.5, metavar="C",
                        help="the depth at the screen (and the pivot of wiggle and orbit), 0 (farthest) to "
                        "1 (nearest); default 0.5")
    stereo.add_argument("--fill", default="background", choices=("background", "telea"),
                        help="holes: background (default: from their far side) or telea (OpenCV inpainting)")
    _lens_options(stereo)  # recorded in each file; a baseline in metres would also need a calibration


def _stereo_file(mode: str, rgb: np.ndarray, depth: np.ndarray, strength: float, convergence: float,
                 fill: str, target: Path, facts: DepthFacts, fov: FieldOfView) -> str | None:
    """Write one stereo output, stating ``facts.stereo(mode, ..., fov=fov)``; returns the map's note, if any."""
    from core.geometry.stereo import disparity_map
    from core.video.photo3d import wiggle_gif, write_orbit_mp4

    if mode == "wiggle":
        target.write_bytes(wiggle_gif(rgb, depth, strength, convergence, fill=fill, facts=facts, fov=fov))
    elif mode == "orbit":
        write_orbit_mp4(target, rgb, depth, strength, convergence, fill=fill, facts=facts, fov=fov)
    else:
        target.write_bytes(stereo_png_bytes(rgb, depth, mode, strength, convergence, fill, facts, fov=fov))
    return disparity_map(depth, strength, convergence).note


def _stereo(args: argparse.Namespace) -> int:
    """``stereo``: one stereo image, GIF or MP4 per input image, as ``predict`` reports them."""
    paths = expand_inputs(args.inputs)
    _make_out(args.out)
    predictor = _load(args, args.size)
    convergence = args.convergence
    failures = 0
    for i, (path, stem) in enumerate(zip(paths, _unique_stems(paths)), start=1):
        start = time.perf_counter()
        target = args.out / f"{stem}{_STEREO_FILES[args.mode]}"
        try:
            decoded = read_with_reduction(path)
            if decoded.reduction is not None:
                print(f"note: {path}: {decoded.reduction}", file=sys.stderr)
            fov = _fov(args, path, decoded.rgb.shape[1])
            depth = predictor.predict(decoded.rgb)
            note = _stereo_file(args.mode, decoded.rgb, depth, args.strength, convergence, args.fill, target,
                                _facts(predictor, decoded, depth), fov)
        except (ImageDecodeError, OSError, ValueError) as e:
            failures += 1
            _report_failure(path, e)
            continue
        if note:
            print(f"note: {path}: {note}", file=sys.stderr)
        h, w = depth.shape
        print(f"[{i}/{len(paths)}] {path} ({w}x{h}, strength {args.strength:g}% = {args.strength / 100 * w:.1f} px, "
              f"convergence {convergence:g}; {fov.note}) -> {target} in {time.perf_counter() - start:.2f} s",
              file=sys.stderr)
    return _finish(len(paths) - failures, len(paths), f"{args.mode} files", args.out)


def _batch(args: argparse.Namespace) -> int:
    """``batch``: see :mod:`core.batch.job`; exit 0 when no input is failed, 130 on Ctrl-C."""
    from core.batch.job import BatchConfig, run_batch
    from core.batch.ray_engine import RayUnavailableError

    config = BatchConfig(inputs=tuple(args.inputs), out=args.out, engine=args.engine, address=args.address,
                         size=args.size, formats=args.formats, colormap=args.colormap, backend=args.backend,
                         weights=None if args.weights is None else str(args.weights), workers=args.workers,
                         threads=args.threads, retry_failed=args.retry_failed)
    try:
        summary = run_batch(config)
    except InputsError as e:
        raise _UsageError(str(e)) from e
    except RayUnavailableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {args.out}: {e}", file=sys.stderr)
        return 1
    for r in summary.rows:
        if r["status"] == "failed":
            print(f"failed: {r['path']}: {r['reason']}", file=sys.stderr)
    print(summary.line(), file=sys.stderr)
    if summary.interrupted:
        return 130
    return 1 if any(r["status"] == "failed" for r in summary.rows) else 0


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
        return {"predict": _predict, "video": _video, "info": _info, "describe": _describe,
                "mesh": _mesh, "batch": _batch, "stereo": _stereo}[args.command](args)
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
