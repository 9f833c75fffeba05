"""Plotly figures of the teaching pages. Builders only: the numbers come from ``core``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.maps.stats import DepthHistogram
from core.teaching.pipeline_stages import ChannelHistograms
from core.teaching.timing import STAGES, StageTimes
from ui.charts import colorscale

__all__ = [
    "channel_histogram_figure",
    "metres_heatmap_figure",
    "metres_histogram_figure",
    "pass_totals_figure",
    "scatter_figure",
    "stage_bars_figure",
]

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
_CHANNEL_COLOURS = ("#ff5252", "#69f0ae", "#448aff")
_STAGE_COLOURS = dict(zip(STAGES, ("#90a4ae", "#4fc3f7", "#ff7043", "#ba68c8", "#ffd54f")))


def channel_histogram_figure(hist: ChannelHistograms) -> go.Figure:
    """The three channels of the normalised tensor, one line each."""
    centres = (hist.edges[:-1] + hist.edges[1:]) / 2
    fig = go.Figure()
    for name, counts, color, mean, std in zip("RGB", hist.counts, _CHANNEL_COLOURS, hist.means, hist.stds):
        fig.add_trace(
            go.Scatter(
                x=centres, y=counts, mode="lines", line={"color": color, "width": 2, "shape": "hvh"},
                name=f"{name}: mean {mean:+.2f}, std {std:.2f}",
                hovertemplate=f"{name}<br>value %{{x:.3f}}<br>%{{y:,}} values<extra></extra>",
            )
        )
    fig.update_layout(
        title="Per-channel histogram of the normalised tensor",
        xaxis_title="normalised value ((x − mean) / std)",
        yaxis_title="values",
        height=300,
        margin=_MARGIN,
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def metres_histogram_figure(hist: DepthHistogram, cmap: str, title: str = "Histogram of the calibrated depth") -> go.Figure:
    """Histogram of a calibrated map, in metres, bars coloured as the metres heatmap (near bright).

    The x-axis spans the histogram's edges, e.g. the window of ``core.measure.metric_depth.metric_range``.
    """
    centres = (hist.edges[:-1] + hist.edges[1:]) / 2
    lo, hi = float(hist.edges[0]), float(hist.edges[-1])
    position = np.zeros_like(centres) if hi <= lo else (hi - centres) / (hi - lo)  # near = 1 = bright
    scale = colorscale(cmap, stops=256)
    colors = [scale[int(round(p * 255))][1] for p in position]
    fig = go.Figure(
        go.Bar(x=centres, y=hist.counts, width=float(hist.edges[1] - hist.edges[0]), marker={"color": colors},
               hovertemplate="%{x:.3f} m<br>%{y:,} pixels<extra></extra>")
    )
    fig.update_layout(title=title, xaxis_title="depth (metres)", yaxis_title="pixels", xaxis_range=[lo, hi],
                      bargap=0, height=300, margin=_MARGIN, showlegend=False)
    return fig


def metres_heatmap_figure(depth_m: np.ndarray, valid: np.ndarray, cmap: str, lo: float, hi: float) -> go.Figure:
    """A hoverable heatmap in metres with a metres colorbar; invalid pixels are left blank."""
    z = np.where(valid, depth_m, np.nan).astype(np.float32)  # display only: NaN = not drawn
    fig = go.Figure(
        go.Heatmap(
            z=z, zmin=lo, zmax=hi, colorscale=colorscale(cmap, invert=True),
            colorbar={"title": {"text": "depth (m)", "side": "right"}, "thickness": 12},
            hovertemplate="x %{x}, y %{y}<br>%{z:.3f} m<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", scaleratio=1, showgrid=False, visible=False)
    fig.update_xaxes(showgrid=False, visible=False, constrain="domain")
    fig.update_layout(title="Calibrated depth in metres (near = bright)", height=420, margin=_MARGIN)
    return fig


def scatter_figure(true_m: np.ndarray, pred_m: np.ndarray, axis_range: tuple[float, float]) -> go.Figure:
    """Aligned prediction against ground truth (metres), with the line y = x.

    Both axes span ``axis_range`` (e.g. ``GroundTruthReport.scatter_range``), at one scale:
    the plot area shrinks to a square instead of the axes stretching past the data.
    """
    lo, hi = (float(v) for v in axis_range)
    fig = go.Figure()
    fig.add_trace(
        go.Scattergl(x=true_m, y=pred_m, mode="markers", marker={"size": 3, "color": "#4fc3f7", "opacity": 0.5},
                     name="pixels", hovertemplate="true %{x:.3f} m<br>predicted %{y:.3f} m<extra></extra>")
    )
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"color": "#ff7043", "dash": "dash"},
                             name="perfect: predicted = true", hoverinfo="skip"))
    fig.update_layout(
        title=f"Predicted vs true depth ({true_m.size:,} pixels, evenly sampled)",
        xaxis_title="true depth (metres)", yaxis_title="aligned prediction (metres)",
        height=420, margin=_MARGIN, legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(range=[lo, hi], constrain="domain")
    fig.update_yaxes(range=[lo, hi], scaleanchor="x", scaleratio=1, constrain="domain")
    return fig


def stage_bars_figure(labels: Sequence[str], stage_seconds: Sequence[dict[str, float]]) -> go.Figure:
    """Stacked horizontal bars: milliseconds per stage for each measured configuration."""
    fig = go.Figure()
    for stage in STAGES:
        fig.add_trace(
            go.Bar(y=list(labels), x=[s[stage] * 1000 for s in stage_seconds], name=stage, orientation="h",
                   marker={"color": _STAGE_COLOURS[stage]},
                   hovertemplate=f"{stage}: %{{x:.1f}} ms<extra>%{{y}}</extra>")
        )
    fig.update_layout(barmode="stack", title="Steady-state time per stage (median of the passes after the first)",
                      xaxis_title="milliseconds", height=120 + 40 * len(labels), margin=_MARGIN,
                      legend={"orientation": "h", "y": -0.25}, yaxis={"autorange": "reversed"})
    return fig


def pass_totals_figure(labels: Sequence[str], runs: Sequence[Sequence[StageTimes]]) -> go.Figure:
    """Total time of each pass, per configuration: the first pass is the warm-up."""
    fig = go.Figure()
    for label, passes in zip(labels, runs):
        fig.add_trace(go.Scatter(x=list(range(1, len(passes) + 1)), y=[p.total * 1000 for p in passes],
                                 mode="lines+markers", name=label,
                                 hovertemplate="pass %{x}: %{y:.0f} ms<extra>" + label + "</extra>"))
    fig.update_layout(title="Warm-up vs steady state: total time of each pass", xaxis_title="pass (1 = warm-up)",
                      yaxis_title="milliseconds", xaxis={"dtick": 1}, height=320, margin=_MARGIN,
                      legend={"orientation": "h", "y": -0.3})
    return fig
