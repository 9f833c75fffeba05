"""Run :func:`core.video.pipeline.process_video` in a background thread that can be watched and cancelled.

A UI cannot both block on a long call and react to a Cancel click: :class:`VideoJob` runs the
call in a thread of its own, keeps the latest progress report, and hands the call a
``cancel`` that returns True once :meth:`VideoJob.cancel` was called. The pipeline polls it
before every frame, so a cancel takes effect within one frame's work and leaves no file behind.

    job = VideoJob(lambda progress, cancel: process_video(clip, predictor, out, "clip",
                                                          progress=progress, cancel=cancel))
    while not job.wait(0.25):
        print(job.progress().line())
    result = job.result()  # re-raises VideoDecodeError, VideoCancelled, ...
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.video.pipeline import STAGES

__all__ = ["JobProgress", "VideoJob"]

_R = TypeVar("_R")

Progress = Callable[[int, "int | None", float, str], None]


@dataclass(frozen=True)
class JobProgress:
    """The latest progress report of a :class:`VideoJob`.

    Attributes:
        stage: the pipeline's stage, a key of :data:`core.video.pipeline.STAGES`: ``"depth"``
            then ``"encoding"`` (stable mode's two passes), or ``"depth and encoding"`` (per-frame
            mode's one).
        done: Frames done in this stage.
        total: Frames expected in this stage, or None when the container does not say.
        fps: Frames per second in this stage so far (0.0 before the first frame).
        seconds_left: Estimated seconds until the stage ends, or None when unknown.
    """

    stage: str = "depth"
    done: int = 0
    total: int | None = None
    fps: float = 0.0
    seconds_left: float | None = None

    @property
    def fraction(self) -> float:
        """Share of the whole job done, in [0, 1]: each of stable mode's two passes counts for half."""
        within = min(1.0, self.done / self.total) if self.total else 0.0
        before, share = _SHARES.get(self.stage, (0.0, 1.0))
        return min(1.0, before + share * within)

    def line(self) -> str:
        """One line for a progress bar, e.g. ``"Predicting depth: frame 12 of 40 · 3.1 fps · about 9 s left"``."""
        of = f" of {self.total}" if self.total is not None else ""
        parts = [f"{STAGES.get(self.stage, self.stage)}: frame {self.done}{of}"]
        if self.fps > 0:
            parts.append(f"{self.fps:.1f} fps")
        if self.seconds_left is not None:
            parts.append(f"about {self.seconds_left:.0f} s left" + (" in this stage" if self.stage == "depth" else ""))
        return " · ".join(parts)


_SHARES = {"depth": (0.0, 0.5), "encoding": (0.5, 0.5)}  # (done before the stage, its share); else the whole job


class VideoJob(Generic[_R]):
    """``run(progress, cancel)`` in a daemon thread, started at once.

    Args:
        run: Called once in the thread with a progress callback ``(done, total, seconds)``, as
            :func:`core.video.pipeline.process_video` reports it, ``(done, total, seconds, stage)``,
            and a ``cancel()`` to poll.
    """

    def __init__(self, run: Callable[[Progress, Callable[[], bool]], _R]) -> None:
        if not callable(run):
            raise TypeError(f"run must be callable, got {type(run).__name__}")
        self._run = run
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._progress = JobProgress()
        self._stage_start = time.perf_counter()
        self._result: _R | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="core.video.job", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            self._result = self._run(self._report, self._cancel.is_set)
        except BaseException as e:  # re-raised by result()
            self._error = e
        finally:
            self._run = None  # drop what the call held (the clip's bytes) as soon as it ends
            self._finished.set()

    def _report(self, done: int, total: int | None, seconds: float, stage: str) -> None:
        del seconds  # the pipeline's clock covers both stages; each stage is timed here
        now = time.perf_counter()
        with self._lock:
            if stage != self._progress.stage:
                self._stage_start = now
            elapsed = max(now - self._stage_start, 1e-9)
            fps = done / elapsed
            left = (total - done) / fps if total is not None and fps > 0 else None
            self._progress = JobProgress(stage, done, total, fps, left)

    def progress(self) -> JobProgress:
        """The latest report."""
        with self._lock:
            return self._progress

    def cancel(self) -> None:
        """Ask the job to stop; it does so before its next frame."""
        self._cancel.set()

    @property
    def cancelling(self) -> bool:
        """:meth:`cancel` was called."""
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        """The call has returned or raised."""
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block up to ``timeout`` seconds for the job to end; True if it has."""
        return self._finished.wait(timeout)

    def result(self) -> _R:
        """The call's return value once done; re-raises what it raised.

        Raises:
            RuntimeError: the job is still running.
        """
        if not self.done:
            raise RuntimeError("the job is still running: wait() for it, or check .done first")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]
