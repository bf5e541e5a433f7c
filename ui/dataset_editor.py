"""The Dataset page's table, chat preview and checks panel."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from lib.dataprep import check as dataset_check
from lib.dataprep import dataset as ds
from lib.dataprep import table, validation
from lib.evaluation import comparison as playground
from lib.services import errors, providers
from ui import clients, render, state

UNDO = "dataset_undo_deleted"        # examples deleted from the table, for undo
PREVIEW = "dataset_preview_row"
FILTER = "dataset_filter"


def _status(issues: list) -> str:
    errors = sum(1 for i in issues if i.severity == "error")
    warnings = len(issues) - errors
    if errors:
        return f"{errors} error{'s' if errors > 1 else ''}" + (f", {warnings} warning" if warnings else "")
    if warnings:
        return f"{warnings} warning{'s' if warnings > 1 else ''}"
    return "ok"


def _save_edit(key: str, positions: list[int]) -> bool:
    """Apply the table editor's edits to the dataset and autosave it; whether anything changed.

    Runs as the editor's on_change callback, first thing in the run the edit starts, so the edit is
    saved even when the browser is refreshed (or closed) right after it, before the page redraws."""
    delta = st.session_state.get(key) or {}
    if not any(delta.get(k) for k in ("edited_rows", "added_rows", "deleted_rows")):
        return False
    data = state.dataset()
    edited, removed = table.edit_dataset(data, positions, delta)
    if edited.examples == data.examples:
        return False
    if removed:
        st.session_state[UNDO] = removed
    state.set_dataset(edited, note="Edited in the table", from_table=True)
    return True


_ROWS: dict[tuple[str, str], dict[str, str]] = {}  # (row digest, format) -> its table cells


def _table_rows(data: ds.Dataset) -> list[dict[str, str]]:
    """Every example's table cells; after an edit only the changed rows are converted again."""
    if len(_ROWS) > 200_000:
        _ROWS.clear()
    out = []
    for example in data.examples:
        key = (dataset_check.row_digest(example), data.format)
        cells = _ROWS.get(key)
        if cells is None:
            cells = _ROWS[key] = table.row(example, data.format)
        out.append(cells)
    return out


def _issues_by_line(report: validation.Report, flags: list) -> dict[int, list]:
    by_line: dict[int, list] = {}
    for issue in [*report.issues, *flags]:
        if issue.line:
            by_line.setdefault(issue.line, []).append(issue)
    return by_line


def _shown(data: ds.Dataset, by_line: dict[int, list], view: str) -> list[int]:
    """The positions of the rows the table shows in `view`."""
    every = range(len(data.examples))
    return list(every) if view == "All rows" else [i for i in every if i + 1 in by_line]


def _table_key(data: ds.Dataset, view: str) -> str:
    # The editor's edits are relative to the frame it was drawn from, so its key names that frame: after an
    # edit (which may change the check column too) the next run draws a fresh editor on the saved data,
    # and no edit is ever applied to a stale copy.
    return f"dataset_table_{dataset_check.digest(data)[:16]}_{view}"  # the frame follows from the content


def save_pending_edit(data: ds.Dataset, check: dataset_check.DatasetCheck) -> ds.Dataset:
    """The dataset with an edit of the table that its callback did not save (one set from code, as tests
    and the benchmark do) saved first, so the page is drawn once, from the saved data, as after an edit
    in the browser (where the callback saved it before the run). `check` is the check of `data`."""
    view = st.session_state.get(FILTER) or "All rows"
    key = _table_key(data, view)
    if key not in st.session_state:
        return data
    if _save_edit(key, _shown(data, _issues_by_line(check.report, check.privacy), view)):
        return state.dataset()
    return data


