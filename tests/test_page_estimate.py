"""The Estimate page under AppTest: figures match lib.pricing, and a model OpenAI no longer trains is flagged."""

from __future__ import annotations

from lib import dataset as ds
from lib import pricing
from ui.actions import SAMPLE


def test_headline_figures_are_openais_rules_on_the_sample(studio):
    studio.at.button(key="home_load_sample").click().run()
    at = studio.page("estimate")
    metrics = {m.label: m.value for m in at.metric}
    expected = pricing.estimate(ds.load_file(SAMPLE).examples, "gpt-4.1-mini-2025-04-14")
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
