"""Every refusal comes in OpenAI's error envelope with the right status code."""

from __future__ import annotations

import time

import openai
import pytest

from lib.services.errors import translate
from tests.plugins.engine import TINY, assert_openai_error, chat_examples, write_jsonl


@pytest.fixture(scope="module")
def training_file(engine_server, tmp_path_factory):
    path = write_jsonl(tmp_path_factory.mktemp("errors") / "train.jsonl", chat_examples(10))
    with path.open("rb") as handle:
        return engine_server.client().files.create(file=handle, purpose="fine-tune")


def error_of(call, *args, **kwargs) -> Exception:
    with pytest.raises(openai.APIStatusError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_wrong_or_missing_key_is_401(engine_server):
    for key in ("wrong-key", ""):
        client = engine_server.client(api_key=key or "x", default_headers={} if key else {"Authorization": ""})
        error = error_of(client.models.list)
        assert_openai_error(error, 401, code="invalid_api_key")
        # The studio's message names the engine (known by its header) and the setting to fix.
        assert translate(error).message.startswith("The local engine did not accept the API key")
        assert "FTS_ENGINE_KEY" in translate(error).message


def test_health_and_openapi_need_no_key(engine_server):
    import json
    import urllib.request

    def get(path):
        with urllib.request.urlopen(engine_server.root_url + path) as response:
            return json.loads(response.read())

    assert get("/health")["status"] == "ok"
    spec = get("/openapi.json")
    assert "/v1/fine_tuning/jobs" in spec["paths"] and "/v1/chat/completions" in spec["paths"]


@pytest.mark.parametrize("call, code", [
    (lambda c: c.fine_tuning.jobs.retrieve("ftjob-nope"), "fine_tuning_job_not_found"),
    (lambda c: c.fine_tuning.jobs.cancel("ftjob-nope"), "fine_tuning_job_not_found"),
    (lambda c: c.fine_tuning.jobs.list_events("ftjob-nope"), "fine_tuning_job_not_found"),
    (lambda c: c.files.retrieve("file-nope"), "file_not_found"),
    (lambda c: c.files.content("file-nope"), "file_not_found"),
    (lambda c: c.models.retrieve("ft:nothing:local::x"), "model_not_found"),
    (lambda c: c.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}]),
     "model_not_found"),
])
def test_unknown_things_are_404(engine_client, call, code):
    assert_openai_error(error_of(call, engine_client), 404, code=code)


@pytest.mark.parametrize("hyperparameters, param", [
    ({"n_epochs": 0}, "method.supervised.hyperparameters.n_epochs"),
    ({"n_epochs": 51}, "method.supervised.hyperparameters.n_epochs"),
    ({"n_epochs": "many"}, "method.supervised.hyperparameters.n_epochs"),
    ({"batch_size": 257}, "method.supervised.hyperparameters.batch_size"),
    ({"learning_rate_multiplier": 0}, "method.supervised.hyperparameters.learning_rate_multiplier"),
    ({"learning_rate_multiplier": -1.5}, "method.supervised.hyperparameters.learning_rate_multiplier"),
])
def test_hyperparameters_outside_openai_ranges_are_400(engine_client, training_file, hyperparameters, param):
    error = assert_openai_error(error_of(
        engine_client.fine_tuning.jobs.create, model=TINY, training_file=training_file.id,
        method={"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}), 400, param=param)
    assert next(iter(hyperparameters)) in error["message"]


def test_other_bad_job_requests_are_400(engine_client, training_file):
    create = engine_client.fine_tuning.jobs.create
    assert_openai_error(error_of(create, model=TINY, training_file=training_file.id,
                                 hyperparameters={"n_epochs": 99}), 400, param="hyperparameters.n_epochs")
    assert_openai_error(error_of(create, model=TINY, training_file=training_file.id,
                                 method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 3}}}),
                        400, param="method.dpo.hyperparameters.beta")
    assert_openai_error(error_of(create, model=TINY, training_file=training_file.id, suffix="x" * 65), 400,
                        param="suffix")
    assert_openai_error(error_of(create, model=TINY, training_file="file-missing"), 400, param="training_file",
                        code="invalid_file_id")
    assert_openai_error(error_of(create, model="gpt-unknown", training_file=training_file.id), 400, param="model",
                        code="model_not_available")
    assert_openai_error(error_of(create, model=TINY, training_file=training_file.id,
                                 method={"type": "reinforcement"}), 400)
    assert_openai_error(error_of(engine_client.post, "/fine_tuning/jobs", body={"model": TINY},
                                 cast_to=object), 400, param="training_file", code="missing_required_parameter")


