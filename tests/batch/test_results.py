"""core/batch/results.py: the table (Parquet, or CSV without pyarrow) and what a re-run leaves to do."""
from __future__ import annotations

import sys

import pytest

from core.batch.results import COLUMNS, Task, plan, read_table, row, write_table
from core.batch.storage import Storage

_ROWS = [
    row(path="a.jpg", stem="a", status="ok", outputs=["/o/a.npy", "/o/a.npy.json"], input_bytes=10, width=4,
        height=3, net_width=256, net_height=192, inference_s=0.25, weights_sha256="f" * 64, threads=2),
    row(path="b.jpg", stem="b", status="failed", reason="The file is empty (0 bytes): choose a file."),
]


def test_parquet_round_trip(tmp_path):
    path = write_table(Storage(tmp_path), _ROWS)
    assert path.endswith("batch_results.parquet")
    assert read_table(Storage(tmp_path)) == _ROWS


def test_csv_when_pyarrow_is_absent(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    path = write_table(Storage(tmp_path), _ROWS)
    assert path.endswith("batch_results.csv")
    assert (tmp_path / "batch_results.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    assert read_table(Storage(tmp_path)) == _ROWS


def test_no_table_reads_as_no_rows(tmp_path):
    assert read_table(Storage(tmp_path)) == []


def test_unknown_columns_are_refused():
    with pytest.raises(ValueError, match="unknown result columns"):
        row(colour="red")


def test_plan_skips_complete_inputs_keeps_failures_and_redoes_incomplete_ones(tmp_path):
    storage = Storage(tmp_path)
    for name in ("a.npy", "a_depth.png", "a_depth16.png", "c.npy"):
        (tmp_path / name).write_bytes(b"x")
    previous = [row(path="a.jpg", stem="a", status="ok", outputs=[str(tmp_path / "a.npy")]),
                row(path="b.jpg", stem="b", status="failed", reason="bad")]
    paths, stems = ["a.jpg", "b.jpg", "c.jpg"], ["a", "b", "c"]
    tasks, kept = plan(paths, stems, ("npy", "png", "png16"), storage, previous)
    assert tasks == [Task("c.jpg", "c")]
    assert [(r["path"], r["status"]) for r in kept] == [("a.jpg", "skipped"), ("b.jpg", "failed")]
    tasks, _ = plan(paths, stems, ("npy", "png", "png16"), storage, previous, retry_failed=True)
    assert tasks == [Task("b.jpg", "b"), Task("c.jpg", "c")]
    # a file the previous run listed (a sidecar) counts too
    previous[0]["outputs"].append(str(tmp_path / "a.npy.json"))
    tasks, _ = plan(paths, stems, ("npy",), storage, previous)
    assert Task("a.jpg", "a") in tasks
