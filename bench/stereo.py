"""Stereo and 3D photo timings at 1080p: a stereo pair, the anaglyph, a wiggle GIF, an orbit frame.

The photo is samples/rocket.jpg resized to 1920x1080; its depth is synthetic (a smooth
slope, ripples and three boxes in front, so there are edges to disocclude), because the
timing of the rendering does not depend on where the depth came from and the benchmark
then needs no weights. Prints a markdown table of medians; asserts nothing. The CPU column
(process time, every thread) is the steadier figure on a shared machine.

    python -m bench.stereo [--repeat 5] [--strength 3]

Targets (issue 14): a 1080p stereo pair <= 200 ms, a 1080p wiggle GIF <= 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def scene(width: int = 1920, height: int = 1080) -> tuple[np.ndarray, np.ndarray]:
    """(rgb, depth): the rocket photo at width x height and a synthetic relative inverse depth."""
    bgr = cv2.imread(str(REPO / "samples" / "rocket.jpg"))
    rgb = np.ascontiguousarray(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_CUBIC)[:, :, ::-1])
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    depth = 1.0 + yy / height + 0.2 * np.sin(xx / 90.0) * np.cos(yy / 70.0)  # HxW: nearer towards the bottom
    for r0, c0, size, value in ((200, 300, 300, 3.0), (500, 1100, 400, 4.0), (700, 200, 250, 3.5)):
        depth[r0 : r0 + size, c0 : c0 + size] = value
    return rgb, depth.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per row (the median is shown)")
    parser.add_argument("--strength", type=float, default=3.0, help="strength, %% of the width")
    args = parser.parse_args(argv)

    from core.geometry.stereo import anaglyph, compose, disparity_map, render_view, stereo_pair
    from core.io.exports import png_bytes
    from core.video.photo3d import gif_bytes, orbit_shifts, render_frames, wiggle_gif, wiggle_shifts

    rgb, depth = scene()
    pair = stereo_pair(rgb, depth, args.strength, 0.5)  # warm-up (first-call allocations)
    disparity = disparity_map(depth, args.strength, 0.5)
    frames = list(render_frames(rgb, depth, wiggle_shifts(6), args.strength, 0.5))
    rows: list[tuple[str, float, float, float, str]] = []

    def timed(label: str, fn, target: str = "") -> None:
        wall, cpu = [], []
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        rows.append((label, min(wall) * 1e3, statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3, target))

    timed("stereo pair (disparity + left + right, background fill)",
          lambda: stereo_pair(rgb, depth, args.strength, 0.5), "<= 200 ms")
    timed("stereo pair, OpenCV Telea fill", lambda: stereo_pair(rgb, depth, args.strength, 0.5, fill="telea"))
    timed("one view (render_view, horizontal)", lambda: render_view(rgb, disparity, (0.5, 0.0)))
    timed("one orbit view (render_view, diagonal)", lambda: render_view(rgb, disparity, tuple(orbit_shifts(8)[1])))
    timed("anaglyph of the pair (Dubois, linear light)", lambda: anaglyph(pair.left.image, pair.right.image))
    timed("side-by-side PNG encode (3840x1080)", lambda: png_bytes(compose(pair.left.image, pair.right.image, "sbs")))
    timed("wiggle: 6 views rendered", lambda: list(render_frames(rgb, depth, wiggle_shifts(6), args.strength, 0.5)))
    timed("wiggle: GIF encode of the 6 views", lambda: gif_bytes(frames))
    timed("wiggle GIF, end to end (wiggle_gif)", lambda: wiggle_gif(rgb, depth, args.strength, 0.5), "<= 2000 ms")
    size = len(wiggle_gif(rgb, depth, args.strength, 0.5))

    print(f"## Stereo and 3D photo, 1920x1080, strength {args.strength:g} % "
          f"({args.strength / 100 * 1920:.0f} px), convergence 0.5, {args.repeat} runs\n")
    print("| step | best ms | median ms | median CPU ms (all threads) | target |")
    print("|---|---|---|---|---|")
    for label, best, median, cpu, target in rows:
        print(f"| {label} | {best:.0f} | {median:.0f} | {cpu:.0f} | {target} |")
    holes = pair.left.holes.mean()
    print(f"\nleft view: {holes:.2%} of the pixels were holes (filled); wiggle GIF: {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
