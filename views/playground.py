"""Playground: not built yet."""

import streamlit as st

st.title("Playground")
st.info("This page is not built yet. It is coming next.")
