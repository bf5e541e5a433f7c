"""Fixtures for the browser tests: the real local engine, the real app (`streamlit run app.py`) and Chromium.

- `browser_engine` (session): one local engine on a free port, with its own data folder and an API key.
- `studio` (function): `streamlit run app.py` on a free port, its studio home the test's own `studio_home`
  (so a test can seed or read the workspace with `lib.dataprep.workspace.Workspace()`), the engine wired in through
  FTS_ENGINE_URL / FTS_ENGINE_KEY. It records how long the app took to answer.
- `walk` (function): a Chromium page on the app and the helpers a test uses on it; `walk.step(name)`
  waits for the app to settle, saves a screenshot under artifacts/screenshots/<test>/ and fails on any
  Streamlit exception box, "Traceback", or the app's own "Something unexpected went wrong" message.

Chromium is Debian's (/usr/bin/chromium): Playwright's own browser download does not work offline.
Every test here is skipped, with the reason, when it is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.plugins.browser import CHROMIUM
from tests.plugins.engine import EngineServer, free_port, launch

REPO = Path(__file__).resolve().parents[2]
ENGINE_KEY = "browser-engine-key-5f2c"
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
VIEWPORT = {"width": 1400, "height": 1000}
UNEXPECTED = "Something unexpected went wrong on this page"  # ui.render.UNEXPECTED, the app's safety net
APP_START_TIMEOUT = 60.0

# What a newcomer waits for, per test: printed at the end of the run and kept in artifacts/.
TIMINGS: dict[str, dict[str, float]] = {}


def record_timing(test: str, name: str, seconds: float) -> None:
    TIMINGS.setdefault(test, {})[name] = round(seconds, 2)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("browser timings (seconds)")
    for test, figures in TIMINGS.items():
        terminalreporter.write_line(f"{test}: " + ", ".join(f"{k} {v:g}" for k, v in figures.items()))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


@pytest.fixture(autouse=True)
def _needs_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"the browser tests drive Debian's Chromium and {CHROMIUM} is missing "
                    "(apt-get install -y chromium)")


# --- the engine and the app ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_engine(tmp_path_factory) -> Iterator[EngineServer]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    server = launch(tmp_path_factory.mktemp("browser-engine"), api_key=ENGINE_KEY)
    try:
        yield server
    finally:
        server.stop()


def cancel_unfinished_jobs(engine: EngineServer) -> None:
    """Leave the shared engine idle for the next test (a test that fails half-way may leave a job running)."""
    with contextlib.suppress(Exception):
        client = engine.client(timeout=10)
        for job in client.fine_tuning.jobs.list(limit=50):
            if job.status not in ("succeeded", "failed", "cancelled"):
                with contextlib.suppress(Exception):
                    client.fine_tuning.jobs.cancel(job.id)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class Studio:
    url: str
    home: Path
    engine: EngineServer
    process: subprocess.Popen
    log_path: Path
    start_seconds: float

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def studio(studio_home, browser_engine, tmp_path, request) -> Iterator[Studio]:
    """`streamlit run app.py` on a free port, as a user starts it, on the test's own studio home."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "AZURE_OPENAI_")) and k != "OPENAI_API_VERSION"}
    env.update(FTS_HOME=str(studio_home), FTS_ENGINE_URL=browser_engine.base_url, FTS_ENGINE_KEY=ENGINE_KEY,
               PYTHONUNBUFFERED="1")
    log_path = tmp_path / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        while not _answers(url + "/_stcore/health"):
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() - started > APP_START_TIMEOUT:
                pytest.fail(f"streamlit did not answer in {APP_START_TIMEOUT:.0f} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.05)
        seconds = time.monotonic() - started
        record_timing(request.node.name, "streamlit_run_answers", seconds)
        yield Studio(url, Path(studio_home), browser_engine, process, log_path, seconds)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        cancel_unfinished_jobs(browser_engine)
        if "Traceback" in (log_path.read_text(errors="replace") if log_path.exists() else ""):
            # The page showed a plain message (checked by the test); the server log keeps the details.
            print(f"\n--- streamlit log of {request.node.name} (it holds a traceback) ---\n"
                  + log_path.read_text(errors="replace")[-4000:])


# --- the browser ----------------------------------------------------------------------------------------


@dataclass
class Walk:
    """One person at one browser tab on the app."""

    page: object
    studio: Studio
    name: str
    folder: Path
    count: int = 0
    page_errors: list[str] = field(default_factory=list)

    # -- moving around
    def open(self, path: str = "/") -> float:
        """Load a page of the app; the seconds until its first title shows."""
        started = time.monotonic()
        self.page.goto(self.studio.url + path)
        self.page.locator('[data-testid="stHeading"], h1').first.wait_for(timeout=60_000)
        return time.monotonic() - started

    def nav(self, title: str) -> None:
        """Click a page in the sidebar's navigation, as a user does."""
        self.page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
        heading = "Fine-Tune Studio" if title == "Home" else title
        self.page.get_by_role("heading", name=heading, exact=True).first.wait_for(timeout=60_000)
        self.settle()

    def reload(self) -> None:
        self.page.reload()
        self.page.locator('[data-testid="stHeading"], h1').first.wait_for(timeout=60_000)
        self.settle()

    def settle(self, timeout: float = 120) -> None:
        """Wait until the script run the last action started has finished."""
        self.page.wait_for_timeout(300)
        self.page.wait_for_function(
            "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
            " return app && !['running', 'rerunRequested'].includes(app.getAttribute('data-test-script-state')); }",
            timeout=timeout * 1000,
        )

    # -- checking
    def text(self) -> str:
        return self.page.locator("body").inner_text()

    def assert_clean(self, where: str = "") -> None:
        boxes = self.page.locator('[data-testid="stException"]')
        if boxes.count():
            pytest.fail(f"a Streamlit exception box {where}: {boxes.first.inner_text()[:2000]}")
        text = self.text()
        assert "Traceback" not in text, f"'Traceback' on the page {where}"
        assert UNEXPECTED not in text, f"the app's 'something unexpected' message {where}; log:\n{self.studio.log()[-3000:]}"

    def step(self, label: str, *, settle: bool = True) -> Path:
        """Settle, screenshot (artifacts/screenshots/<test>/NN-label.png), and fail on any error on the page."""
        if settle:
            self.settle()
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}.png"
        self.page.screenshot(path=str(path))
        self.assert_clean(f"at step {self.count} ({label}); screenshot {path}")
        return path

    # -- widgets
    def alerts(self, kind: str | None = None) -> list[str]:
        """Texts of st.error / st.warning / st.info / st.success boxes (kind: 'error', 'success', ...)."""
        boxes = self.page.locator('[data-testid="stAlertContainer"]') if kind is None else \
            self.page.locator(f'[data-testid="stAlertContent{kind.capitalize()}"]')
        # The message itself, without the icon's ligature name ("receipt_long") in front of it.
        return [box.locator('[data-testid="stMarkdownContainer"]').first.inner_text().strip() for box in boxes.all()]

    def selected(self, label: str) -> str:
        """The option an st.selectbox labelled `label` shows (a combobox whose input holds the choice)."""
        return self.page.get_by_role("combobox", name=label, exact=True).input_value()

    def choose(self, label: str, option: str | re.Pattern) -> None:
        """Pick `option` in the st.selectbox labelled `label`, as a user does."""
        self.page.get_by_role("combobox", name=label, exact=True).click()
        self.page.get_by_role("option", name=option).first.click()
        self.settle()

    def edit_cell(self, editor, row: int, column: int, text: str, *, settle: bool = True) -> None:
        """Type `text` into cell (row, column) of an st.data_editor (a Glide canvas grid), as a user does:
        click the grid, move there with the arrow keys, Enter to open the cell editor, type, Enter to commit.
        `row` counts data rows from 0; `column` counts from the index column (0)."""
        editor.scroll_into_view_if_needed()
        self.settle()
        box = editor.bounding_box()
        # The first data row's index cell: right of the row-marker column, under the header row (35 px rows).
        self.page.mouse.click(box["x"] + 55, box["y"] + 35 + 17)
        self.page.wait_for_timeout(200)
        for _ in range(row):
            self.page.keyboard.press("ArrowDown")
        for _ in range(column):
            self.page.keyboard.press("ArrowRight")
        self.page.keyboard.press("Enter")
        entry = self.page.locator("#portal textarea.gdg-input")  # Glide's cell editor, an overlay
        entry.wait_for(timeout=10_000)
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.type(text)
        assert entry.input_value() == text, entry.input_value()
        # Glide reads the value it last rendered: an Enter right after the last keystroke can commit the
        # old text. A person pauses; so does this.
        self.page.wait_for_timeout(400)
        self.page.keyboard.press("Enter")
        entry.wait_for(state="detached", timeout=10_000)
        if settle:
            self.settle()


def grid_rows(grid) -> list[list[str]]:
    """The visible rows of a Glide grid, read from its accessibility table (header row first)."""
    grid.scroll_into_view_if_needed()
    grid.locator("table tbody tr").first.wait_for(state="attached")
    header = [t.strip() for t in grid.locator("table thead th").all_inner_texts()]
    rows = [[c.strip() for c in row.locator("td").all_inner_texts()] for row in grid.locator("table tbody tr").all()]
    return [header, *rows]


@pytest.fixture
def walk(studio, chromium, request) -> Iterator[Walk]:
    folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    walker = Walk(page, studio, request.node.name, folder)
    page.on("pageerror", lambda exc: walker.page_errors.append(str(exc)))
    try:
        yield walker
    finally:
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(folder / "zz-failure.png"))
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
