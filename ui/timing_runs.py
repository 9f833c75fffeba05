"""Run timing measurements in child processes with a progress bar, and keep the results small.

Every measurement runs in a fresh ``python -m core.teaching.timing`` process (:func:`core.teaching.timing.time_in_subprocess`):
``torch.set_num_threads`` is process-wide, so measuring thread counts inside the server would
change the speed of every other session, and a fresh process makes the first pass a true warm-up.
Results go into ``st.session_state`` as plain dicts of floats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import streamlit as st

from core.teaching.timing import StageTimes, TimingError, time_in_subprocess
from core.teaching.timing_evidence import Verdict

__all__ = ["Config", "Measurement", "measure", "plan", "runs_of", "verdict_markdown"]


@dataclass(frozen=True)
class Config:
    """One thing to measure: network size, torch threads, backend."""

    size: int
    threads: int
    backend: str = "torch"

    @property
    def label(self) -> str:
        return f"N={self.size} · {self.threads} thread{'s' if self.threads > 1 else ''} · {self.backend}"


@dataclass(frozen=True)
class Measurement:
    """What a page keeps of one measured configuration (small: floats and strings)."""

    label: str
    size: int
    threads: int
    backend: str
    runs: tuple[dict, ...]  # asdict(StageTimes) per pass
    error: str = ""


def plan(sizes: Sequence[int], threads: Sequence[int], backends: Sequence[str], full_grid: bool = False) -> list[Config]:
    """The settings to measure: every combination, or one change at a time from a baseline.

    The baseline is the smallest N, the most threads and the first backend. One change at a
    time measures each other choice with everything else at the baseline: enough to test
    each CPU tip, in a fraction of the runs of the full grid.

    Example:
        >>> [c.label for c in plan([256, 512], [1, 2], ["torch", "fast"])]
        ['N=256 · 2 threads · torch', 'N=512 · 2 threads · torch', 'N=256 · 1 thread · torch', 'N=256 · 2 threads · fast']
    """
    sizes, threads = sorted(set(sizes)), sorted(set(threads), reverse=True)
    backends = list(dict.fromkeys(backends))
    if not (sizes and threads and backends):
        return []
    if full_grid:
        return [Config(n, t, b) for b in backends for n in sizes for t in sorted(threads)]
    base = Config(sizes[0], threads[0], backends[0])
    return (
        [base]
        + [Config(n, base.threads, base.backend) for n in sizes[1:]]
        + [Config(base.size, t, base.backend) for t in threads[1:]]
        + [Config(base.size, base.threads, b) for b in backends[1:]]
    )


def runs_of(measurement: Measurement) -> list[StageTimes]:
    """The passes of a measurement as :class:`StageTimes`."""
    return [
        StageTimes(seconds=dict(r["seconds"]), size=int(r["size"]), net_hw=tuple(r["net_hw"]),  # type: ignore[arg-type]
                   threads=int(r["threads"]), backend=str(r["backend"]),
                   cpu_seconds=float(r.get("cpu_seconds", math.nan)),
                   machine_busy_seconds=float(r.get("machine_busy_seconds", math.nan)))
        for r in measurement.runs
    ]


def measure(data: bytes, weights: str, configs: Sequence[Config], passes: int, cmap: str = "inferno") -> list[Measurement]:
    """Measure every configuration in its own process, showing progress; failures are kept, not raised."""
    total = max(1, len(configs) * passes)
    bar = st.progress(0.0, text="Starting…")
    results: list[Measurement] = []
    for i, config in enumerate(configs):
        def progress(done: int, _passes: int, i: int = i, config: Config = config) -> None:
            bar.progress(min(1.0, (i * passes + done) / total),
                         text=f"{config.label}: pass {done} of {passes} done ({i + 1} of {len(configs)} settings)")

        bar.progress(min(1.0, i * passes / total), text=f"{config.label}: starting a fresh process, loading the model…")
        try:
            runs = time_in_subprocess(data, weights=weights, size=config.size, threads=config.threads,
                                      passes=passes, backend=config.backend, cmap=cmap, progress=progress)
        except TimingError as e:
            results.append(Measurement(config.label, config.size, config.threads, config.backend, (), str(e)))
            continue
        results.append(Measurement(config.label, config.size, config.threads, config.backend,
                                   tuple(asdict(r) for r in runs)))
    bar.empty()
    return results


def verdict_markdown(verdict: Verdict, title: str = "") -> str:
    """A verdict as one markdown line: a tick for a conclusion, a question mark for "inconclusive"."""
    icon = ":material/check_circle:" if verdict.conclusive else ":material/help:"
    lead = (f"**{title}** — " + ("measured: " if verdict.conclusive else "")) if title else ""
    return f"{icon} {lead}{verdict.text}"
