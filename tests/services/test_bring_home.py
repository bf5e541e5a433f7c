"""Bringing a hosted fine-tune home: list by shutdown date, download its files, retrain locally, compare."""

from __future__ import annotations

import json
import time

import pytest

from lib.dataprep import workspace
from lib.evaluation import comparison as pg
from lib.services import bring_home, errors, jobs, lifecycle
from tests.plugins.engine import chat_examples
from tests.plugins.faults import stub_openai_client


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture
def teacher(stub_api, monkeypatch):
    """The teacher's account on 2026-11-28: a gpt-4.1-mini limerick bot, a gone nano one, a 4o-mini one."""
    monkeypatch.setenv("FTS_TODAY", "2026-11-28")
    mini = stub_api.seed_job("gpt-4.1-mini-2025-04-14", jsonl(chat_examples(10)), jsonl(chat_examples(2)),
                             n_epochs=2, batch_size=16, learning_rate_multiplier=1.8, created_at=100)
    nano = stub_api.seed_job("gpt-4.1-nano-2025-04-14", jsonl(chat_examples(10)), created_at=300)
    mini4o = stub_api.seed_job("gpt-4o-mini-2024-07-18", jsonl(chat_examples(10)), created_at=200)
    return {"mini": mini, "nano": nano, "4o": mini4o}


def test_jobs_are_listed_loudest_first_with_their_dates(stub_client, teacher):
    hosted = bring_home.list_hosted(stub_client)
    assert [h.job_id for h in hosted] == [teacher["4o"]["id"], teacher["mini"]["id"], teacher["nano"]["id"]]
    mini = hosted[1]
    assert (mini.stops_on, mini.days_left) == ("2027-01-14", 47)
    assert mini.notice.startswith("Stops answering on 2027-01-14 (in 47 days) (built on gpt-4.1-mini-2025-04-14)")
    assert hosted[2].days_left < 0 and "stopped answering" in hosted[2].notice


def test_the_recipe_is_mapped_with_reasons():
    hosted = bring_home.HostedFineTune("ftjob-1", "succeeded", "gpt-4.1-mini-2025-04-14", "ft:x", "file-1", None,
                                       n_epochs=2, batch_size=16, learning_rate_multiplier=1.8)
    recipe = bring_home.map_recipe(hosted, 10, "tiny-random-llama")
    assert recipe.params() == {"method": "supervised", "n_epochs": 2, "batch_size": 8, "learning_rate_multiplier": 1.8}
    assert "Batch size: 8 instead of 16" in recipe.explain()
    auto = bring_home.map_recipe(
        bring_home.HostedFineTune("j", "succeeded", "gpt-4o-mini", None, "f", None, "auto", "auto", "auto"), 10)
    assert (auto.n_epochs, auto.batch_size, auto.learning_rate_multiplier) == (10, 1, 1.0)


def test_a_deleted_file_gets_a_plain_message(stub_api, stub_client, teacher):
    stub_client.files.delete(teacher["mini"]["training_file"])
    with pytest.raises(bring_home.FileUnavailable) as caught:
        bring_home.bring_home(stub_client, teacher["mini"]["id"], stub_client)
    message = caught.value.message
    assert f"The training file {teacher['mini']['training_file']} can no longer be downloaded" in message
    assert "import it from there" in message and "Traceback" not in message
    assert not any(path.endswith("/fine_tuning/jobs") and method == "POST" for method, path, _ in stub_api.requests)


def test_the_dataset_keeps_every_line_and_remembers_the_file_ids(stub_client, teacher):
    hosted = next(h for h in bring_home.list_hosted(stub_client) if h.job_id == teacher["mini"]["id"])
    training = bring_home.download(stub_client, hosted.training_file)
    validation = bring_home.download(stub_client, hosted.validation_file, "validation")
    data, version = bring_home.import_dataset(hosted, training, validation)
    assert data.examples == chat_examples(10) + chat_examples(2)
    assert data.splits() == ["train"] * 10 + ["validation"] * 2
    wk = workspace.Workspace()
    assert wk.load(data.name).examples == data.examples
    assert wk.origin(data.name)["training_file"] == hosted.training_file
    assert wk.origin(data.name)["validation_file"] == hosted.validation_file
    assert "file-" not in json.dumps(data.examples)
    assert hosted.training_file in wk.versions(data.name)[-1].note


