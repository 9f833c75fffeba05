"""``python -m core batch --engine local`` (core/batch/job.py with core/batch/local.py) on a 40-input collection."""
from __future__ import annotations

import os

import numpy as np
import pytest

from core.batch.job import BatchConfig, run_batch
from core.batch.results import read_table
from core.batch.storage import Storage
from core.cli import main
from core.midas.download import sha256_file
from tests.batch.collection import BAD, GOOD, ODD, make_collection, output_files
from tests.conftest import skip_module_without_checkpoint

skip_module_without_checkpoint()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, reference_weights):
    """The collection, ``predict``'s outputs for it, and one ``batch`` run's outputs, all in this process."""
    root = tmp_path_factory.mktemp("batch_local")
    inputs = make_collection(root / "in")
    common = ["--weights", str(reference_weights), "--backend", "torch"]
    assert main(["predict", str(root / "in"), "--out", str(root / "predict"), *common]) == 1  # 3 bad inputs
    assert main(["batch", str(root / "in"), "--out", str(root / "batch"), *common]) == 1
    return root, inputs


def test_batch_writes_exactly_the_files_predict_writes(runs):
    root, _ = runs
    predicted, batched = output_files(root / "predict"), output_files(root / "batch")
    assert sorted(batched) == sorted(predicted)
    assert len([n for n in batched if n.endswith(".npy")]) == GOOD + len(ODD)
    different = [name for name in predicted if batched[name] != predicted[name]]
    assert not different, f"same process, same predictor settings, yet these differ: {different[:5]}"
    assert not [p for p in (root / "batch").iterdir() if p.name.startswith(".")]  # no temporary files left


def test_results_table_has_a_row_per_input_and_the_failures_with_their_reasons(runs, reference_weights):
    root, inputs = runs
    rows = read_table(Storage(root / "batch"))
    assert [r["path"] for r in rows] == [str(p) for p in inputs]
    failed = {os.path.basename(r["path"]): r["reason"] for r in rows if r["status"] == "failed"}
    assert sorted(failed) == sorted(BAD)
    for name, start in BAD.items():
        assert failed[name].startswith(start) and "\n" not in failed[name]
    ok = {os.path.basename(r["path"]): r for r in rows if r["status"] == "ok"}
    assert len(ok) == GOOD + len(ODD)
    for name, (w, h) in ODD.items():
        assert (ok[name]["width"], ok[name]["height"]) == (w, h)
        assert ok[name]["net_width"] % 32 == 0 and ok[name]["net_height"] % 32 == 0
    sha = sha256_file(reference_weights)
    for r in ok.values():
        assert r["weights_sha256"] == sha and r["backend"] == "torch" and r["threads"] >= 1
        assert all(os.path.isfile(p) for p in r["outputs"]) and len(r["outputs"]) >= 3
        assert r["total_s"] >= r["inference_s"] > 0
    assert (root / "batch" / "batch_results.parquet").is_file()


def test_a_second_run_processes_nothing_and_a_deleted_output_alone_is_made_again(runs, reference_weights, capsys):
    root, _ = runs
    out = root / "batch"
    argv = ["batch", str(root / "in"), "--out", str(out), "--weights", str(reference_weights), "--backend", "torch"]
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    assert main(argv) == 1  # the 3 failures stand
    err = capsys.readouterr().err
    assert f"done: 0 written, 0 failed, {GOOD + len(ODD)} skipped" in err
    assert "3 failed in an earlier run" in err
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if not p.name.startswith("batch_results")}
    assert all(after[n] == before[n] for n in after)  # nothing rewritten

    victim = out / "img07_depth16.png"
    kept = victim.read_bytes()
    victim.unlink()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"done: 1 written, 0 failed, {GOOD + len(ODD) - 1} skipped" in err
    assert victim.read_bytes() == kept  # the same bytes again
    again = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if not p.name.startswith("batch_results")}
    assert [n for n in again if again[n] != before.get(n)] == [victim.name]  # only that file was written

    assert main([*argv, "--retry-failed"]) == 1
    err = capsys.readouterr().err
    assert f"done: 0 written, 3 failed, {GOOD + len(ODD)} skipped" in err
    assert sum(line.startswith("failed: ") for line in err.splitlines()) == 3


class _StopAfter:
    """A predictor that is interrupted (as by Ctrl-C) on its n-th image."""

    def __init__(self, predictor, n: int) -> None:
        self.predictor, self.info, self.left = predictor, predictor.info, n

    def run(self, rgb):
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt
        return self.predictor.run(rgb)


def test_ctrl_c_stops_cleanly_and_the_next_run_finishes_the_rest(predictor, tmp_path):
    inputs = make_collection(tmp_path / "in")
    good = [str(p) for p in inputs if p.name.startswith("img")][:5]
    config = BatchConfig(inputs=tuple(good), out=str(tmp_path / "out"), backend="torch")
    summary = run_batch(config, load=lambda **kw: _StopAfter(predictor, 3))
    assert summary.interrupted and summary.line().startswith("interrupted: 2 written")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert not [n for n in names if n.startswith(".")]  # no half files, no temporary folders
    assert len([n for n in names if n.endswith(".npy")]) == 2
    assert [r["status"] for r in read_table(Storage(tmp_path / "out"))] == ["ok", "ok"]
    summary = run_batch(config, load=lambda **kw: predictor)
    assert summary.counts["ok"] == 3 and summary.counts["skipped"] == 2
    depth = np.load(tmp_path / "out" / f"{os.path.splitext(os.path.basename(good[4]))[0]}.npy")
    assert depth.dtype == np.float32 and depth.ndim == 2


def test_list_files_and_folders_mix(predictor, tmp_path):
    inputs = make_collection(tmp_path / "in")
    listing = tmp_path / "some.txt"
    listing.write_text(f"# two photos\n{inputs[5]}\n\n{os.path.relpath(inputs[6], tmp_path)}\n")
    summary = run_batch(BatchConfig(inputs=(str(listing), str(inputs[7])), out=str(tmp_path / "o"), backend="torch"),
                        load=lambda **kw: predictor)
    assert [os.path.basename(r["path"]) for r in summary.rows] == [p.name for p in inputs[5:8]]
    assert summary.counts["ok"] == 3
