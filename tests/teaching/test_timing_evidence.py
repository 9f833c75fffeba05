"""The verdicts on CPU tips, on hand-made timing samples: conclusions only from ranges that are apart on a quiet CPU."""

from __future__ import annotations

import math

import pytest

from core.teaching.timing import STAGES, StageTimes
from core.teaching.timing_evidence import (
    BUSY_MARGIN,
    MIN_STEADY_PASSES,
    compare,
    contention,
    cpu_tips,
    separation_chance,
    threads_name,
)


def passes(ms: list[float], *, threads: int = 2, other_cores: float | None = 0.0, own_cores: float = 1.0,
           size: int = 256, backend: str = "torch") -> list[StageTimes]:
    """Passes of these total milliseconds; the first is the warm-up. The CPU times give the cores asked for."""
    runs = []
    for total_ms in ms:
        wall = total_ms / 1000
        cpu = own_cores * wall
        busy = math.nan if other_cores is None else cpu + other_cores * wall
        seconds = dict.fromkeys(STAGES, wall / 10) | {"inference": wall * 0.6}  # inference is 60 % of a pass
        runs.append(StageTimes(seconds, size, (192, 256), threads, backend, cpu, busy))
    return runs


QUICK = [400, 100, 103, 98, 101, 99, 102]  # warm-up, then 6 passes at 98-103 ms
SLOW = [900, 300, 310, 296, 305, 299, 302]  # warm-up, then 6 passes at 296-310 ms


def verdict(subject, reference, cores=2, **kw):
    return compare(subject, reference, subject_name="N = 256", reference_name="N = 512", cores=cores, **kw)


def test_ranges_that_are_apart_on_a_quiet_machine_give_a_conclusion():
    v = verdict(passes(QUICK), passes(SLOW))
    assert v.conclusive and v.reasons == ()
    assert v.ratio == pytest.approx(301 / 100.5)
    assert v.text.startswith("N = 256 against N = 512: 3.00× faster, 100 ms (98–103) against 301 ms (296–310) per pass")
    assert "6 and 6 passes after the warm-up" in v.text and "the ranges do not overlap" in v.text
    assert (v.subject.low, v.subject.high, v.reference.n) == pytest.approx((0.098, 0.103, 6))


def test_a_tip_that_is_wrong_is_concluded_slower():
    v = verdict(passes(SLOW), passes(QUICK))
    assert v.conclusive and v.text.startswith("N = 256 against N = 512: 3.00× slower")


def test_overlapping_ranges_are_inconclusive():
    # the case: medians 15 % apart with a spread wider than that
    v = verdict(passes([500, 300, 340, 290, 360, 310, 330]), passes([450, 260, 300, 350, 280, 295, 345]))
    assert not v.conclusive and v.reasons == ("the ranges overlap",)
    assert v.text.startswith("N = 256 against N = 512: inconclusive on this run: the ranges overlap. ")
    assert "(290–360) against" in v.text and "Run it again when the machine is quieter" in v.text
    assert "faster" not in v.text and "slower" not in v.text


def test_too_few_passes_are_inconclusive_even_when_the_ranges_are_apart():
    # 3 passes per setting (the old default): 2 after the warm-up, apart by chance 1 time in 3
    v = verdict(passes(QUICK[:3]), passes(SLOW[:3]))
    assert not v.conclusive
    assert v.reasons == (f"only 2 passes after the warm-up, and at least {MIN_STEADY_PASSES} per setting are needed "
                         "to tell a difference from noise",)
    enough = MIN_STEADY_PASSES + 1
    assert verdict(passes(QUICK[:enough]), passes(SLOW[:enough])).conclusive


def test_a_busy_machine_is_inconclusive_and_says_who_was_short_of_cores():
    v = verdict(passes(QUICK), passes(SLOW, other_cores=0.8))
    assert not v.conclusive
    assert v.reasons == ("other programs used 0.80 of 2 cores on average while N = 512 ran with 2 threads",)
    assert "inconclusive on this run: other programs used 0.80 of 2 cores" in v.text
    assert "100 ms (98–103) against 301 ms (296–310)" in v.text  # the figures are still shown


def test_every_reason_is_given():
    v = verdict(passes(QUICK[:3], other_cores=1.0), passes([350, 100, 120]))
    assert [r.split(",")[0].split(" on ")[0] for r in v.reasons] == [
        "only 2 passes after the warm-up", "other programs used 1.00 of 2 cores", "the ranges overlap"]


