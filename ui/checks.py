"""The one check of the current dataset for every page, computed once per content digest per session."""

from __future__ import annotations

import streamlit as st

from lib.dataprep import check as dataset_check
from lib.dataprep import dataset as ds
from ui import state

_PROGRESS_FROM = 200  # rows to score; fewer are checked in well under a second


def checker() -> dataset_check.DatasetChecker:
    """This session's checker: it remembers each row's result and the near-duplicate index, so an edit
    re-checks only the rows it changed."""
    if state.CHECKER not in st.session_state:
        st.session_state[state.CHECKER] = dataset_check.DatasetChecker()
    return st.session_state[state.CHECKER]


def current(data: ds.Dataset | None = None, *, with_quality: bool = False) -> dataset_check.DatasetCheck:
    """The check of `data` (default: the current dataset). `with_quality` adds the limerick and fact
    verdicts (the Dataset page); many new rows to score show a progress bar."""
    data = data if data is not None else state.dataset()
    key = dataset_check.digest(data)
    kept = st.session_state.get(state.CHECK)
    if kept is not None and kept.digest == key and (kept.quality_rows is not None or not with_quality):
        return kept
    check = checker()
    bar = None
    if with_quality and check.unscored(data.examples) >= _PROGRESS_FROM:
        bar = st.progress(0.0, text="Checking every limerick…")

    def step(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Checking every limerick: {done:,} of {total:,}")

    result = check.check(data, with_quality=with_quality, progress=step if bar else None)
    if bar:
        bar.empty()
    st.session_state[state.CHECK] = result
    return result
