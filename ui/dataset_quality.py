"""The Dataset page's quality view: limerick form and facts per row, element coverage."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.checks import elements
from lib.dataprep import check as dataset_check


def render(check: dataset_check.DatasetCheck) -> None:
    """The limerick and fact verdicts of the shared check (ui.checks), computed once per content."""
    rows, summary = check.quality_rows or [], check.summary
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