@pytest.mark.parametrize(("threads", "cores", "other", "busy"), [
    (2, 2, BUSY_MARGIN - 0.01, False),  # within the margin: not disturbed
    (2, 2, BUSY_MARGIN + 0.01, True),
    (1, 2, 1.0 + BUSY_MARGIN - 0.01, False),  # one thread on two cores leaves one free for others
    (1, 2, 1.3, True),
    (4, 2, 0.3, True),  # more threads than cores: anything else competes
    (2, 8, 5.9, False),
])
def test_contention_counts_only_the_cores_a_setting_left_free(threads, cores, other, busy):
    reason = contention(passes(QUICK, threads=threads, other_cores=other), cores, "it")
    assert bool(reason) is busy
    if busy:
        assert reason == f"other programs used {other:.2f} of {cores} cores on average while it ran with " \
                         f"{threads_name(threads)}"


def test_contention_does_not_repeat_a_thread_count_in_its_name():
    reason = contention(passes(QUICK, threads=2, other_cores=0.5), 2, threads_name(2))
    assert reason == "other programs used 0.50 of 2 cores on average while 2 threads ran"


def test_contention_checks_cores():
    with pytest.raises(ValueError, match="cores"):
        contention(passes(QUICK), 0)


def test_unknown_cpu_use_still_concludes_but_says_it_was_not_measured():
    v = verdict(passes(QUICK, other_cores=None), passes(SLOW, other_cores=None))
    assert v.conclusive
    assert v.text.endswith("Other programs' CPU use is not measured on this system, so a busy machine would go "
                           "unnoticed.")
    assert contention(passes(QUICK, other_cores=None), 2) == ""


def test_a_stage_is_compared_on_its_own_seconds():
    v = verdict(passes(QUICK), passes(SLOW), stage="inference")
    assert v.conclusive and "60 ms (59–62) against 181 ms (178–186) of inference" in v.text
    with pytest.raises(ValueError, match="stage"):
        verdict(passes(QUICK), passes(SLOW), stage="network")
    with pytest.raises(ValueError, match="both sides"):
        verdict([], passes(SLOW))


def test_separation_chance():
    assert separation_chance(6, 6) == pytest.approx(2 / 924)
    assert separation_chance(2, 2) == pytest.approx(1 / 3)
    assert separation_chance(MIN_STEADY_PASSES, MIN_STEADY_PASSES) < 0.01
    with pytest.raises(ValueError, match="n=0"):
        separation_chance(0, 3)


def test_tips_put_the_advice_first():
    # the issue: "N = 512 against N = 256 is 1.15× faster" and "1 thread against 2 is 3.21× faster"
    measured = {
        (256, 2, "torch"): passes(QUICK),
        (512, 2, "torch"): passes(SLOW, size=512),
        (256, 1, "torch"): passes(SLOW, threads=1),
        (256, 2, "fast"): passes([300, 60, 61, 59, 60, 62, 60], backend="fast"),
    }
    tips = cpu_tips(measured, cores=2, backends=["torch", "fast"])
    assert [t.title for t in tips] == ["Lower the resolution.", "Use every core.",
                                       "Script / compile the model (fast backend)."]
    assert [t.verdict.text.split(":")[0] for t in tips] == [
        "N = 256 against N = 512", "2 threads against 1 thread", "fast against torch"]
    assert all(t.verdict.conclusive and "× faster" in t.verdict.text for t in tips)


def test_tips_compare_the_compiled_backend_against_torch_whichever_came_first():
    measured = {(256, 2, "fast"): passes(QUICK, backend="fast"), (256, 2, "torch"): passes(SLOW)}
    (_, _, tip) = cpu_tips(measured, cores=2, backends=["torch", "fast"])
    assert tip.verdict.text.startswith("fast against torch: 3.00× faster")


def test_tips_in_a_full_grid_start_from_the_most_threads():
    measured = {(256, 1, "torch"): passes(SLOW, threads=1), (256, 2, "torch"): passes(QUICK),
                (512, 1, "torch"): passes(SLOW, threads=1, size=512), (512, 2, "torch"): passes(SLOW, size=512)}
    texts = [t.verdict.text.split(":")[0] for t in cpu_tips(measured, cores=2, backends=["torch"])[:2]]
    assert texts == ["N = 256 against N = 512", "2 threads against 1 thread"]


def test_tips_say_how_to_test_what_was_not_measured():
    only = {(256, 2, "torch"): passes(QUICK)}
    tips = cpu_tips(only, cores=2, backends=["torch"])
    assert [(t.verdict, t.note) for t in tips] == [
        (None, "pick at least two network sizes to test it."),
        (None, "pick at least two thread counts to test it."),
        (None, "not testable in this build: only the plain `torch` backend is available here (install OpenVINO "
               "for the compiled `fast` one). The claim is not asserted."),
    ]
    assert cpu_tips(only, cores=2, backends=["torch", "fast"])[2].note == \
        "pick the `fast` backend (OpenVINO, compiled) as well to test it."
