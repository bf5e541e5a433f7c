"""A fine-tuning job's whole life on the tiny model, through the openai SDK only."""

from __future__ import annotations

import csv
import io
import time

import pytest

from tests.plugins.engine import TINY, chat_examples, write_jsonl

TERMINAL = ("succeeded", "failed", "cancelled")


def wait_for(client, job_id: str, statuses=TERMINAL, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses:
            return job
        assert time.monotonic() < deadline, f"job still {job.status} after {timeout} s"
        time.sleep(0.2)


def upload(client, path):
    with path.open("rb") as handle:
        return client.files.create(file=handle, purpose="fine-tune")


@pytest.fixture(scope="module")
def finished_job(engine_server, tmp_path_factory):
    """One job with a validation file, trained to the end: 10 examples x 3 epochs = 30 steps."""
    client = engine_server.client()
    folder = tmp_path_factory.mktemp("lifecycle")
    training = upload(client, write_jsonl(folder / "train.jsonl", chat_examples(10)))
    validation = upload(client, write_jsonl(folder / "valid.jsonl", chat_examples(12)[10:]))
    created = client.fine_tuning.jobs.create(
        model=TINY, training_file=training.id, validation_file=validation.id, suffix="lifecycle", seed=7,
        metadata={"test": "lifecycle"},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
    )
    job = wait_for(client, created.id)
    return created, job, training


def test_models_list_has_the_base_models_and_labels_the_tiny_one(engine_client):
    models = {m.id: m for m in engine_client.models.list()}
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in models
    assert "random weights, for tests" in models[TINY].model_extra["description"]
    assert engine_client.models.retrieve(TINY).id == TINY
    assert engine_client.models.retrieve("HuggingFaceTB/SmolLM2-135M-Instruct").owned_by == "HuggingFaceTB"


def test_created_job_has_openai_shape(finished_job):
    created, _, training = finished_job
    assert created.object == "fine_tuning.job"
    assert created.id.startswith("ftjob-")
    assert created.status == "validating_files"
    assert created.model == TINY
    assert created.training_file == training.id
    assert created.seed == 7
    assert created.metadata == {"test": "lifecycle"}
    assert created.fine_tuned_model is None and created.finished_at is None
    assert created.hyperparameters.n_epochs == 3
    assert created.method.type == "supervised"


def test_job_succeeds_with_model_tokens_and_results(finished_job):
    _, job, _ = finished_job
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model == f"ft:{TINY}:local:lifecycle:{job.id[-8:]}"
    assert job.trained_tokens > 0
    assert job.finished_at >= job.created_at
    assert job.estimated_finish is None
    assert job.hyperparameters.batch_size == 1 and job.hyperparameters.learning_rate_multiplier == 1.0
    assert len(job.result_files) == 1


def test_events_come_newest_first_in_openai_order(engine_client, finished_job):
    _, job, training = finished_job
    events = engine_client.fine_tuning.jobs.list_events(job.id, limit=1000).data
    messages = [e.message for e in reversed(events) if e.type == "message"]
    assert messages[:4] == [f"Created fine-tuning job: {job.id}", f"Validating training file: {training.id}",
                            f"Validating validation file: {job.validation_file}",
                            "Files validated, moving job to queued state"]
    assert messages[4] == "Fine-tuning job started"
    assert messages[-5:] == [
        f"Checkpoint created at step 10 with Snapshot ID: {job.fine_tuned_model}:ckpt-step-10",
        f"Checkpoint created at step 20 with Snapshot ID: {job.fine_tuned_model}:ckpt-step-20",
        f"Checkpoint created at step 30 with Snapshot ID: {job.fine_tuned_model}:ckpt-step-30",
        f"New fine-tuned model created: {job.fine_tuned_model}",
        "The job has successfully completed",
    ]
    assert [e.created_at for e in events] == sorted((e.created_at for e in events), reverse=True)
    page = engine_client.fine_tuning.jobs.list_events(job.id, limit=5)
    assert page.has_more and len(page.data) == 5
    older = engine_client.fine_tuning.jobs.list_events(job.id, limit=5, after=page.data[-1].id)
    assert older.data[0].id == events[5].id


def test_metrics_events_carry_step_losses_and_accuracy(engine_client, finished_job):
    _, job, _ = finished_job
    events = engine_client.fine_tuning.jobs.list_events(job.id, limit=1000).data
    metrics = [e for e in reversed(events) if e.type == "metrics"]
    assert [e.data["step"] for e in metrics] == list(range(1, 31))
    first = metrics[0]
    assert first.message.startswith("Step 1/30: training loss=")
    assert set(first.data) >= {"step", "train_loss", "valid_loss", "total_steps", "train_mean_token_accuracy",
                               "valid_mean_token_accuracy"}
    assert first.data["total_steps"] == 30
    assert all(0.0 <= e.data["train_mean_token_accuracy"] <= 1.0 for e in metrics)
    last = metrics[-1]
    assert last.data["valid_loss"] is not None and ", validation loss=" in last.message


def test_checkpoints_of_the_last_three_epochs(engine_client, finished_job):
    _, job, _ = finished_job
    checkpoints = engine_client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [30, 20, 10]
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{job.fine_tuned_model}:ckpt-step-30"
    assert checkpoints[0].metrics.train_loss is not None
    assert all(c.fine_tuning_job_id == job.id and c.id.startswith("ftckpt_") for c in checkpoints)
    model_ids = {m.id for m in engine_client.models.list()}
    assert {job.fine_tuned_model, *(c.fine_tuned_model_checkpoint for c in checkpoints)} <= model_ids


def test_result_file_is_the_metrics_csv(engine_client, finished_job):
    _, job, _ = finished_job
    info = engine_client.files.retrieve(job.result_files[0])
    assert info.purpose == "fine-tune-results" and info.filename == "step_metrics.csv"
    rows = list(csv.DictReader(io.StringIO(engine_client.files.content(job.result_files[0]).text)))
    assert list(rows[0]) == ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]
    assert [int(r["step"]) for r in rows] == list(range(1, 31))
    assert float(rows[0]["train_loss"]) > 0
    assert rows[-1]["valid_loss"] != ""


