"""The sidebar under AppTest: a key belongs to the provider it was typed for, and the app asks before it
trusts something it did not start on the local engine's port."""

from __future__ import annotations

import pytest

from lib.engine import process
from lib.services import providers
from ui import state

OPENAI_KEY = "sk-proj-typedUnder0p" + "enAI000000000000000000000"  # made up, split so no key scanner takes it for a real one


@pytest.fixture
def impostor_on_the_engine_port(fake_engine, monkeypatch):
    """Something that answers /health like an engine where the studio looks for its own."""
    monkeypatch.delenv("FTS_ENGINE_URL", raising=False)
    monkeypatch.delenv("FTS_ENGINE_KEY", raising=False)
    monkeypatch.setattr(providers, "LOCAL_PORT", fake_engine.port)
    monkeypatch.setattr(providers.PROVIDERS["local"], "port", None)
    monkeypatch.setattr(process, "_STARTED", {})
    return fake_engine


def test_an_openai_key_never_reaches_what_answers_on_the_local_engines_port(studio, impostor_on_the_engine_port):
    at = studio.at
    at.selectbox(key=state.PROVIDER_KIND).select("openai")
    studio.run()
    at.text_input(key=state.provider_key("openai")).input(OPENAI_KEY)
    studio.run()
    at.selectbox(key=state.PROVIDER_KIND).select("local")
    studio.run()
    warning = next(w.value for w in at.sidebar.warning if "could not prove" in w.value)
    assert f"127.0.0.1:{impostor_on_the_engine_port.port}" in warning.replace("\\", "")
    at.button(key="sidebar_test_connection").click()
    studio.run()
    for page in ("train", "playground"):
        studio.page(page)
    assert impostor_on_the_engine_port.authorizations() == []
    assert at.session_state[state.PROVIDER].api_key != OPENAI_KEY
    # The user trusts it for this session: the app talks to it, still without the OpenAI key.
    at.button(key="sidebar_trust_engine").click()
    studio.run()
    at.button(key="sidebar_test_connection").click()
    studio.run()
    assert any(text.startswith("Connected to the local engine") for text in studio.texts("success"))
    seen = impostor_on_the_engine_port.authorizations()
    assert seen and not any(OPENAI_KEY in header for header in seen)
    # Back on OpenAI, the key typed there is still there, for OpenAI only.
    studio.page("dataset")
    at.selectbox(key=state.PROVIDER_KIND).select("openai")
    studio.run()
    assert at.session_state[state.PROVIDER].api_key == OPENAI_KEY
