"""The measuring pages as a user meets them (issue 11, findings 2, 4, 10 and 11).

AppTests of Calibrate to Metres and Evaluate vs Ground Truth check what a page says and draws
after the steps a user takes: typed rows, examples, uploads, page switches. The browser
journeys at the end (marked ``browser``) click and type in headless Chromium, read back the
pixels and chart ranges the user sees, and save ``artifacts/screenshots/measure_*.png``.
"""

from __future__ import annotations

import base64
import io
import json
import re
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.measure.calibration import CalibrationPoint, calibrate
from tests.shown_images import shown_image
from tests.browser_support import UI_TIMEOUT, chart_eval, click_chart, full_page_screenshot, go_to, metric_value, wait_idle
from tests.app.test_teaching_pages import depth, metrics, open_page, predictor, texts  # noqa: F401 (fixtures)

GREY = (128, 128, 128)  # core.teaching.ground_truth_report.no_measurement_colour("inferno")


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _values(array) -> np.ndarray:
    """A plotly array from a figure's JSON: a list, or a typed array as {"dtype", "bdata"}."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array, dtype=np.float64)


def _type_rows(at: AppTest, rows: list[dict]) -> AppTest:
    """Type whole rows on the table's empty last line, as a user adding rows does."""
    editor = at.data_editor[0]
    at.session_state[editor.key] = {"edited_rows": {}, "added_rows": rows, "deleted_rows": []}
    return at.run()


def _row(x: int | None, y: int | None, distance: float | None) -> dict:
    return {k: v for k, v in (("x (px)", x), ("y (px)", y), ("distance (m)", distance)) if v is not None}