def test_chat_with_the_fine_tuned_model_and_a_checkpoint(engine_client, finished_job):
    _, job, _ = finished_job
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Tell me about Tin"}]
    for model in (job.fine_tuned_model, f"{job.fine_tuned_model}:ckpt-step-20", TINY):
        reply = engine_client.chat.completions.create(model=model, messages=messages, max_tokens=8, temperature=0)
        assert reply.object == "chat.completion" and reply.model == model
        choice = reply.choices[0]
        assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
        assert choice.finish_reason in ("stop", "length")
        assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 8
        assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streamed_chat_matches_the_plain_one(engine_client, finished_job):
    _, job, _ = finished_job
    messages = [{"role": "user", "content": "Tell me about Tin"}]
    plain = engine_client.chat.completions.create(model=job.fine_tuned_model, messages=messages, max_tokens=12,
                                                  temperature=0, seed=3)
    stream = engine_client.chat.completions.create(model=job.fine_tuned_model, messages=messages, max_tokens=12,
                                                   temperature=0, seed=3, stream=True,
                                                   stream_options={"include_usage": True})
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishing) == 1 and finishing[0].choices[0].finish_reason == plain.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens


def test_base_fine_tuned_and_checkpoint_asked_at_once_answer_as_when_asked_alone(engine_client, finished_job):
    """The Playground asks several models the same thing at once: the engine batches them (each row its
    own adapter, prompts of different lengths padded), and each reply is what it would be alone."""
    from concurrent.futures import ThreadPoolExecutor

    _, job, _ = finished_job
    asks = [(model, [{"role": "user", "content": question}])
            for model, question in ((TINY, "Tell me about Tin"), (job.fine_tuned_model, "Tell me about Tin"),
                                    (f"{job.fine_tuned_model}:ckpt-step-20", "Tell me about Iron, please, briefly"))]

    def ask(model_and_messages, **extra):
        model, messages = model_and_messages
        reply = engine_client.chat.completions.create(model=model, messages=messages, max_tokens=12, temperature=0,
                                                      **extra)
        return reply.choices[0].message.content, reply.choices[0].finish_reason, reply.usage.completion_tokens

    alone = [ask(a) for a in asks]
    with ThreadPoolExecutor(len(asks)) as pool:
        together = list(pool.map(ask, asks))
    assert together == alone  # (the tiny model's answers are noise; test_smollm2 checks real ones)


def test_sampling_is_reproducible_with_a_seed(engine_client):
    kwargs = dict(model=TINY, messages=[{"role": "user", "content": "Hi"}], max_tokens=10, temperature=1.0,
                  top_p=0.9, seed=11)
    first = engine_client.chat.completions.create(**kwargs).choices[0].message.content
    again = engine_client.chat.completions.create(**kwargs).choices[0].message.content
    assert first == again


def test_jobs_list_pages_newest_first_and_filters_metadata(engine_client, finished_job):
    _, job, _ = finished_job
    page = engine_client.fine_tuning.jobs.list(limit=100)
    assert job.id in [j.id for j in page.data]
    tagged = engine_client.fine_tuning.jobs.list(metadata={"test": "lifecycle"}).data
    assert [j.id for j in tagged] == [job.id]


def test_cancel_stops_a_running_job_within_seconds(engine_client, tmp_path):
    training = upload(engine_client, write_jsonl(tmp_path / "train.jsonl", chat_examples(10)))
    job = engine_client.fine_tuning.jobs.create(model=TINY, training_file=training.id,
                                                hyperparameters={"n_epochs": 50})
    wait_for(engine_client, job.id, ("running",), timeout=60)
    started = time.monotonic()
    cancelled = engine_client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    # the worker is gone and the next job trains: proof that the slot was freed
    follow = engine_client.fine_tuning.jobs.create(model=TINY, training_file=training.id,
                                                   hyperparameters={"n_epochs": 1})
    assert wait_for(engine_client, follow.id).status == "succeeded"
    assert time.monotonic() - started < 60
    assert engine_client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    messages = [e.message for e in engine_client.fine_tuning.jobs.list_events(job.id, limit=1000).data]
    assert "The job was cancelled." in messages


