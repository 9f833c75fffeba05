from __future__ import annotations

import math
import os
import signal
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import core.maps.stats as stats_module
from core import workers
from core.maps.stats import depth_stats, histogram, percentile_of, percentile_values, summarize
from tests.maps.depth_inputs import DEPTHS, SMALL, random_map


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("fn", [depth_stats, histogram, summarize])
def test_rejects_wrong_ndim(fn) -> None:
    with pytest.raises(ValueError, match="HxW"):
        fn(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="HxW"):
        fn(np.zeros(4, np.float32))


@pytest.mark.parametrize("fn", [depth_stats, summarize])
@pytest.mark.parametrize("dtype", [np.bool_, np.complex64, object])
def test_rejects_wrong_dtype(fn, dtype) -> None:
    with pytest.raises(TypeError, match="dtype"):
        fn(np.zeros((2, 2), dtype=dtype))


@pytest.mark.parametrize("fn", [summarize])
def test_rejects_non_arrays_and_empty(fn) -> None:
    with pytest.raises(TypeError, match="numpy.ndarray"):
        fn([[0.0, 1.0]])
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 3), np.float32))


# ---------------------------------------------------------------- properties


@settings(deadline=None, max_examples=150)
@given(DEPTHS)
def test_stats_are_finite_for_any_input(x: np.ndarray) -> None:
    stats = depth_stats(x)
    values = [stats.min, stats.max, stats.mean, stats.std, *stats.percentiles.values()]
    assert all(math.isfinite(v) for v in values)


@settings(deadline=None, max_examples=150)
@given(DEPTHS, st.integers(1, 4096))
def test_histogram_counts_every_finite_value_once(x: np.ndarray, bins: int) -> None:
    h = histogram(x, bins=bins)
    assert h.total == np.count_nonzero(np.isfinite(x))
    assert len(h.counts) == bins and len(h.edges) == bins + 1
    p = h.percentiles([0, 10, 50, 90, 100])
    assert np.all(np.diff(p) >= 0)
    if h.total:
        finite = x[np.isfinite(x)].astype(np.float64)
        assert p[0] == finite.min() and p[-1] == finite.max()


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_depth_stats_hand_computed(dtype) -> None:
    s = depth_stats(SMALL.astype(dtype), percentiles=(0, 50, 100))
    assert (s.min, s.max, s.constant, s.nonfinite) == (0.0, 8.0, False, 0)
    assert s.mean == pytest.approx(3.5, abs=1e-6)
    assert s.std == pytest.approx(math.sqrt(8.75), rel=1e-6)
    assert s.percentiles[0] == 0.0 and s.percentiles[100] == 8.0
    assert s.percentiles[50] == pytest.approx(3.0, abs=8.0 / 4096)


def test_depth_stats_ignores_non_finite() -> None:
    x = np.array([[np.nan, 1.0], [3.0, np.inf]], np.float32)
    s = depth_stats(x, percentiles=(50,))
    assert (s.min, s.max, s.mean, s.nonfinite) == (1.0, 3.0, 2.0, 2)
    assert s.std == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("x", [np.full((3, 2), 7.5, np.float32), np.full((2, 2), np.nan, np.float32)])
def test_depth_stats_flat_maps(x: np.ndarray) -> None:
    s = depth_stats(x, percentiles=(5, 95))
    assert s.constant and s.std == 0.0
    expected = 7.5 if np.isfinite(x).any() else 0.0
    assert s.min == s.max == s.mean == s.percentiles[5] == s.percentiles[95] == expected


def test_depth_stats_std_is_robust_to_a_large_offset() -> None:
    x = random_map((200, 300)) * np.float32(0.01) + np.float32(1e4)
    s = depth_stats(x)
    assert s.std == pytest.approx(float(np.std(x.astype(np.float64))), rel=1e-3)
    assert s.mean == pytest.approx(float(np.mean(x.astype(np.float64))), rel=1e-9)


