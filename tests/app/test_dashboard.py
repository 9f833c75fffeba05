"""AppTests of the dashboard: every page, uploads, bad input, weights problems, caching.

They drive the app through ``streamlit.testing.v1.AppTest`` (uploads go through
``at.file_uploader``) and assert on what a user sees: images and their pixels, charts and
their axes, metric values, download buttons and messages. They need the reference
checkpoint in ../shared/reference and skip without it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import struct
import urllib.error
import zlib

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.maps.colormaps import COLORMAPS, colorize
from core.maps.stats import depth_stats, histogram
from core.io.exports import ply_bytes, read_ply_vertices
from core.io.images import ImageDecodeError, decode_image, read_image
from core.midas.predictor import Predictor
from core.midas.transforms import network_input_size
from tests.conftest import REPO
from tests.shown_images import shown_image

DASHBOARD = str(REPO / "dashboard.py")
SAMPLE = REPO / "samples" / "coffee.png"  # the default sample
AXIS_LABEL = "relative inverse depth (unitless, larger = nearer)"
TIMEOUT = 180  # seconds per run: the first run loads the model and predicts on a 2-core CPU


# ---------------------------------------------------------------- helpers


def png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()


def photo(seed: int, shape: tuple[int, int] = (96, 128)) -> np.ndarray:
    """A smooth random 'photo' (not noise) of the given size, unique per seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(shape[::-1], Image.BICUBIC))


def oversized_png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels (its header alone: nothing to decode)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def plotly_spec(at: AppTest, index: int) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def typed_array(value) -> np.ndarray:
    """Decode plotly's base64 typed-array encoding (or a plain list)."""
    if isinstance(value, dict):
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if isinstance(shape, str):  # plotly writes "h, w, c"
            shape = [int(n) for n in shape.split(",")]
        return array.reshape(shape) if shape is not None else array
    return np.asarray(value)


@pytest.fixture(scope="session")
def predictor(app_predictor):
    """Expected values come from the backend the app runs ("auto"), not the torch reference."""
    return app_predictor


@pytest.fixture
def app(monkeypatch, reference_weights, tmp_path) -> AppTest:
    monkeypatch.setenv("MIDAS_WEIGHTS", str(reference_weights))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # never the user's cache
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def run_counter(monkeypatch, predictor) -> list:
    """Counts the app's network runs (Predictor.run calls) from here on.

    The test's own reference predictions (the ``predictor`` fixture) are not counted.
    """
    calls: list = []
    original = Predictor.run

    def counting(self, rgb, **kwargs):
        if self is not predictor:
            calls.append(rgb.shape)
        return original(self, rgb, **kwargs)

    monkeypatch.setattr(Predictor, "run", counting)
    return calls


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.sidebar.file_uploader(key="upload").set_value((name, data, mime))
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def image_by_caption(at: AppTest, prefix: str):
    found = [im for im in at.image if any(c.startswith(prefix) for c in im.captions)]
    assert found, f"no image captioned {prefix!r}; captions: {[im.captions for im in at.image]}"
    return found[0]


# ---------------------------------------------------------------- pages


def test_home_page_explains_the_app_and_the_sidebar_shows_the_model(app: AppTest) -> None:
    text = " ".join(m.value for m in app.markdown)
    assert "relative inverse depth" in text and "larger means nearer" in text
    assert "not metres" in text and "sidebar" in text
    assert [t.value for t in app.title] == ["MiDaS depth explorer"]
    assert [s.value for s in app.sidebar.success] == ["**MiDaS v2.1 small** ready"]
    (details,) = app.sidebar.expander  # paths, hashes and backends, out of a new user's way
    assert details.label == "Model details"
    shown = " ".join(c.value for c in details.caption)
    assert "midas_small_random.pt" in shown and "MIDAS_WEIGHTS" in shown and "SHA-256" in shown
    assert app.sidebar.select_slider(key="net_size").value == 256
    assert app.sidebar.select_slider(key="net_size").options[0] == "256"
    assert app.sidebar.select_slider(key="net_size").options[-1] == "1024"
    assert app.sidebar.toggle(key="camera_on").value is False  # the camera is not requested
    assert not app.get("camera_input")
    headings = [m.value for m in app.sidebar.markdown if m.value.startswith("### ")]
    assert headings == ["### Image", "### Model"]  # where to start comes first


