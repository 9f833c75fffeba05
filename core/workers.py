"""The library's one shared CPU thread pool.

OpenCV and NumPy release the GIL in their array loops, so a few threads speed up work
on large maps (histograms, statistics, JPEG encoding). Every such caller shares one
pool instead of starting threads of its own: the machine's cores are counted once.

The pool has ``WORKERS - 1`` threads: a caller that splits work into ``WORKERS`` shares
runs the first share itself. A task on the pool must never wait for another task on it
(all threads could be waiting). A forked child process gets a fresh pool, since it has
none of its parent's threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

__all__ = ["WORKERS", "shared_pool"]

_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

#: Threads a caller may spread one job over, counting itself: at most 4, at most the CPUs.
WORKERS = min(4, _CPUS)


def _new_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, WORKERS - 1), thread_name_prefix="core.workers")


_POOL = _new_pool()


def _renew_pool() -> None:
    global _POOL
    _POOL = _new_pool()


if hasattr(os, "register_at_fork"):  # a forked child has none of its parent's threads
    os.register_at_fork(after_in_child=_renew_pool)


def shared_pool() -> ThreadPoolExecutor:
    """The process's shared executor; never shut it down.

    Example:
        >>> shared_pool().submit(sum, [1, 2, 3]).result()
        6
    """
    return _POOL
