from __future__ import annotations

import threading
import time

import pytest

from core.midas.inference_gate import InferenceBusyError, InferenceGate, slots_for


@pytest.mark.parametrize(("threads", "cores", "expected"), [(2, 2, 1), (1, 2, 2), (1, 4, 4), (3, 2, 1), (2, 8, 4)])
def test_slots_keep_k_times_threads_within_cores(threads, cores, expected):
    k = slots_for(threads, cores)
    assert k == expected
    assert k * threads <= cores or k == 1


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_gate_never_lets_more_than_k_run(slots):
    gate = InferenceGate(slots, timeout=30)
    total = 8
    peak = 0
    finished = 0
    lock = threading.Lock()
    queued = []

    def work():
        nonlocal peak, finished
        with gate.slot(on_queued=queued.append):
            # hold the slot until every remaining worker has arrived (running or queued) and
            # the gate is as full as it can get (bounded), so the outcome does not depend on
            # scheduling; then record the peak
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                remaining = total - finished
                if gate.running + gate.waiting >= remaining and gate.running >= min(slots, remaining):
                    break
                time.sleep(0.001)
            with lock:
                peak = max(peak, gate.running)
                finished += 1

    workers = [threading.Thread(target=work) for _ in range(total)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert peak == slots  # reached, never exceeded
    assert len(queued) >= total - slots  # everyone beyond the first K was told it was queued
    assert all(ahead >= 1 for ahead in queued)
    assert gate.running == 0 and gate.waiting == 0


def test_queued_caller_times_out_with_a_clear_message():
    gate = InferenceGate(1, timeout=0.2)
    release = threading.Event()

    def hold():
        with gate.slot():
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    while gate.running == 0:
        time.sleep(0.005)
    notices = []
    with pytest.raises(InferenceBusyError, match="busy.*Try again"):
        with gate.slot(on_queued=notices.append):
            pass
    assert notices == [1]
    release.set()
    holder.join()
    with gate.slot():  # the gate still works after a timeout
        assert gate.running == 1
    assert gate.waiting == 0


def test_slot_is_released_when_the_body_raises():
    gate = InferenceGate(1, timeout=0.5)
    with pytest.raises(ZeroDivisionError):
        with gate.slot():
            1 / 0
    with gate.slot():
        assert gate.running == 1


@pytest.mark.parametrize(("slots", "timeout"), [(0, 1.0), (1, 0.0), (-1, 5.0)])
def test_bad_arguments(slots, timeout):
    with pytest.raises(ValueError):
        InferenceGate(slots, timeout)
