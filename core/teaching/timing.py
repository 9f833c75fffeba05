"""Stage-by-stage timing of the whole pipeline, in this process or in a fresh one.

This is the library's one pipeline timer. Every pass starts with the same timed steps,
:data:`PREDICTION_STAGES`: decode the file, then the predictor's preprocess (resize and
normalise), inference and upsample. Two passes follow them:

- :func:`time_pipeline`, the Performance Lab's pass (:data:`STAGES`): then colourise the
  full-resolution map;
- :func:`time_first_view`, what the dashboard computes for a new photo
  (:data:`FIRST_VIEW_STAGES`, timed by ``bench/run.py``): then the full map's stats and
  histogram, and the heatmap (display-size map, colormap, JPEG), as :func:`time_view_stages`.

:func:`time_in_subprocess` runs Performance Lab passes in a fresh Python process, which is
the honest way to measure two things:

- the thread count: ``torch.set_num_threads`` is process-wide, so changing it in a server
  would slow down every other user; a child process has its own;
- warm-up: the first pass of a new process pays one-off costs (memory allocation, kernel
  selection) that later passes do not.

The child is ``python -m core.teaching.timing``, started with this ``core`` package on its
``PYTHONPATH`` (wherever it is installed, from any working directory); it prints one JSON
line per pass.

Each pass also records what else used the CPU meanwhile: the process's own CPU time
(all its threads) and the busy time of the CPUs it may run on, from ``/proc/stat`` (or
psutil, where it is installed; elsewhere unknown). Their difference over the pass's wall
time is how many cores other programs took, the browser and this app's server included:
:func:`summarize_runs` reports it as ``other_cores``.

Example:
    >>> from core.teaching.timing import STAGES
    >>> STAGES
    ('decode', 'preprocess', 'inference', 'upsample', 'colourise')
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median

import numpy as np

import core
from core.io.exports import jpeg_bytes
from core.io.images import decode_image
from core.maps.colormaps import colorize
from core.maps.display import DISPLAY_MAX_WIDTH, fit_width
from core.maps.stats import summarize
from core.maps.view import HISTOGRAM_BINS, SUMMARY_PERCENTILES
from core.midas.predictor import BACKENDS, Prediction, Predictor

__all__ = [
    "FIRST_VIEW_STAGES",
    "PREDICTION_STAGES",
    "STAGES",
    "available_backends",
    "cpu_cores",
    "machine_busy_seconds",
    "parse_proc_stat",
    "RunSummary",
    "Spread",
    "StageTimes",
    "TimingError",
    "steady_spread",
    "summarize_runs",
    "time_first_view",
    "time_in_subprocess",
    "time_pipeline",
    "time_view_stages",
]

#: The stages every pass starts with: decode the file, then the predictor's own three.
PREDICTION_STAGES: tuple[str, ...] = ("decode", "preprocess", "inference", "upsample")

#: The stages of one Performance Lab pass (:func:`time_pipeline`), in order; each is a label
#: the Performance Lab shows.
STAGES: tuple[str, ...] = (*PREDICTION_STAGES, "colourise")

#: The stages of a new photo's first view (:func:`time_first_view`), in order; its result
#: also holds ``"total"``.
FIRST_VIEW_STAGES: tuple[str, ...] = (*PREDICTION_STAGES, "stats + histogram", "heatmap")


def available_backends() -> tuple[str, ...]:
    """The backends worth timing here: ``"torch"``, and ``"fast"`` when OpenVINO is installed.

    ``"auto"`` is left out: it is a choice between the other two, not a backend of its own.
    Whether ``"fast"`` also passes its self-check is only known when it loads; a failure
    then shows up as that measurement's error.

    Example:
        >>> "torch" in available_backends()
        True
    """
    backends = [b for b in BACKENDS if b != "auto"]
    if "fast" in backends and importlib.util.find_spec("openvino") is None:
        backends.remove("fast")
    return tuple(backends)


def cpu_cores() -> int:
    """How many CPUs this process may run on (its affinity where the OS reports one).

    Example:
        >>> cpu_cores() >= 1
        True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def parse_proc_stat(text: str, cpus: set[int] | None = None, ticks_per_second: float = 100.0) -> float:
    """Busy CPU-seconds since boot from the text of Linux's ``/proc/stat``.

    Busy is everything but idle and iowait: user, nice, system, irq, softirq and steal
    (time a virtual machine's host gave to someone else). guest and guest_nice are already
    counted in user and nice.

    Args:
        text: the file's content.
        cpus: sum only these CPUs' ``cpuN`` lines; None takes the all-CPU ``cpu`` line.
        ticks_per_second: the kernel's USER_HZ (``os.sysconf("SC_CLK_TCK")``, 100 on Linux).

    Returns:
        Busy seconds, summed over the CPUs.

    Raises:
        ValueError: the text has no matching ``cpu`` line, or ``ticks_per_second`` <= 0.

    Example:
        >>> text = "cpu  300 0 100 900 50 0 0 20 0 0\\ncpu0 200 0 50 400 20 0 0 10 0 0\\n"
        >>> parse_proc_stat(text), parse_proc_stat(text, cpus={0})
        (4.2, 2.6)
    """
    if not ticks_per_second > 0:
        raise ValueError(f"ticks_per_second must be > 0, got {ticks_per_second}")
    busy, found = 0.0, False
    for line in text.splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or len(fields) < 4:
            continue
        if (cpus is None) != (name == "cpu") or (cpus is not None and int(name[3:]) not in cpus):
            continue
        user, nice, system, _idle, *rest = (float(f) for f in fields)
        _iowait, irq, softirq, steal = (rest + [0.0] * 4)[:4]
        busy += user + nice + system + irq + softirq + steal
        found = True
    if not found:
        which = "the all-CPU 'cpu' line" if cpus is None else f"lines for CPUs {sorted(cpus)}"
        raise ValueError(f"/proc/stat text has no {which}")
    return busy / ticks_per_second


