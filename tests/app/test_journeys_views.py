"""User journeys on the views, in headless Chromium: the 3D chart, and the app on a phone (issue 11).

* Finding 7: the 3D chart opens framed, with labelled axes; its view buttons and "Reset view"
  move the camera in the browser (no rerun, no new figure); the view the user turned to is
  kept when a slider redraws the chart; a slider step sends a figure far smaller than 1 MB.
* Finding 8 (and the titles of finding 12): at 390×844 the sidebar is closed after load and
  after a page is picked, no chart title is cut off or under the toolbar, the histogram's axis
  spans the data, and the percentile table fits the screen.

Screenshots go to ``artifacts/screenshots/journey_views_*.png``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from tests.app.test_journeys import _open, _slider
from tests.browser_support import SCREENSHOTS, UI_TIMEOUT, VIEWPORT, wait_idle

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# a phone's browser: Streamlit closes the sidebar after a page is picked only for a mobile user agent
PHONE_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/124.0.0.0 Mobile Safari/537.36")


def _idle(page) -> None:
    wait_idle(page, UI_TIMEOUT)


def _shot(page, name: str) -> None:
    """A screenshot of the viewport as it is (a phone's screen is the point of the phone journey)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


# ---------------------------------------------------------------- finding 7: the 3D chart

_CHART = '.st-key-cloud_chart:not([data-stale="true"]) .js-plotly-plot'

# the graph now on screen, once plotly has drawn its scene
_SCENE_JS = f"""() => {{
  const gd = document.querySelector('{_CHART}');
  const scene = gd && gd._fullLayout && gd._fullLayout.scene;
  if (!scene || !scene._scene) return null;
  const pick = (c) => ({{eye: c.eye, center: c.center, up: c.up}});
  return {{
    camera: pick(scene._scene.getCamera()),  // the live camera: the layout's can lag behind a drag
    titles: ["xaxis", "yaxis", "zaxis"].map((a) => scene[a].title.text),
    buttons: gd.layout.updatemenus[0].buttons.map((b) => [b.label, b.args[0]["scene.camera"]]),
    revision: String(gd.layout.uirevision),
    points: gd._fullData[0]._length,
  }};
}}"""


def _scene(page) -> dict:
    page.wait_for_function(_SCENE_JS, timeout=UI_TIMEOUT)
    return page.evaluate(_SCENE_JS)


def _screen_up(camera: dict) -> list[float]:
    """The direction shown upwards: ``up`` made square to the line of sight (plotly reports it either way)."""
    sight = [camera["center"][k] - camera["eye"][k] for k in "xyz"]
    norm = sum(v * v for v in sight) ** 0.5
    sight = [v / norm for v in sight]
    up = [camera["up"][k] for k in "xyz"]
    along = sum(u * s for u, s in zip(up, sight))
    square = [u - along * s for u, s in zip(up, sight)]
    length = sum(v * v for v in square) ** 0.5
    return [v / length for v in square]


def _close(a: dict, b: dict, tol: float = 1e-4) -> bool:
    """Two cameras show the same view: same eye, same centre, same direction up on the screen.

    The live camera is rebuilt from plotly's float32 view matrix (about 1e-7 relative), so 1e-4
    is a wide margin for rounding and far below any turn a user makes (the journey's drag moves
    the eye by more than 0.1).
    """
    same = all(abs(a[part][k] - b[part][k]) <= tol * max(1.0, abs(b[part][k])) for part in ("eye", "center") for k in "xyz")
    return same and all(abs(u - v) <= tol for u, v in zip(_screen_up(a), _screen_up(b)))


def _mark_graph(page) -> None:
    page.evaluate(f"() => {{ document.querySelector('{_CHART}').__journeyOld = true; }}")


def _new_graph_drawn(page) -> None:
    page.wait_for_function(f"""() => {{
      const gd = document.querySelector('{_CHART}');
      return gd && !gd.__journeyOld && gd._fullLayout && gd._fullLayout.scene && gd._fullLayout.scene._scene;
    }}""", timeout=UI_TIMEOUT)


def _view_button(page, label: str):
    return page.locator('.st-key-cloud_chart:not([data-stale="true"]) .updatemenu-button').filter(has_text=label)


def test_the_3d_chart_is_framed_its_views_are_client_side_and_a_turned_view_survives_a_slider(
    server: str, browser
) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    received: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(len(payload))))
    try:
        page.goto(server)
        page.get_by_text("ready", exact=False).first.wait_for(timeout=UI_TIMEOUT)
        _idle(page)
        _open(page, "3D Point Cloud")
        scene = _scene(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert scene["titles"] == ["x (right)", "depth (relative, unitless)", "y (down)"]
        views = dict(scene["buttons"])
        assert list(views) == ["Front", "Top", "Side", "Reset view"]
        assert _close(scene["camera"], views["Front"]) and _close(views["Reset view"], views["Front"])
        page.locator(".st-key-cloud_chart").first.scroll_into_view_if_needed()
        page.wait_for_timeout(1500)
        _shot(page, "journey_views_cloud_front")

        # a view button moves the camera in the browser: same graph, nothing from the server
        _mark_graph(page)
        before = len(received)
        _view_button(page, "Top").click()
        page.wait_for_function(f"() => document.querySelector('{_CHART}')._fullLayout.scene._scene.getCamera().up.y > 0.999",
                               timeout=30_000)
        page.wait_for_timeout(1500)
        assert page.evaluate(f"() => document.querySelector('{_CHART}').__journeyOld === true"), "the chart was rebuilt"
        assert len(received) == before, "choosing a view went to the server"
        assert _close(_scene(page)["camera"], views["Top"])
        _shot(page, "journey_views_cloud_top")

        # turn the view by dragging, as a user does
        box = page.locator(_CHART).bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.down()
        for step in range(1, 21):  # with pauses: plotly turns the camera once per animation frame
            page.mouse.move(cx + 9 * step, cy + 3 * step)
            page.wait_for_timeout(30)
        page.mouse.up()
        page.wait_for_timeout(1500)  # the keeper saves the camera on plotly's relayout event
        turned = _scene(page)["camera"]
        assert not _close(turned, views["Top"], tol=1e-3), "the drag did not turn the view"

        # a slider step draws a new figure; the turned view is put back on it
        before = len(received)
        handle = _slider(page, "Field of view").nth(0)
        handle.focus()
        handle.press("ArrowRight")
        _new_graph_drawn(page)
        _idle(page)
        page.wait_for_function(
            f"""(want) => {{
              const c = document.querySelector('{_CHART}')._fullLayout.scene._scene.getCamera();
              return Math.abs(c.eye.x - want.eye.x) + Math.abs(c.eye.y - want.eye.y) + Math.abs(c.eye.z - want.eye.z) < 1e-4;
            }}""", arg=turned, timeout=30_000)
        after_step = _scene(page)
        assert _close(after_step["camera"], turned), "the slider step lost the view the user turned to"
        sent = sum(received[before:])
        # the figure of the default budget: 1.06 MB before issue 11, about 0.43 MB at 20k points
        assert sent < 600_000, f"a slider step sent {sent:,} bytes"
        _shot(page, "journey_views_cloud_turned_after_slider")

        _view_button(page, "Reset view").click()
        page.wait_for_function(f"() => document.querySelector('{_CHART}')._fullLayout.scene._scene.getCamera().eye.y < 0",
                               timeout=30_000)
        reset = _scene(page)
        assert _close(reset["camera"], dict(reset["buttons"])["Front"])
        page.wait_for_timeout(1500)
        _shot(page, "journey_views_cloud_reset")
    finally:
        page.close()


# ---------------------------------------------------------------- finding 8: a phone

def _sidebar_open(page) -> bool:
    return page.locator('[data-testid="stSidebar"]').get_attribute("data-collapsed") == "false"


_TITLE_AND_TOOLBAR_JS = """(key) => {
  const chart = document.querySelector(`.st-key-${key}:not([data-stale="true"])`);
  const svg = chart.querySelector(".main-svg").getBoundingClientRect();
  const title = chart.querySelector(".gtitle").getBoundingClientRect();
  const bar = chart.querySelector(".modebar").getBoundingClientRect();
  return {svg: [svg.left, svg.right], title: [title.left, title.top, title.right, title.bottom],
          bar: [bar.left, bar.top, bar.right, bar.bottom], bar_shown: getComputedStyle(chart.querySelector(".modebar")).opacity};
}"""


def _title_clear(page, key: str) -> dict:
    """Show the chart's toolbar (hover), then measure its title and its toolbar."""
    chart = page.locator(f'.st-key-{key}:not([data-stale="true"])')
    chart.scroll_into_view_if_needed()
    chart.hover()
    page.wait_for_timeout(700)
    return page.evaluate(_TITLE_AND_TOOLBAR_JS, key)


def test_on_a_phone_the_sidebar_closes_and_the_explorer_fits_the_screen(server: str, browser) -> None:
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True, user_agent=PHONE_AGENT)
    try:
        page.goto(server)
        page.get_by_role("heading", name="MiDaS depth explorer").wait_for(timeout=UI_TIMEOUT)
        _idle(page)
        page.wait_for_timeout(1000)
        _shot(page, "journey_views_phone_home")
        assert not _sidebar_open(page), "the sidebar covers the phone's screen after load"

        page.locator('[data-testid="stExpandSidebarButton"]').click()
        page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]').dataset.collapsed === 'false'",
                               timeout=30_000)
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Depth Explorer", exact=True).click()
        page.get_by_role("heading", name="Depth Explorer").first.wait_for(timeout=UI_TIMEOUT)
        _idle(page)
        page.wait_for_timeout(1000)
        _shot(page, "journey_views_phone_explorer")
        assert not _sidebar_open(page), "the sidebar stayed open after a page was picked"

        # the chart titles: whole, and clear of the toolbar
        for key in ("probe_chart", "histogram_chart"):
            box = _title_clear(page, key)
            _shot(page, f"journey_views_phone_{key}")
            left, top, right, bottom = box["title"]
            assert box["svg"][0] <= left and right <= box["svg"][1], f"{key}: the title runs off the chart: {box}"
            b_left, b_top, b_right, b_bottom = box["bar"]
            overlap = left < b_right and b_left < right and top < b_bottom and b_top < bottom
            assert not overlap, f"{key}: the toolbar covers the title: {box}"

        # the histogram's axis spans the data, with a small pad, not -500...1000 for data in 0...380
        x_range, (first, last) = page.evaluate("""() => {
          const gd = document.querySelector('.st-key-histogram_chart:not([data-stale="true"]) .js-plotly-plot');
          const xs = gd._fullData[0].x, w = gd._fullData[0].width;
          return [gd._fullLayout.xaxis.range, [xs[0] - w / 2, xs[xs.length - 1] + w / 2]];
        }""")
        span = last - first
        assert first - 0.05 * span <= x_range[0] <= first and last <= x_range[1] <= last + 0.05 * span, (x_range, first, last)

        # the percentile table fits: nothing to scroll sideways, nothing past the screen's edge
        table = page.locator('[data-testid="stDataFrame"]').first
        table.scroll_into_view_if_needed()
        page.wait_for_timeout(700)
        _shot(page, "journey_views_phone_table")
        fits = page.evaluate("""() => {
          const frame = document.querySelector('[data-testid="stDataFrame"]');
          const scroller = frame.querySelector('.dvn-scroller') || frame;
          const r = frame.getBoundingClientRect();
          return {scroll: scroller.scrollWidth, client: scroller.clientWidth, right: r.right, width: innerWidth};
        }""")
        assert fits["scroll"] <= fits["client"] + 1 and fits["right"] <= fits["width"], fits
    finally:
        page.close()


