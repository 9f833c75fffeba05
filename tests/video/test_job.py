"""core.video.job: process_video in a thread, watched and cancelled (what the Video page relies on)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.video.job import JobProgress, VideoJob
from core.video.pipeline import VideoCancelled, process_video
from tests.video.clips import make_clip


class _SlowPredictor:
    """Anything with predict(rgb): a ramp, after a pause, so a cancel lands mid-clip."""

    def __init__(self, started: threading.Event) -> None:
        self.started, self.calls = started, 0

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.started.set()
        threading.Event().wait(0.05)
        return np.linspace(1, 2, rgb.shape[0] * rgb.shape[1], dtype=np.float32).reshape(rgb.shape[:2])


def test_a_job_reports_both_stages_and_returns_the_result(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 5, 10, (32, 24))
    seen: list[JobProgress] = []
    job = VideoJob(lambda progress, cancel: process_video(
        clip, _SlowPredictor(threading.Event()), tmp_path / "out", "c",
        progress=lambda *a: (progress(*a), seen.append(job.progress())), cancel=cancel))
    assert job.wait(60)
    result = job.result()
    assert result.frames == 5 and result.depth_npz.is_file()
    assert [p.stage for p in seen] == ["depth"] * 5 + ["encoding"] * 5
    assert [p.done for p in seen] == [1, 2, 3, 4, 5] * 2 and seen[-1].fraction == 1.0
    assert seen[4].fraction == 0.5 and seen[5].fraction == pytest.approx(0.6)
    assert seen[2].fps > 0 and seen[2].seconds_left is not None
    assert seen[2].line().startswith("Predicting depth: frame 3 of 5 · ")
    assert seen[7].line().startswith("Encoding the videos: frame 3 of 5 · ")


def test_a_per_frame_job_is_one_stage_from_start_to_end(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 4, 10, (32, 24))
    seen: list[JobProgress] = []
    job = VideoJob(lambda progress, cancel: process_video(
        clip, _SlowPredictor(threading.Event()), tmp_path / "out", "c", mode="per-frame",
        progress=lambda *a: (progress(*a), seen.append(job.progress())), cancel=cancel))
    assert job.wait(60) and job.result().frames == 4
    assert [p.stage for p in seen] == ["depth and encoding"] * 4
    assert [p.fraction for p in seen] == [0.25, 0.5, 0.75, 1.0]
    assert seen[1].line().startswith("Predicting depth and encoding the videos: frame 2 of 4 · ")


def test_cancel_stops_before_the_next_frame_and_leaves_no_file(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 40, 10, (32, 24))
    started = threading.Event()
    predictor = _SlowPredictor(started)
    job = VideoJob(lambda progress, cancel: process_video(clip, predictor, tmp_path / "out", "c",
                                                          progress=progress, cancel=cancel))
    assert started.wait(30)
    job.cancel()
    assert job.wait(30) and job.cancelling
    with pytest.raises(VideoCancelled, match="cancelled after"):
        job.result()
    assert predictor.calls < 40
    assert list((tmp_path / "out").iterdir()) == []


def test_result_before_the_end_says_so():
    gate = threading.Event()
    job = VideoJob(lambda progress, cancel: gate.wait(5))
    with pytest.raises(RuntimeError, match="still running"):
        job.result()
    gate.set()
    assert job.wait(5) and job.result() is True
