"""Sweeps: a small grid of settings, each run scored on the same held-out prompts, ranked by score."""

from __future__ import annotations

import pytest

from lib.__main__ import main
from lib.dataprep import readers
from lib.evaluation import scoring, sweep
from lib.services.providers import ProviderConfig, make_client
from tests.plugins.faults import engine_api_key, engine_base_url, engine_or_skip

SAMPLE = "sample_data/elements_limericks.jsonl"


def test_a_grid_is_every_combination_with_plain_labels():
    settings = sweep.grid(["2", "4"], ["1", "2"], [8, "full"])
    assert len(settings) == 8
    assert settings[0].label() == "2 epochs · learning rate ×1 · adapter rank 8"
    assert settings[1].label().endswith("every weight")
    assert settings[1].job_params()["metadata"] == {"training": "full"}
    assert settings[0].job_params()["metadata"] == {"training": "lora", "lora_rank": "8"}


@pytest.mark.parametrize("args, phrase", [
    ((["0"], ["1"], [None]), "Epochs must be from 1"),
    ((["2"], ["-1"], [None]), "above 0"),
    ((["2"], ["1"], [999]), "rank must be from 1 to 256"),
    ((["1", "2", "3", "4"], ["1", "2", "3", "4"], [None]), "at most 12"),
])
def test_a_grid_refuses_what_cannot_run(args, phrase):
    with pytest.raises(ValueError, match=phrase):
        sweep.grid(*args)


def test_the_price_of_a_hosted_sweep_is_the_sum_of_its_runs():
    data = readers.load_file(SAMPLE)
    settings = sweep.grid([2, 4])
    planned = sweep.plan(ProviderConfig(kind="openai", api_key="sk-test"), data, "gpt-4o-mini-2024-07-18", settings)
    assert planned.dollars[1] == pytest.approx(2 * planned.dollars[0])
    assert planned.total_dollars == pytest.approx(sum(planned.dollars)) and planned.total_seconds is None


def _scored(texts_clean: int, n: int = 4) -> scoring.ModelScore:
    replies = [scoring.ReplyVerdict(prompt="q", text="t", clean_limerick=i < texts_clean) for i in range(n)]
    return scoring.ModelScore(model="m", label="m", replies=replies)


def test_runs_are_ranked_by_their_held_out_score():
    runs = [sweep.Run(sweep.Setting(2), status="succeeded", score=_scored(1)),
            sweep.Run(sweep.Setting(4), status="failed", error="Out of memory"),
            sweep.Run(sweep.Setting(6), status="succeeded", score=_scored(3))]
    result = sweep.Sweep(id="sweep-1", model="m", provider="local", dataset="d", prompts=["q"], runs=runs)
    assert [r.setting.n_epochs for r in result.ranked()] == [6, 2, 4]
    assert result.best().setting.n_epochs == 6 and result.done
    again = sweep.Sweep.from_dict(result.to_dict())
    assert [r.setting.n_epochs for r in again.ranked()] == [6, 2, 4]


def test_sweep_command_refuses_bad_input_in_one_plain_line(capsys):
    assert main(["sweep", SAMPLE, "--model", "m", "--epochs", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert "Epochs must be from 1" in err and len(err.splitlines()) == 1
    assert main(["sweep", "no-such.jsonl", "--model", "m"]) == 1
    assert "No such file" in capsys.readouterr().err


@pytest.mark.slow
def test_a_two_by_two_sweep_on_the_tiny_model_ranks_its_runs(request, tmp_path):
    server = engine_or_skip(request)
    config = ProviderConfig(kind="local", base_url=engine_base_url(server), api_key=engine_api_key(server), timeout=120)
    data = readers.load_file(SAMPLE)
    data.examples[7]["messages"][2]["content"] = "Nitrogen, number seven, fills the air."  # the sample's seeded gap
    settings = sweep.grid([1, 2], [1], [4, 8])
    result = sweep.start(make_client(config), data,
                         "tiny-random-llama", settings, provider="local", prompts=["Tell me about Lithium",
                                                                                   "Tell me about Boron"])
    assert len(result.runs) == 4 and all(r.job_id for r in result.runs)
    sweep.wait(result, config, poll=0.5)
    assert all(r.status == "succeeded" and r.score is not None and r.score.n == 2 for r in result.runs), [
        (r.status, r.error) for r in result.runs]
    points = [r.score.points for r in result.ranked()]
    assert points == sorted(points, reverse=True) and result.base is not None
    store = sweep.SweepStore(tmp_path)
    store.save(result)
    assert store.latest().id == result.id


def test_a_sweeps_scores_are_kept_with_each_job_for_the_history(tmp_path):
    runs = [sweep.Run(sweep.Setting(2), job_id="ftjob-a", status="succeeded", fine_tuned_model="ft:a", score=_scored(3)),
            sweep.Run(sweep.Setting(4), job_id="ftjob-b", status="running")]
    result = sweep.Sweep(id="sweep-1", model="m", provider="local", dataset="d", prompts=["q"] * 4, runs=runs,
                         base=_scored(0))
    store = scoring.ScoreStore(tmp_path)
    sweep.keep_scores(result, store)
    kept = store.load("ftjob-a")
    assert kept.final.headline() == "clean limericks 3/4 · right facts 0/4 · wrong facts 0/4" and kept.base.clean == 0
    assert store.load("ftjob-b") is None


def test_automatic_settings_are_the_measured_recipe_on_the_local_engine_only():
    from lib.services import recipe

    settings = sweep.grid(["auto", 12], ["auto", 1.0], [None, "full"])
    local = sweep.with_recipe(settings, "local", 12)
    # 12 rows: the recipe is 12 epochs at x3, so "auto" and 12 epochs are one run; training every weight keeps
    # the engine's own automatic settings (the recipe was measured for adapters)
    assert [s.label() for s in local if s.adapter is None] == [
        "12 epochs · learning rate ×3", "12 epochs · learning rate ×1"]
    assert sweep.Setting("auto", "auto", "full") in local
    assert recipe.epochs(12) == 12 and recipe.LEARNING_RATE_MULTIPLIER == 3.0
    assert sweep.with_recipe(settings, "openai", 12) == settings
