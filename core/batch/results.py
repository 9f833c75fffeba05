"""The results table of a batch job, and what a re-run of the same command has left to do.

One row per input (:data:`COLUMNS`). It is written as ``batch_results.parquet`` when pyarrow
can be imported, else as ``batch_results.csv`` (the ``outputs`` list as JSON text there).
"""
from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.batch.outputs import expected_names
from core.batch.storage import Storage

__all__ = ["COLUMNS", "TABLE_STEM", "Task", "arrow_table", "plan", "read_table", "row", "write_table"]

TABLE_STEM = "batch_results"

#: Column name -> type, in table order. Sizes are width x height; seconds are wall time.
COLUMNS: dict[str, type] = {
    "path": str,  # the input, as given
    "stem": str,  # its output stem
    "status": str,  # "ok", "failed", or "skipped" (its outputs were already complete)
    "reason": str,  # why it failed, or a note (e.g. decoded at 1/2 scale); "" otherwise
    "outputs": list,  # full paths of its output files
    "input_bytes": int,
    "width": int,  # decoded image (0 when it could not be decoded)
    "height": int,
    "net_width": int,  # network input
    "net_height": int,
    "decode_s": float,
    "inference_s": float,  # preprocess + network + upsample
    "write_s": float,  # encode + write
    "total_s": float,
    "weights_sha256": str,
    "backend": str,
    "threads": int,
}

_DEFAULTS = {str: "", int: 0, float: 0.0, list: []}


@dataclass(frozen=True)
class Task:
    """One input to process: the path as given, and its output stem."""

    path: str
    stem: str


def _table_names() -> tuple[str, str]:
    return f"{TABLE_STEM}.parquet", f"{TABLE_STEM}.csv"


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def row(**values: Any) -> dict[str, Any]:
    """A full row: the values given, defaults for the rest (unknown names raise)."""
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown result columns {sorted(unknown)}: expected some of {list(COLUMNS)}")
    return {name: values.get(name, _DEFAULTS[kind]) for name, kind in COLUMNS.items()}


def arrow_table(rows: Sequence[dict[str, Any]]) -> Any:
    """The rows as a ``pyarrow.Table`` with the table's schema (needs pyarrow)."""
    import pyarrow as pa

    types = {str: pa.string(), int: pa.int64(), float: pa.float64(), list: pa.list_(pa.string())}
    schema = pa.schema([(name, types[kind]) for name, kind in COLUMNS.items()])
    return pa.Table.from_pylist([row(**r) for r in rows], schema=schema)


def write_table(storage: Storage, rows: Sequence[dict[str, Any]]) -> str:
    """Write the table atomically (Parquet if pyarrow is there, else CSV) and return its path."""
    rows = [row(**r) for r in rows]
    parquet, csv_name = _table_names()
    if _has_pyarrow():
        import pyarrow as pa
        import pyarrow.parquet as pq

        buffer = pa.BufferOutputStream()
        pq.write_table(arrow_table(rows), buffer)
        return storage.write(parquet, buffer.getvalue().to_pybytes())
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "outputs": json.dumps(list(r["outputs"]))})
    return storage.write(csv_name, text.getvalue().encode())


def read_table(storage: Storage) -> list[dict[str, Any]]:
    """The rows of the table a previous run left in ``storage`` (empty when there is none)."""
    parquet, csv_name = _table_names()
    if _has_pyarrow():
        data = storage.read(parquet)
        if data is not None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            return [row(**{k: v for k, v in r.items() if k in COLUMNS})
                    for r in pq.read_table(pa.BufferReader(data)).to_pylist()]
    data = storage.read(csv_name)
    if data is None:
        return []
    rows = []
    for r in csv.DictReader(io.StringIO(data.decode())):
        values = {k: v for k, v in r.items() if k in COLUMNS}
        for name in values:
            kind = COLUMNS[name]
            values[name] = json.loads(values[name] or "[]") if kind is list else kind(values[name] or _DEFAULTS[kind])
        rows.append(row(**values))
    return rows


def plan(
    paths: Sequence[str],
    stems: Sequence[str],
    formats: Sequence[str],
    storage: Storage,
    previous: Sequence[dict[str, Any]] = (),
    retry_failed: bool = False,
) -> tuple[list[Task], list[dict[str, Any]]]:
    """Split the inputs into those to process and the rows of those a re-run leaves alone.

    An input is complete when its files all exist (writes are atomic, so existing means
    complete): each format's file, and every file the previous run listed for it (sidecars).
    A complete input is skipped; one that failed last time stays failed unless
    ``retry_failed``; any other is a :class:`Task` (which writes only its missing files).

    Returns:
        ``(tasks, kept_rows)``, both in input order.
    """
    failed = {r["path"]: r for r in previous if r["status"] == "failed"}
    done = {r["path"]: r for r in previous if r["status"] != "failed"}
    tasks, kept = [], []
    for path, stem in zip(paths, stems):
        if path in failed and not retry_failed:
            kept.append(failed[path])
            continue
        earlier = done.get(path)
        names = set(expected_names(stem, formats))
        if earlier is not None and earlier["stem"] == stem:
            names.update(os.path.basename(p) for p in earlier["outputs"])
        if all(storage.exists(name) for name in names):
            outputs = sorted(storage.path(name) for name in names)
            kept.append({**(earlier or row(path=path, stem=stem)), "status": "skipped", "outputs": outputs})
            continue
        tasks.append(Task(path, stem))
    return tasks, kept