def render_table(data: ds.Dataset, report: validation.Report, flags: list) -> None:
    by_line = _issues_by_line(report, flags)
    view = st.segmented_control(
        "Show", ["All rows", "Rows with problems"], default="All rows", key=FILTER,
        help="Problems are validation errors, warnings and privacy flags.",
    ) or "All rows"
    positions = _shown(data, by_line, view)
    cols = table.columns(data.format)
    cells = _table_rows(data)
    frame = pd.DataFrame({c: [cells[i][c] for i in positions] for c in cols}, columns=list(cols))  # by column: quicker
    frame.insert(0, "check", [_status(by_line[i + 1]) if i + 1 in by_line else "ok" for i in positions])
    frame.index = pd.Index([i + 1 for i in positions], name="row")
    key = _table_key(data, view)
    systems = {r.get("system", "") for r in cells}
    order = list(frame.columns)
    if len(systems) == 1 and len(data.examples) > 1:
        order.remove("system")
        st.caption(f"Every row shares the system prompt “{render.escape(next(iter(systems))[:90])}” (hidden here; change it with "
                   "“Apply a system prompt to every row”).")
    st.data_editor(
        frame, key=key, on_change=_save_edit, args=(key, positions), num_rows="dynamic", column_order=order, width="stretch", height=min(38 + 35 * (len(frame) + 1), 520),
        column_config={
            "check": st.column_config.TextColumn("Check", disabled=True, width="small"),
            "system": st.column_config.TextColumn("System prompt", width="medium"),
            "user": st.column_config.TextColumn("User asks", width="medium"),
            "assistant": st.column_config.TextColumn("Assistant answers", width="large"),
            "preferred": st.column_config.TextColumn("Preferred answer", width="large"),
            "non_preferred": st.column_config.TextColumn("Worse answer", width="large"),
        },
    )
    if _save_edit(key, positions):  # an edit the callback did not see (set from code, as tests do)
        st.rerun()
    if view != "All rows" and not positions:
        st.success("No rows with problems.")


def render_toolbar(data: ds.Dataset) -> None:
    left, middle, right = st.columns(3)
    with left.popover("Apply a system prompt to every row", width="stretch"):
        prompt = st.text_area("System prompt", value=data.system_prompt, key="dataset_system_all", height=90)
        if st.button("Apply to every row", key="dataset_system_apply"):
            state.set_dataset(ds.apply_system_prompt(data, prompt), note="Applied one system prompt to every row")
            state.notify("Every row now uses this system prompt.")
            st.rerun()
    with middle.popover("Duplicate a row", width="stretch", disabled=not data.examples):
        row = st.number_input("Row", min_value=1, max_value=max(1, len(data.examples)), value=1,
                              key="dataset_duplicate_row")
        if st.button("Duplicate", key="dataset_duplicate_button"):
            state.set_dataset(ds.duplicate_row(data, int(row) - 1), note=f"Duplicated row {row}")
            st.rerun()
    removed = st.session_state.get(UNDO)
    if right.button(f"Undo delete ({len(removed)} row{'s' if removed and len(removed) > 1 else ''})" if removed
                    else "Undo delete", key="dataset_undo", disabled=not removed, width="stretch"):
        state.set_dataset(dataclasses.replace(data, examples=data.examples + removed,
                                              split=data.splits() + ["train"] * len(removed)), note="Undid a delete")
        st.session_state.pop(UNDO, None)
        state.notify(f"Restored {len(removed)} deleted row(s) at the end of the table.", ":material/undo:")
        st.rerun()


def render_preview(data: ds.Dataset) -> None:
    if not data.examples:
        return
    st.session_state.setdefault(PREVIEW, 1)
    st.session_state[PREVIEW] = min(st.session_state[PREVIEW], len(data.examples))
    row = st.number_input("Preview row", min_value=1, max_value=len(data.examples), key=PREVIEW)
    example = data.examples[int(row) - 1]
    messages = ds.messages_of(example)
    if data.format == "dpo" and isinstance(example, dict):
        render.chat_bubbles(messages)
        st.caption("Preferred answer")
        render.chat_bubbles(example.get("preferred_output") or [])
        st.caption("Worse answer")
        render.chat_bubbles(example.get("non_preferred_output") or [])
    else:
        render.chat_bubbles(messages)
    if isinstance(example, dict) and data.format == "chat":
        with st.expander("Draft this answer with a model"):
            _draft(data, int(row) - 1, messages)
        with st.expander("Edit every turn of this example (multi-turn, weights)"):
            _turn_editor(data, int(row) - 1, messages)


