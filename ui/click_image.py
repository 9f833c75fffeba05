"""A photo you can click on: pick pixels with Plotly selection events.

Plotly reports no selection for clicks on an image or heatmap trace (streamlit issue
#8760), so the picture carries an invisible grid of scatter points; a click selects the
grid point under the mouse and Streamlit reruns with its coordinates. The axes are in the
full-resolution photo's pixels, whatever size the picture is drawn at, so a clicked
``(x, y)`` can index the full-resolution depth map directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

__all__ = ["Marker", "clicked_pixel", "clickable_image_figure"]

_GRID_COLUMNS = 160  # clickable points across the picture
_GRID_CURVE = 1  # the grid is the second trace, after the picture


@dataclass(frozen=True)
class Marker:
    """A labelled pixel drawn on the picture (a calibration point, a measuring end)."""

    x: int
    y: int
    label: str
    color: str = "#00e5ff"


def clickable_image_figure(
    image: np.ndarray,
    full_hw: tuple[int, int],
    markers: Sequence[Marker] = (),
    values: np.ndarray | None = None,
    value_label: str = "",
    height: int = 520,
) -> go.Figure:
    """The picture with a click grid in full-resolution pixel coordinates.

    Args:
        image: hxwx3 uint8 picture to draw (e.g. the photo shrunk for the screen).
        full_hw: (H, W) of the full-resolution photo the coordinates refer to.
        markers: pixels to mark, in full-resolution coordinates.
        values: optional HxW full-resolution map shown in the hover text at each grid point.
        value_label: what ``values`` is, e.g. "relative inverse depth".
        height: chart height in screen pixels.
    """
    full_h, full_w = full_hw
    h, w = image.shape[:2]
    cols = np.unique(np.floor(np.linspace(0, full_w - 1, min(_GRID_COLUMNS, full_w)) + 0.5).astype(int))
    n_rows = max(2, round(len(cols) * full_h / full_w))
    rows = np.unique(np.floor(np.linspace(0, full_h - 1, min(n_rows, full_h)) + 0.5).astype(int))
    gx, gy = np.meshgrid(cols, rows)  # grid of full-resolution pixels
    if values is not None:
        custom = values[gy.ravel(), gx.ravel()]
        hover = f"x %{{x}}, y %{{y}}<br>{value_label} %{{customdata:.4g}}<extra>click to pick</extra>"
    else:
        custom = None
        hover = "x %{x}, y %{y}<extra>click to pick</extra>"
    fig = go.Figure()
    fig.add_trace(
        go.Image(z=image, x0=0, y0=0, dx=full_w / w, dy=full_h / h, hoverinfo="skip")
    )
    fig.add_trace(
        go.Scattergl(
            x=gx.ravel(),
            y=gy.ravel(),
            mode="markers",
            marker={"size": 7, "color": "rgba(0,0,0,0)"},
            customdata=custom,
            hovertemplate=hover,
            showlegend=False,
            name="click grid",
        )
    )
    if markers:
        fig.add_trace(
            go.Scatter(
                x=[m.x for m in markers],
                y=[m.y for m in markers],
                text=[m.label for m in markers],
                mode="markers+text",
                textposition="top center",
                textfont={"color": "white", "size": 14},
                marker={"size": 13, "color": [m.color for m in markers], "line": {"color": "black", "width": 2},
                        "symbol": "circle-open-dot"},
                hoverinfo="skip",
                showlegend=False,
                name="picked",
            )
        )
    fig.update_xaxes(range=[-0.5, full_w - 0.5], showgrid=False, zeroline=False, title="x (pixels)")
    fig.update_yaxes(range=[full_h - 0.5, -0.5], showgrid=False, zeroline=False, title="y (pixels)",
                     scaleanchor="x", scaleratio=1)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, dragmode="pan")
    return fig


def clicked_pixel(event: object, full_hw: tuple[int, int]) -> tuple[int, int] | None:
    """The full-resolution ``(x, y)`` of a click on :func:`clickable_image_figure`, or None.

    Args:
        event: what ``st.plotly_chart(..., on_select="rerun")`` returned.
        full_hw: (H, W) of the full-resolution photo.
    """
    try:
        points = event["selection"]["points"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    for point in points:
        if point.get("curve_number", _GRID_CURVE) != _GRID_CURVE:
            continue
        try:
            x, y = int(round(float(point["x"]))), int(round(float(point["y"])))
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= x < full_hw[1] and 0 <= y < full_hw[0]:
            return x, y
    return None
