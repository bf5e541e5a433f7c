"""Dataset: import, edit, check and export the examples; every edit is saved as it happens."""

from __future__ import annotations

import streamlit as st

from ui import (
    checks,
    dataset_editor,
    dataset_generate,
    dataset_import,
    dataset_manage,
    dataset_quality,
    state,
)

st.title("Dataset")
st.caption("Each example is one conversation: what the user asks and how your model should answer.")
data = state.dataset()
dataset_manage.render_picker(data)
dataset_import.render(expanded=not data.examples)
if not data.examples:
    st.info("No examples yet: import a file, paste some, or load the sample dataset above.")
    st.stop()

# The quality and versions tabs run only while shown (each reads every row; an edit would wait for them);
# the others always run, so what is typed in them stays when another tab is shown.
edit_tab, quality_tab, generate_tab, versions_tab, split_tab = st.tabs(
    ["Edit and check", "Limerick quality", "Generate more", "Versions", "Split and export"],
    key="dataset_tab", on_change="rerun",
)
check = checks.current(data, with_quality=bool(quality_tab.open))
saved = dataset_editor.save_pending_edit(data, check)
if saved is not data:
    data, check = saved, checks.current(saved, with_quality=bool(quality_tab.open))
with edit_tab:
    table_column, checks_column = st.columns([3, 2], gap="medium")
    with table_column:
        dataset_editor.render_toolbar(data)
        dataset_editor.render_table(data, check.report, check.privacy)
        st.subheader("Preview")
        dataset_editor.render_preview(data)
    with checks_column:
        dataset_editor.render_checks(data, check)
if quality_tab.open:
    with quality_tab:
        dataset_quality.render(check)
with generate_tab:
    dataset_generate.render(data)
if versions_tab.open:
    with versions_tab:
        dataset_manage.render_versions(data)
with split_tab:
    dataset_manage.render_split(data)
    st.divider()
    dataset_manage.render_export(data)