def machine_busy_seconds() -> float | None:
    """Busy CPU-seconds since boot of the CPUs this process may run on, or None if unknown.

    Read from ``/proc/stat`` (Linux), else from psutil if it happens to be installed (it is
    not a dependency), else None: on such systems other programs' CPU use is not measured.
    """
    try:
        text = Path("/proc/stat").read_text()
        try:
            cpus: set[int] | None = set(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = None
        try:
            return parse_proc_stat(text, cpus, float(os.sysconf("SC_CLK_TCK")))
        except ValueError:  # affinity CPUs not listed (an odd container): take the whole machine
            return parse_proc_stat(text, None, float(os.sysconf("SC_CLK_TCK")))
    except (OSError, ValueError, AttributeError):
        pass
    try:
        import psutil  # type: ignore[import-not-found]  # optional
    except ImportError:
        return None
    times = psutil.cpu_times()._asdict()
    idle = times.get("idle", 0.0) + times.get("iowait", 0.0)
    counted = sum(v for k, v in times.items() if k not in ("guest", "guest_nice"))
    return float(counted - idle)


class TimingError(RuntimeError):
    """A timing child process failed; the message carries its error output."""


@dataclass(frozen=True)
class StageTimes:
    """Wall-clock seconds of every stage of one pass, and the CPU time around it.

    Attributes:
        seconds: stage name -> seconds, one entry per name in :data:`STAGES`.
        size: network size N.
        net_hw: (h, w) of the network input.
        threads: torch threads in the process that ran the pass.
        backend: the predictor's backend.
        cpu_seconds: CPU time of that process during the pass, all its threads (NaN if not
            recorded).
        machine_busy_seconds: busy CPU time of the CPUs it may run on during the pass,
            every program's, summed over those CPUs (NaN where the OS does not say).
    """

    seconds: dict[str, float]
    size: int
    net_hw: tuple[int, int]
    threads: int
    backend: str
    cpu_seconds: float = math.nan
    machine_busy_seconds: float = math.nan

    @property
    def total(self) -> float:
        """Seconds of the whole pass."""
        return float(sum(self.seconds.values()))


def _timed_prediction(
    data: bytes, predictor: Predictor, decode: Callable[[bytes], np.ndarray]
) -> tuple[dict[str, float], Prediction]:
    """Decode ``data`` and run ``predictor``: the seconds of :data:`PREDICTION_STAGES`, and the prediction."""
    t0 = time.perf_counter()
    rgb = decode(data)  # bytes -> HxWx3 uint8
    t1 = time.perf_counter()
    result = predictor.run(rgb)
    seconds = {"decode": t1 - t0, **{s: float(result.seconds[s]) for s in PREDICTION_STAGES[1:]}}
    return seconds, result


def time_pipeline(data: bytes, predictor: Predictor, cmap: str = "inferno") -> StageTimes:
    """Time one Performance Lab pass: decode ``data``, predict, colourise the full map.

    Args:
        data: the encoded image file.
        predictor: a loaded predictor; its size, backend and threads are recorded.
        cmap: colormap of the colourise stage.

    Returns:
        The seconds of each of :data:`STAGES`.

    Raises:
        core.io.images.ImageDecodeError: ``data`` is not a usable image.
    """
    busy0, cpu0 = machine_busy_seconds(), time.process_time()
    seconds, result = _timed_prediction(data, predictor, decode_image)
    t0 = time.perf_counter()
    colorize(result.depth, cmap)  # HxW float32 -> HxWx3 uint8
    seconds["colourise"] = time.perf_counter() - t0
    cpu1, busy1 = time.process_time(), machine_busy_seconds()
    return StageTimes(
        seconds=seconds,
        size=predictor.info.size,
        net_hw=(int(result.net_input.shape[2]), int(result.net_input.shape[3])),
        threads=predictor.info.threads,
        backend=predictor.info.backend,
        cpu_seconds=cpu1 - cpu0,
        machine_busy_seconds=busy1 - busy0 if busy0 is not None and busy1 is not None else math.nan,
    )


def time_view_stages(
    depth: np.ndarray, display_map: Callable[[int, int], np.ndarray], cmap: str = "inferno"
) -> dict[str, float]:
    """Time what the dashboard computes from a new map: its stats and histogram, then the heatmap.

    ``"stats + histogram"``: :func:`core.maps.stats.summarize` of the full map, with the
    Explorer's percentiles and histogram bins; ``"heatmap"``: the display-size map (at most
    ``DISPLAY_MAX_WIDTH`` px wide, from ``display_map(h, w)``) coloured between its 1st and
    99th percentile, as JPEG bytes.

    Args:
        depth: HxW full-resolution map.
        display_map: gives the map at a (height, width), e.g. ``Prediction.depth_at``.
        cmap: colormap of the heatmap.

    Returns:
        The seconds of the two stages.
    """
    t0 = time.perf_counter()
    _, hist = summarize(depth, SUMMARY_PERCENTILES, bins=HISTOGRAM_BINS)
    t1 = time.perf_counter()
    small = display_map(*fit_width(depth.shape[0], depth.shape[1], DISPLAY_MAX_WIDTH))  # -> hxw
    lo, hi = hist.percentiles((1.0, 99.0))
    jpeg_bytes(colorize(small, cmap, float(lo), float(hi)))
    t2 = time.perf_counter()
    return {"stats + histogram": t1 - t0, "heatmap": t2 - t1}


def time_first_view(
    data: bytes,
    predictor: Predictor,
    cmap: str = "inferno",
    decode: Callable[[bytes], np.ndarray] = decode_image,
) -> dict[str, float]:
    """Time a new photo's way to its first view: decode, predict, stats + histogram, heatmap.

    Args:
        data: the encoded image file.
        predictor: a loaded predictor.
        cmap: colormap of the heatmap.
        decode: the decoder (bytes -> HxWx3 uint8 RGB).

    Returns:
        The seconds of each of :data:`FIRST_VIEW_STAGES`, and ``"total"``.

    Raises:
        core.io.images.ImageDecodeError: ``data`` is not a usable image.
    """
    start = time.perf_counter()
    seconds, result = _timed_prediction(data, predictor, decode)
    seconds.update(time_view_stages(result.depth, result.depth_at, cmap))
    seconds["total"] = time.perf_counter() - start
    return seconds


@dataclass(frozen=True)
class Spread:
    """Lowest, median and highest of some seconds, and how many there were.

    Attributes:
        low: the fastest.
        median: the median.
        high: the slowest.
        n: how many values.
    """

    low: float
    median: float
    high: float
    n: int

    def overlaps(self, other: Spread) -> bool:
        """True when the two ranges [low, high] share any value.

        Example:
            >>> Spread(1.0, 1.5, 2.0, 3).overlaps(Spread(2.0, 3.0, 4.0, 3))
            True
        """
        return self.low <= other.high and other.low <= self.high


def steady_spread(runs: Sequence[StageTimes], stage: str | None = None) -> Spread:
    """The spread of the passes after the first (the warm-up), or of the only pass.

    Args:
        runs: passes in the order they ran, at least one.
        stage: one of :data:`STAGES`, or None for each pass's total.

    Returns:
        Lowest, median and highest seconds over those passes.

    Example:
        >>> t = lambda s: StageTimes(dict.fromkeys(STAGES, s / 5), 256, (192, 256), 2, "torch")
        >>> steady_spread([t(5.0), t(1.0), t(2.0), t(1.5)])
        Spread(low=1.0, median=1.5, high=2.0, n=3)
    """
    if not runs:
        raise ValueError("runs must hold at least one pass")
    if stage is not None and stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)} or None, got {stage!r}")
    later = list(runs[1:]) or list(runs)
    values = [r.total if stage is None else float(r.seconds[stage]) for r in later]
    return Spread(low=float(min(values)), median=float(median(values)), high=float(max(values)), n=len(values))