def test_home_links_every_other_page(app: AppTest) -> None:
    from ui.pages import HOME, PAGES

    links = [link.proto.page for link in app.get("page_link")]  # the URL path: the script's stem
    expected = [e.script.removesuffix(".py") for entries in PAGES.values() for e in entries if e is not HOME]
    assert len(expected) >= 10 and [link.rsplit("/", 1)[-1] for link in links] == expected


def test_explorer_shows_the_uploaded_photo_its_heatmap_histogram_stats_and_downloads(
    app: AppTest, predictor
) -> None:
    rgb = photo(1, (120, 160))
    app.switch_page("app_pages/explorer.py").run()
    upload(app, "garden.png", png(rgb))
    assert not app.exception, app.exception
    assert not app.error
    assert "Showing: **garden.png** (upload)" in [c.value for c in app.sidebar.caption]

    # the images: the original is the upload, the heatmap is the colorized prediction
    depth = predictor.predict(rgb)
    stats = depth_stats(depth, (1, 50, 99))
    lo, hi = histogram(depth, bins=4096).percentiles((1.0, 99.0))
    original = shown_image(image_by_caption(app, "Original").value[0])
    heatmap = shown_image(image_by_caption(app, "Heatmap").value[0])
    assert original.shape == heatmap.shape == rgb.shape
    assert np.abs(original.astype(int) - rgb).mean() < 4  # JPEG for display
    expected = colorize(depth, "inferno", float(lo), float(hi)).astype(int)
    assert np.abs(heatmap.astype(int) - expected).mean() < 4
    assert np.abs(heatmap.astype(int) - colorize(depth, "jet", float(lo), float(hi))).mean() > 20
    assert image_by_caption(app, "Overlay")

    # the histogram is labelled and shows the clipping range; the probe hovers real values
    hist_spec = next(s for s in map(lambda i: plotly_spec(app, i), range(2)) if s["data"][0]["type"] == "bar")
    assert hist_spec["layout"]["xaxis"]["title"]["text"] == AXIS_LABEL
    vlines = [shape["x0"] for shape in hist_spec["layout"]["shapes"] if shape["type"] == "line"]
    assert vlines == pytest.approx([lo, hi], rel=1e-5)
    probe = next(s for s in map(lambda i: plotly_spec(app, i), range(2)) if s["data"][0]["type"] == "heatmap")
    template = probe["data"][0]["hovertemplate"]
    assert all(word in template for word in ("x %{x}", "y %{y}", "raw", "normalised", "percentile"))
    raw = typed_array(probe["data"][0]["customdata"])[..., 0]
    xs, ys = typed_array(probe["data"][0]["x"]), typed_array(probe["data"][0]["y"])
    np.testing.assert_allclose(raw, depth[np.ix_(ys, xs)], rtol=1e-5)

    # the stats the user reads
    shown = metrics(app)
    h, w = network_input_size(*rgb.shape[:2], 256)
    assert shown["Network input"] == f"{w}×{h}"
    assert shown["Min (farthest)"] == f"{stats.min:.4g}"
    assert shown["Max (nearest)"] == f"{stats.max:.4g}"
    assert shown["Mean"] == f"{stats.mean:.4g}"
    assert shown["Inference"].endswith(" ms") and float(shown["Inference"][:-3]) > 0
    percentiles = app.dataframe[0].value
    assert list(percentiles.columns) == ["percentile", "value"]  # one row per percentile: fits a phone
    assert list(percentiles["percentile"]) == ["p1", "p5", "p25", "p50", "p75", "p95", "p99"]
    assert float(percentiles["value"][3]) == pytest.approx(stats.percentiles[50], rel=1e-3)

    labels = [b.label for b in app.get("download_button")]
    assert labels == ["Heatmap PNG", "16-bit PNG", "Raw float32 .npy", "Side-by-side PNG", "Point cloud .ply",
                      "The .npy's sidecar (.json)", "PFM (float32)", "OpenEXR (float32)"]
    assert "Last prediction" in " ".join(c.value for c in app.sidebar.caption)


