"""The Playground under AppTest against the local engine: two columns answer, with tokens, time and cost."""

from __future__ import annotations

import pytest

from tests.plugins.apptest import Studio
from tests.plugins.engine import TINY


@pytest.fixture
def on_engine(engine_server, monkeypatch):
    monkeypatch.setenv("FTS_ENGINE_URL", engine_server.base_url)
    monkeypatch.setenv("FTS_ENGINE_KEY", engine_server.api_key)
    return engine_server


def test_two_models_answer_side_by_side_with_tokens_latency_cost_and_checks(on_engine):
    studio = Studio()
    at = studio.page("playground")
    for column in (0, 1):
        at.selectbox(key=f"playground_kind_{column}").set_value("other").run()
        at.selectbox(key=f"playground_model_{column}").set_value(TINY).run()
    at.number_input(key="playground_max_tokens").set_value(16).run()
    at.button(key="playground_run").click().run()
    studio.assert_ok()
    labels = [m.label for m in at.metric]
    assert labels.count("Tokens in / out") == 2 and labels.count("Cost") == 2
    assert [m.value for m in at.metric if m.label == "Cost"] == ["free", "free"]
    replies = at.session_state["playground_replies"]["replies"].values()
    if any(r["text"].strip() for r in replies):  # random weights may answer nothing at all
        assert any(text.startswith("Form:") for text in studio.texts("caption"))


def test_a_reply_can_be_added_to_the_dataset(on_engine):
    studio = Studio()
    at = studio.page("playground")
    for column in (0, 1):
        at.selectbox(key=f"playground_kind_{column}").set_value("other").run()
        at.selectbox(key=f"playground_model_{column}").set_value(TINY).run()
    at.number_input(key="playground_max_tokens").set_value(8).run()
    at.button(key="playground_run").click().run()
    at.text_area(key="playground_send_text_0").set_value("Strontium, thirty-eight, - burns red").run()
    at.button(key="playground_send_0").click().run()
    studio.assert_ok()
    from lib.dataprep.workspace import Workspace

    data = Workspace().load(Workspace().current())
    assert data.examples[-1]["messages"][-1]["content"] == "Strontium, thirty-eight, - burns red"


def test_presentation_mode_hides_the_sidebar(on_engine):
    studio = Studio()
    at = studio.page("playground")
    at.toggle(key="presentation_mode").set_value(True).run()
    studio.assert_ok()
    assert not at.sidebar.selectbox  # no provider (or key) widgets on screen


LINK = "[click](https://evil.example/)"
IMAGE = "![x](https://evil.example/x.png)"


def _markdown_on_screen(at) -> list[str]:
    """Every element Streamlit draws as Markdown (markdown, captions, alerts) on this run."""
    kinds = ("markdown", "caption", "info", "warning", "error", "success")
    return [str(e.value) for kind in kinds for e in getattr(at, kind)]


def test_links_and_images_in_prompts_replies_and_names_are_shown_as_text(studio):
    from lib.dataprep import dataset as ds
    from lib.dataprep.workspace import Workspace
    from lib.evaluation.comparison import BatchResult, Reply

    hostile = f"Tell me about Neon {LINK} {IMAGE}"
    examples = [ds.make_example(f"Tell me about element {i}", "An answer") for i in range(10)]
    data = ds.Dataset(name=f"Elle {LINK}", examples=examples, split=["train"] * 10, system_prompt=hostile)
    examples[0]["messages"][0]["content"] = hostile
    Workspace().save(data)
    Workspace().set_current(data.name)
    fresh = Studio()
    fresh.page("dataset")
    replies = [[Reply("Base", "m1", text=f"See {LINK}"), Reply(f"Tuned {LINK}", "m2", text=f"Look {IMAGE}")]]
    batch = BatchResult([{"label": "Base", "model": "m1"}, {"label": f"Tuned {LINK}", "model": "m2"}], [hostile],
                        replies)
    fresh.at.session_state["batch_result"] = batch.to_dict()
    fresh.at.session_state["batch_blind"] = False
    fresh.page("playground")
    shown = _markdown_on_screen(fresh.at)
    assert any("click" in text for text in shown)  # the names and the prompt are on screen ...
    for text in shown:  # ... as text: no Markdown link or image anywhere
        assert LINK not in text and IMAGE not in text, text
    assert f"See {LINK}" in fresh.texts("text") and f"Look {IMAGE}" in fresh.texts("text")


def test_a_model_trained_with_the_facts_card_is_asked_with_it_in_every_column(stub_api, stub_server, monkeypatch):
    """The fine-tuned model's job says its rows carried the facts card: the Playground turns the card on by
    itself (the model relies on it), for the base column too, and the user can turn it off."""
    import json

    from tests.plugins.engine import chat_examples
    from tests.plugins.faults import TEST_KEY

    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", stub_server.url)
    rows = "".join(json.dumps(r) + "\n" for r in chat_examples(10)).encode()
    job = stub_api.seed_job("gpt-4.1-mini-2025-04-14", rows)
    stub_api.jobs[job["id"]].job["metadata"] = {"facts_card": "on"}
    studio = Studio()
    studio.at.session_state["latest_model"] = job["fine_tuned_model"]
    at = studio.page("playground")
    card = next(c for c in at.checkbox if c.label == "Give each question its element's facts")
    assert card.value is True
    at.button(key="playground_run").click().run()
    studio.assert_ok()
    asked = {c["model"]: c["messages"][0]["content"] for c in stub_api.chats}
    assert job["fine_tuned_model"] in asked and len(asked) == 2, asked
    assert all("Facts: Strontium (Sr), atomic number 38" in system for system in asked.values()), asked

    stub_api.chats.clear()
    next(c for c in at.checkbox if c.label == "Give each question its element's facts").uncheck().run()
    at.button(key="playground_run").click().run()
    assert stub_api.chats and not any("Facts:" in c["messages"][0]["content"] for c in stub_api.chats)


def test_a_provider_that_lists_no_model_gets_plain_words_not_an_error(monkeypatch):
    """OpenAI unreachable (no network) and no fine-tuned model yet: the columns say there is nothing to ask."""
    from tests.plugins.faults import TEST_KEY

    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    studio = Studio()
    studio.page("playground")
    studio.assert_ok()
    assert any("No model to ask here" in text for text in studio.texts("caption"))
