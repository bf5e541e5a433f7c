"""The Dataset page's Generate panel under AppTest, the local engine's tiny model writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.dataprep import generate, readers
from lib.dataprep.workspace import Workspace
from tests.plugins.apptest import Studio
from tests.plugins.engine import TINY
from tests.plugins.writer import GOOD_LITHIUM

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "elements_limericks.jsonl"


@pytest.fixture
def seeded(engine_server, monkeypatch) -> str:
    """The sample (with its one empty answer filled) as the open dataset; the sidebar points at the engine."""
    monkeypatch.setenv("FTS_ENGINE_URL", engine_server.base_url)
    monkeypatch.setenv("FTS_ENGINE_KEY", engine_server.api_key)
    data = readers.load_file(SAMPLE)
    data.name = "seeds"
    data.examples = [e for e in data.examples if e["messages"][-1]["content"].strip()]
    data.split = ["train"] * len(data.examples)
    workspace = Workspace()
    workspace.save(data, note="seeds")
    workspace.set_current(data.name)
    return data.name


def test_three_drafts_are_reviewed_and_only_a_passing_one_enters_as_a_new_version(seeded, new_session):
    studio = Studio()
    at = studio.page("dataset")
    at.text_input(key="generate_model").set_value(TINY).run()
    at.number_input(key="generate_count").set_value(3).run()
    at.number_input(key="generate_max_tokens").set_value(16).run()
    assert "free" in [m.value for m in at.metric]
    assert at.button(key="generate_run").disabled  # nothing runs before the spend is confirmed
    at.checkbox(key="generate_confirm").check().run()
    at.button(key="generate_run").click().run()
    studio.assert_ok()

    workspace = Workspace()
    drafts = generate.DraftStore(workspace, seeded).load()
    assert [d.question for d in drafts] == ["Tell me about Lithium", "Tell me about Beryllium", "Tell me about Boron"]
    assert not any(d.passed for d in drafts)  # random weights never write a true five-line limerick
    assert any(text.startswith("✗ ") for text in studio.texts("text"))  # verdicts in plain words
    assert any(c.startswith("Last run: 0 of 3 drafts pass every check.") for c in studio.texts("caption"))
    assert at.button(key="generate_accept_passing").disabled

    # A refresh (a new session) still shows every draft.
    again = new_session().page("dataset")
    assert len(again.selectbox(key="generate_pick").options) == 3

    versions, rows = len(workspace.versions(seeded)), len(workspace.load(seeded).examples)
    first = drafts[0]
    at.selectbox(key="generate_pick").set_value(0).run()
    at.text_area(key=f"generate_edit_{first.id}").set_value(GOOD_LITHIUM).run()
    at.button(key="generate_recheck").click().run()
    studio.assert_ok()
    assert at.button(key="generate_accept_passing").label == "Add the 1 row that pass every check"
    at.button(key="generate_accept_passing").click().run()
    studio.assert_ok()

    assert len(workspace.versions(seeded)) == versions + 1
    data = workspace.load(seeded)
    assert len(data.examples) == rows + 1 and data.examples[-1]["messages"][-1]["content"] == GOOD_LITHIUM
    assert generate.origins(workspace, data.examples)[-1]["model"].startswith(TINY)
    assert [d.id for d in generate.DraftStore(workspace, seeded).load() if d.status != "accepted"] == \
        [d.id for d in drafts[1:]]
