"""Bring a hosted fine-tune home, in a real browser (issue 19).

The sidebar points at a stub of OpenAI's API (tests/plugins/faults.py) that holds a finished gpt-4.1-mini
fine-tune. On the Train page's "Bring home" section the fine-tune is listed with its shutdown date, brought
home onto the local engine with the tiny test model (the recipe mapping shown), the local job succeeds, and
"Compare both side by side" opens the Playground where the hosted model and the local one both answer.
"""

from __future__ import annotations

import json
import re

import pytest

from lib.dataprep.workspace import Workspace
from tests.browser.conftest import Walk
from tests.browser.test_unhappy_paths import assert_key_hidden
from tests.plugins.engine import TINY, chat_examples
from tests.plugins.faults import StubAPI, StubServer

pytestmark = pytest.mark.browser

KEY = "sk-proj-" + "BringHome4Xy7Qw2Er9Ty1Ui3Op5As"  # made up, split so no scanner takes it for a real one
HOSTED_BASE = "gpt-4.1-mini-2025-04-14"
JOB_DEADLINE_MS = 600_000  # the tiny model trains 3 steps; a busy shared machine can still take minutes


@pytest.fixture
def hosted(monkeypatch):
    """A stub OpenAI (it checks the key) holding one finished fine-tune; the studio's clock on 2026-11-28.
    Requested before `walk`, so the app starts with that clock."""
    monkeypatch.setenv("FTS_TODAY", "2026-11-28")
    api = StubAPI(api_key=KEY)
    training = "".join(json.dumps(e) + "\n" for e in chat_examples(10)).encode()
    job = api.seed_job(HOSTED_BASE, training, n_epochs=1, batch_size=4, learning_rate_multiplier=1.8)
    server = StubServer(api)
    try:
        yield api, server, job
    finally:
        server.close()


def test_a_hosted_fine_tune_comes_home_and_both_answer_side_by_side(hosted, walk: Walk, studio):
    api, server, job = hosted
    page = walk.page

    # The sidebar on the stub, with the account's key typed in.
    walk.open("/")
    walk.choose("Where to train and chat", "Other OpenAI-compatible server")
    for label, value in (("Base URL", server.url), ("API key (if the server needs one)", KEY)):
        page.get_by_label(label).fill(value)
        page.get_by_label(label).press("Enter")
        walk.settle()

    # Train → Bring home: the fine-tune listed with the day it stops answering.
    walk.nav("Train")
    page.locator('[data-testid="stMain"]').get_by_text("Bring home", exact=True).click()
    walk.settle()
    page.get_by_role("button", name="List my fine-tunes").click()
    listed = page.get_by_text(job["fine_tuned_model"]).first
    listed.wait_for(timeout=60_000)
    walk.step("hosted fine-tune listed")
    assert any(job["fine_tuned_model"] in t and "Stops answering on 2027-01-14 (in 47 days)" in t
               for t in walk.alerts("error")), walk.alerts()
    assert_key_hidden(walk, KEY)

    # Bring it home on the tiny model: the recipe mapping is shown, the local job runs to the end.
    walk.choose("Local model to train", TINY)
    page.get_by_role("button", name="Bring it home").click()
    page.get_by_text(re.compile(r"^Local job ftjob-")).first.wait_for(timeout=120_000)
    walk.step("brought home, local job launched")
    body = walk.text()
    assert "Epochs: 1, as the hosted job ran" in body, body[-3000:]
    assert "Batch size" in body and "Learning-rate multiplier" in body, body[-3000:]
    compare = page.get_by_role("button", name=re.compile("side by side"))
    ended = page.get_by_text(re.compile(r"^Local job ftjob-\S+: (succeeded|failed|cancelled)$"))
    compare.or_(ended).first.wait_for(timeout=JOB_DEADLINE_MS)
    walk.step("local job ended")
    body = walk.text()
    assert ended.inner_text().endswith("succeeded"), body[-2000:]
    local_model = re.search(r"Your model is home: (\S+)\.", body).group(1)
    compare.wait_for()
    # The training file came down through the Files API into a dataset version, with its origin.
    assert any(m == "GET" and p.endswith(f"/files/{job['training_file']}/content") for m, p, _ in api.requests)
    workspace = Workspace()
    assert len(workspace.load(workspace.current()).examples) == 10
    assert job["training_file"] in json.dumps(workspace.origin(workspace.current()))
    assert f"{workspace.current()} · 10 examples" in page.locator('[data-testid="stSidebar"]').inner_text()

    # Compare side by side: the Playground with the hosted model and the local one, each on its own provider.
    compare.click()
    page.get_by_role("heading", name="Playground", exact=True).first.wait_for(timeout=60_000)
    walk.settle()
    walk.step("playground with both")
    main = page.locator('[data-testid="stMain"]')
    assert job["fine_tuned_model"] in main.inner_text() and local_model in main.inner_text()
    assert f"Hosted · the server at {server.url}" in main.inner_text()  # its address as typed, no backslashes
    page.get_by_role("button", name="Ask all").click()
    page.locator('[data-testid="stMetric"]').nth(5).wait_for(timeout=300_000)  # 3 figures under each answer
    walk.settle()
    walk.step("both answered")
    assert [c["model"] for c in api.chats] == [job["fine_tuned_model"]], "the hosted model was not asked once"
    hosted_column, local_column = (main.locator('[data-testid="stColumn"]').filter(has_text=model).first.inner_text()
                                   for model in (job["fine_tuned_model"], local_model))
    assert "Strontium glows red in the night" in hosted_column and "Tokens in / out" in hosted_column
    assert "Strontium glows red" not in local_column and "Tokens in / out" in local_column, local_column
    assert "free" in local_column  # the local engine's answer, at no cost
    assert not walk.alerts("error"), walk.alerts("error")
    assert_key_hidden(walk, KEY)
