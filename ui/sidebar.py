"""The shared sidebar: the current dataset and the current provider, on every page."""

from __future__ import annotations

import streamlit as st

from lib.services import errors, lifecycle, providers
from ui import state
from ui.render import escape

KIND_LABELS = {
    "local": "Local engine (free, offline)",
    "openai": "OpenAI",
    "azure": "Azure OpenAI",
    "url": "Other OpenAI-compatible server",
    "together": "Together AI",
}


def _config_from_widgets() -> providers.ProviderConfig:
    """Build the provider from the sidebar widgets over the environment's settings; a typed key stays in
    this browser session only."""
    get = st.session_state.get
    kind = st.session_state[state.PROVIDER_KIND]
    # Each setting goes only to the provider it was entered for: a key typed under OpenAI never reaches
    # the local engine, a URL typed for another server never carries an OpenAI key.
    base_url = {"url": get(state.PROVIDER_URL), "local": get(state.LOCAL_TRUSTED_URL)}.get(kind)
    return providers.config_from_env(
        kind,
        api_key=get(state.provider_key(kind)) or None,
        base_url=base_url or None,
        azure_endpoint=(get(state.AZURE_ENDPOINT) if kind == "azure" else None) or None,
        api_version=(get(state.AZURE_VERSION) if kind == "azure" else None) or None,
    )


def _untrusted_engine(config: providers.ProviderConfig) -> None:
    """When something else answers where the studio's engine should be, say what, and ask: trust it for
    this session, or start the studio's own engine on another port. Nothing is sent to it before."""
    question = providers.untrusted_local_engine(config)
    if question is None:
        return
    st.warning(escape(question.message), icon=":material/gpp_maybe:")
    if st.button("Trust it for this session", key="sidebar_trust_engine", width="stretch"):
        st.session_state[state.LOCAL_TRUSTED_URL] = question.address
        st.rerun()
    if st.button("Start the studio's own engine on another port", key="sidebar_own_engine", width="stretch"):
        with st.spinner("Starting the studio's engine…"):
            try:
                providers.start_own_engine()
            except errors.StudioError as exc:
                st.error(escape(exc.message))
                return
        st.rerun()


def render() -> None:
    """Draw the sidebar; keep the provider in session state for every page."""
    if state.PROVIDER_KIND not in st.session_state:
        st.session_state[state.PROVIDER_KIND] = providers.default_config().kind
    data = state.dataset()
    with st.sidebar:
        st.markdown("### Current dataset")
        n = len(data.examples)
        st.markdown(f"**{escape(data.name)}** · {n} example{'s' if n != 1 else ''}")
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
                key=state.provider_key(kind),
                placeholder="from OPENAI_API_KEY" if providers.default_config().kind == "openai" else "sk-…",
                help="Kept in this browser session only: never written to disk, logs or exports.",
            )
        elif kind == "azure":
            st.text_input("Azure endpoint", key=state.AZURE_ENDPOINT, placeholder="https://<resource>.openai.azure.com/")
            st.text_input("API version", key=state.AZURE_VERSION, value=None, placeholder="2025-01-01-preview")
            st.text_input("Azure API key", type="password", key=state.provider_key(kind), help="Kept in this session only.")
            st.caption(lifecycle.AZURE_CAVEAT)
        elif kind == "together":
            st.text_input("Together AI API key", type="password", key=state.provider_key(kind),
                          help="Kept in this browser session only (or set TOGETHER_API_KEY).")
        elif kind == "url":
            st.text_input("Base URL", key=state.PROVIDER_URL, placeholder="http://localhost:8000/v1")
            st.text_input("API key (if the server needs one)", type="password", key=state.provider_key(kind))
        config = _config_from_widgets()
        st.session_state[state.PROVIDER] = config
        if kind == "local":
            _untrusted_engine(config)
        if st.button("Test connection", key="sidebar_test_connection", width="stretch"):
            with st.spinner("Contacting the provider…"):
                st.session_state[state.CONNECTION] = providers.test_connection(config)
        result = st.session_state.get(state.CONNECTION)
        if result is not None:
            (st.success if result.ok else st.error)(result.message)
