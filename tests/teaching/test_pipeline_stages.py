from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from core.teaching.pipeline_stages import ArraySummary, channel_histograms, network_resize, summarize, walkthrough
from tests.conftest import assert_close_to_max

_KEYS = ["input", "resized", "tensor", "raw", "upsampled", "normalised", "heatmap"]


def _as_numpy(value: object) -> np.ndarray:
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


@pytest.fixture(scope="module")
def photo(golden) -> np.ndarray:
    return golden["case0_640x480_image"]  # 480x640x3 uint8


def test_walkthrough_shows_every_stage_with_its_real_shape(predictor, photo):
    stages = walkthrough(photo, predictor.run(photo), size=256, cmap="inferno")

    assert [s.key for s in stages] == _KEYS
    shapes = {s.key: s.summary.shape for s in stages}
    assert shapes == {
        "input": (480, 640, 3),
        "resized": (192, 256, 3),
        "tensor": (1, 3, 192, 256),
        "raw": (192, 256),
        "upsampled": (480, 640),
        "normalised": (480, 640),
        "heatmap": (480, 640, 3),
    }
    dtypes = {s.key: s.summary.dtype for s in stages}
    assert dtypes["input"] == dtypes["heatmap"] == "uint8"
    assert dtypes["tensor"] == dtypes["raw"] == dtypes["upsampled"] == "float32"
    norm = next(s for s in stages if s.key == "normalised")
    assert (norm.summary.lo, norm.summary.hi) == (0.0, 1.0)
    resized = next(s for s in stages if s.key == "resized")
    assert resized.title.endswith("h×w = 192×256") and all(d % 32 == 0 for d in resized.summary.shape[:2])
    assert all(s.summary.nonfinite == 0 for s in stages)


def test_the_snippets_run_and_reproduce_the_shown_arrays(predictor, photo, reference_weights, tmp_path, monkeypatch):
    """Run every stage's code, in order, as a student would in a notebook."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    assert ok
    (tmp_path / "photo.jpg").write_bytes(buf.tobytes())  # the decoder sniffs the content, not the name
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIDAS_WEIGHTS", str(reference_weights))
    stages = walkthrough(photo, predictor.run(photo), size=256, cmap="magma")

    namespace: dict = {}
    for stage in stages:
        assert 1 <= len(stage.code.splitlines()) <= 3 + 1  # an import line plus 1-3 lines of work
        exec(compile(stage.code, f"<stage {stage.key}>", "exec"), namespace)  # noqa: S102

    for stage in stages:
        produced = _as_numpy(namespace[stage.variable])
        assert produced.shape == stage.array.shape, stage.key
        assert produced.dtype == stage.array.dtype, stage.key
        if stage.key == "heatmap":
            assert np.abs(produced.astype(int) - stage.array.astype(int)).max() <= 1
        elif stage.key in ("input", "tensor", "resized"):
            np.testing.assert_array_equal(produced, stage.array, err_msg=stage.key)
        else:
            assert_close_to_max(produced, stage.array, rel=1e-5)


def test_walkthrough_refuses_a_prediction_of_another_photo(predictor, photo):
    other = predictor.run(np.zeros((100, 300, 3), np.uint8))
    with pytest.raises(ValueError, match="not made from this"):
        walkthrough(photo, other, size=256)


@pytest.mark.parametrize("size", [256, 384])
@pytest.mark.parametrize("shape", [(301, 407), (480, 640), (64, 64), (50, 400)])
def test_network_resize_is_the_official_resize(size, shape):
    rgb = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)

    resized = network_resize(rgb, size)

    h, w = resized.shape[:2]
    official = cv2.resize(rgb / 255.0, (w, h), interpolation=cv2.INTER_CUBIC)
    assert resized.dtype == np.float32 and h % 32 == 0 and w % 32 == 0 and max(h, w) <= size
    # network_resize undoes the ImageNet normalisation of the float32 network input: the rounding of
    # that input (|x| < 4, half an ulp 1.2e-7, times std <= 0.229) and of the product and sum (values
    # < 2: 1.2e-7 each) stay below 3e-7 on any CPU; the two float64 resizes agree to 1e-12 (test_transforms)
    np.testing.assert_allclose(resized, official, atol=1e-6)


def test_network_resize_rejects_a_grayscale_image():
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        network_resize(np.zeros((10, 10), np.uint8), 256)


def test_channel_histograms_count_every_value_of_each_channel():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 3, 8, 12)).astype(np.float32)
    x[0, 2] += 5.0  # the blue channel sits far to the right

    hist = channel_histograms(x, bins=16)

    assert hist.counts.shape == (3, 16) and hist.edges.shape == (17,)
    assert hist.counts.sum(axis=1).tolist() == [96, 96, 96]
    assert hist.edges[0] == pytest.approx(float(x.min())) and hist.edges[-1] == pytest.approx(float(x.max()))
    np.testing.assert_allclose(hist.means, x[0].reshape(3, -1).mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(hist.stds, x[0].reshape(3, -1).std(axis=1), rtol=1e-5)
    # the shifted channel fills the upper bins, the others the lower ones
    assert hist.counts[2, :8].sum() < hist.counts[0, :8].sum()


@pytest.mark.parametrize("bad", [np.zeros((3, 4, 4), np.uint8), np.zeros((1, 4, 4, 3), np.float32)])
def test_channel_histograms_rejects_wrong_layouts(bad):
    with pytest.raises(ValueError, match="1x3xhxw"):
        channel_histograms(bad)


def test_channel_histograms_rejects_nan():
    x = np.zeros((1, 3, 2, 2), np.float32)
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        channel_histograms(x)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.array([[0, 255]], np.uint8), ArraySummary((1, 2), "uint8", 0.0, 255.0, 0)),
        (np.array([np.nan, -1.5, np.inf, 2.0], np.float32), ArraySummary((4,), "float32", -1.5, 2.0, 2)),
        (np.full((2, 2), np.nan), ArraySummary((2, 2), "float64", 0.0, 0.0, 4)),
    ],
)
def test_summarize(array, expected):
    assert summarize(array) == expected


def test_summary_text_is_what_the_page_prints():
    assert str(summarize(np.zeros((1, 3, 64, 256), np.float32))) == "1×3×64×256 float32, values 0 … 0"
    assert "2 non-finite" in str(summarize(np.array([np.nan, np.inf, 1.0])))


def test_summarize_rejects_non_numeric():
    with pytest.raises(TypeError, match="real numeric"):
        summarize(np.array(["a"]))