@dataclass(frozen=True)
class RunSummary:
    """First pass against the later ones, with their spread and what else used the CPU.

    Attributes:
        first: total seconds of the first pass (the warm-up in a fresh process).
        steady: median total seconds of the later passes (``first`` when there is one pass).
        steady_stages: stage -> median seconds over the later passes.
        passes: number of passes.
        spread: lowest, median and highest total seconds of the later passes.
        threads: threads of the process that ran them.
        own_cores: the process's CPU time over their wall time: how many cores it kept
            busy on average (NaN if not recorded).
        other_cores: the CPUs' busy time minus the process's own, over the wall time: how
            many cores other programs took meanwhile (None where the OS does not say).
    """

    first: float
    steady: float
    steady_stages: dict[str, float]
    passes: int
    spread: Spread
    threads: int
    own_cores: float
    other_cores: float | None


def summarize_runs(runs: Sequence[StageTimes]) -> RunSummary:
    """Summarise repeated passes: the first one, and the median and range of the rest.

    The CPU figures are totals over the later passes, not averages of per-pass ratios, so
    the 10 ms ticks of ``/proc/stat`` average out. Busy time a tick short of the process's
    own gives ``other_cores`` 0, never below.

    Args:
        runs: passes in the order they ran, at least one.

    Returns:
        The summary.

    Example:
        >>> t = lambda s: StageTimes(dict.fromkeys(STAGES, s / 5), 256, (192, 256), 2, "torch", 1.5 * s, 2.0 * s)
        >>> s = summarize_runs([t(5.0), t(1.0), t(2.0), t(1.5)])
        >>> s.first, s.steady, s.passes, (s.spread.low, s.spread.high), s.own_cores, s.other_cores
        (5.0, 1.5, 4, (1.0, 2.0), 1.5, 0.5)
    """
    spread = steady_spread(runs)
    later = list(runs[1:]) or list(runs)
    wall = sum(r.total for r in later)
    cpu = sum(r.cpu_seconds for r in later)
    busy = sum(r.machine_busy_seconds for r in later)
    return RunSummary(
        first=runs[0].total,
        steady=spread.median,
        steady_stages={s: float(median(r.seconds[s] for r in later)) for s in STAGES},
        passes=len(runs),
        spread=spread,
        threads=int(later[0].threads),
        own_cores=cpu / wall if wall > 0 else math.nan,
        other_cores=max(0.0, busy - cpu) / wall if wall > 0 and math.isfinite(busy) and math.isfinite(cpu) else None,
    )


