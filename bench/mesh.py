"""Mesh from a 12-megapixel photo at 200k faces (target: <= 1 s), and each export's time and size.

Builds the textured mesh (:func:`core.geometry.mesh.build_mesh`) and the relief
(:func:`core.geometry.mesh.build_relief`) of a synthetic 4000x3000 scene (a slanted plane, a box
in front of it, a textured photo), then encodes each file of :mod:`core.io.mesh_exports`.
No network is run: the map stands in for a prediction. Prints a table; asserts nothing.

    python -m bench.mesh [--width 4000] [--height 3000] [--faces 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np


def scene(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A slanted plane with a box in front (relative inverse depth), and a noisy photo."""
    rows = np.linspace(0.3, 0.6, height, dtype=np.float32)[:, None]
    inv = np.repeat(rows, width, axis=1)  # HxW float32
    inv[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = 1.0
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return inv, rgb


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--faces", type=int, default=200_000, help="face budget")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (median shown)")
    args = parser.parse_args(argv)

    from core.geometry.mesh import build_mesh, build_relief
    from core.io.mesh_exports import glb_bytes, obj_zip_bytes, ply_mesh_bytes, stl_bytes

    inv, rgb = scene(args.height, args.width)
    megapixels = args.width * args.height / 1e6
    print(f"# Mesh of a {args.width}x{args.height} ({megapixels:.1f} MP) map at a {args.faces:,}-face budget "
          f"(median of {args.repeat})\n")
    print("| step | seconds | faces | size |")
    print("|---|---:|---:|---:|")
    seconds, mesh = _time(lambda: build_mesh(inv, rgb, fov_deg=60.0, faces=args.faces), args.repeat)
    target = " (target <= 1 s)"
    print(f"| build_mesh (grid, cut, texture) | {seconds:.3f}{target} | {mesh.n_faces:,} | |")
    seconds, relief = _time(lambda: build_relief(inv, faces=args.faces), args.repeat)
    print(f"| build_relief (watertight) | {seconds:.3f} | {len(relief.faces):,} | |")
    for name, fn in (
        ("GLB (texture embedded)", lambda: glb_bytes(mesh)),
        ("OBJ + MTL + PNG zip", lambda: obj_zip_bytes(mesh, "bench")),
        ("PLY mesh", lambda: ply_mesh_bytes(mesh)),
        ("STL relief", lambda: stl_bytes(relief)),
    ):
        seconds, data = _time(fn, args.repeat)
        print(f"| {name} | {seconds:.3f} | | {len(data) / 1e6:.1f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
