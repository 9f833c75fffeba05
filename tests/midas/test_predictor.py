from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from core.midas.predictor import load_predictor
from core.midas.transforms import upsample
from tests.conftest import assert_close_to_max, golden_case_names


@pytest.mark.parametrize("case", golden_case_names())
def test_predict_matches_official_full_resolution_output(predictor, golden, case):
    depth = predictor.predict(golden[f"{case}_image"])
    assert depth.dtype == np.float32
    assert_close_to_max(depth, golden[f"{case}_full"])


def test_run_exposes_every_stage(predictor, golden):
    image = golden["case0_640x480_image"]
    result = predictor.run(image)
    assert result.net_input.shape == (1, 3, 192, 256)
    assert result.net_output.shape == (192, 256)
    assert result.depth.shape == (480, 640)
    assert_close_to_max(result.net_output, golden["case0_640x480_net"])
    assert set(result.seconds) == {"preprocess", "inference", "upsample"}
    assert all(s >= 0 for s in result.seconds.values())


def test_info_names_the_weights(predictor, reference_weights):
    info = predictor.info
    assert info.weights_path == reference_weights
    assert info.weights_source == "explicit"
    assert len(info.sha256) == 64 and info.size == 256 and info.threads >= 1


def test_larger_network_size_changes_input_shape(reference_weights, golden):
    p = load_predictor(weights=reference_weights, size=384)
    result = p.run(golden["case0_640x480_image"])
    assert result.net_input.shape == (1, 3, 288, 384)
    assert result.depth.shape == (480, 640) and np.isfinite(result.depth).all()


def test_threads_give_the_serial_results(predictor, golden):
    images = [golden[f"{name}_image"] for name in golden_case_names()[:5]]
    serial = [predictor.predict(img) for img in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        # 4 threads x 5 predictions, each thread cycling through the images
        futures = [pool.submit(lambda i=i: [predictor.predict(images[(i + k) % 5]) for k in range(5)]) for i in range(4)]
        results = [f.result() for f in futures]
    for i, outputs in enumerate(results):
        for k, depth in enumerate(outputs):
            np.testing.assert_array_equal(depth, serial[(i + k) % 5])


@pytest.mark.parametrize("backend", ["onnx", ""])
def test_unknown_backend_is_refused(reference_weights, backend):
    with pytest.raises(ValueError, match="backend"):
        load_predictor(weights=reference_weights, backend=backend)


def test_full_resolution_map_can_wait_until_it_is_needed(predictor, golden):
    image = golden["case5_1280x720_image"]
    lazy = predictor.run(image, upsample=False)
    assert set(lazy.seconds) == {"preprocess", "inference"} and lazy.image_size == (720, 1280)
    small = lazy.depth_at(360, 640)  # a display size, straight from the raw output
    assert small.shape == (360, 640) and "upsample" not in lazy.seconds
    depth = lazy.depth
    assert "upsample" in lazy.seconds and lazy.depth is depth  # computed once, then kept
    assert lazy.depth_at(720, 1280) is depth
    np.testing.assert_array_equal(depth, predictor.predict(image))
    assert_close_to_max(depth, golden["case5_1280x720_full"])
    # the display map is the official bicubic upsample of the raw output, to the display size
    assert_close_to_max(small, upsample(torch.from_numpy(lazy.net_output), 360, 640))


def test_prediction_pickles_for_the_streamlit_cache(predictor, golden):
    import pickle

    image = golden["case0_640x480_image"]
    for result in (predictor.run(image, upsample=False), predictor.run(image)):
        copy = pickle.loads(pickle.dumps(result))
        np.testing.assert_array_equal(copy.net_output, result.net_output)
        np.testing.assert_array_equal(copy.depth, result.depth)


def test_torch_backend_says_what_runs(predictor):
    assert predictor.info.backend == "torch"
    assert predictor.info.backend_note.startswith("torch ") and "channels-last" in predictor.info.backend_note


def test_network_output_takes_tensors_and_arrays(predictor, golden):
    x = golden["case0_640x480_input"][None]
    from_array = predictor.network_output(x)
    from_tensor = predictor.network_output(torch.from_numpy(x))
    assert isinstance(from_array, torch.Tensor) and tuple(from_array.shape) == (192, 256)
    np.testing.assert_array_equal(from_array.numpy(), from_tensor.numpy())
    assert_close_to_max(from_array.numpy(), golden["case0_640x480_net"])
    with pytest.raises(ValueError, match="1x3xhxw"):
        predictor.network_output(x[0])


def test_concurrent_callers_queue_behind_the_gate(reference_weights, golden):
    from core.midas.inference_gate import InferenceGate

    base = load_predictor(weights=reference_weights)
    p = type(base)(base._network, base.info, gate=InferenceGate(1, timeout=60))
    image = golden["case0_640x480_image"]
    expected = p.predict(image)
    queued: list[int] = []
    peak = 0
    real_network = p._network

    def watched(x):
        nonlocal peak
        peak = max(peak, p.gate.running)
        return real_network(x)

    p._network = watched
    with ThreadPoolExecutor(max_workers=3) as pool:
        outs = list(pool.map(lambda _: p.run(image, on_queued=queued.append).depth, range(3)))
    assert peak == 1  # never more than K=1 inference at once
    assert queued and all(n >= 1 for n in queued)  # the others were told they were queued
    for out in outs:
        np.testing.assert_array_equal(out, expected)


def test_predictors_in_one_process_share_one_gate(reference_weights):
    a = load_predictor(weights=reference_weights)
    b = load_predictor(weights=reference_weights, size=320)
    assert a.gate is b.gate  # torch threads are process-wide, so is the admission limit
    assert a.gate.slots * a.info.threads <= max(os.cpu_count() or 1, a.info.threads)


class _CompilingNetwork:
    """A stand-in for the fast backend: the first call of each input shape 'compiles' it."""

    def __init__(self) -> None:
        self.compiled: set[tuple[int, int]] = set()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.infer(x)[0]

    def infer(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        hw = (int(x.shape[2]), int(x.shape[3]))
        compile_seconds = 0.0 if hw in self.compiled else 0.25
        self.compiled.add(hw)
        return np.ones(hw, np.float32), compile_seconds


def test_run_says_when_it_compiled_a_new_input_shape(predictor):
    from core.midas.inference_gate import InferenceGate

    p = type(predictor)(_CompilingNetwork(), predictor.info, gate=InferenceGate(1))
    landscape, portrait = np.zeros((48, 64, 3), np.uint8), np.zeros((64, 48, 3), np.uint8)

    first = p.run(landscape)
    assert first.seconds["compile"] == 0.25 and first.net_input.shape[2:] == (192, 256)
    assert "compile" not in p.run(landscape).seconds  # compiled once, then reused
    assert p.run(portrait).seconds["compile"] == 0.25  # a new shape compiles again
    # the eager torch network compiles nothing
    assert "compile" not in predictor.run(landscape).seconds