def time_in_subprocess(
    data: bytes,
    *,
    weights: str | os.PathLike,
    size: int,
    threads: int,
    passes: int = 3,
    backend: str = "torch",
    cmap: str = "inferno",
    progress: Callable[[int, int], None] | None = None,
    timeout: float = 900.0,
) -> list[StageTimes]:
    """Time ``passes`` full passes in a fresh Python process with its own thread count.

    The calling process's ``torch`` settings are not touched.

    Args:
        data: the encoded image file.
        weights: checkpoint path for the child's predictor.
        size: network size N.
        threads: torch threads in the child, >= 1.
        passes: number of passes, >= 1; the first is the child's warm-up.
        backend: predictor backend.
        cmap: colormap of the colourise stage.
        progress: called as ``progress(done, passes)`` after each pass.
        timeout: seconds before the child is stopped.

    Returns:
        One :class:`StageTimes` per pass, in order.

    Raises:
        TimingError: the child failed or timed out (with its error output).
        ValueError: ``threads`` or ``passes`` < 1.
    """
    if threads < 1 or passes < 1:
        raise ValueError(f"threads and passes must be >= 1, got threads={threads}, passes={passes}")
    with tempfile.TemporaryDirectory(prefix="midas-timing-") as tmp:
        image = Path(tmp) / "image"
        image.write_bytes(data)
        cmd = [
            sys.executable, "-m", "core.teaching.timing",
            "--image", str(image), "--weights", os.fspath(weights), "--size", str(size),
            "--threads", str(threads), "--passes", str(passes), "--backend", backend, "--cmap", cmap,
        ]  # fmt: skip
        # OpenMP and MKL read these before torch starts; set_num_threads alone can leave them wider.
        env = {**_child_environ(), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        runs: list[StageTimes] = []
        timed_out = threading.Event()
        # stderr goes to a file: a chatty child cannot fill a pipe and stall.
        with open(Path(tmp) / "stderr", "w+") as err, subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True
        ) as child:

            def stop() -> None:
                timed_out.set()
                child.kill()

            watchdog = threading.Timer(timeout, stop)  # a hung child cannot block the caller
            watchdog.start()
            try:
                assert child.stdout is not None
                for line in child.stdout:
                    runs.append(_from_json(line))
                    if progress is not None:
                        progress(len(runs), passes)
                code = child.wait()
            except (ValueError, KeyError, TypeError) as e:  # a line that is not a pass
                child.kill()
                raise TimingError(f"timing at N={size} with {threads} thread(s) failed: {e}") from e
            finally:
                watchdog.cancel()
            err.seek(0)
            stderr = err.read().strip()
        what = f"timing at N={size} with {threads} thread(s)"
        if timed_out.is_set():
            raise TimingError(f"{what} took longer than {timeout:.0f} s and was stopped")
        if code != 0 or len(runs) != passes:
            detail = stderr.splitlines()[-1] if stderr else f"exit code {code}"
            raise TimingError(f"{what} failed: {detail}")
        return runs


