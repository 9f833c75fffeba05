from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from core.predictor import load_predictor
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
