"""The Dataset page's Generate panel: a chat model drafts rows like the seeds, every draft is checked, a person accepts.

Drafts are saved in the workspace as they arrive (lib.dataprep.generate.DraftStore), so Cancel, a refresh or a closed
tab keeps every draft already shown. Nothing enters the dataset until accepted; accepting saves a new version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from lib.checks import quality
from lib.dataprep import check as dataset_check
from lib.dataprep import dataset as ds
from lib.dataprep import generate
from lib.services import errors, providers
from ui import clients, state
from ui import render as show

_REMEMBERED = "generate_remembered"  # {what: (key, value)}: the plan and estimate of the last content


def _remembered(what: str, args: tuple, data: ds.Dataset, compute: Callable[[], Any]) -> Any:
    """`compute()`, again only when the rows or `args` change: planning and estimating read every row
    (a third of a second at 10,000 rows), and the panel is drawn on every run of the Dataset page."""
    kept = st.session_state.setdefault(_REMEMBERED, {})
    key = (dataset_check.examples_digest(data.examples), args)
    if what not in kept or kept[what][0] != key:
        kept[what] = (key, compute())
    return kept[what][1]


def _settings(data: ds.Dataset, kind: str) -> tuple[generate.Settings | None, list[str]]:
    """The form: who writes, about what, how; returns the settings and the planned questions."""
    model_default, note = generate.default_writer(kind)
    left, right = st.columns(2)
    model = left.text_input("Writer model", value=model_default, key="generate_model",
                            help="Any chat model the sidebar's provider offers (on Azure, the deployment name); "
                                 "on the local engine a base or fine-tuned model.")
    count = right.number_input("Rows to draft", min_value=1, max_value=200, value=10, key="generate_count")
    if note:
        st.caption(note)
    about = st.radio("About", ["Elements no row covers yet", "Topics or questions I type"], horizontal=True,
                     key="generate_about")
    topics = None
    order = "number"
    if about == "Elements no row covers yet":
        order = "random" if st.toggle("Random order (else by atomic number)", key="generate_random") else "number"
    else:
        topics = generate.parse_topics(st.text_area(
            "Topics", key="generate_topics", height=90,
            placeholder="One a line (or comma-separated): Li, Beryllium, Why is gold yellow?"))
    with st.expander("What the writer is told"):
        instruction = st.text_area("Instruction", value=generate.DEFAULT_INSTRUCTION, key="generate_instruction",
                                   height=90)
        c1, c2 = st.columns(2)
        per_call = c1.number_input("Rows per call", min_value=1, max_value=20,
                                   value=generate.default_rows_per_call(kind), key="generate_rows_per_call",
                                   help="Above 1 the writer is asked for a JSON list: fewer calls, less money. "
                                        "A small local model cannot follow that, so it gets one row per call.")
        max_tokens = c2.number_input("Most tokens per row", min_value=8, max_value=1000, value=120,
                                     key="generate_max_tokens")
        st.caption(f"It also sees the dataset's system prompt and up to {generate.MAX_EXAMPLES_SHOWN} of its rows.")
    if about != "Elements no row covers yet" and not topics:
        st.info("Type at least one topic.")
        return None, []
    try:
        settings = generate.Settings(model=model, provider=kind, instruction=instruction, rows_per_call=int(per_call),
                                     max_tokens=int(max_tokens))
        questions = _remembered("plan", (int(count), tuple(topics or ()), order), data,
                                lambda: generate.plan(data.examples, int(count), about=topics, order=order))
    except ValueError as exc:
        st.warning(str(exc))
        return None, []
    if not questions:
        st.info("Every element already has a row: type topics instead.")
        return None, []
    return settings, questions


def _run(data: ds.Dataset, config: providers.ProviderConfig, settings: generate.Settings, questions: list[str],
         store: generate.DraftStore, guess: generate.Estimate) -> None:
    try:
        client = clients.client(config)
    except Exception as exc:  # a missing key or address, in plain words
        st.error(errors.translate(exc).message)
        return
    st.button("Cancel", key="generate_cancel", help="Stops after the draft in progress; drafts shown are kept.")
    bar = st.progress(0.0, text=f"Drafting 0 of {len(questions)}…")
    shown = st.empty()
    pending = [d for d in store.load() if d.status != "accepted"]
    run = generate.Run(client, settings, questions, data, store=store, workspace=state.workspace(), pending=pending)
    arrived: list[generate.Draft] = []
    for draft in run:
        arrived.append(draft)
        passed = sum(d.passed for d in arrived)
        bar.progress(len(arrived) / len(questions),
                     text=f"Drafted {len(arrived)} of {len(questions)}: {passed} pass every check")
        shown.dataframe(_frame(arrived), hide_index=True, width="stretch")
    st.session_state[state.GENERATED] = {
        "estimate": guess.to_dict(), "calls": run.calls, "completion_tokens": run.completion_tokens,
        "seconds": round(run.seconds, 1), "drafts": len(arrived), "passed": sum(d.passed for d in arrived),
        "error": run.error.message if run.error else None,
    }
    st.rerun()


def _frame(drafts: list[generate.Draft]) -> pd.DataFrame:
    return pd.DataFrame([{"question": d.question, "answer": d.answer, "verdict": d.verdict(),
                          "passes": "yes" if d.passed else "no", "writer": d.model} for d in drafts],
                        columns=["question", "answer", "verdict", "passes", "writer"])


def _last_run() -> None:
    last = st.session_state.get(state.GENERATED)
    if not last:
        return
    if last.get("error"):
        st.error(f"{last['error']} The {last['drafts']} draft(s) that arrived are kept below.")
    guess = last["estimate"]
    cost = "free" if guess["dollars"] == 0 else (f"${guess['dollars']:.4f}" if guess["dollars"] is not None else "?")
    st.caption(f"Last run: {last['passed']} of {last['drafts']} drafts pass every check. Estimated {guess['calls']} "
               f"calls, {guess['completion_tokens']:,} tokens out, {cost}, {show.duration(guess['seconds'])}; "
               f"took {last['calls']} calls, {last['completion_tokens']:,} tokens out, "
               f"{show.duration(last['seconds'])}.")


def _accept(data: ds.Dataset, chosen: list[generate.Draft], store: generate.DraftStore) -> None:
    new = generate.accept(data, chosen, workspace=state.workspace(), store=store)
    writers = ", ".join(sorted({d.model for d in chosen}))
    state.set_dataset(new, note=f"Added {len(chosen)} generated row{'s' * (len(chosen) != 1)} ({writers})")
    state.notify(f"Added {len(chosen)} row{'s' * (len(chosen) != 1)}. Undo: restore the previous version "
                 "in the Versions tab.")
    st.rerun()


def _review(data: ds.Dataset, config: providers.ProviderConfig, settings: generate.Settings | None,
            store: generate.DraftStore) -> None:
    drafts = [d for d in store.load() if d.status != "accepted"]
    if not drafts:
        return
    st.subheader("Review the drafts")
    st.caption("Nothing enters the dataset until you add it.")
    frame = _frame(drafts)
    frame.insert(0, "add", False)
    digest = hashlib.sha1("|".join(f"{d.id}{d.verdict()}" for d in drafts).encode()).hexdigest()[:12]
    edited = st.data_editor(
        frame, key=f"generate_review_{digest}", hide_index=True, width="stretch", disabled=list(frame.columns[1:]),
        column_config={"add": st.column_config.CheckboxColumn("Add?", help="Pick rows to add"),
                       "question": st.column_config.TextColumn("Question"),
                       "passes": st.column_config.TextColumn("Passes?", width="small"),
                       "writer": st.column_config.TextColumn("Writer"),
                       "answer": st.column_config.TextColumn("Answer", width="large"),
                       "verdict": st.column_config.TextColumn("Checks", width="large")},
    )
    passing = [d for d in drafts if d.passed]
    picked = [d for d, keep in zip(drafts, edited["add"], strict=False) if keep]
    c1, c2, c3 = st.columns(3)
    if c1.button(f"Add the {len(passing)} row{'s' * (len(passing) != 1)} that pass every check",
                 key="generate_accept_passing", disabled=not passing, type="primary"):
        _accept(data, passing, store)
    failing_picked = sum(not d.passed for d in picked)
    if c2.button(f"Add the {len(picked)} selected", key="generate_accept_selected", disabled=not picked,
                 help="Rows you picked, even those a check failed: you have the last word."):
        _accept(data, picked, store)
    if failing_picked:
        c2.caption(f"{failing_picked} of them fail a check.")
    if c3.button("Discard all drafts", key="generate_discard"):
        store.save([d for d in store.load() if d.status == "accepted"])
        st.rerun()

    labels = [f"{i + 1}. {d.question} — {'passes' if d.passed else 'fails'}" for i, d in enumerate(drafts)]
    index = st.selectbox("Look at one draft", range(len(drafts)), format_func=labels.__getitem__,
                         key="generate_pick")
    draft = drafts[min(int(index or 0), len(drafts) - 1)]
    for name, check in draft.checks.items():
        mark = "✓" if check.ok else "✗"
        st.text(f"{mark} {generate.CHECKS.get(name, name)}" + (f": {check.message}" if check.message else ""))
    if draft.raw:
        with st.expander("What the writer sent"):
            show.text_block(draft.raw)
    text = st.text_area("Edit the answer", value=draft.answer, key=f"generate_edit_{draft.id}", height=110)
    others = [d.example for d in drafts if d.id != draft.id]
    b1, b2 = st.columns(2)
    if b1.button("Re-check my edit", key="generate_recheck"):
        store.put(generate.recheck(draft, answer=text, system_prompt=data.system_prompt, existing=data.examples,
                                   others=others))
        st.rerun()
    can_send = not draft.passed and draft.attempt == 0 and settings is not None
    if b2.button("Send back to the writer", key="generate_send_back", disabled=not can_send,
                 help="The writer gets the checks' complaint and writes one corrected draft (once per row)."):
        try:
            with st.spinner("Asking the writer for a corrected draft…"):
                fixed = generate.revise(clients.client(config), settings, draft, data, others=others)
        except (errors.StudioError, ValueError) as exc:
            st.error(str(exc))
            return
        store.put(fixed)
        st.rerun()


def _origins(data: ds.Dataset) -> None:
    records = generate.origins(state.workspace(), data.examples)
    generated = sum(1 for r in records if r)
    if not generated:
        return
    with st.expander(f"Where the rows came from ({generated} generated)"):
        only = st.toggle("Only generated rows", key="generate_only_generated")
        rows = [{"row": i + 1, "question": quality.question_answer(e)[0] or "",
                 "origin": generate.origin_label(r),
                 "checks passed": ", ".join(generate.CHECKS.get(c, c) for c in (r or {}).get("checks_passed", []))}
                for i, (e, r) in enumerate(zip(data.examples, records, strict=True)) if r or not only]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        st.caption("Kept beside the dataset, never in it: exports stay plain OpenAI JSONL.")


def render(data: ds.Dataset) -> None:
    """The whole panel: settings, estimate and confirm, the run, the review, where rows came from."""
    if data.format != "chat":
        st.info("Generating rows works on chat datasets (question and answer), not preference pairs.")
        return
    st.caption("A chat model drafts new rows in the style of yours. Each draft is checked (OpenAI's format, the "
               "limerick's form, the element facts, copies, personal data) before you decide what to add.")
    config: providers.ProviderConfig = st.session_state[state.PROVIDER]
    store = generate.DraftStore(state.workspace(), data.name)
    settings, questions = _settings(data, config.kind)
    if settings is not None:
        speed = generate.measured_speed(state.workspace(), settings.provider, settings.model)
        guess = _remembered("estimate", (repr(settings), tuple(questions), data.system_prompt, speed), data,
                            lambda: generate.estimate(settings, questions, data.examples, data.system_prompt,
                                                      workspace=state.workspace()))
        m1, m2, m3, m4 = st.columns(4)
        m1.metric("Calls", guess.calls)
        m2.metric("Tokens in / out", f"{guess.prompt_tokens:,} / {guess.completion_tokens:,}")
        cost = "free" if guess.dollars == 0 else (f"${guess.dollars:.4f}" if guess.dollars is not None else "unknown")
        m3.metric("Cost", cost, help="From the dated price table; the local engine is free.")
        m4.metric("Time", show.duration(guess.seconds), help=f"Time: {guess.basis}.")
        st.caption(f"About: {', '.join(q for q in questions[:6])}{' …' if len(questions) > 6 else ''}")
        spend = "Run it on the local engine (free)" if guess.dollars == 0 else f"Spend {cost} on {guess.calls} calls"
        confirmed = st.checkbox(spend, key="generate_confirm")
        if st.button("Generate", key="generate_run", disabled=not confirmed, type="primary"):
            _run(data, config, settings, questions, store, guess)
    _last_run()
    _review(data, config, settings, store)
    _origins(data)
