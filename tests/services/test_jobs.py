"""Jobs: upload, create with OpenAI's ranges, launch, follow with the monitor, cancel, what they cost."""

from __future__ import annotations

import base64
import json
import time

import pytest

from lib.evaluation import charts
from lib.services import errors, job_monitor, jobs
from lib.services.job_monitor import JobMonitor, MonitorState
from lib.services.providers import ProviderConfig, make_client
from tests.plugins.faults import (
    TEST_KEY,
    StubAPI,
    engine_api_key,
    engine_base_url,
    engine_or_skip,
    stub_openai_client,
)


def examples(n: int = 10) -> str:
    lines = []
    for i in range(n):
        lines.append(json.dumps({"messages": [
            {"role": "system", "content": "Elle answers with a limerick."},
            {"role": "user", "content": f"Tell me about element {i + 1}"},
            {"role": "assistant", "content": f"There once was an element {i + 1}\nwhose story..."},
        ]}))
    return "\n".join(lines) + "\n"


def run_to_the_end(monitor: JobMonitor, limit: int = 500) -> MonitorState:
    for _ in range(limit):
        state = monitor.poll()
        if state.done:
            return state
    raise AssertionError(f"the job did not end: {monitor.state.status}")


# --- create: OpenAI's ranges, checked before anything is sent --------------------------------------------


@pytest.mark.parametrize(
    ("settings", "param", "phrase"),
    [
        ({"n_epochs": 0}, "n_epochs", "from 1 to 50"),
        ({"n_epochs": 51}, "n_epochs", "from 1 to 50"),
        ({"n_epochs": 2.5}, "n_epochs", "whole number"),
        ({"batch_size": 0}, "batch_size", "from 1 to 256"),
        ({"batch_size": 257}, "batch_size", "from 1 to 256"),
        ({"learning_rate_multiplier": 0}, "learning_rate_multiplier", "above 0"),
        ({"learning_rate_multiplier": -1.5}, "learning_rate_multiplier", "above 0"),
        ({"method": "dpo", "beta": 0}, "beta", "above 0 and at most 2"),
        ({"method": "dpo", "beta": 2.5}, "beta", "above 0 and at most 2"),
        ({"beta": 0.1}, "beta", "only applies to preference"),
        ({"suffix": "x" * 65}, "suffix", "at most 64 characters (yours has 65)"),
        ({"method": "reinforcement"}, "method", "supervised or dpo"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "At most 16"),
        ({"seed": "7"}, "seed", "whole number"),
    ],
)
def test_settings_outside_openais_ranges_are_refused_locally(stub_client, stub_api, settings, param, phrase):
    with pytest.raises(errors.BadRequest) as caught:
        jobs.create(stub_client, "tiny-random-llama", "file-x", **settings)
    assert caught.value.param == param and phrase in caught.value.message
    assert stub_api.requests == []  # nothing was sent


