"""The page glue that keeps calibration points across table edits (ui/calibration_table.py)."""
from __future__ import annotations

import pandas as pd

from core.calibration import CalibrationPoint
from ui.calibration_table import COLUMNS, apply_editor_changes, frame_to_rows, points_from_rows, rows_to_frame

X, Y, D = COLUMNS
ROWS = [{"x": 1, "y": 2, "distance_m": 3.0}, {"x": 4, "y": 5, "distance_m": None}]


def test_rows_round_trip_through_the_table():
    frame = rows_to_frame(ROWS)
    assert list(frame.columns) == list(COLUMNS)
    assert frame_to_rows(frame) == ROWS


def test_rows_without_coordinates_are_dropped():
    frame = pd.DataFrame({X: [1, None], Y: [2, 3], D: [1.0, 2.0]})
    assert frame_to_rows(frame) == [{"x": 1, "y": 2, "distance_m": 1.0}]


def test_editor_changes_are_applied_once():
    changes = {
        "edited_rows": {1: {D: 2.5}, "0": {X: 7}},
        "added_rows": [{X: 9, Y: 9, D: 0.75}],
        "deleted_rows": [],
    }
    rows = apply_editor_changes(ROWS, changes)
    assert rows == [
        {"x": 7, "y": 2, "distance_m": 3.0},
        {"x": 4, "y": 5, "distance_m": 2.5},
        {"x": 9, "y": 9, "distance_m": 0.75},
    ]


def test_deleted_rows_go():
    assert apply_editor_changes(ROWS, {"deleted_rows": [0]}) == [ROWS[1]]
    assert apply_editor_changes(ROWS, {}) == ROWS


def test_only_rows_with_a_distance_become_points():
    points, waiting = points_from_rows(ROWS)
    assert points == [CalibrationPoint(1, 2, 3.0)] and waiting == 1