def test_view_controls_change_the_heatmap_without_running_the_network(
    app: AppTest, predictor, run_counter
) -> None:
    rgb = photo(2)
    app.switch_page("app_pages/explorer.py").run()
    upload(app, "view.png", png(rgb))
    assert len(run_counter) == 1
    app.selectbox(key="cmap").set_value("gray")
    app.toggle(key="invert").set_value(True)
    app.slider(key="clip_pct").set_value((0.0, 100.0))
    app.run()
    assert not app.exception, app.exception
    depth = predictor.predict(rgb)
    heatmap = shown_image(image_by_caption(app, "Heatmap").value[0])
    expected = colorize(depth, "gray", float(depth.min()), float(depth.max()), invert=True)
    assert np.abs(heatmap.astype(int) - expected).mean() < 4
    assert "near = low (dark) end" in image_by_caption(app, "Heatmap").captions[0]

    for page in ("app_pages/point_cloud.py", "app_pages/colormap_lab.py", "app_pages/explorer.py"):
        app.switch_page(page).run()
        assert not app.exception, app.exception
    assert app.selectbox(key="cmap").value == "gray"  # settings survive page switches
    assert len(run_counter) == 1, "switching pages or views must not run the network again"

    app.sidebar.select_slider(key="net_size").set_value(320).run()
    assert len(run_counter) == 2, "a new network size is a new prediction"
    h, w = network_input_size(*rgb.shape[:2], 320)
    assert metrics(app)["Network input"] == f"{w}×{h}"


def test_point_cloud_page_draws_and_exports_the_same_points(app: AppTest, predictor, run_counter) -> None:
    from core.maps.view import SUMMARY_PERCENTILES as PERCENTILES
    from core.geometry.pointcloud import build_cloud

    app.switch_page("app_pages/point_cloud.py").run()
    assert not app.exception, app.exception
    assert "relative until calibrated" in " ".join(i.value for i in app.info)

    spec = plotly_spec(app, 0)
    trace = spec["data"][0]
    assert trace["type"] == "scatter3d"
    x, y, z = (typed_array(trace[k]) for k in ("x", "y", "z"))
    shown = int(captions(app).split("Showing **")[1].split(" points")[0].replace(",", ""))
    assert len(x) == shown
    assert 18_000 <= shown <= 20_000  # the default budget of 20k, minus invalid pixels
    camera = spec["layout"]["scene"]["camera"]  # "Front": behind the pinhole, looking along the depth axis
    assert camera["eye"]["x"] == pytest.approx(camera["center"]["x"])
    assert camera["eye"]["z"] == pytest.approx(camera["center"]["z"])
    assert camera["eye"]["y"] < camera["center"]["y"]

    # the export: the same settings on the same prediction give exactly the drawn points
    rgb = read_image(SAMPLE)
    depth = predictor.predict(rgb)
    settings = _settings_from(app)
    cloud = build_cloud(depth, rgb, depth_stats(depth, PERCENTILES), histogram(depth, bins=4096), settings)
    xyz, colors = read_ply_vertices(ply_bytes(cloud))
    assert len(xyz) == shown
    np.testing.assert_allclose(xyz[:, 0], x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xyz[:, 2], y, rtol=1e-5, atol=1e-6)  # the chart's "depth" axis is z
    np.testing.assert_allclose(xyz[:, 1], z, rtol=1e-5, atol=1e-6)  # and the vertical axis is y, drawn reversed
    assert spec["layout"]["scene"]["zaxis"]["autorange"] == "reversed"  # so that up is up
    marker = trace["marker"]  # colours: indices into a palette colorscale with one stop per entry
    stops = np.array([[int(v) for v in re.findall(r"\d+", color)] for _, color in marker["colorscale"]])
    drawn = stops[np.rint(typed_array(marker["color"]).astype(float) / marker["cmax"] * (len(stops) - 1)).astype(int)]
    assert np.abs(drawn - colors.astype(int)).mean() < 6  # a 256-colour palette of the photo's colours
    assert [b.label for b in app.get("download_button")] == ["Point cloud .ply"]

    # a smaller budget: new points, same prediction, the same view (the views are the chart's buttons)
    before = len(run_counter)
    app.slider(key="pc_budget").set_value(5_000)
    app.run()
    assert not app.exception, app.exception
    trace = plotly_spec(app, 0)["data"][0]
    assert len(typed_array(trace["x"])) <= 5_000
    assert plotly_spec(app, 0)["layout"]["scene"]["uirevision"] == spec["layout"]["scene"]["uirevision"]
    assert len(run_counter) == before


