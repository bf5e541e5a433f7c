"""Shutdown dates on the Train page's card, the Playground's picker and the report; the Azure caveat;
the Train page's "Bring a fine-tune home" panel against the stub OpenAI server."""

from __future__ import annotations

import json

import pytest

from lib.dataprep.workspace import Workspace
from lib.evaluation import report
from lib.services import lifecycle
from tests.plugins.apptest import Studio
from tests.plugins.engine import chat_examples

KEY = "sk-test-page-0123456789abcdef"


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture
def hosted(stub_api, stub_server, monkeypatch):
    """The sidebar on an OpenAI-compatible stub holding a finished gpt-4.1-mini fine-tune, on 2026-11-28."""
    monkeypatch.setenv("FTS_TODAY", "2026-11-28")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", stub_server.url)
    return stub_api.seed_job("gpt-4.1-mini-2025-04-14", jsonl(chat_examples(10)))


def texts(studio: Studio) -> str:
    return " ".join(studio.texts("warning") + studio.texts("error") + studio.texts("caption"))


def test_the_job_card_says_when_the_model_stops_answering(hosted):
    Workspace().remember_job("url", hosted["id"])
    studio = Studio()
    studio.page("train")
    assert "Stops answering on 2027-01-14 (in 47 days)" in texts(studio)


def test_the_playground_picker_says_it_too(hosted):
    studio = Studio()
    studio.at.session_state["latest_model"] = hosted["fine_tuned_model"]
    studio.page("playground")
    assert "Stops answering on 2027-01-14 (in 47 days) (built on gpt-4.1-mini-2025-04-14)" in texts(studio)


def test_the_report_lists_shutdown_dates(monkeypatch):
    monkeypatch.setenv("FTS_TODAY", "2026-11-28")
    html = report.build_report(job={"model": "gpt-4.1-mini-2025-04-14", "fine_tuned_model": "ft:gpt-4.1-mini:org::x1"},
                               charts=False)
    assert 'id="shutdowns"' in html and "Stops answering on 2027-01-14 (in 47 days)" in html
    assert 'id="shutdowns"' not in report.build_report(job={"fine_tuned_model": "ft:tiny-random-llama:local::a"},
                                                       charts=False)


def test_azure_is_offered_with_its_caveat():
    studio = Studio()
    studio.at.selectbox(key="sidebar_provider_kind").set_value("azure").run()
    studio.assert_ok()
    assert lifecycle.AZURE_CAVEAT in studio.texts("caption")
    assert "existing customers only" in lifecycle.AZURE_CAVEAT


def test_the_panel_lists_the_fine_tunes_loudest_and_explains_a_deleted_file(hosted, stub_api):
    stub_api.files.pop(hosted["training_file"])
    studio = Studio()
    at = studio.page("train")
    at.segmented_control(key="train_section").set_value("Bring home").run()
    at.button(key="train_home_list").click().run()
    studio.assert_ok()
    assert any("Stops answering on 2027-01-14 (in 47 days)" in t for t in studio.texts("error"))
    at.button(key="train_home_go").click().run()
    studio.assert_ok()
    assert any(f"The training file {hosted['training_file']} can no longer be downloaded" in t
               for t in studio.texts("error"))
    assert [u for u in at.get("file_uploader") if u.proto.id and "train_home_file" in u.proto.id]


def test_compare_side_by_side_asks_each_column_on_its_own_provider(hosted, stub_api, stub_server):
    """The pair "Compare both side by side" sets: each column names its provider with a readable address
    (no backslashes in the link) and asks its own model there."""
    from lib.services import providers

    other = stub_server.url.replace("127.0.0.1", "localhost")
    pair = [("Hosted", hosted["fine_tuned_model"], providers.config_from_env("url", base_url=stub_server.url,
                                                                            api_key=KEY)),
            ("Local (home)", "ft:tiny-random-llama:local:home:abc", providers.config_from_env(
                "url", base_url=other, api_key=KEY))]
    studio = Studio()
    studio.at.session_state["playground_pair"] = pair
    at = studio.page("playground")
    heads = [m.value for m in at.markdown if m.value.startswith("**Hosted**") or m.value.startswith("**Local")]
    assert heads == [f"**Hosted** · the server at {stub_server.url}", f"**Local \\(home\\)** · the server at {other}"]
    at.button(key="playground_run").click().run()
    studio.assert_ok()
    assert sorted(c["model"] for c in stub_api.chats) == sorted([hosted["fine_tuned_model"],
                                                                 "ft:tiny-random-llama:local:home:abc"])
    assert not studio.texts("error")


def test_an_answer_with_no_visible_text_says_so(hosted, stub_api, stub_server, monkeypatch):
    """A tiny or half-trained model can answer only line breaks: the column says so instead of staying blank."""
    from lib.services import providers

    def blank(params):
        stub_api.chats.append(params)
        return stub_api._json(200, {"id": "c", "object": "chat.completion", "created": 0, "model": params["model"],
                                    "choices": [{"index": 0, "finish_reason": "length",
                                                 "message": {"role": "assistant", "content": "\n \n"}}],
                                    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})

    monkeypatch.setattr(stub_api, "_chat", blank)
    config = providers.config_from_env("url", base_url=stub_server.url, api_key=KEY)
    studio = Studio()
    studio.at.session_state["playground_pair"] = [("Local (home)", "ft:tiny-random-llama:local:home:abc", config)]
    at = studio.page("playground")
    at.button(key="playground_run").click().run()
    studio.assert_ok()
    assert stub_api.chats, "the column was not asked"
    assert "The model answered with no visible text (only spaces or line breaks)." in studio.texts("caption")
