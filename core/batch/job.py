"""A batch job from start to end: inputs, what a re-run skips, an engine, the results table, a summary.

Example:
    >>> from core.batch.job import BatchConfig, run_batch
    >>> summary = run_batch(BatchConfig(inputs=("photos/",), out="depth/"))  # doctest: +SKIP
    >>> print(summary.line())  # doctest: +SKIP
    done: 37 written, 3 failed, 0 skipped (already complete) of 40 in 21.4 s (1.7 images/s); ...
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from core.batch.inputs import batch_inputs, unique_stems
from core.batch.outputs import DEFAULT_FORMATS, parse_formats
from core.batch.results import Task, plan, read_table, row, write_table
from core.batch.storage import Storage
from core.batch.work import unreadable
from core.checks import check_int
from core.midas.transforms import check_net_size
from core.maps.colormaps import COLORMAPS

__all__ = ["ENGINES", "BatchConfig", "Summary", "run_batch"]

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class BatchConfig:
    """What ``python -m core batch`` was asked to do (see its ``--help``).

    Attributes:
        inputs: Files, folders and list files.
        out: Output folder or URI.
        engine: ``"local"`` or ``"ray"``.
        address: Ray cluster address (``"auto"``, ``"ray://HOST:PORT"``); None starts a local Ray.
        workers: Ray actors (default: the cluster's CPUs / threads); unused locally.
        threads: Inference threads per predictor (default: all cores but one locally, 1 per Ray actor).
        retry_failed: Process again the inputs that failed in an earlier run.
    """

    inputs: tuple[str, ...]
    out: str
    engine: str = "local"
    address: str | None = None
    size: int = 256
    formats: tuple[str, ...] = DEFAULT_FORMATS
    colormap: str = "inferno"
    backend: str = "auto"
    weights: str | None = None
    workers: int | None = None
    threads: int | None = None
    retry_failed: bool = False

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        check_net_size(self.size)
        object.__setattr__(self, "formats", parse_formats(self.formats))
        if self.colormap not in COLORMAPS:
            raise ValueError(f"unknown colormap {self.colormap!r}: choose from {', '.join(sorted(COLORMAPS))}")
        for name in ("workers", "threads"):
            value = getattr(self, name)
            if value is not None:
                check_int(value, name, low=1)
        if self.address is not None and self.engine != "ray":
            raise ValueError("--address needs --engine ray")


@dataclass
class Summary:
    """How a job went.

    Attributes:
        rows: The results table, in input order.
        table: Where the table was written.
        interrupted: Ctrl-C stopped it; ``rows`` holds what finished.
    """

    rows: list[dict[str, Any]]
    table: str
    seconds: float
    processed: int
    total: int = 0
    interrupted: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """The final summary line."""
        c = self.counts
        failed_now = c.get("failed_now", 0)
        carried = c.get("failed", 0) - failed_now
        rate = f" ({self.processed / self.seconds:.2f} images/s)" if self.processed and self.seconds > 0 else ""
        head = "interrupted" if self.interrupted else "done"
        text = (f"{head}: {c.get('ok', 0)} written, {failed_now} failed, {c.get('skipped', 0)} skipped (already "
                f"complete) of {self.total or len(self.rows)} in {self.seconds:.1f} s{rate}")
        if carried:
            text += f"; {carried} failed in an earlier run (--retry-failed to try them again)"
        return f"{text}; results: {self.table}"


class _Bar:
    """A progress bar on a terminal; on a log, a line at each tenth."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream, self.live = total, stream, stream.isatty()
        self.done, self.failed, self.start, self._tenth = 0, 0, time.perf_counter(), 0

    def __call__(self, r: dict[str, Any]) -> None:
        self.done += 1
        self.failed += r["status"] == "failed"
        seconds = max(time.perf_counter() - self.start, 1e-9)
        frac = self.done / max(self.total, 1)
        line = (f"[{'#' * int(frac * 30):<30}] {self.done}/{self.total} images, {self.failed} failed, "
                f"{self.done / seconds:.2f} images/s")
        if self.live:
            self.stream.write(f"\r\033[K{line}" + ("\n" if self.done == self.total else ""))
            self.stream.flush()
        elif int(frac * 10) > self._tenth or self.done == self.total:
            self._tenth = int(frac * 10)
            print(line, file=self.stream)


def run_batch(
    config: BatchConfig,
    *,
    stream: TextIO | None = None,
    load: Callable[..., Any] | None = None,
) -> Summary:
    """Run a batch job and write its results table; return the summary.

    Args:
        config: The job.
        stream: Where progress and notes go (default: stderr).
        load: Builds the local engine's predictor, as ``load(weights, backend, size, threads)``
            (default: :func:`core.midas.predictor.load_predictor`).

    Raises:
        core.batch.inputs.InputsError: The inputs cannot be listed.
        core.batch.ray_engine.RayUnavailableError: ``engine="ray"`` and Ray is not installed.
        core.midas.errors.WeightsError: The weights cannot be found or loaded.
        OSError: The output folder cannot be created.
    """
    stream = stream or sys.stderr
    start = time.perf_counter()
    paths = [str(p) for p in batch_inputs(config.inputs)]
    stems = unique_stems([Path(p) for p in paths])
    if config.engine == "ray":
        from core.batch.ray_engine import import_ray

        import_ray()  # before any work: say what to install
    storage = Storage(config.out)
    storage.prepare()
    tasks, kept = plan(paths, stems, config.formats, storage, read_table(storage), config.retry_failed)
    fresh: list[dict[str, Any]] = []
    readable: list[Task] = []
    for task in tasks:
        reason = None if storage.remote and "://" in task.path else unreadable(task.path)
        if reason:
            fresh.append(row(path=task.path, stem=task.stem, status="failed", reason=reason))
        else:
            readable.append(task)
    interrupted = False
    bar = _Bar(len(tasks), stream)
    for r in fresh:
        bar(r)
    try:
        for r in _engine(config, readable, storage, stream, load):
            fresh.append(r)
            bar(r)
    except KeyboardInterrupt:
        interrupted = True
    if not interrupted:  # an input Ray never returned (e.g. deleted during the run) is a failure too
        seen = {r["path"] for r in fresh}
        fresh += [row(path=t.path, stem=t.stem, status="failed", reason=f"{t.path} was not read (was it removed?)")
                  for t in readable if t.path not in seen]
    order = {p: i for i, p in enumerate(paths)}
    rows = sorted(kept + fresh, key=lambda r: order.get(r["path"], len(order)))
    table = write_table(storage, rows)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "failed", "skipped")}
    counts["failed_now"] = sum(r["status"] == "failed" for r in fresh)
    counts["ok"] = sum(r["status"] == "ok" for r in fresh)
    return Summary(rows, table, time.perf_counter() - start, processed=len(fresh), total=len(paths),
                   interrupted=interrupted, counts=counts)


