"""Side-by-side CPU benchmark: official-equivalent torch, our torch backend, the fast backend.

    .venv/bin/python -m bench [--weights PATH] [--repeats 20] [--quick] [--compare-runtimes]

Prints markdown tables, all measured in this one process (cold start in subprocesses):

1. network inference at N = 256, 384, 512 (1x3xNxN), with the error against the official path;
2. end to end, JPEG bytes -> heatmap + histogram + stats, stage by stage, for generated
   640x480, 1920x1080 and 4000x3000 JPEGs (grace_hopper.jpg upscaled, with film grain);
3. a colormap / clipping change on an already-predicted 12 MP image;
4. cold start (process start -> first prediction, weights and fast-backend cache warm) and
   the peak RSS of a process doing the 12 MP end to end;
5. the issue's targets against what was measured.

Timings are medians over ``--repeats`` warm runs; the paths are interleaved run by run so
that load from other processes hits them alike. Load averages are printed: on a shared
machine they say how much to trust the numbers. Nothing here asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["main"]

_REPO = Path(__file__).resolve().parents[1]
_CMAP = "inferno"

# ---------------------------------------------------------------------------------------------
# small helpers


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _simd() -> str:
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "n/a"
    return ", ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16") if f in flags) or "none"


def _peak_rss_mb() -> float:
    """Peak resident memory of this process, MB.

    VmHWM (the high-water mark of this process's own address space) where Linux has it:
    ``ru_maxrss`` of a child started by fork + exec also counts the parent's pages that
    the fork copied before the exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, list[float]]:
    """Time each function ``repeats`` times, round-robin, after ``warmup`` untimed calls."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


# ---------------------------------------------------------------------------------------------
# test images


def make_jpeg(height: int, width: int, quality: int = 92) -> bytes:
    """A photo-like JPEG: grace_hopper.jpg resized to ``width`` x ``height`` plus film grain.

    The grain (Gaussian, sigma 4 levels, fixed seed) gives the file the entropy of a real
    photo, so decoding costs what a camera JPEG costs rather than what a blurry upscale does.
    """
    import matplotlib

    source = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    if source is None:
        raise FileNotFoundError("matplotlib's sample_data/grace_hopper.jpg is missing; reinstall matplotlib")
    bgr = cv2.resize(source, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = np.random.default_rng(height * 10_007 + width).normal(0.0, 4.0, bgr.shape)
    bgr = np.clip(bgr + grain, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the test JPEG")
    return data.tobytes()


def _decoder() -> Callable[[bytes], np.ndarray]:
    from core.io.images import decode_image

    return decode_image


# ---------------------------------------------------------------------------------------------
# the pipelines


@dataclass
class _Official:
    """The official MiDaS_small path, reproduced: fresh eager model, default settings."""

    model: object
    size: int

    def preprocess(self, rgb: np.ndarray):
        import torch

        from core.midas.transforms import network_input_size
        from core.midas.config import MIDAS_SMALL

        h, w = network_input_size(rgb.shape[0], rgb.shape[1], self.size)
        img = cv2.resize(rgb / 255.0, (w, h), interpolation=cv2.INTER_CUBIC)  # HxWx3 uint8 -> hxwx3 float64
        img = (img - np.asarray(MIDAS_SMALL.mean)) / np.asarray(MIDAS_SMALL.std)
        return torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32))[None]  # -> 1x3xhxw

    def infer(self, x):
        return _no_grad_call(self.model, x)  # 1x3xhxw -> hxw tensor

    def upsample(self, net, height: int, width: int) -> np.ndarray:
        from core.midas.transforms import upsample  # the torch reference: F.interpolate bicubic

        return upsample(net, height, width)


def end_to_end_official(data: bytes, official: _Official, decode: Callable[[bytes], np.ndarray]) -> dict[str, float]:
    """JPEG bytes -> heatmap, histogram and stats through the official-equivalent path.

    The official path's own decode-to-upsample steps, then the library's
    :func:`core.teaching.timing.time_view_stages`.
    """
    from core.teaching.timing import PREDICTION_STAGES, time_view_stages

    t = [time.perf_counter()]
    rgb = decode(data)
    t.append(time.perf_counter())
    x = official.preprocess(rgb)
    t.append(time.perf_counter())
    net = official.infer(x)
    t.append(time.perf_counter())
    depth = official.upsample(net, rgb.shape[0], rgb.shape[1])
    t.append(time.perf_counter())
    stages = dict(zip(PREDICTION_STAGES, np.diff(t)))
    stages.update(time_view_stages(depth, lambda h, w: official.upsample(net, h, w), _CMAP))
    stages["total"] = time.perf_counter() - t[0]
    return stages


# ---------------------------------------------------------------------------------------------
# sections


def bench_network(
    official_model, predictors: dict, sizes: Sequence[int], repeats: int, warmup: int, image: np.ndarray
) -> tuple[str, dict]:
    from core.midas.transforms import preprocess

    rows, results = [], {}
    for n in sizes:
        side = min(image.shape[:2])
        x = preprocess(image[:side, :side], n)  # 1x3xNxN, a real picture
        xn = x.numpy()
        fns: dict[str, Callable[[], object]] = {"official": lambda: _no_grad_call(official_model, x)}
        for name, p in predictors.items():
            fns[name] = lambda p=p: p.network_output(xn)
        times = _interleaved(fns, repeats, warmup)
        ref = _no_grad_call(official_model, x).numpy()
        base = _median(times["official"])
        row = [f"{n}x{n}", _ms(base)]
        for name, p in predictors.items():
            med = _median(times[name])
            err = float(np.abs(p.network_output(xn).numpy().astype(np.float64) - ref).max() / np.abs(ref).max())
            row += [_ms(med), f"{med / base:.2f}", f"{err:.1e}"]
            results[(n, name)] = (med, med / base, err)
        rows.append(row)
    header = ["input", "official eager ms"]
    for name in predictors:
        header += [f"{name} ms", f"{name} / official", f"{name} max err"]
    return _table(header, rows), results


def _no_grad_call(model, x):
    import torch

    with torch.no_grad():
        return model(x)[0]


def bench_end_to_end(jpegs: dict, official: _Official, predictors: dict, repeats: int, warmup: int) -> tuple[str, dict]:
    from core.teaching.timing import FIRST_VIEW_STAGES, time_first_view  # the library's pipeline timer

    stages = (*FIRST_VIEW_STAGES, "total")
    decode = _decoder()
    rows, results = [], {}
    for label, data in jpegs.items():
        fns = {"official": lambda d=data: end_to_end_official(d, official, decode)}
        for name, p in predictors.items():
            fns[name] = lambda d=data, p=p: time_first_view(d, p, _CMAP, decode)
        samples: dict[str, list[dict[str, float]]] = {k: [] for k in fns}
        for _ in range(warmup):
            for fn in fns.values():
                fn()
        for _ in range(repeats):
            for fn_name, fn in fns.items():
                samples[fn_name].append(fn())
        base_total = _median([s["total"] for s in samples["official"]])
        for name, runs in samples.items():
            med = {k: _median([r[k] for r in runs]) for k in stages}
            results[(label, name)] = med
            ratio = "1.00" if name == "official" else f"{med['total'] / base_total:.2f}"
            rows.append([label, f"{len(data) / 1e6:.2f}", name, *(_ms(med[k]) for k in stages), ratio])
    header = ["image", "JPEG MB", "path", *(f"{k} ms" for k in stages), "total / official"]
    return _table(header, rows), results


def bench_view_change(data: bytes, predictor, repeats: int, warmup: int) -> tuple[str, dict]:
    """A colormap / clipping change on an already-predicted image: what the server recomputes.

    The Depth Explorer redraws one fragment. Its prediction, histogram and display-size
    arrays (:func:`core.maps.view.display_arrays`) are cached with the photo, so the
    fragment runs :func:`core.maps.view.build_view` (reads the clip window off the
    histogram, colours the display map, blends the overlay, starts the heatmap and overlay
    JPEGs, samples the pixel probe), builds the histogram and probe charts (serialised as
    ``st.plotly_chart`` does) and waits for the JPEGs. Streamlit's own messaging is not
    included.
    """
    import plotly.io as pio

    from core.maps.colormaps import colorize
    from core.maps.stats import histogram
    from core.io.exports import jpeg_bytes
    from core.maps.view import HISTOGRAM_BINS, build_view, display_arrays
    from ui.charts import histogram_figure, probe_figure

    rgb = _decoder()(data)
    result = predictor.run(rgb)
    depth = result.depth
    h, w = depth.shape
    hist = histogram(depth, bins=HISTOGRAM_BINS)
    rgb_small, small = display_arrays(rgb, result)
    cmaps = ["inferno", "viridis", "magma", "turbo"]
    state = {"i": 0}

    def next_view() -> tuple[str, float, float, tuple[float, float]]:
        state["i"] += 1
        clip = (1.0 + state["i"] % 3, 99.0 - state["i"] % 3)  # a new clipping window
        lo, hi = hist.percentiles(clip)
        return cmaps[state["i"] % len(cmaps)], float(lo), float(hi), clip

    def heatmap() -> bytes:
        name, lo, hi, _ = next_view()
        return jpeg_bytes(colorize(small, name, lo, hi))

    def explorer_fragment() -> None:  # the steps of app_pages/explorer.py's explorer_view, in its order
        name, _, _, clip = next_view()
        view = build_view(depth, small, rgb_small, hist, name, clip, False, 0.5)  # the photo's JPEG is cached with it
        for fig in (probe_figure(view.probe, name, h, w), histogram_figure(hist, view.lo, view.hi, clip, name, False)):
            pio.to_json(fig, validate=False)
        view.jpegs.result()

    def recolor_full() -> np.ndarray:
        name, lo, hi, _ = next_view()
        return colorize(depth, name, lo, hi)

    fns = {"heatmap": heatmap, "fragment": explorer_fragment, "full": recolor_full}
    times = {k: _median(v) for k, v in _interleaved(fns, repeats, warmup).items()}
    sh, sw = small.shape
    rows = [
        [f"new clip window + colormap on the {sw}x{sh} display map + JPEG for the browser", _ms(times["heatmap"])],
        ["the whole Explorer view: heatmap and overlay JPEGs, pixel probe, histogram and probe charts",
         _ms(times["fragment"])],
        [f"new clip window + colormap on the full {w}x{h} map (not needed for display)", _ms(times["full"])],
    ]
    return _table(["view change on a predicted image", "median ms"], rows), times


def bench_runtimes(
    official_model, fast_predictor, cache_dir: Path | None, repeats: int, warmup: int, image: np.ndarray
) -> str:
    """How the runtime was chosen: OpenVINO static shapes vs dynamic shapes vs ONNX Runtime vs torch."""
    import openvino as ov
    import torch

    from core.midas.openvino_backend import load_openvino_model
    from core.midas.transforms import preprocess

    info = fast_predictor.info
    entry = load_openvino_model(info.weights_path, info.sha256, info.size, cache_dir=cache_dir).entry_dir  # the IR

    core = ov.Core()
    dynamic = core.compile_model(core.read_model(str(entry / "midas_small.xml")), "CPU",
                                 {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"})
    dyn_request = dynamic.create_infer_request()
    channels_last = _channels_last_copy(official_model)
    ort_session, ort_note = None, ""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            import onnxruntime as ort

            path = Path(tmp) / "midas_small.onnx"
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(official_model, (torch.zeros(1, 3, 256, 256),), str(path), dynamo=False,
                                  input_names=["x"], dynamic_axes={"x": {2: "h", 3: "w"}}, opset_version=17)
            options = ort.SessionOptions()
            options.intra_op_num_threads = os.cpu_count() or 1
            ort_session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - the comparison is optional
            ort_note = f"ONNX Runtime not measured ({type(e).__name__}: {str(e)[:80]})"
        rows = []
        side = min(image.shape[:2])
        for x in (preprocess(image, 256).numpy(), preprocess(image[:side, :side], 256).numpy()):  # photo, square
            xt = torch.from_numpy(x)
            fns = {
                "torch eager (official)": lambda: _no_grad_call(official_model, xt),
                "torch eager channels-last": lambda: _no_grad_call(channels_last, xt.contiguous(memory_format=torch.channels_last)),
                "OpenVINO dynamic shape": lambda: dyn_request.infer({0: x}),
                "OpenVINO static shape (chosen)": lambda: fast_predictor.network_output(x),
            }
            if ort_session is not None:
                fns["ONNX Runtime"] = lambda: ort_session.run(None, {"x": x})
            times = _interleaved(fns, repeats, warmup)
            base = _median(times["torch eager (official)"])
            for name, values in times.items():
                rows.append([f"{x.shape[2]}x{x.shape[3]}", name, _ms(_median(values)), f"{_median(values) / base:.2f}"])
    table = _table(["input", "runtime", "median ms", "/ official"], rows)
    return table + (f"\n\n{ort_note}" if ort_note else "")


def _channels_last_copy(model):
    import copy

    import torch

    return copy.deepcopy(model).to(memory_format=torch.channels_last)


def _child(args: argparse.Namespace) -> int:
    """Subprocess: imports, load, first end-to-end prediction, then warm runs; prints JSON."""
    started = time.time()
    from core.midas.predictor import load_predictor
    from core.teaching.timing import time_first_view

    imported = time.time()
    predictor = load_predictor(weights=args.weights, backend=args.backend, size=256, cache_dir=args.cache_dir)
    loaded = time.time()
    data = Path(args.image).read_bytes()
    decode = _decoder()
    time_first_view(data, predictor, _CMAP, decode)
    first = time.time()
    totals = [time_first_view(data, predictor, _CMAP, decode)["total"] for _ in range(args.repeats)]
    print(json.dumps({
        "started": started, "imported": imported, "loaded": loaded, "first": first,
        "warm_total": _median(totals) if totals else float("nan"),
        "backend": predictor.info.backend, "note": predictor.info.backend_note,
        "peak_rss_mb": _peak_rss_mb(),
    }), flush=True)
    return 0


def bench_cold_start(
    weights: Path, cache_dir: Path | None, image: Path, backends: Sequence[str], repeats: int
) -> tuple[str, dict]:
    rows, results = [], {}
    for backend in backends:
        cmd = [sys.executable, "-m", "bench", "--child", "--backend", backend, "--weights", str(weights),
               "--image", str(image), "--repeats", str(repeats)]
        if cache_dir is not None:
            cmd += ["--cache-dir", str(cache_dir)]
        spawned = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=_REPO, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append([backend, "failed", "", "", "", "", "", last.replace("|", "/")])
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results[backend] = r | {"cold": r["first"] - spawned}
        rows.append([
            backend if r["backend"] == backend else f"{backend} -> {r['backend']}",
            f"{r['first'] - spawned:.2f}",
            f"{r['started'] - spawned:.2f}",
            f"{r['imported'] - r['started']:.2f}",
            f"{r['loaded'] - r['imported']:.2f}",
            f"{r['first'] - r['loaded']:.2f}",
            _ms(r["warm_total"]),
            f"{r['peak_rss_mb']:.0f}",
        ])
    label = image.stem
    header = ["backend", "start -> first prediction s", "interpreter + numpy/cv2 s", "core imports (torch) s", "load s",
              f"first {label} e2e s", f"warm {label} e2e ms (median of {repeats})", "peak RSS MB"]
    return _table(header, rows), results


# ---------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None, help="checkpoint (default: resolve as the app does)")
    parser.add_argument("--repeats", type=int, default=20, help="timed warm runs per measurement (median)")
    parser.add_argument("--warmup", type=int, default=5,
                        help="untimed runs first (eager torch needs several per new input shape)")
    parser.add_argument("--sizes", default="256,384,512", help="network sizes N, comma-separated")
    parser.add_argument("--images", default="640x480,1920x1080,4000x3000", help="JPEG sizes WxH, comma-separated")
    parser.add_argument("--cache-dir", type=Path, default=None, help="fast-backend cache (default: the app's)")
    parser.add_argument("--cold-backends", default="torch,fast", help="backends for the cold-start subprocesses")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 2 repeats: checks the bench runs")
    parser.add_argument("--compare-runtimes", action="store_true",
                        help="also time OpenVINO dynamic shapes and ONNX Runtime (if installed): why OpenVINO")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="fast", help=argparse.SUPPRESS)
    parser.add_argument("--image", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its tables. Returns the exit code."""
    args = _parser().parse_args(argv)
    if args.child:
        return _child(args)
    if args.quick:
        args.repeats, args.warmup = min(args.repeats, 2), 0
        args.sizes, args.images, args.cold_backends = "256", "64x48,320x240", "fast"
    sizes = [int(s) for s in args.sizes.split(",") if s]
    images = [tuple(int(v) for v in s.lower().split("x")) for s in args.images.split(",") if s]
    if args.repeats < 1 or args.warmup < 0 or not sizes or not images:
        raise SystemExit("error: --repeats must be >= 1, --warmup >= 0, and --sizes / --images not empty")

    import torch

    from core.midas.predictor import load_predictor, set_torch_threads
    from core.midas.checkpoint import read_checkpoint
    from core.midas.download import resolve_weights

    load_before = _loadavg()
    threads = set_torch_threads(None)
    weights = resolve_weights(args.weights).path
    try:
        import openvino

        ov_version = openvino.__version__.split("-")[0]
    except ImportError:
        ov_version = "not installed"
    print("# MiDaS v2.1 small on the CPU: official-equivalent torch vs our torch backend vs the fast backend\n")
    print(f"- CPU: {_cpu_name()}, {os.cpu_count()} logical cores, SIMD: {_simd()}; {threads} threads for every path")
    print(f"- torch {torch.__version__}, OpenVINO {ov_version}, OpenCV {cv2.__version__}, numpy {np.__version__}, "
          f"Python {platform.python_version()}")
    print(f"- weights: {weights}; medians of {args.repeats} runs after {args.warmup} warm-up runs, "
          "paths interleaved run by run")
    print(f"- load average (1, 5, 15 min) at start: {load_before}\n", flush=True)

    from core.midas.model import create_midas_small

    official_model = create_midas_small(read_checkpoint(weights))  # fresh, default settings, NCHW
    predictors = {
        "torch": load_predictor(weights=weights, backend="torch", size=256),
        "fast": load_predictor(weights=weights, backend="fast", size=256, cache_dir=args.cache_dir),
    }
    print(f"- torch backend: {predictors['torch'].info.backend_note}")
    print(f"- fast backend: {predictors['fast'].info.backend_note}\n", flush=True)

    decode = _decoder()
    jpegs = {f"{w}x{h}": make_jpeg(h, w) for w, h in images}
    largest_label = max(jpegs, key=lambda k: np.prod([int(v) for v in k.split("x")]))
    photo = decode(jpegs[largest_label])

    print("## 1. Network inference, 1x3xNxN (the network alone)\n")
    net_table, net = bench_network(official_model, predictors, sizes, args.repeats, args.warmup, photo)
    print(net_table + "\n", flush=True)

    from core.maps.view import HISTOGRAM_BINS

    print("## 2. End to end: JPEG bytes -> heatmap + histogram + stats (ms, medians)\n")
    print("Stages: decode (core.io.images), preprocess, inference, upsample to full size, stats and the "
          f"{HISTOGRAM_BINS}-bin histogram of the full map (core.maps.stats.summarize), heatmap = display map (<= "
          "DISPLAY_MAX_WIDTH px wide, bicubic from the raw output) + colormap + JPEG. The official path: cv2 float64 "
          "resize, eager torch (no_grad), torch bicubic upsample (full size and display size).\n")
    official = _Official(official_model, 256)
    e2e_table, e2e = bench_end_to_end(jpegs, official, predictors, args.repeats, args.warmup)
    print(e2e_table + "\n", flush=True)

    if args.compare_runtimes:
        print("## 2b. Runtime comparison at N=256 (how the fast backend was chosen)\n")
        print(bench_runtimes(official_model, predictors["fast"], args.cache_dir, args.repeats, args.warmup, photo) + "\n", flush=True)

    print(f"## 3. Colormap or clipping change on an already-predicted {largest_label} image\n")
    view_table, view = bench_view_change(jpegs[largest_label], predictors["fast"], args.repeats, args.warmup)
    print(view_table + "\n", flush=True)

    print(f"## 4. Cold start and memory (subprocess: {largest_label} JPEG, weights cached, fast cache warm)\n")
    with tempfile.TemporaryDirectory() as tmp:
        image_path = Path(tmp) / f"{largest_label}.jpg"
        image_path.write_bytes(jpegs[largest_label])
        cold_table, cold = bench_cold_start(weights, args.cache_dir, image_path,
                                            [b for b in args.cold_backends.split(",") if b], max(1, args.repeats // 4))
    print(cold_table + "\n")
    print(f"This benchmark process (every path loaded): peak RSS {_peak_rss_mb():.0f} MB\n", flush=True)

    print("## 5. Targets\n")
    rows = []
    if (256, "fast") in net:
        r = net[256, "fast"][1]
        rows.append(["inference N=256, fast / official eager", "<= 0.45", f"{r:.2f} (error {net[256, 'fast'][2]:.1e})",
                     "met" if r <= 0.45 else "missed"])
    for label, limit in (("1920x1080", 0.080), ("4000x3000", 0.300)):
        if (label, "fast") in e2e:
            v = e2e[label, "fast"]["total"]
            rows.append([f"{label} JPEG -> heatmap + hist + stats, fast", f"<= {limit * 1e3:.0f} ms", f"{v * 1e3:.0f} ms",
                         "met" if v <= limit else "missed"])
    rows.append([f"view change, {largest_label}, the whole Explorer view", "<= 30 ms",
                 f"{view['fragment'] * 1e3:.1f} ms (the heatmap alone: {view['heatmap'] * 1e3:.1f} ms)",
                 "met" if view["fragment"] <= 0.030 else "missed"])
    if "fast" in cold:
        c = cold["fast"]
        rows.append(["cold start to first prediction, fast", "<= 5 s", f"{c['cold']:.2f} s", "met" if c["cold"] <= 5 else "missed"])
        rows.append([f"peak RSS, process doing the {largest_label} end to end (fast)", "<= 1536 MB",
                     f"{c['peak_rss_mb']:.0f} MB", "met" if c["peak_rss_mb"] <= 1536 else "missed"])
    print(_table(["target", "goal", "measured", ""], rows) + "\n")
    print(f"- load average at end: {_loadavg()}")
    return 0
