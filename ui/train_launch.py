"""The Train page's launch panel: check, price, confirm, upload, create."""

from __future__ import annotations

from datetime import date

import streamlit as st

from lib.checks import facts_card
from lib.dataprep import dataset as ds
from lib.services import errors, job_monitor, jobs, lifecycle, pricing, providers, recipe
from ui import checks, clients, pages, render, state


def trainable_models(config: providers.ProviderConfig) -> list[providers.TrainableModel]:
    key = f"train_models_{config.fingerprint()}"
    if key not in st.session_state:
        with st.spinner("Asking the provider which models it can train…"):
            st.session_state[key] = providers.trainable_models(config, date.today())
    return st.session_state[key]


def _summary(config: providers.ProviderConfig, model: str, train: list, epochs: int | str) -> str:
    """One sentence with the price (hosted) or the time (local) on it."""
    est = pricing.estimate(train, model, epochs)
    if config.kind == "local":
        try:
            guess = providers.training_time(config, model=model, tokens=est.billed_tokens, examples=est.examples,
                                            epochs=est.epochs, client=clients.client(config))
        except errors.StudioError:
            guess = {}
        when = f"about {render.duration(guess['seconds'])}" if guess.get("seconds") else "time not measured yet"
        where = "this computer" if providers.on_this_computer(config) else config.describe()
        return f"Free on {where}, {when}: {est.epochs} epochs over {est.examples} examples."
    cost = f"about ${est.cost_usd:,.2f}" if est.cost_usd is not None else "price unknown"
    return (f"{cost} on {model}, {est.epochs} epochs, {est.trained_tokens:,} billed tokens "
            f"(prices as of {est.price_date}).")


def blocked(data: ds.Dataset) -> bool:
    """The Dataset page's "ready to train" verdict, from the same shared check (ui.checks)."""
    if not data.train_examples():
        st.info("No training examples yet: build your dataset first.")
        return True
    blockers = checks.current(data).blockers
    if blockers:
        st.error(f"Fix these before training ({len(blockers)} error{'s' if len(blockers) > 1 else ''}):")
        for issue in blockers[:8]:
            st.markdown(f"- {render.escape(issue.message)}")
        st.page_link(pages.get(pages.DATASET), label="Fix them on the Dataset page", icon="➡️")
        return True
    return False


def facts_card_choice(train: list, *, key: str) -> bool:
    """Whether the rows go with their element's facts card: offered when the questions name elements,
    on by default (measured on the sample: it took SmolLM2's wrong atomic numbers on 20 unseen elements
    from 18 to 0: README, "The default recipe")."""
    if not facts_card.applies(train):
        return False
    on = st.checkbox(
        "Give each question its element's facts (recommended)", value=True, key=key,
        help="Adds one line from the element table to each example's instructions, and later to each question "
             "the model is asked: name, symbol, atomic number, state, year found. A small model cannot remember "
             "118 atomic numbers; with the facts in front of it, it puts them in its limerick instead of inventing "
             "them. Your dataset itself is not changed.")
    if on:
        example = next(card for card in map(facts_card.card_for_row, train[:50]) if card)
        st.caption(f"For example: “{render.escape(example)}”")
    return on


