"""Many users at once: N headless-Chromium sessions each upload their own photo to the real app.

    python -m bench.load_test --sessions 8 --timeout 180

Starts ``streamlit run dashboard.py`` on a free port on 127.0.0.1 with ``MIDAS_WEIGHTS`` (or
the reference checkpoint in ../shared/reference), opens one Chromium with N contexts (one
per user) on the Depth Explorer, and when every page shows the default sample's heatmap,
all N upload at the same moment. Each session uploads a JPEG whose size no other session
uses, named ``session-NN.jpg``; it passes when its page names its own file at its own size
and its heatmap has its own photo's size. A page that names another session's file, or
shows another session's heatmap size, is a mix-up and fails at once.

Records errors, the time from upload to the session's own heatmap (p50, p95), whether a
session ever saw the "Queued:" notice, and the server's resident memory (its process and
any children, from /proc) before the sessions, at its peak during them (sampled every
0.2 s) and after they close. Prints a markdown table; asserts nothing. Exits 1 when any
session failed. Browser traffic is held to 127.0.0.1: any other request is aborted and
counted as an error. ``--timeout`` bounds the whole run of the sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["LoadReport", "SessionResult", "make_upload", "rss_kib", "run_sessions"]

REPO = Path(__file__).resolve().parents[1]
REFERENCE_WEIGHTS = REPO.parent / "shared" / "reference" / "midas_small_random.pt"
MAX_SESSIONS = 64  # sizes stay distinct and under the 1460-px display width up to here
_SAMPLE_EVERY = 0.2  # seconds between RSS samples
_SETTLE = 5.0  # seconds after the sessions close before the "after" RSS sample

# Any http(s) or ws(s) URL whose host is not 127.0.0.1. Matched by the playwright driver,
# so the app's own requests never make a round trip through Python.
_NOT_LOCAL = re.compile(r"^(?:https?|wss?)://(?!127\.0\.0\.1[:/])")

# What a page shows now, read in the browser: the captions that name a file and its size,
# the loaded heatmap images' natural sizes, exceptions, error alerts and the queue notice.
_PAGE_STATE_JS = """
() => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return null;
  const text = (el) => (el.innerText || "").trim();
  const heatmaps = [...main.querySelectorAll('[data-testid="stImage"]')]
    .filter((el) => text(el).startsWith("Heatmap ·"))
    .map((el) => el.querySelector("img"))
    .filter((img) => img && img.complete && img.naturalWidth > 0)
    .map((img) => [img.naturalWidth, img.naturalHeight]);
  return {
    captions: [...main.querySelectorAll('[data-testid="stCaptionContainer"]')]
      .map(text)
      .filter((t) => t.includes(" px ·")),
    heatmaps,
    exceptions: [...document.querySelectorAll('[data-testid="stException"]')].map(text),
    errors: [...document.querySelectorAll('[data-testid="stAlertContentError"]')].map(text),
    queued: window.__sawQueued === true,
  };
}
"""

# Done when the page shows this session's own result, or anything that fails it.
_DONE_JS = (
    "(own) => { const s = (" + _PAGE_STATE_JS + ")(); if (!s) return false;"
    " if (s.exceptions.length || s.errors.length) return true;"
    " if (s.captions.some((t) => /session-\\d+\\.jpg/.test(t) && !t.includes(own.name))) return true;"
    " if (s.heatmaps.some(([w, h]) => own.others.some(([ow, oh]) => ow === w && oh === h))) return true;"
    " return s.captions.some((t) => t.includes(own.name) && t.includes(own.size))"
    " && s.heatmaps.some(([w, h]) => w === own.w && h === own.h); }"
)

# Installed before the app loads: remembers whether "Queued:" was ever added to the page.
_QUEUE_WATCH_JS = """
window.__sawQueued = false;
new MutationObserver((records) => {
  if (window.__sawQueued) return;
  for (const r of records) {
    const nodes = r.type === "characterData" ? [r.target] : [...r.addedNodes];
    if (nodes.some((n) => (n.textContent || "").includes("Queued:"))) { window.__sawQueued = true; return; }
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


@dataclass(frozen=True)
class SessionResult:
    """One simulated user.

    Attributes:
        index: Session number, 0-based.
        file_name: What it uploaded, ``session-NN.jpg``.
        size: ``(width, height)`` of its photo.
        seconds: Upload to its own heatmap on screen; None when it never came.
        ready_seconds: Opening the page to the default sample's heatmap, idle.
        saw_queued: The page showed "Queued: … ahead of you" at some point.
        error: Why the session failed, or None.
    """

    index: int
    file_name: str
    size: tuple[int, int]
    seconds: float | None
    ready_seconds: float | None
    saw_queued: bool
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.seconds is not None


@dataclass
class LoadReport:
    """The whole run: the sessions, the server's memory and what went wrong outside a page."""

    sessions: list[SessionResult]
    rss_before_kib: int
    rss_peak_kib: int
    rss_after_kib: int
    wall_seconds: float
    server_cpu_seconds: float
    browser_cpu_seconds: float
    server_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)

    def errors(self) -> list[str]:
        """Every failure, one line each; empty when the run was clean."""
        lines = [f"session {s.index} ({s.file_name}): {s.error or 'no heatmap'}" for s in self.sessions if not s.ok]
        lines += [f"server log: {line}" for line in self.server_errors]
        lines += [f"request to something other than 127.0.0.1 (aborted): {url}" for url in self.blocked_requests]
        return lines

    def table(self) -> str:
        """The figures as a markdown table."""
        times = [s.seconds for s in self.sessions if s.seconds is not None]
        ready = [s.ready_seconds for s in self.sessions if s.ready_seconds is not None]
        p50, p95 = (np.percentile(times, [50, 95]) if times else (float("nan"), float("nan")))

        def mib(kib: int) -> str:
            return f"{kib / 1024:.0f} MiB"

        rows = [
            ("sessions", f"{len(self.sessions)}"),
            ("errors", f"{len(self.errors())}"),
            ("sessions that saw their own heatmap", f"{sum(s.ok for s in self.sessions)}"),
            ("sessions that saw the queue notice", f"{sum(s.saw_queued for s in self.sessions)}"),
            ("upload to heatmap, p50", f"{p50:.2f} s"),
            ("upload to heatmap, p95", f"{p95:.2f} s"),
            ("upload to heatmap, max", f"{max(times):.2f} s" if times else "n/a"),
            ("page open to ready, max", f"{max(ready):.2f} s" if ready else "n/a"),
            ("wall time of the run", f"{self.wall_seconds:.1f} s"),
            ("CPU time: server / browser and its driver",
             f"{self.server_cpu_seconds:.0f} s / {self.browser_cpu_seconds:.0f} s"),
            ("server RSS before the sessions", mib(self.rss_before_kib)),
            ("server RSS peak during", mib(self.rss_peak_kib)),
            ("server RSS after the sessions closed", mib(self.rss_after_kib)),
        ]
        return "\n".join(["| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def make_upload(index: int) -> tuple[str, bytes, tuple[int, int]]:
    """Session ``index``'s photo: ``(file name, JPEG bytes, (width, height))``, unique per index.

    No two indices share a size, and none has a bundled sample's size, so a heatmap of
    the wrong size on a page means it belongs to someone else.
    """
    if not 0 <= index < MAX_SESSIONS:
        raise ValueError(f"index must be in [0, {MAX_SESSIONS}), got {index}")
    width, height = 256 + 16 * index, 192 + 12 * index
    rng = np.random.default_rng(index)
    small = Image.fromarray(rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8))  # smooth, not noise
    buffer = io.BytesIO()
    small.resize((width, height), Image.BICUBIC).save(buffer, "JPEG", quality=90)
    return f"session-{index:02d}.jpg", buffer.getvalue(), (width, height)


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        try:
            children = [
                int(child)
                for task in Path(f"/proc/{current}/task").iterdir()
                for child in (task / "children").read_text().split()
            ]
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
        found.append(current)
        todo += children
    return found


def _status_kib(pid: int, key: str = "VmRSS:") -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith(key)), 0)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 once it has exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in KiB (0 once it has exited)."""
    return sum(_status_kib(p) for p in _tree(pid))


class _Sampler:
    """Samples on a thread until stopped: the server's peak RSS, and CPU time per process.

    CPU time is kept per process at its largest value seen, so a browser process that
    exits between two samples still counts up to its last sample.
    """

    def __init__(self, server_pid: int) -> None:
        self.peak = rss_kib(server_pid)
        self._cpu: dict[int, tuple[str, float]] = {}  # pid -> ("server" or "browser", seconds)
        self._start = {p: _cpu_seconds(p) for p in _tree(os.getpid())}
        self._stop = threading.Event()

        def sample() -> None:
            while True:
                server = set(_tree(server_pid))
                self.peak = max(self.peak, sum(_status_kib(p) for p in server))
                for p in _tree(os.getpid()):
                    if p != os.getpid():
                        seconds = _cpu_seconds(p) - self._start.get(p, 0.0)
                        side = "server" if p in server else "browser"
                        self._cpu[p] = (side, max(seconds, self._cpu.get(p, (side, 0.0))[1]))
                if self._stop.wait(_SAMPLE_EVERY):
                    return

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> tuple[int, float, float]:
        """Stop; return (peak RSS KiB, server CPU seconds, browser CPU seconds)."""
        self._stop.set()
        self._thread.join(5)
        server = sum(s for side, s in self._cpu.values() if side == "server")
        browser = sum(s for side, s in self._cpu.values() if side == "browser")
        return self.peak, server, browser


def _short(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


async def _session(browser, url: str, index: int, others: list[tuple[int, int]], all_ready: asyncio.Barrier,
                   deadline: float, blocked: list[str]) -> SessionResult:
    name, data, (width, height) = make_upload(index)
    context = await browser.new_context(viewport={"width": 1024, "height": 700}, reduced_motion="reduce")

    async def refuse(route) -> None:  # only requests that do not go to 127.0.0.1 get here
        blocked.append(route.request.url)
        await route.abort()

    def remaining_ms() -> float:
        return max(1.0, (deadline - time.monotonic()) * 1000)

    seconds, ready_seconds, error, saw_queued = None, None, None, False
    page, arrived = None, False
    try:
        await context.route(_NOT_LOCAL, refuse)
        await context.add_init_script(_QUEUE_WATCH_JS)
        page = await context.new_page()
        opened = time.perf_counter()
        await page.goto(f"{url}/explorer", timeout=remaining_ms())
        heatmap = page.locator('[data-testid="stImage"]').filter(has_text="Heatmap ·").locator("img")
        await heatmap.first.wait_for(state="visible", timeout=remaining_ms())  # the default sample's
        await page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=remaining_ms()
        )
        ready_seconds = time.perf_counter() - opened
        uploader = page.locator('[data-testid="stSidebar"] input[type="file"]').first
        arrived = True
        await asyncio.wait_for(all_ready.wait(), timeout=remaining_ms() / 1000)
        start = time.perf_counter()
        await uploader.set_input_files({"name": name, "mimeType": "image/jpeg", "buffer": data}, timeout=remaining_ms())
        own = {"name": name, "size": f"{width}×{height} px", "w": width, "h": height, "others": others}
        await page.wait_for_function(_DONE_JS, arg=own, polling=100, timeout=remaining_ms())
        elapsed = time.perf_counter() - start
        state = await page.evaluate(_PAGE_STATE_JS)
        saw_queued = bool(state["queued"])
        if state["exceptions"] or state["errors"]:
            error = f"the page shows an error: {(state['exceptions'] + state['errors'])[0][:200]}"
        elif [width, height] not in state["heatmaps"] or not any(
            name in c and own["size"] in c for c in state["captions"]
        ):
            error = f"mix-up: the page shows {state['captions']} with heatmaps {state['heatmaps']}"
        else:
            seconds = elapsed
    except Exception as e:  # noqa: BLE001 - every failure is a recorded error, not a crash of the run
        error = _short(e)
        if not arrived:  # count this session as ready, so the others still upload
            asyncio.get_running_loop().create_task(all_ready.wait())
        if page is not None:
            try:
                saw_queued = bool(await page.evaluate("() => window.__sawQueued === true"))
            except Exception:  # noqa: BLE001 - the page may be gone
                pass
    finally:
        await context.close()
    return SessionResult(index, name, (width, height), seconds, ready_seconds, saw_queued, error)


async def _drive(url: str, sessions: int, timeout: float, chromium: Path, flags: list[str],
                 blocked: list[str]) -> list[SessionResult]:
    from playwright.async_api import async_playwright

    deadline = time.monotonic() + timeout
    sizes = [make_upload(i)[2] for i in range(sessions)]
    all_ready = asyncio.Barrier(sessions)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(chromium), args=flags, timeout=60_000)
        try:
            tasks = [
                _session(browser, url, i, [s for j, s in enumerate(sizes) if j != i], all_ready, deadline, blocked)
                for i in range(sessions)
            ]
            # each wait is bounded by the deadline; this bounds the whole, closing included
            return await asyncio.wait_for(asyncio.gather(*tasks), timeout=timeout + 30)
        finally:
            await browser.close()


def run_sessions(url: str, server_pid: int, log_path: Path, *, sessions: int = 8, timeout: float = 180.0,
                 chromium: Path, flags: list[str]) -> LoadReport:
    """Drive ``sessions`` concurrent users against a running app and measure.

    Args:
        url: The app, ``http://127.0.0.1:<port>``.
        server_pid: Its process, for the memory figures.
        log_path: Its log, searched for tracebacks afterwards.
        sessions: Concurrent users, 1 to ``MAX_SESSIONS``.
        timeout: Seconds for the whole run, from opening the pages to the last heatmap.
        chromium: The browser executable.
        flags: Its command-line flags.
    """
    if not 1 <= sessions <= MAX_SESSIONS:
        raise ValueError(f"sessions must be in [1, {MAX_SESSIONS}], got {sessions}")
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    log_start = log_path.stat().st_size if log_path.exists() else 0
    before = rss_kib(server_pid)
    sampler = _Sampler(server_pid)
    blocked: list[str] = []
    start = time.monotonic()
    try:
        results = asyncio.run(_drive(url, sessions, timeout, chromium, flags, blocked))
    finally:
        peak, server_cpu, browser_cpu = sampler.stop()
    wall = time.monotonic() - start
    time.sleep(_SETTLE)
    after = rss_kib(server_pid)
    log = log_path.read_bytes()[log_start:].decode(errors="replace") if log_path.exists() else ""
    server_errors = [line.strip() for line in log.splitlines() if "Traceback" in line or "Uncaught app" in line]
    return LoadReport(list(results), before, max(peak, before, after), after, wall, server_cpu, browser_cpu,
                      server_errors, blocked)


def _session_rows(report: LoadReport) -> str:
    rows = ["| session | file | size | page ready | upload to heatmap | queued | error |",
            "|---|---|---|---|---|---|---|"]
    for s in report.sessions:
        took = f"{s.seconds:.2f} s" if s.seconds is not None else "-"
        ready = f"{s.ready_seconds:.2f} s" if s.ready_seconds is not None else "-"
        rows.append(f"| {s.index} | {s.file_name} | {s.size[0]}×{s.size[1]} | {ready} | {took} | "
                    f"{'yes' if s.saw_queued else 'no'} | {(s.error or '').splitlines()[0] if s.error else ''} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    from tests.browser_support import CHROMIUM, CHROMIUM_FLAGS, streamlit_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8, help=f"concurrent users (1-{MAX_SESSIONS})")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds for the whole run of the sessions")
    args = parser.parse_args(argv)
    weights = Path(os.environ.get("MIDAS_WEIGHTS", REFERENCE_WEIGHTS))
    if not CHROMIUM.is_file():
        parser.error(f"{CHROMIUM} is missing: install Debian's chromium package")
    if not weights.is_file():
        parser.error(f"no checkpoint at {weights}: set MIDAS_WEIGHTS")
    with tempfile.TemporaryDirectory(prefix="load_test_") as workdir, \
            streamlit_server(weights, Path(workdir)) as server:
        report = run_sessions(server.url, server.pid, server.log_path, sessions=args.sessions,
                              timeout=args.timeout, chromium=CHROMIUM, flags=CHROMIUM_FLAGS)
    print(_session_rows(report), end="\n\n")
    print(report.table())
    for line in report.errors():
        print(f"ERROR {line}")
    return 1 if report.errors() else 0


if __name__ == "__main__":
    raise SystemExit(main())
