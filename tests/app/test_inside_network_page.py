"""Inside the Network (issue 15): an AppTest with clicks, and a browser journey.

The AppTest uploads the small test photo, reads the architecture table and the totals, clicks
"Nearest pixel" and checks the receptive-field figures against ``core`` run independently on the
same checkpoint, turns on the student exercise mode and picks another block. The journey
(marked ``browser``) picks a sample, opens the page, chooses a block, clicks the depth map and
waits for the receptive-field overlay of the clicked pixel; screenshots go to
``artifacts/screenshots/inside_network_*.png``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.io.images import decode_image
from core.midas.transforms import network_input_size
from core.teaching.network_anatomy import NetworkInspector, block_table, exercise_snippets
from core.teaching.network_receptive_field import (
    effective_radius,
    influence_map,
    midas_deepest_path,
    photo_to_network,
    receptive_field_size,
)
from tests.app.test_journeys import _pick
from tests.app.test_teaching_pages import PHOTO_PNG, depth, metrics, open_page, predictor, table_with, texts  # noqa: F401
from tests.browser_support import UI_TIMEOUT, chart_eval, full_page_screenshot, go_to, wait_idle

MIDAS_SMALL_PARAMETERS = "21,320,545"


@pytest.fixture(scope="module")
def inspector(reference_weights) -> NetworkInspector:
    return NetworkInspector.from_weights(reference_weights)


def test_inside_the_network_shows_the_blocks_and_answers_a_click(open_page, inspector, depth):
    at = open_page("inside_network")
    rgb = decode_image(PHOTO_PNG)  # 64x192
    h, w = network_input_size(64, 192, 256)
    run = inspector.run(rgb, 256)

    assert [x.value for x in at.header] == [
        "1. The architecture, drawn from the model", "2. Activations",
        "3. Receptive field: what one output pixel looks at", "4. Misconceptions, corrected with evidence",
    ]
    shown = metrics(at)
    assert shown["Parameters, sum of the blocks"] == shown["Parameters, the model's own count"] == MIDAS_SMALL_PARAMETERS
    assert shown["FLOPs, the whole pass"] == f"{run.total_flops / 1e9:.2f} GFLOP"
    table = table_with(at, "GFLOP")
    expected = block_table(run)
    assert list(table["output (C × h × w)"]) == [r["output (C × h × w)"] for r in expected]
    assert list(table["parameters"]) == [r["parameters"] for r in expected]
    assert list(table["GFLOP"]) == [r["GFLOP"] for r in expected]
    assert f"{w}×{h}" in texts(at)
    field = receptive_field_size(midas_deepest_path(inspector.model))
    assert shown["Theoretical receptive field"] == f"{field} px"

    at.button(key="net_rf_nearest").click().run()  # the click: where does the nearest point look?

    assert not at.exception, at.exception
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    assert (at.number_input(key="net_rf_x").value, at.number_input(key="net_rf_y").value) == (x, y)
    nx, ny = photo_to_network(int(x), int(y), (64, 192), (h, w))
    assert any(f"|d output(x {nx}, y {ny}) / d input|" in c.value for c in at.caption)
    influence = influence_map(inspector.gradient(run.net_input, ny, nx))
    assert metrics(at)["Radius holding 90 % of the influence"] == f"{effective_radius(influence, ny, nx, 0.9)} px"
    assert len(at.image) >= 4  # channel grid, photo, mean activation, receptive-field overlay

    at.toggle(key="net_exercise").set_value(True).run()
    codes = [c.value for c in at.code]
    for snippet in exercise_snippets(256, "fusion1", nx, ny):
        assert snippet.code in codes, snippet.key

    at.selectbox(key="net_block").set_value("stage4").run()
    assert not at.exception, at.exception
    c, bh, bw = run.block("stage4").shape
    assert any(f"Output {c} × {bh} × {bw}." in m.value for m in at.markdown)
    assert next(s for s in exercise_snippets(256, "stage4", nx, ny) if s.key == "activations").code in [
        c.value for c in at.code
    ]
    links = {p.proto.page for p in at.get("page_link")}  # a page's URL name
    assert {"calibrate", "performance_lab", "scale_shift"} <= links, links
    assert "and **0** attention, layer-norm, linear or patch-embedding modules" in texts(at)


@pytest.mark.browser
def test_journey_inside_the_network_click_shows_the_receptive_field(page, server: str) -> None:
    _pick(page, "pick a sample", "Chelsea the cat")
    page.locator('[data-testid="stSidebar"]').get_by_text("Showing: Chelsea the cat (sample)").wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    go_to(page, "Inside the Network")
    page.get_by_text("3. Receptive field").first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    page.locator('[data-testid="stGraphVizChart"] svg').first.wait_for(timeout=UI_TIMEOUT)  # the diagram drew
    full_page_screenshot(page, "inside_network_page")

    _pick(page, "Block", "Encoder stage 3")
    page.get_by_text(re.compile(r"^Encoder stage 3: EfficientNet")).first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)

    before = page.get_by_text(re.compile(r"^\|d output\(x \d+, y \d+\)")).first.inner_text()
    chart = page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first
    chart.wait_for(state="visible", timeout=UI_TIMEOUT)
    chart.scroll_into_view_if_needed()
    sx, sy = chart_eval(page, 0, "const L = gd._fullLayout, r = gd.getBoundingClientRect(); "
                             "const xr = L.xaxis.range, yr = L.yaxis.range; "
                             "const x = xr[0] + 0.15 * (xr[1] - xr[0]), y = yr[1] + 0.2 * (yr[0] - yr[1]); "
                             "return [r.left + L.xaxis._offset + L.xaxis.d2p(x), r.top + L.yaxis._offset + L.yaxis.d2p(y)];")
    page.mouse.move(sx, sy)
    page.wait_for_timeout(400)
    page.mouse.click(sx, sy)
    page.wait_for_function(
        "b => [...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')]"
        ".some(e => e.innerText.startsWith('|d output(x') && !e.innerText.startsWith(b))",
        arg=before.split(" / ")[0], timeout=UI_TIMEOUT,
    )
    wait_idle(page, UI_TIMEOUT)
    x = int(page.locator(".st-key-net_rf_x input").input_value())
    y = int(page.locator(".st-key-net_rf_y input").input_value())
    assert x > 0 and y > 0 and (x, y) != (0, 0)
    overlay = page.locator('[data-testid="stImage"]').filter(has_text="receptive field").locator("img")
    assert overlay.first.get_attribute("src").startswith("data:image/png")
    page.locator(".st-key-net_block").scroll_into_view_if_needed()
    full_page_screenshot(page, "inside_network_receptive_field")