def test_create_sends_the_method_form(stub_client, stub_api):
    training = jobs.upload(stub_client, examples().encode(), "train.jsonl")
    job = jobs.create(stub_client, "tiny-random-llama", training.id, n_epochs=3, batch_size=2,
                      learning_rate_multiplier=0.5, suffix="limericks", seed=7, metadata={"dataset": "v3"})
    sent = stub_api.jobs[job.id].job
    assert sent["method"] == {"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 3, "batch_size": 2, "learning_rate_multiplier": 0.5}}}
    assert (sent["suffix"], sent["seed"], sent["metadata"]) == ("limericks", 7, {"dataset": "v3"})


def test_check_params_for_dpo_and_auto():
    assert jobs.check_params(method="dpo", beta=0.1) == {"method": {"type": "dpo", "dpo": {"hyperparameters": {
        "n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto", "beta": 0.1}}}}
    assert jobs.check_params(suffix="  ")["method"]["supervised"]["hyperparameters"]["n_epochs"] == "auto"
    assert "suffix" not in jobs.check_params(suffix="  ")


# --- upload and launch ------------------------------------------------------------------------------------


def test_upload_reports_progress_and_sends_the_bytes_unchanged(stub_client, stub_api, tmp_path):
    data = examples(400).encode()
    seen = []
    uploaded = jobs.upload(stub_client, data, "big.jsonl", progress=lambda f, t: seen.append((f, t)))
    assert stub_api.files[uploaded.id]["content"] == data
    assert uploaded.filename == "big.jsonl" and uploaded.status == "processed"
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 3
    assert seen[-1][1] == f"Uploaded big.jsonl as {uploaded.id}"
    path = tmp_path / "from-disk.jsonl"
    path.write_bytes(data)
    assert jobs.upload(stub_client, path).filename == "from-disk.jsonl"


def test_an_empty_file_is_refused_before_upload(stub_client, stub_api):
    with pytest.raises(errors.BadRequest, match="is empty"):
        jobs.upload(stub_client, b"\n", "empty.jsonl")
    assert stub_api.requests == []


def test_launch_uploads_waits_and_creates(stub_client, stub_api):
    seen = []
    job = jobs.launch(stub_client, examples(), model="tiny-random-llama", validation_jsonl_bytes=examples(3),
                      filename="limericks.jsonl", progress=lambda f, t: seen.append((f, t)), n_epochs=2)
    assert job.status == "validating_files"
    names = sorted(f["object"]["filename"] for f in stub_api.files.values())
    assert names == ["limericks-validation.jsonl", "limericks.jsonl"]
    assert stub_api.jobs[job.id].job["validation_file"] is not None
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[-1][1] == f"Job {job.id} created (validating files)."


def test_launch_checks_the_settings_before_uploading(stub_client, stub_api):
    with pytest.raises(errors.BadRequest, match="suffix"):
        jobs.launch(stub_client, examples(), model="tiny-random-llama", suffix="s" * 70)
    assert stub_api.files == {}


def test_launch_on_openai_after_the_wind_down(make_fault_proxy, stub_server, stub_api):
    proxy = make_fault_proxy(stub_server.url)
    proxy.fail(403, code="training_not_available", path="/fine_tuning/jobs$", method="POST")
    client = make_client(ProviderConfig(kind="url", base_url=proxy.url, api_key=TEST_KEY))
    with pytest.raises(errors.TrainingNotAvailable) as caught:
        jobs.launch(client, examples(), model="gpt-4.1-mini-2025-04-14")
    assert "Azure OpenAI or the local engine" in caught.value.message
    assert len(stub_api.files) == 1  # the upload worked; only the job was refused


# --- list, retrieve, cancel, pause ------------------------------------------------------------------------


def test_list_reads_every_page_newest_first(stub_client):
    training = jobs.upload(stub_client, examples().encode())
    created = [jobs.create(stub_client, "tiny-random-llama", training.id).id for _ in range(105)]
    listed = jobs.list_jobs(stub_client)
    assert [j.id for j in listed] == list(reversed(created))
    assert len(jobs.list_jobs(stub_client, limit=5)) == 5


def test_cancel_and_cancel_again(stub_client):
    job = jobs.launch(stub_client, examples(), model="tiny-random-llama")
    monitor = JobMonitor(stub_client, job.id)
    monitor.poll()
    state = monitor.cancel()
    assert state.status == "cancelled"
    assert jobs.cancel(stub_client, job.id).status == "cancelled"  # already over: nothing to do
    state = run_to_the_end(monitor)
    assert state.status == "cancelled" and state.timeline[-1]["status"] == "cancelled"
    assert state.events[-1]["message"] == "Job cancelled."


def test_pause_where_the_provider_has_no_pause(stub_client):
    job = jobs.launch(stub_client, examples(), model="tiny-random-llama")
    with pytest.raises(errors.NotSupported, match="cannot pause jobs. The job goes on"):
        jobs.pause(stub_client, job.id)
    with pytest.raises(errors.NotSupported, match="cannot resume"):
        jobs.resume(stub_client, job.id)
    with pytest.raises(errors.NotFound):
        jobs.pause(stub_client, "ftjob-unknown")


def test_retrieve_an_unknown_job(stub_client):
    with pytest.raises(errors.NotFound, match="fine-tuning job ftjob-nope"):
        jobs.retrieve(stub_client, "ftjob-nope")


# --- events ------------------------------------------------------------------------------------------------


def test_list_events_pages_back_to_the_last_seen_one_and_returns_oldest_first(stub_client, stub_api):
    job = jobs.launch(stub_client, examples(), model="tiny-random-llama")
    for _ in range(8):
        jobs.retrieve(stub_client, job.id)
    everything = jobs.list_events(stub_client, job.id, page_size=4)
    expected = [e["id"] for e in stub_api.jobs[job.id].events]
    assert [e.id for e in everything] == expected  # all pages, oldest first
    middle = everything[5].id
    assert [e.id for e in jobs.list_events(stub_client, job.id, since=middle, page_size=4)] == expected[6:]
    assert jobs.list_events(stub_client, job.id, since=expected[-1]) == []
    afters = [p.get("after") for m, path, p in stub_api.requests if path.endswith("/events")]
    assert any(afters)  # it paged with after=


# --- the monitor --------------------------------------------------------------------------------------------


def test_monitor_follows_a_job_to_success(stub_client, stub_api):
    job = jobs.launch(stub_client, examples(), model="tiny-random-llama", validation_jsonl_bytes=examples(2))
    monitor = JobMonitor(stub_client, job.id, provider="local", job=job)
    seen_ids: list[str] = []
    progress: list[float] = []
    while not monitor.state.done:
        state = monitor.poll()
        seen_ids += [e["id"] for e in state.new_events]
        if state.progress is not None:
            progress.append(state.progress)
    state = monitor.state
    stub = stub_api.jobs[job.id]
    assert seen_ids == [e["id"] for e in stub.events]  # every event once, oldest first
    assert [e["id"] for e in state.events] == seen_ids and len(set(seen_ids)) == len(seen_ids)
    assert [t["status"] for t in state.timeline] == ["created", "validating_files", "queued", "running", "succeeded"]
    assert state.status == "succeeded" and state.done and state.next_poll_in is None
    assert (state.step, state.total_steps, state.progress) == (100, 100, 1.0)
    assert progress == sorted(progress)
    assert len(state.metrics) == 100 and [r["step"] for r in state.metrics] == list(range(1, 101))
    first = state.metrics[0]
    assert first["train_loss"] == 1.5 and first["valid_loss"] == 1.8 and first["train_mean_token_accuracy"] == 0.625
    assert first["valid_mean_token_accuracy"] == 0.55 and first["total_steps"] == 100
    assert state.fine_tuned_model == stub.job["fine_tuned_model"]
    assert [c["step_number"] for c in state.checkpoints] == [80, 90, 100]
    assert state.checkpoints[0]["fine_tuned_model_checkpoint"].endswith(":ckpt-step-80")
    assert state.result["columns"] == ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]
    assert len(state.result["rows"]) == 100 and state.result["rows"][0]["step"] == 1
    assert state.trained_tokens == 10_000 and state.cost == 0.0
    assert state.curves.startswith("Validation loss")
    assert state.events[-1]["message"] == "The job has successfully completed"
    assert not monitor.due()


