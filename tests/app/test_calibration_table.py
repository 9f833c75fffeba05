"""The page glue that keeps calibration points across table edits (ui/calibration_table.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.measure.calibration import CalibrationPoint
from ui.calibration_table import (
    COLUMNS,
    FOR_KEY,
    POINTS_KEY,
    apply_editor_changes,
    frame_to_rows,
    owner,
    place_click,
    points_from_rows,
    rows_to_frame,
    stored_calibration,
)

X, Y, D = COLUMNS
ROWS = [{"x": 1, "y": 2, "distance_m": 3.0}, {"x": 4, "y": 5, "distance_m": None}]


def test_rows_round_trip_through_the_table():
    frame = rows_to_frame(ROWS)
    assert list(frame.columns) == list(COLUMNS)
    assert frame_to_rows(frame) == ROWS


def test_only_empty_rows_are_dropped():
    # a distance typed on the table's empty last line has no pixel yet: it is kept, not lost
    frame = pd.DataFrame({X: [1, None, None], Y: [2, None, None], D: [1.0, 2.0, None]})
    assert frame_to_rows(frame) == [{"x": 1, "y": 2, "distance_m": 1.0}, {"x": None, "y": None, "distance_m": 2.0}]


def test_editor_changes_are_applied_once():
    changes = {
        "edited_rows": {1: {D: 2.5}, "0": {X: 7}},
        "added_rows": [{X: 9, Y: 9, D: 0.75}, {D: 4.0}],
        "deleted_rows": [],
    }
    rows = apply_editor_changes(ROWS, changes)
    assert rows == [
        {"x": 7, "y": 2, "distance_m": 3.0},
        {"x": 4, "y": 5, "distance_m": 2.5},
        {"x": 9, "y": 9, "distance_m": 0.75},
        {"x": None, "y": None, "distance_m": 4.0},
    ]
    assert apply_editor_changes(ROWS, changes) == rows  # the base never changes: applying again is the same


def test_deleted_rows_go():
    assert apply_editor_changes(ROWS, {"deleted_rows": [0]}) == [ROWS[1]]
    assert apply_editor_changes(ROWS, {}) == ROWS


def test_complete_rows_become_points_and_the_others_are_named():
    rows = [*ROWS, {"x": None, "y": None, "distance_m": 2.0}, {"x": 6, "y": 7, "distance_m": -4.0}]
    status = points_from_rows(rows)
    # the minus sign is passed on as typed: core.measure.calibration.check_points refuses it with a message
    assert status.points == [CalibrationPoint(1, 2, 3.0), CalibrationPoint(6, 7, -4.0)]
    assert status.row_numbers == [1, 4] and status.need_distance == [2] and status.need_pixel == [3]


def test_a_click_places_a_typed_distance_or_adds_a_row():
    typed_first = [ROWS[0], {"x": None, "y": None, "distance_m": 2.0}]
    assert place_click(typed_first, 8, 9) == [ROWS[0], {"x": 8, "y": 9, "distance_m": 2.0}]
    assert place_click(ROWS, 8, 9) == [*ROWS, {"x": 8, "y": 9, "distance_m": None}]
    assert ROWS[1] == {"x": 4, "y": 5, "distance_m": None}  # the input is not changed


def test_other_pages_get_the_calibration_of_this_photo_only():
    depth = np.array([[1.0, 2.0], [3.0, 4.0]])
    rows = [{"x": 0, "y": 0, "distance_m": 1.0}, {"x": 1, "y": 1, "distance_m": 0.25}]
    state = {POINTS_KEY: rows, FOR_KEY: owner("ab", 2, 2)}
    cal = stored_calibration(state, depth, owner("ab", 2, 2))
    assert cal is not None and (cal.scale, cal.shift) == pytest.approx((1.0, 0.0))
    assert stored_calibration(state, depth, owner("cd", 2, 2)) is None  # another photo
    assert stored_calibration({}, depth, owner("ab", 2, 2)) is None  # never calibrated
    one = {POINTS_KEY: rows[:1], FOR_KEY: owner("ab", 2, 2)}
    assert stored_calibration(one, depth, owner("ab", 2, 2)) is None  # one point fixes no scale
    same = {POINTS_KEY: [rows[0], {"x": 1, "y": 0, "distance_m": 1.0}], FOR_KEY: owner("ab", 2, 2)}
    assert stored_calibration(same, depth, owner("ab", 2, 2)) is None  # refused: the Calibrate page says why
