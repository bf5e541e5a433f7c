"""lib.services.pricing: OpenAI's epoch and billing rules, the dated table, and what can still be trained when."""

from __future__ import annotations

from datetime import date

import pytest

from lib.dataprep import tokens
from lib.services import pricing

SYSTEM = "Elle is a factual chatbot that answers questions about elements in the periodic table with a limerick"


def text_of(n: int) -> str:
    """A string of exactly n tokens in both encodings ("hello" then " hello" pieces)."""
    return " ".join(["hello"] * n)


def example(system: int, user: int, assistant: int) -> dict:
    return {"messages": [
        {"role": "system", "content": text_of(system)},
        {"role": "user", "content": text_of(user)},
        {"role": "assistant", "content": text_of(assistant)},
    ]}


def test_text_helper_is_exact():
    for name in ("o200k_base", "cl100k_base"):
        assert [tokens.count_text(text_of(n), name) for n in (1, 12, 25, 45)] == [1, 12, 25, 45]


# ------------------------------------------------------------------ epochs


@pytest.mark.parametrize(("n", "epochs"), [
    (1, 25), (3, 25), (4, 25), (5, 20), (10, 10), (20, 5), (33, 3), (34, 3), (100, 3),
    (8333, 3), (8334, 2), (10_000, 2), (12_500, 2), (12_501, 1), (30_000, 1), (1_000_000, 1),
])
def test_auto_epochs_follows_the_cookbook(n, epochs):
    assert pricing.auto_epochs(n) == epochs


def test_auto_epochs_edges():
    assert pricing.auto_epochs(0) == 25
    with pytest.raises(ValueError):
        pricing.auto_epochs(-1)


def test_resolve_epochs():
    assert pricing.resolve_epochs(10, "auto") == 10
    assert pricing.resolve_epochs(10, None) == 10
    assert pricing.resolve_epochs(10, " Auto ") == 10
    assert pricing.resolve_epochs(10, 4) == 4
    assert pricing.resolve_epochs(10, "4") == 4
    assert pricing.resolve_epochs(10, 50) == 50
    for bad in (0, 51, 2.5, "many", True, -3):
        with pytest.raises(ValueError, match="whole number from 1 to 50"):
            pricing.resolve_epochs(10, bad)


# ------------------------------------------------------------------ estimates


def test_worked_example_from_the_reference():
    """60 examples × 97 tokens → 5,820 per epoch → 3 epochs → 17,460 billed → gpt-4.1-mini ≈ $0.087."""
    examples = [example(25, 12, 45) for _ in range(60)]  # 82 content + 3 × (3 + 1 role) + 3 = 97
    est = pricing.estimate(examples, "gpt-4.1-mini")
    assert est.tokens == [97] * 60
    assert est.assistant_tokens == [45] * 60
    assert (est.epochs, est.billed_tokens, est.trained_tokens) == (3, 5_820, 17_460)
    assert est.cost_usd == pytest.approx(0.0873)
    assert round(est.cost_usd, 3) == 0.087
    assert est.model == "gpt-4.1-mini-2025-04-14" and est.encoding == "o200k_base" and est.exact_encoding
    assert est.price_date == pricing.PRICE_DATE and est.over_limit == []

    rows = {r["model"]: r for r in pricing.compare_table(examples, "auto", date(2026, 9, 1))}
    assert rows["gpt-4.1-nano-2025-04-14"]["cost_usd"] == pytest.approx(0.02619)  # ≈ $0.026
    assert rows["gpt-4o-mini-2024-07-18"]["cost_usd"] == pytest.approx(0.05238)  # ≈ $0.052
    assert rows["gpt-4.1-2025-04-14"]["cost_usd"] == pytest.approx(0.4365)  # ≈ $0.437
    assert rows["gpt-4o-2024-08-06"]["cost_usd"] == pytest.approx(0.4365)


def test_to_dict_has_the_cli_fields():
    est = pricing.estimate([example(3, 3, 3)] * 10, "gpt-4o-mini")
    data = est.to_dict()
    assert {"encoding", "tokens", "assistant_tokens", "epochs", "billed_tokens", "trained_tokens", "cost_usd",
            "price_date"} <= set(data)
    assert data["tokens"] == est.tokens and data["epochs"] == 10
    assert data["trained_tokens"] == 10 * data["billed_tokens"]
    assert data["cost_usd"] == pytest.approx(data["trained_tokens"] * 3.00 / 1e6)