def _draft(data: ds.Dataset, index: int, messages: list) -> None:
    """Ask the chosen model for a first version of the answer; the user rewrites it before it is kept."""
    users = [m for m in messages if m.get("role") == "user"]
    if not users:
        st.caption("This row has no question to answer yet.")
        return
    config = st.session_state[state.PROVIDER]
    model = st.text_input("Model", value=st.session_state.get(state.LATEST_MODEL) or _default_model(config),
                          key="dataset_draft_model")
    key = f"dataset_draft_text_{index}"
    if st.button("Draft an answer", key="dataset_draft_button"):
        system = next((m.get("content") for m in messages if m.get("role") == "system"), data.system_prompt)
        with st.spinner("Asking the model…"):
            try:
                st.session_state[key] = playground.draft_answer(clients.client(config), model, system,
                                                                users[-1].get("content") or "")
            except Exception as exc:  # the provider's failure, in plain words
                st.error(errors.translate(exc).message)
                return
    if key in st.session_state:
        text = st.text_area("Rewrite the draft, then keep it", key=key, height=140)
        if st.button("Use this answer", key="dataset_draft_use"):
            examples = list(data.examples)
            examples[index] = table.set_cells(examples[index], {"assistant": text})
            state.set_dataset(dataclasses.replace(data, examples=examples), note=f"Drafted the answer of row {index + 1}")
            st.session_state.pop(key, None)
            st.rerun()


def _default_model(config) -> str:
    return providers.LOCAL_DEFAULT_MODEL if config.kind == "local" else "gpt-4.1-mini"


def _turn_editor(data: ds.Dataset, index: int, messages: list) -> None:
    frame = pd.DataFrame(
        [{"role": m.get("role", ""), "content": m.get("content") if isinstance(m.get("content"), str) else "",
          "weight": m.get("weight")} for m in messages if isinstance(m, dict)],
        columns=["role", "content", "weight"],
    )
    edited = st.data_editor(
        frame, key=f"dataset_turns_{st.session_state[state.TABLE_VERSION]}_{index}", num_rows="dynamic",
        width="stretch",
        column_config={
            "role": st.column_config.SelectboxColumn("Role", options=["system", "user", "assistant", "tool"],
                                                     required=True),
            "content": st.column_config.TextColumn("Content", width="large"),
            "weight": st.column_config.SelectboxColumn("Weight", options=[0, 1],
                                                       help="Assistant turns only: 0 = shown but not trained on"),
        },
    )
    if st.button("Save these turns", key="dataset_turns_save"):
        records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in edited.to_dict("records")]
        examples = list(data.examples)
        examples[index] = ds.set_messages(examples[index], records)
        state.set_dataset(dataclasses.replace(data, examples=examples), note=f"Edited the turns of row {index + 1}")
        st.rerun()


def render_checks(data: ds.Dataset, check: dataset_check.DatasetCheck) -> None:
    """The verdict (the same "ready to train" rule as the Train page), the coach, then every problem."""
    report, flags = check.report, check.privacy
    # Errors of a split alone (too few examples left for training) are not in the whole table's report.
    split_errors = [i for i in check.blockers if i.line is None and i not in report.issues]
    errors = [*split_errors, *report.errors]
    warnings = report.warnings
    if not data.examples:
        return
    if not check.ready:
        n = len(check.blockers)
        st.error(f"Not ready to train: {n} error{'s' if n > 1 else ''} to fix.")
    else:
        st.success(f"Valid: OpenAI would accept these {len(check.train_rows)} training examples"
                   + (f" and {len(check.held_out_rows)} validation examples." if check.held_out_rows else "."))
    with st.container(border=True):
        st.markdown("**Coach**")
        coached = validation.build_report(report.format, report.examples, [*split_errors, *report.issues])
        for advice in validation.coach(coached, len(check.train_rows)):
            st.markdown(f"- {render.escape(advice)}")
    problems = [*errors, *warnings, *flags]
    if problems:
        kinds = sorted({i.code for i in problems})
        chosen = st.multiselect("Filter problems", kinds, key="dataset_problem_filter", placeholder="All kinds")
        shown = [i for i in problems if not chosen or i.code in chosen]
        frame = pd.DataFrame(
            [{"row": i.line, "kind": i.severity, "field": i.field, "problem": i.message}
             for i in shown]
        )
        st.dataframe(frame, hide_index=True, width="stretch", height=min(38 + 35 * len(frame), 300))
        lines = sorted({i.line for i in shown if i.line})
        if lines:
            target = st.selectbox("Jump to row", lines, key="dataset_jump")
            if st.button("Show this row", key="dataset_jump_button"):
                st.session_state[PREVIEW] = int(target)
                st.rerun()
    if report.error_counts:
        with st.expander("OpenAI Cookbook counts"):
            st.json(report.error_counts)