@pytest.mark.parametrize("shape", [(1, 2), (3, 5), (100, 100), (480, 640)])
@pytest.mark.parametrize("dist", ["uniform", "normal", "exponential", "two_clusters", "integers"])
def test_percentiles_match_numpy_within_a_bin(shape, dist: str) -> None:
    rng = np.random.default_rng(sum(shape))
    x = {
        "uniform": lambda: rng.random(shape),
        "normal": lambda: rng.normal(size=shape),
        "exponential": lambda: rng.exponential(size=shape) * 1000,
        "two_clusters": lambda: np.where(rng.random(shape) < 0.3, 0.0, 50.0) + rng.random(shape),
        "integers": lambda: rng.integers(0, 5, size=shape),
    }[dist]().astype(np.float32)
    qs = [0, 0.5, 1, 2, 5, 25, 50, 75, 95, 98, 99, 99.5, 100]
    tol = (float(x.max()) - float(x.min())) / 4096
    s = depth_stats(x, percentiles=qs)
    expected = np.percentile(x.astype(np.float64), qs)
    np.testing.assert_allclose([s.percentiles[q] for q in qs], expected, rtol=0, atol=tol * 1.0001)
    lo, hi = percentile_values(x, (2, 98))
    np.testing.assert_allclose([lo, hi], np.percentile(x.astype(np.float64), [2, 98]), rtol=0, atol=tol * 1.0001)


def test_percentile_values_endpoints_are_exact() -> None:
    x = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    assert percentile_values(x, (0, 100)) == (0.0, 3.0)
    with pytest.raises(ValueError, match="low <= high"):
        percentile_values(x, (90, 10))
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        percentile_values(x, (-1, 50))


def test_percentile_of_hand_computed() -> None:
    x = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    assert percentile_of(x, 1.0) == 50.0
    assert percentile_of(x, 0.5) == 25.0
    assert percentile_of(x, -1.0) == 0.0
    assert percentile_of(x, 3.0) == 100.0
    with_nan = np.array([[np.nan, 1.0], [2.0, -np.inf]], np.float32)
    assert percentile_of(with_nan, 1.0) == 50.0  # of the 2 finite pixels
    assert percentile_of(np.full((2, 2), np.nan, np.float32), 0.0) == 0.0
    with pytest.raises(ValueError, match="finite"):
        percentile_of(x, float("nan"))


# ---------------------------------------------------------------- histogram


def test_histogram_hand_computed() -> None:
    x = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    h = histogram(x, bins=3)
    np.testing.assert_array_equal(h.counts, [1, 1, 2])
    np.testing.assert_array_equal(h.edges, [0.0, 1.0, 2.0, 3.0])
    assert h.counts.dtype == np.int64 and h.total == 4


def test_histogram_window_drops_outside_and_non_finite() -> None:
    x = np.array([[np.nan, -1.0, 0.0, 0.5], [1.0, 1.5, 2.0, np.inf]], np.float32)
    h = histogram(x, bins=2, lo=0.0, hi=1.0)
    np.testing.assert_array_equal(h.counts, [1, 2])  # [0, 0.5) and [0.5, 1]
    assert histogram(x, bins=4).total == 6


@pytest.mark.parametrize("shape", [(7, 3), (120, 160)])
@pytest.mark.parametrize("bins", [1, 10, 256, 4096])
def test_histogram_matches_numpy(shape, bins: int) -> None:
    x = random_map(shape, seed=bins)
    h = histogram(x, bins=bins)
    counts, edges = np.histogram(x.astype(np.float64), bins=bins, range=(float(x.min()), float(x.max())))
    np.testing.assert_array_equal(h.counts, counts)  # random data: no value on an edge
    np.testing.assert_allclose(h.edges, edges)


def test_histogram_counts_large_maps_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats_module, "_CALCHIST_MAX_PIXELS", 10)
    x = random_map((13, 4), seed=5)
    counts, _ = np.histogram(x.astype(np.float64), bins=16, range=(float(x.min()), float(x.max())))
    np.testing.assert_array_equal(histogram(x, bins=16).counts, counts)


def test_histogram_of_a_constant_map() -> None:
    h = histogram(np.full((2, 3), 4.0, np.float32), bins=8)
    assert h.total == 6 and h.counts[0] == 6
    np.testing.assert_array_equal(h.percentiles([0, 50, 100]), [4.0, 4.0, 4.0])


@pytest.mark.parametrize("bins", [0, 65537])
def test_histogram_bins_validation(bins: int) -> None:
    with pytest.raises(ValueError, match="bins"):
        histogram(SMALL, bins=bins)


# ---------------------------------------------------------------- summarize

PERCENTILES = (0, 1, 5, 25, 50, 75, 95, 99, 100)


def _assert_same(got: tuple, stats, hist) -> None:
    """summarize's result equals (depth_stats, histogram): every field, every count, every edge."""
    got_stats, got_hist = got
    assert got_stats == stats
    np.testing.assert_array_equal(got_hist.counts, hist.counts)
    np.testing.assert_array_equal(got_hist.edges, hist.edges)
    assert got_hist.counts.dtype == np.int64


