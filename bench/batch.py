"""Throughput of ``python -m core batch`` against today's ``predict`` loop (issue 16).

    .venv/bin/python -m bench.batch [--images 200] [--weights PATH] [--backend auto] [--dir /dev/shm]

Writes ``--images`` copies of one photo-like 1920x1080 JPEG (``bench.run.make_jpeg``), then
times, each in its own process on the same files, one after the other:

1. ``predict`` (today's loop: one file after another);
2. ``batch --engine local`` (decoding and writing overlap the network);
3. ``batch --engine ray --workers 2 --threads 1`` (a local Ray started by the command);
4. ``batch --engine ray --workers 1 --threads 2``;
5. ``batch --engine ray --address auto --workers 2 --threads 1``, joining a one-node cluster
   started before it (``ray start --head``, not timed), as jobs are sent to a running cluster.

Each row gives the wall time, images/s, and core-seconds per image: the CPU time (user +
system) of the command's whole process tree (Ray's own processes included when the command
starts Ray; not the running cluster's of run 5), read from ``/proc`` every 0.2 s, so Linux only;
the whole machine's busy core-seconds per image over the run (which do include a running
cluster's); and the share of the machine's CPU time spent waiting for
the disk (iowait, from ``/proc/stat``): each run writes about 14 MB an image, and a slow disk
bounds it before the CPU does. ``--dir /dev/shm`` keeps the files in memory to take the disk out;
each run's outputs are deleted once it is timed. Starting a command (importing torch, loading
the model, on Ray starting the cluster and its actors) is part of the wall time; the "steady"
columns leave it out: images/s between the first and the last ``.npy`` written (their mtimes).
The weights come as every command finds them; the fast backend's conversion is done once before
the runs. Load averages are printed: on a shared machine they say how much to trust the numbers.
Nothing here asserts.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
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


def _cpu_ticks() -> tuple[int, int, int]:
    """(all, iowait, busy) CPU ticks of the machine so far, from ``/proc/stat``."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total, fields[4], total - fields[3] - fields[4]


def _steady_rate(out: Path) -> float:
    """Images/s between the first and the last ``.npy`` written under ``out`` (one per image)."""
    times = sorted(f.stat().st_mtime for f in out.rglob("*.npy"))
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else float("nan")


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, float, str]:
    """Run ``argv``; return (wall seconds, core-seconds of its process tree, core-seconds of the whole machine,
    iowait share, last stderr line)."""
    seen: dict[int, float] = {}
    ticks = _cpu_ticks()
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, cwd=_REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            _tree_cpu(proc.pid, seen)
            time.sleep(0.2)
        wall = time.perf_counter() - start
        (total, iowait, busy), (total0, iowait0, busy0) = _cpu_ticks(), ticks
        err.seek(0)
        lines = [line for line in err.read().splitlines() if line.startswith(("done", "error"))]
    return (wall, sum(seen.values()), (busy - busy0) / _TICK, (iowait - iowait0) / max(1, total - total0),
            lines[-1] if lines else f"exit code {proc.returncode}")


_JOINS = "batch --engine ray --address auto, 2 actors x 1 thread, joining a running cluster"


@contextlib.contextmanager
def _cluster(env: dict[str, str]):
    """A one-node Ray cluster (``ray start --head``) for the run that joins one; stopped after it.

    Its workers import this checkout's ``core`` (``PYTHONPATH``), as a cluster's nodes have the
    project installed. Starting it is not timed: a cluster is up before jobs are sent to it.
    """
    ray = [str(Path(sys.executable).with_name("ray"))]
    env = {**env, "PYTHONPATH": str(_REPO)}
    subprocess.run([*ray, "start", "--head", "--num-cpus", str(os.cpu_count() or 1), "--include-dashboard=false",
                    "--disable-usage-stats"], cwd=_REPO, env=env, check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([*ray, "stop", "--force"], cwd=_REPO, env=env, check=False, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200, help="how many 1920x1080 JPEGs (default 200)")
    parser.add_argument("--weights", default=None, help="checkpoint (default: as the commands resolve it)")
    parser.add_argument("--backend", default="auto", choices=("auto", "fast", "torch"))
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the inputs and outputs go (default: the system's temp; /dev/shm: in memory)")
    args = parser.parse_args(argv)

    from bench.run import make_jpeg

    env = dict(os.environ)
    common = ["--backend", args.backend] + (["--weights", args.weights] if args.weights else [])
    py = [sys.executable, "-m", "core"]
    with tempfile.TemporaryDirectory(prefix="bench_batch_", dir=args.dir) as tmp:
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
            (_JOINS, ["batch", str(folder), "--out", str(Path(tmp) / "o5"), "--engine", "ray", "--address", "auto",
                      "--workers", "2", "--threads", "1"]),
        ]
        print(f"{args.images} JPEGs 1920x1080, backend {args.backend}, {os.cpu_count()} CPUs; "
              f"load averages before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print()
        print("| command | wall s | images/s | vs predict | steady images/s | steady vs predict | core-s per image "
              "| machine core-s per image | iowait | last line |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        base = steady_base = None
        for label, cmd in runs:
            with _cluster(env) if label == _JOINS else contextlib.nullcontext():
                wall, cpu, machine, iowait, last = _timed([*py, *cmd, *common], env)
            out = Path(cmd[cmd.index("--out") + 1])
            steady = _steady_rate(out)
            shutil.rmtree(out, ignore_errors=True)  # the disk holds one run's files at most
            rate = args.images / wall
            base, steady_base = base or rate, steady_base or steady
            print(f"| {label} | {wall:.1f} | {rate:.2f} | {rate / base:.2f}x | {steady:.2f} | {steady / steady_base:.2f}x "
                  f"| {cpu / args.images:.3f} | {machine / args.images:.3f} | {iowait:.0%} | {last} |", flush=True)
        print()
        print(f"load averages after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
