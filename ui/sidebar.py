"""The shared sidebar: the current dataset and the current provider, on every page."""

from __future__ import annotations

import streamlit as st

from lib import providers
from ui import state

KIND_LABELS = {
    "local": "Local engine (free, offline)",
    "openai": "OpenAI",
    "azure": "Azure OpenAI",
    "url": "Other OpenAI-compatible server",
}


def _config_from_widgets() -> providers.ProviderConfig:
    """Build the provider from the sidebar widgets over the environment's settings; a typed key stays in
    this browser session only."""
    get = st.session_state.get
    return providers.config_from_env(
        st.session_state[state.PROVIDER_KIND],
        api_key=get(state.PROVIDER_KEY) or None,
        base_url=get(state.PROVIDER_URL) or None,
        azure_endpoint=get(state.AZURE_ENDPOINT) or None,
        api_version=get(state.AZURE_VERSION) or None,
    )


def render() -> None:
    """Draw the sidebar; keep the provider in session state for every page."""
    if state.PROVIDER_KIND not in st.session_state:
        st.session_state[state.PROVIDER_KIND] = providers.default_config().kind
    data = state.dataset()
    with st.sidebar:
        st.markdown("### Current dataset")
        n = len(data.examples)
        st.markdown(f"**{data.name}** · {n} example{'s' if n != 1 else ''}")
        st.markdown("### Provider")
        st.selectbox(
            "Where to train and chat",
            list(KIND_LABELS),
            format_func=KIND_LABELS.get,
            key=state.PROVIDER_KIND,
            help="The local engine trains a small open model (SmolLM2-135M) on this computer, offline and free.",
        )
        kind = st.session_state[state.PROVIDER_KIND]
        if kind == "openai":
            st.text_input(
                "OpenAI API key",
                type="password",
                key=state.PROVIDER_KEY,
                placeholder="from OPENAI_API_KEY" if providers.default_config().kind == "openai" else "sk-…",
                help="Kept in this browser session only: never written to disk, logs or exports.",
            )
        elif kind == "azure":
            st.text_input("Azure endpoint", key=state.AZURE_ENDPOINT, placeholder="https://<resource>.openai.azure.com/")
            st.text_input("API version", key=state.AZURE_VERSION, value=None, placeholder="2025-01-01-preview")
            st.text_input("Azure API key", type="password", key=state.PROVIDER_KEY, help="Kept in this session only.")
        elif kind == "url":
            st.text_input("Base URL", key=state.PROVIDER_URL, placeholder="http://localhost:8000/v1")
            st.text_input("API key (if the server needs one)", type="password", key=state.PROVIDER_KEY)
        config = _config_from_widgets()
        st.session_state[state.PROVIDER] = config
        if st.button("Test connection", key="sidebar_test_connection", width="stretch"):
            with st.spinner("Contacting the provider…"):
                st.session_state[state.CONNECTION] = providers.test_connection(config)
        result = st.session_state.get(state.CONNECTION)
        if result is not None:
            (st.success if result.ok else st.error)(result.message)
