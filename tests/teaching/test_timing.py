from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import core
from core.maps.display import DISPLAY_MAX_WIDTH
from core.teaching import timing
from core.teaching.timing import (
    FIRST_VIEW_STAGES,
    PREDICTION_STAGES,
    STAGES,
    Spread,
    StageTimes,
    TimingError,
    available_backends,
    cpu_cores,
    machine_busy_seconds,
    parse_proc_stat,
    steady_spread,
    summarize_runs,
    time_first_view,
    time_in_subprocess,
    time_pipeline,
    time_view_stages,
)

# /proc/stat as Linux writes it: user nice system idle iowait irq softirq steal guest guest_nice, in ticks
PROC_STAT = """cpu  1000 10 300 5000 200 5 15 70 400 0
cpu0 600 10 200 2000 100 5 5 50 400 0
cpu1 400 0 100 3000 100 0 10 20 0 0
intr 12345 0 0
ctxt 999
"""


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


def test_both_passes_start_with_the_prediction_stages():
    assert STAGES[:4] == FIRST_VIEW_STAGES[:4] == PREDICTION_STAGES == ("decode", "preprocess", "inference", "upsample")
    assert STAGES[4:] == ("colourise",) and FIRST_VIEW_STAGES[4:] == ("stats + histogram", "heatmap")


def test_time_first_view_returns_every_stage_and_the_total(predictor, png):
    decoded: list[int] = []

    def decode(data: bytes) -> np.ndarray:
        decoded.append(len(data))
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    seconds = time_first_view(png, predictor, "viridis", decode)

    assert tuple(seconds) == (*FIRST_VIEW_STAGES, "total") and decoded == [len(png)]
    assert all(v >= 0.0 for v in seconds.values())
    assert seconds["total"] >= sum(seconds[s] for s in FIRST_VIEW_STAGES) * 0.999  # the stages lie inside it


def test_time_view_stages_asks_for_the_display_size_map():
    asked: list[tuple[int, int]] = []
    depth = np.random.default_rng(1).random((30, 3000), dtype=np.float32)

    def display_map(h: int, w: int) -> np.ndarray:
        asked.append((h, w))
        return np.zeros((h, w), np.float32)

    seconds = time_view_stages(depth, display_map)

    assert tuple(seconds) == ("stats + histogram", "heatmap") and all(v >= 0.0 for v in seconds.values())
    assert asked == [(15, DISPLAY_MAX_WIDTH)]  # 30 x 3000 shrunk to the display width: 14.6 rows, rounded


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
        assert r.cpu_seconds > 0.0  # the child's own CPU time comes back with each pass
        if sys.platform.startswith("linux"):
            assert math.isfinite(r.machine_busy_seconds)