def test_tokens_over_the_limit_are_not_billed_and_are_reported():
    long = example(1, 1, 17_000)
    short = example(1, 1, 1)
    est = pricing.estimate([short, long, short], "gpt-3.5-turbo", epochs=2)
    assert est.encoding == "cl100k_base" and est.token_limit == 16_385
    assert est.tokens[1] > 16_385
    assert est.billed_tokens == est.tokens[0] + 16_385 + est.tokens[2]
    assert est.trained_tokens == 2 * est.billed_tokens
    assert est.over_limit == [2]
    assert est.trained_per_example == [est.tokens[0], 16_385, est.tokens[2]]
    assert any("truncates" in note for note in est.notes)
    # the same file on gpt-4.1-mini: 65,536 tokens allowed
    assert pricing.estimate([short, long, short], "gpt-4.1-mini").over_limit == []
    # line numbers of the file, when the training examples are a subset
    assert pricing.estimate([short, long], "gpt-3.5-turbo", lines=[4, 9]).over_limit == [9]


def test_estimate_for_models_without_a_token_price():
    examples = [example(5, 5, 5)] * 12
    rft = pricing.estimate(examples, "o4-mini")
    assert rft.cost_usd is None and rft.training_per_hour == 100.0
    assert any("per training hour" in note for note in rft.notes)
    unknown = pricing.estimate(examples, "my-own-model")
    assert unknown.cost_usd is None and not unknown.exact_encoding and unknown.encoding == "o200k_base"
    local = pricing.estimate(examples, "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert local.cost_usd == 0.0 and not local.exact_encoding and local.provider == "local"
    assert any("approximate" in note for note in local.notes)


def test_estimate_counts_dpo_pairs():
    dpo = {"input": {"messages": [{"role": "user", "content": text_of(10)}]},
           "preferred_output": [{"role": "assistant", "content": text_of(20)}],
           "non_preferred_output": [{"role": "assistant", "content": text_of(7)}]}
    est = pricing.estimate([dpo] * 10, "gpt-4.1-mini")
    assert est.tokens == [2 * 3 + 1 + 1 + 10 + 20 + 3] * 10  # user + preferred answer, as a conversation
    assert est.assistant_tokens == [20] * 10


def test_estimate_of_nothing():
    est = pricing.estimate([], "gpt-4.1-mini")
    assert (est.examples, est.billed_tokens, est.trained_tokens, est.cost_usd) == (0, 0, 0, 0.0)


# ------------------------------------------------------------------ the table


def test_model_info_resolves_aliases_snapshots_and_fine_tunes():
    assert pricing.model_info("gpt-4.1-mini").id == "gpt-4.1-mini-2025-04-14"
    assert pricing.model_info("gpt-4o").id == "gpt-4o-2024-08-06"
    assert pricing.model_info("gpt-3.5-turbo").id == "gpt-3.5-turbo-0125"
    assert pricing.model_info("gpt-35-turbo-0125").id == "gpt-3.5-turbo-0125"
    plain = pricing.model_info("gpt-4o-mini-2024-07-18")
    assert not plain.fine_tuned
    tuned = pricing.model_info("ft:gpt-4o-mini-2024-07-18:org::id")
    assert tuned.id == "gpt-4o-mini-2024-07-18" and tuned.fine_tuned and tuned.requested.startswith("ft:")
    azure = pricing.model_info("gpt-4.1-2025-04-14.ft-0123456789abcdef")
    assert azure.id == "gpt-4.1-2025-04-14" and azure.fine_tuned
    local = pricing.model_info("ft:SmolLM2-135M-Instruct:local:limericks:abc")
    assert local.id == "HuggingFaceTB/SmolLM2-135M-Instruct" and local.provider == "local" and local.fine_tuned
    assert pricing.model_info("claude-or-whatever") is None
    assert pricing.model_info("") is None


def test_table_matches_the_reference():
    m = pricing.MODELS
    assert m["gpt-4.1-mini-2025-04-14"].training_per_1m == 5.00
    assert m["gpt-4.1-2025-04-14"].finetuned == pricing.Prices(3.00, 0.75, 12.00)
    assert m["gpt-4o-2024-08-06"].base == pricing.Prices(2.50, 1.25, 10.00)
    assert m["o4-mini-2025-04-16"].training_per_hour == 100.00 and m["o4-mini-2025-04-16"].training_per_1m is None
    assert m["gpt-3.5-turbo-0125"].token_limit == 16_385
    assert m["gpt-4.1-nano-2025-04-14"].token_limit == 65_536 and m["gpt-4.1-nano-2025-04-14"].azure_token_limit == 32_768
    assert m["gpt-3.5-turbo-0125"].shutdown == date(2026, 10, 23)
    assert m["gpt-4o-mini-2024-07-18"].shutdown == date(2027, 1, 14)
    assert m["babbage-002"].shutdown == date(2026, 9, 28)
    assert m["babbage-002"].finetunes_answer_until == date(2026, 10, 23)
    assert m["gpt-4.1-mini-2025-04-14"].finetunes_answer_until == date(2027, 1, 14)
    for row in m.values():
        assert row.source
        if row.provider == "openai":
            assert row.training_until <= pricing.OPENAI_TRAINING_ENDS
            if row.methods and row.chat:
                assert row.token_limit
        else:
            assert row.training_per_1m == 0.0 and row.training_until is None
    assert m["gpt-4.1-mini-2025-04-14"].training_until == date(2027, 1, 6)
    assert m["gpt-3.5-turbo-0125"].training_until == date(2026, 10, 23)
    assert pricing.PRICE_DATE and pricing.PRICE_SOURCE


# ------------------------------------------------------------------ availability


@pytest.mark.parametrize(("model", "day", "ok"), [
    ("gpt-3.5-turbo", date(2026, 10, 22), True),
    ("gpt-3.5-turbo", date(2026, 10, 23), False),
    ("gpt-4.1-nano", date(2026, 10, 22), True),
    ("gpt-4.1-nano", date(2026, 10, 23), False),
    ("o4-mini", date(2026, 10, 23), False),
    ("babbage-002", date(2026, 9, 27), True),
    ("babbage-002", date(2026, 9, 28), False),
    ("gpt-4.1-mini", date(2026, 10, 23), True),
    ("gpt-4.1-mini", date(2027, 1, 5), True),
    ("gpt-4.1-mini", date(2027, 1, 6), False),
    ("ft:gpt-4o-mini-2024-07-18:org::x", date(2027, 1, 6), False),
    ("gpt-4o", date(2027, 1, 7), False),
    ("HuggingFaceTB/SmolLM2-135M-Instruct", date(2030, 1, 1), True),
    ("gpt-4-0613", date(2026, 1, 1), False),
    ("gpt-3.5-turbo-0613", date(2026, 1, 1), False),
    ("not-a-model", date(2026, 1, 1), False),
])
def test_trainable_around_the_shutdown_dates(model, day, ok):
    result, reason = pricing.trainable(model, day)
    assert result is ok
    assert reason and "\n" not in reason


def test_trainable_reasons_are_plain():
    assert pricing.trainable("gpt-4.1-mini", date(2027, 1, 6)) == (
        False,
        "OpenAI stopped new fine-tuning jobs for everyone on 2027-01-06. "
        "Azure OpenAI trains fine-tuned gpt-4.1, gpt-4o and o4-mini no earlier than 2027-04 for existing "
        "customers only; for anyone else training retired with the base models in 2026-10 "
        "(Microsoft Learn, Azure OpenAI concepts-model-retirement-schedule (version of 2026-07-07)). "
        "The local engine trains on this computer with no account.",
    )
    ok, reason = pricing.trainable("gpt-3.5-turbo", date(2026, 10, 23))
    assert not ok and "shut down gpt-3.5-turbo-0125 on 2026-10-23" in reason
    assert "stopped answering" in reason
    ok, reason = pricing.trainable("babbage-002", date(2026, 10, 1))
    assert not ok and "shut down babbage-002 on 2026-09-28" in reason and "answer until 2026-10-22" in reason
    ok, reason = pricing.trainable("gpt-3.5-turbo", date(2026, 10, 22))
    assert ok and "until 2026-10-22" in reason and "60 days" in reason
    ok, reason = pricing.trainable("gpt-4.1-mini", date(2026, 6, 1))
    assert ok and "2026-05-07" in reason
    ok, reason = pricing.trainable("gpt-4.1-mini", date(2026, 1, 1))
    assert ok and "until 2027-01-05" in reason and "organisations" not in reason


def test_alternatives_after_openai_stops():
    after = pricing.alternatives("gpt-4.1-mini", date(2027, 1, 6))
    assert [(a.provider, a.model) for a in after] == [
        ("azure", "gpt-4.1-mini-2025-04-14"), ("local", "HuggingFaceTB/SmolLM2-135M-Instruct")]
    seed = pricing.alternatives("gpt-3.5-turbo", date(2026, 11, 1))
    openai = [a.model for a in seed if a.provider == "openai"]
    assert openai[0] == "gpt-4o-mini-2024-07-18" and "gpt-4.1-mini-2025-04-14" in openai
    assert "gpt-3.5-turbo-0125" not in openai and "gpt-4.1-nano-2025-04-14" not in openai
    assert {a.provider for a in seed} == {"openai", "azure", "local"}
    assert all(a.reason for a in seed)


def test_compare_table_lists_what_can_train_that_day():
    examples = [example(25, 12, 45)] * 60
    early = pricing.compare_table(examples, "auto", date(2026, 9, 1))
    names = [r["model"] for r in early]
    assert names[0] == "HuggingFaceTB/SmolLM2-135M-Instruct"  # $0 first, then cheapest
    assert {"gpt-4.1-nano-2025-04-14", "gpt-3.5-turbo-0125", "gpt-4.1-mini-2025-04-14"} <= set(names)
    assert "o4-mini-2025-04-16" not in names and "davinci-002" not in names and "tiny-random-llama" not in names
    costs = [r["cost_usd"] for r in early]
    assert costs == sorted(costs)
    by_model = {r["model"]: r for r in early}
    assert by_model["gpt-3.5-turbo-0125"]["encoding"] == "cl100k_base"
    late = pricing.compare_table(examples, "auto", date(2026, 10, 23))
    assert "gpt-3.5-turbo-0125" not in {r["model"] for r in late}
    assert [r["model"] for r in pricing.compare_table(examples, 3, date(2027, 1, 6))] == [
        "HuggingFaceTB/SmolLM2-135M-Instruct"]
    everything = pricing.compare_table(examples, 3, date(2027, 1, 6), include_unavailable=True)
    assert any(not r["trainable"] for r in everything)
    rft = pricing.compare_table(examples, "auto", date(2026, 9, 1), method="reinforcement")
    assert [(r["model"], r["cost_usd"], r["training_per_hour"]) for r in rft] == [("o4-mini-2025-04-16", None, 100.0)]


# ------------------------------------------------------------------ inference


def test_inference_cost():
    assert pricing.inference_cost("gpt-4.1-mini", 1000, 500, fine_tuned=False) == pytest.approx(0.0012)
    assert pricing.inference_cost("gpt-4.1-mini", 1000, 500, fine_tuned=True) == pytest.approx(0.0024)
    # an ft: id is a fine-tuned model whatever the flag says
    assert pricing.inference_cost("ft:gpt-4.1-mini-2025-04-14:o::x", 1000, 500, fine_tuned=False) == pytest.approx(0.0024)
    # cached prompt tokens at the cached price
    assert pricing.inference_cost("gpt-4o-mini", 1000, 0, fine_tuned=True, cached_tokens=400) == pytest.approx(
        (600 * 0.30 + 400 * 0.15) / 1e6)
    assert pricing.inference_cost("gpt-3.5-turbo", 1000, 0, fine_tuned=False, cached_tokens=400) == pytest.approx(
        1000 * 0.50 / 1e6)
    assert pricing.inference_cost("HuggingFaceTB/SmolLM2-135M-Instruct", 1000, 500, fine_tuned=True) == 0.0
    assert pricing.inference_cost("davinci-002", 10, 10, fine_tuned=False) is None
    assert pricing.inference_cost("unknown", 10, 10, fine_tuned=False) is None


def test_prompting_vs_finetuning_break_even():
    result = pricing.prompting_vs_finetuning(1_000, 50, 800, 60, "gpt-4.1-mini", training_cost=0.0873)
    assert result.per_request_prompting == pytest.approx((850 * 0.40 + 60 * 1.60) / 1e6)
    assert result.per_request_finetuned == pytest.approx((50 * 0.80 + 60 * 3.20) / 1e6)
    saving = result.per_request_prompting - result.per_request_finetuned
    assert result.break_even_requests == pytest.approx(0.0873 / saving)
    assert result.break_even_months == pytest.approx(0.0873 / saving / 1_000)
    assert len(result.series) == 13 and result.series[0] == {"month": 0.0, "prompting": 0.0, "fine_tuned": 0.0873}
    assert result.series[12]["prompting"] == pytest.approx(12 * 1_000 * result.per_request_prompting)
    assert result.series[12]["fine_tuned"] == pytest.approx(0.0873 + 12 * 1_000 * result.per_request_finetuned)
    # without few-shot examples to drop, the pricier fine-tuned tokens never pay back
    never = pricing.prompting_vs_finetuning(1_000, 50, 0, 60, "gpt-4.1-mini", training_cost=1.0)
    assert never.break_even_requests is None and never.break_even_months is None
    with pytest.raises(ValueError, match="No inference price"):
        pricing.prompting_vs_finetuning(1, 1, 1, 1, "davinci-002", 1.0)
