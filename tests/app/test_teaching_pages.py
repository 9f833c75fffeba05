"""AppTests of the teaching pages: How It Works, Scale and Shift, Pitfalls, Calibrate, Evaluate, Performance Lab.

Each test uploads a small photo through the sidebar's ``at.file_uploader``, opens a page, drives
its widgets and checks what a user reads there (metrics, tables, code, messages) against values
computed independently with ``core`` and the same reference checkpoint.
"""

from __future__ import annotations

import io
import json
import os

import cv2
import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.measure.calibration import CalibrationPoint, calibrate, measure_distance
from core.teaching.ground_truth_report import ground_truth_report
from core.io.images import decode_image
from core.measure.metrics import load_ground_truth
from core.teaching.pipeline_stages import walkthrough
from core.teaching.scale_shift import midas_scale_shift
from core.teaching.timing import STAGES, available_backends
from core.midas.transforms import network_input_size
from tests.conftest import REPO

DASHBOARD = str(REPO / "dashboard.py")
TIMEOUT = 300  # seconds per run: model loads, predictions and timing processes on a 2-core CPU


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()


def _photo(shape: tuple[int, int] = (64, 192), seed: int = 7) -> np.ndarray:
    """A smooth random 'photo', wide so the network input stays small (96x256 at N = 256)."""
    small = np.random.default_rng(seed).integers(0, 256, size=(4, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(shape[::-1], Image.BICUBIC))


PHOTO_PNG = _png(_photo())


@pytest.fixture(scope="session")
def predictor(app_predictor):
    """Expected values come from the backend the app runs ("auto"), not the torch reference."""
    return app_predictor


@pytest.fixture
def open_page(monkeypatch, reference_weights, tmp_path):
    """Open a page of the dashboard with the test photo uploaded."""
    monkeypatch.setenv("MIDAS_WEIGHTS", str(reference_weights))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # never the user's cache

    def _open(page: str, photo: bytes = PHOTO_PNG) -> AppTest:
        at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
        at.run()
        at.switch_page(f"app_pages/{page}.py").run()
        at.sidebar.file_uploader(key="upload").set_value(("photo.png", photo, "image/png"))
        at.run()
        assert not at.exception, at.exception
        assert "Showing: **photo.png** (upload)" in [c.value for c in at.sidebar.caption]
        return at

    return _open


@pytest.fixture(scope="module")
def depth(predictor) -> np.ndarray:
    """The prediction the app makes for the test photo (same checkpoint, same N)."""
    return predictor.predict(decode_image(PHOTO_PNG))


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table_with(at: AppTest, column: str):
    """The shown table that has ``column`` (st.dataframe keys are not exposed to AppTest)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


# ---------------------------------------------------------------- How It Works


def test_how_it_works_shows_each_stage_with_its_shape_and_runnable_code(open_page, predictor):
    at = open_page("how_it_works")
    rgb = decode_image(PHOTO_PNG)
    stages = walkthrough(rgb, predictor.run(rgb), size=256, cmap="inferno")

    assert [h.value for h in at.subheader][:7] == [s.title for s in stages]
    assert [c.value for c in at.code][:7] == [s.code for s in stages]  # the snippets a test executes
    shown = texts(at)
    h, w = network_input_size(64, 192, 256)
    assert (h, w) == (96, 256)
    for line in (
        "**`rgb`** · 64×192×3 uint8, values",
        f"**`resized`** · {h}×{w}×3 float32",
        f"**`x`** · 1×3×{h}×{w} float32",
        f"**`net`** · {h}×{w} float32",
        "**`depth`** · 64×192 float32",
        "**`norm`** · 64×192 float32, values 0 … 1",
        "**`heat`** · 64×192×3 uint8",
    ):
        assert line in shown, line
    raw = next(s for s in stages if s.key == "raw").summary
    assert f"values {raw.lo:.4g} … {raw.hi:.4g}" in shown
    assert len(at.image) >= 9  # photo, resized, 3 channels, raw, upsampled, normalised, heatmap
    hist = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"][0] for t in hist["data"]] == ["R", "G", "B"]
    assert set(metrics(at)) == {"Preprocess (resize + normalise)", "Inference (the network)", "Upsample"}


# ---------------------------------------------------------------- Scale and Shift


def test_scale_and_shift_leave_the_heatmap_and_least_squares_recovers_them(open_page, depth):
    at = open_page("scale_shift")
    assert metrics(at)["Least squares recovers α"] == "1"
    assert metrics(at)["Largest change of the normalised heatmap"] == "0.000000"
    assert len(at.latex) >= 4

    beta_slider = at.slider(key="ss_beta")
    beta = float(beta_slider.min + 0.2 * (beta_slider.max - beta_slider.min))
    at.slider(key="ss_alpha").set_value(2.5)
    beta_slider.set_value(beta)
    at.run()
    shown = metrics(at)
    assert shown["Least squares recovers α"] == "2.5"
    assert shown["…and β"] == f"{beta:.4g}"
    assert shown["Largest change of the normalised heatmap"] == "0.000000"
    ratio_a = shown["Far / near ratio"]

    at.slider(key="ss_alpha").set_value(5.0).run()  # a new scale: same shape
    assert metrics(at)["Far / near ratio"] == ratio_a
    at.slider(key="ss_beta").set_value(float(beta_slider.min)).run()  # a new shift: new shape
    assert metrics(at)["Far / near ratio"] != ratio_a

    at.button(key="ss_midas").click().run()
    alpha_m, beta_m = midas_scale_shift(depth)
    assert at.slider(key="ss_alpha").value == pytest.approx(alpha_m, rel=1e-5)
    assert at.slider(key="ss_beta").value == pytest.approx(beta_m, rel=1e-5)
    assert "identical" in " ".join(s.value for s in at.success)


# ---------------------------------------------------------------- Pitfalls


def test_pitfalls_are_demonstrated_with_numbers(open_page):
    at = open_page("pitfalls")
    shown = metrics(at)
    assert shown["NaN pixels"] == "0"
    assert shown["Naive (d − min)/(max − min): NaN pixels"] == "100.0%"
    assert shown["core.maps.normalize.normalize: NaN pixels"] == "0"
    assert float(shown["White pixels"].rstrip("%")) > 50  # raw values are mostly far above 1
    assert shown["Brightest pixel"].startswith("grey level ")
    assert int(shown["Brightest pixel"].split()[2]) < 16  # the /65535 picture is (almost) black
    assert int(shown["8-bit levels in the region"]) < int(shown["16-bit levels in the region"].replace(",", ""))
    assert "rgb(0, 0, 128), lightness L* 13 (cold, darker than far)" in texts(at)  # jet, inverted
    assert "(warm, brighter than far)" in texts(at)

    at.button(key="pit_res_run").click().run()
    assert not at.exception, at.exception
    shown = metrics(at)
    for n in (256, 384, 512):
        assert shown[f"Inference at N = {n}"].endswith(" ms")
        h, w = network_input_size(64, 192, n)
        assert any(f"N = {n}: network input {w}×{h}" in c for im in at.image for c in im.captions)
    assert shown["Mean difference, N = 256 vs 512"].endswith("% of the range")

    at.button(key="pit_threads_run").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    cores = os.cpu_count() or 1
    labels = [label for label in metrics(at) if label.startswith("N=256 · ")]
    assert labels[0] == "N=256 · 1 thread · torch" and len(labels) == len({1, cores})
    assert all(metrics(at)[label].endswith(" ms inference") for label in labels)


# ---------------------------------------------------------------- Calibrate


def _type_rows(at: AppTest, rows: list[tuple[int, int, float]]) -> AppTest:
    """Type whole rows into the calibration table, as a user adding rows would."""
    editor = at.data_editor[0]
    at.session_state[editor.key] = {
        "edited_rows": {},
        "added_rows": [{"x (px)": x, "y (px)": y, "distance (m)": d} for x, y, d in rows],
        "deleted_rows": [],
    }
    return at.run()


def test_two_typed_points_give_an_exact_fit_and_metres(open_page, depth):
    at = open_page("calibrate")
    assert "Scale s" not in metrics(at)  # nothing is in metres before a calibration
    (y1, x1), (y2, x2) = np.unravel_index(np.argmin(depth), depth.shape), np.unravel_index(np.argmax(depth), depth.shape)
    s, t = 0.002, 0.1  # 1/z = s d + t
    rows = [(int(x1), int(y1), 1.0 / (s * float(depth[y1, x1]) + t)), (int(x2), int(y2), 1.0 / (s * float(depth[y2, x2]) + t))]

    _type_rows(at, rows)

    assert not at.exception and not at.error, (at.exception, at.error)
    shown = metrics(at)
    assert shown["Scale s"] == f"{s:.6g}" and shown["Shift t (1/m)"] == f"{t:.6g}"
    assert shown["Points used"] == "2" and shown["RMS residual"] == "0.0000 m"
    table = table_with(at, "residual (m)")
    assert table["residual (m)"].abs().max() < 1e-6
    np.testing.assert_allclose(table["calibrated (m)"], [r[2] for r in rows], rtol=1e-5)
    # the map, its histogram and the downloads are now in metres
    depth_m = 1.0 / (s * depth.astype(np.float64) + t)
    lo, hi = np.percentile(depth_m, [1, 99])  # the views show the 1st to 99th percentile
    assert shown["Near end (p1)"] == f"{lo:,.2f} m" and shown["Far end (p99)"] == f"{hi:,.2f} m"
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(sp["layout"].get("xaxis", {}).get("title", {}).get("text") == "depth (metres)" for sp in specs)
    assert any(sp["layout"].get("scene", {}).get("yaxis", {}).get("title", {}).get("text") == "depth (m)" for sp in specs)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Depth in metres (.npy)" in labels and "Depth in millimetres (16-bit PNG)" in labels

    # the measuring tool: 3D distance between A and B through the FOV
    a, b = (10, 20), (150, 40)
    for key, value in zip(("measure_ax", "measure_ay", "measure_bx", "measure_by"), (*a, *b)):
        at.number_input(key=key).set_value(value)
    at.slider(key="pc_fov").set_value(70)
    at.run()
    cal = calibrate(depth, [CalibrationPoint(*r) for r in rows])
    expected = measure_distance(cal.depth_map(depth)[0], a, b, 70.0)
    assert metrics(at)["Distance A–B"] == f"{expected:.3f} m"


def test_three_points_give_least_squares_residuals(open_page, depth):
    at = open_page("calibrate")
    order = np.argsort(depth.ravel())
    picks = [order[len(order) // 10], order[len(order) // 2], order[-len(order) // 10]]
    rows = []
    for idx, dist in zip(picks, (6.0, 3.1, 1.2)):
        y, x = np.unravel_index(idx, depth.shape)
        rows.append((int(x), int(y), dist))

    _type_rows(at, rows)

    cal = calibrate(depth, [CalibrationPoint(*r) for r in rows])
    shown = metrics(at)
    assert shown["Scale s"] == f"{cal.scale:.6g}" and shown["Points used"] == "3"
    table = table_with(at, "residual (m)")
    np.testing.assert_allclose(table["residual (m)"], cal.residuals_m, atol=2e-6)
    assert table["residual (m)"].abs().max() > 1e-4  # a real compromise, not an exact fit


@pytest.mark.parametrize(
    ("button", "message"),
    [("cal_example_same_depth", "same depth"), ("cal_example_wrong_order", "nearer")],
)
def test_ill_posed_calibrations_are_refused_with_the_reason(open_page, button, message):
    at = open_page("calibrate")
    at.button(key=button).click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "No calibration" in errors and message in errors
    assert "Scale s" not in metrics(at) and not at.get("download_button")


def test_the_good_example_fits_exactly(open_page):
    at = open_page("calibrate")
    at.button(key="cal_example_good").click().run()
    assert not at.error
    assert metrics(at)["RMS residual"] == "0.0000 m"
    assert list(table_with(at, "residual (m)")["your distance (m)"]) == [5.0, 1.5]


# ---------------------------------------------------------------- Evaluate


def _ground_truth(depth: np.ndarray) -> np.ndarray:
    """Metres that are an exact affine map of the prediction in inverse depth, 0 = no measurement."""
    gt = 1.0 / (0.003 * depth.astype(np.float64) + 0.2)
    gt[::5, ::3] = 0.0
    return gt


def _upload_gt(at: AppTest, name: str, data: bytes, unit: str | None = None) -> AppTest:
    if unit is not None:
        at.radio(key="gt_unit").set_value(unit)
    at.file_uploader(key="gt_upload").set_value((name, data, "application/octet-stream"))
    return at.run()


def test_an_affine_ground_truth_scores_absrel_zero(open_page, depth):
    at = open_page("evaluate")
    gt = _ground_truth(depth)
    buffer = io.BytesIO()
    np.save(buffer, gt.astype(np.float32))

    _upload_gt(at, "gt.npy", buffer.getvalue())

    assert not at.exception and not at.error, (at.exception, at.error)
    shown = metrics(at)
    assert shown["AbsRel"] == "0.0000" and shown["log10"] == "0.0000" and shown["RMSE"] == "0.0000 m"
    assert shown["δ < 1.25"] == shown["δ < 1.25²"] == shown["δ < 1.25³"] == "1.0000"
    assert f"{int((gt > 0).sum()):,} pixels with a measurement" in texts(at)
    scatter = next(json.loads(c.proto.spec) for c in at.get("plotly_chart"))
    assert scatter["layout"]["xaxis"]["title"]["text"] == "true depth (metres)"
    assert len(at.image) >= 3  # truth, aligned prediction, error map


def test_a_16_bit_png_in_millimetres_and_its_unit(open_page, depth):
    at = open_page("evaluate")
    gt = _ground_truth(depth)
    ok, buf = cv2.imencode(".png", np.rint(gt * 1000).astype(np.uint16))
    assert ok
    data = buf.tobytes()

    rmse = {}
    for label, unit in (("1 mm (depth cameras, NYU Depth v2)", "mm"), ("1/256 m (KITTI)", "1/256 m")):  # both ways
        _upload_gt(at, "gt.png", data, unit=label)
        assert not at.error, at.error
        expected = ground_truth_report(depth, load_ground_truth(data, kind="png16", unit=unit)).metrics
        shown = metrics(at)
        assert shown["AbsRel"] == f"{expected.abs_rel:.4f}" and float(shown["AbsRel"]) < 1e-3  # only mm rounding
        assert shown["δ < 1.25"] == "1.0000"
        assert shown["RMSE"] == f"{expected.rmse:.4f} m"
        assert f"one step = {'1 mm' if unit == 'mm' else unit}" in " ".join(x.value for x in at.success)
        rmse[unit] = expected.rmse
    assert rmse["1/256 m"] == pytest.approx(1000 / 256 * rmse["mm"], rel=1e-3)  # AbsRel is scale-free, RMSE is not


def test_a_bad_ground_truth_file_is_refused(open_page):
    at = open_page("evaluate")
    _upload_gt(at, "gt.png", b"not a png at all")
    assert "cannot be read as ground truth" in " ".join(e.value for e in at.error)
    assert "AbsRel" not in metrics(at)


# ---------------------------------------------------------------- Performance Lab


def test_performance_lab_measures_every_stage_in_fresh_processes(open_page):
    at = open_page("performance_lab")
    assert not at.get("dataframe")  # nothing runs before the button
    at.multiselect(key="perf_sizes").set_value([256, 384])
    at.multiselect(key="perf_threads").set_value([1])
    at.multiselect(key="perf_backends").set_value(["torch"])
    at.slider(key="perf_passes").set_value(2)
    at.run()
    assert at.button(key="perf_run").label == "Run 2 measurement(s)"
    at.button(key="perf_run").click().run()

    assert not at.exception and not at.error, (at.exception, at.error)
    table = table_with(at, "setting")
    assert list(table["setting"]) == ["N=256 · 1 thread · torch", "N=384 · 1 thread · torch"]
    h, w = network_input_size(64, 192, 384)
    assert list(table["network input"]) == ["256×96", f"{w}×{h}"]
    for stage in STAGES:
        assert (table[f"{stage} (ms)"] >= 0).all()
    assert (table["inference (ms)"] > 0).all()
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in bars["data"]] == list(STAGES)
    assert len(at.get("plotly_chart")) == 2  # stages, and passes (warm-up vs steady)
    shown = texts(at)
    # the tip's advice first; 2 passes leave 1 after the warm-up: too few to conclude anything
    assert "N = 256 against N = 384: inconclusive on this run: only 1 pass after the warm-up" in shown
    assert "Use every core.** — pick at least two thread counts" in shown
    if len(available_backends()) > 1:
        assert "pick the `fast` backend (OpenVINO, compiled) as well" in shown
    else:
        assert "not testable in this build" in shown


def test_performance_lab_plans_one_change_at_a_time(open_page):
    at = open_page("performance_lab")
    at.multiselect(key="perf_sizes").set_value([256, 384, 512])
    at.multiselect(key="perf_threads").set_value([1, 2])
    at.multiselect(key="perf_backends").set_value(["torch"])
    at.run()
    assert at.button(key="perf_run").label == "Run 4 measurement(s)"  # baseline + 2 sizes + 1 thread count
    at.toggle(key="perf_full").set_value(True).run()
    assert at.button(key="perf_run").label == "Run 6 measurement(s)"  # 3 sizes x 2 thread counts
