"""The engine's pieces that need no server: labels, rules, request types, speed estimates."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lib.engine import data, models
from lib.engine.params import ChatCompletionParams, JobCreateParams
from lib.engine.scheduler import auto_batch_size, fine_tuned_model_id
from lib.engine.store import Store
from lib.services.pricing import auto_epochs


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(models.local_path(models.TINY_MODEL))


def trained_text(tokenizer, row) -> str:
    return tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label != -100])


def test_loss_only_on_assistant_turns_and_weight_zero_is_skipped(tokenizer):
    example = {"messages": [
        {"role": "system", "content": "Marv is sarcastic."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris", "weight": 0},
        {"role": "user", "content": "More sarcastic?"},
        {"role": "assistant", "content": "Paris, as if everyone doesn't know."},
    ]}
    row = data.tokenize_chat(example, tokenizer)
    assert trained_text(tokenizer, row) == "Paris, as if everyone doesn't know.<|im_end|>"
    assert row["tokens"] == len(row["input_ids"])
    both = data.tokenize_chat({"messages": [{**m, "weight": 1} if m["role"] == "assistant" else m
                                            for m in example["messages"]]}, tokenizer)
    assert trained_text(tokenizer, both) == "Paris<|im_end|>Paris, as if everyone doesn't know.<|im_end|>"


def test_an_example_with_nothing_to_train_on_is_dropped(tokenizer):
    assert data.tokenize_chat({"messages": [{"role": "user", "content": "hi"},
                                            {"role": "assistant", "content": "yo", "weight": 0}]}, tokenizer) is None
    long = {"messages": [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"}]}
    assert data.tokenize_chat(long, tokenizer, max_length=50) is None


def test_training_leaves_a_core_to_each_other_busy_process(monkeypatch):
    # A spinning torch thread waiting for a sibling that another process keeps off its core made a
    # step 10-40x slower; one thread is always left.
    from lib.engine import cpu

    for others, threads in ((0, 2), (1, 1), (5, 1)):
        monkeypatch.setattr(cpu, "others_running", lambda others=others: others)
        assert cpu.threads_for_load(2) == threads
    monkeypatch.setattr(cpu, "others_running", lambda: 3)
    assert cpu.threads_for_load(16) == 13


def test_auto_rules_follow_openai():
    assert [auto_epochs(n) for n in (5, 10, 20, 33, 8334, 30000)] == [20, 10, 5, 3, 2, 1]
    assert auto_batch_size(10) == 1 and auto_batch_size(5000) == 10 and auto_batch_size(10**6) == 256


def test_fine_tuned_model_ids_look_like_openai():
    assert fine_tuned_model_id(models.DEFAULT_MODEL, "elle", "ftjob-abcdefgh12345678") == \
        "ft:SmolLM2-135M-Instruct:local:elle:12345678"
    assert fine_tuned_model_id("tiny-random-llama", None, "ftjob-x2345678") == "ft:tiny-random-llama:local::x2345678"


def test_request_types_check_ranges():
    job = JobCreateParams(model="m", training_file="f", hyperparameters={"n_epochs": 4})
    assert job.resolved_hyperparameters().n_epochs == 4 and job.method_type == "supervised"
    with pytest.raises(ValidationError, match="between 1 and 50"):
        JobCreateParams(model="m", training_file="f", hyperparameters={"n_epochs": True})
    with pytest.raises(ValidationError, match="at most 2"):
        JobCreateParams(model="m", training_file="f", method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0}}})
    with pytest.raises(ValidationError, match="16 keys"):
        JobCreateParams(model="m", training_file="f", metadata={str(i): "v" for i in range(17)})
    chat = ChatCompletionParams(model="m", messages=[{"role": "user", "content": "hi"}], stop="\n",
                                max_completion_tokens=5, max_tokens=9)
    assert chat.stop_list() == ["\n"] and chat.token_limit() == 5


def test_training_time_uses_the_last_jobs(tmp_path):
    from lib.engine.speed import training_time as estimate

    store = Store(tmp_path)
    store.add_run("ftjob-1", models.DEFAULT_MODEL, "cpu", tokens=10000, examples=100, steps=100, seconds=50.0,
                  overhead_seconds=4.0)
    result = estimate(models.DEFAULT_MODEL, tokens=870, examples=10, epochs="auto", data_dir=tmp_path)
    assert result["basis"] == "last 1 job" and result["tokens_per_second"] == 200.0
    assert result["epochs"] == 10 and result["seconds"] == pytest.approx(4.0 + 8700 / 200, abs=0.1)
    none = estimate(models.TINY_MODEL, tokens=10, examples=10, data_dir=tmp_path, calibrate=False)
    assert none["basis"] == "no data" and none["seconds"] is None


def test_a_job_is_created_whole_even_when_the_scheduler_polls_in_between(tmp_path, monkeypatch):
    # The scheduler validates new jobs as soon as it sees them. Here it runs after every database
    # write, the worst timing a real poll could hit: `jobs.create` must still answer the job as
    # created, and its events must start with "Created fine-tuning job", as OpenAI's do.
    import contextlib
    import json
    import threading

    from lib.engine.server import Engine, Settings

    engine = Engine(Settings(data_dir=tmp_path, prewarm=False))
    monkeypatch.setattr(engine.scheduler, "_dispatch", lambda job: None)  # validate only, never train
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
            for i in range(10)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    engine.store.add_file("file-train", "train.jsonl", "fine-tune", path.stat().st_size, path)

    connect = engine.store.connect
    polling = threading.Event()

    @contextlib.contextmanager
    def connect_then_poll():
        with connect() as db:
            yield db
        if not polling.is_set():  # the poll's own reads do not start another poll
            polling.set()
            poll = threading.Thread(target=engine.scheduler.tick)
            poll.start()
            poll.join()
            polling.clear()

    monkeypatch.setattr(engine.store, "connect", connect_then_poll)
    created = engine.create_job(JobCreateParams(model=models.TINY_MODEL, training_file="file-train"))
    monkeypatch.setattr(engine.store, "connect", connect)

    assert created["status"] == "validating_files"
    events, _ = engine.store.list_events(created["id"], limit=100)
    assert [e["message"] for e in reversed(events)] == [
        f"Created fine-tuning job: {created['id']}", "Validating training file: file-train",
        "Files validated, moving job to queued state"]
    assert engine.store.get_job(created["id"])["status"] == "queued"
