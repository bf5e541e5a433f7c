"""The Estimate page under AppTest: figures match lib.services.pricing, and a model OpenAI no longer trains is flagged."""

from __future__ import annotations

from lib.dataprep import readers
from lib.engine.models import DEFAULT_MODEL
from lib.engine.store import Store
from lib.services import pricing
from tests.plugins.apptest import Studio
from ui.actions import SAMPLE


def test_headline_figures_are_openais_rules_on_the_sample(studio):
    studio.at.button(key="home_load_sample").click().run()
    at = studio.page("estimate")
    metrics = {m.label: m.value for m in at.metric}
    expected = pricing.estimate(readers.load_file(SAMPLE).examples, "gpt-4.1-mini-2025-04-14")
    assert metrics["Epochs"] == str(expected.epochs) == "8"  # 12 examples: 100 // 12
    assert metrics["Billed tokens"] == f"{expected.trained_tokens:,}"
    assert metrics["Training cost"] == f"${expected.cost_usd:,.2f}"


def test_fixed_epochs_change_the_bill(studio):
    studio.at.button(key="home_load_sample").click().run()
    at = studio.page("estimate")
    at.toggle(key="estimate_auto_epochs").set_value(False).run()
    at.number_input(key="estimate_epochs").set_value(2).run()
    studio.assert_ok()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Epochs"] == "2"


def test_a_model_that_can_no_longer_be_trained_is_flagged_with_alternatives(studio):
    studio.at.button(key="home_load_sample").click().run()
    at = studio.page("estimate")
    at.selectbox(key="estimate_model").set_value("gpt-3.5-turbo-0125").run()
    studio.assert_ok()
    warnings = " ".join(w.value for w in at.warning)
    assert "2026-10-23" in warnings or "shut" in warnings.lower()
    assert any("local" in m.value.lower() for m in at.markdown)


def test_the_time_on_the_engine_comes_from_the_engine_the_app_is_set_to(engine_in_process, monkeypatch):
    # A team's engine (FTS_ENGINE_URL) that has trained before: the page shows its speed, asked over HTTP,
    # not this computer's (whose engine folder has never trained).
    Store(engine_in_process.engine.settings.data_dir).add_run(
        "ftjob-team", DEFAULT_MODEL, "cuda:H100", tokens=100_000, examples=100, steps=100, seconds=10.0,
        overhead_seconds=4.0)
    monkeypatch.setenv("FTS_ENGINE_URL", engine_in_process.base_url)
    studio = Studio()
    studio.at.button(key="home_load_sample").click().run()
    studio.page("estimate")
    local = [text for text in studio.texts("info") if text.startswith("On the local engine")]
    assert local and "10,000 tokens/s (last 1 job)" in local[0], studio.texts("info")
    # automatic epochs: the engine trains its measured recipe (12 epochs for the sample's 12 rows), not OpenAI's 8
    assert "for 12 epochs (its measured recipe)" in local[0], local[0]
