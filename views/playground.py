"""Playground: base and fine-tuned side by side, then many prompts, then a report for stakeholders."""

from __future__ import annotations

import streamlit as st

from lib.services import errors, providers
from ui import clients, playground_batch, playground_side, render, state

head, toggle = st.columns([4, 1], vertical_alignment="bottom")
head.title("Playground")
toggle.toggle("Presentation mode", key=state.PRESENTATION, help="Hides the sidebar and keys, large type.")
config: providers.ProviderConfig = st.session_state[state.PROVIDER]
try:
    with st.spinner("Connecting…"):
        clients.client(config)
except errors.StudioError as exc:
    st.error(render.escape(exc.message))
    st.stop()

side_tab, batch_tab = st.tabs(["Side by side", "Many prompts, votes and report"])
with side_tab:
    playground_side.render_side_by_side(config)
with batch_tab:
    contenders = [c for c in st.session_state.get(state.PLAYGROUND_CONTENDERS, []) if c is not None]
    playground_batch.render_batch(contenders, {
        "system": st.session_state.get(state.PLAYGROUND_SYSTEM),
        "temperature": st.session_state.get(state.PLAYGROUND_TEMPERATURE, 0.0),
        "max_tokens": int(st.session_state.get(state.PLAYGROUND_MAX_TOKENS, 120)),
        "seed": int(st.session_state.get(state.PLAYGROUND_SEED, 7)),
    })
