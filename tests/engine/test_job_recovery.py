"""Jobs through crashes and large files: a pause cut short by a kill, a launched job outliving its
engine, errors that name no server path, and validation that never blocks a cancel."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from lib.dataprep import validation
from lib.engine import data
from lib.engine.params import JobCreateParams
from lib.engine.store import Store
from tests.engine.test_restart import wait_status
from tests.plugins.engine import TINY, chat_examples, write_jsonl


def _upload(client, path: Path):
    with path.open("rb") as handle:
        return client.files.create(file=handle, purpose="fine-tune")


def _training(client, data_dir: Path, tmp_path: Path, epochs: int = 50):
    """A running job and the pid of its training process."""
    uploaded = _upload(client, write_jsonl(tmp_path / "train.jsonl", chat_examples(10)))
    job = client.fine_tuning.jobs.create(model=TINY, training_file=uploaded.id, hyperparameters={"n_epochs": epochs})
    wait_status(client, job.id, ("running",))
    return job, Store(data_dir).get_job(job.id)["pid"]


def _kill_engine(server) -> None:
    os.kill(server.handle.process.pid, signal.SIGKILL)  # no goodbye: the engine just dies
    server.handle.process.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return False


def test_a_job_paused_when_the_engine_was_killed_fails_instead_of_starting_again_from_step_1(start_engine,
                                                                                               tmp_path):
    data_dir = tmp_path / "engine-data"
    first = start_engine(data_dir=data_dir)
    client = first.client()
    job, trainer = _training(client, data_dir, tmp_path)
    os.kill(trainer, signal.SIGSTOP)  # held mid-step: it cannot save the pause's checkpoint
    assert client.fine_tuning.jobs.pause(job.id).status == "paused"
    _kill_engine(first)

    second = start_engine(data_dir=data_dir)
    job = second.client().fine_tuning.jobs.retrieve(job.id)

    assert job.status == "failed"  # not "paused", waiting for a resume that would count steps twice
    assert job.error.code == "engine_restarted"
    assert "pausing" in job.error.message and "checkpoint" in job.error.message


def test_a_launched_job_stops_and_registers_nothing_when_its_engine_is_killed(start_engine, tmp_path):
    data_dir = tmp_path / "engine-data"
    first = start_engine(data_dir=data_dir, extra_args=["--launcher", sys.executable])  # own process group
    job, trainer = _training(first.client(), data_dir, tmp_path)
    _kill_engine(first)
    deadline = time.monotonic() + 300
    while _alive(trainer):  # it outlives the engine only until its next step
        assert time.monotonic() < deadline, "the training process went on without its engine"
        time.sleep(0.1)

    client = start_engine(data_dir=data_dir).client()

    assert client.fine_tuning.jobs.retrieve(job.id).status == "failed"
    assert client.fine_tuning.jobs.checkpoints.list(job.id).data == []
    assert not [m.id for m in client.models.list() if m.id.endswith(job.id[-8:]) or job.id[-8:] in m.id]


def test_a_failed_job_names_its_log_inside_the_data_folder_not_the_server_path(engine_server, tmp_path):
    client = engine_server.client()
    job, trainer = _training(client, engine_server.data_dir, tmp_path)
    os.kill(trainer, signal.SIGKILL)  # the training process crashes

    job = wait_status(client, job.id, ("failed",))

    assert f"jobs/{job.id}/train.log" in job.error.message
    assert str(engine_server.data_dir) not in job.error.message
    assert not any(str(engine_server.data_dir) in e.message
                   for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data)


def test_validating_a_large_file_does_not_hold_up_a_cancel(tmp_path, monkeypatch):
    from lib.engine.server import Engine, Settings

    engine = Engine(Settings(data_dir=tmp_path / "engine", prewarm=False))
    monkeypatch.setattr(engine.scheduler, "_dispatch", lambda job: None)  # validate only, never train
    path = write_jsonl(tmp_path / "train.jsonl", chat_examples(10))
    engine.store.add_file("file-train", "train.jsonl", "fine-tune", path.stat().st_size, path)
    big = engine.create_job(JobCreateParams(model=TINY, training_file="file-train"))
    other = engine.create_job(JobCreateParams(model=TINY, training_file="file-train"))

    real_validate = validation.validate
    cancelled_while_validating = threading.Event()

    def slow_validate(examples, **kwargs):
        """The big file's validation: meanwhile the user cancels the other job."""
        if not cancelled_while_validating.is_set() and engine.store.get_job(big["id"])["status"] == "validating_files":
            canceller = threading.Thread(target=lambda: engine.scheduler.cancel(other["id"]) and
                                         cancelled_while_validating.set())
            canceller.start()
            cancelled_while_validating.wait(30)  # with the scheduler's lock held here, it never comes
        return real_validate(examples, **kwargs)

    monkeypatch.setattr(data, "validate", slow_validate, raising=False)
    monkeypatch.setattr(validation, "validate", slow_validate)
    engine.scheduler.tick()

    assert cancelled_while_validating.is_set()
    assert engine.store.get_job(other["id"])["status"] == "cancelled"
    assert engine.store.get_job(big["id"])["status"] == "queued"


def test_a_file_is_validated_a_chunk_at_a_time_and_every_problem_counted(tmp_path, monkeypatch):
    rows = chat_examples(10) * 250  # 2,500 lines
    rows[6] = {"messages": [{"role": "user", "content": "no answer"}]}
    rows[2399] = {"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "a"}]}
    path = write_jsonl(tmp_path / "train.jsonl", [json.dumps(r) for r in rows])
    seen: list[int] = []
    real_validate = data.validate
    monkeypatch.setattr(data, "validate", lambda examples, **kw: seen.append(len(examples)) or
                        real_validate(examples, **kw))

    with pytest.raises(data.FileProblem) as caught:
        data.validate_file(path, "supervised")
    assert caught.value.line == 7 and caught.value.message.startswith("Line 7")
    assert caught.value.message.endswith("(1 more problem in the file.)")
    assert sum(seen) == 2500 and max(seen) <= data.VALIDATION_CHUNK  # never the whole file at once
    assert data.validate_file(write_jsonl(tmp_path / "ok.jsonl", chat_examples(10)), "supervised") == 10
    with pytest.raises(data.FileProblem, match="at least 10"):
        data.validate_file(write_jsonl(tmp_path / "few.jsonl", chat_examples(3)), "supervised")


def test_a_training_error_shows_paths_relative_to_the_data_folder(tmp_path):
    from lib.engine.training import without_server_paths

    data_dir = tmp_path / "engine"
    message = f"Training failed: FileNotFoundError: {data_dir}/jobs/ftjob-1/trainer/checkpoint-4 is missing"
    assert without_server_paths(message, data_dir) == \
        "Training failed: FileNotFoundError: jobs/ftjob-1/trainer/checkpoint-4 is missing"
    assert without_server_paths(f"cache at {Path.home()}/.cache/x", data_dir) == "cache at ~/.cache/x"
