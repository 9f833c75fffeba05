"""The calibration points as the page keeps them: a small list of dicts, shown in a table.

``st.session_state`` holds the points as ``[{"x": int, "y": int, "distance_m": float | None}]``;
the page shows them in an ``st.data_editor`` whose columns are :data:`COLUMNS`. A row whose
distance is still empty (a pixel just clicked) is kept but not used for the fit.

The editor's own state is a list of changes to the table it was given. The page folds those
changes into the stored rows (:func:`apply_editor_changes`) and starts a fresh editor, so an
edit is never applied twice and survives a visit to another page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from core.calibration import CalibrationPoint

__all__ = ["COLUMNS", "apply_editor_changes", "frame_to_rows", "points_from_rows", "rows_to_frame"]

#: Column names of the table, in order: pixel column, pixel row, distance in metres.
COLUMNS: tuple[str, str, str] = ("x (px)", "y (px)", "distance (m)")


def rows_to_frame(rows: Iterable[dict]) -> pd.DataFrame:
    """The table the editor shows for the stored rows."""
    x, y, d = COLUMNS
    data = {x: [], y: [], d: []}
    for row in rows:
        data[x].append(row.get("x"))
        data[y].append(row.get("y"))
        data[d].append(row.get("distance_m"))
    return pd.DataFrame(
        {x: pd.array(data[x], dtype="Int64"), y: pd.array(data[y], dtype="Int64"),
         d: pd.array(data[d], dtype="Float64")}
    )


def _number(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def frame_to_rows(frame: pd.DataFrame) -> list[dict]:
    """The rows of an edited table, as stored: rows without both coordinates are dropped."""
    x, y, d = COLUMNS
    rows = []
    for record in frame.to_dict("records"):
        px, py = _number(record.get(x)), _number(record.get(y))
        if px is None or py is None:
            continue
        rows.append({"x": int(round(px)), "y": int(round(py)), "distance_m": _number(record.get(d))})
    return rows


def points_from_rows(rows: Iterable[dict]) -> tuple[list[CalibrationPoint], int]:
    """Calibration points from the rows that have a distance, and how many rows still lack one."""
    points, waiting = [], 0
    for row in rows:
        if row.get("distance_m") is None:
            waiting += 1
            continue
        points.append(CalibrationPoint(int(row["x"]), int(row["y"]), float(row["distance_m"])))
    return points, waiting


def apply_editor_changes(rows: list[dict], changes: dict) -> list[dict]:
    """The stored rows after an ``st.data_editor`` edit state has been applied to them.

    Args:
        rows: the rows the editor was given (:func:`rows_to_frame` of them).
        changes: the editor's session-state value: ``edited_rows`` (row index -> {column:
            value}), ``added_rows`` (list of {column: value}) and ``deleted_rows`` (indices).

    Returns:
        New rows; rows left without both coordinates are dropped.
    """
    frame = rows_to_frame(rows).astype(object)
    for index, edits in (changes.get("edited_rows") or {}).items():
        for column, value in edits.items():
            if column in frame.columns and 0 <= int(index) < len(frame):
                frame.at[int(index), column] = value
    deleted = {int(i) for i in changes.get("deleted_rows") or []}
    frame = frame.drop(index=[i for i in deleted if 0 <= i < len(frame)])
    added = [{c: row.get(c) for c in COLUMNS} for row in changes.get("added_rows") or []]
    if added:
        frame = pd.concat([frame, pd.DataFrame(added, columns=list(COLUMNS))], ignore_index=True)
    return frame_to_rows(frame)
