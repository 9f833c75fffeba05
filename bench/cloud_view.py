"""How long one slider step takes on the 3D Point Cloud page, seen from the browser.

    python -m bench.cloud_view --steps 5

Starts ``streamlit run dashboard.py`` with ``MIDAS_WEIGHTS`` (or the reference checkpoint in
../shared/reference), opens the 3D Point Cloud page in headless Chromium and moves the
field-of-view slider one step at a time with the keyboard, as a user can. Each step is timed
in the page: from the key press (``performance.now()`` in a capturing ``keydown`` listener)
to the chart showing the new points (a plotly graph whose ``data`` is not the one drawn before
the step, then two animation frames so that WebGL has painted). Also counts the bytes the
server sent over the websocket during the step (the new figure, mostly).

Runs at the default point budget on the default sample (and at each ``--budget``), then at the 300k maximum on
``samples/grace_hopper.jpg`` (512×600 = 307,200 pixels). Prints a markdown table; asserts
nothing. The machine's load changes these numbers: run it on a quiet machine to compare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StepTimes", "main", "time_steps"]

REPO = Path(__file__).resolve().parents[1]
REFERENCE_WEIGHTS = REPO.parent / "shared" / "reference" / "midas_small_random.pt"
LARGE_PHOTO = REPO / "samples" / "grace_hopper.jpg"
_UI_TIMEOUT = 300_000  # ms: the first page run loads the model and predicts
_BUDGET_STEP = 5_000  # the point budget slider's step
_SETTLE_MS = 5_000  # after a budget change, before timing steps

# Install once per page: remember when a key goes down on a slider.
_LISTEN_JS = """
() => {
  window.__cloudStepStart = null;
  document.addEventListener("keydown", (e) => {
    if (e.target.closest && e.target.closest('[data-testid="stSlider"]')) window.__cloudStepStart = performance.now();
  }, true);
}
"""

# The 3D chart's graph now on screen (while Streamlit redraws, it keeps the old one, marked stale).
_CHART_JS = 'const _CHART = \'.st-key-cloud_chart:not([data-stale="true"]) .js-plotly-plot\';'

# The 3D chart now: remember its graph div and its data, so a redraw can be told apart.
_MARK_JS = """
() => {
  """ + _CHART_JS + """
  const gd = document.querySelector(_CHART);
  window.__cloudOld = gd ? [gd, gd.data] : [null, null];
  return gd ? gd._fullData[0]._length : 0;
}
"""

# Resolves with [ms from the key press to the new chart painted, points drawn].
_WAIT_JS = """
() => new Promise((resolve) => {
  """ + _CHART_JS + """
  const [oldGd, oldData] = window.__cloudOld;
  const tick = () => {
    const gd = document.querySelector(_CHART);
    if (gd && (gd !== oldGd || gd.data !== oldData) && gd._fullLayout && gd._fullLayout.scene
        && gd._fullLayout.scene._scene && gd.data.length) {
      requestAnimationFrame(() => requestAnimationFrame(() =>
        resolve([performance.now() - window.__cloudStepStart, gd._fullData[0]._length])));
      return;
    }
    requestAnimationFrame(tick);
  };
  tick();
})
"""


@dataclass(frozen=True)
class StepTimes:
    """One series of slider steps.

    Attributes:
        label: what was measured.
        points: points drawn after the last step.
        ms: milliseconds per step, key press to the new chart painted.
        ws_bytes: websocket bytes received per step.
    """

    label: str
    points: int
    ms: list[float]
    ws_bytes: list[int]

    def row(self) -> str:
        ms = sorted(self.ms)
        return (f"| {self.label} | {self.points:,} | {statistics.median(ms):,.0f} | {ms[0]:,.0f}–{ms[-1]:,.0f} | "
                f"{statistics.median(self.ws_bytes) / 1e6:.2f} |")


def _idle(page) -> None:
    from tests.browser_support import wait_idle

    wait_idle(page, _UI_TIMEOUT)


def time_steps(page, label: str, steps: int, received: list[int]) -> StepTimes:
    """Press ArrowRight ``steps`` times on the field-of-view slider, one step at a time."""
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Field of view").locator('input[type="range"]')
    times, sizes, points = [], [], 0
    for i in range(steps):
        thumb.focus()
        page.evaluate(_MARK_JS)
        before = len(received)
        # always a new value: the browser caches the figures it has seen and would not download them again
        thumb.press("ArrowRight")
        ms, points = page.evaluate(_WAIT_JS)
        _idle(page)
        times.append(float(ms))
        sizes.append(sum(received[before:]))
        print(f"{label}: step {i + 1}: {ms:,.0f} ms, {sizes[-1]:,} bytes, {points} points", flush=True)
    return StepTimes(label, int(points), times, sizes)


def _open(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=_UI_TIMEOUT)
    _idle(page)


def run(url: str, steps: int, budgets: tuple[int, ...] = ()) -> list[StepTimes]:
    """The series against a running app at ``url``: the default budget, each of ``budgets``, then 300k."""
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM, CHROMIUM_FLAGS

    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            received: list[int] = []
            page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(len(payload))))
            page.goto(url)
            page.get_by_text("ready", exact=False).first.wait_for(timeout=_UI_TIMEOUT)
            _idle(page)
            _open(page, "3D Point Cloud")
            page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=_UI_TIMEOUT)
            page.evaluate(_LISTEN_JS)
            budget = page.locator('[data-testid="stSlider"]').filter(has_text="Point budget")
            default = int(float(budget.locator('input[type="range"]').input_value()))
            results.append(time_steps(page, f"default budget ({default:,}), coffee.png 600×400", steps, received))
            handle = budget.locator('input[type="range"]')
            for extra in budgets:
                current = int(float(handle.input_value()))
                handle.focus()
                for _ in range(abs(extra - current) // _BUDGET_STEP):
                    handle.press("ArrowRight" if extra > current else "ArrowLeft")
                _idle(page)
                page.wait_for_timeout(_SETTLE_MS)  # the last of those reruns' charts may still be drawing
                results.append(time_steps(page, f"budget {int(float(handle.input_value())):,}, coffee.png 600×400",
                                          steps, received))

            page.locator('[data-testid="stSidebar"] input[type="file"]').first.set_input_files(str(LARGE_PHOTO))
            page.locator('[data-testid="stSidebar"]').get_by_text(f"Showing: {LARGE_PHOTO.name}").wait_for(
                timeout=_UI_TIMEOUT)
            _idle(page)
            handle.focus()
            handle.press("End")
            _idle(page)
            page.wait_for_timeout(_SETTLE_MS)
            results.append(time_steps(page, f"budget {int(float(handle.input_value())):,}, {LARGE_PHOTO.name} 512×600",
                                      steps, received))
        finally:
            browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    from tests.browser_support import CHROMIUM, streamlit_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="slider steps per series (at most 25)")
    parser.add_argument("--url", help="time an app already running at this URL instead of starting one")
    parser.add_argument("--budget", type=int, action="append", default=[],
                        help="also time this point budget on the default sample (a multiple of 5000; repeatable)")
    args = parser.parse_args(argv)
    if not CHROMIUM.is_file():
        parser.error(f"{CHROMIUM} is missing: install Debian's chromium package")
    if args.url:
        results = run(args.url, args.steps, tuple(args.budget))
    else:
        weights = Path(os.environ.get("MIDAS_WEIGHTS", REFERENCE_WEIGHTS))
        if not weights.is_file():
            parser.error(f"no checkpoint at {weights}: set MIDAS_WEIGHTS")
        with tempfile.TemporaryDirectory(prefix="cloud_view_") as workdir, \
                streamlit_server(weights, Path(workdir)) as server:
            results = run(server.url, args.steps, tuple(args.budget))
    print("| series | points | median ms per step | range ms | MB received per step |")
    print("|---|---|---|---|---|")
    for result in results:
        print(result.row())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
