"""``python -m core batch --engine ray`` (core/batch/ray_engine.py) on a local Ray: one ``ray.init`` per module.

Select with ``-m ray``; ``.ci/run``'s second pass leaves them out.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from core.batch.results import read_table
from core.batch.storage import Storage
from core.cli import main
from core.io.images import read_image
from core.midas.download import sha256_file
from core.midas.errors import WeightsHashError
from tests.batch.collection import BAD, GOOD, ODD, comparable, make_collection, output_files
from tests.conftest import REPO, assert_close_to_max, skip_module_without_checkpoint

skip_module_without_checkpoint()
ray = pytest.importorskip("ray", reason="Ray is a test dependency (requirements-dev.txt): pip install 'ray[data]'")
pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray of 2 CPUs, its files under a short /tmp folder, with an empty hub cache for its workers."""
    from core.batch.ray_engine import local_runtime_env

    torch_home = tmp_path_factory.mktemp("ray_torch_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TORCH_HOME", str(torch_home))  # the workers inherit it: the weights must come from the driver
    temp_dir = tempfile.mkdtemp(prefix="h16ray", dir="/tmp")  # Ray's socket paths must stay short
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp_dir, runtime_env=local_runtime_env(),
             log_to_driver=False)
    yield torch_home
    ray.shutdown()
    mp.undo()
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory, reference_weights):
    """The collection, one local-engine run and one Ray run (2 actors) at the same backend and threads."""
    root = tmp_path_factory.mktemp("batch_ray")
    inputs = make_collection(root / "in")
    common = ["--weights", str(reference_weights), "--backend", "torch"]
    assert main(["batch", str(root / "in"), "--out", str(root / "local"), *common]) == 1
    threads = read_table(Storage(root / "local"))[-1]["threads"]  # torch's threads are process-wide here
    assert main(["batch", str(root / "in"), "--out", str(root / "ray"), "--engine", "ray", "--workers", "2",
                 "--threads", str(threads), *common]) == 1
    return root, inputs


def test_ray_outputs_are_byte_identical_to_the_local_engines(runs):
    root, _ = runs
    local, on_ray = output_files(root / "local"), output_files(root / "ray")
    assert sorted(on_ray) == sorted(local)
    assert len([n for n in on_ray if n.endswith(".npy")]) == GOOD + len(ODD)
    assert [n for n in local if on_ray[n] != local[n]] == []


def test_ray_npy_equals_predict_within_the_golden_tolerance(runs, predictor):
    root, inputs = runs
    for path in [p for p in inputs if p.name in ODD] + inputs[3:6]:
        assert_close_to_max(np.load(root / "ray" / f"{path.stem}.npy"), predictor.predict(read_image(path)))


def test_results_tables_agree_and_list_the_three_failures(runs, reference_weights):
    root, inputs = runs
    local, on_ray = read_table(Storage(root / "local")), read_table(Storage(root / "ray"))
    assert [r["path"] for r in on_ray] == [str(p) for p in inputs]
    assert comparable(on_ray) == comparable(local)
    failed = {os.path.basename(r["path"]): r["reason"] for r in on_ray if r["status"] == "failed"}
    assert sorted(failed) == sorted(BAD) and all(failed[n].startswith(BAD[n]) for n in BAD)
    assert {r["weights_sha256"] for r in on_ray if r["status"] == "ok"} == {sha256_file(reference_weights)}


def test_weights_reached_the_node_once_from_the_driver(runs, cluster, reference_weights):
    stored = list((cluster / "hub" / "midas_batch").glob("*.pt"))
    assert [p.name for p in stored] == [f"{sha256_file(reference_weights)}.pt"]


def test_second_ray_run_processes_nothing_and_a_deleted_output_alone_is_remade(runs, reference_weights, capsys):
    root, _ = runs
    out = root / "ray"
    argv = ["batch", str(root / "in"), "--out", str(out), "--engine", "ray", "--workers", "2",
            "--weights", str(reference_weights), "--backend", "torch"]
    capsys.readouterr()
    assert main(argv) == 1
    assert f"done: 0 written, 0 failed, {GOOD + len(ODD)} skipped" in capsys.readouterr().err
    victim = out / "odd1.npy"
    kept = victim.read_bytes()
    victim.unlink()
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main([*argv, "--threads", str(read_table(Storage(out))[-1]["threads"])]) == 1
    assert f"done: 1 written, 0 failed, {GOOD + len(ODD) - 1} skipped" in capsys.readouterr().err
    assert victim.read_bytes() == kept
    changed = [p.name for p in out.iterdir() if p.stat().st_mtime_ns != before.get(p.name)]
    assert sorted(changed) == ["batch_results.parquet", victim.name]


@ray.remote(num_cpus=0.5)
def _weights_on_a_worker(expected_sha256: str, box: list, torch_home: str) -> str:
    from core.batch.weights import node_weights

    os.environ["TORCH_HOME"] = torch_home  # a node that has no copy yet
    try:
        return str(node_weights(expected_sha256, lambda: ray.get(box[0]))[0])
    finally:
        os.environ.pop("TORCH_HOME")


def test_tampered_weights_are_refused_on_the_worker(cluster, reference_weights, tmp_path):
    good = reference_weights.read_bytes()
    tampered = bytearray(good)
    tampered[len(tampered) // 2] ^= 0x01  # one bit
    sha = sha256_file(reference_weights)
    with pytest.raises(ray.exceptions.RayTaskError) as caught:
        ray.get(_weights_on_a_worker.remote(sha, [ray.put(bytes(tampered))], str(tmp_path / "fresh")))
    assert isinstance(caught.value.cause, WeightsHashError)
    assert "refused on this worker" in str(caught.value.cause)
    assert not list((tmp_path / "fresh").rglob("*.pt"))  # nothing stored
    path = ray.get(_weights_on_a_worker.remote(sha, [ray.put(good)], str(tmp_path / "fresh")))
    assert sha256_file(path) == sha  # the genuine bytes are accepted


def test_without_ray_the_engine_says_what_to_install(tmp_path):
    script = ("import sys\nsys.modules['ray'] = None\nfrom core.cli import main\n"
              f"raise SystemExit(main(['batch', {str(REPO / 'samples')!r}, '--out', {str(tmp_path)!r}, "
              "'--engine', 'ray']))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'ray[data]" in lines[0] and "--engine local" in lines[0]
    assert not list(tmp_path.iterdir())  # stopped before writing anything


def test_core_and_the_app_never_import_ray():
    script = ("import sys, core, core.cli, core.batch.job, core.batch.local, core.batch.ray_engine, ui.pages\n"
              "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    importers = [p.relative_to(REPO) for folder in ("core", "ui", "app_pages") for p in (REPO / folder).rglob("*.py")
                 if "import ray" in p.read_text() and p.name != "ray_engine.py"]
    assert importers == []