def _assert_matches_numpy(x: np.ndarray, qs=PERCENTILES, bins: int = 4096, std_rtol: float = 1e-9) -> None:
    """summarize against float64 numpy on the finite values: what a user would compute by hand."""
    x32 = x.astype(np.float32)
    finite = x32[np.isfinite(x32)].astype(np.float64)
    stats, hist = summarize(x, qs, bins=bins)
    assert stats.nonfinite == x.size - finite.size
    assert hist.total == finite.size
    assert (stats.min, stats.max) == (finite.min(), finite.max())
    assert stats.mean == pytest.approx(finite.mean(), rel=1e-12, abs=1e-12 * finite.std())
    assert stats.std == pytest.approx(finite.std(), rel=std_rtol, abs=1e-300)
    tol = (finite.max() - finite.min()) / 4096 * 1.0001
    np.testing.assert_allclose([stats.percentiles[q] for q in qs], np.percentile(finite, qs), rtol=0, atol=tol)
    np.testing.assert_array_equal(hist.edges, np.linspace(finite.min(), finite.max(), bins + 1))


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1), (3, 4), (64, 48), (1, 300001), (300001, 1), (517, 1031)])
@pytest.mark.parametrize("bins", [1, 256, 4096])
def test_summarize_equals_depth_stats_and_histogram(shape, bins: int) -> None:
    # (517, 1031) is shared between threads; (1, 300001) spans three blocks in one row
    x = random_map(shape, seed=sum(shape) + bins)
    _assert_same(summarize(x, PERCENTILES, bins=bins), depth_stats(x, PERCENTILES), histogram(x, bins=bins))
    if x.size > 1:
        _assert_matches_numpy(x, bins=bins)


@pytest.mark.parametrize("shape", [(3, 4), (300, 500), (517, 1031)])
def test_summarize_histogram_matches_numpy(shape) -> None:
    x = random_map(shape, seed=7)
    _, hist = summarize(x, bins=4096)
    counts, _ = np.histogram(x.astype(np.float64), bins=4096, range=(float(x.min()), float(x.max())))
    np.testing.assert_array_equal(hist.counts, counts)  # random data: no value on an edge


@pytest.mark.parametrize("shape", [(1, 9), (6, 7), (600, 900)])
@pytest.mark.parametrize("bad", [[np.nan], [np.inf], [-np.inf], [np.nan, np.inf, -np.inf]])
def test_summarize_ignores_non_finite(shape, bad: list[float]) -> None:
    x = random_map(shape, seed=11)
    rng = np.random.default_rng(12)
    hit = rng.random(shape) < 0.1
    hit.flat[0] = hit.flat[-1] = True
    x[hit] = rng.choice(np.array(bad, np.float32), size=int(hit.sum()))
    stats, hist = summarize(x, PERCENTILES)
    assert stats.nonfinite == int(hit.sum())
    _assert_same((stats, hist), depth_stats(x, PERCENTILES), histogram(x, bins=4096))
    _assert_matches_numpy(x)


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (5, 1), (300, 2000)])
@pytest.mark.parametrize("value", [3.25, -1e6, 0.0])
def test_summarize_constant_map(shape, value: float) -> None:
    x = np.full(shape, value, np.float32)
    stats, hist = summarize(x, (5, 50, 95), bins=16)
    assert stats.constant and (stats.min, stats.max, stats.mean, stats.std) == (value, value, value, 0.0)
    assert stats.percentiles == {5: value, 50: value, 95: value}
    assert hist.counts[0] == x.size and hist.total == x.size
    _assert_same((stats, hist), depth_stats(x, (5, 50, 95)), histogram(x, bins=16))


def test_summarize_nearly_constant_map_still_counts_its_histogram() -> None:
    # a range too narrow to stretch is "constant" for display, but histogram bins it
    x = np.array([[0.0, 1e-45, 1e-45], [0.0, 0.0, 1e-45]], np.float32)
    stats, hist = summarize(x, (50,), bins=2)
    assert stats.constant and stats.std == 0.0
    np.testing.assert_array_equal(hist.counts, [3, 3])
    _assert_same((stats, hist), depth_stats(x, (50,)), histogram(x, bins=2))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shape", [(1, 3), (4, 4), (800, 700)])
