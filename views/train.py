"""Train: launch a fine-tuning job with a price on it, then watch it work."""

from __future__ import annotations

import streamlit as st

from lib import errors, providers
from ui import state, train_launch, train_monitor

st.title("Train")
config: providers.ProviderConfig = st.session_state[state.PROVIDER]
st.caption(f"Provider: {config.describe()}. Change it in the sidebar.")
try:
    with st.spinner("Connecting…" if config.kind != "local" else "Starting the local engine (first time: a few "
                    "seconds)…"):
        client = providers.make_client(config)
except errors.StudioError as exc:
    train_launch.show_error(exc)
    st.stop()

has_job = st.session_state.get(state.JOB_STATE) or state.workspace().last_job(config.kind)
st.session_state.setdefault(train_launch.SECTION, "Monitor" if has_job else "Launch")
if train_launch.NEXT_SECTION in st.session_state:
    st.session_state[train_launch.SECTION] = st.session_state.pop(train_launch.NEXT_SECTION)
section = st.segmented_control("Section", ["Launch", "Monitor", "History"], key=train_launch.SECTION,
                               label_visibility="collapsed") or "Launch"
if section == "Launch":
    train_launch.render_launch(config, client)
elif section == "Monitor":
    train_monitor.render_monitor(client, config)
else:
    train_monitor.render_history(client, config)
