"""Plotly figures the pages draw. Builders only: the numbers come from ``core``."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from core.colormaps import COLORMAPS, colormap_lut, is_monotonic_luminance, luminance_profile
from core.depth import DepthHistogram, normalize
from core.display import PixelProbe, palette_indices
from core.pointcloud import PointCloud

__all__ = [
    "AXIS_LABEL",
    "CAMERA_PRESETS",
    "colorscale",
    "histogram_figure",
    "lightness_figure",
    "point_cloud_figure",
    "probe_figure",
]

#: The one name of the quantity the model predicts, used on every axis and colorbar.
AXIS_LABEL = "relative inverse depth (unitless, larger = nearer)"

#: Camera presets of the 3D chart. The scene shows x right, depth away, up up. "Front" sits
#: just behind the pinhole, so the cloud looks like the photo; its eye is computed from the data.
CAMERA_PRESETS: dict[str, dict] = {
    "Front": {"up": {"x": 0, "y": 0, "z": 1}},
    "Top": {"eye": {"x": 0.0, "y": -0.01, "z": 2.2}, "up": {"x": 0, "y": 1, "z": 0}},
    "Side": {"eye": {"x": 2.2, "y": 0.0, "z": 0.1}, "up": {"x": 0, "y": 0, "z": 1}},
}

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def colorscale(cmap: str, invert: bool = False, stops: int = 32) -> list[list]:
    """A plotly colorscale sampled from the same LUT as :func:`core.colormaps.colorize`."""
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
    colours = [f"rgb({r},{g},{b})" for r, g, b in lut[shade].tolist()]
    bar = {
        "type": "bar",
        "x": centres,
        "y": counts,
        "width": float(edges[1] - edges[0]) if len(edges) > 1 else None,
        "marker": {"color": colours, "line": {"width": 0}},
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
    for x, colour, side, text in (
        (lo, "#4aa3ff", "right", f"far clip p{clip_pct[0]:g} = {lo:.4g}"),
        (hi, "#ff7043", "left", f"near clip p{clip_pct[1]:g} = {hi:.4g}"),
    ):
        shapes.append({**column, "type": "line", "x0": x, "x1": x, "line": {"color": colour, "dash": "dash"}})
        annotations.append({"xref": "x", "yref": "y domain", "x": x, "y": 1, "xanchor": side, "yanchor": "top",
                            "showarrow": False, "text": text})
    yaxis: dict = {"title": {"text": "pixels (log scale)" if log_counts else "pixels"},
                   "type": "log" if log_counts else "linear"}
    tallest = int(counts.argmax())
    others = np.delete(counts, tallest)
    if not log_counts and others.size and counts[tallest] > 4 * max(others.max(), 1):
        # one bar (e.g. many exact zeros) would flatten the rest: cap the axis and label the peak
        top = float(others.max()) * 1.25
        yaxis["range"] = [0, top]
        annotations.append({"x": float(centres[tallest]), "y": top * 0.88, "xanchor": "left", "yanchor": "top",
                            "showarrow": False, "text": f" ▲ {int(counts[tallest]):,} px (off scale)",
                            "font": {"size": 11}})
    layout = {
        "title": {"text": "Histogram: the colour range is the unshaded band"},
        "xaxis": {"title": {"text": AXIS_LABEL}},
        "yaxis": yaxis,
        "shapes": shapes,
        "annotations": annotations,
        "bargap": 0,
        "height": 330,
        "margin": _MARGIN,
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
        "title": {"text": "Pixel probe: hover for x, y, raw value, normalised value and percentile"},
        "xaxis": {**axis, "range": [-0.5, aspect_width - 0.5], "title": {"text": "x (pixels)"}},
        "yaxis": {**axis, "range": [aspect_height - 0.5, -0.5], "scaleanchor": "x", "scaleratio": 1,
                  "title": {"text": "y (pixels)"}},
        # about as tall as a half-width column shows the image, so the plot area is not letterboxed
        "height": int(np.clip(400 * aspect_height / max(aspect_width, 1), 180, 640)) + 110,
        "margin": _MARGIN,
    }
    return go.Figure(data=[heatmap], layout=layout)


def point_cloud_figure(cloud: PointCloud, camera: str) -> go.Figure:
    """A WebGL 3D scatter of the cloud in its own colours: x right, depth away, up = -y.

    Args:
        cloud: the points, camera frame (x right, y down, z forward).
        camera: a key of :data:`CAMERA_PRESETS`.
    """
    x, y, z = cloud.xyz[:, 0], cloud.xyz[:, 1], cloud.xyz[:, 2]
    # colours as indices into a 256-entry palette: per-point colour strings take plotly seconds
    index, palette = palette_indices(cloud.rgb)
    last = max(len(palette) - 1, 1)
    marker = {
        "size": 1.6,
        "color": index,
        "cmin": 0,
        "cmax": last,
        "colorscale": [[i / last, f"rgb({r},{g},{b})"] for i, (r, g, b) in enumerate(palette.tolist())]
        if len(palette) > 1 else [[0.0, "rgb({},{},{})".format(*palette[0])], [1.0, "rgb({},{},{})".format(*palette[0])]],
        "showscale": False,
    }
    fig = go.Figure(
        go.Scatter3d(
            x=x,
            y=z,
            z=-y,
            mode="markers",
            marker=marker,
            hovertemplate="x %{x:.3f}<br>depth %{y:.3f}<br>up %{z:.3f}<extra></extra>",
        )
    )
    axis = {"showbackground": False, "gridcolor": "rgba(128,128,128,0.3)", "zeroline": False}
    coords = (x, z, -y)  # plot x, y, z
    ranges = [(float(c.min()), float(c.max())) if len(c) else (0.0, 1.0) for c in coords]
    spans = [max(hi - lo, 1e-9) for lo, hi in ranges]
    ratio = [span / max(spans) for span in spans]
    scene_camera = dict(CAMERA_PRESETS[camera])
    if camera == "Front":
        # plotly places the eye in box units: (value - middle) / span * aspect ratio per axis
        def box(point: tuple[float, float, float]) -> dict[str, float]:
            return {k: (v - (lo + hi) / 2) / span * r
                    for k, v, (lo, hi), span, r in zip("xyz", point, ranges, spans, ratio)}

        median_depth = float(np.median(z)) if len(z) else 1.0
        scene_camera["eye"] = box((0.0, -0.9 * median_depth, 0.0))  # behind the pinhole, to see it all
        scene_camera["center"] = box((0.0, median_depth, 0.0))
    fig.update_layout(
        scene={
            "xaxis": {**axis, "title": {"text": "x (relative)"}, "range": ranges[0]},
            "yaxis": {**axis, "title": {"text": "depth (relative)"}, "range": ranges[1]},
            "zaxis": {**axis, "title": {"text": "up (relative)"}, "range": ranges[2]},
            "aspectmode": "manual",
            "aspectratio": dict(zip("xyz", ratio)),
            "camera": scene_camera,
        },
        uirevision=camera,  # keep the user's rotation until another preset is chosen
        height=640,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
    )
    return fig


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
        title="Lightness along each colormap: a uniform map is a straight rising line",
        xaxis_title="position in the colormap (0 = far end, 1 = near end)",
        yaxis_title="lightness L* (0 black – 100 white)",
        height=380,
        margin=_MARGIN,
    )
    return fig