def test_summarize_all_non_finite(value: float, shape) -> None:
    x = np.full(shape, value, np.float32)
    stats, hist = summarize(x, (1, 99), bins=8)
    assert stats.constant and stats.nonfinite == x.size
    assert (stats.min, stats.max, stats.mean, stats.std) == (0.0, 0.0, 0.0, 0.0)
    assert stats.percentiles == {1: 0.0, 99: 0.0}
    np.testing.assert_array_equal(hist.counts, np.zeros(8))
    np.testing.assert_array_equal(hist.edges, np.zeros(9))
    _assert_same((stats, hist), depth_stats(x, (1, 99)), histogram(x, bins=8))


@pytest.mark.parametrize("offset", [1e4, 1e6, -3e7])
@pytest.mark.parametrize("shape", [(200, 300), (800, 900)])
def test_summarize_std_is_robust_to_a_large_offset(offset: float, shape) -> None:
    # a one-pass E[x^2] - E[x]^2 in float64 loses about 1e-4 of the variance at 1e6
    for noise in (1.0, 0.01):
        x = random_map(shape, seed=2) * np.float32(noise) + np.float32(offset)
        if np.ptp(x) == 0:
            continue
        exact = x.astype(np.float64)
        stats, _ = summarize(x)
        assert stats.mean == pytest.approx(float(exact.mean()), rel=1e-13)
        assert stats.std == pytest.approx(float(exact.std()), rel=1e-9)
        assert depth_stats(x) == stats


def test_summarize_survives_values_near_the_float32_limit() -> None:
    # x - mean would overflow float32 here (the old depth_stats gave mean -inf, std nan)
    for x in (
        np.array([[-3e38, 3e38, 3e38, 3e38]], np.float32),
        np.array([[0.0, 1.1342746e38], [1.1342746e38, 1.1342746e38]], np.float32),
    ):
        exact = x.astype(np.float64)
        stats, hist = summarize(x, (0, 50, 100))
        assert stats.mean == pytest.approx(exact.mean(), rel=1e-12)
        assert stats.std == pytest.approx(exact.std(), rel=1e-12)
        assert hist.total == x.size
        assert depth_stats(x, (0, 50, 100)) == stats


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float16, np.float64])
@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (40, 30), (600, 900)])
def test_summarize_any_dtype(dtype, shape) -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 200, size=shape).astype(dtype)  # integers: many values on bin edges
    stats, hist = summarize(x, PERCENTILES, bins=100)
    _assert_same((stats, hist), depth_stats(x, PERCENTILES), histogram(x, bins=100))
    exact = x.astype(np.float64)
    assert (stats.min, stats.max) == (exact.min(), exact.max())
    assert stats.mean == pytest.approx(exact.mean(), rel=1e-13)
    assert stats.std == pytest.approx(exact.std(), rel=1e-9)
    assert hist.total == x.size


def test_summarize_percentiles_do_not_depend_on_bins() -> None:
    x = random_map((50, 60), seed=9)
    reference = depth_stats(x, PERCENTILES)
    for bins in (1, 10, 4095, 4096, 65536):
        assert summarize(x, PERCENTILES, bins=bins)[0] == reference


@pytest.mark.parametrize("n_workers", [1, 2])
def test_summarize_counts_more_than_2_24_pixels_exactly(monkeypatch: pytest.MonkeyPatch, n_workers: int) -> None:
    # one row of 2**24 + 3 pixels: one worker's float32 calcHist counts would reach
    # 2**24 + 1 in bin 1, which float32 cannot hold
    monkeypatch.setattr(workers, "WORKERS", n_workers)
    n = (1 << 24) + 3
    x = np.full((1, n), 0.5, np.float32)
    x[0, 0], x[0, -1] = 0.0, 1.0
    stats, hist = summarize(x, (50,), bins=2)
    np.testing.assert_array_equal(hist.counts, [1, n - 1])  # 0 | 0.5 ... and the closed top edge 1.0
    assert stats.mean == pytest.approx((1.0 + 0.5 * (n - 2)) / n, rel=1e-15)
    assert stats.std == pytest.approx(math.sqrt((0.25 + 0.25) / n), rel=1e-9)
    assert stats.percentiles[50] == pytest.approx(0.5, abs=1 / 4096)
    assert (stats.min, stats.max) == (0.0, 1.0)
    _assert_same((stats, hist), depth_stats(x, (50,)), histogram(x, bins=2))


