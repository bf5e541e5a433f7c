"""Scoring: held-out prompts, each reply judged by the limerick and fact checks, kept with the job."""

from __future__ import annotations

import json
import time

import pytest

from lib.__main__ import main
from lib.checks import facts, limerick
from lib.dataprep import readers
from lib.evaluation import comparison as playground
from lib.evaluation import prompt_sets, scoring
from lib.services import jobs
from lib.services.providers import ProviderConfig
from tests.plugins.faults import engine_api_key, engine_base_url, engine_or_skip

SAMPLE = "sample_data/elements_limericks.jsonl"
GOOD = ("Strontium, number thirty-eight, - Makes the fireworks red and so great; - It is soft, it is grey, "
        "- It will burn bright as day, - And was found when the eighteenth ran late.")
WRONG = ("Strontium, number forty, so bright, - Makes the fireworks red in the night; - It is soft, it is grey, "
         "- It will burn bright as day, - And it gives a most wonderful light.")


def reply(text: str, prompt: str = "Tell me about Strontium") -> playground.Reply:
    checks = {"limerick": limerick.check(text).to_dict(), "facts": facts.check(prompt, text).to_dict()}
    return playground.Reply(label="m", model="m", text=text, checks=checks)


def test_a_wrong_atomic_number_is_named_with_the_true_value():
    verdict = scoring.verdict_of(reply(WRONG), "Tell me about Strontium")
    assert verdict.has_wrong_fact
    assert any("says 40, it is 38" in w for w in verdict.wrong_facts)
    assert not verdict.has_right_facts


def test_a_clean_limerick_with_true_facts_counts_on_both():
    verdict = scoring.verdict_of(reply(GOOD), "Tell me about Strontium")
    assert verdict.clean_limerick and verdict.has_right_facts and not verdict.wrong_facts


def test_prose_is_no_limerick_and_an_error_counts_as_neither():
    prose = scoring.verdict_of(reply("Strontium is a soft metal used in fireworks."), "Tell me about Strontium")
    assert not prose.clean_limerick and not prose.wrong_facts
    failed = scoring.verdict_of(playground.Reply(label="m", model="m", error="The engine is gone."), "q")
    score = scoring.ModelScore(model="m", label="m", replies=[prose, failed])
    assert score.headline() == "clean limericks 0/2 · right facts 0/2 · wrong facts 0/2 · 1 not answered"


def test_held_out_prompts_ask_about_elements_the_training_rows_do_not_cover():
    data = readers.load_file(SAMPLE)
    prompts = scoring.held_out_prompts(data, 20)
    assert len(prompts) == 20 and prompts[0] == "Tell me about Lithium" or "Hydrogen" not in prompts[0]
    asked = {p.removeprefix("Tell me about ") for p in prompts}
    trained = {p.removeprefix("Tell me about ") for p in prompt_sets.prompts_from_examples(data.train_examples())}
    assert not asked & trained


def test_held_out_prompts_are_the_validation_split_when_there_is_one():
    data = readers.load_file(SAMPLE)
    data.split = ["train"] * 9 + ["validation"] * (len(data.examples) - 9)
    assert scoring.held_out_prompts(data) == prompt_sets.prompts_from_examples(data.validation_examples())


def score_of(model: str, texts: list[str], step: int | None = None) -> scoring.ModelScore:
    return scoring.ModelScore(model=model, label=model, step=step,
                              replies=[scoring.verdict_of(reply(t), "Tell me about Strontium") for t in texts])


def test_a_checkpoint_that_beats_the_final_model_is_flagged():
    result = scoring.JobScore(
        job_id="ftjob-1", prompts=["Tell me about Strontium"] * 2,
        final=score_of("ft:final", [WRONG, "Prose about strontium."]),
        checkpoints=[score_of("ft:ckpt-60", [WRONG, WRONG], 60), score_of("ft:ckpt-80", [GOOD, GOOD], 80)],
    )
    assert result.best_checkpoint().step == 80
    assert result.advice().startswith("ckpt-step-80 scores higher than the final model: use it")


def test_no_flag_when_the_final_model_is_best():
    result = scoring.JobScore(job_id="ftjob-1", prompts=["q"], final=score_of("ft:final", [GOOD]),
                              checkpoints=[score_of("ft:ckpt", [GOOD], 80)])
    assert result.best_checkpoint() is None and result.advice() is None


def test_scores_are_kept_with_the_job(tmp_path):
    store = scoring.ScoreStore(tmp_path)
    result = scoring.JobScore(job_id="ftjob-1", prompts=["q"], final=score_of("ft:final", [GOOD]),
                              base=score_of("base", ["Prose."]))
    store.save(result)
    again = store.load("ftjob-1")
    assert again.final.headline() == result.final.headline() and again.base.clean == 0
    assert store.load("ftjob-unknown") is None


# --- on the local engine ---------------------------------------------------------------------------------


@pytest.fixture
def engine_config(request):
    server = engine_or_skip(request)
    return ProviderConfig(kind="local", base_url=engine_base_url(server), api_key=engine_api_key(server), timeout=120)