def test_an_invalid_training_file_fails_the_job_naming_the_line(engine_client, tmp_path):
    rows = chat_examples(10)
    rows[2] = {"messages": [{"role": "user", "content": "Tell me about Boron"}]}  # line 3: no assistant reply
    training = upload(engine_client, write_jsonl(tmp_path / "bad.jsonl", rows))
    job = engine_client.fine_tuning.jobs.create(model=TINY, training_file=training.id)
    job = wait_for(engine_client, job.id, timeout=30)
    assert job.status == "failed"
    assert job.error.param == "training_file"
    assert job.error.code == "invalid_training_file"
    assert "Line 3" in job.error.message
    events = engine_client.fine_tuning.jobs.list_events(job.id).data
    assert events[0].level == "error" and "Line 3" in events[0].message


def test_a_line_that_is_not_json_fails_the_job(engine_client, tmp_path):
    rows = [*chat_examples(10)[:4], '{"messages": [', *chat_examples(10)[4:]]
    training = upload(engine_client, write_jsonl(tmp_path / "broken.jsonl", rows))
    job = wait_for(engine_client, engine_client.fine_tuning.jobs.create(model=TINY, training_file=training.id).id)
    assert job.status == "failed" and job.error.param == "training_file"
    assert "Line 5" in job.error.message and "JSON" in job.error.message


def test_pause_and_resume_continue_from_a_checkpoint(engine_client, tmp_path):
    training = upload(engine_client, write_jsonl(tmp_path / "train.jsonl", chat_examples(10)))
    job = engine_client.fine_tuning.jobs.create(model=TINY, training_file=training.id,
                                                hyperparameters={"n_epochs": 30})
    wait_for(engine_client, job.id, ("running",), timeout=60)
    time.sleep(1.0)
    paused = engine_client.fine_tuning.jobs.pause(job.id)
    assert paused.status == "paused"
    deadline = time.monotonic() + 30
    while not any("paused at step" in e.message
                  for e in engine_client.fine_tuning.jobs.list_events(job.id, limit=20).data):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert engine_client.fine_tuning.jobs.retrieve(job.id).status == "paused"
    events = engine_client.fine_tuning.jobs.list_events(job.id, limit=1000).data
    paused_at = int(next(e.message for e in events if "paused at step" in e.message).split("step ")[1].split(";")[0])
    resumed = engine_client.fine_tuning.jobs.resume(job.id)
    assert resumed.status == "queued"
    deadline = time.monotonic() + 60
    while True:  # training goes on from the checkpoint: steps after the pause, none counted from 1 again
        events = engine_client.fine_tuning.jobs.list_events(job.id, limit=1000).data
        steps = [e.data["step"] for e in reversed(events) if e.type == "metrics"]
        if steps and steps[-1] > paused_at + 2:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert steps == sorted(steps) and steps[0] == 1 and steps.count(1) == 1
    engine_client.fine_tuning.jobs.cancel(job.id)  # finishing 300 steps is not needed
    assert engine_client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"


def test_full_fine_tuning_and_dpo_train_the_tiny_model(engine_client, tmp_path):
    training = upload(engine_client, write_jsonl(tmp_path / "train.jsonl", chat_examples(10)))
    full = engine_client.fine_tuning.jobs.create(
        model=TINY, training_file=training.id, metadata={"training": "full"},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2,
                                                                          "learning_rate_multiplier": 100}}})
    pairs = [{"input": {"messages": [{"role": "user", "content": f"Tell me about {name}"}]},
              "preferred_output": [{"role": "assistant", "content": f"{name}, - a limerick."}],
              "non_preferred_output": [{"role": "assistant", "content": f"{name} is an element."}]}
             for name in ["H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne"]]
    preference = upload(engine_client, write_jsonl(tmp_path / "dpo.jsonl", pairs))
    dpo = engine_client.fine_tuning.jobs.create(
        model=TINY, training_file=preference.id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 1, "beta": 0.2}}})
    full = wait_for(engine_client, full.id)
    assert full.status == "succeeded", full.error
    losses = [e.data["train_loss"] for e in reversed(engine_client.fine_tuning.jobs.list_events(full.id,
              limit=1000).data) if e.type == "metrics"]
    assert losses[-1] < losses[0] - 1.0  # full fine-tuning at a high rate moves even random weights
    reply = engine_client.chat.completions.create(model=full.fine_tuned_model, max_tokens=4,
                                                  messages=[{"role": "user", "content": "Tell me about Tin"}])
    assert reply.usage.completion_tokens > 0
    dpo = wait_for(engine_client, dpo.id)
    assert dpo.status == "succeeded", dpo.error
    assert dpo.method.type == "dpo" and dpo.method.dpo.hyperparameters.beta == 0.2
