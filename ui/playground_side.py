"""The Playground's side-by-side view: two or three contenders, one prompt, streamed at once."""

from __future__ import annotations

import dataclasses

import streamlit as st

from lib.checks import facts as facts_check
from lib.dataprep import dataset as ds
from lib.evaluation import comparison as pg
from lib.services import errors, jobs, lifecycle, providers
from ui import clients, export_panel, render, state

KINDS = {
    "finetuned": "Fine-tuned model (latest job)",
    "base": "Base model",
    "fewshot": "Base model + examples in the prompt",
    "other": "Another model or checkpoint",
}


def available_models(config: providers.ProviderConfig) -> list[str]:
    key = f"playground_models_{config.fingerprint()}"
    if key not in st.session_state:
        result = providers.test_connection(config)
        st.session_state[key] = result.models if result.ok else []
        if not result.ok:
            st.error(result.message)
    return st.session_state[key]


def base_model_of(model: str | None, models: list[str], config: providers.ProviderConfig) -> str:
    """The base a fine-tuned id was trained from, when the provider lists it (ft:<base>:...)."""
    if model and model.startswith("ft:"):
        stem = model.split(":")[1]
        for candidate in models:
            if candidate.endswith(stem) or candidate.split("/")[-1] == stem:
                return candidate
    if config.kind == "local":
        return providers.LOCAL_DEFAULT_MODEL
    return next((m for m in models if not m.startswith("ft:")), models[0] if models else "")


def contender_settings(index: int, models: list[str], config: providers.ProviderConfig) -> pg.Contender | None:
    pair = st.session_state.get(state.PLAYGROUND_PAIR)  # set by "Bring a fine-tune home": each names its provider
    if pair and index < len(pair):
        label, model, provider = pair[index]
        # Unescaped, as on the Train page: an escaped address shows its backslashes in the link.
        st.markdown(f"**{render.escape(label)}** · {provider.describe()}")
        st.caption(render.escape(model))
        notice = lifecycle.stop_notice(model)
        if notice:
            st.warning(notice, icon=":material/event_busy:")
        if st.button("Back to the sidebar's provider", key=f"playground_pair_clear_{index}"):
            st.session_state.pop(state.PLAYGROUND_PAIR, None)
            st.rerun()
        return pg.Contender(label=label, model=model, provider=provider)
    latest = st.session_state.get(state.LATEST_MODEL)
    defaults = ["base", "finetuned" if latest else "fewshot", "fewshot"]
    kind = st.selectbox(f"Column {index + 1}", list(KINDS), format_func=KINDS.get, index=list(KINDS).index(
        defaults[index]), key=f"playground_kind_{index}")
    base = base_model_of(latest, models, config)
    if kind == "finetuned":
        if not latest:
            st.caption("No fine-tuned model yet: train one on the Train page, or pick another model.")
            return None
        model, label, shots = latest, "Fine-tuned", []
    elif kind == "base":
        model, label, shots = base, "Base", []
    elif kind == "fewshot":
        n = st.slider("Examples in the prompt", 1, 10, 3, key=f"playground_shots_{index}")
        model, label = base, f"Base + {n} examples"
        shots = pg.pick_few_shot(state.dataset().train_examples(), n,
                                 exclude=st.session_state.get("playground_prompt"))
    else:
        options = models or [base]
        model = st.selectbox("Model", options, key=f"playground_model_{index}")
        label, shots = model.split(":")[-1] if model else "Model", []
    if not model:  # the provider listed no model (unreachable, or an empty account): nothing to ask
        st.caption("No model to ask here: the provider listed none. Test the connection in the sidebar, or pick "
                   "the fine-tuned model.")
        return None
    st.caption(render.escape(model))
    notice = lifecycle.stop_notice(model)
    if notice:
        st.warning(notice, icon=":material/event_busy:")
    if model and model.startswith("ft:"):
        export_panel.render_export(config, [model], key=f"playground_export_{index}")
    return pg.Contender(label=label, model=model, provider=config, few_shot=shots)


def _reply_footer(reply: pg.Reply, index: int) -> None:
    if reply.error:
        st.error(reply.error)
        return
    if not reply.text.strip():  # a tiny or half-trained model can answer only spaces: say so, not a blank column
        st.caption("The model answered with no visible text (only spaces or line breaks).")
    facts = (reply.checks.get("facts") or {}).get("claims") or []
    form = reply.checks.get("limerick") or {}
    cols = st.columns(3)
    cols[0].metric("Tokens in / out", f"{reply.prompt_tokens or 0} / {reply.completion_tokens or 0}")
    cols[1].metric("First token", f"{reply.time_to_first_token:.1f} s" if reply.time_to_first_token else "—",
                   help=f"Total {reply.latency:.1f} s" if reply.latency else None)
    cols[2].metric("Cost", "free" if reply.cost_usd == 0 else (f"${reply.cost_usd:.5f}" if reply.cost_usd
                                                                else "unknown"))
    if form:
        verdict = "a limerick" if form.get("is_limerick") else "not a limerick"
        st.caption(f"Form: {verdict} · score {form.get('score', 0)}/100 · rhyme {form.get('rhyme_scheme', '?')}")
        for problem in (form.get("problems") or [])[:3]:
            st.caption(f"• {render.escape(str(problem))}")
    for claim in facts:
        if facts_check.is_contradiction(claim):
            st.error(f"Wrong fact: “{render.escape(str(claim.get('text')))}” says {claim.get('property', '').replace('_', ' ')} "
                     f"{claim.get('stated')}; it is {claim.get('actual')}.", icon=":material/fact_check:")
        elif claim.get("verdict") == "supported":
            st.caption(f"✓ {claim.get('property', '').replace('_', ' ')} {claim.get('stated')} is right")
    with st.popover("Add to the dataset", width="stretch"):
        text = st.text_area("Edit the answer first", reply.text, key=f"playground_send_text_{index}", height=150)
        if st.button("Add as a new example", key=f"playground_send_{index}"):
            data = state.dataset()
            example = pg.to_example(st.session_state.get(state.PLAYGROUND_SYSTEM),
                                    st.session_state.get("playground_prompt", ""), text)
            state.set_dataset(dataclasses.replace(data, examples=[*data.examples, example],
                                                  split=[*data.splits(), "train"]),
                              note="Added an answer from the Playground")
            state.notify("Added to the dataset as a new example.", ":material/add:")
            st.rerun()