def _succeeded_job(config) -> object:
    from lib.services.providers import make_client

    client = make_client(config)
    rows = [json.dumps({"messages": [{"role": "user", "content": f"Tell me about element {i}"},
                                     {"role": "assistant", "content": "A short rhyme."}]}) for i in range(10)]
    job = jobs.launch(client, "\n".join(rows) + "\n", model="tiny-random-llama", n_epochs=2)
    deadline = time.monotonic() + 300
    while job.status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
        job = jobs.retrieve(client, job.id)
    assert job.status == "succeeded", job.error
    return job


@pytest.mark.slow
def test_a_job_on_the_tiny_model_is_scored_with_its_checkpoints_and_base(engine_config, tmp_path):
    job = _succeeded_job(engine_config)
    prompts = ["Tell me about Lithium", "Tell me about Boron", "Tell me about Neon"]
    seen = []
    result = scoring.score_job(engine_config, job, prompts, progress=lambda d, t: seen.append((d, t)))
    assert result.final.model == job.fine_tuned_model and result.final.n == 3
    assert result.base is not None and result.base.model == "tiny-random-llama"
    assert result.checkpoints and all(c.step for c in result.checkpoints)
    assert seen[-1][0] == seen[-1][1] == 3 * (2 + len(result.checkpoints))
    errors = [r.error for m in [result.final, result.base] for r in m.replies if r.error]
    assert not errors, errors
    scoring.ScoreStore(tmp_path).save(result)
    assert scoring.ScoreStore(tmp_path).load(job.id).final.headline() == result.final.headline()


# --- the command -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, phrase", [
    (["score", "m", "--prompts", "no-such-file.jsonl"], "No such prompt file"),
    (["score", "m", "--count", "0"], "--count must be at least 1"),
    (["score", "m", "--dataset", "no-such.jsonl"], "No such dataset"),
])
def test_score_refuses_bad_input_in_one_plain_line(argv, phrase, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert phrase in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.slow
def test_score_command_prints_the_headline(engine_config, capsys, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "Tell me about Lithium"}\n{"prompt": "Tell me about Boron"}\n')
    code = main(["score", "tiny-random-llama", "--prompts", str(prompts), "--provider", "local",
                 "--base-url", engine_config.base_url, "--api-key", engine_config.api_key, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["scores"][0]["headline"].startswith("clean limericks 0/2")


def test_the_report_finds_a_jobs_scores_from_its_model_or_a_checkpoint(tmp_path):
    store = scoring.ScoreStore(tmp_path)
    store.save(scoring.JobScore(job_id="ftjob-1", prompts=["q"], final=score_of("ft:one", [GOOD]),
                                checkpoints=[score_of("ft:one:ckpt-step-80", [GOOD], 80)]))
    store.save(scoring.JobScore(job_id="ftjob-2", prompts=["q"], final=score_of("ft:two", [WRONG])))
    assert store.find("ft:two").job_id == "ftjob-2"
    assert store.find("ft:one:ckpt-step-80").job_id == "ftjob-1"
    assert store.find("ft:unknown") is None and store.find(None) is None


# --- the facts card -------------------------------------------------------------------------------------------


def _finish(api, client, job_id: str) -> object:
    job = jobs.retrieve(client, job_id)
    for _ in range(50):
        if job.status == "succeeded":
            return job
        job = jobs.retrieve(client, job_id)
    raise AssertionError(job.status)


def test_a_job_trained_with_the_facts_card_is_asked_with_it_and_so_is_its_base(stub_server, stub_api):
    from lib.services.providers import make_client

    config = ProviderConfig(kind="url", base_url=stub_server.url, api_key="k", timeout=10)
    client = make_client(config)
    rows = '{"messages": [{"role": "user", "content": "Tell me about Neon"}, {"role": "assistant", "content": "x"}]}\n'
    with_card = _finish(stub_api, client, jobs.launch(client, rows * 10, model="tiny-random-llama",
                                                       metadata={"facts_card": "on"}).id)
    plain = _finish(stub_api, client, jobs.launch(client, rows * 10, model="tiny-random-llama").id)

    scoring.score_job(config, with_card, ["Tell me about Strontium"], include_checkpoints=False)
    systems = [next(m["content"] for m in chat["messages"] if m["role"] == "system") for chat in stub_api.chats]
    assert len(systems) == 2 and all("atomic number 38 (thirty eight)" in s for s in systems), systems
    assert {chat["model"] for chat in stub_api.chats} == {with_card.fine_tuned_model, "tiny-random-llama"}

    stub_api.chats.clear()
    scoring.score_job(config, plain, ["Tell me about Strontium"], include_checkpoints=False)
    assert not any("Facts:" in m["content"] for chat in stub_api.chats for m in chat["messages"])

    # the Playground and `score MODEL` ask the provider which job a model came from
    assert jobs.trained_with_facts_card(client, with_card.fine_tuned_model)
    assert jobs.trained_with_facts_card(client, f"{with_card.fine_tuned_model}:ckpt-step-10")
    assert not jobs.trained_with_facts_card(client, plain.fine_tuned_model)
    assert not jobs.trained_with_facts_card(client, "tiny-random-llama")
