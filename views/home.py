"""Home: where the user is in the journey, and the one next step."""

from __future__ import annotations

import streamlit as st

from lib import journey
from ui import checks, pages, state

st.title("Fine-Tune Studio")
st.caption(
    "Teach a chat model your style from a handful of examples: build the dataset, see the price, "
    "train it, and show the difference side by side."
)

steps = journey.progress(
    dataset=state.dataset(),
    estimated=state.ESTIMATE in st.session_state,
    job=st.session_state.get(state.JOB_STATE),
    latest_model=st.session_state.get(state.LATEST_MODEL),
    check=checks.current() if state.dataset().examples else None,
)
columns = st.columns(len(steps))
for column, step in zip(columns, steps, strict=True):
    with column, st.container(border=True):
        st.markdown(f"{pages.STATUS_ICONS[step.status]} **{step.title}**")
        st.caption(step.detail)

nxt = journey.next_step(steps)
st.subheader("Next step")
if nxt is None:
    st.success("Everything is done: your fine-tuned model is ready. Show it in the Playground or build a report.")
    nxt_page = pages.get(pages.PLAYGROUND)
else:
    st.info(nxt.advice)
    nxt_page = pages.get(nxt.title)
if st.button("Go →", type="primary", key="home_next"):
    st.switch_page(nxt_page)

if not state.dataset().examples:
    st.divider()
    st.markdown("New here? Load the sample dataset: twelve limericks about chemical elements, with one "
                "mistake left in for you to find and fix.")
    if st.button("Load the sample dataset", key="home_load_sample"):
        from ui.actions import load_sample

        load_sample()
        st.switch_page(pages.get(pages.DATASET))
