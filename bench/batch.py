"""Throughput of ``python -m core batch`` against today's ``predict`` loop (issue 16).

    .venv/bin/python -m bench.batch [--images 200] [--weights PATH] [--backend auto]

Writes ``--images`` copies of one photo-like 1920x1080 JPEG (``bench.run.make_jpeg``), then
times, each in its own process on the same files, one after the other:

1. ``predict`` (today's loop: one file after another);
2. ``batch --engine local`` (decoding and writing overlap the network);
3. ``batch --engine ray --workers 2 --threads 1`` (a local Ray started by the command);
4. ``batch --engine ray --workers 1 --threads 2``.

Each row gives the wall time, images/s, and core-seconds per image: the CPU time (user +
system) of the command's whole process tree (Ray's own processes included), read from
``/proc`` every 0.2 s, so Linux only. The weights come as every command finds them; the fast
backend's conversion is done once before the runs. Load averages are printed: on a shared
machine they say how much to trust the numbers. Nothing here asserts.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]

_REPO = Path(__file__).resolve().parents[1]
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _tree_cpu(root: int, seen: dict[int, float]) -> None:
    """Record the CPU seconds of ``root`` and its descendants into ``seen`` (pid -> last value)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    for pid in tree:
        if pid in cpu:
            seen[pid] = max(seen.get(pid, 0.0), cpu[pid])


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``argv``; return (wall seconds, core-seconds of its process tree, last stderr line)."""
    seen: dict[int, float] = {}
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, cwd=_REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            _tree_cpu(proc.pid, seen)
            time.sleep(0.2)
        wall = time.perf_counter() - start
        err.seek(0)
        lines = [line for line in err.read().splitlines() if line.startswith(("done", "error"))]
    return wall, sum(seen.values()), lines[-1] if lines else f"exit code {proc.returncode}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200, help="how many 1920x1080 JPEGs (default 200)")
    parser.add_argument("--weights", default=None, help="checkpoint (default: as the commands resolve it)")
    parser.add_argument("--backend", default="auto", choices=("auto", "fast", "torch"))
    args = parser.parse_args(argv)

    from bench.run import make_jpeg

    env = dict(os.environ)
    common = ["--backend", args.backend] + (["--weights", args.weights] if args.weights else [])
    py = [sys.executable, "-m", "core"]
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        jpeg = make_jpeg(1080, 1920)
        for i in range(args.images):
            (folder / f"photo{i:04d}.jpg").write_bytes(jpeg)
        one = folder / "photo0000.jpg"
        subprocess.run([*py, "predict", str(one), "--out", str(Path(tmp) / "warm"), *common], cwd=_REPO, env=env,
                       check=False, capture_output=True)  # converts the fast backend once, outside the timings
        runs = [
            ("predict (today's loop)", ["predict", str(folder), "--out", str(Path(tmp) / "o1")]),
            ("batch --engine local", ["batch", str(folder), "--out", str(Path(tmp) / "o2")]),
            ("batch --engine ray, 2 actors x 1 thread",
             ["batch", str(folder), "--out", str(Path(tmp) / "o3"), "--engine", "ray", "--workers", "2",
              "--threads", "1"]),
            ("batch --engine ray, 1 actor x 2 threads",
             ["batch", str(folder), "--out", str(Path(tmp) / "o4"), "--engine", "ray", "--workers", "1",
              "--threads", "2"]),
        ]
        print(f"{args.images} JPEGs 1920x1080, backend {args.backend}, {os.cpu_count()} CPUs; "
              f"load averages before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print()
        print("| command | wall s | images/s | core-s per image | vs predict | last line |")
        print("|---|---|---|---|---|---|")
        base = None
        for label, cmd in runs:
            wall, cpu, last = _timed([*py, *cmd, *common], env)
            rate = args.images / wall
            base = base or rate
            print(f"| {label} | {wall:.1f} | {rate:.2f} | {cpu / args.images:.3f} | {rate / base:.2f}x | {last} |",
                  flush=True)
        print()
        print(f"load averages after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
