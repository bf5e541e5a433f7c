"""The Estimate page's panels: headline figures, time on this machine, fine-tuning vs prompting."""

from __future__ import annotations

import contextlib
from statistics import mean

import streamlit as st

from lib.dataprep import check as dataset_check
from lib.dataprep import dataset as ds
from lib.evaluation import charts
from lib.services import errors, pricing, providers, recipe
from ui import clients, render, state

DEFAULT_MODEL = "gpt-4.1-mini-2025-04-14"

@st.cache_data(show_spinner="Counting tokens…", max_entries=16)
def _cost_estimate(digest: str, model: str, epochs: int | str, _examples: list) -> pricing.Estimate:
    return pricing.estimate(_examples, model, epochs)  # keyed by the digest; the examples are not hashed


def cost_estimate(examples: list, model: str, epochs: int | str) -> pricing.Estimate:
    """`pricing.estimate`, cached by content (tokens themselves are cached per string in lib.dataprep.tokens)."""
    return _cost_estimate(dataset_check.examples_digest(examples), model, epochs, examples)


def headline(est: pricing.Estimate, n_validation: int) -> None:
    cols = st.columns(5)
    cols[0].metric("Training examples", f"{est.examples:,}", help=f"{n_validation} more held out for validation "
                   "(free)." if n_validation else "No validation split.")
    cols[1].metric("Tokens per epoch", f"{est.billed_tokens:,}",
                   help="Σ over examples of min(limit, tokens), counted exactly as OpenAI's Cookbook does.")
    cols[2].metric("Epochs", est.epochs, help="On automatic, OpenAI's rule: 3, or more for small datasets "
                   "(100 ÷ examples, at most 25), fewer for very large ones.")
    cols[3].metric("Billed tokens", f"{est.trained_tokens:,}", help="Epochs × tokens per epoch.")
    if est.cost_usd is not None:
        cols[4].metric("Training cost", f"${est.cost_usd:,.2f}" if est.cost_usd >= 0.01 or est.cost_usd == 0
                       else f"${est.cost_usd:.4f}")
    elif est.training_per_hour:
        cols[4].metric("Training cost", f"${est.training_per_hour:,.0f}/hour", help="Billed by the hour, "
                       "not by tokens: it cannot be estimated from the file.")
    else:
        cols[4].metric("Training cost", "unknown")
    for note in est.notes:
        st.caption(note)
    if not est.exact_encoding:
        st.caption("Token counts for this model are approximate (OpenAI's tokenizer stands in for the model's own).")


def local_time(est: pricing.Estimate, *, automatic: bool = False) -> None:
    """How long the configured local engine would take, from the speed it measured on its last jobs (or a
    calibration): asked over HTTP, so a team's GPU engine answers with its own speed, not this laptop's.
    With automatic epochs, the engine trains the studio's measured recipe (`lib.services.recipe`), not
    OpenAI's rule, so its time is for those epochs."""
    config: providers.ProviderConfig = st.session_state[state.PROVIDER]
    if config.kind != "local":
        st.caption("Choose the local engine in the sidebar to see how long training would take there (free).")
        return
    where = "this computer" if providers.on_this_computer(config) else config.provider.address(config)
    measure = st.session_state.pop("estimate_calibrate", False)
    with st.spinner(f"Measuring the training speed of {where} (once, about 20 s)…") if measure \
            else contextlib.nullcontext():
        try:
            epochs = recipe.epochs(est.examples) if automatic else est.epochs
            guess = providers.training_time(config, model=providers.LOCAL_DEFAULT_MODEL, tokens=est.billed_tokens,
                                            examples=est.examples, epochs=epochs, calibrate=measure,
                                            client=clients.client(config))
        except errors.StudioError as exc:
            st.caption(f"How long training takes on the local engine is unknown: {exc.message}")
            return
    if guess.get("seconds") is None:
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.info(f"On the local engine (SmolLM2-135M, {where}, free): speed not measured yet.",
                  icon=":material/timer:")
        if right.button("Measure it", key="estimate_calibrate_button"):
            st.session_state["estimate_calibrate"] = True
            st.rerun()
        return
    st.info(
        f"On the local engine (SmolLM2-135M, {where}, free): about **{render.duration(guess['seconds'])}** "
        f"for {guess['epochs']} epochs{' (its measured recipe)' if automatic else ''}, at "
        f"{guess['tokens_per_second']:,.0f} tokens/s ({guess['basis']}).",
        icon=":material/timer:",
    )


def prompting_vs_finetuning(examples: list, model: str, est: pricing.Estimate) -> None:
    info = pricing.model_info(model)
    if info is None or info.provider != "openai" or est.cost_usd is None:
        st.caption("Pick an OpenAI model above to compare operating costs.")
        return
    st.caption(
        "Instead of fine-tuning, you could paste a few examples into every prompt (few-shot prompting). "
        "That costs nothing up front but makes every request longer. Which is cheaper depends on how often "
        "the chatbot is used."
    )
    left, right = st.columns(2)
    requests = left.number_input("Requests per month", min_value=0, value=10_000, step=1_000,
                                 key="estimate_requests")
    shots = right.slider("Examples placed in the prompt", 1, max(1, min(20, len(examples))),
                         min(5, len(examples)), key="estimate_shots")
    answers = [t for t in est.assistant_tokens] or [0]
    questions = [max(0, t - a) for t, a in zip(est.tokens, est.assistant_tokens, strict=True)] or [0]
    result = pricing.prompting_vs_finetuning(
        requests_per_month=int(requests), prompt_tokens_short=round(mean(questions)),
        fewshot_extra_tokens=round(shots * mean(est.tokens)), completion_tokens=round(mean(answers)),
        base_model=model, training_cost=est.cost_usd,
    )
    cols = st.columns(3)
    cols[0].metric("Few-shot prompting", f"${result.monthly_prompting:,.2f}/month",
                   help=f"${result.per_request_prompting:.5f} per request on the base model")
    cols[1].metric("Fine-tuned model", f"${result.monthly_finetuned:,.2f}/month",
                   help=f"${result.per_request_finetuned:.5f} per request, plus ${result.training_cost:,.2f} once")
    if result.break_even_requests is None:
        cols[2].metric("Break-even", "never", help="Fine-tuned inference costs more per request here.")
    else:
        months = result.break_even_months
        months = ("" if months is None else " (in the first month)" if months < 1
                  else f" (≈ {months:.1f} months)")
        cols[2].metric("Fine-tuning pays off after", f"{result.break_even_requests:,.0f} requests{months}")
    months_axis = [p["month"] for p in result.series]
    st.plotly_chart(
        charts.cumulative_cost(months_axis, {"Few-shot prompting": [p["prompting"] for p in result.series],
                                             "Fine-tuned (training included)": [p["fine_tuned"]
                                                                                for p in result.series]},
                               result.break_even_months),
        width="stretch",
    )


def model_choices() -> list[str]:
    """Every chat model the price table knows (untrainable ones too, so the page can say why)."""
    return [m.id for m in pricing.MODELS.values() if m.chat and not m.hidden]


def label(model: str) -> str:
    info = pricing.model_info(model)
    return f"{info.label} ({info.id})" if info and info.provider == "openai" else (info.label if info else model)


def split_examples(data: ds.Dataset) -> tuple[list, list]:
    return data.train_examples(), data.validation_examples()
