from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from core.timing import (
    STAGES,
    StageTimes,
    TimingError,
    available_backends,
    summarize_runs,
    time_in_subprocess,
    time_pipeline,
)


@pytest.fixture(scope="module")
def png() -> bytes:
    rgb = np.random.default_rng(0).integers(0, 256, (40, 160, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".png", rgb)
    assert ok
    return buf.tobytes()


def test_time_pipeline_returns_every_stage(predictor, png):
    times = time_pipeline(png, predictor)

    assert tuple(times.seconds) == STAGES
    assert all(v >= 0.0 for v in times.seconds.values())
    assert times.total == pytest.approx(sum(times.seconds.values()))
    assert times.size == 256 and times.net_hw == (64, 256)
    assert times.backend == predictor.info.backend and times.threads == predictor.info.threads


def test_summarize_runs_separates_the_warm_up():
    def run(total: float) -> StageTimes:
        return StageTimes(dict.fromkeys(STAGES, total / len(STAGES)), 256, (64, 256), 1, "torch")

    summary = summarize_runs([run(9.0), run(2.0), run(4.0), run(3.0)])

    assert summary.first == pytest.approx(9.0)
    assert summary.steady == pytest.approx(3.0)
    assert summary.steady_stages == pytest.approx(dict.fromkeys(STAGES, 3.0 / len(STAGES)))
    assert summary.passes == 4
    one = summarize_runs([run(5.0)])
    assert one.first == one.steady == pytest.approx(5.0)
    with pytest.raises(ValueError):
        summarize_runs([])


def test_time_in_subprocess_reports_each_pass_with_its_own_thread_count(png, reference_weights):
    progress: list[tuple[int, int]] = []

    runs = time_in_subprocess(png, weights=reference_weights, size=256, threads=1, passes=2,
                              progress=lambda done, total: progress.append((done, total)))

    assert len(runs) == 2 and progress == [(1, 2), (2, 2)]
    for r in runs:
        assert tuple(r.seconds) == STAGES and all(v >= 0 for v in r.seconds.values())
        assert (r.size, r.net_hw, r.threads, r.backend) == (256, (64, 256), 1, "torch")


def test_time_in_subprocess_reports_the_childs_error(png, tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(TimingError, match="N=256 with 1 thread"):
        time_in_subprocess(png, weights=missing, size=256, threads=1, passes=1)


def test_time_in_subprocess_checks_its_arguments(png, reference_weights):
    with pytest.raises(ValueError, match="threads"):
        time_in_subprocess(png, weights=reference_weights, size=256, threads=0)
    with pytest.raises(ValueError, match="passes"):
        time_in_subprocess(png, weights=reference_weights, size=256, threads=1, passes=0)


def test_available_backends_are_real_backends():
    backends = available_backends()
    assert backends[0] == "torch" and "auto" not in backends
    assert ("fast" in backends) == (importlib.util.find_spec("openvino") is not None)


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="OpenVINO is not installed")
def test_the_fast_backend_is_timed_in_its_own_process(png, reference_weights, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # never the user's cache (MIDAS_FAST_CACHE is the session's)

    runs = time_in_subprocess(png, weights=reference_weights, size=256, threads=1, passes=1, backend="fast")

    assert [r.backend for r in runs] == ["fast"] and tuple(runs[0].seconds) == STAGES