def test_the_result_csv_may_come_base64_encoded():
    stub = StubAPI(base64_results=True, steps_per_tick=50)
    client = stub_openai_client(stub)
    job = jobs.launch(client, examples(), model="tiny-random-llama")
    state = run_to_the_end(JobMonitor(client, job.id))
    raw = stub.files[state.result["file_id"]]["content"]
    assert base64.b64decode(raw).startswith(b"step,train_loss")
    assert state.result["csv"].startswith("step,train_loss")
    assert len(state.result["rows"]) == 100 and state.result["rows"][-1]["step"] == 100


def test_a_failed_job_shows_its_error_and_the_lines_it_names():
    stub = StubAPI(fail_with="Invalid file format: line 3 has no assistant message; line 7 is not valid JSON.")
    client = stub_openai_client(stub)
    job = jobs.launch(client, examples(), model="tiny-random-llama")
    state = run_to_the_end(JobMonitor(client, job.id))
    assert state.status == "failed"
    assert state.error["type"] == "JobFailed" and state.error["lines"] == [3, 7]
    assert "line 3 has no assistant message" in state.error["message"]
    assert "Fix lines 3, 7 of the training data" in state.error["message"]
    assert state.events[-1]["level"] == "error"


def test_backs_off_while_queued_and_polls_fast_while_running():
    stub = StubAPI(queue_ticks=7, steps_per_tick=1)
    client = stub_openai_client(stub)
    job = jobs.launch(client, examples(), model="tiny-random-llama")
    monitor = JobMonitor(client, job.id, fast=1.0, slow_max=10.0)
    seen = []
    for _ in range(10):
        state = monitor.poll()
        seen.append((state.status, state.next_poll_in))
    assert seen[:8] == [
        ("queued", 1.0), ("queued", 2.0), ("queued", 4.0), ("queued", 8.0), ("queued", 10.0), ("queued", 10.0),
        ("queued", 10.0), ("running", 1.0),
    ]
    assert seen[-1] == ("running", 1.0)


def test_due_says_when_the_next_poll_is_worth_it(stub_client):
    now = [1000.0]
    job = jobs.launch(stub_client, examples(), model="tiny-random-llama")
    monitor = JobMonitor(stub_client, job.id, clock=lambda: now[0])
    assert monitor.due()
    monitor.poll()
    assert not monitor.due()
    now[0] += monitor.state.next_poll_in
    assert monitor.due()
    assert monitor.maybe_poll().polled_at == now[0]


