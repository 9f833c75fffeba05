"""The Ray engine: Ray Data reads the files as bytes, a pool of actors decodes, predicts and writes.

Each actor runs its batch of :data:`BATCH` inputs through the local engine's stages
(:func:`core.batch.local.run_local`: decoding ahead of the network, writing behind it), so
an actor's cores are busy while its next image is decoded and its last one is written.

Each actor (:class:`DepthActor`) gets its weights once per node (:func:`core.batch.weights.node_weights`:
the node's hub cache, else the driver's bytes from the object store, checked by SHA-256), loads
the predictor once with ``threads`` threads (the fast backend converts once per node, into that
node's ``MIDAS_FAST_CACHE`` or ``$TORCH_HOME/hub/midas_fast``), and writes each input's files
itself to the output folder (:class:`core.batch.storage.Storage`). Actors ask for
:data:`ACTOR_CPUS` of a CPU each, so that on a small machine the read tasks still get a CPU
(with one whole CPU per actor, two actors on two cores leave none and the job stalls).

Ray is imported only when the engine runs: ``import core`` never imports it.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.batch.results import Task

__all__ = ["ACTOR_CPUS", "BATCH", "RAY_REQUIREMENT", "DepthActor", "RayUnavailableError", "import_ray",
           "local_runtime_env", "run_ray"]

#: What to install for ``--engine ray``.
RAY_REQUIREMENT = "ray[data]>=2.60"
#: CPUs each actor asks Ray for (its threads still use whole cores).
ACTOR_CPUS = 0.5
#: Inputs per batch, and per read block: the stages overlap within a batch and drain at its end,
#: so 16 ran 2 one-thread actors on 2 cores about 1.2x faster than 4 (``python -m bench.batch``).
BATCH = 16
#: Read blocks at most.
MAX_BLOCKS = 10_000


class RayUnavailableError(RuntimeError):
    """Ray (with Ray Data) cannot be imported here."""


def import_ray() -> Any:
    """The ``ray`` module with ``ray.data`` loaded.

    Raises:
        RayUnavailableError: Ray is not installed; the message says what to install.
    """
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise RayUnavailableError(
            f"--engine ray needs Ray Data, which cannot be imported here ({e}): "
            f"pip install '{RAY_REQUIREMENT}' pyarrow, or use --engine local"
        ) from e
    return ray


def local_runtime_env() -> dict[str, Any]:
    """The ``runtime_env`` of a Ray started on this machine: workers import this checkout's ``core``.

    On a cluster, install the project on every node instead (see the README).
    """
    return {"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}}


def key(path: str) -> str:
    """How Ray Data's ``path`` column names a local file: its absolute path."""
    return str(Path(path).absolute())


class DepthActor:
    """A Ray Data UDF: holds one predictor; bytes of images in, result rows out.

    Args:
        weights_ref: ``[ObjectRef]`` of the driver's weights bytes (in a list, so that Ray does
            not fetch them unless the node lacks them).
        sha256: The driver's weights digest, checked before use.
        tasks: :func:`key` of each input path -> its :class:`Task`.
        storage, formats, colormap: Where and what to write.
        backend, size, threads: Passed to ``load_predictor``.
    """

    def __init__(self, weights_ref: list, sha256: str, tasks: dict[str, Task], storage: Any, formats: Sequence[str],
                 colormap: str, backend: str, size: int, threads: int | None) -> None:
        import ray

        from core.batch.weights import node_weights
        from core.midas.predictor import load_predictor

        path, self.weights_source = node_weights(sha256, lambda: ray.get(weights_ref[0]))
        self.predictor = load_predictor(weights=path, backend=backend, size=size, threads=threads)
        self.tasks, self.storage, self.formats, self.colormap = tasks, storage, tuple(formats), colormap

    def __call__(self, batch: dict[str, Any]) -> Any:
        from core.batch.local import run_local
        from core.batch.results import arrow_table

        tasks = [self.tasks[str(path)] for path in batch["path"]]
        data = [bytes(item) for item in batch["bytes"]]
        return arrow_table(list(run_local(tasks, self.predictor, self.storage, self.formats, self.colormap, data)))


def run_ray(
    tasks: Sequence[Task], *, weights_path: Path, sha256: str, storage: Any, formats: Sequence[str], colormap: str,
    backend: str, size: int, threads: int | None, workers: int | None, address: str | None,
) -> Iterator[dict[str, Any]]:
    """Process ``tasks`` on Ray and yield result rows as they arrive (in no particular order).

    With ``address`` None and no Ray running in this process, starts a local Ray on this machine
    (and stops it at the end); ``"auto"`` or ``"ray://HOST:PORT"`` joins a running cluster.
    """
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, runtime_env=local_runtime_env() if address is None else None)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        threads = threads or 1
        workers = min(workers or max(1, cpus // threads), len(tasks))
        weights_ref = ray.put(Path(weights_path).read_bytes())
        by_key = {key(t.path): t for t in tasks}
        # BATCH files per block (up to MAX_BLOCKS blocks), so that every actor gets work
        ds = ray.data.read_binary_files(list(by_key), include_paths=True, ignore_missing_paths=True,
                                        override_num_blocks=min(-(-len(by_key) // BATCH), MAX_BLOCKS))
        ds = ds.map_batches(
            DepthActor,
            fn_constructor_kwargs=dict(weights_ref=[weights_ref], sha256=sha256, tasks=by_key, storage=storage,
                                       formats=tuple(formats), colormap=colormap, backend=backend, size=size,
                                       threads=threads),
            batch_size=BATCH,
            num_cpus=ACTOR_CPUS,
            compute=ray.data.ActorPoolStrategy(size=workers),
            batch_format="numpy",
        )
        for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            yield from table.to_pylist()
    finally:
        if started:
            ray.shutdown()
