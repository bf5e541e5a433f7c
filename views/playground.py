"""Playground: base and fine-tuned side by side, then many prompts, then a report for stakeholders."""

from __future__ import annotations

import streamlit as st

from lib import errors, providers
from ui import playground_batch, playground_side, state

head, toggle = st.columns([4, 1], vertical_alignment="bottom")
head.title("Playground")
toggle.toggle("Presentation mode", key=state.PRESENTATION, help="Hides the sidebar and keys, large type.")
config: providers.ProviderConfig = st.session_state[state.PROVIDER]
try:
    with st.spinner("Connecting…"):
        providers.make_client(config)
except errors.StudioError as exc:
    st.error(exc.message)
    st.stop()

side_tab, batch_tab = st.tabs(["Side by side", "Many prompts, votes and report"])
with side_tab:
    playground_side.render_side_by_side(config)
with batch_tab:
    contenders = [c for c in st.session_state.get("playground_contenders", []) if c is not None]
    playground_batch.render_batch(contenders, {
        "system": st.session_state.get("playground_system"),
        "temperature": st.session_state.get("playground_temperature", 0.0),
        "max_tokens": int(st.session_state.get("playground_max_tokens", 120)),
        "seed": int(st.session_state.get("playground_seed", 7)),
    })
