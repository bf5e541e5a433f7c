"""Estimate: not built yet."""

import streamlit as st

st.title("Estimate")
st.info("This page is not built yet. It is coming next.")
