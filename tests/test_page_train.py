"""The Train page under AppTest against the real local engine: launch, live monitor, faults."""

from __future__ import annotations

import json
import time

import pytest

from lib.dataprep import dataset as ds
from lib.dataprep.workspace import Workspace
from tests.plugins.apptest import Studio
from tests.plugins.engine import TINY, chat_examples


@pytest.fixture
def on_engine(engine_server, monkeypatch):
    monkeypatch.setenv("FTS_ENGINE_URL", engine_server.base_url)
    monkeypatch.setenv("FTS_ENGINE_KEY", engine_server.api_key)
    return engine_server


def open_dataset(examples: list) -> None:
    Workspace().save(ds.Dataset(name="ready", examples=examples, split=["train"] * len(examples)))
    Workspace().set_current("ready")


def launch(studio: Studio) -> None:
    at = studio.page("train")
    at.selectbox(key="train_model").set_value(TINY).run()
    at.number_input(key="train_epochs").set_value(2).run()
    at.checkbox(key="train_confirm").check().run()
    at.button(key="train_launch").click().run()
    studio.assert_ok()


def test_launch_is_blocked_while_the_dataset_has_errors_and_says_which(on_engine, studio):
    studio.at.button(key="home_load_sample").click().run()
    at = studio.page("train")
    assert studio.texts("error") == ["Fix these before training (1 error):"]
    said = [m for m in studio.texts("markdown") if "Row 8" in m]
    assert said and "is empty" in said[0] and "messages[" not in said[0]  # plain words, no JSON path
    assert not [b for b in at.button if b.key == "train_launch"]


def test_a_job_launches_with_a_price_on_it_and_the_monitor_follows_it_to_success(on_engine):
    open_dataset(chat_examples(10))
    studio = Studio()
    at = studio.page("train")
    at.selectbox(key="train_model").set_value(TINY).run()
    assert any("Free on this computer" in text for text in studio.texts("info"))
    launch(studio)
    deadline = time.time() + 240
    while time.time() < deadline:
        studio.run()
        if any("fine-tuned model is ready" in text for text in studio.texts("success")):
            break
        time.sleep(1)
    else:
        pytest.fail(f"the job did not succeed in time: {studio.texts('markdown')[:5]}")
    model = next(c.value for c in at.code)
    assert model.startswith("ft:")
    assert any(m.label == "Trained tokens" for m in at.metric)
    # the rows asked about elements, so they left with their facts cards (on by default), and the job says so;
    # the dataset itself is unchanged
    client = on_engine.client()
    job = next(j for j in client.fine_tuning.jobs.list() if j.fine_tuned_model == model)
    assert (job.metadata or {}).get("facts_card") == "on"
    # the epochs typed stay; the learning rate left automatic is the local engine's measured recipe
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.learning_rate_multiplier == 3.0
    uploaded = client.files.content(job.training_file).text
    assert "Facts: Hydrogen (H), atomic number 1 (one)" in uploaded
    assert "Facts:" not in json.dumps(Workspace().load("ready").examples)
    figures = {fig["layout"]["title"]["text"]: fig for fig in
               (json.loads(chart.proto.spec) for chart in at.get("plotly_chart"))}
    accuracy = figures["Token accuracy"]["data"]  # drawn, with the job's points (it once had 0 traces)
    assert accuracy and accuracy[0]["name"] == "Training accuracy" and len(accuracy[0]["x"]) >= 2
    again = Studio()  # a refresh: monitoring resumes from the remembered job
    again.page("train")
    assert model in [c.value for c in again.at.code]


def test_openai_winding_down_is_explained_with_a_way_out_and_nothing_is_lost(on_engine, make_fault_proxy, monkeypatch):
    proxy = make_fault_proxy(on_engine.root_url)
    proxy.fail(403, code="training_not_available", path="/v1/fine_tuning/jobs", method="POST")
    monkeypatch.setenv("FTS_ENGINE_URL", proxy.url + "/v1")
    open_dataset(chat_examples(10))
    studio = Studio()
    launch(studio)
    message = " ".join(studio.texts("error"))
    assert "winding down" in message and "Traceback" not in message
    assert [b for b in studio.at.button if b.key == "train_switch_local"]
    assert len(Workspace().load("ready").examples) == 10


def test_a_refused_key_gets_a_plain_message(on_engine, monkeypatch):
    monkeypatch.setenv("FTS_ENGINE_KEY", "wrong-key")
    open_dataset(chat_examples(10))
    studio = Studio()
    studio.page("train")
    text = " ".join(studio.texts("error") + studio.texts("warning"))
    assert "key" in text.lower() and "wrong-key" not in text


def test_dataset_home_and_train_agree_when_held_out_rows_leave_too_few_to_train(on_engine):
    """12 valid rows with 3 held out for validation leave 9 to train on: every page says not ready, with
    the same reason (the Dataset page once said "Valid" while Train refused)."""
    examples = chat_examples(12)
    Workspace().save(ds.Dataset(name="held out", examples=examples, split=["train"] * 9 + ["validation"] * 3))
    Workspace().set_current("held out")
    studio = Studio()
    assert "12 examples, 1 problem to fix." in studio.texts("caption")  # Home
    studio.page("dataset")
    assert studio.texts("error") == ["Not ready to train: 1 error to fix."]
    assert not any(text.startswith("Valid:") for text in studio.texts("success"))
    reason = "Only 9 examples are left for training (3 are held out for validation)"
    problems = next(d.value for d in studio.at.dataframe if "field" in d.value.columns)
    assert any(reason in text for text in problems["problem"])
    at = studio.page("train")
    assert studio.texts("error") == ["Fix these before training (1 error):"]
    assert any(reason in m.replace("\\", "") for m in studio.texts("markdown"))  # shown escaped, as written
    assert not [b for b in at.button if b.key == "train_launch"]
    # Holding out one row fewer fixes it everywhere.
    Workspace().save(ds.Dataset(name="held out", examples=examples, split=["train"] * 10 + ["validation"] * 2))
    fresh = Studio()
    fresh.page("dataset")
    assert fresh.texts("error") == [] and any(t.startswith("Valid:") for t in fresh.texts("success"))
    fresh.page("train")
    assert not [t for t in fresh.texts("error") if t.startswith("Fix these")]
