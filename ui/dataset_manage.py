"""The Dataset page's side panels: named datasets, versions, split and export."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pandas as pd
import streamlit as st

from lib.dataprep import dataset as ds
from lib.dataprep import table
from ui import state


def render_picker(data: ds.Dataset) -> None:
    """Choose, create or rename a named dataset in the workspace."""
    wk = state.workspace()
    names = wk.names()
    if data.name not in names:
        names = [data.name, *names]
    left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    chosen = left.selectbox("Dataset", names, index=names.index(data.name), key="dataset_pick")
    if chosen != data.name:
        loaded = wk.load(chosen)
        if loaded is not None:
            state.set_dataset(loaded, note="Opened")
            st.rerun()
    with middle.popover("New", width="stretch"):
        name = st.text_input("Name", key="dataset_new_name")
        if st.button("Create empty dataset", key="dataset_new_button", disabled=not name.strip()):
            state.set_dataset(ds.Dataset(name=name.strip(), examples=[], split=[]), note="Created")
            st.rerun()
    with right.popover("Rename", width="stretch"):
        new_name = st.text_input("New name", value=data.name, key="dataset_rename_name")
        if st.button("Rename", key="dataset_rename_button") and new_name.strip() and new_name != data.name:
            wk.rename(data.name, new_name.strip())
            state.set_dataset(dataclasses.replace(data, name=new_name.strip()), note="Renamed")
            st.rerun()


def _version(data: ds.Dataset, versions: list, version_id: int) -> ds.Dataset | None:
    """A saved version, read from disk once: versions never change, and the newest is the dataset in
    memory, so after an edit the two versions compared by default are both at hand (and their rows'
    digests too, which `lib.dataprep.workspace.diff` compares)."""
    kept = st.session_state.setdefault(state.VERSIONS, {})
    wanted = {(data.name, versions[-1].id), (data.name, version_id)}
    for key in [k for k in kept if k not in wanted and len(kept) > 4]:
        del kept[key]
    if version_id == versions[-1].id:
        kept[(data.name, version_id)] = data
    elif (data.name, version_id) not in kept:
        kept[(data.name, version_id)] = state.workspace().load_version(data.name, version_id)
    return kept[(data.name, version_id)]


def _cells(change, fmt: str) -> dict[str, str]:
    """A changed row before and after, as the table shows it (the system prompt only where it changed)."""
    before, after = (table.row(e, fmt) if e is not None else {} for e in (change.before, change.after))
    shown = [k for k in table.columns(fmt) if k != "system" or before.get(k) != after.get(k)]
    return {"before": " → ".join(before[k] for k in shown if before.get(k))[:300],
            "after": " → ".join(after[k] for k in shown if after.get(k))[:300]}


def render_versions(data: ds.Dataset) -> None:
    wk = state.workspace()
    versions = wk.versions(data.name)
    if not versions:
        st.caption("Every edit is saved automatically; versions appear here.")
        return
    st.caption(f"Every edit is saved automatically. The last {len(versions)} versions are kept.")
    labels = {
        v.id: f"{datetime.fromtimestamp(v.created_at):%d %b %H:%M:%S} · {v.examples} examples · {v.note or 'edit'}"
        for v in versions
    }
    ids = [v.id for v in reversed(versions)]
    left, right = st.columns(2)
    older = left.selectbox("Compare version", ids, format_func=labels.get, index=min(1, len(ids) - 1),
                           key="dataset_version_a")
    newer = right.selectbox("with version", ids, format_func=labels.get, index=0, key="dataset_version_b")
    changes = wk.diff(_version(data, versions, older), _version(data, versions, newer))
    if changes:
        st.dataframe(
            pd.DataFrame([{"row": c.row, "change": c.kind, **_cells(c, data.format)} for c in changes]),
            hide_index=True, width="stretch",
        )
    else:
        st.caption("These two versions hold the same examples.")
    if st.button("Restore the first of these versions", key="dataset_restore"):
        restored = wk.load_version(data.name, older)
        state.set_dataset(restored, note=f"Restored the version of {labels[older]}")
        state.notify("Version restored. The version before it is kept in the history too.", ":material/history:")
        st.rerun()


def render_split(data: ds.Dataset) -> None:
    n = len(data.examples)
    split = data.splits()
    n_val = sum(1 for s in split if s == "validation")
    st.caption(f"{n - n_val} examples for training, {n_val} held out for validation (validation tokens are free).")
    mode = st.radio("Split", ["No validation set", "Random", "By a column"], horizontal=True, key="dataset_split_mode")
    new_split = None
    if mode == "Random":
        fraction = st.slider("Share held out for validation", 0.05, 0.5, 0.2, 0.05, key="dataset_split_fraction")
        seed = st.number_input("Seed (same seed, same split)", value=42, step=1, key="dataset_split_seed")
        new_split = ds.split_random(n, fraction, int(seed))
    elif mode == "By a column":
        values = st.text_area("One value per row: train or validation", "\n".join(split), key="dataset_split_values")
        try:
            new_split = ds.split_by_column(values.splitlines())
        except ValueError as exc:
            st.error(str(exc))
            return
    else:
        new_split = ["train"] * n
    if st.button("Apply this split", key="dataset_split_apply"):
        if len(new_split) != n:
            st.error(f"The split has {len(new_split)} values for {n} rows.")
        else:
            state.set_dataset(dataclasses.replace(data, split=new_split), note="Changed the split")
            st.rerun()


def render_export(data: ds.Dataset) -> None:
    """Files are written when a button is clicked, not on every run (10,000 rows take a second)."""
    train, val = data.train_examples(), data.validation_examples()
    cols = st.columns(3)
    cols[0].download_button("Training JSONL (what is uploaded)", lambda: ds.to_jsonl(train),
                            f"{data.name}.train.jsonl", mime="application/jsonl", key="dataset_download_jsonl",
                            width="stretch")
    cols[1].download_button("Validation JSONL", lambda: ds.to_jsonl(val), f"{data.name}.validation.jsonl",
                            mime="application/jsonl", key="dataset_download_val", disabled=not val,
                            width="stretch")
    cols[2].download_button("CSV (all rows)", lambda: ds.to_csv(data.examples), f"{data.name}.csv",
                            mime="text/csv", key="dataset_download_csv", width="stretch")
