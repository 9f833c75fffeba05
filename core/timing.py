"""Stage-by-stage timing of the whole pipeline, in this process or in a fresh one.

The stages are the ones a user waits for: decode the file, preprocess (resize and
normalise), inference, upsample, colourise. :func:`time_pipeline` times one pass with a
predictor you already have. :func:`time_in_subprocess` runs the passes in a fresh Python
process, which is the honest way to measure two things:

- the thread count: ``torch.set_num_threads`` is process-wide, so changing it in a server
  would slow down every other user; a child process has its own;
- warm-up: the first pass of a new process pays one-off costs (memory allocation, kernel
  selection) that later passes do not.

The child is ``python -m core.timing``; it prints one JSON line per pass.

Example:
    >>> from core.timing import STAGES
    >>> STAGES
    ('decode', 'preprocess', 'inference', 'upsample', 'colourise')
"""

from __future__ import annotations

import argparse
import importlib.util
import json
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

from core.colormaps import colorize
from core.image_io import decode_image
from core.predictor import BACKENDS, Predictor

__all__ = [
    "STAGES",
    "available_backends",
    "RunSummary",
    "StageTimes",
    "TimingError",
    "summarize_runs",
    "time_in_subprocess",
    "time_pipeline",
]

#: The stages of one pass, in order.
STAGES: tuple[str, ...] = ("decode", "preprocess", "inference", "upsample", "colourise")

_REPO = Path(__file__).resolve().parents[1]


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


class TimingError(RuntimeError):
    """A timing child process failed; the message carries its error output."""


@dataclass(frozen=True)
class StageTimes:
    """Wall-clock seconds of every stage of one pass.

    Attributes:
        seconds: stage name -> seconds, one entry per name in :data:`STAGES`.
        size: network size N.
        net_hw: (h, w) of the network input.
        threads: torch threads in the process that ran the pass.
        backend: the predictor's backend.
    """

    seconds: dict[str, float]
    size: int
    net_hw: tuple[int, int]
    threads: int
    backend: str

    @property
    def total(self) -> float:
        """Seconds of the whole pass."""
        return float(sum(self.seconds.values()))


def time_pipeline(data: bytes, predictor: Predictor, cmap: str = "inferno") -> StageTimes:
    """Time one full pass: decode ``data``, predict, colourise.

    Args:
        data: the encoded image file.
        predictor: a loaded predictor; its size, backend and threads are recorded.
        cmap: colormap of the colourise stage.

    Returns:
        The seconds of each of :data:`STAGES`.

    Raises:
        core.image_io.ImageDecodeError: ``data`` is not a usable image.
    """
    t0 = time.perf_counter()
    rgb = decode_image(data)  # bytes -> HxWx3 uint8
    t1 = time.perf_counter()
    result = predictor.run(rgb)
    t2 = time.perf_counter()
    colorize(result.depth, cmap)  # HxW float32 -> HxWx3 uint8
    t3 = time.perf_counter()
    seconds = {
        "decode": t1 - t0,
        "preprocess": float(result.seconds["preprocess"]),
        "inference": float(result.seconds["inference"]),
        "upsample": float(result.seconds["upsample"]),
        "colourise": t3 - t2,
    }
    return StageTimes(
        seconds=seconds,
        size=predictor.info.size,
        net_hw=(int(result.net_input.shape[2]), int(result.net_input.shape[3])),
        threads=predictor.info.threads,
        backend=predictor.info.backend,
    )


@dataclass(frozen=True)
class RunSummary:
    """First pass against the later ones.

    Attributes:
        first: total seconds of the first pass (the warm-up in a fresh process).
        steady: median total seconds of the later passes (``first`` when there is one pass).
        steady_stages: stage -> median seconds over the later passes.
        passes: number of passes.
    """

    first: float
    steady: float
    steady_stages: dict[str, float]
    passes: int


def summarize_runs(runs: Sequence[StageTimes]) -> RunSummary:
    """Summarise repeated passes: the first one, and the median of the rest.

    Args:
        runs: passes in the order they ran, at least one.

    Returns:
        The summary.

    Example:
        >>> t = lambda s: StageTimes(dict.fromkeys(STAGES, s / 5), 256, (192, 256), 2, "torch")
        >>> s = summarize_runs([t(5.0), t(1.0), t(2.0), t(1.5)])
        >>> s.first, s.steady, s.passes
        (5.0, 1.5, 4)
    """
    if not runs:
        raise ValueError("runs must hold at least one pass")
    later = list(runs[1:]) or list(runs)
    return RunSummary(
        first=runs[0].total,
        steady=float(median(r.total for r in later)),
        steady_stages={s: float(median(r.seconds[s] for r in later)) for s in STAGES},
        passes=len(runs),
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
            sys.executable, "-m", "core.timing",
            "--image", str(image), "--weights", os.fspath(weights), "--size", str(size),
            "--threads", str(threads), "--passes", str(passes), "--backend", backend, "--cmap", cmap,
        ]  # fmt: skip
        # OpenMP and MKL read these before torch starts; set_num_threads alone can leave them wider.
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        runs: list[StageTimes] = []
        timed_out = threading.Event()
        # stderr goes to a file: a chatty child cannot fill a pipe and stall.
        with open(Path(tmp) / "stderr", "w+") as err, subprocess.Popen(
            cmd, cwd=_REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True
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
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The child process: load a predictor, time passes, print one JSON line per pass."""
    from core.predictor import load_predictor

    parser = argparse.ArgumentParser(prog="python -m core.timing", description=main.__doc__)
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
