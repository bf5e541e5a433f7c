"""The "Take this model home" widget under AppTest, on the Playground's fine-tuned column, against the
real local engine: pick a format, the engine builds it with a progress bar, the size shows, download."""

from __future__ import annotations

import time

import pytest

from tests.plugins.apptest import Studio
from tests.plugins.engine import TINY, chat_examples, write_jsonl


@pytest.fixture
def tuned_model(engine_server, monkeypatch, tmp_path) -> str:
    monkeypatch.setenv("FTS_ENGINE_URL", engine_server.base_url)
    monkeypatch.setenv("FTS_ENGINE_KEY", engine_server.api_key)
    client = engine_server.client()
    with write_jsonl(tmp_path / "train.jsonl", chat_examples(10)).open("rb") as handle:
        training = client.files.create(file=handle, purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=TINY, training_file=training.id, seed=1, suffix="page",
                                         method={"type": "supervised",
                                                 "supervised": {"hyperparameters": {"n_epochs": 1}}})
    deadline = time.monotonic() + 300
    while (job := client.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert job.status == "succeeded"
    return job.fine_tuned_model


def test_playground_exports_the_fine_tuned_model_as_gguf_and_offers_the_zip(tuned_model):
    studio = Studio()
    studio.at.session_state["latest_model"] = tuned_model
    at = studio.page("playground")
    formats = at.radio(key="playground_export_1_format")
    assert "GGUF (one file that llama.cpp and Ollama run)" in formats.options
    assert "LoRA adapter (the small set of changed weights, loaded on top of the base model)" in formats.options
    formats.set_value("gguf").run()
    at.selectbox(key="playground_export_1_quant").set_value("q8_0").run()
    at.button(key="playground_export_1_start").click().run()
    studio.assert_ok()
    deadline = time.monotonic() + 180
    while not any(text.startswith("Ready: ") for text in studio.texts("success")):
        assert time.monotonic() < deadline, studio.texts("error")
        time.sleep(0.5)
        studio.run()
    ready = next(text for text in studio.texts("success") if text.startswith("Ready: "))
    assert "-gguf-q8_0.zip" in ready and "-q8_0.gguf" in ready and "README.md" in ready
    assert " MB)" in ready  # its size, before the download
    buttons = [e for e in at.get("download_button") if e.proto.label.startswith("Download the zip")]
    assert buttons and "MB" in buttons[0].proto.label
