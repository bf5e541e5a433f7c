"""Fine-Tune Studio: the frame. One navigation, one sidebar, shared state; pages live in views/ (not pages/, which Streamlit would also read as old-style pages)."""

from __future__ import annotations

import streamlit as st

from ui import sidebar, state

st.set_page_config(page_title="Fine-Tune Studio", page_icon="🧪", layout="wide")
state.init()
state.keep_widget_values()

PAGES = [
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/dataset.py", title="Dataset", icon=":material/table_edit:"),
    st.Page("views/estimate.py", title="Estimate", icon=":material/calculate:"),
    st.Page("views/train.py", title="Train", icon=":material/model_training:"),
    st.Page("views/playground.py", title="Playground", icon=":material/compare:"),
]
page = st.navigation(PAGES)

if st.session_state.get(state.PRESENTATION):
    # Presentation mode: no sidebar, no keys on screen, large type for a screen share.
    st.markdown(
        "<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl']{display:none}"
        " html{font-size:20px}</style>",
        unsafe_allow_html=True,
    )
else:
    sidebar.render()
state.show_notice()
page.run()
