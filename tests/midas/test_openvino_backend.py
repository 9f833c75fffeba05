"""The fast (OpenVINO) backend: parity with torch and the golden data, caching, fallback, threads.

One conversion is shared by the whole session (the ``fast_cache`` fixture of conftest.py,
also used by the dashboard, CLI and bench tests); the invalidation test converts a second model.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from core.midas import openvino_backend
from core.midas.openvino_backend import (
    MAX_COMPILED_SHAPES,
    FastBackendError,
    FastBackendUnavailableError,
    OpenVinoModel,
    load_openvino_model,
)
from core.midas.predictor import load_predictor
from core.midas.checkpoint import read_checkpoint
from core.midas.download import sha256_file
from tests.conftest import REPO, WITHOUT_FCNTL, assert_close_to_max, golden_case_names
from tests.shown_numbers import assert_shows

pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def fast(reference_weights, fast_cache):
    return load_predictor(weights=reference_weights, backend="fast", cache_dir=fast_cache)


@pytest.fixture(scope="module")
def torch_predictor(reference_weights):
    return load_predictor(weights=reference_weights, backend="torch")


@pytest.mark.parametrize("case", golden_case_names())
def test_fast_matches_golden_and_torch(fast, torch_predictor, golden, case):
    image = golden[f"{case}_image"]
    result, reference = fast.run(image), torch_predictor.run(image)
    # the same preprocess as torch's, bit for bit: the same code on the same photo in this process
    np.testing.assert_array_equal(result.net_input, reference.net_input)
    # the golden input was made on another machine, whose float64 resize may round the last bit of a
    # float32 differently: the reference README's input tolerance
    assert np.abs(result.net_input[0] - golden[f"{case}_input"]).max() <= 1e-4
    assert result.net_output.dtype == np.float32 and result.depth.dtype == np.float32
    assert_close_to_max(result.net_output, golden[f"{case}_net"])
    assert_close_to_max(result.depth, golden[f"{case}_full"])
    assert_close_to_max(result.net_output, reference.net_output)


def test_info_reports_the_fast_backend(fast, reference_weights):
    info = fast.info
    assert info.backend == "fast" and info.weights_path == reference_weights
    assert info.backend_note.startswith("OpenVINO ") and "self-check" in info.backend_note


def test_the_converted_model_is_cached_and_reused(fast, reference_weights, fast_cache, golden):
    # the conversion itself, with its status lines, is tested on new weights below
    entries = [p for p in fast_cache.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(entries) == 1 and entries[0].name.startswith(fast.info.sha256[:16])
    again: list[str] = []
    second = load_predictor(weights=reference_weights, backend="auto", cache_dir=fast_cache, status=again.append)
    assert again == []  # nothing converted, nothing rebuilt
    assert second.info.backend == "fast" and "chosen by auto" in second.info.backend_note
    image = golden["case0_640x480_image"]
    np.testing.assert_array_equal(second.predict(image), fast.predict(image))


def test_threads_give_the_serial_results(fast, golden):
    images = [golden[f"{name}_image"] for name in golden_case_names()[:3]]
    serial = [fast.predict(img) for img in images]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(lambda i=i: [fast.predict(images[(i + k) % 3]) for k in range(3)]) for i in range(3)]
        results = [f.result() for f in futures]
    for i, outputs in enumerate(results):
        for k, depth in enumerate(outputs):
            np.testing.assert_array_equal(depth, serial[(i + k) % 3])


def test_compiled_shapes_stay_bounded_and_correct(reference_weights, fast_cache, golden):
    model = load_openvino_model(reference_weights, sha256_file(reference_weights), cache_dir=fast_cache)
    net_inputs = {}
    for name in golden_case_names():
        net_inputs[name] = golden[f"{name}_input"][None]
        model(net_inputs[name])
    assert len({x.shape for x in net_inputs.values()}) > MAX_COMPILED_SHAPES  # eviction happened
    assert len(model.compiled_shapes) == MAX_COMPILED_SHAPES
    first = golden_case_names()[0]  # evicted by now, compiled again
    assert_close_to_max(model(net_inputs[first]), golden[f"{first}_net"])


def test_the_first_call_of_a_shape_reports_its_compile_time(reference_weights, fast_cache, golden):
    model = load_openvino_model(reference_weights, sha256_file(reference_weights), cache_dir=fast_cache)
    checked = model.compiled_shapes  # the self-check compiled the landscape shape at load
    assert checked and model.infer(np.zeros((1, 3, *checked[0]), np.float32))[1] == 0.0
    x = np.zeros((1, 3, 96, 160), np.float32)  # an unusual shape: never compiled before in this model
    out, compile_seconds = model.infer(x)
    assert out.shape == (96, 160) and compile_seconds > 0.0
    again, second = model.infer(x)
    assert second == 0.0
    np.testing.assert_array_equal(again, out)
    np.testing.assert_array_equal(model(x), out)  # calling the model is infer without the time


def test_the_fast_predictor_marks_the_prediction_that_compiled(reference_weights, fast_cache):
    p = load_predictor(weights=reference_weights, backend="fast", cache_dir=fast_cache)
    rgb = np.zeros((50, 250, 3), np.uint8)  # 5:1, a network input of 64x256 at N = 256
    first, second = p.run(rgb), p.run(rgb)
    assert first.net_input.shape[2:] == (64, 256)
    assert 0.0 < first.seconds["compile"] <= first.seconds["inference"]  # compiling is part of that inference
    assert "compile" not in second.seconds


@pytest.mark.parametrize("shape", [(1, 3, 100, 64), (3, 256, 256), (1, 1, 64, 64), (2, 3, 64, 64)])
def test_model_refuses_bad_inputs(reference_weights, fast_cache, shape):
    model = load_openvino_model(reference_weights, sha256_file(reference_weights), cache_dir=fast_cache)
    with pytest.raises(ValueError, match="1x3xhxw|multiples of 32"):
        model(np.zeros(shape, np.float32))


def test_missing_runtime_falls_back_or_raises(reference_weights, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` now raises ImportError
    auto = load_predictor(weights=reference_weights, backend="auto", cache_dir=tmp_path)
    assert auto.info.backend == "torch"
    assert "auto chose torch" in auto.info.backend_note and "pip install" in auto.info.backend_note
    with pytest.raises(FastBackendUnavailableError, match="pip install 'openvino"):
        load_predictor(weights=reference_weights, backend="fast", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing was written


def test_failed_self_check_falls_back_or_raises(reference_weights, fast, fast_cache, monkeypatch, golden):
    # the unperturbed model's own error against torch, loaded as "auto" loads it below (from the cache)
    eps = load_predictor(weights=reference_weights, backend="fast", cache_dir=fast_cache)._network.self_check_error
    real_call = OpenVinoModel.__call__
    k = np.float32(1.01)
    monkeypatch.setattr(OpenVinoModel, "__call__", lambda self, x: real_call(self, x) * k)
    auto = load_predictor(weights=reference_weights, backend="auto", cache_dir=fast_cache)
    assert auto.info.backend == "torch"
    shown = re.search(r"self-check: .* differs from torch by (\S+) of the maximum", auto.info.backend_note)
    assert shown, auto.info.backend_note
    # With f = t + e the fast output and t torch's, |k f - t| = |(k - 1) t + k e|: the error lies within
    # k * eps of k - 1, where eps is the unperturbed model's own error against torch, which differs
    # between CPUs (1e-4 on this AVX-512 machine; the self-check allows 1e-3). The note prints "{:.2e}".
    assert_shows(shown.group(1), float(k) - 1.0, ".2e", slack=float(k) * eps + 1e-7)  # 1e-7: k * f in float32
    assert_close_to_max(auto.predict(golden["case0_640x480_image"]), golden["case0_640x480_full"])
    with pytest.raises(FastBackendError, match="self-check"):
        load_predictor(weights=reference_weights, backend="fast", cache_dir=fast_cache)


def test_damaged_entry_is_rebuilt(reference_weights, fast, fast_cache, tmp_path, monkeypatch, golden):
    # a copy of the session's entry, then its self-check file is destroyed
    cache = tmp_path / "cache"
    shutil.copytree(fast_cache, cache, ignore=shutil.ignore_patterns(".*"))
    (entry,) = [p for p in cache.iterdir() if p.is_dir()]
    (entry / "selfcheck.npz").write_bytes(b"not a zip file")
    conversions = []

    def fake_convert(weights_path, tmp_dir, sha256, size, ov):  # the real conversion, from the session's copy
        conversions.append(sha256)
        for f in next(p for p in fast_cache.iterdir() if p.name == entry.name).iterdir():
            shutil.copy(f, tmp_dir / f.name)

    monkeypatch.setattr(openvino_backend, "_convert", fake_convert)
    said: list[str] = []
    p = load_predictor(weights=reference_weights, backend="fast", cache_dir=cache, status=said.append)
    assert conversions == [p.info.sha256]
    assert any("damaged" in s and "rebuilding" in s for s in said)
    assert_close_to_max(p.run(golden["case0_640x480_image"]).net_output, golden["case0_640x480_net"])


def test_changed_weights_get_a_new_entry_and_new_outputs(reference_weights, fast, fast_cache, tmp_path, golden):
    state = read_checkpoint(reference_weights)
    state["scratch.output_conv.4.bias"] = state["scratch.output_conv.4.bias"] + 1.0  # shifts every output
    changed = tmp_path / "perturbed.pt"
    torch.save(state, changed)
    said: list[str] = []
    other = load_predictor(weights=changed, backend="fast", cache_dir=fast_cache, status=said.append)
    assert other.info.sha256 != fast.info.sha256
    assert any("converting MiDaS small to OpenVINO" in s for s in said)
    entries = sorted(p.name for p in fast_cache.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(entries) == 2 and any(e.startswith(other.info.sha256[:16]) for e in entries)

    image = golden["case0_640x480_image"]
    new, old = other.run(image).net_output, fast.run(image).net_output
    assert np.abs(new - old).max() > 0.5  # the +1 bias shows through the final ReLU
    expected = load_predictor(weights=changed, backend="torch").run(image).net_output
    assert_close_to_max(new, expected)


_CONCURRENT_CONVERSION = WITHOUT_FCNTL + textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    from core.midas.openvino_backend import load_openvino_model
    from core.midas.download import sha256_file
    weights, cache, barrier, me = sys.argv[2:]
    Path(barrier, me).touch()
    deadline = time.monotonic() + 60
    while len(list(Path(barrier).iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    model = load_openvino_model(weights, sha256_file(weights), cache_dir=cache, status=lambda s: print("status:", s))
    np.save(Path(barrier).parent / f"{me}.npy", model(np.ones((1, 3, 64, 64), np.float32)))
    """
)


def test_concurrent_conversions_convert_once_without_fcntl(reference_weights, tmp_path):
    # Two processes, with `import fcntl` failing as on Windows, load the fast model into one empty
    # cache at the same moment: the cache's file lock lets one convert while the other waits.
    cache, barrier = tmp_path / "cache", tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT_CONVERSION, str(REPO), str(reference_weights), str(cache), str(barrier), me],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in ("a", "b")
    ]
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
            outputs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    conversions = sum(out.count("status: converting MiDaS small") for out in outputs)
    assert conversions == 1, outputs
    entries = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(entries) == 1
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))  # one model, same shape
