"""The benchmark runs end to end on a tiny configuration and prints every table.

No timing is asserted: the numbers depend on the machine and its load.
"""
from __future__ import annotations

import re

import pytest

from bench.run import main, make_jpeg

pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def quick_output(reference_weights, fast_cache) -> str:
    import contextlib
    import io

    out = io.StringIO()
    argv = ["--quick", "--weights", str(reference_weights), "--cache-dir", str(fast_cache)]
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue()


def _rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the markdown table that follows ``heading``."""
    section = text.split(heading, 1)[1]
    rows, started = [], False
    for line in section.splitlines():
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-"} for c in cells):
                rows.append(cells)
        elif started:
            break
    return rows[1:]  # without the header


def test_network_table_compares_three_paths(quick_output):
    rows = _rows(quick_output, "## 1. Network inference")
    assert [r[0] for r in rows] == ["256x256"]
    (row,) = rows
    assert len(row) == 8  # input, official ms, then ms / ratio / error for torch and fast
    for err in (row[4], row[7]):
        assert float(err) <= 1e-3  # the paths agree within the reference tolerance


def test_end_to_end_table_has_every_image_and_path(quick_output):
    rows = _rows(quick_output, "## 2. End to end")
    assert [(r[0], r[2]) for r in rows] == [
        (image, path) for image in ("64x48", "320x240") for path in ("official", "torch", "fast")
    ]
    for r in rows:
        stages = [float(v) for v in r[3:10]]  # decode, preprocess, inference, upsample, stats + hist, heatmap, total (ms)
        assert all(v >= 0 for v in stages) and stages[-1] >= max(stages[:-1])


def test_view_change_cold_start_and_targets_are_reported(quick_output):
    view = _rows(quick_output, "## 3. Colormap or clipping change")
    assert len(view) == 3 and "the whole Explorer view" in view[1][0] and float(view[1][1]) > 0
    (cold,) = _rows(quick_output, "## 4. Cold start")
    assert cold[0] == "fast" and float(cold[1]) > 0 and float(cold[-1]) > 0  # seconds, peak RSS MB
    targets = _rows(quick_output, "## 5. Targets")
    assert {r[0].split(",")[0] for r in targets} >= {"inference N=256", "view change", "cold start to first prediction"}
    assert all(r[3] in ("met", "missed") for r in targets)
    assert re.search(r"load average \(1, 5, 15 min\) at start: [\d.]+ [\d.]+ [\d.]+", quick_output)


def test_generated_jpeg_has_the_requested_size():
    import cv2
    import numpy as np

    data = make_jpeg(30, 50)
    assert data[:2] == b"\xff\xd8"
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (30, 50, 3)
