"""The unhappy paths a newcomer meets, in a real browser (issue 11): each ends with a plain message and
nothing lost.

An unreadable file uploaded; a key the server refuses; a job cancelled half-way; the browser refreshed
in the middle of a table edit and in the middle of a running job.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from lib.dataprep import dataset as ds
from lib.dataprep import readers
from lib.dataprep.workspace import Workspace
from tests.browser.conftest import Walk, grid_rows
from tests.plugins.engine import TINY, chat_examples
from tests.plugins.faults import FaultProxy

pytestmark = pytest.mark.browser

COPPER = ("Copper's twenty-nine, and it's red, - Running power through wires, it is said; - "
          "In a penny it's found, - And it's mined from the ground, - Since the Bronze Age it's gone far ahead.")
SAMPLE_NAME = "Elements limericks (sample)"


def seed_sample() -> ds.Dataset:
    """The sample dataset (with its seeded mistake), open, as after "Load the sample dataset"."""
    from ui.actions import SAMPLE

    data = readers.load_file(SAMPLE)
    data.name = SAMPLE_NAME
    Workspace().save(data, note="Loaded the sample dataset")
    Workspace().set_current(data.name)
    return data


def seed_ready(n: int = 12) -> ds.Dataset:
    """A valid dataset for the tiny test model."""
    data = ds.Dataset(name="ready", examples=chat_examples(n), split=["train"] * n)
    Workspace().save(data, note="seeded")
    Workspace().set_current("ready")
    return data


def table(walk: Walk):
    page = walk.page
    editor = page.locator('[data-testid="stDataFrame"]').filter(has=page.locator("th", has_text="Assistant answers"))
    editor.locator("canvas").first.wait_for()
    return editor


def copper_cell(walk: Walk) -> tuple[int, int, str]:
    header, *rows = grid_rows(table(walk))
    row = next(i for i, cells in enumerate(rows) if "Tell me about Copper" in cells)
    column = header.index("Assistant answers")
    return row, column, rows[row][column]


def step_of(walk: Walk) -> tuple[int, int] | None:
    for text in walk.page.locator('[data-testid="stProgress"]').all_inner_texts():
        found = re.search(r"Step (\d+)/(\d+)", text)
        if found:
            return int(found.group(1)), int(found.group(2))
    return None


def wait_for_step(walk: Walk, above: int, timeout: float = 240) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = step_of(walk)
        if seen and seen[0] > above:
            return seen
        walk.assert_clean("while training")
        walk.page.wait_for_timeout(250)
    walk.step("no progress")
    pytest.fail(f"the progress bar did not pass step {above} in {timeout:.0f} s")


def launch_tiny(walk: Walk, epochs: int = 50) -> str:
    """Launch a long job on the tiny test model from the Train page; its job id."""
    page = walk.page
    walk.nav("Train")
    page.get_by_role("button", name="Launch training").wait_for()
    walk.choose("Base model", re.compile(re.escape(TINY)))
    page.get_by_text("Settings (automatic unless you change them)").click()
    epochs_box = page.get_by_role("spinbutton", name="Epochs (0 = automatic)")
    epochs_box.fill(str(epochs))
    epochs_box.press("Enter")
    walk.settle()
    page.get_by_text("I have checked the price and want to start training").click()
    walk.settle()
    walk.step("tiny job ready to launch")
    page.get_by_role("button", name="Launch training").click()
    job = page.get_by_text(re.compile(r"^Job ftjob-")).first
    job.wait_for(timeout=60_000)
    return re.search(r"ftjob-[A-Za-z0-9]+", job.inner_text()).group(0)


# --- an unreadable file ----------------------------------------------------------------------------------


def test_an_unreadable_file_gets_one_plain_message_naming_the_line_and_nothing_is_lost(walk: Walk):
    seed_sample()
    page = walk.page
    walk.open("/dataset")
    page.get_by_text("Not ready to train: 1 error to fix.").wait_for()
    page.get_by_text("Import examples").click()
    walk.settle()
    uploader = page.locator(".st-key-dataset_upload input[type=file]")
    good = json.dumps(chat_examples(1)[0])
    for name, payload, expected in [
        ("notes.jsonl", b"\xff\xfe{\"messages\": []}\n" + bytes(range(128, 160)) + b"\n",
         "Line 1 is not UTF-8 text (byte 0xff at column 1): save the file as UTF-8 and import it again."),
        ("broken.jsonl", f"{good}\n{good}\n{{\"messages\": [{{\"role\": \"user\", \"content\": \"hi\"}}\n{good}\n".encode(),
         "Line 3 is not valid JSON"),
    ]:
        uploader.set_input_files(files=[{"name": name, "mimeType": "application/octet-stream", "buffer": payload}])
        page.get_by_role("button", name="Import", exact=True).click()
        # the import's rerun may start after the page looked settled: wait for its message itself
        page.locator('[data-testid="stAlertContentError"]').filter(has_text=expected[:40]).first.wait_for(
            timeout=60_000)
        walk.settle()
        walk.step(f"uploaded {name}")
        upload_errors = [t for t in walk.alerts("error") if not t.startswith("Not ready to train")]
        assert len(upload_errors) == 1 and upload_errors[0].startswith(expected), walk.alerts("error")
        assert "Error" not in upload_errors[0] and "{" not in upload_errors[0].split(":", 1)[0]
    # Nothing lost: the dataset that was open is still open and unchanged on disk.
    assert f"{SAMPLE_NAME} · 12 examples" in page.locator('[data-testid="stSidebar"]').inner_text()
    assert [v.note for v in Workspace().versions(SAMPLE_NAME)] == ["Loaded the sample dataset"]


# --- a refused key ---------------------------------------------------------------------------------------


KEY = "sk-proj-" + "BrowserTest7Q9x2Lm4Np6Rs8Tv0Wy3Zb5"  # a made-up key, split so no scanner takes it for a real one


def test_a_refused_key_gets_a_plain_message_and_the_key_never_shows(walk: Walk, studio):
    """OpenAI's own 401 (the exact body, through a fault proxy: there is no internet here), then the
    engine's real 401 for a wrong key; the sidebar's "Other OpenAI-compatible server" points at them."""
    seed_ready()  # so the Train page has something to launch, and asks the server for its models
    page = walk.page
    proxy = FaultProxy(studio.engine.base_url)
    try:
        proxy.fail(401)
        walk.open("/")
        walk.choose("Where to train and chat", "Other OpenAI-compatible server")
        page.get_by_label("Base URL").fill(proxy.url)
        page.get_by_label("Base URL").press("Enter")
        walk.settle()
        page.get_by_label("API key (if the server needs one)").fill(KEY)
        page.get_by_label("API key (if the server needs one)").press("Enter")
        walk.settle()
        page.get_by_role("button", name="Test connection").click()
        sidebar_error = page.locator('[data-testid="stSidebar"] [data-testid="stAlertContentError"]')
        sidebar_error.wait_for(timeout=60_000)
        walk.step("openai's 401 on test connection")
        message = sidebar_error.inner_text()
        assert_plain(message)
        assert any(h.get("authorization") == f"Bearer {KEY}" for h in [s.headers for s in proxy.seen]), \
            "the typed key was not what the server refused"
        assert_key_hidden(walk)

        # The Train page says it the same plain way, and keeps the key off the page.
        walk.nav("Train")
        page.locator('[data-testid="stMain"] [data-testid="stAlertContentError"]').first.wait_for(timeout=60_000)
        walk.step("train page with the refused key")
        assert_plain(walk.alerts("error")[0])
        assert_key_hidden(walk)
    finally:
        proxy.close()

    # The engine itself, with a key it does not know: a real 401 from a real server.
    walk.nav("Home")
    page.get_by_label("Base URL").fill(studio.engine.base_url)
    page.get_by_label("Base URL").press("Enter")
    walk.settle()
    page.get_by_role("button", name="Test connection").click()
    walk.settle()
    walk.step("engine's 401 on test connection")
    message = page.locator('[data-testid="stSidebar"] [data-testid="stAlertContentError"]').inner_text()
    assert_plain(message)
    assert_key_hidden(walk)


def assert_plain(message: str) -> None:
    """One or two sentences for a person: no status dump, JSON, exception name or traceback."""
    assert message and len(message) < 400, message
    for raw in ("Traceback", "Error code:", "{'error'", '{"error"', "invalid_request_error", "AuthenticationError",
                "openai.", "httpx"):
        assert raw not in message, f"{raw!r} in {message!r}"


def assert_key_hidden(walk: Walk, key: str = KEY) -> None:
    """The key is nowhere in what the page shows or holds, except inside its own password box."""
    assert key not in walk.text()
    assert key[8:24] not in walk.text()
    html = walk.page.evaluate(
        "() => { const c = document.documentElement.cloneNode(true);"
        " c.querySelectorAll('input[type=password]').forEach(i => { i.removeAttribute('value'); i.value = ''; });"
        " return c.outerHTML; }")
    assert key not in html and key[8:24] not in html


# --- a job cancelled half-way ----------------------------------------------------------------------------


def test_a_job_cancelled_half_way_says_so_plainly_and_keeps_the_dataset(walk: Walk, studio):
    data = seed_ready()
    page = walk.page
    walk.open("/")
    job_id = launch_tiny(walk)
    step, total = wait_for_step(walk, above=1)
    assert step < total
    walk.step("tiny job running")
    page.get_by_role("button", name="Cancel the job").click()
    page.get_by_text("cancelled", exact=True).wait_for(timeout=60_000)
    walk.settle()
    page.wait_for_timeout(1500)  # the monitor stopped refreshing: nothing more should change
    walk.step("job cancelled")
    job = studio.engine.client().fine_tuning.jobs.retrieve(job_id)
    assert job.status == "cancelled"
    assert not page.get_by_role("button", name="Cancel the job").count()
    shown = step_of(walk)
    assert shown is None or shown[0] < shown[1], shown
    messages = [t for t in walk.alerts() if "cancel" in t.lower()] + \
        [t for t in page.get_by_text(re.compile(r"cancel", re.I)).all_inner_texts() if len(t) > 12]
    assert messages, "no plain sentence says the job was cancelled"
    for message in messages:
        assert_plain(message)
    assert Workspace().load("ready").examples == data.examples


# --- a refresh in the middle of a table edit, and of a running job ---------------------------------------


def test_a_refresh_right_after_a_table_edit_keeps_the_edit(walk: Walk):
    seed_sample()
    page = walk.page
    walk.open("/dataset")
    page.get_by_text("Not ready to train: 1 error to fix.").wait_for()
    row, column, before = copper_cell(walk)
    assert before == ""
    walk.edit_cell(table(walk), row, column, COPPER, settle=False)
    walk.page.screenshot(path=str(walk.folder / "00-edited-then-refreshed-at-once.png"))
    # A quarter of a second after Enter, faster than a person can see the cell and reach for F5: the edit
    # is saved by the editor's callback, first thing in the run the edit starts. (Within ~20 ms of Enter
    # the browser has not even sent the edit yet: nothing on the server can keep that.)
    walk.page.wait_for_timeout(250)
    walk.reload()  # no waiting for the page to confirm
    page.get_by_text("Valid: OpenAI would accept these 12 training examples.").wait_for(timeout=30_000)
    walk.step("after the refresh")
    assert copper_cell(walk)[2] == COPPER
    assert Workspace().load(SAMPLE_NAME).examples[7]["messages"][2]["content"] == COPPER


def test_a_refresh_in_the_middle_of_a_running_job_keeps_following_it(walk: Walk):
    seed_ready()
    page = walk.page
    walk.open("/")
    job_id = launch_tiny(walk)
    before, total = wait_for_step(walk, above=1)
    walk.step("job running before the refresh")
    walk.reload()
    page.get_by_text(f"Job {job_id}").wait_for(timeout=60_000)  # the monitor picked the same job up again
    after, total_after = wait_for_step(walk, above=before)
    assert total_after == total and after > before
    walk.step("same job still progressing after the refresh")
    page.get_by_role("button", name="Cancel the job").click()  # leave the engine idle for the next test
    page.get_by_text("cancelled", exact=True).wait_for(timeout=60_000)


# --- two edits in a row ------------------------------------------------------------------------------


def test_a_second_table_edit_keeps_the_first(walk: Walk):
    seed_sample()
    page = walk.page
    walk.open("/dataset")
    page.get_by_text("Not ready to train: 1 error to fix.").wait_for()
    row, column, _ = copper_cell(walk)
    walk.edit_cell(table(walk), row, column, COPPER)
    page.get_by_text("Valid: OpenAI would accept these 12 training examples.").wait_for(timeout=30_000)
    walk.step("first edit fixed row 8")
    header = grid_rows(table(walk))[0]
    walk.edit_cell(table(walk), 0, header.index("User asks"), "Tell me about Hydrogen, please")
    walk.step("second edit on row 1")
    saved = Workspace().load(SAMPLE_NAME).examples
    assert saved[0]["messages"][1]["content"] == "Tell me about Hydrogen, please"
    assert saved[7]["messages"][2]["content"] == COPPER, "the second edit reverted the first"
    assert copper_cell(walk)[2] == COPPER, "the table shows the fixed cell empty"
