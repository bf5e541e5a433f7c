"""Generate more rows in a real browser: drafts stream in, a refresh mid-run keeps them, an edited one is added."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lib.dataprep import generate, readers
from lib.dataprep.workspace import Workspace
from tests.browser.conftest import Walk
from tests.plugins.engine import TINY
from tests.plugins.writer import GOOD_LITHIUM

pytestmark = [pytest.mark.browser]

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "elements_limericks.jsonl"


def open_generate(walk: Walk) -> None:
    walk.open("/dataset")
    walk.page.get_by_role("tab", name="Generate more").click()
    walk.page.get_by_role("textbox", name="Writer model").wait_for()


@pytest.mark.timeout(600)
def test_drafts_survive_a_refresh_and_an_edited_one_enters_as_a_new_version(walk: Walk):
    page = walk.page
    data = readers.load_file(SAMPLE)
    data.name = "seeds"
    data.examples = [e for e in data.examples if e["messages"][-1]["content"].strip()]
    data.split = ["train"] * len(data.examples)
    workspace = Workspace()
    workspace.save(data, note="seeds")
    workspace.set_current("seeds")

    open_generate(walk)
    page.get_by_role("textbox", name="Writer model").fill(TINY)
    page.get_by_role("textbox", name="Writer model").press("Enter")
    page.get_by_role("spinbutton", name="Rows to draft").fill("3")
    page.get_by_role("spinbutton", name="Rows to draft").press("Enter")
    walk.settle()
    page.get_by_text("Run it on the local engine (free)").click()
    walk.settle()
    walk.step("estimate confirmed")
    page.get_by_role("button", name="Generate", exact=True).click()
    # The first drafts arrive (the engine drafts them together); the tiny writer can finish all three before
    # the browser sees the progress bar, and then the run's summary is what shows.
    page.get_by_text(re.compile(r"Drafted [123] of 3|^Last run: ")).first.wait_for(timeout=120_000)
    page.reload()  # a refresh in the middle of generating (or right after it)

    open_generate(walk)
    page.get_by_role("heading", name="Review the drafts").wait_for(timeout=60_000)
    kept = generate.DraftStore(workspace, "seeds").load()
    assert kept, "the drafts shown before the refresh were lost"
    walk.step("review after refresh")

    versions, rows = len(workspace.versions("seeds")), len(workspace.load("seeds").examples)
    page.get_by_role("textbox", name="Edit the answer").fill(GOOD_LITHIUM)
    page.get_by_role("button", name="Re-check my edit").click()
    walk.settle()
    add = page.get_by_role("button", name="Add the 1 row that pass every check")
    add.wait_for(timeout=60_000)
    add.click()
    # The drafts not added stay in review (the engine may have drafted all three before the refresh).
    for _ in range(120):
        if len(workspace.versions("seeds")) > versions:
            break
        page.wait_for_timeout(500)
    walk.settle()
    walk.step("added")
    assert len(workspace.versions("seeds")) == versions + 1
    assert len(workspace.load("seeds").examples) == rows + 1
