"""The provider's SDK client, made once per provider settings and shared by every page and session.

Cached with `st.cache_resource` keyed by `ProviderConfig.fingerprint()`: the settings and a hash of
the key, so the key never appears in clear in a cache key.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from lib.services import providers


@st.cache_resource(show_spinner=False, max_entries=8,
                   hash_funcs={providers.ProviderConfig: providers.ProviderConfig.fingerprint})
def client(config: providers.ProviderConfig) -> Any:  # the SDK's client; pages never import the SDK
    """`providers.make_client(config)`, once per settings (a failure is not cached: the next call tries again)."""
    return providers.make_client(config)
