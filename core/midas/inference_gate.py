"""Admission control for inference: at most K predictions run at once, the rest queue.

``torch.set_num_threads`` is process-wide, so with T threads per inference and C cores,
more than ``C // T`` concurrent inferences only oversubscribe the CPU and slow everyone
down. :class:`InferenceGate` lets K run, makes the others wait (telling the caller
so it can show "queued…"), and gives up after a timeout with a clear message.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["InferenceBusyError", "InferenceGate", "slots_for"]


class InferenceBusyError(RuntimeError):
    """Raised when no inference slot frees up within the timeout."""


def slots_for(threads: int, cores: int | None = None) -> int:
    """How many inferences may run at once so that ``K * threads <= cores`` (at least 1).

    Example:
        >>> slots_for(threads=2, cores=2)
        1
        >>> slots_for(threads=1, cores=4)
        4
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    cores = cores or os.cpu_count() or 1
    return max(1, cores // threads)


class InferenceGate:
    """A counting gate with a queue notice and a timeout.

    Args:
        slots: how many callers may hold the gate at once (K >= 1).
        timeout: seconds a caller waits for a slot before :class:`InferenceBusyError`.
    """

    def __init__(self, slots: int, timeout: float = 120.0) -> None:
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.slots = slots
        self.timeout = timeout
        self._semaphore = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._running = 0
        self._waiting = 0

    @property
    def running(self) -> int:
        """Inferences holding a slot now."""
        return self._running

    @property
    def waiting(self) -> int:
        """Callers queued for a slot now."""
        return self._waiting

    @contextmanager
    def slot(self, on_queued: Callable[[int], None] | None = None) -> Iterator[None]:
        """Hold one slot for the ``with`` body.

        Args:
            on_queued: called once, with the number of callers ahead, if this caller
                has to wait (e.g. to show "queued…").

        Raises:
            InferenceBusyError: no slot freed up within ``timeout`` seconds.
        """
        if not self._semaphore.acquire(blocking=False):
            with self._lock:
                ahead = self._waiting + self._running - self.slots + 1
                self._waiting += 1
            try:
                if on_queued is not None:
                    on_queued(max(ahead, 1))
                acquired = self._semaphore.acquire(timeout=self.timeout)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not acquired:
                raise InferenceBusyError(
                    f"The server is busy: no inference slot freed up within {self.timeout:.0f} s "
                    f"({self.slots} run at once on this machine). Try again in a moment."
                )
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
            self._semaphore.release()
