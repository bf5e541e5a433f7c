"""Together AI behind the studio's job model: its statuses, names and errors, against a documented-shape stub."""

from __future__ import annotations

import pytest

from lib.services import errors, job_monitor, jobs, providers, together
from tests.plugins.engine import chat_examples
from tests.plugins.together_stub import TogetherStub, together_client_for

DATA = "".join(__import__("json").dumps(e) + "\n" for e in chat_examples(10)).encode()
MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def test_a_job_walks_through_togethers_statuses_as_the_studios(together_api, together_client):
    job = jobs.launch(together_client, DATA, model=MODEL, n_epochs=2, batch_size=8, learning_rate_multiplier=2.0,
                      suffix="limericks")
    assert job.status == "validating_files"  # Together's "pending"
    body = together_api.bodies[0]
    assert body["n_epochs"] == 2 and body["batch_size"] == 8 and body["learning_rate"] == pytest.approx(2e-5)
    assert body["training_type"] == {"type": "Lora"} and body["training_method"] == {"method": "sft"}
    assert body["suffix"] == "limericks" and "hyperparameters" not in body
    seen = []
    monitor = job_monitor.JobMonitor(together_client, job.id, provider="together")
    for _ in range(10):
        state = monitor.poll()
        seen.append((together_api.jobs[job.id]["status"], state.status))
        if state.terminal:
            break
    assert seen == [("queued", "queued"), ("running", "running"), ("compressing", "running"),
                    ("uploading", "running"), ("completed", "succeeded")]
    assert state.fine_tuned_model == f"stub-user/Meta-Llama-3.1-8B-Instruct-Reference-limericks-{job.id[-4:]}"
    messages = [e.message for e in jobs.list_events(together_client, job.id)]
    assert messages[0] == "Fine tune request created" and messages[-1] == "Job finished"
    assert [j.id for j in jobs.list_jobs(together_client)] == [job.id]
    assert together_api.hosts == {"api.together.xyz"}


def test_cancel_goes_through_cancel_requested(together_api, together_client):
    job = jobs.launch(together_client, DATA, model=MODEL)
    assert jobs.cancel(together_client, job.id).status == "running"  # cancel_requested: not stopped yet
    assert jobs.retrieve(together_client, job.id).status == "cancelled"
    assert jobs.retrieve(together_client, job.id).metadata == {"together_status": "cancelled"}


def test_a_user_error_fails_the_job_with_togethers_reason():
    api = TogetherStub(user_error="Line 3: missing 'messages' field")
    client = together_client_for(api)
    job = jobs.launch(client, DATA, model=MODEL)
    failed = jobs.retrieve(client, job.id)
    assert failed.status == "failed" and failed.error.code == "user_error"
    err = errors.JobFailed.from_job(failed)
    assert err.lines == [3] and "Line 3: missing 'messages' field" in err.message


def test_a_wrong_key_and_an_unknown_job_are_plain_errors(together_api):
    with pytest.raises(errors.AuthError):
        jobs.list_jobs(together_client_for(together_api, key="wrong-key-0123456789"))
    with pytest.raises(errors.NotFound):
        jobs.retrieve(together_client_for(together_api), "ft-missing")


def test_pausing_is_not_offered(together_client):
    with pytest.raises(errors.NotSupported, match="Together AI cannot pause"):
        jobs.pause(together_client, "ft-1")


def test_the_provider_is_registered_like_the_others(monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", "together-env-key-0123456789")
    config = providers.config_from_env("together")
    client = providers.make_client(config)
    assert isinstance(client, together.TogetherClient) and str(client.base_url) == "https://api.together.xyz/v1/"
    assert "together-env-key" not in repr(config.to_dict())
    monkeypatch.delenv("TOGETHER_API_KEY")
    with pytest.raises(errors.MissingSetting, match="TOGETHER_API_KEY"):
        providers.make_client(providers.config_from_env("together"))