@pytest.mark.parametrize("shape", [(13, 4), (1, 57), (57, 1)])
def test_summarize_blocks_and_flushes(monkeypatch: pytest.MonkeyPatch, shape) -> None:
    # 7-pixel blocks, float32 counts flushed every block, blocks shared between 3 threads
    x = random_map(shape, seed=13)
    x.flat[5] = np.nan
    x.flat[-3] = np.nanmax(x)  # the closed top edge twice, in two blocks
    expected = summarize(x, PERCENTILES, bins=16)
    monkeypatch.setattr(stats_module, "_CALCHIST_MAX_PIXELS", 10)
    monkeypatch.setattr(stats_module, "_BLOCK_PIXELS", 7)
    monkeypatch.setattr(stats_module, "_PARALLEL_MIN_PIXELS", 1)
    monkeypatch.setattr(workers, "WORKERS", 3)
    got = summarize(x, PERCENTILES, bins=16)
    assert got[0].min == expected[0].min and got[0].nonfinite == 1
    assert got[0].mean == pytest.approx(expected[0].mean, rel=1e-14)
    assert got[0].std == pytest.approx(expected[0].std, rel=1e-12)
    assert got[0].percentiles == expected[0].percentiles
    np.testing.assert_array_equal(got[1].counts, expected[1].counts)
    counts, _ = np.histogram(x[np.isfinite(x)].astype(np.float64), bins=16, range=(np.nanmin(x), np.nanmax(x)))
    np.testing.assert_array_equal(got[1].counts, counts)
    _assert_matches_numpy(x, bins=16)


def test_summarize_is_deterministic_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    x = random_map((600, 1000), seed=4) * np.float32(3.0) + np.float32(500.0)
    x[::7, ::5] = np.nan
    monkeypatch.setattr(workers, "WORKERS", 1)
    one = summarize(x)
    monkeypatch.setattr(workers, "WORKERS", 4)
    _assert_same(summarize(x), *one)
    monkeypatch.setattr(stats_module, "_BLOCK_PIXELS", 1000)  # 600 blocks in 4 shares
    monkeypatch.setattr(stats_module, "_PARALLEL_MIN_PIXELS", 1)
    many = summarize(x)
    assert many[0].mean == pytest.approx(one[0].mean, rel=1e-14)
    assert many[0].std == pytest.approx(one[0].std, rel=1e-12)
    assert many[0].percentiles == one[0].percentiles
    np.testing.assert_array_equal(many[1].counts, one[1].counts)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_summarize_works_in_a_forked_child() -> None:
    # the parent's worker threads do not survive a fork: the child must not wait for them
    x = random_map((800, 800), seed=6)
    expected = summarize(x)  # starts the worker threads in this process
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only if it got the same answer
        try:
            got = summarize(x)
            os._exit(0 if got[0] == expected[0] else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + 20.0
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("summarize hung in a forked child")
    assert os.waitstatus_to_exitcode(done[1]) == 0


def test_histogram_window_counts_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats_module, "_BLOCK_PIXELS", 3)
    x = np.array([[0.0, 1.0, 2.0, 2.0, np.nan, 3.0, 2.0, 5.0, 2.0]], np.float32)
    np.testing.assert_array_equal(histogram(x, bins=3, lo=2.0, hi=2.0).counts, [4, 0, 0])
    np.testing.assert_array_equal(histogram(x, bins=2, lo=1.0, hi=2.0).counts, [1, 4])
    np.testing.assert_array_equal(histogram(x, bins=1, lo=4.0, hi=6.0).counts, [1])


def test_summarize_validation() -> None:
    with pytest.raises(ValueError, match="bins"):
        summarize(SMALL, bins=0)
    with pytest.raises(TypeError, match="bins"):
        summarize(SMALL, bins=2.0)
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        summarize(SMALL, percentiles=(50, 101))
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        depth_stats(np.full((2, 2), 1.0, np.float32), percentiles=(-5,))  # also on a flat map


@settings(deadline=None, max_examples=150)
@given(DEPTHS, st.integers(1, 4096))
def test_summarize_equals_the_two_calls_for_any_input(x: np.ndarray, bins: int) -> None:
    stats, hist = summarize(x, (0, 50, 100), bins=bins)
    _assert_same((stats, hist), depth_stats(x, (0, 50, 100)), histogram(x, bins=bins))
    assert all(math.isfinite(v) for v in (stats.min, stats.max, stats.mean, stats.std))
    finite = x[np.isfinite(x)].astype(np.float64)
    if finite.size:
        assert stats.min <= stats.mean <= stats.max
    if not stats.constant:  # a flat map reports std 0
        assert stats.mean == pytest.approx(float(finite.mean()), rel=1e-12, abs=1e-12 * float(finite.std()))
        assert stats.std == pytest.approx(float(finite.std()), rel=1e-9)