def _engine(config: BatchConfig, tasks: list[Task], storage: Storage, stream: TextIO,
            load: Callable[..., Any] | None) -> Iterator[dict[str, Any]]:
    if not tasks:
        return iter(())  # nothing to do: no model is loaded, no cluster joined
    if config.engine == "local":
        return _run_local(config, tasks, storage, stream, load)
    return _run_ray(config, tasks, storage)


def _run_local(config: BatchConfig, tasks: list[Task], storage: Storage, stream: TextIO,
               load: Callable[..., Any] | None) -> Iterable[dict[str, Any]]:
    from core.batch.local import default_threads, run_local

    if load is None:
        from core.midas.predictor import load_predictor as load
    predictor = load(weights=config.weights, backend=config.backend, size=config.size,
                     threads=config.threads or default_threads())
    if predictor.info.fallback:
        print(f"note: running on torch; the fast backend is unavailable: {predictor.info.fallback}", file=stream)
    yield from run_local(tasks, predictor, storage, config.formats, config.colormap)


def _run_ray(config: BatchConfig, tasks: list[Task], storage: Storage) -> Iterable[dict[str, Any]]:
    from core.batch.ray_engine import run_ray
    from core.midas.download import resolve_weights, sha256_file

    weights = resolve_weights(config.weights).path  # as every command finds them; the workers get this file
    yield from run_ray(tasks, weights_path=weights, sha256=sha256_file(weights), storage=storage,
                       formats=config.formats, colormap=config.colormap, backend=config.backend, size=config.size,
                       threads=config.threads, workers=config.workers, address=config.address)
