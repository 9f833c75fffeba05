"""The local engine: one predictor in this process, with reading and decoding ahead of it and writing behind.

Three stages on three threads: a reader thread reads and decodes the next inputs, the calling
thread runs the network, a writer thread encodes and writes the outputs. OpenCV, NumPy and the
inference runtimes release the GIL in their loops, so the stages overlap: while the network
runs, the next image is decoded and the last one's PNGs are encoded. Queues between the stages
are short (:data:`AHEAD` inputs), so memory stays flat however many inputs there are.

The stages block on each other, which :mod:`core.workers`' shared pool forbids (and it has
only ``WORKERS - 1`` threads, one on two cores), so this engine starts its own two threads.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from core.batch.results import Task
from core.batch.storage import Storage
from core.batch.work import Done, decode, infer, read_input, write

__all__ = ["AHEAD", "run_local"]

#: Inputs decoded ahead of the network, and outputs waiting to be written, at most.
AHEAD = 2


def _read_and_decode(task: Task) -> Done:
    return decode(read_input(Done(task)))


def run_local(
    tasks: Sequence[Task], predictor: Any, storage: Storage, formats: Sequence[str], colormap: str
) -> Iterator[dict[str, Any]]:
    """Process ``tasks`` and yield each one's result row as its files are written (in input order).

    On an exception (Ctrl-C included) no new input is started; the files being written are
    finished (each atomically), then the exception propagates.
    """
    todo = iter(tasks)
    reader = ThreadPoolExecutor(1, thread_name_prefix="core.batch.read")
    writer = ThreadPoolExecutor(1, thread_name_prefix="core.batch.write")
    reads: deque[Future[Done]] = deque()
    writes: deque[Future[dict[str, Any]]] = deque()

    def read_next() -> None:
        task = next(todo, None)
        if task is not None:
            reads.append(reader.submit(_read_and_decode, task))

    try:
        for _ in range(AHEAD):
            read_next()
        while reads:
            done = reads.popleft().result()
            read_next()
            infer(done, predictor)
            writes.append(writer.submit(write, done, storage, formats, colormap))
            while writes and (writes[0].done() or len(writes) > AHEAD):
                yield writes.popleft().result()
    except KeyboardInterrupt:
        for future in reads:
            future.cancel()
        while writes:  # the outputs already being written are finished and reported
            yield writes.popleft().result()
        raise
    else:
        while writes:
            yield writes.popleft().result()
    finally:
        reader.shutdown(wait=True, cancel_futures=True)
        writer.shutdown(wait=True)