def test_bad_chat_requests_are_400(engine_client):
    chat = engine_client.chat.completions.create
    messages = [{"role": "user", "content": "hi"}]
    assert_openai_error(error_of(chat, model=TINY, messages=messages, temperature=3), 400, param="temperature")
    assert_openai_error(error_of(chat, model=TINY, messages=[]), 400, param="messages")
    assert_openai_error(error_of(chat, model=TINY, messages=messages, n=129), 400, param="n")  # OpenAI: 1-128


def test_upload_needs_a_known_purpose_and_jsonl(engine_client, tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", chat_examples(10))
    with path.open("rb") as handle:
        assert_openai_error(error_of(engine_client.files.create, file=handle, purpose="nonsense"), 400,
                            param="purpose")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with text.open("rb") as handle:
        assert_openai_error(error_of(engine_client.files.create, file=handle, purpose="fine-tune"), 400,
                            param="file", code="invalid_file_format")


def test_finished_job_cannot_be_cancelled_409_and_busy_file_cannot_be_deleted(engine_client, training_file, tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", chat_examples(10))
    with path.open("rb") as handle:
        own = engine_client.files.create(file=handle, purpose="fine-tune")
    job = engine_client.fine_tuning.jobs.create(model=TINY, training_file=own.id, hyperparameters={"n_epochs": 1})
    assert_openai_error(error_of(engine_client.files.delete, own.id), 409, code="file_in_use")
    deadline = time.monotonic() + 120
    while engine_client.fine_tuning.jobs.retrieve(job.id).status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert_openai_error(error_of(engine_client.fine_tuning.jobs.cancel, job.id), 409, code="job_not_cancellable")
    assert_openai_error(error_of(engine_client.fine_tuning.jobs.resume, job.id), 409, code="job_not_paused")
    deleted = engine_client.files.delete(own.id)
    assert deleted.deleted is True
    assert_openai_error(error_of(engine_client.files.retrieve, own.id), 404)


def test_upload_over_the_limit_is_413_and_a_full_queue_is_429(start_engine, tmp_path):
    server = start_engine(extra_args=["--max-upload-mb", "0.004", "--max-waiting-jobs", "1"], prewarm=False)
    client = server.client()
    big = write_jsonl(tmp_path / "big.jsonl", chat_examples(10) * 3)  # about 7 kB, over 4 kB
    with big.open("rb") as handle:
        error = assert_openai_error(error_of(client.files.create, file=handle, purpose="fine-tune"), 413,
                                    code="file_too_large")
    assert "limit" in error["message"]
    small = write_jsonl(tmp_path / "small.jsonl", chat_examples(10))
    with small.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="fine-tune")  # under the limit: accepted
    running = client.fine_tuning.jobs.create(model=TINY, training_file=uploaded.id, hyperparameters={"n_epochs": 50})
    deadline = time.monotonic() + 60
    while client.fine_tuning.jobs.retrieve(running.id).status != "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    waiting = client.fine_tuning.jobs.create(model=TINY, training_file=uploaded.id)
    assert_openai_error(error_of(client.fine_tuning.jobs.create, model=TINY, training_file=uploaded.id), 429,
                        code="queue_full")
    for job in (waiting, running):
        assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