def _errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def _infos(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


def _long_tail_rows(depth: np.ndarray) -> list[tuple[int, int, float]]:
    """2 m at the nearest pixel and 20 m at one chosen so that 1 / (s d + t) nears 0 in the map.

    With those two points, infinity sits at d = d_far - (d_near - d_far) / 9; picking d_far a
    little above (9 min + max) / 10 puts it just below the map's minimum, so the farthest
    pixels go to hundreds or thousands of metres, as sky does in a real photo.
    """
    lo, hi = float(depth.min()), float(depth.max())
    target = (9 * lo + hi) / 10 + 0.003 * (hi - lo)
    far = np.unravel_index(int(np.argmin(np.where(depth >= target, depth - target, np.inf))), depth.shape)
    near = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return [(int(near[1]), int(near[0]), 2.0), (int(far[1]), int(far[0]), 20.0)]


# ---------------------------------------------------------------- Calibrate (findings 4 and 10)


def test_a_typed_minus_sign_is_refused_with_the_value_typed(open_page):
    at = open_page("calibrate")
    # the grid drops a typed "-" when its column has min_value >= 0: the column must not have one
    columns = json.loads(at.data_editor[0].proto.columns)
    number_columns = [c["type_config"] for c in columns.values() if c.get("type_config", {}).get("type") == "number"]
    assert len(number_columns) == 3
    assert all(c.get("min_value") is None and c.get("max_value") is None for c in number_columns), number_columns

    _type_rows(at, [_row(5, 6, -4.0)])  # one row only: before, it was dropped as "fewer than two"

    assert not at.exception
    assert "point 1 at (x=5, y=6) has distance -4 m: a distance must be a positive number" in _errors(at)


def test_the_same_pixel_twice_is_a_conflict_not_the_same_depth(open_page):
    at = open_page("calibrate")
    _type_rows(at, [_row(20, 30, 3.0), _row(20, 30, 5.0)])

    errors = _errors(at)
    assert "points 1 and 2 are the same pixel (x=20, y=30) twice, with conflicting distances 3 m and 5 m" in errors
    assert "same depth" not in errors and "Scale s" not in metrics(at)


def test_a_distance_is_kept_until_its_pixel_comes_and_the_table_is_not_rebuilt_under_it(open_page):
    at = open_page("calibrate")
    key = at.data_editor[0].key
    _type_rows(at, [_row(None, None, 2.5)])  # typed on the empty last line before clicking a pixel

    assert "row 1 of the table has a distance but no pixel" in _infos(at)  # kept and explained, not dropped
    assert at.data_editor[0].key == key  # an edit never rebuilds the table (a fast second edit would be lost)

    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/calibrate.py").run()
    assert "row 1 of the table has a distance but no pixel" in _infos(at)  # and it survives a page switch


def test_a_picked_pixel_gets_a_distance_box_under_the_photo(open_page):
    at = open_page("calibrate")
    _type_rows(at, [_row(5, 6, None)])  # what a click on pixel (5, 6) adds
    box = at.number_input(key="cal_distance_1_5_6")
    assert box.label == "Distance of point 1 (x 5, y 6), in metres" and box.value is None

    box.set_value(2.5).run()

    assert not at.exception and "still need a distance" not in _infos(at)
    assert not [n for n in at.number_input if n.key.startswith("cal_distance_")]  # the box goes with its row
    assert at.data_editor[0].value["distance (m)"].tolist() == [2.5]


def test_measuring_markers_show_only_with_a_calibration(open_page):
    at = open_page("calibrate")

    def marker_labels() -> list[str]:
        picture = _specs(at)[0]
        return [t for trace in picture["data"] if trace.get("name") == "picked" for t in trace["text"]]

    assert marker_labels() == []  # nothing picked, nothing fitted: no A, no B
    _type_rows(at, [_row(10, 20, 3.0)])
    assert marker_labels() == ["1"]
    at.button(key="cal_example_good").click().run()
    assert not at.error and marker_labels() == ["1", "2", "A", "B"]
    at.button(key="cal_example_same_depth").click().run()  # refused: the measuring tool goes away again
    assert at.error and marker_labels() == ["1", "2"]


def test_far_pixels_do_not_wreck_the_views_in_metres(open_page, depth):
    at = open_page("calibrate")
    rows = _long_tail_rows(depth)
    cal = calibrate(depth, [CalibrationPoint(*r) for r in rows])
    depth_m, valid = cal.depth_map(depth)
    values = depth_m[valid].astype(np.float64)  # 12k pixels: the page's window is exact at this size
    near, far = np.percentile(values, [1, 99])
    farther, nearer = int((values > far).sum()), int((values < near).sum())
    assert values.max() > 10 * far  # the map has the far tail of finding 4

    _type_rows(at, [_row(*r) for r in rows])

    assert not at.exception and not at.error, (at.exception, at.error)
    shown = metrics(at)
    assert shown["Near end (p1)"] == f"{near:,.2f} m" and shown["Far end (p99)"] == f"{far:,.2f} m"
    assert shown["Pixels beyond the range"] == f"{nearer + farther:,}" and farther > 0
    assert "Farthest" not in shown  # the tail's 1,000s of metres are not a headline any more
    caption = texts(at)
    assert f"{farther:,} pixels" in caption and f"up to {values.max():,.2f} m" in caption
    specs = _specs(at)
    histogram = next(s for s in specs if s["layout"].get("xaxis", {}).get("title", {}).get("text") == "depth (metres)")
    lo, hi = histogram["layout"]["xaxis"]["range"]
    # float32 bin edges: within 1e-6 relative of the window, never out to the farthest pixel
    assert lo == pytest.approx(near, rel=1e-6) and hi == pytest.approx(far, rel=1e-6)
    cloud = next(s for s in specs if "scene" in s["layout"])
    cloud_depth = _values(cloud["data"][0]["y"])  # the scene's y is the depth (float32 in the cloud)
    assert cloud_depth.size > 0 and cloud_depth.max() <= far * (1 + 1e-6) and cloud_depth.min() >= near * (1 - 1e-6)


# ---------------------------------------------------------------- Evaluate (findings 2 and 11)


def _sparse_truth(depth: np.ndarray) -> np.ndarray:
    """Metres, an exact affine map of the prediction in inverse depth; a third and every other row missing."""
    gt = 1.0 / (0.003 * depth.astype(np.float64) + 0.2)
    gt[:, : gt.shape[1] // 3] = 0.0
    gt[::2] = 0.0
    return gt.astype(np.float32)


def _npy(arr: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, arr)
    return buffer.getvalue()


def _upload_gt(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="gt_upload").set_value((name, data, "application/octet-stream"))
    return at.run()


def test_no_measurement_is_grey_and_the_rest_reads_right(open_page, depth):
    at = open_page("evaluate")
    gt = _sparse_truth(depth)
    _upload_gt(at, "gt.npy", _npy(gt))
    assert not at.exception and not at.error, (at.exception, at.error)

    # finding 2: holes are drawn grey, a colour inferno never uses, and the caption says so
    truth = next(i for i in at.image if i.captions and i.captions[0].startswith("Ground truth"))
    assert "grey = no measurement" in truth.captions[0] and "darkest" not in truth.captions[0]
    drawn = shown_image(truth.value[0])  # 64x192: drawn as is, no downscale, lossless PNG
    assert drawn.shape[:2] == gt.shape
    assert (drawn[gt == 0] == GREY).all() and not (drawn[gt > 0] == GREY).all(axis=-1).any()
    error = next(i for i in at.image if i.captions and i.captions[0].startswith("Relative error"))
    assert "grey = no measurement" in error.captions[0]
    assert (shown_image(error.value[0])[gt == 0] == GREY).all()

    # finding 11: the scatter's axes fit the data; delta is stated as factors; title = menu entry
    scatter = next(s for s in _specs(at) if s["layout"].get("xaxis", {}).get("title", {}).get("text") == "true depth (metres)")
    valid = gt[gt > 0]
    x_lo, x_hi = scatter["layout"]["xaxis"]["range"]
    assert scatter["layout"]["yaxis"]["range"] == [x_lo, x_hi]
    span = float(valid.max() - valid.min())  # the aligned prediction equals the truth here (AbsRel 0)
    assert valid.min() - 0.06 * span < x_lo < valid.min() and valid.max() < x_hi < valid.max() + 0.06 * span
    caption = texts(at)
    assert "56 %" not in caption and "95 %" not in caption
    assert "1.25² = 1.5625" in caption and "from 0.80× to 1.25×" in caption
    from ui.pages import PAGES  # the menu's titles

    menu = [e.title for entries in PAGES.values() for e in entries if e.script == "evaluate.py"]
    assert menu == [at.title[0].value] == ["Evaluate vs Ground Truth"]

    # finding 11: the upload survives a visit to another page
    scores = metrics(at)
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception and metrics(at) == scores
    assert "Scoring **gt.npy**, uploaded before you left this page" in texts(at)
    at.button(key="gt_forget").click().run()
    assert "AbsRel" not in metrics(at)


def test_a_wrong_size_kitti_png_warns_once_and_says_its_unit(open_page, depth):
    at = open_page("evaluate")
    gt = 1.0 / (0.003 * depth.astype(np.float64) + 0.2)  # 64x192 metres
    square = cv2.resize(gt, (64, 64), interpolation=cv2.INTER_NEAREST)  # another aspect ratio
    ok, png = cv2.imencode(".png", np.rint(square * 256).astype(np.uint16))  # KITTI: 256 steps per metre
    assert ok
    options = at.radio(key="gt_unit").options
    assert not any("metres" in o for o in options), options  # a 16-bit PNG in whole metres is no real format
    at.radio(key="gt_unit").set_value("1/256 m (KITTI)")

    _upload_gt(at, "kitti.png", png.tobytes())

    assert not at.main.success  # before: a green "success" box above the warning
    warning = " ".join(w.value for w in at.warning)
    assert "**kitti.png**: a 16-bit PNG, one step = 1/256 m, 64×64" in warning
    assert "Its width/height ratio is 1.00, the photo's (192×64) is 3.00" in warning


def test_a_text_file_named_npy_is_refused_in_a_users_words(open_page):
    at = open_page("evaluate")
    _upload_gt(at, "depth.npy", b"x,y,depth\n0,0,1.5\n1,0,1.6\n")

    errors = _errors(at)
    assert "**depth.npy** cannot be read as ground truth: this file is neither a PNG image nor a NumPy array" in errors
    assert "kind=" not in errors and "numpy.save" in errors
    assert "AbsRel" not in metrics(at)


# ---------------------------------------------------------------- browser journeys (findings 2 and 4)

def _fetch_image(page, server: str, caption: str) -> np.ndarray:
    """The pixels of the st.image whose caption starts with ``caption``, as the browser got them."""
    figure = page.locator('[data-testid="stImage"]').filter(has_text=re.compile("^" + re.escape(caption)))
    src = figure.locator("img").first.get_attribute("src")
    with urllib.request.urlopen(server + src if src.startswith("/") else src, timeout=30) as response:
        data = response.read()
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def _click_pixel(page, x: int, y: int) -> None:
    """Click pixel (x, y) of the calibration photo, through the axes Plotly drew (hover first, as a mouse does)."""
    page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first.wait_for(state="visible", timeout=UI_TIMEOUT)
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0)")
    click_chart(page, x, y)


def _type_distance(page, number: int, text: str) -> None:
    """Type the distance of the point just picked in its box under the photo, as soon as the box is there."""
    box = page.get_by_label(re.compile(rf"^Distance of point {number} \("))
    box.wait_for(timeout=UI_TIMEOUT)
    box.click()
    box.type(text, delay=50)
    box.press("Enter")


def _type_in_table(page, row: int, text: str) -> None:
    """Replace the distance in a table row (0-based) by typing on its selected cell, as a user does.

    The grid loads its number editor the first time one opens, and a key pressed meanwhile is
    lost (why the page has a distance box); so the editor is opened and closed once first.
    """
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # let the grid redraw where it now is
    area = grid.bounding_box()
    page.mouse.click(area["x"] + 0.85 * area["width"], area["y"] + 35 * (row + 1) + 17)
    # the cell holds the focus once selected (column 3: after the row markers and x, y)
    page.wait_for_function("c => document.activeElement && document.activeElement.dataset.testid === c",
                           arg=f"glide-cell-3-{row}", timeout=30_000)
    editor = page.locator(".gdg-input")
    page.keyboard.press("Enter")
    editor.first.wait_for(timeout=UI_TIMEOUT)
    page.keyboard.press("Escape")
    editor.first.wait_for(state="detached", timeout=UI_TIMEOUT)
    page.keyboard.type(text, delay=50)  # a key on a selected cell starts a fresh edit with it
    page.wait_for_function("t => { const e = document.querySelector('.gdg-input'); return e && e.value === t; }",
                           arg=text, timeout=UI_TIMEOUT)
    page.keyboard.press("Enter")


@pytest.mark.browser
def test_journey_calibrate_with_sky_like_far_pixels(page, server: str) -> None:
    # Finding 4 (and 10): two clicked pixels, 2 m and 20 m, each distance typed as soon as its box
    # appears; the views in metres stay readable and say how many pixels lie beyond their range.
    go_to(page, "Calibrate to Metres")
    page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first.wait_for(state="visible", timeout=UI_TIMEOUT)
    xs, ys, ds = (np.array(v) for v in chart_eval(page, 0, "const t = gd._fullData[1]; "
                                                       "return [Array.from(t.x), Array.from(t.y), Array.from(t.customdata)];"))
    assert chart_eval(page, 0, "return gd._fullData.filter(t => t.name === 'picked').length;") == 0  # no A, B yet
    grid = np.full((int(ys.max()) + 1, int(xs.max()) + 1), np.median(ds))  # the click grid's values, in place
    grid[ys.astype(int), xs.astype(int)] = ds
    (near_x, near_y, _), (far_x, far_y, _) = _long_tail_rows(grid)

    _click_pixel(page, near_x, near_y)
    _type_distance(page, 1, "2")
    _click_pixel(page, far_x, far_y)
    _type_distance(page, 2, "20")
    page.get_by_text("3. The depth map in metres").wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    assert metric_value(page, "Points used") == "2"  # neither typed distance was lost

    far_end = float(metric_value(page, "Far end (p99)").removesuffix(" m").replace(",", ""))
    near_end = float(metric_value(page, "Near end (p1)").removesuffix(" m").replace(",", ""))
    beyond = int(metric_value(page, "Pixels beyond the range").replace(",", ""))
    caption = page.get_by_text(re.compile("^The heatmap, the histogram and the point cloud show")).inner_text()
    farthest = float(re.search(r"up to ([\d,.]+) m", caption).group(1).replace(",", ""))
    assert 1.9 < near_end < far_end < farthest / 10 and beyond > 0  # a long tail, kept out of the views
    charts = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').count()
    found = [chart_eval(page, i, "const L = gd._fullLayout; if (L.scene) { const y = gd._fullData[0].y; "
                             "let hi = -Infinity; for (const v of y) hi = Math.max(hi, v); return ['cloud', hi]; } "
                             "return L.xaxis && L.xaxis.title && L.xaxis.title.text === 'depth (metres)' ? "
                             "['histogram', L.xaxis.range] : null;") for i in range(charts)]
    found = dict(f for f in found if f is not None)
    histogram = found["histogram"]
    # the metrics show 2 decimals, so 0.01 m; the histogram's axis is the window itself
    assert histogram[0] == pytest.approx(near_end, abs=0.01) and histogram[1] == pytest.approx(far_end, abs=0.01)
    assert found["cloud"] <= far_end + 0.01  # the farthest point of the cloud is the window's end, not the sky
    labels = chart_eval(page, 0, "return gd._fullData.filter(t => t.name === 'picked')[0].text;")
    assert labels == ["1", "2", "A", "B"]  # the measuring ends appear with the calibration
    full_page_screenshot(page, "measure_calibrate_far_pixels")

    _type_in_table(page, 1, "-4")  # the grid keeps a typed minus sign, and the page refuses it in words
    page.get_by_text(re.compile(r"has distance -4 m: a distance must be a positive number")).wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    assert chart_eval(page, 0, "return gd._fullData.filter(t => t.name === 'picked')[0].text;") == ["1", "2"]
    full_page_screenshot(page, "measure_calibrate_negative_distance")


@pytest.mark.browser
def test_journey_evaluate_a_sparse_ground_truth(page, server: str, tmp_path: Path) -> None:
    # Finding 2 (and 11): a ground truth with holes; the holes are grey on screen, not the nearest
    # colour; the scatter's axes fit the data; the upload survives a visit to another page.
    go_to(page, "Evaluate vs Ground Truth")
    page.get_by_text("Upload a ground-truth depth map to score the prediction").wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    button = page.get_by_role("button", name=re.compile("Synthetic ground truth"))
    page.get_by_text("No ground truth at hand? A self-check").click()
    button.wait_for(state="visible", timeout=UI_TIMEOUT)
    with page.expect_download(timeout=UI_TIMEOUT) as download:
        button.click()
    synthetic = tmp_path / "synthetic.png"
    download.value.save_as(str(synthetic))
    with Image.open(synthetic) as img:
        gt = np.asarray(img).copy()  # uint16 millimetres
    gt[:, : gt.shape[1] // 3] = 0  # a third without measurement
    gt[::2] = 0  # and every other row, as a sparse LiDAR scan
    sparse = tmp_path / "sparse_gt.png"
    Image.fromarray(gt).save(sparse)
    page.locator('[data-testid="stMain"] input[type="file"]').first.set_input_files(str(sparse))
    wait_idle(page, UI_TIMEOUT)
    page.get_by_text("Where it is wrong").wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)

    truth = _fetch_image(page, server, "Ground truth")
    assert truth.shape[:2] == gt.shape  # 600 px wide: drawn as is, lossless PNG
    holes = gt == 0
    assert (truth[holes] == GREY).all()  # before: the brightest, "nearest" colour
    assert not (truth[~holes] == GREY).all(axis=-1).any()
    assert page.get_by_text(re.compile(r"^Ground truth, .*grey = no measurement")).count() == 1
    page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first.wait_for(timeout=UI_TIMEOUT)
    page.wait_for_function("() => { const gd = document.querySelector('[data-testid=\"stPlotlyChart\"] "
                           ".js-plotly-plot'); return gd && gd._fullLayout; }", timeout=UI_TIMEOUT)
    x_range = chart_eval(page, 0, "return gd._fullLayout.xaxis.range;")
    valid_m = gt[~holes] / 1000.0
    assert valid_m.min() - 0.06 * np.ptp(valid_m) < x_range[0] < valid_m.min()
    assert valid_m.max() < x_range[1] < valid_m.max() + 0.06 * np.ptp(valid_m)
    full_page_screenshot(page, "measure_evaluate_sparse_truth")

    abs_rel = metric_value(page, "AbsRel")
    go_to(page, "Home", "MiDaS depth explorer")
    go_to(page, "Evaluate vs Ground Truth")
    page.get_by_text(re.compile("uploaded before you left this page")).wait_for(timeout=UI_TIMEOUT)
    assert metric_value(page, "AbsRel") == abs_rel