def test_eta_from_the_step_timing(stub_client):
    job = jobs.launch(stub_client, examples(), model="tiny-random-llama")
    monitor = JobMonitor(stub_client, job.id)
    for _ in range(6):
        state = monitor.poll()
    # The stub's clock moves 2 s per event: one metrics event per step, so 2 s a step.
    assert state.status == "running" and state.step == 12
    assert state.eta_seconds == pytest.approx((100 - 12) * 2, rel=0.1)


def test_monitoring_resumes_from_its_saved_state(stub_client, stub_api):
    job = jobs.launch(stub_client, examples(), model="tiny-random-llama")
    first = JobMonitor(stub_client, job.id)
    for _ in range(5):
        first.poll()
    saved = json.loads(json.dumps(first.to_dict()))  # what a page keeps across a refresh
    assert saved["last_event_id"] == first.state.events[-1]["id"]
    resumed = JobMonitor.from_dict(stub_client, saved)
    state = run_to_the_end(resumed)
    ids = [e["id"] for e in state.events]
    assert ids == [e["id"] for e in stub_api.jobs[job.id].events] and len(ids) == len(set(ids))
    assert [r["step"] for r in state.metrics] == list(range(1, 101))
    # From nothing but the job id, everything is read again.
    bare = run_to_the_end(JobMonitor.from_dict(stub_client, {"job_id": job.id, "last_event_id": ids[-1]}))
    assert [e["id"] for e in bare.events] == ids and bare.status == "succeeded"


def test_a_passing_failure_is_kept_as_a_warning_and_retried(make_fault_proxy, stub_api, stub_server):
    stub_api.steps_per_tick = 25
    proxy = make_fault_proxy(stub_server.url)
    client = make_client(ProviderConfig(kind="url", base_url=proxy.url, api_key=TEST_KEY, max_retries=0))
    job = jobs.launch(client, examples(), model="tiny-random-llama")
    monitor = JobMonitor(client, job.id)
    monitor.poll()
    proxy.fail(503, path="/events", times=1)
    state = monitor.poll()
    assert state.warning and "had a problem on its side (503)" in state.warning
    assert state.next_poll_in == 2.0
    state = monitor.poll()
    assert state.warning is None
    state = run_to_the_end(monitor)
    ids = [e["id"] for e in state.events]
    assert len(ids) == len(set(ids)) and state.status == "succeeded"


def test_a_lasting_failure_raises(make_fault_proxy, stub_server):
    proxy = make_fault_proxy(stub_server.url)
    client = make_client(ProviderConfig(kind="url", base_url=proxy.url, api_key=TEST_KEY, max_retries=0))
    job = jobs.launch(client, examples(), model="tiny-random-llama")
    proxy.fail(401)
    with pytest.raises(errors.AuthError):
        JobMonitor(client, job.id).poll()


def test_metrics_rows_from_events_or_messages():
    event = {"message": "Step 40/100: training loss=0.42, validation loss=0.55, full validation loss=0.61",
             "created_at": 5, "data": None}
    row = job_monitor.metrics_row(event)
    assert (row["step"], row["total_steps"], row["train_loss"], row["valid_loss"], row["full_valid_loss"]) == (
        40, 100, 0.42, 0.55, 0.61)
    assert job_monitor.metrics_row({"message": "Fine-tuning job started", "data": None}) is None


# --- cost ------------------------------------------------------------------------------------------------------


def test_actual_cost():
    assert jobs.actual_cost({"model": "gpt-4.1-mini-2025-04-14", "trained_tokens": 17_460}) == pytest.approx(0.0873)
    assert jobs.actual_cost({"model": "gpt-4o-mini", "trained_tokens": 1_000_000}) == pytest.approx(3.0)
    assert jobs.actual_cost({"model": "gpt-4.1-mini-2025-04-14", "trained_tokens": None}) is None
    assert jobs.actual_cost({"model": "some-unknown-model", "trained_tokens": 5}) is None
    assert jobs.actual_cost({"model": "HuggingFaceTB/SmolLM2-135M-Instruct", "trained_tokens": 9_999}) == 0.0
    assert jobs.actual_cost({"model": "anything", "trained_tokens": 5}, provider="local") == 0.0


# --- the real local engine ------------------------------------------------------------------------------------


@pytest.fixture
def engine(request):
    server = engine_or_skip(request)
    config = ProviderConfig(kind="local", base_url=engine_base_url(server), api_key=engine_api_key(server), timeout=60)
    return make_client(config)