def _settings_from(app: AppTest):
    """The point cloud settings as the page read them from the session."""
    from core.geometry.pointcloud import CloudSettings

    state = app.session_state
    return CloudSettings(
        fov_deg=float(state["pc_fov"]),
        scale=float(state["pc_scale"]),
        shift=float(state["pc_shift"]),
        keep_pct=tuple(state["pc_keep_pct"]),
        budget=int(state["pc_budget"]),
        colors=str(state["pc_colors"]),
        cmap=str(state["cmap"]),
        clip_pct=tuple(state["clip_pct"]),
        invert=bool(state["invert"]),
    )


def test_colormap_lab_shows_every_map_with_bars_and_the_banding_demo(app: AppTest) -> None:
    app.switch_page("app_pages/colormap_lab.py").run()
    assert not app.exception, app.exception
    text = " ".join(m.value for m in app.markdown)
    for name in ("inferno", "magma", "plasma", "viridis", "turbo", "jet", "gray", "Spectral"):
        assert f"**{name}**" in text
    for name in ("turbo", "jet", "Spectral"):
        assert f"**{name}** · :orange[:material/warning: lightness goes up and down]" in text
    assert f"**inferno** · :green[:material/check_circle: lightness rises steadily]" in text
    legends = [im for im in app.image if im.captions[0].startswith("colormap far → near")]
    assert len(legends) == len(COLORMAPS)
    assert "Pitfall" in " ".join(s.value for s in app.subheader)
    assert any("near = cold (blue)" in im.captions[0] for im in app.image)
    lightness = plotly_spec(app, 0)
    assert {t["name"].split(" ")[0] for t in lightness["data"]} == set(COLORMAPS)
    levels = metrics(app)
    assert int(levels["8-bit levels in the crop"]) < int(levels["16-bit levels in the crop"].replace(",", ""))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("broken.jpg", b"\xff\xd8\xff\xe0 this JPEG stops here"),
        ("drawing.png", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>"),
        ("huge.png", oversized_png_header(9000, 6000)),
        ("empty.png", b""),
    ],
)
def test_bad_upload_shows_the_decoder_message_and_the_next_upload_works(app: AppTest, name: str, data: bytes) -> None:
    with pytest.raises(ImageDecodeError) as expected:
        decode_image(data)
    app.switch_page("app_pages/explorer.py").run()
    upload(app, name, data)
    assert not app.exception, app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and name in errors[0] and str(expected.value) in errors[0]
    assert not app.metric and not app.get("download_button")  # nothing stale from another image
    assert app.sidebar.success  # the model and the sidebar are unaffected

    upload(app, "good.png", png(photo(3)))
    assert not app.exception, app.exception
    assert not app.error
    assert image_by_caption(app, "Heatmap")
    assert metrics(app)["Network input"] == "256×192"


# ---------------------------------------------------------------- weights


