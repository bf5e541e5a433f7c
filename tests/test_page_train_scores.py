"""The Train page judges what it trained: every succeeded job is scored on held-out questions (card, history,
report), the best checkpoint is flagged, and "Try several settings" plans, ranks and hands the winner over."""

from __future__ import annotations

import json
import time

import pytest

from lib.dataprep import dataset as ds
from lib.dataprep.workspace import Workspace
from lib.evaluation import report, scoring, sweep
from tests.plugins.apptest import Studio
from tests.plugins.engine import ELEMENTS, TINY, chat_examples

KEY = "sk-test-page-0123456789abcdef"
GOOD = ("Strontium, number thirty-eight, - Makes the fireworks red and so great; - It is soft, it is grey, "
        "- It will burn bright as day, - And was found when the eighteenth ran late.")


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def open_dataset(examples: list, split: list[str] | None = None) -> None:
    Workspace().save(ds.Dataset(name="ready", examples=examples, split=split or ["train"] * len(examples)))
    Workspace().set_current("ready")


@pytest.fixture
def hosted(stub_api, stub_server, monkeypatch):
    """The sidebar on an OpenAI-compatible stub holding a finished fine-tune; the Train page follows it."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", stub_server.url)
    job = stub_api.seed_job("gpt-4.1-mini-2025-04-14", jsonl(chat_examples(10)))
    Workspace().remember_job("url", job["id"])
    return job


@pytest.fixture
def on_engine(engine_server, monkeypatch):
    monkeypatch.setenv("FTS_ENGINE_URL", engine_server.base_url)
    monkeypatch.setenv("FTS_ENGINE_KEY", engine_server.api_key)
    return engine_server


def verdict(text: str, prompt: str = "Tell me about Strontium") -> scoring.ReplyVerdict:
    from lib.checks import facts, limerick
    from lib.evaluation import comparison as playground

    checks = {"limerick": limerick.check(text).to_dict(), "facts": facts.check(prompt, text).to_dict()}
    return scoring.verdict_of(playground.Reply(label="m", model="m", text=text, checks=checks), prompt)


def model_score(model: str, texts: list[str], step: int | None = None) -> scoring.ModelScore:
    return scoring.ModelScore(model=model, label=model, step=step, replies=[verdict(t) for t in texts])


def frames(studio: Studio) -> list:
    return [d.value for d in studio.at.dataframe]


def wait_for_score(studio: Studio, seconds: float = 300) -> None:
    """Rerun the page (as its self-refreshing progress bar does) until the job card shows its score."""
    deadline = time.time() + seconds
    while not any("Held-out score" in m for m in studio.texts("markdown")):
        assert time.time() < deadline, studio.texts("markdown")[:6]
        time.sleep(0.5)
        studio.run()


# --- every job is scored ----------------------------------------------------------------------------------


def test_a_hosted_job_is_scored_once_and_its_card_history_and_report_show_it(hosted, stub_api):
    studio = Studio()
    studio.page("train")
    wait_for_score(studio)  # scored in the background, with a progress bar
    stored = scoring.ScoreStore().load(hosted["id"])
    assert stored is not None and stored.final.model == hosted["fine_tuned_model"] and stored.final.n == 20
    assert stored.base is not None and stored.base.model == "gpt-4.1-mini-2025-04-14"
    asked = {chat["model"] for chat in stub_api.chats}
    assert asked == {hosted["fine_tuned_model"], "gpt-4.1-mini-2025-04-14"}
    card = " ".join(studio.texts("markdown"))
    assert f"**Fine-tuned:** {stored.final.headline()}" in card and f"**Base:** {stored.base.headline()}" in card
    # Every reply on demand, as text, with the wrong fact in plain words (the stub always talks about strontium).
    replies = next(f for f in frames(studio) if "reply" in f.columns)
    assert replies["question"][0] == "Tell me about Hydrogen"
    assert replies["reply"][0].startswith("Strontium glows red in the night")
    assert "atomic number: says 38, it is 1" in replies["facts"][0]
    # A refresh shows the stored score without asking the models again; so does the history.
    chats = len(stub_api.chats)
    again = Studio()
    again.page("train")
    assert f"**Fine-tuned:** {stored.final.headline()}" in " ".join(again.texts("markdown"))
    again.at.segmented_control(key="train_section").set_value("History").run()
    history = next(f for f in frames(again) if "held-out score" in f.columns)
    assert list(history["held-out score"]) == [stored.final.headline()]
    assert len(stub_api.chats) == chats
    # The report made in the Playground finds the job behind the model it compares.
    html = report.build_report(job={"fine_tuned_model": hosted["fine_tuned_model"]}, charts=False,
                               scores=scoring.ScoreStore().find(hosted["fine_tuned_model"]))
    assert 'id="scores"' in html and f"{stored.final.clean} of 20" in html


def test_a_model_that_does_not_answer_gets_a_plain_reason_and_a_way_to_try_again(hosted, stub_api):
    stub_api.retired.add(hosted["fine_tuned_model"])
    studio = Studio()
    studio.page("train")
    deadline = time.time() + 60
    while not [t for t in studio.texts("warning") if "no held-out score yet" in t]:
        assert time.time() < deadline, studio.texts("warning")
        time.sleep(0.3)
        studio.run()
    reason = next(t for t in studio.texts("warning") if "no held-out score yet" in t)
    assert "pick one from the model list" in reason.replace("\\", "") and "Traceback" not in reason
    assert scoring.ScoreStore().load(hosted["id"]) is None  # nothing half-answered is kept
    stub_api.retired.clear()
    studio.at.button(key="train_score_retry").click().run()
    wait_for_score(studio)
    assert scoring.ScoreStore().load(hosted["id"]).final.errors == 0


def test_a_checkpoint_that_beats_the_final_model_is_flagged_and_can_be_used(hosted):
    better = model_score(f"{hosted['fine_tuned_model']}:ckpt-step-80", [GOOD, GOOD], 80)
    scoring.ScoreStore().save(scoring.JobScore(
        job_id=hosted["id"], prompts=["Tell me about Strontium"] * 2,
        final=model_score(hosted["fine_tuned_model"], ["Strontium is a soft metal.", GOOD]),
        checkpoints=[model_score("ckpt-40", ["Prose.", "Prose."], 40), better],
        base=model_score("gpt-4.1-mini-2025-04-14", ["Prose.", "Prose."])))
    studio = Studio()
    at = studio.page("train")
    flag = [t.replace("\\", "") for t in studio.texts("success") if "scores higher" in t]  # shown escaped
    assert flag and flag[0].startswith("ckpt-step-80 scores higher than the final model: use it")
    at.button(key="train_score_use_checkpoint").click().run()
    assert at.session_state["latest_model"] == better.model
    studio.page("train")  # coming back to the monitor does not put the final model back
    assert studio.at.session_state["latest_model"] == better.model


def test_no_flag_when_the_final_model_is_best(hosted):
    scoring.ScoreStore().save(scoring.JobScore(
        job_id=hosted["id"], prompts=["Tell me about Strontium"],
        final=model_score(hosted["fine_tuned_model"], [GOOD]), checkpoints=[model_score("c", ["Prose."], 40)]))
    studio = Studio()
    studio.page("train")
    assert not [t for t in studio.texts("success") if "scores higher" in t]
    assert not [b for b in studio.at.button if b.key == "train_score_use_checkpoint"]


def test_a_job_on_the_tiny_model_gets_scores_stored_and_shown(on_engine):
    # One row held out for validation: its question is what the models are scored on (one, to stay quick).
    open_dataset(chat_examples(11), ["train"] * 10 + ["validation"])
    studio = Studio()
    at = studio.page("train")
    at.selectbox(key="train_model").set_value(TINY).run()
    at.number_input(key="train_epochs").set_value(1).run()
    at.checkbox(key="train_confirm").check().run()
    at.button(key="train_launch").click().run()
    wait_for_score(studio, 400)
    job_id = studio.at.session_state["job_state"]["job_id"]
    stored = scoring.ScoreStore().load(job_id)
    assert stored is not None and stored.prompts == [f"Tell me about {ELEMENTS[10]}"]
    assert stored.final.model.startswith("ft:") and stored.base.model == TINY and not stored.final.errors
    assert f"**Fine-tuned:** {stored.final.headline()}" in " ".join(studio.texts("markdown"))


# --- try several settings ---------------------------------------------------------------------------------


def stored_sweep() -> sweep.Sweep:
    def run(epochs: int, texts: list[str], job: str) -> sweep.Run:
        return sweep.Run(sweep.Setting(epochs, 1.0, 8), job_id=job, status="succeeded",
                         fine_tuned_model=f"ft:{TINY}:local::{job}", score=model_score(f"ft:{TINY}:local::{job}", texts))

    result = sweep.Sweep(id="sweep-0123456789ab", model=TINY, provider="local", dataset="ready",
                         prompts=["Tell me about Strontium"] * 2,
                         runs=[run(2, ["Prose.", GOOD], "ftjob-a"), run(4, [GOOD, GOOD], "ftjob-b"),
                               sweep.Run(sweep.Setting(6, 1.0, 8), job_id="ftjob-c", status="failed",
                                         error="The engine ran out of memory.")],
                         base=model_score(TINY, ["Prose.", "Prose."]))
    sweep.SweepStore().save(result)
    return result


def test_the_sweep_panel_plans_ranks_and_hands_the_winner_to_the_playground(on_engine):
    open_dataset(chat_examples(10))
    studio = Studio()
    at = studio.page("train")
    at.segmented_control(key="train_section").set_value("Try several settings").run()
    at.selectbox(key="sweep_model").set_value(TINY).run()
    at.multiselect(key="sweep_adapters").select(16).run()
    plan = next(t for t in studio.texts("info") if "runs, trained one after the other" in t)
    assert plan.startswith("4 runs") and "free on this computer" in plan
    runs = next(f for f in frames(studio) if "settings" in f.columns)
    # On the local engine "automatic" is the measured recipe, as on Launch (15 epochs for 10 rows at ×3),
    # and the default sweep sets it against the engine's base rate
    assert list(runs["settings"]) == ["15 epochs · learning rate ×3", "15 epochs · learning rate ×3 · adapter rank 16",
                                      "15 epochs · learning rate ×1", "15 epochs · learning rate ×1 · adapter rank 16"]
    assert at.button(key="sweep_start").disabled  # until the time is confirmed
    at.checkbox(key="sweep_confirm").check().run()
    assert not at.button(key="sweep_start").disabled
    # A sweep that has run (kept in the workspace, so a refresh finds it): ranked by held-out score.
    stored_sweep()
    again = Studio()
    at = again.page("train")
    at.segmented_control(key="train_section").set_value("Try several settings").run()
    ranked = next(f for f in frames(again) if "rank" in f.columns)
    assert list(ranked["settings"]) == ["4 epochs · learning rate ×1 · adapter rank 8",
                                        "2 epochs · learning rate ×1 · adapter rank 8",
                                        "6 epochs · learning rate ×1 · adapter rank 8", "Base model, not trained"]
    assert list(ranked["clean limericks"])[:2] == ["2/2", "1/2"]
    assert "failed: The engine ran out of memory." in list(ranked["status"])
    at.button(key="sweep_use").click().run()
    assert at.session_state["latest_model"] == f"ft:{TINY}:local::ftjob-b"


def test_a_sweep_queued_on_a_hosted_provider_is_followed_scored_and_ranked(stub_api, stub_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", stub_server.url)
    open_dataset(chat_examples(10))
    studio = Studio()
    at = studio.page("train")
    at.segmented_control(key="train_section").set_value("Try several settings").run()
    assert not [m for m in at.multiselect if m.key == "sweep_adapters"]  # adapters are the local engine's
    at.multiselect(key="sweep_epochs").set_value([1, 2]).run()
    assert any(t.startswith("2 runs, the provider may train them side by side") for t in studio.texts("info"))
    at.checkbox(key="sweep_confirm").check().run()
    at.button(key="sweep_start").click().run()
    studio.assert_ok()
    assert sorted(j.job["hyperparameters"]["n_epochs"] for j in stub_api.jobs.values()) == [1, 2]
    for _ in range(40):
        ranked = next((f for f in frames(studio) if "rank" in f.columns), None)
        if ranked is not None and list(ranked["rank"])[:2] == ["1", "2"]:
            break
        studio.run()
    else:
        pytest.fail(f"the runs were not ranked: {ranked}")
    assert list(ranked["settings"])[-1] == "Base model, not trained" and len(ranked) == 3
    jobs_scored = [scoring.ScoreStore().load(job_id) for job_id in stub_api.jobs]
    assert all(s is not None and s.final.n == 20 for s in jobs_scored)  # kept for the history and the report
    assert [b for b in at.button if b.key == "sweep_use"]
