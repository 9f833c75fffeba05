"""The calibration points as the page keeps them: a small list of dicts, shown in a table.

``st.session_state`` holds the points as ``[{"x": int | None, "y": int | None,
"distance_m": float | None}]``; the page shows them in an ``st.data_editor`` whose columns
are :data:`COLUMNS`. A row with a pixel but no distance yet (a pixel just clicked), or with
a distance but no pixel yet (typed into the table's empty last line), is kept and shown, and
the page says what it still needs; only complete rows are used for the fit.

The editor's own state is a list of changes to the table it was given (its *base*). The page
keeps the base fixed while the user types, so the editor is never rebuilt under a cell being
edited, and reads the current rows as base + changes (:func:`apply_editor_changes`). It
rebuilds the editor from the current rows only when they change from outside (a click on
the photo, an example, "Clear") or after a visit to another page, where Streamlit forgets
the editor's state.

Other pages read the same rows: :func:`stored_calibration` fits them again for the photo they
belong to (:data:`POINTS_KEY`, :data:`FOR_KEY`), so the Stereo page can say what its strength
means in centimetres once the photo has been calibrated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.measure.calibration import Calibration, CalibrationError, CalibrationPoint, calibrate

__all__ = [
    "COLUMNS",
    "FOR_KEY",
    "POINTS_KEY",
    "TableStatus",
    "apply_editor_changes",
    "frame_to_rows",
    "owner",
    "place_click",
    "points_from_rows",
    "rows_to_frame",
    "stored_calibration",
]

#: Column names of the table, in order: pixel column, pixel row, distance in metres.
COLUMNS: tuple[str, str, str] = ("x (px)", "y (px)", "distance (m)")

#: Session keys: the rows as the user sees them, and the photo they belong to (:func:`owner`).
POINTS_KEY, FOR_KEY = "cal_points", "cal_for"


@dataclass(frozen=True)
class TableStatus:
    """What the rows give the fit, and what they still lack.

    Attributes:
        points: the complete rows, as calibration points, in table order.
        row_numbers: the 1-based table row of each point.
        need_distance: 1-based rows with a pixel and no distance.
        need_pixel: 1-based rows with a distance and no complete pixel.
    """

    points: list[CalibrationPoint]
    row_numbers: list[int]
    need_distance: list[int]
    need_pixel: list[int]


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


def _pixel(value: object) -> int | None:
    number = _number(value)
    return None if number is None or not math.isfinite(number) else int(round(number))


def frame_to_rows(frame: pd.DataFrame) -> list[dict]:
    """The rows of an edited table, as stored: only rows left entirely empty are dropped."""
    x, y, d = COLUMNS
    rows = []
    for record in frame.to_dict("records"):
        row = {"x": _pixel(record.get(x)), "y": _pixel(record.get(y)), "distance_m": _number(record.get(d))}
        if any(value is not None for value in row.values()):
            rows.append(row)
    return rows


def points_from_rows(rows: Iterable[dict]) -> TableStatus:
    """The complete rows as calibration points, and which rows still lack a distance or a pixel.

    A distance is passed on as typed, sign included: :func:`core.measure.calibration.check_points`
    refuses a negative one with a message, instead of the table silently dropping it.
    """
    points, numbers, need_distance, need_pixel = [], [], [], []
    for number, row in enumerate(rows, start=1):
        has_pixel = row.get("x") is not None and row.get("y") is not None
        if row.get("distance_m") is None:
            if has_pixel:
                need_distance.append(number)
            continue
        if not has_pixel:
            need_pixel.append(number)
            continue
        points.append(CalibrationPoint(int(row["x"]), int(row["y"]), float(row["distance_m"])))
        numbers.append(number)
    return TableStatus(points, numbers, need_distance, need_pixel)


def place_click(rows: list[dict], x: int, y: int) -> list[dict]:
    """The rows after a click on pixel ``(x, y)``.

    The click gives its pixel to the first row that has a distance but no pixel (the user
    typed the distance first); otherwise it adds a row waiting for its distance.

    Example:
        >>> place_click([{"x": None, "y": None, "distance_m": 2.0}], 5, 6)
        [{'x': 5, 'y': 6, 'distance_m': 2.0}]
    """
    out = [dict(row) for row in rows]
    for row in out:
        if row.get("distance_m") is not None and (row.get("x") is None or row.get("y") is None):
            row["x"], row["y"] = int(x), int(y)
            return out
    return [*out, {"x": int(x), "y": int(y), "distance_m": None}]


def apply_editor_changes(rows: list[dict], changes: dict) -> list[dict]:
    """The stored rows after an ``st.data_editor`` edit state has been applied to them.

    Args:
        rows: the rows the editor was given (:func:`rows_to_frame` of them).
        changes: the editor's session-state value: ``edited_rows`` (row index -> {column:
            value}), ``added_rows`` (list of {column: value}) and ``deleted_rows`` (indices).

    Returns:
        New rows; rows left entirely empty are dropped.
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


def owner(digest: str, width: int, height: int) -> str:
    """Which photo the rows belong to, as stored under :data:`FOR_KEY`: its digest and its size.

    Example:
        >>> owner("ab12", 640, 480)
        'ab12:640x480'
    """
    return f"{digest}:{int(width)}x{int(height)}"


def stored_calibration(state: Mapping, depth: np.ndarray, photo: str) -> Calibration | None:
    """The calibration the Calibrate page's rows give for this photo, or None.

    None when the rows belong to another photo (or there are none), when fewer than two are
    complete, or when they give no calibration (the Calibrate page says why).

    Args:
        state: where the rows are kept (``st.session_state``).
        depth: HxW relative inverse depth of the photo, the map the page calibrates.
        photo: :func:`owner` of the photo.
    """
    if state.get(FOR_KEY) != photo:
        return None
    status = points_from_rows(state.get(POINTS_KEY) or [])
    if len(status.points) < 2:
        return None
    try:
        return calibrate(depth, status.points, numbers=status.row_numbers)
    except CalibrationError:
        return None