@pytest.mark.slow
def test_launch_monitor_succeeded_on_the_engine(engine):
    seen = []
    job = jobs.launch(engine, examples(), model="tiny-random-llama", n_epochs=2, suffix="faults",
                      progress=lambda f, t: seen.append(f))
    assert seen[-1] == 1.0
    monitor = JobMonitor(engine, job.id, provider="local", fast=0.2)
    started = time.monotonic()
    new_ids: list[str] = []
    while not monitor.state.done:
        state = monitor.poll()
        new_ids += [e["id"] for e in state.new_events]
        assert time.monotonic() - started < 300, "the tiny model should train in seconds"
        time.sleep(state.next_poll_in or 0)
    state = monitor.state
    assert state.status == "succeeded", state.error
    assert len(new_ids) == len(set(new_ids)) and new_ids == [e["id"] for e in state.events]
    created = [e["created_at"] for e in state.events]
    assert created == sorted(created)  # oldest first
    server_side = [e.id for e in jobs.list_events(engine, job.id)]
    assert server_side == new_ids  # nothing missed, nothing twice
    assert state.metrics and state.total_steps and state.step == state.total_steps and state.progress == 1.0
    assert state.fine_tuned_model and "faults" in state.fine_tuned_model
    assert state.checkpoints and state.result and state.result["rows"]
    assert state.cost == 0.0 and state.trained_tokens
    assert any(j.id == job.id for j in jobs.list_jobs(engine))
    # One name per metric from the trainer to the chart: the token-accuracy chart draws the job's points,
    # and the result file carries the same figures in OpenAI's columns.
    loss = charts.training_curves(state.metrics, metric="loss")
    accuracy = charts.training_curves(state.metrics, metric="accuracy")
    assert [trace.name for trace in accuracy.data][:1] == ["Training accuracy"]
    assert list(accuracy.data[0].x) == list(loss.data[0].x) and all(0 <= y <= 1 for y in accuracy.data[0].y)
    trained = [row for row in state.result["rows"] if row["train_loss"] is not None]
    assert trained and all(row["train_accuracy"] is not None for row in trained)


@pytest.mark.slow
def test_cancel_on_the_engine(engine):
    job = jobs.launch(engine, examples(), model="tiny-random-llama", n_epochs=50)
    monitor = JobMonitor(engine, job.id, provider="local")
    monitor.poll()
    assert monitor.cancel().status in ("cancelled", "running", "queued", "validating_files")
    deadline = time.monotonic() + 60
    while not monitor.state.done and time.monotonic() < deadline:
        monitor.poll()
        time.sleep(0.2)
    assert monitor.state.status == "cancelled"


def test_job_history_rows_link_to_the_dataset(stub_client):
    job = jobs.launch(stub_client, examples(), model="tiny-random-llama", suffix="elle",
                      metadata={"dataset": "limericks", "dataset_version": "3"})
    (row,) = [jobs.job_row(j, provider="local") for j in jobs.list_jobs(stub_client)]
    assert row == {
        "id": job.id, "status": "validating_files", "model": "tiny-random-llama", "fine_tuned_model": None,
        "created_at": job.created_at, "finished_at": None, "trained_tokens": None, "cost": 0.0, "suffix": "elle",
        "dataset": "limericks", "dataset_version": "3", "error": None,
    }


def test_a_file_the_provider_rejects_while_processing(stub_client, stub_api):
    upload = stub_api._upload

    def rejecting(headers, body):
        obj = upload(headers, body)
        obj.update(status="error", status_details="Line 2 is not valid JSON.")
        return obj

    stub_api._upload = rejecting
    with pytest.raises(errors.BadRequest) as caught:
        jobs.upload(stub_client, b'{"messages": []}\n{oops\n', "x.jsonl")
    assert caught.value.message == (
        "The provider rejected the uploaded file x.jsonl: Line 2 is not valid JSON. Fix line 2 on the Dataset page "
        "and launch again."
    )


@pytest.mark.slow
def test_launch_through_passing_faults_on_the_engine(fault_proxy):
    """A 503 on the upload and a 429 on create, each once: the SDK retries, the job is created once."""
    fault_proxy.fail(503, path="/files$", method="POST", times=1, headers={"retry-after-ms": "10"})
    fault_proxy.fail(429, path="/fine_tuning/jobs$", method="POST", times=1, retry_after=1)
    client = make_client(ProviderConfig(kind="local", base_url=fault_proxy.url, api_key=fault_proxy.api_key))
    job = jobs.launch(client, examples(), model="tiny-random-llama", n_epochs=1)
    assert jobs.retrieve(client, job.id).id == job.id
    assert fault_proxy.hits("/files$") == 2 and fault_proxy.upstream_hits("/files$") == 1
    assert fault_proxy.hits("/fine_tuning/jobs$") == 2 and fault_proxy.upstream_hits("/fine_tuning/jobs$") == 1
    jobs.cancel(client, job.id)