def _trained_with_facts_card(config: providers.ProviderConfig, model: str) -> bool:
    """Asked of the provider once per model and session; a provider that cannot say means no."""
    known: dict = st.session_state.setdefault(f"facts_card_models_{config.fingerprint()}", {})
    if model not in known:
        try:
            known[model] = jobs.trained_with_facts_card(clients.client(config), model)
        except errors.StudioError:
            return False
    return known[model]


def _with_facts_card(config: providers.ProviderConfig, contenders: list) -> list:
    """Every column asked with the facts card, or none: on by default when a fine-tuned model was trained
    with it (its answers rely on it), and the same for all columns, so the comparison stays fair."""
    tuned = sorted({c.model for c in contenders if c is not None and c.is_fine_tuned and c.provider is config})
    default = any(_trained_with_facts_card(config, m) for m in tuned)
    on = st.checkbox(
        "Give each question its element's facts", value=default, key=f"{state.PLAYGROUND_FACTS_CARD}_{'|'.join(tuned)}",
        help="Adds one line from the element table to the instructions of each question: name, symbol, atomic "
             "number, state, year found (the facts card). A model trained with these lines should be asked with "
             "them; every column gets the same line." + (" This fine-tuned model was trained with them." if default
                                                       else ""))
    return [dataclasses.replace(c, facts_card=on) if c is not None else None for c in contenders]


def render_side_by_side(config: providers.ProviderConfig) -> None:
    models = available_models(config)
    n = st.radio("Columns", [2, 3], horizontal=True, key="playground_columns")
    columns = st.columns(n)
    contenders = []
    for i, column in enumerate(columns):
        with column:
            contenders.append(contender_settings(i, models, config))
    system = st.text_area("System prompt (for every column)", value=state.dataset().system_prompt or
                          ds.DEFAULT_SYSTEM_PROMPT, key=state.PLAYGROUND_SYSTEM, height=68)
    contenders = _with_facts_card(config, contenders)
    prompt = st.text_input("Your question", value="Tell me about Strontium", key="playground_prompt")
    with st.expander("Sampling"):
        cols = st.columns(3)
        temperature = cols[0].slider("Temperature", 0.0, 2.0, 0.0, 0.1, key=state.PLAYGROUND_TEMPERATURE,
                                     help="0 gives the same answer every time.")
        max_tokens = cols[1].number_input("Max tokens", 16, 4096, 120, key=state.PLAYGROUND_MAX_TOKENS)
        seed = cols[2].number_input("Seed", 0, 2**31 - 1, 7, key=state.PLAYGROUND_SEED)
    histories = st.session_state.setdefault(state.PLAYGROUND_HISTORY, {})
    left, right = st.columns([1, 4])
    run = left.button("Ask all", type="primary", key="playground_run", disabled=not prompt.strip())
    if right.button("New conversation", key="playground_clear"):
        st.session_state[state.PLAYGROUND_HISTORY] = {}
        st.session_state.pop(state.PLAYGROUND_REPLIES, None)
        st.rerun()
    st.session_state[state.PLAYGROUND_CONTENDERS] = contenders
    active = [(i, c) for i, c in enumerate(contenders) if c is not None]
    boxes = []
    for i, column in enumerate(columns):
        with column:
            for turn in histories.get(str(i), [])[:-1] if run else histories.get(str(i), []):
                with st.chat_message(turn["role"]):
                    render.text_block(turn["content"])
            boxes.append(st.empty())
    if run and active:
        history_list = [histories.get(str(i), []) for i, _ in active]
        replies = pg.run_side_by_side(
            [c for _, c in active], system, prompt, history_list, temperature=temperature,
            max_tokens=int(max_tokens), seed=int(seed),
            on_delta=lambda k, text: boxes[active[k][0]].text(text),
        )
        for (i, _), reply, history in zip(active, replies, history_list, strict=True):
            histories[str(i)] = pg.next_history(history, prompt, reply)
        st.session_state[state.PLAYGROUND_REPLIES] = {
            "prompt": prompt, "replies": {str(i): r.to_dict() for (i, _), r in zip(active, replies, strict=True)}}
    saved = st.session_state.get(state.PLAYGROUND_REPLIES)
    if saved:
        for i, column in enumerate(columns):
            data = saved["replies"].get(str(i))
            if data is None:
                continue
            reply = pg.Reply.from_dict(data)
            with column:
                if not run:
                    boxes[i].empty()
                _reply_footer(reply, i)
