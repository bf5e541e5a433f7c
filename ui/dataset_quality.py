"""The Dataset page's quality view: limerick form and facts per row, element coverage."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st

from lib import dataset as ds
from lib import elements, quality

SCORES = "dataset_quality_scores"  # (content hash, rows, summary) of the last dataset scored
_PROGRESS_FROM = 200  # rows; fewer are checked in well under a second


def _score(data: ds.Dataset) -> tuple[list[quality.RowQuality], quality.Summary]:
    """Rows and summary, kept for this content; new rows are checked with a progress bar."""
    key = hashlib.sha256(json.dumps(data.examples, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    kept = st.session_state.get(SCORES)
    if kept and kept[0] == key:
        return kept[1], kept[2]
    bar = st.progress(0.0, text="Checking every limerick…") if len(data.examples) >= _PROGRESS_FROM else None

    def step(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Checking every limerick: {done:,} of {total:,}")

    rows = quality.score_examples(data.examples, progress=step if bar else None)
    if bar:
        bar.empty()
    summary = quality.summary(rows)
    st.session_state[SCORES] = (key, rows, summary)
    return rows, summary


def render(data: ds.Dataset) -> None:
    rows, summary = _score(data)
    cols = st.columns(4)
    cols[0].metric("Well-formed limericks", f"{summary.limerick_share:.0%}")
    cols[1].metric("Facts contradicted", summary.contradicted)
    cols[2].metric("Elements covered", f"{len([c for c in summary.coverage.values() if c])} / 118")
    cols[3].metric("Repeated questions", len(summary.repeated_questions))
    only_problems = st.toggle("Only rows with problems", key="quality_only_problems")
    frame = pd.DataFrame(
        [{"row": r.line, "element": r.element or "—", "form score": r.score,
          "limerick?": "yes" if r.is_limerick else "no", "facts wrong": r.contradicted,
          "problems": "; ".join(r.problems)} for r in rows]
    )
    if only_problems and not frame.empty:
        frame = frame[(frame["facts wrong"] > 0) | (frame["limerick?"] == "no") | (frame["problems"] != "")]
    st.dataframe(
        frame, hide_index=True, width="stretch",
        column_config={"form score": st.column_config.ProgressColumn("Form score", min_value=0, max_value=100,
                                                                      format="%d")},
    )
    for note in summary.notes:
        st.warning(note)
    st.subheader("Which elements has the chatbot been shown?")
    st.caption("Grey cells: elements with no example yet. Hover for details.")
    st.plotly_chart(elements.coverage_figure(summary.coverage), width="stretch")
