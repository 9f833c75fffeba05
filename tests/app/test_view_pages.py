"""AppTests of what the Explorer and the 3D page show (issue 11, findings 7, 8 and 12).

They reuse the dashboard AppTest's fixtures and helpers (tests/app/test_dashboard.py) and assert
on what a user sees: the warning next to the heatmap it describes, the percentile table, the
histogram's ticks, the 3D chart's view buttons and its default point budget.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.maps.colormaps import colormap_lut
from tests.shown_images import shown_image
from tests.app.test_dashboard import app, captions, image_by_caption, plotly_spec  # noqa: F401 (fixtures)


def _spec_of(at: AppTest, trace_type: str) -> dict:
    for i in range(len(at.get("plotly_chart"))):
        spec = plotly_spec(at, i)
        if spec["data"][0]["type"] == trace_type:
            return spec
    raise AssertionError(f"no {trace_type} chart on the page")


def test_an_empty_clipping_range_is_described_as_what_the_heatmap_draws(app: AppTest) -> None:
    # Finding 12: "every pixel gets the same colour" showed next to a two-coloured heatmap.
    app.switch_page("app_pages/explorer.py").run()
    app.slider(key="clip_pct").set_value((50.0, 50.0)).run()
    assert not app.exception, app.exception
    (warning,) = [w.value for w in app.warning if "clipping range is empty" in w.value]
    assert "same colour" not in warning and "only two colours" in warning
    stated = float(re.search(r"The ([\d.]+)% of pixels above it get the near colour", warning).group(1)) / 100

    heat = shown_image(image_by_caption(app, "Heatmap").value[0]).astype(int)  # JPEG of the display map
    lut = colormap_lut("inferno").astype(int)
    near = np.abs(heat - lut[255]).sum(axis=-1) < np.abs(heat - lut[0]).sum(axis=-1)
    # the picture is the two end colours; JPEG blurs their boundary, a few percent of the pixels at most
    assert near.mean() == pytest.approx(stated, abs=0.03)
    assert 0.3 < stated < 0.7  # p50 splits the map about in half


def test_the_percentile_table_is_two_columns_and_log_counts_tick_every_decade(app: AppTest) -> None:
    app.switch_page("app_pages/explorer.py").run()
    table = app.dataframe[0].value
    assert list(table.columns) == ["percentile", "value"]
    assert list(table["percentile"]) == ["p1", "p5", "p25", "p50", "p75", "p95", "p99"]
    assert [float(v) for v in table["value"]] == sorted(float(v) for v in table["value"])
    app.toggle(key="hist_log").set_value(True).run()
    yaxis = _spec_of(app, "bar")["layout"]["yaxis"]
    assert (yaxis["type"], yaxis["dtick"], yaxis["tickformat"]) == ("log", 1, "~s")


def test_the_3d_page_opens_framed_with_view_buttons_and_an_interactive_budget(app: AppTest) -> None:
    app.switch_page("app_pages/point_cloud.py").run()
    assert not app.exception, app.exception
    spec = _spec_of(app, "scatter3d")
    labels = [b["label"] for b in spec["layout"]["updatemenus"][0]["buttons"]]
    assert labels == ["Front", "Top", "Side", "Reset view"]  # in the chart: no rerun to change the view
    assert "pc_camera" not in [r.key for r in app.radio]
    scene = spec["layout"]["scene"]
    assert [scene[a]["title"]["text"] for a in ("xaxis", "yaxis", "zaxis")] == [
        "x (right)", "depth (relative, unitless)", "y (down)"]
    shown = int(captions(app).split("Showing **")[1].split(" points")[0].replace(",", ""))
    assert app.slider(key="pc_budget").value == 20_000 and 18_000 <= shown <= 20_000
    assert spec["layout"]["uirevision"] == scene["uirevision"]  # the photo's digest: a new photo, a new view