def render_launch(config: providers.ProviderConfig, client) -> None:
    data = state.dataset()
    if blocked(data):
        return
    train, val = data.train_examples(), data.validation_examples()
    try:
        available = trainable_models(config)
    except errors.StudioError as exc:
        show_error(exc)
        return
    choices = [m for m in available if m.trainable] or available
    if not choices:
        st.warning("This provider lists no model it can fine-tune.")
        return
    # The id too: it is what the job, the history and the Playground call the model.
    labels = {m.id: (f"{m.id} — {m.label}" if m.label and m.label != m.id else m.id)
              + ("" if m.trainable else " (cannot train now)") for m in choices}
    model = st.selectbox("Base model", [m.id for m in choices], format_func=labels.get, key="train_model")
    picked = next(m for m in choices if m.id == model)
    if not picked.trainable:
        st.warning(picked.reason)
    methods = ["dpo"] if data.format == "dpo" else ["supervised"]
    method = st.radio("Method", methods, horizontal=True, key="train_method",
                      format_func={"supervised": "Supervised (learn the answers)",
                                   "dpo": "DPO (prefer the better answer)"}.get)
    with st.expander("Settings (automatic unless you change them)"):
        cols = st.columns(3)
        measured = recipe.applies(config.kind, method)  # "automatic" is the local engine's measured recipe
        epochs = cols[0].number_input("Epochs (0 = automatic)", 0, 50, 0, key="train_epochs",
                                      help="Passes over the data. Automatic: " + (
                                          "the studio's measured recipe." if measured else "OpenAI's rule."))
        batch = cols[1].number_input("Batch size (0 = automatic)", 0, 256, 0, key="train_batch")
        lr = cols[2].number_input("Learning-rate multiplier (0 = automatic)", 0.0, 10.0, 0.0, step=0.1,
                                  key="train_lr")
        cols = st.columns(2)
        suffix = cols[0].text_input("Name suffix for the model (up to 64 characters)", max_chars=64,
                                    key="train_suffix", placeholder="limericks")
        seed = cols[1].number_input("Seed (same seed, same run)", 0, 2**31 - 1, 42, key="train_seed")
        use_val = st.checkbox(f"Use the {len(val)} held-out validation rows", value=bool(val), disabled=not val,
                              key="train_use_validation")
        if measured:
            st.caption(recipe.describe(len(train)))
    card = facts_card_choice(train, key="train_facts_card")
    n_epochs: int | str = int(epochs) or "auto"
    rate: float | str = float(lr) or "auto"
    if measured:
        n_epochs, rate = recipe.resolve(n_epochs, rate, len(train))
    st.info(_summary(config, model, train, n_epochs), icon=":material/receipt_long:")
    flags = checks.current(data).privacy
    if flags and config.kind != "local":
        st.warning(f"{len(flags)} thing(s) in your examples look private (e-mail addresses, phone numbers or keys). "
                   "They will be uploaded to the provider. Review them on the Dataset page first.")
    confirm = st.checkbox("I have checked the price and want to start training", key="train_confirm")
    if not st.button("Launch training", type="primary", disabled=not confirm, key="train_launch"):
        return
    bar = st.progress(0.0, text="Preparing…")
    versions = state.workspace().versions(data.name)
    metadata = {"dataset": data.name[:512], "dataset_version": str(versions[-1].id) if versions else ""}
    if card:  # the rows leave with their cards; the job says so, so its model is asked with them too
        train, val = facts_card.add_to_rows(train), facts_card.add_to_rows(val)
        metadata[facts_card.METADATA_KEY] = "on"
    params = {"method": method, "n_epochs": n_epochs, "batch_size": int(batch) or "auto",
              "learning_rate_multiplier": rate, "suffix": suffix or None, "seed": int(seed),
              "metadata": metadata}
    try:
        job = jobs.launch(client, ds.to_jsonl(train).encode(), model=model,
                          validation_jsonl_bytes=ds.to_jsonl(val).encode() if use_val and val else None,
                          filename=f"{data.name}.jsonl", progress=lambda f, text: bar.progress(min(f, 1.0), text=text),
                          **params)
    except errors.StudioError as exc:
        bar.empty()
        show_error(exc)
        return
    state.follow_job(config, job_monitor.JobMonitor(client, job.id, provider=config.kind, job=job).to_dict())
    st.session_state[state.TRAIN_SECTION_NEXT] = "Monitor"
    state.notify(f"Job {job.id} launched.", ":material/rocket_launch:")
    st.rerun()


def show_error(exc: errors.StudioError) -> None:
    """A plain message, and where OpenAI said no, the way out (the dataset is carried over: it is shared)."""
    st.error(render.escape(exc.message))
    if isinstance(exc, errors.TrainingNotAvailable):
        left, right = st.columns(2)
        if left.button("Train on the local engine instead", key="train_switch_local", type="primary"):
            st.session_state[state.PROVIDER_KIND] = "local"
            st.rerun()
        if right.button("Use Azure OpenAI (existing customers only)", key="train_switch_azure",
                        help=lifecycle.AZURE_CAVEAT):
            st.session_state[state.PROVIDER_KIND] = "azure"
            st.rerun()
        st.caption(lifecycle.AZURE_CAVEAT)
