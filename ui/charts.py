"""Plotly figures the pages draw. Builders only: the numbers come from ``core``."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from core.maps.colormaps import COLORMAPS, colormap_lut, is_monotonic_luminance, luminance_profile
from core.maps.normalize import normalize
from core.maps.stats import DepthHistogram
from core.maps.display import PixelProbe, palette_indices
from core.geometry.framing import frame_cloud
from core.geometry.pointcloud import PointCloud

__all__ = [
    "AXIS_LABEL",
    "CAMERA_PRESETS",
    "MODEBAR",
    "colorscale",
    "histogram_figure",
    "lightness_figure",
    "point_cloud_figure",
    "probe_figure",
]

#: The one name of the quantity the model predicts, used on every axis and colorbar.
AXIS_LABEL = "relative inverse depth (unitless, larger = nearer)"

#: The 3D chart's views (the names of :data:`core.geometry.framing.VIEWS`), each a button in the chart: choosing
#: one moves the camera in the browser, without a rerun or a new figure.
CAMERA_PRESETS: dict[str, str] = {
    "Front": "from behind the camera, along its axis: the cloud reads as the photo",
    "Top": "from above, far at the top",
    "Side": "from the right, far to the right",
}

#: A chart's toolbar without the buttons few people use, so that it stays clear of a short
#: title even on a phone (zoom, pan, reset, download and full screen remain).
MODEBAR = {"remove": ["zoomIn2d", "zoomOut2d", "autoScale2d", "lasso2d", "select2d", "zoom3d", "pan3d",
                      "orbitRotation", "tableRotation", "resetCameraDefault3d", "resetCameraLastSave3d",
                      "hoverClosest3d"]}

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
_CLOUD_HEIGHT = 600  # px of the 3D chart
_CLOUD_MARGIN = {"l": 0, "r": 0, "t": 44, "b": 0}  # the view buttons sit in the top margin
# room around the box for its tick labels: seen from the top or the side, one axis recedes from
# the eye and its labels stand out beyond the box's outline
_CLOUD_VIEW_MARGINS = {"Front": 1.12, "Top": 1.35, "Side": 1.35}


def colorscale(cmap: str, invert: bool = False, stops: int = 32) -> list[list]:
    """A plotly colorscale sampled from the same LUT as :func:`core.maps.colormaps.colorize`."""
    lut = colormap_lut(cmap)
    index = np.floor(np.linspace(0.0, 255.0, stops) + 0.5).astype(int)
    if invert:
        index = 255 - index
    return [[i / (stops - 1), f"rgb({r},{g},{b})"] for i, (r, g, b) in enumerate(lut[index].tolist())]


def histogram_figure(
    hist: DepthHistogram,
    lo: float,
    hi: float,
    clip_pct: tuple[float, float],
    cmap: str,
    invert: bool,
    log_counts: bool = False,
    bins: int = 128,
) -> go.Figure:
    """Histogram of the map, bars coloured as the heatmap colours them, clipped ends shaded."""
    group = max(1, len(hist.counts) // bins)
    counts = hist.counts[: len(hist.counts) // group * group].reshape(-1, group).sum(axis=1)
    edges = hist.edges[:: group][: len(counts) + 1]
    centres = (edges[:-1] + edges[1:]) / 2
    lut = colormap_lut(cmap)
    shade = (normalize(centres.astype(np.float32)[None, :], lo, hi, invert)[0] * 255 + 0.5).astype(int)
    # rgb() and not hex: Streamlit's theme swaps hex placeholders such as "#000004" (inferno's darkest)
    colors = [f"rgb({r},{g},{b})" for r, g, b in lut[shade].tolist()]
    bar = {
        "type": "bar",
        "x": centres,
        "y": counts,
        "width": float(edges[1] - edges[0]) if len(edges) > 1 else None,
        "marker": {"color": colors, "line": {"width": 0}},
        "hovertemplate": "value %{x:.4g}<br>%{y:,} pixels<extra></extra>",
        "name": "pixels",
    }
    # shapes and labels as plain dicts in one layout: each add_vrect/add_vline re-validates it
    column = {"xref": "x", "yref": "y domain", "y0": 0, "y1": 1}
    x_min, x_max = float(hist.edges[0]), float(hist.edges[-1])
    shapes = [
        {**column, "type": "rect", "x0": x0, "x1": x1, "fillcolor": "gray", "opacity": 0.25, "line": {"width": 0}}
        for x0, x1 in ((x_min, lo), (hi, x_max))
        if x1 > x0
    ]
    annotations = []
    # the axis spans the data, a little padded: plotly would widen it to fit each label's text
    # (to -500...1000 for data in 0...380 on a phone), so the labels are placed inside instead,
    # on the side of their line that faces the middle, at two heights so they never overlap
    pad = 0.02 * (x_max - x_min) if x_max > x_min else 0.5
    x_range = [x_min - pad, x_max + pad]
    middle = (x_min + x_max) / 2
    for x, color, y, text in (
        (lo, "#4aa3ff", 1.0, f"far clip p{clip_pct[0]:g} = {lo:.4g}"),
        (hi, "#ff7043", 0.9, f"near clip p{clip_pct[1]:g} = {hi:.4g}"),
    ):
        shapes.append({**column, "type": "line", "x0": x, "x1": x, "line": {"color": color, "dash": "dash"}})
        annotations.append({"xref": "x", "yref": "y domain", "x": x, "y": y, "yanchor": "top",
                            "xanchor": "left" if x <= middle else "right", "showarrow": False, "text": text})
    yaxis: dict = {"title": {"text": "pixels (log scale)" if log_counts else "pixels"},
                   "type": "log" if log_counts else "linear"}
    if log_counts:
        # one tick per decade, labelled 1, 10, 100, 1k, 10k: not plotly's "5, 2, 10k, 5, 2, 1000"
        yaxis.update(dtick=1, tickformat="~s")
    tallest = int(counts.argmax())
    others = np.delete(counts, tallest)
    if not log_counts and others.size and counts[tallest] > 4 * max(others.max(), 1):
        # one bar (e.g. many exact zeros) would flatten the rest: cap the axis and label the peak
        top = float(others.max()) * 1.25
        yaxis["range"] = [0, top]
        peak = float(centres[tallest])
        annotations.append({"x": peak, "y": top * 0.88, "xanchor": "left" if peak <= middle else "right",
                            "yanchor": "top", "showarrow": False, "text": f" ▲ {int(counts[tallest]):,} px (off scale) ",
                            "font": {"size": 11}})
    layout = {
        "title": {"text": "Histogram"},  # short, clear of the toolbar on a phone; the page explains it
        "xaxis": {"title": {"text": AXIS_LABEL}, "range": x_range},
        "yaxis": yaxis,
        "shapes": shapes,
        "annotations": annotations,
        "bargap": 0,
        "height": 330,
        "margin": _MARGIN,
        "modebar": MODEBAR,
        "showlegend": False,
    }
    return go.Figure(data=[bar], layout=layout)


def probe_figure(probe: PixelProbe, cmap: str, aspect_height: int, aspect_width: int) -> go.Figure:
    """A hoverable heatmap of real pixels: x, y, raw value, normalised value, percentile."""
    heatmap = {
        "type": "heatmap",
        "x": probe.x,
        "y": probe.y,
        "z": probe.normalized,
        "zmin": 0.0,
        "zmax": 1.0,
        # h x w x 2 float32, sent as one base64 typed array with its shape (as z is)
        "customdata": np.stack([probe.raw, probe.percentile], axis=-1),
        "colorscale": colorscale(cmap),
        "colorbar": {"title": {"text": "normalised", "side": "right"}, "thickness": 12},
        "hovertemplate": (
            "x %{x}, y %{y}<br>raw %{customdata[0]:.5g}<br>"
            "normalised %{z:.3f}<br>percentile %{customdata[1]:.1f}<extra></extra>"
        ),
    }
    axis = {"showgrid": False, "constrain": "domain"}
    layout = {
        "title": {"text": "Pixel probe"},  # short, clear of the toolbar on a phone; the page says what to hover
        "xaxis": {**axis, "range": [-0.5, aspect_width - 0.5], "title": {"text": "x (pixels)"}},
        "yaxis": {**axis, "range": [aspect_height - 0.5, -0.5], "scaleanchor": "x", "scaleratio": 1,
                  "title": {"text": "y (pixels)"}},
        # about as tall as a half-width column shows the image, so the plot area is not letterboxed
        "height": int(np.clip(400 * aspect_height / max(aspect_width, 1), 180, 640)) + 110,
        "margin": _MARGIN,
        "modebar": MODEBAR,
    }
    return go.Figure(data=[heatmap], layout=layout)


def _scene_vector(v: tuple[float, float, float]) -> dict[str, float]:
    """Camera-frame box units -> the scene's: x, depth, y (the scene's vertical axis is reversed)."""
    return {"x": v[0], "y": v[2], "z": -v[1] + 0.0}


def point_cloud_figure(
    cloud: PointCloud, camera: str = "Front", *, unit: str | None = None, uirevision: str = "cloud"
) -> go.Figure:
    """A WebGL 3D scatter of the cloud in its own colours, framed to fill the chart.

    The scene shows the camera frame as it is: x to the right, depth away, y downwards (the
    vertical axis is reversed, so up is up), the numbers those of the ``.ply``. The axes'
    ranges, the box's proportions (the data's own) and each view's camera come from
    :func:`core.geometry.framing.frame_cloud`. Buttons in the chart switch between the views of
    :data:`CAMERA_PRESETS` and reset the view, in the browser, without a rerun.

    Args:
        cloud: the points, camera frame (x right, y down, z forward).
        camera: the view the chart opens with, and returns to on "Reset view": a key of
            :data:`CAMERA_PRESETS`.
        unit: the unit of the coordinates after a calibration (e.g. "m"); None for the
            relative, unitless geometry of a prediction.
        uirevision: while this stays the same, the view the user turned to is kept: by plotly within
            one graph, and by :func:`ui.camera_keeper.keep_camera` when Streamlit draws a new one.
    """
    if camera not in CAMERA_PRESETS:
        raise ValueError(f"camera must be one of {list(CAMERA_PRESETS)}, got {camera!r}")
    x, y, z = cloud.xyz[:, 0], cloud.xyz[:, 1], cloud.xyz[:, 2]
    framing = frame_cloud(cloud.xyz, margin=_CLOUD_VIEW_MARGINS)
    (x_range, y_range, z_range), aspect = framing.ranges, framing.aspect
    cameras = {
        name: {"eye": _scene_vector(view.eye), "center": _scene_vector(view.center), "up": _scene_vector(view.up)}
        for name, view in framing.cameras.items()
    }
    # colours as indices into a 256-entry palette: per-point colour strings take plotly seconds
    index, palette = palette_indices(cloud.rgb)
    last = max(len(palette) - 1, 1)
    stops = palette if len(palette) > 1 else np.repeat(palette, 2, axis=0)
    marker = {
        # squares: plotly draws each marker as its glyph's triangles, 2 for a square and many for
        # a circle, so squares paint in about half the time; at this size they look the same
        "symbol": "square",
        "size": 2,
        "color": index,
        "cmin": 0,
        "cmax": last,
        "colorscale": [[i / (len(stops) - 1), f"rgb({r},{g},{b})"] for i, (r, g, b) in enumerate(stops.tolist())],
        "showscale": False,
    }
    trace = {
        "type": "scatter3d",
        "x": x,
        "y": z,
        "z": y,
        "mode": "markers",
        "marker": marker,
        "hovertemplate": "x %{x:.3f}<br>y %{z:.3f}<br>depth %{y:.3f}<extra></extra>",
    }
    suffix = f", {unit}" if unit else ""
    axis = {"showbackground": False, "gridcolor": "rgba(128,128,128,0.3)", "zeroline": False}
    buttons = [
        {"label": name, "method": "relayout", "args": [{"scene.camera": cameras[name]}]} for name in CAMERA_PRESETS
    ] + [{"label": "Reset view", "method": "relayout", "args": [{"scene.camera": cameras[camera]}]}]
    layout = {
        "scene": {
            "xaxis": {**axis, "title": {"text": f"x (right{suffix})"}, "range": list(x_range)},
            "yaxis": {**axis, "title": {"text": f"depth ({unit or 'relative, unitless'})"}, "range": list(z_range)},
            # plotly's 3D axes take no reversed range: autorange "reversed", held to the framed range
            "zaxis": {**axis, "title": {"text": f"y (down{suffix})"}, "autorange": "reversed",
                      "autorangeoptions": {"include": list(y_range)}},
            "aspectmode": "manual",
            "aspectratio": {"x": aspect[0], "y": aspect[2], "z": aspect[1]},
            "camera": cameras[camera],
            "uirevision": uirevision,
        },
        "updatemenus": [{
            "type": "buttons", "direction": "right", "showactive": False, "buttons": buttons,
            "x": 0, "y": 1, "xanchor": "left", "yanchor": "bottom",
            "pad": {"t": 0, "b": 6, "l": 4}, "font": {"size": 12},
        }],
        "uirevision": uirevision,
        "height": _CLOUD_HEIGHT,
        "margin": _CLOUD_MARGIN,
        "modebar": MODEBAR,
    }
    return go.Figure(data=[trace], layout=layout)


def lightness_figure() -> go.Figure:
    """Perceived lightness (CIELAB L*) along every colormap, far (left) to near (right)."""
    fig = go.Figure()
    position = np.linspace(0.0, 1.0, 256)
    palette = qualitative.Plotly + qualitative.Set2
    for i, name in enumerate(COLORMAPS):
        uniform = is_monotonic_luminance(name)
        fig.add_trace(
            go.Scatter(
                x=position,
                y=luminance_profile(name),
                mode="lines",
                name=name if uniform else f"{name} (not monotonic)",
                line={"width": 2.5 if uniform else 2, "color": palette[i % len(palette)],
                      "dash": "solid" if uniform else "dot"},
                hovertemplate=f"{name}<br>position %{{x:.2f}}<br>L* %{{y:.1f}}<extra></extra>",
            )
        )
    fig.update_layout(
        # two short lines: one long line ran under the toolbar and off a phone's screen
        title={"text": "Lightness along each colormap<br><sup>a uniform map is a straight rising line</sup>"},
        xaxis_title="position in the colormap (0 = far end, 1 = near end)",
        yaxis_title="lightness L* (0 black – 100 white)",
        height=380,
        margin={**_MARGIN, "t": 60},
        modebar=MODEBAR,
    )
    return fig
