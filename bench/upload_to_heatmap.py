"""Server-side time from an uploaded 12-megapixel JPEG to the Depth Explorer's heatmap.

Times each step the explorer runs for a new upload, through the same cached functions
(ui.cache) the app uses, then the same path again as a cache hit (what a page switch or
a colormap change costs). Prints a table; asserts nothing.

    MIDAS_WEIGHTS=/path/to/weights.pt python -m bench.upload_to_heatmap [--size 256] [--repeat 3]

The 4000x3000 JPEG is ``bench.run.make_jpeg``'s: a photo upscaled, with film grain.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import statistics
import time

import numpy as np

from bench.run import make_jpeg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="network size N")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (median shown)")
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # bare-mode cache warnings

    from core.maps.colormaps import colorize
    from core.maps.display import pixel_probe
    from core.midas.download import resolve_weights
    from ui import cache

    data = make_jpeg(3000, 4000)
    weights = resolve_weights()
    predictor = cache.get_predictor(str(weights.path), weights.path.stat().st_mtime_ns, args.size)
    predictor.run(np.zeros((64, 64, 3), np.uint8))  # warm-up: first-call allocations

    rows: dict[str, list[float]] = {}

    def timed(label: str, fn):
        t0 = time.perf_counter()
        out = fn()
        rows.setdefault(label, []).append(time.perf_counter() - t0)
        return out

    for _ in range(args.repeat):
        for fn in (cache.decode, cache.predict, cache.summary, cache.display_arrays):
            fn.clear()
        for phase in ("new upload", "cache hit"):
            start = time.perf_counter()
            digest = timed(f"{phase}: sha256 of {len(data) / 1e6:.1f} MB", lambda: hashlib.sha256(data).hexdigest())
            rgb = timed(f"{phase}: decode 4000x3000 JPEG", lambda: cache.decode(digest, data))
            pred = timed(f"{phase}: predict N={args.size} (+ upsample to 12 MP)",
                         lambda: cache.predict(digest, args.size, predictor.info.sha256, predictor, rgb))
            stats, hist = timed(f"{phase}: stats + 4096-bin histogram",
                                lambda: cache.summary(digest, args.size, predictor.info.sha256, pred.depth))
            small_rgb, small_depth = timed(f"{phase}: photo and map at display size",
                                           lambda: cache.display_arrays(digest, args.size, predictor.info.sha256,
                                                                        rgb, pred))
            lo, hi = hist.percentiles((1.0, 99.0))
            timed(f"{phase}: colorize heatmap ({small_depth.shape[1]}x{small_depth.shape[0]})", lambda: colorize(small_depth, "inferno", lo, hi))
            timed(f"{phase}: pixel probe grid", lambda: pixel_probe(pred.depth, hist, lo, hi))
            rows.setdefault(f"{phase}: TOTAL upload -> heatmap", []).append(time.perf_counter() - start)

    width = max(map(len, rows))
    print(f"{'step':<{width}}  {'median ms':>10}  {'min ms':>8}")
    print("-" * (width + 22))
    for label, values in rows.items():
        print(f"{label:<{width}}  {statistics.median(values) * 1000:>10.0f}  {min(values) * 1000:>8.0f}")
    print(f"\nnetwork inference alone (from Prediction.seconds): {pred.seconds['inference'] * 1000:.0f} ms; "
          f"torch threads: {predictor.info.threads}")


if __name__ == "__main__":
    main()
