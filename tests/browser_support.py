"""What the browser tests and the load test share: Chromium, the real app server, a wait.

* :data:`CHROMIUM` and :data:`CHROMIUM_FLAGS`: the only way this project starts a browser.
* :func:`require_browser`: skip (or fail, with ``REQUIRE_BROWSER=1``) without Chromium or
  the playwright package.
* :func:`streamlit_server`: ``streamlit run dashboard.py`` on a free port on 127.0.0.1 with
  a given checkpoint, ready once ``/_stcore/health`` answers, always stopped on exit.
* :func:`wait_idle`: wait until Streamlit has finished running the script in a page.
* :func:`open_app`, :func:`go_to`, :func:`download`, :func:`metric_value`: what a person
  does in the app (open it, pick a page in the menu, save a download, read a metric).

Only :func:`require_browser` needs pytest, so ``bench/`` can start the server too.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


__all__ = [
    "CHROMIUM",
    "CHROMIUM_FLAGS",
    "HEALTH_TIMEOUT",
    "Server",
    "ServerError",
    "UI_TIMEOUT",
    "VIEWPORT",
    "download",
    "free_port",
    "full_page_screenshot",
    "go_to",
    "metric_value",
    "open_app",
    "require_browser",
    "streamlit_server",
    "wait_idle",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
HEALTH_TIMEOUT = 60  # seconds for the server to answer /_stcore/health
UI_TIMEOUT = 300_000  # milliseconds for a page to finish (model loads, predictions, timing processes)
VIEWPORT = {"width": 1500, "height": 1000}  # a laptop's window
_STOP_TIMEOUT = 15  # seconds for the server to exit after SIGTERM, then after SIGKILL


class ServerError(RuntimeError):
    """The app server exited or never became healthy; the message ends with its log."""


@dataclass(frozen=True)
class Server:
    """A running app server.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        pid: The server process (sessions run as threads inside it).
        log_path: Its stdout and stderr.
    """

    url: str
    pid: int
    log_path: Path


def require_browser():
    """``playwright.sync_api.sync_playwright``, or skip the test when a browser cannot run.

    With ``REQUIRE_BROWSER=1`` (CI) a missing browser fails the test instead.
    """
    import pytest

    def unavailable(reason: str) -> None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)

    if not CHROMIUM.is_file():
        unavailable(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser test")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright Python package is not installed")
    return sync_playwright


@contextmanager
def chromium(*extra_flags: str) -> Iterator:
    """Headless Chromium started the project's one way (skips without it, see require_browser), with ``extra_flags``."""
    sync_playwright = require_browser()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_FLAGS, *extra_flags])
        try:
            yield launched
        finally:
            launched.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(
    weights: Path, workdir: Path, *, env: dict[str, str] | None = None, health_timeout: float = HEALTH_TIMEOUT
) -> Iterator[Server]:
    """Run the dashboard until the ``with`` block ends.

    Args:
        weights: The checkpoint (``MIDAS_WEIGHTS``).
        workdir: Gets ``server.log`` and a private ``TORCH_HOME``, never the user's cache.
        env: Extra environment variables for the server.
        health_timeout: Seconds to wait for ``/_stcore/health``.

    Raises:
        ServerError: The server exited early or never answered in time.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = workdir / "server.log"
    server_env = {**os.environ, "MIDAS_WEIGHTS": str(weights), "TORCH_HOME": str(workdir / "torch"), **(env or {})}
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard.py",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=server_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + health_timeout
        while True:
            if process.poll() is not None:
                raise ServerError(f"streamlit exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"no answer from {url}/_stcore/health within {health_timeout:.0f} s:\n"
                                  f"{log_path.read_text()}")
            time.sleep(0.5)
        yield Server(url=url, pid=process.pid, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)


def wait_idle(page, timeout_ms: float) -> None:
    """Wait until Streamlit has finished running the script (no 'Running…' status)."""
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )


def full_page_screenshot(page, name: str, max_height: int = 12000) -> Path:
    """Save ``artifacts/screenshots/<name>.png`` of the whole page.

    Streamlit scrolls inside its main section, so the viewport is grown to the content's
    height for the shot, then restored.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0)")
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1500, "height": max(1000, min(int(height), max_height))})
    page.wait_for_timeout(2000)  # let the charts re-layout to the new size
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1500, "height": 1000})
    return path


def open_app(browser, url: str, viewport: dict | None = None):
    """A new tab (its own session) on the app at ``url``, once the model panel says it is ready."""
    page = browser.new_page(viewport=viewport or VIEWPORT, accept_downloads=True)
    page.goto(url)
    page.get_by_text("ready", exact=False).first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)
    return page


def go_to(page, title: str, heading: str | None = None) -> None:
    """Pick a page by its menu title and wait for its heading (the title unless given) and its run.

    With more than twelve pages Streamlit shows ten and a "View N more" button, as a user sees it:
    a page below the fold is reached by that button first.
    """
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.wait_for(timeout=UI_TIMEOUT)
    link = nav.get_by_text(title, exact=True)
    more = nav.get_by_text(re.compile(r"^View \d+ more$"))
    if not link.is_visible() and more.count():
        more.first.click()
    link.click()
    page.get_by_role("heading", name=heading or title).first.wait_for(timeout=UI_TIMEOUT)
    wait_idle(page, UI_TIMEOUT)


def download(page, label, folder: Path) -> Path:
    """Click the download button named ``label`` (text or pattern) and save the file under its suggested name in ``folder``."""
    with page.expect_download(timeout=UI_TIMEOUT) as started:
        page.get_by_role("button", name=label).click()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / started.value.suggested_filename
    started.value.save_as(str(path))
    return path


def metric_value(page, label: str) -> str:
    """The value shown by the metric labelled ``label``."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    metric.wait_for(timeout=UI_TIMEOUT)
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def chart_eval(page, index: int, script: str):
    """Evaluate ``script`` (a function body of ``gd``, the plotly div) on the index-th chart of the page."""
    return page.evaluate(
        "([i, body]) => new Function('gd', body)(document.querySelectorAll('[data-testid=\"stPlotlyChart\"] "
        ".js-plotly-plot')[i])",
        [index, script],
    )


def click_chart(page, x: float, y: float, index: int = 0) -> None:
    """Click the point (x, y), in data units, of the index-th chart, through the axes Plotly drew (hover first, as a mouse does)."""
    sx, sy = chart_eval(page, index, f"const L = gd._fullLayout, r = gd.getBoundingClientRect(); "
                                     f"return [r.left + L.xaxis._offset + L.xaxis.d2p({x}), "
                                     f"r.top + L.yaxis._offset + L.yaxis.d2p({y})];")
    page.mouse.move(sx, sy)
    page.wait_for_timeout(400)
    page.mouse.click(sx, sy)