def test_missing_weights_offline_show_the_fix_and_an_uploaded_checkpoint_is_used(
    monkeypatch, tmp_path, reference_weights
) -> None:
    monkeypatch.delenv("MIDAS_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    at.switch_page("app_pages/explorer.py").run()
    assert not at.exception, at.exception
    message = " ".join(e.value for e in at.sidebar.error)
    assert "Could not download" in message and "offline" in message and "MIDAS_WEIGHTS" in message
    assert "The model is not loaded" in " ".join(w.value for w in at.warning)
    assert not at.image

    at.sidebar.file_uploader(key="weights_upload").set_value(("notes.pt", b"not a checkpoint", "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    assert any("notes.pt was not installed" in e.value for e in at.sidebar.error)
    assert not at.image

    at.sidebar.file_uploader(key="weights_upload").set_value(
        ("midas_small.pt", reference_weights.read_bytes(), "application/octet-stream")
    )
    at.run()
    assert not at.exception, at.exception
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "midas_v21_small_256.pt"
    assert hashlib.sha256(cached.read_bytes()).digest() == hashlib.sha256(reference_weights.read_bytes()).digest()
    assert "uploaded and validated" in " ".join(c.value for c in at.sidebar.expander[0].caption)
    assert not at.sidebar.error
    assert image_by_caption(at, "Heatmap")


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "does not exist"), (b"<html>404</html>", "is not a torch checkpoint")],
    ids=["missing", "not-a-checkpoint"],
)
def test_bad_weights_file_is_an_actionable_message_not_a_traceback(monkeypatch, tmp_path, content, expected) -> None:
    weights = tmp_path / "weights.pt"
    if content is not None:
        weights.write_bytes(content)
    monkeypatch.setenv("MIDAS_WEIGHTS", str(weights))
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    message = " ".join(e.value for e in at.sidebar.error)
    assert "weights.pt" in message and expected in message
    assert at.sidebar.button(key="weights_retry").label == "Try the download again"
    at.switch_page("app_pages/point_cloud.py").run()
    assert not at.exception, at.exception
    assert "The model is not loaded" in " ".join(w.value for w in at.warning)
    assert expected in " ".join(e.value for e in at.sidebar.error)  # still explained on every page


# ---------------------------------------------------------------- caching


def test_cached_predictions_are_keyed_on_every_byte(predictor) -> None:
    from ui import cache

    a = photo(4, (64, 64))
    b = a.copy()
    b[10, 20, 1] ^= 0x40  # one channel of one pixel
    data_a, data_b = png(a), png(b)
    digests = [hashlib.sha256(d).hexdigest() for d in (data_a, data_b)]
    size, weights = predictor.info.size, predictor.info.sha256
    rgb_a, rgb_b = cache.decode(digests[0], data_a), cache.decode(digests[1], data_b)
    assert (rgb_a != rgb_b).sum() == 1
    pred_a = cache.predict(digests[0], size, weights, predictor, rgb_a)
    pred_b = cache.predict(digests[1], size, weights, predictor, rgb_b)
    assert not np.array_equal(pred_a.depth, pred_b.depth)
    np.testing.assert_array_equal(pred_a.depth, predictor.predict(a))
    np.testing.assert_array_equal(pred_b.depth, predictor.predict(b))
    again = cache.predict(digests[0], size, weights, predictor, rgb_b)  # same key: the cached result
    np.testing.assert_array_equal(again.depth, pred_a.depth)


def test_every_bundled_sample_decodes_and_has_its_licence_recorded() -> None:
    from ui.image_source import SAMPLES, SAMPLES_DIR

    licences = (SAMPLES_DIR / "LICENSES.md").read_text()
    files = sorted(p.name for p in SAMPLES_DIR.iterdir() if p.suffix in (".png", ".jpg"))
    assert sorted(SAMPLES.values()) == files and len(files) >= 3
    for name in files:
        data = (SAMPLES_DIR / name).read_bytes()
        assert f"`{name}`" in licences and hashlib.sha256(data).hexdigest() in licences
        rgb = decode_image(data)
        assert rgb.ndim == 3 and min(rgb.shape[:2]) >= 256


def test_camera_is_off_until_toggled_and_a_photo_replaces_the_sample(app: AppTest) -> None:
    app.switch_page("app_pages/explorer.py").run()
    assert not app.get("camera_input")
    app.sidebar.toggle(key="camera_on").set_value(True).run()
    assert len(app.get("camera_input")) == 1
    assert "Showing: **Coffee cup** (sample)" in [c.value for c in app.sidebar.caption]  # no photo yet

    rgb = photo(5, (120, 160))
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=95)
    app.camera_input(key="camera").upload("photo.jpg", buffer.getvalue())
    app.run()
    assert not app.exception, app.exception
    assert "Showing: **camera photo** (camera)" in [c.value for c in app.sidebar.caption]
    original = shown_image(image_by_caption(app, "Original").value[0])
    assert original.shape == rgb.shape and np.abs(original.astype(int) - rgb).mean() < 6

    app.sidebar.selectbox(key="sample").set_value("Rocket launch").run()  # the latest choice wins
    assert "Showing: **Rocket launch** (sample)" in [c.value for c in app.sidebar.caption]
    assert shown_image(image_by_caption(app, "Original").value[0]).shape == (427, 640, 3)
