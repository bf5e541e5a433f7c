"""Generating rows with the local engine as the writer: the tiny model for the mechanics, SmolLM2 once for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.dataprep import dataset as ds
from lib.dataprep import generate, readers
from lib.dataprep.workspace import Workspace
from lib.engine.models import DEFAULT_MODEL
from lib.services import errors, providers
from tests.plugins.engine import TINY

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "elements_limericks.jsonl"


def local_client(base_url: str, api_key: str | None):
    return providers.make_client(providers.ProviderConfig(kind="local", base_url=base_url, api_key=api_key,
                                                          max_retries=0))


@pytest.fixture
def seeds() -> ds.Dataset:
    data = readers.load_file(SAMPLE)
    data.name = "seeds"
    return data


def test_the_tiny_model_writes_drafts_that_are_checked_and_saved_as_they_land(engine_server, seeds):
    workspace = Workspace()
    store = generate.DraftStore(workspace, seeds.name)
    settings = generate.Settings(model=TINY, provider="local", max_tokens=16)
    questions = generate.plan(seeds.examples, 2)
    run = generate.Run(local_client(engine_server.base_url, engine_server.api_key), settings, questions, seeds,
                       store=store, workspace=workspace)
    drafts = list(run)
    assert run.error is None and run.calls == 2 and run.completion_tokens > 0
    assert [d.question for d in drafts] == ["Tell me about Lithium", "Tell me about Beryllium"]
    assert all(d.checks and not d.passed for d in drafts)  # random weights: never a limerick
    assert [d.id for d in store.load()] == [d.id for d in drafts]
    assert "last run" in generate.estimate(settings, questions, seeds.examples, seeds.system_prompt,
                                           workspace=workspace).basis


def test_an_engine_fault_ends_the_run_in_plain_words(fault_proxy, seeds):
    fault_proxy.fail(503, path="/chat/completions")
    run = generate.Run(local_client(fault_proxy.url, fault_proxy.api_key),
                       generate.Settings(model=TINY, provider="local", max_tokens=8), ["Tell me about Lithium"], seeds)
    assert list(run) == []
    assert isinstance(run.error, errors.ServerError)
    assert "had a problem on its side (503). Nothing was lost" in run.error.message


@pytest.mark.slow
def test_smollm2_writes_real_drafts_and_none_enters_without_passing(engine_server, seeds):
    settings = generate.Settings(model=DEFAULT_MODEL, provider="local", max_tokens=80)
    client = local_client(engine_server.base_url, engine_server.api_key)
    run = generate.Run(client, settings, generate.plan(seeds.examples, 3), seeds)
    drafts = list(run)
    assert run.error is None and len(drafts) == 3
    assert any(len(d.answer.split()) >= 5 for d in drafts)  # real words, not an empty reply
    grown = generate.accept(seeds, [d for d in drafts if d.passed])
    added = grown.examples[len(seeds.examples):]
    assert len(added) == sum(d.passed for d in drafts)
    for example in added:  # whatever entered passes every check on its own
        assert all(c.ok for c in generate.check_row(example, existing=seeds.examples).values())
