"""ui.charts: the figures as plotly will draw them (issue 11, findings 7, 8 and 12)."""

from __future__ import annotations

import json

import numpy as np
import plotly.io
import pytest

from core.maps.stats import histogram
from core.maps.display import pixel_probe
from core.geometry.framing import frame_cloud
from core.geometry.pointcloud import PointCloud
from ui.charts import CAMERA_PRESETS, histogram_figure, point_cloud_figure, probe_figure


def _spec(figure) -> dict:
    return json.loads(plotly.io.to_json(figure, validate=False))


def _cloud(n: int = 500, seed: int = 0) -> PointCloud:
    rng = np.random.default_rng(seed)
    z = rng.uniform(1.0, 10.0, n)
    xyz = np.stack([rng.uniform(-0.5, 0.5, n) * z, rng.uniform(-0.3, 0.3, n) * z, z], axis=1).astype(np.float32)
    return PointCloud(xyz=xyz, rgb=rng.integers(0, 256, (n, 3), dtype=np.uint8))


def _typed(value) -> np.ndarray:
    import base64

    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


# ---------------------------------------------------------------- the 3D chart


def test_cloud_axes_are_labelled_in_the_camera_frame_with_y_down() -> None:
    cloud = _cloud()
    spec = _spec(point_cloud_figure(cloud, "Front"))
    scene, trace = spec["layout"]["scene"], spec["data"][0]
    assert [scene[a]["title"]["text"] for a in ("xaxis", "yaxis", "zaxis")] == [
        "x (right)", "depth (relative, unitless)", "y (down)"]
    # the numbers are the .ply's: x, depth = z, and y itself on a reversed vertical axis
    np.testing.assert_array_equal(_typed(trace["x"]), cloud.xyz[:, 0])
    np.testing.assert_array_equal(_typed(trace["y"]), cloud.xyz[:, 2])
    np.testing.assert_array_equal(_typed(trace["z"]), cloud.xyz[:, 1])
    assert scene["zaxis"]["autorange"] == "reversed"
    assert "y %{z" in trace["hovertemplate"] and "depth %{y" in trace["hovertemplate"]


def test_cloud_labels_say_metres_only_when_given_a_unit() -> None:
    scene = _spec(point_cloud_figure(_cloud(), "Side", unit="m"))["layout"]["scene"]
    assert [scene[a]["title"]["text"] for a in ("xaxis", "yaxis", "zaxis")] == ["x (right, m)", "depth (m)", "y (down, m)"]
    relative = json.dumps(_spec(point_cloud_figure(_cloud(), "Front"))["layout"]["scene"])
    assert "metre" not in relative and "(m)" not in relative


def test_cloud_is_framed_by_core_framing() -> None:
    cloud = _cloud()
    framing = frame_cloud(cloud.xyz, margin={"Front": 1.12, "Top": 1.35, "Side": 1.35})
    scene = _spec(point_cloud_figure(cloud, "Front"))["layout"]["scene"]
    (x_range, y_range, z_range), aspect = framing.ranges, framing.aspect
    assert scene["xaxis"]["range"] == pytest.approx(list(x_range))
    assert scene["yaxis"]["range"] == pytest.approx(list(z_range))  # the scene's y is depth
    assert scene["zaxis"]["autorangeoptions"]["include"] == pytest.approx(list(y_range))
    assert scene["aspectmode"] == "manual"
    assert [scene["aspectratio"][k] for k in "xyz"] == pytest.approx([aspect[0], aspect[2], aspect[1]])
    front = framing.cameras["Front"]
    camera = scene["camera"]  # camera-frame (x, y, z) -> scene (x, z, -y)
    assert [camera["eye"][k] for k in "xyz"] == pytest.approx([front.eye[0], front.eye[2], -front.eye[1]])
    assert camera["up"] == {"x": 0.0, "y": 0.0, "z": 1.0}


def test_cloud_views_and_reset_are_buttons_in_the_chart() -> None:
    spec = _spec(point_cloud_figure(_cloud(), "Side", uirevision="photo-1"))
    layout = spec["layout"]
    (menu,) = layout["updatemenus"]
    labels = [b["label"] for b in menu["buttons"]]
    assert labels == [*CAMERA_PRESETS, "Reset view"]
    cameras = {b["label"]: b["args"][0]["scene.camera"] for b in menu["buttons"]}
    assert all(b["method"] == "relayout" for b in menu["buttons"])  # in the browser: no rerun, no new figure
    assert cameras["Reset view"] == cameras["Side"] == layout["scene"]["camera"]  # back to the opening view
    assert cameras["Top"]["up"] == {"x": 0.0, "y": 1.0, "z": 0.0} and cameras["Top"]["eye"]["z"] > 0
    assert layout["uirevision"] == layout["scene"]["uirevision"] == "photo-1"


def test_cloud_markers_are_squares_and_the_toolbar_is_short() -> None:
    spec = _spec(point_cloud_figure(_cloud(), "Front"))
    assert spec["data"][0]["marker"]["symbol"] == "square"  # half the paint time of circles (bench.cloud_view)
    assert "resetCameraDefault3d" in spec["layout"]["modebar"]["remove"]


def test_cloud_camera_must_be_a_preset() -> None:
    with pytest.raises(ValueError, match="camera must be one of"):
        point_cloud_figure(_cloud(), "Below")


# ---------------------------------------------------------------- the Explorer's charts


def _map(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.gamma(2.0, 60.0, (120, 160))).astype(np.float32)  # 0...~600, a long near tail


@pytest.mark.parametrize("clip", [(1.0, 99.0), (0.0, 100.0), (99.0, 100.0), (0.0, 2.0)])
def test_histogram_axis_spans_the_data_and_its_labels_stay_inside(clip) -> None:
    depth = _map()
    hist = histogram(depth, bins=4096)
    lo, hi = (float(v) for v in hist.percentiles(clip))
    spec = _spec(histogram_figure(hist, lo, hi, clip, "inferno", False))
    first, last = float(hist.edges[0]), float(hist.edges[-1])
    low, high = spec["layout"]["xaxis"]["range"]
    span = last - first
    assert first - 0.05 * span <= low <= first and last <= high <= last + 0.05 * span
    middle = (first + last) / 2
    for note in spec["layout"]["annotations"]:  # each label reads from its line towards the middle
        assert note["xanchor"] == ("left" if note["x"] <= middle else "right")


def test_log_counts_tick_every_decade() -> None:
    hist = histogram(_map(), bins=4096)
    yaxis = _spec(histogram_figure(hist, 10.0, 400.0, (1.0, 99.0), "inferno", False, log_counts=True))["layout"]["yaxis"]
    assert yaxis["type"] == "log"
    assert yaxis["dtick"] == 1 and yaxis["tickformat"] == "~s"  # 1, 10, 100, 1k, 10k


@pytest.mark.parametrize("builder", ["histogram", "probe"])
def test_explorer_titles_are_short_enough_for_a_phone(builder) -> None:
    depth = _map()
    hist = histogram(depth, bins=4096)
    if builder == "histogram":
        figure = histogram_figure(hist, 10.0, 400.0, (1.0, 99.0), "inferno", False)
    else:
        figure = probe_figure(pixel_probe(depth, hist, 10.0, 400.0, False), "inferno", *depth.shape)
    layout = _spec(figure)["layout"]
    # 390 px wide, less the toolbar's five buttons: about 16 characters of a 17 px title
    assert len(layout["title"]["text"]) <= 16, layout["title"]["text"]
    assert {"zoomIn2d", "zoomOut2d", "autoScale2d"} <= set(layout["modebar"]["remove"])