def _child_environ() -> dict[str, str]:
    """This environment, with the directory holding the imported ``core`` package first on ``PYTHONPATH``.

    So ``python -m core.teaching.timing`` finds the same ``core`` from any working directory,
    whether it runs from a checkout or is installed, on any OS.
    """
    root = str(Path(core.__file__).resolve().parent.parent)  # the folder that holds core/
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, *rest])}


def _from_json(line: str) -> StageTimes:
    raw = json.loads(line)
    if set(raw["seconds"]) != set(STAGES):
        raise ValueError(f"unexpected stages {sorted(raw['seconds'])}")
    return StageTimes(
        seconds={s: float(raw["seconds"][s]) for s in STAGES},
        size=int(raw["size"]),
        net_hw=(int(raw["net_hw"][0]), int(raw["net_hw"][1])),
        threads=int(raw["threads"]),
        backend=str(raw["backend"]),
        cpu_seconds=float(raw.get("cpu_seconds", math.nan)),
        machine_busy_seconds=float(raw.get("machine_busy_seconds", math.nan)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The child process: load a predictor, time passes, print one JSON line per pass."""
    from core.midas.predictor import load_predictor

    parser = argparse.ArgumentParser(prog="python -m core.teaching.timing", description=main.__doc__)
    parser.add_argument("--image", required=True, type=Path)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--cmap", default="inferno")
    args = parser.parse_args(argv)
    data = args.image.read_bytes()
    predictor = load_predictor(weights=args.weights, backend=args.backend, size=args.size, threads=args.threads)
    for _ in range(args.passes):
        times = time_pipeline(data, predictor, args.cmap)
        print(json.dumps(asdict(times)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
