"""Train: launch a fine-tuning job with a price on it, then watch it work."""

from __future__ import annotations

import streamlit as st

from lib.services import errors, providers
from ui import clients, state, train_bring_home, train_launch, train_monitor, train_sweep

st.title("Train")
config: providers.ProviderConfig = st.session_state[state.PROVIDER]
st.caption(f"Provider: {config.describe()}. Change it in the sidebar.")
try:
    with st.spinner("Connecting…" if config.kind != "local" else "Starting the local engine (first time: a few "
                    "seconds)…"):
        client = clients.client(config)
except errors.StudioError as exc:
    train_launch.show_error(exc)
    st.stop()

has_job = st.session_state.get(state.JOB_STATE) or state.workspace().last_job(config.kind)
st.session_state.setdefault(state.TRAIN_SECTION, "Monitor" if has_job else "Launch")
if state.TRAIN_SECTION_NEXT in st.session_state:
    st.session_state[state.TRAIN_SECTION] = st.session_state.pop(state.TRAIN_SECTION_NEXT)
section = st.segmented_control("Section", ["Launch", "Monitor", "Try several settings", "History", "Bring home"],
                               key=state.TRAIN_SECTION,
                               label_visibility="collapsed") or "Launch"
if section == "Launch":
    train_launch.render_launch(config, client)
elif section == "Monitor":
    train_monitor.render_monitor(client, config)
elif section == "Bring home":
    train_bring_home.render(config)
elif section == "Try several settings":
    train_sweep.render_sweep(config, client)
else:
    train_monitor.render_history(client, config)