def test_time_in_subprocess_needs_no_working_directory_or_pythonpath(png, reference_weights, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nowhere near the checkout: the child finds core from the imported package
    other = str(tmp_path / "other")
    monkeypatch.setenv("PYTHONPATH", other)
    holder = str(Path(core.__file__).resolve().parent.parent)
    assert timing._child_environ()["PYTHONPATH"].split(os.pathsep) == [holder, other]  # the user's entries kept

    (run,) = time_in_subprocess(png, weights=reference_weights, size=256, threads=1, passes=1)

    assert tuple(run.seconds) == STAGES and run.net_hw == (64, 256)


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


def _pass(total: float, threads: int = 2, cpu: float = math.nan, busy: float = math.nan) -> StageTimes:
    return StageTimes(dict.fromkeys(STAGES, total / len(STAGES)), 256, (64, 256), threads, "torch", cpu, busy)


def test_parse_proc_stat_counts_busy_ticks_and_not_idle_or_guest():
    # busy = user + nice + system + irq + softirq + steal; guest is already inside user
    assert parse_proc_stat(PROC_STAT) == pytest.approx((1000 + 10 + 300 + 5 + 15 + 70) / 100)
    assert parse_proc_stat(PROC_STAT, cpus={0}) == pytest.approx((600 + 10 + 200 + 5 + 5 + 50) / 100)
    assert parse_proc_stat(PROC_STAT, cpus={0, 1}) == pytest.approx((870 + 530) / 100)
    assert parse_proc_stat(PROC_STAT, ticks_per_second=1000) == pytest.approx(1.4)
    old_kernel = "cpu  100 0 50 900\n"  # before 2.6: only four fields
    assert parse_proc_stat(old_kernel) == pytest.approx(1.5)


def test_parse_proc_stat_names_what_is_missing():
    with pytest.raises(ValueError, match=r"CPUs \[7\]"):
        parse_proc_stat(PROC_STAT, cpus={7})
    with pytest.raises(ValueError, match="'cpu' line"):
        parse_proc_stat("intr 1 2 3\n")
    with pytest.raises(ValueError, match="ticks_per_second"):
        parse_proc_stat(PROC_STAT, ticks_per_second=0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_machine_busy_seconds_grows_while_this_process_works():
    before = machine_busy_seconds()
    deadline = timing.time.process_time() + 0.3
    while timing.time.process_time() < deadline:  # 0.3 s of this process's own CPU time
        pass
    after = machine_busy_seconds()
    assert before is not None and after is not None
    # /proc/stat counts in 10 ms ticks: 0.3 s of work shows as at least 0.2 s of busy time
    assert after - before >= 0.2
    assert 1 <= cpu_cores() <= (timing.os.cpu_count() or 1)


def test_machine_busy_seconds_is_unknown_without_proc_stat_or_psutil(monkeypatch):
    real_read = timing.Path.read_text

    def no_proc_stat(self, *args, **kwargs):
        if str(self) == "/proc/stat":
            raise FileNotFoundError(self)  # as on macOS and Windows
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(timing.Path, "read_text", no_proc_stat)
    monkeypatch.setitem(sys.modules, "psutil", None)  # importing it raises ImportError
    assert machine_busy_seconds() is None


def test_machine_busy_seconds_falls_back_to_psutil(monkeypatch):
    class FakeTimes:
        def _asdict(self):
            return {"user": 10.0, "nice": 1.0, "system": 4.0, "idle": 50.0, "iowait": 3.0, "steal": 2.0,
                    "guest": 5.0, "guest_nice": 0.0}

    class FakePsutil:
        @staticmethod
        def cpu_times():
            return FakeTimes()

    monkeypatch.setattr(timing.Path, "read_text", lambda self, *a, **k: (_ for _ in ()).throw(OSError("no")))
    monkeypatch.setitem(sys.modules, "psutil", FakePsutil())
    assert machine_busy_seconds() == pytest.approx(10 + 1 + 4 + 2)  # idle, iowait and guest left out


def test_time_pipeline_records_the_cpu_time_around_the_pass(predictor, png):
    times = time_pipeline(png, predictor)

    assert times.cpu_seconds > 0.0
    if sys.platform.startswith("linux"):
        assert math.isfinite(times.machine_busy_seconds) and times.machine_busy_seconds >= 0.0


def test_steady_spread_leaves_out_the_warm_up():
    runs = [_pass(9.0), _pass(2.0), _pass(4.0), _pass(3.0)]
    assert steady_spread(runs) == Spread(low=2.0, median=3.0, high=4.0, n=3)
    assert steady_spread(runs, "inference") == Spread(low=0.4, median=0.6, high=0.8, n=3)
    assert steady_spread([_pass(5.0)]) == Spread(5.0, 5.0, 5.0, 1)
    with pytest.raises(ValueError, match="stage"):
        steady_spread(runs, "network")
    with pytest.raises(ValueError, match="at least one pass"):
        steady_spread([])


def test_spreads_that_touch_overlap():
    assert Spread(1.0, 1.5, 2.0, 5).overlaps(Spread(2.0, 2.5, 3.0, 5))
    assert not Spread(1.0, 1.5, 1.99, 5).overlaps(Spread(2.0, 2.5, 3.0, 5))
    assert Spread(1.0, 2.0, 9.0, 5).overlaps(Spread(2.0, 2.5, 3.0, 5))  # one inside the other


def test_summarize_runs_reports_the_spread_and_what_else_used_the_cpu():
    # after the warm-up: 3 passes, 1 s of wall time each; the process used 1.5 cores, the CPUs were busy 2.0 cores
    runs = [_pass(4.0, cpu=5.0, busy=9.0)] + [_pass(1.0, cpu=1.5, busy=2.0)] * 3
    s = summarize_runs(runs)
    assert (s.spread.low, s.spread.median, s.spread.high, s.spread.n) == (1.0, 1.0, 1.0, 3)
    assert s.threads == 2
    assert s.own_cores == pytest.approx(1.5) and s.other_cores == pytest.approx(0.5)
    # the warm-up is left out of the CPU figures too
    assert summarize_runs([_pass(1.0, cpu=1.0, busy=1.0)] + runs[1:]).other_cores == pytest.approx(0.5)


def test_summarize_runs_totals_the_cpu_figures_over_the_passes():
    # 10 ms ticks: per pass the busy time can read a tick below the process's own; over the passes it averages out
    runs = [_pass(1.0), _pass(0.1, cpu=0.10, busy=0.09), _pass(0.1, cpu=0.10, busy=0.13)]
    assert summarize_runs(runs).other_cores == pytest.approx(0.1)  # (0.22 - 0.20) / 0.2 s
    below = [_pass(1.0), _pass(0.1, cpu=0.10, busy=0.09)]
    assert summarize_runs(below).other_cores == 0.0  # never below zero


def test_summarize_runs_without_the_machines_busy_time():
    s = summarize_runs([_pass(1.0, cpu=1.0), _pass(1.0, cpu=0.5)])
    assert s.other_cores is None and s.own_cores == pytest.approx(0.5)
    assert math.isnan(summarize_runs([_pass(1.0), _pass(1.0)]).own_cores)  # passes recorded before CPU times
