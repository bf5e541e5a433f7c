"""`python -m lib train`: exit 0 on success; otherwise one plain line on stderr, no traceback, no key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lib.__main__ import main
from lib.commands import train as train_command
from tests.plugins.faults import StubAPI, engine_api_key, engine_base_url, engine_or_skip

SECRET = "sk-proj-CLISECRET0123456789abcdef"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def stub_api():
    return StubAPI(steps_per_tick=25)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(train_command, "_sleep", lambda seconds: None)


@pytest.fixture
def dataset(tmp_path) -> Path:
    lines = []
    elements = ["Hydrogen", "Helium", "Lithium", "Beryllium", "Boron", "Carbon", "Nitrogen", "Oxygen", "Fluorine", "Neon"]
    for number, element in enumerate(elements, 1):
        lines.append(json.dumps({"messages": [
            {"role": "system", "content": "Elle is a factual chatbot that answers with a limerick."},
            {"role": "user", "content": f"Tell me about {element}."},
            {"role": "assistant", "content": f"{element}, number {number} in the table,\nis a story we tell as a fable,"
                                             f"\nit is light, it is bright,\nit is {element.lower()} all right,"
                                             "\nand to name it we always are able."},
        ]}))
    path = tmp_path / "training-data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_plain_line(err: str, *phrases: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("train: ") and "Traceback" not in err
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    assert SECRET not in err


def test_launch_prints_the_job_and_exits_0(capsys, dataset, stub_server, stub_api):
    code, out, err = run_cli(capsys, str(dataset), "--provider", "url", "--base-url", stub_server.url,
                             "--model", "tiny-random-llama", "--epochs", "2", "--suffix", "elle")
    assert code == 0, err
    assert err == ""
    job = next(iter(stub_api.jobs.values())).job
    assert job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2 and job["suffix"] == "elle"
    assert f"Job {job['id']} is validating files." in out
    assert "Training on the server at" in out and "with 10 examples" in out


def test_wait_prints_progress_until_the_job_succeeds(capsys, dataset, stub_server):
    code, out, err = run_cli(capsys, str(dataset), "--provider", "url", "--base-url", stub_server.url,
                             "--model", "tiny-random-llama", "--wait")
    assert code == 0, err
    lines = out.splitlines()
    for expected in ("Status: queued", "Status: running", "Step 25/100: training loss=0.12", "Step 100/100: training loss=0.03",
                     "Checkpoint created at step 80", "The job has successfully completed", "Status: succeeded"):
        assert expected in lines, expected
    assert lines[-2].startswith("Fine-tuned model: ft:tiny-random-llama")
    assert lines[-1] == "Trained tokens: 10,000, cost $0.00"  # the price table knows the test model is free
    assert lines.index("Status: running") < lines.index("Step 25/100: training loss=0.12") < lines.index("Status: succeeded")


def test_a_failed_job_exits_1_with_its_error_and_lines(capsys, dataset, stub_server, stub_api):
    stub_api.fail_with = "Invalid file format: line 4 has no assistant message."
    code, out, err = run_cli(capsys, str(dataset), "--provider", "url", "--base-url", stub_server.url,
                             "--model", "tiny-random-llama", "--wait")
    assert code == 1
    assert_one_plain_line(err, "line 4 has no assistant message", "Fix line 4 of the training data")
    assert "Status: failed" in out


def test_an_invalid_dataset_is_not_uploaded(capsys, tmp_path, stub_server, stub_api):
    bad = tmp_path / "bad.jsonl"
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    rows = [good] * 9 + [{"messages": [{"role": "user", "content": "no answer"}]}]
    bad.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, out, err = run_cli(capsys, str(bad), "--provider", "url", "--base-url", stub_server.url, "--model", "m")
    assert code == 1
    assert_one_plain_line(err, "bad.jsonl is not ready to upload", "python -m lib check bad.jsonl")
    assert stub_api.files == {}


def test_a_missing_file(capsys):
    code, out, err = run_cli(capsys, "nowhere.jsonl", "--model", "m")
    assert code == 1
    assert_one_plain_line(err, "No such file: nowhere.jsonl")


def test_settings_out_of_range_are_refused_before_upload(capsys, dataset, stub_server, stub_api):
    code, out, err = run_cli(capsys, str(dataset), "--provider", "url", "--base-url", stub_server.url,
                             "--model", "m", "--epochs", "60")
    assert code == 1
    assert_one_plain_line(err, "Epochs must be from 1 to 50")
    assert stub_api.files == {}


def test_openai_without_a_key_says_which_variable(capsys, dataset):
    code, out, err = run_cli(capsys, str(dataset), "--provider", "openai", "--model", "gpt-4.1-mini-2025-04-14")
    assert code == 1
    assert_one_plain_line(err, "No OpenAI API key", "OPENAI_API_KEY")


def test_a_refused_key_is_never_printed(capsys, monkeypatch, dataset, stub_server, make_fault_proxy):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    proxy = make_fault_proxy(stub_server.url)
    proxy.fail(401, message=f"Incorrect API key provided: {SECRET}.")
    code, out, err = run_cli(capsys, str(dataset), "--provider", "url", "--base-url", proxy.url, "--model", "m")
    assert code == 1
    assert_one_plain_line(err, "did not accept the API key")
    assert SECRET not in out
    assert proxy.seen[0].headers["authorization"] == f"Bearer {SECRET}"  # it was used, just never shown


def test_training_not_available_points_to_azure_and_the_local_engine(capsys, dataset, stub_server, make_fault_proxy):
    proxy = make_fault_proxy(stub_server.url)
    proxy.fail(403, code="training_not_available", path="/fine_tuning/jobs$", method="POST")
    code, out, err = run_cli(capsys, str(dataset), "--provider", "url", "--base-url", proxy.url,
                             "--model", "gpt-4.1-mini-2025-04-14")
    assert code == 1
    assert_one_plain_line(err, "winding down", "Azure OpenAI or the local engine")


def test_an_engine_that_is_not_running(capsys, dataset, stub_server, make_fault_proxy):
    proxy = make_fault_proxy(stub_server.url)
    proxy.close()
    code, out, err = run_cli(capsys, str(dataset), "--provider", "local", "--base-url", proxy.url, "--model", "m")
    assert code == 1
    assert_one_plain_line(err, "Could not reach the local engine", "is the engine running?")


def test_the_real_command_line_exit_codes(tmp_path):
    env = {**os.environ, "FTS_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("OPENAI_API_KEY", None)
    missing = subprocess.run([sys.executable, "-m", "lib", "train", "missing.jsonl", "--model", "m"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.strip() == "train: No such file: missing.jsonl"
    usage = subprocess.run([sys.executable, "-m", "lib", "train", "x.jsonl"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "--model" in usage.stderr and "Traceback" not in usage.stderr


@pytest.mark.slow
def test_train_on_the_real_engine(request, capsys, monkeypatch, dataset):
    server = engine_or_skip(request)
    url = engine_base_url(server)
    if engine_api_key(server):
        monkeypatch.setenv("FTS_ENGINE_KEY", engine_api_key(server))
    monkeypatch.setattr(train_command, "_sleep", time.sleep)  # poll at the monitor's pace, not flat out
    code, out, err = run_cli(capsys, str(dataset), "--provider", "local", "--base-url", url,
                             "--model", "tiny-random-llama", "--epochs", "1", "--wait")
    assert code == 0, err
    lines = out.splitlines()
    assert "Status: succeeded" in lines and lines[-2].startswith("Fine-tuned model: ft:tiny-random-llama")
    assert any(line.startswith("Step ") and "training loss=" in line for line in lines)
    assert not any(" of " in line and line.startswith("Uploading") for line in lines)