def test_a_retired_model_is_explained_not_called_a_typo(stub_api, stub_client, teacher, monkeypatch):
    model = teacher["mini"]["fine_tuned_model"]
    stub_api.retired.add(model)
    monkeypatch.setenv("FTS_TODAY", "2027-01-15")
    reply = pg.run_side_by_side([pg.Contender("Hosted", model, client=stub_client)], None, "Tell me about Neon",
                                [[]], temperature=0.0, max_tokens=20)[0]
    assert reply.error.startswith("The server at http://127.0.0.1:9 no longer serves")  # the stub's address
    assert "was retired on 2027-01-14" in reply.error and "This is not a typo" in reply.error
    monkeypatch.setenv("FTS_TODAY", "2027-01-13")  # before the date a 404 stays a 404
    reply = pg.run_side_by_side([pg.Contender("Hosted", model, client=stub_client)], None, "Hi", [[]],
                                temperature=0.0, max_tokens=20)[0]
    assert "retired" not in reply.error


def test_the_retirement_message_names_openai(monkeypatch):
    assert lifecycle.retired_message("ft:gpt-4.1-mini:org::abc", on=lifecycle.date(2027, 1, 14)).startswith(
        "OpenAI no longer serves ft:gpt-4.1-mini:org::abc: its base model gpt-4.1-mini was retired on 2027-01-14")
    assert lifecycle.retired_message("ft:tiny-random-llama:local::x", on=lifecycle.date(2030, 1, 1)) is None


def test_bring_home_end_to_end_on_the_local_engine(request, stub_client, teacher, engine_client):
    hosted = next(h for h in bring_home.list_hosted(stub_client) if h.job_id == teacher["mini"]["id"])
    result = bring_home.bring_home(stub_client, hosted, engine_client, local_model="tiny-random-llama")
    assert result.recipe.n_epochs == 2 and result.recipe.batch_size == 8
    deadline = time.monotonic() + 300
    job = result.local_job
    while job.status not in jobs.TERMINAL and time.monotonic() < deadline:
        time.sleep(1)
        job = jobs.retrieve(engine_client, job.id)
    assert job.status == "succeeded", job.error
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.batch_size == 8
    replies = pg.run_side_by_side(
        [pg.Contender("Hosted", hosted.fine_tuned_model, client=stub_client),
         pg.Contender("Home", job.fine_tuned_model, client=engine_client)],
        None, "Tell me about Neon", [[], []], temperature=0.0, max_tokens=8)
    assert [r.error for r in replies] == [None, None]
    assert replies[0].text.startswith("Strontium glows red") and replies[1].text


def test_a_refused_key_is_a_plain_error(stub_api, teacher):
    stub_api.api_key = "sk-right-key-0123456789"
    with pytest.raises(errors.AuthError):
        bring_home.list_hosted(stub_openai_client(stub_api))


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from lib.__main__ import main

    code = main(["bring-home", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_lists_jobs_loudest_first(capsys, monkeypatch, stub_server, teacher):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cli-0123456789abcdef")
    code, out, err = run_cli(capsys, "--from", "url", "--base-url", stub_server.url)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith(teacher["mini"]["id"]) and "Stops answering on 2027-01-14 (in 47 days)" in lines[1]
    assert lines[2].startswith(teacher["nano"]["id"]) and "stopped answering" in lines[2]


def test_the_command_says_plainly_when_a_file_is_gone(capsys, monkeypatch, stub_api, stub_server, teacher):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cli-0123456789abcdef")
    stub_api.files.pop(teacher["4o"]["training_file"])
    code, out, err = run_cli(capsys, teacher["4o"]["id"], "--from", "url", "--base-url", stub_server.url)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("bring-home: The training file file-seed")
    assert "--from-file" in err and "sk-test" not in err
