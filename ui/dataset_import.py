"""The Dataset page's import panel: upload, paste, or the sample."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from lib.dataprep import dataset as ds
from lib.dataprep import readers
from ui import state
from ui.actions import load_sample

FILE_TYPES = ["jsonl", "json", "csv", "xlsx", "txt"]
TABLE = "dataset_import_table"  # (file id, table) of the uploaded CSV or Excel file, read once
BROKEN = "dataset_import_broken"  # (source, ParseError) of the last import that had broken lines


def _finish(data: ds.Dataset, name: str, note: str) -> None:
    data.name = name.strip() or data.name or "untitled"
    state.set_dataset(data, note=note)
    kind = {"legacy": " (converted from prompt/completion)", "dpo": " (preference pairs for DPO)"}.get(data.format, "")
    state.notify(f"Imported {len(data.examples)} examples into “{data.name}”{kind}.", ":material/upload_file:")
    st.rerun()


def _cannot_read(exc: ds.ParseError, source: str) -> None:
    """Remember why an import failed, so `_broken_lines` can list the lines and offer the readable rows."""
    st.session_state[BROKEN] = (source, exc)


def _broken_lines(source: str, name: str, note: str) -> None:
    """List every broken line of the last import of `source` (as text), and offer to import the rows
    that could be read. The file itself is not changed: the user fixes it and imports it again."""
    pending = st.session_state.get(BROKEN)
    if not pending or pending[0] != source:
        return
    exc: ds.ParseError = pending[1]
    if len(exc.broken) <= 1:
        st.error(str(exc))
    else:
        st.error(f"{len(exc.broken)} lines are not valid JSON: fix them in your file and import it again.")
        st.code("\n".join(message for _, message in exc.broken), language=None)
    if exc.readable is None:
        return
    count = len(exc.readable.examples)
    st.caption("Or import the readable rows now; the lines listed above are left out, and your file is not changed.")
    if st.button(f"Import the {count} readable example{'s' if count != 1 else ''}", key="dataset_import_readable"):
        del st.session_state[BROKEN]
        lines = ", ".join(str(line) for line, _ in exc.broken)
        _finish(exc.readable, name, f"{note} (broken lines {lines} left out)")


def _read_table(file_id: str, data: bytes, filename: str) -> pd.DataFrame:
    """The uploaded CSV or Excel file as a table, read once per uploaded file (every rerun shows it)."""
    kept = st.session_state.get(TABLE)
    if kept is None or kept[0] != file_id:
        kept = (file_id, readers.read_table(data, filename))
        st.session_state[TABLE] = kept
    return kept[1]


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
    table = None
    if upload.name.lower().endswith((".csv", ".xlsx")):
        try:
            table = _read_table(upload.file_id, data_bytes, upload.name)
        except ds.ParseError as exc:
            st.error(str(exc))
            return
        st.caption("Which column holds what? (guessed from the column names)")
        guess = readers.guess_column_map(list(table.columns))
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
            if table is not None:  # the table shown above: a file is read once
                data = readers.from_table(table, upload.name, system_prompt=system_prompt, column_map=column_map)
            else:
                data = readers.parse(data_bytes, upload.name, system_prompt=system_prompt, column_map=column_map)
        except ds.ParseError as exc:
            _cannot_read(exc, f"upload:{upload.file_id}")
        else:
            _finish(data, name, f"Imported {upload.name}")
    _broken_lines(f"upload:{upload.file_id}", name, f"Imported {upload.name}")


def _paste() -> None:
    text = st.text_area(
        "Paste examples", key="dataset_paste", height=180,
        placeholder='{"messages": [{"role": "user", "content": "…"}, {"role": "assistant", "content": "…"}]}\n\n'
        "or plain text:\nQ: Tell me about Neon\nA: Neon, a gas with a glow - …",
    )
    name = st.text_input("Name for this dataset", value="pasted", key="dataset_paste_name")
    if st.button("Import pasted text", key="dataset_paste_button", disabled=not text.strip()):
        try:
            data = readers.parse(text, "pasted.txt", system_prompt=ds.DEFAULT_SYSTEM_PROMPT)
        except ds.ParseError as exc:
            _cannot_read(exc, f"paste:{hashlib.sha256(text.encode()).hexdigest()}")
        else:
            _finish(data, name, "Pasted examples")
    _broken_lines(f"paste:{hashlib.sha256(text.encode()).hexdigest()}", name, "Pasted examples")


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
