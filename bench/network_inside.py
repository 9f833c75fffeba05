"""How long the Inside the Network page takes: the hooked pass, one backward pass, a block's grid.

    python -m bench.network_inside [--weights PATH] [--photo samples/chelsea.png] [--size 256]

Loads the page's private copy of the network (``NetworkInspector``), runs the hooked forward
pass once on ``--photo`` and prints the per-block table the page shows (shape, parameters,
GFLOP, time share), then times one backward pass (a click on the depth map) and, on a 12 MP
photo (4000×3000, the photo upscaled), what the page redraws when a block is chosen: the
channel grid, the mean activation upsampled to the display photo, each encoded as PNG.
Asserts nothing; the machine's load changes every number.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2

from core.io.exports import png_bytes
from core.io.images import read_image
from core.maps.colormaps import colorize
from core.maps.display import DISPLAY_MAX_WIDTH, downscale
from core.midas.transforms import upsample_to
from core.teaching.network_anatomy import BLOCKS, NetworkInspector, activation_grid, block_table, mean_activation

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
REFERENCE_WEIGHTS = REPO.parent / "shared" / "reference" / "midas_small_random.pt"
_VIEW_WIDTH = 640  # app_pages/inside_network.py


def _grid_render_seconds(run, key: str, photo_small, repeats: int) -> float:
    """Median time of what the page draws for one block (app_pages/inside_network.py, section 2)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        activation = run.activations[key]
        png_bytes(activation_grid(activation, count=min(16, activation.shape[0])))
        view = downscale(photo_small, _VIEW_WIDTH)
        png_bytes(view)
        png_bytes(colorize(upsample_to(mean_activation(activation), *view.shape[:2]), "viridis"))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="checkpoint (default: MIDAS_WEIGHTS, the cache, the reference)")
    parser.add_argument("--photo", default=str(REPO / "samples" / "chelsea.png"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    weights = args.weights or (REFERENCE_WEIGHTS if REFERENCE_WEIGHTS.is_file() else None)

    inspector = NetworkInspector.from_weights(weights)
    rgb = read_image(args.photo)
    inspector.run(rgb, args.size)  # warm-up (and the FLOP count for this shape)
    run = inspector.run(rgb, args.size)
    print(f"## {Path(args.photo).name} ({rgb.shape[1]}×{rgb.shape[0]}), N = {args.size}, "
          f"network input {run.net_input.shape[3]}×{run.net_input.shape[2]}\n")
    rows = block_table(run)
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()) + " |")
    print(f"\nnetwork time (hooked pass): {run.network_seconds * 1000:.0f} ms; "
          f"FlopCounterMode total {run.total_flops / 1e9:.3f} GFLOP; parameters {run.total_params:,}")

    h, w = run.output.shape
    t0 = time.perf_counter()
    inspector.gradient(run.net_input, h // 2, w // 2)
    print(f"one backward pass (a click): {(time.perf_counter() - t0) * 1000:.0f} ms")

    big = cv2.resize(rgb, (4000, 3000), interpolation=cv2.INTER_CUBIC)  # a 12 MP photo
    t0 = time.perf_counter()
    big_run = inspector.run(big, args.size)
    print(f"\n## 12 MP photo (4000×3000), N = {args.size}: hooked pass with preprocessing "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms (cached per photo and N by the page)\n")
    photo_small = downscale(big, DISPLAY_MAX_WIDTH)  # what CurrentPrediction.display() caches
    print("| block | activation | grid + mean map render, median ms |")
    print("|---|---|---|")
    for block in BLOCKS:
        seconds = _grid_render_seconds(big_run, block.key, photo_small, args.repeats)
        c, bh, bw = big_run.block(block.key).shape
        print(f"| {block.title} | {c}×{bh}×{bw} | {seconds * 1000:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
