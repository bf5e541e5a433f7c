"""The Dataset page's import panel: upload, paste, or the sample."""

from __future__ import annotations

import streamlit as st

from lib import dataset as ds
from ui import state
from ui.actions import load_sample

FILE_TYPES = ["jsonl", "json", "csv", "xlsx", "txt"]


def _finish(data: ds.Dataset, name: str, note: str) -> None:
    data.name = name.strip() or data.name or "untitled"
    state.set_dataset(data, note=note)
    kind = {"legacy": " (converted from prompt/completion)", "dpo": " (preference pairs for DPO)"}.get(data.format, "")
    state.notify(f"Imported {len(data.examples)} examples into “{data.name}”{kind}.", ":material/upload_file:")
    st.rerun()


def _upload() -> None:
    upload = st.file_uploader(
        "A dataset file", type=FILE_TYPES, key="dataset_upload",
        help="Chat JSONL (one example per line), a JSON array, CSV or Excel with system/user/assistant columns, "
        "legacy prompt/completion JSONL, or DPO preference pairs.",
    )
    if upload is None:
        return
    data_bytes = upload.getvalue()
    name = st.text_input("Name for this dataset", value=upload.name.rsplit(".", 1)[0],
                         key=f"dataset_import_name_{upload.file_id}")  # a new file brings its own name
    column_map = None
    if upload.name.lower().endswith((".csv", ".xlsx")):
        try:
            table = ds.read_table(data_bytes, upload.name)
        except ds.ParseError as exc:
            st.error(str(exc))
            return
        st.caption("Which column holds what? (guessed from the column names)")
        guess = ds.guess_column_map(list(table.columns))
        options = ["(none)", *map(str, table.columns)]
        column_map = {}
        cols = st.columns(3)
        for col, role in zip(cols, ("system", "user", "assistant"), strict=True):
            current = guess.get(role)
            choice = col.selectbox(
                role.capitalize(), options, index=options.index(current) if current in options else 0,
                key=f"dataset_map_{role}",
            )
            if choice != "(none)":
                column_map[role] = choice
        st.dataframe(table.head(5), width="stretch")
    system_prompt = st.text_area(
        "System prompt for converted examples",
        value=ds.DEFAULT_SYSTEM_PROMPT, key="dataset_import_system", height=68,
        help="Used when the file has no system prompt (legacy prompt/completion, CSV without a system column, paste).",
    )
    if st.button("Import", type="primary", key="dataset_import_button"):
        try:
            data = ds.parse(data_bytes, upload.name, system_prompt=system_prompt, column_map=column_map)
        except ds.ParseError as exc:
            st.error(str(exc))
            return
        _finish(data, name, f"Imported {upload.name}")


def _paste() -> None:
    text = st.text_area(
        "Paste examples", key="dataset_paste", height=180,
        placeholder='{"messages": [{"role": "user", "content": "…"}, {"role": "assistant", "content": "…"}]}\n\n'
        "or plain text:\nQ: Tell me about Neon\nA: Neon, a gas with a glow - …",
    )
    name = st.text_input("Name for this dataset", value="pasted", key="dataset_paste_name")
    if st.button("Import pasted text", key="dataset_paste_button", disabled=not text.strip()):
        try:
            data = ds.parse(text, "pasted.txt", system_prompt=ds.DEFAULT_SYSTEM_PROMPT)
        except ds.ParseError as exc:
            st.error(str(exc))
            return
        _finish(data, name, "Pasted examples")


def render(expanded: bool) -> None:
    with st.expander("Import examples", expanded=expanded, icon=":material/upload_file:"):
        upload_tab, paste_tab, sample_tab = st.tabs(["Upload a file", "Paste", "Sample dataset"])
        with upload_tab:
            _upload()
        with paste_tab:
            _paste()
        with sample_tab:
            st.markdown(
                "Twelve limericks about chemical elements, in the format of the course this studio grew from. "
                "One answer is missing on purpose, so you can see how the checks help."
            )
            if st.button("Load the sample dataset", key="dataset_load_sample"):
                load_sample()
                st.rerun()
