"""An engine killed mid-job and started again: no job stays running, no uploaded file is lost."""

from __future__ import annotations

import os
import signal
import time

from tests.plugins.engine import TINY, chat_examples, write_jsonl


def wait_status(client, job_id, statuses, timeout=90):
    deadline = time.monotonic() + timeout
    while (job := client.fine_tuning.jobs.retrieve(job_id)).status not in statuses:
        assert time.monotonic() < deadline, f"still {job.status}"
        time.sleep(0.2)
    return job


def test_restart_after_kill_fails_the_running_job_and_keeps_files_and_queue(start_engine, tmp_path):
    data_dir = tmp_path / "engine-data"
    first = start_engine(data_dir=data_dir)
    client = first.client()
    path = write_jsonl(tmp_path / "train.jsonl", chat_examples(10))
    with path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="fine-tune")
    running = client.fine_tuning.jobs.create(model=TINY, training_file=uploaded.id, hyperparameters={"n_epochs": 50})
    wait_status(client, running.id, ("running",))
    waiting = client.fine_tuning.jobs.create(model=TINY, training_file=uploaded.id, hyperparameters={"n_epochs": 1})
    wait_status(client, waiting.id, ("queued",))

    os.kill(first.handle.process.pid, signal.SIGKILL)  # no goodbye: the engine just dies
    first.handle.process.wait(timeout=10)

    second = start_engine(data_dir=data_dir)
    client = second.client()
    job = client.fine_tuning.jobs.retrieve(running.id)
    assert job.status == "failed"
    assert job.error.code == "engine_restarted"
    assert job.error.message == "The engine stopped while this job was running; start it again."
    assert client.files.retrieve(uploaded.id).bytes == path.stat().st_size
    assert client.files.content(uploaded.id).content == path.read_bytes()
    assert wait_status(client, waiting.id, ("succeeded", "failed")).status == "succeeded"