# ---------------------------------------------------------------- finding 12: the prediction's spinner

# the spinner's text, and every caption or paragraph of the page it covers (outside the spinner)
_SPINNER_OVERLAPS_JS = """() => {
  const spinner = document.querySelector('[data-testid="stMain"] [data-testid="stSpinner"]');
  if (!spinner) return null;
  const s = spinner.querySelector("p").getBoundingClientRect();
  const hit = [];
  for (const el of document.querySelectorAll('[data-testid="stMain"] [data-testid="stCaptionContainer"], [data-testid="stMain"] [data-testid="stMarkdownContainer"] p')) {
    if (spinner.contains(el) || !el.innerText.trim()) continue;
    const r = el.getBoundingClientRect();
    if (r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom) hit.push(el.innerText.slice(0, 60));
  }
  return hit;
}"""


def test_the_prediction_spinner_covers_no_stale_text(page, tmp_path) -> None:
    # Streamlit shows a spinner only after 0.5 s. A 12 MP photo makes the prediction slower than
    # that on any machine: its output is resized back to 4000x3000, and N = 1024 costs 16 times N = 256.
    photo = tmp_path / "IMG_12MP.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)).save(photo, quality=80)
    _open(page, "Depth Explorer")
    page.locator('[data-testid="stSidebar"] input[type="file"]').first.set_input_files(str(photo))
    page.get_by_text(re.compile(r"IMG_12MP\.jpg · 4000×3000 px")).wait_for(timeout=UI_TIMEOUT)
    _idle(page)
    # every change of the page is checked as it happens (a poll from here could miss a spinner
    # that shows for a fraction of a second): was a spinner drawn, and what did it cover
    page.evaluate("""(check) => {
      const overlaps = eval(check);
      window.__spinner = {seen: 0, covered: []};
      const look = () => {
        const covered = overlaps();
        if (covered === null) return;
        window.__spinner.seen += 1;
        window.__spinner.covered.push(...covered);
      };
      new MutationObserver(look).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
    }""", _SPINNER_OVERLAPS_JS)
    size = page.locator('.st-key-net_size input[type="range"]')
    size.focus()
    size.press("End")  # 256 -> 1024: the slowest prediction, so its spinner shows for a while
    page.get_by_text(re.compile(r"network input \d+×\d+ \(N = 1024\)")).wait_for(timeout=UI_TIMEOUT)
    _shot(page, "journey_views_after_spinner")
    spinner = page.evaluate("window.__spinner")
    assert spinner["seen"], "no prediction spinner was seen"
    assert spinner["covered"] == [], f"the spinner is drawn over {sorted(set(spinner['covered']))}"
