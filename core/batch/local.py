"""The local engine: one predictor in this process, with reading and decoding ahead of it and writing behind.

Three stages: a reader thread reads and decodes the next inputs, the calling thread runs the
network, and :data:`WRITERS` writer threads encode and write the outputs. OpenCV, NumPy and the
inference runtimes release the GIL in their loops, so the stages overlap: while the network
runs, the next image is decoded and the last ones' PNGs are encoded. Writing (two PNGs of a
1080p map, each single-threaded in zlib) takes longer than the network, so two inputs are
written at once. Queues between the stages are short (:data:`AHEAD` inputs), so memory stays
flat however many inputs there are.

The stages block on each other, which :mod:`core.workers`' shared pool forbids (and it has
only ``WORKERS - 1`` threads, one on two cores), so this engine starts its own threads. The
Ray engine's actors run their batches through it too.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from core.batch.results import Task
from core.batch.storage import Storage
from core.batch.work import Done, decode, infer, read_input, write

__all__ = ["AHEAD", "WRITERS", "default_threads", "run_local"]

#: Inputs decoded ahead of the network, and outputs waiting to be written, at most.
AHEAD = 2
#: Inputs written at once.
WRITERS = 2


def default_threads() -> int:
    """Inference threads when none are asked for: all cores but one, which decoding and writing use.

    On two cores one inference thread beside the reader and the writers ran about 1.1x faster
    than two (``python -m bench.batch``): two inference threads keep waiting for each other
    while a writer holds one of the cores.
    """
    return max(1, (os.cpu_count() or 1) - 1)


def _read_and_decode(task: Task, data: bytes | None) -> Done:
    done = Done(task)
    if data is None:
        read_input(done)
    else:
        done.data = data
    return decode(done)


def run_local(
    tasks: Sequence[Task], predictor: Any, storage: Storage, formats: Sequence[str], colormap: str,
    data: Sequence[bytes] | None = None,
) -> Iterator[dict[str, Any]]:
    """Process ``tasks`` and yield each one's result row as its files are written (in input order).

    Args:
        tasks: The inputs.
        predictor: A :class:`core.midas.predictor.Predictor`.
        storage, formats, colormap: Where and what to write.
        data: Each task's file contents when they are already read (the Ray engine's), else None:
            the files are read here.

    On an exception (Ctrl-C included) no new input is started; the files being written are
    finished (each atomically), then the exception propagates.
    """
    todo = iter(zip(tasks, data if data is not None else [None] * len(tasks), strict=True))
    reader = ThreadPoolExecutor(1, thread_name_prefix="core.batch.read")
    writer = ThreadPoolExecutor(WRITERS, thread_name_prefix="core.batch.write")
    reads: deque[Future[Done]] = deque()
    writes: deque[Future[dict[str, Any]]] = deque()

    def read_next() -> None:
        item = next(todo, None)
        if item is not None:
            reads.append(reader.submit(_read_and_decode, *item))

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
